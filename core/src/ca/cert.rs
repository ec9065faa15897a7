//! Reading issued certificates back: what revocation and ARI (RFC 9773) need to know
//! about one, and PEM chains (RFC 8555 §9.1 `application/pem-certificate-chain`).

use alloc::collections::BTreeSet;
use alloc::format;
use alloc::string::String;
use alloc::vec::Vec;
use core::fmt::Write;
use der::asn1::AnyRef;
use der::pem::LineEnding;
use der::{Decode, Encode};
use x509_cert::certificate::Certificate;
use x509_cert::ext::pkix::{AuthorityKeyIdentifier, BasicConstraints, SubjectAltName};

use super::x509::{time_to_unix, to_der, SanNames};
use crate::problem::Problem;
use crate::wire::CertId;

/// The facts about a certificate that revocation, ARI and the issuance check use.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CertSummary {
    /// Serial number: the DER INTEGER content octets, with a leading 0x00 if the
    /// encoding has one (this is what RFC 9773 CertIDs carry).
    pub serial: Vec<u8>,
    /// The serial as lowercase hex of the minimal positive integer (no leading zero
    /// byte), the usual key for storage and logs.
    pub serial_hex: String,
    /// notBefore in Unix seconds.
    pub not_before: u64,
    /// notAfter in Unix seconds (inclusive).
    pub not_after: u64,
    /// dNSName entries of the subjectAltName, lower-cased.
    pub dns_names: BTreeSet<String>,
    /// iPAddress entries of the subjectAltName, in canonical text form.
    pub ip_addrs: BTreeSet<String>,
    /// The DER SubjectPublicKeyInfo.
    pub spki_der: Vec<u8>,
    /// The authorityKeyIdentifier's keyIdentifier, if present.
    pub aki_key_id: Option<Vec<u8>>,
    /// The DER issuer Name.
    pub issuer_der: Vec<u8>,
    /// Whether basicConstraints says cA=TRUE.
    pub is_ca: bool,
}

fn unreadable(what: &str, e: der::Error) -> Problem {
    Problem::malformed(format!("certificate {what} cannot be read: {e}"))
}

/// Reads a DER certificate; an unreadable one is `malformed` (a revocation request
/// carrying garbage is the client's error).
pub fn inspect(der: &[u8]) -> Result<CertSummary, Problem> {
    let cert = Certificate::from_der(der).map_err(|e| unreadable("DER", e))?;
    let tbs = cert.tbs_certificate();

    // The content octets as encoded, sign byte included.
    let serial_der = tbs.serial_number().to_der().map_err(|e| unreadable("serial", e))?;
    let serial = AnyRef::from_der(&serial_der).map_err(|e| unreadable("serial", e))?.value().to_vec();
    let minimal = match serial.as_slice() {
        [0, rest @ ..] if !rest.is_empty() => rest,
        s => s,
    };
    let mut serial_hex = String::with_capacity(2 * minimal.len());
    for b in minimal {
        let _ = write!(serial_hex, "{b:02x}");
    }

    let (dns_names, ip_addrs) =
        match tbs.get_extension::<SubjectAltName>().map_err(|e| unreadable("subjectAltName", e))? {
            Some((_, san)) => {
                let names = SanNames::collect(san.0.iter());
                (names.dns, names.ips)
            }
            None => (BTreeSet::new(), BTreeSet::new()),
        };
    let aki_key_id = tbs
        .get_extension::<AuthorityKeyIdentifier>()
        .map_err(|e| unreadable("authorityKeyIdentifier", e))?
        .and_then(|(_, aki)| aki.key_identifier)
        .map(|k| k.as_bytes().to_vec());
    let is_ca = tbs
        .get_extension::<BasicConstraints>()
        .map_err(|e| unreadable("basicConstraints", e))?
        .is_some_and(|(_, bc)| bc.ca);

    Ok(CertSummary {
        serial,
        serial_hex,
        not_before: time_to_unix(tbs.validity().not_before),
        not_after: time_to_unix(tbs.validity().not_after),
        dns_names,
        ip_addrs,
        spki_der: to_der(tbs.subject_public_key_info())?,
        aki_key_id,
        issuer_der: to_der(tbs.issuer())?,
        is_ca,
    })
}

/// The ARI CertID (RFC 9773 §4.1) of a certificate. A certificate without an AKI
/// keyIdentifier (never one [`super::check_issued`] accepts) gets an empty key
/// identifier, which no ARI request can name.
pub fn cert_id(cert: &CertSummary) -> CertId {
    CertId { key_identifier: cert.aki_key_id.clone().unwrap_or_default(), serial: cert.serial.clone() }
}

/// The PEM certificate chain RFC 8555 §9.1 serves: the leaf, then the issuer certificates.
pub fn pem_chain(leaf_der: &[u8], chain: &[Vec<u8>]) -> String {
    let mut out = String::new();
    for der in core::iter::once(leaf_der).chain(chain.iter().map(Vec::as_slice)) {
        // Encoding only fails for a label that is not valid PEM, and ours is fixed.
        out.push_str(&der::pem::encode_string("CERTIFICATE", LineEnding::LF, der).expect("PEM encoding"));
    }
    out
}

/// The DER certificates of a PEM bundle, in order. Text outside the blocks is ignored
/// (RFC 7468 §5.2), and so is any block that is not a well-formed `CERTIFICATE`: callers
/// that must not lose a certificate compare the count with the number of blocks.
pub fn pem_to_ders(pem: &str) -> Vec<Vec<u8>> {
    const BEGIN: &str = "-----BEGIN ";
    const END: &str = "-----END ";
    let mut out = Vec::new();
    let mut rest = pem;
    while let Some(start) = rest.find(BEGIN) {
        let block = &rest[start..];
        // The block ends with the line that starts with "-----END " (or with the text).
        let end = match block.find(END) {
            Some(e) => block[e..].find('\n').map_or(block.len(), |nl| e + nl + 1),
            None => block.len(),
        };
        if let Ok(("CERTIFICATE", der)) = der::pem::decode_vec(&block.as_bytes()[..end]) {
            out.push(der);
        }
        rest = &block[end..];
    }
    out
}

#[cfg(test)]
mod tests {
    use super::super::testutil::{ca, leaf_request};
    use super::*;
    use crate::jose::KeyKind;
    use alloc::string::ToString;
    use alloc::vec;

    #[test]
    fn inspect_reports_what_the_leaf_was_issued_with() {
        let ca = ca(KeyKind::P256, 11);
        let mut req = leaf_request("rsa2048-sha256.der", 90, true);
        req.serial = [0xff; 16];
        let leaf = ca.issue_leaf(&req).unwrap();
        let s = inspect(&leaf).unwrap();
        // Top bit cleared: 0x7f ff.. needs no sign byte.
        assert_eq!(s.serial, [&[0x7f][..], &[0xff; 15][..]].concat());
        assert_eq!(s.serial_hex, "7fffffffffffffffffffffffffffffff");
        assert_eq!(s.not_before, req.not_before);
        assert_eq!(s.not_after, req.not_after);
        assert_eq!(s.dns_names, req.dns_names.iter().cloned().collect());
        assert_eq!(s.ip_addrs, ["1.1.1.1".to_string(), "2606:4700:4700::1111".to_string()].into_iter().collect());
        assert_eq!(s.spki_der, req.spki_der);
        assert_eq!(s.aki_key_id.as_deref(), Some(ca.key_identifier()));
        assert!(!s.is_ca);
        let issuer = inspect(&ca.chain()[0]).unwrap();
        assert!(issuer.is_ca);
        assert_eq!(
            s.issuer_der,
            to_der(Certificate::from_der(&ca.chain()[0]).unwrap().tbs_certificate().subject()).unwrap()
        );
    }

    #[test]
    fn cert_id_keeps_the_serial_sign_byte() {
        // A serial whose first content byte is 0x00 (high bit of the next byte set).
        let summary = CertSummary {
            serial: vec![0x00, 0x87, 0x65, 0x43, 0x21],
            serial_hex: "87654321".into(),
            not_before: 0,
            not_after: 0,
            dns_names: BTreeSet::new(),
            ip_addrs: BTreeSet::new(),
            spki_der: Vec::new(),
            aki_key_id: Some(vec![
                0x69, 0x88, 0x5B, 0x6B, 0x87, 0x46, 0x40, 0x41, 0xE1, 0xB3, 0x7B, 0x84, 0x7B, 0xA0, 0xAE, 0x2C, 0xDE,
                0x01, 0xC8, 0xD4,
            ]),
            issuer_der: Vec::new(),
            is_ca: false,
        };
        assert_eq!(cert_id(&summary).encode(), "aYhba4dGQEHhs3uEe6CuLN4ByNQ.AIdlQyE");
        assert!(cert_id(&CertSummary { aki_key_id: None, ..summary }).key_identifier.is_empty());
    }

    #[test]
    fn cert_id_of_an_issued_leaf_matches_its_der() {
        let ca = ca(KeyKind::P384, 12);
        let leaf = ca.issue_leaf(&leaf_request("p256-sha256.der", 90, true)).unwrap();
        let id = cert_id(&inspect(&leaf).unwrap());
        assert_eq!(id.key_identifier, ca.key_identifier());
        // The serial's DER (tag 0x02, length, content) occurs in the certificate.
        let mut tlv = vec![0x02, id.serial.len() as u8];
        tlv.extend_from_slice(&id.serial);
        assert!(leaf.windows(tlv.len()).any(|w| w == tlv.as_slice()));
    }

    #[test]
    fn pem_chain_round_trips_through_pem_to_ders() {
        let ca = ca(KeyKind::P256, 13);
        let leaf = ca.issue_leaf(&leaf_request("p256-sha256.der", 90, true)).unwrap();
        let pem = pem_chain(&leaf, &ca.chain());
        assert_eq!(pem.matches("-----BEGIN CERTIFICATE-----\n").count(), 2);
        assert!(pem.ends_with("-----END CERTIFICATE-----\n"));
        assert_eq!(pem_to_ders(&pem), vec![leaf.clone(), ca.chain()[0].clone()]);
        // Explanatory text and CRLF line ends around the blocks are tolerated.
        let noisy = format!("subject=whatever\r\n{}\r\n\r\nissuer=x\r\n", pem.replace('\n', "\r\n"));
        assert_eq!(pem_to_ders(&noisy), vec![leaf, ca.chain()[0].clone()]);
        assert!(pem_to_ders("").is_empty());
    }

    #[test]
    fn pem_to_ders_skips_broken_or_foreign_blocks() {
        let ca = ca(KeyKind::P256, 14);
        let cert = ca.chain()[0].clone();
        let pem = pem_chain(&cert, &[]);
        let cut = &pem[..pem.len() - 30];
        assert!(pem_to_ders(cut).is_empty());
        let key = pem.replace("CERTIFICATE", "PRIVATE KEY");
        assert!(pem_to_ders(&key).is_empty());
        let garbled = pem.replacen("MII", "M!I", 1);
        assert!(pem_to_ders(&garbled).is_empty());
        // A bad block does not hide the good one after it.
        assert_eq!(pem_to_ders(&format!("{key}{pem}")), vec![cert]);
    }

    #[test]
    fn inspect_refuses_garbage_as_malformed() {
        let p = inspect(b"\x30\x03\x02\x01\x01").unwrap_err();
        assert_eq!(p.kind, crate::problem::ProblemType::Malformed);
    }
}
