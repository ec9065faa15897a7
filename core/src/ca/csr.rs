//! Reading the PKCS#10 certificate signing request a client sends to `finalize`.
//!
//! [`parse_csr`] decodes the request with `x509-cert`, checks that it is signed with an
//! algorithm of SHA-256 strength or better by the key it carries, applies the
//! subscriber key policy, and returns the names it asks for. Whether those names match
//! the order is the RA's question, not this module's.
//!
//! Every refusal is `badCSR` (RFC 8555 §7.4): the client can fix all of them.

use alloc::collections::BTreeSet;
use alloc::format;
use alloc::string::{String, ToString};
use alloc::vec::Vec;
use const_oid::db::{rfc4519, rfc5912, rfc8410};
use const_oid::AssociatedOid;
use der::{Decode, Encode};
use sha2::{Digest, Sha256, Sha384, Sha512};
use spki::{AlgorithmIdentifierOwned, DecodePublicKey, ObjectIdentifier};
use x509_cert::ext::pkix::name::DirectoryString;
use x509_cert::ext::pkix::SubjectAltName;
use x509_cert::request::{CertReq, ExtensionReq};

use super::x509::{canonical_ip, SanNames};
use crate::jose::Jwk;
use crate::problem::Problem;

/// What a verified CSR asks for.
#[derive(Clone, Debug)]
pub struct CsrInfo {
    /// DNS names from the subjectAltName extension and the subject common name(s), lower-cased.
    pub dns_names: BTreeSet<String>,
    /// IP addresses from the subjectAltName extension (and any common name that is an
    /// IP address), in canonical text form.
    pub ip_addrs: BTreeSet<String>,
    /// The DER SubjectPublicKeyInfo, copied into the certificate unchanged.
    pub spki_der: Vec<u8>,
    /// The public key, for comparing with the account key and for revocation by key.
    pub key: Jwk,
}

/// The detail every refused signature algorithm carries (the CA's FAQ points here).
const USE_SHA256: &str = "configure your ACME client to sign CSRs with SHA-256 \
     (sha256WithRSAEncryption or ecdsa-with-SHA256)";

/// ecdsa-with-SHA1 (RFC 3279 §2.2.3); not in const-oid's database.
const ECDSA_WITH_SHA1: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.10045.4.1");

/// Signature algorithms accepted on a CSR.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum SigAlg {
    RsaSha256,
    RsaSha384,
    RsaSha512,
    EcdsaSha256,
    EcdsaSha384,
    EcdsaSha512,
    Ed25519,
}

impl SigAlg {
    fn from_identifier(alg: &AlgorithmIdentifierOwned, allow_ed25519: bool) -> Result<SigAlg, Problem> {
        let oid = alg.oid;
        let found = match oid {
            rfc5912::SHA_256_WITH_RSA_ENCRYPTION => SigAlg::RsaSha256,
            rfc5912::SHA_384_WITH_RSA_ENCRYPTION => SigAlg::RsaSha384,
            rfc5912::SHA_512_WITH_RSA_ENCRYPTION => SigAlg::RsaSha512,
            rfc5912::ECDSA_WITH_SHA_256 => SigAlg::EcdsaSha256,
            rfc5912::ECDSA_WITH_SHA_384 => SigAlg::EcdsaSha384,
            rfc5912::ECDSA_WITH_SHA_512 => SigAlg::EcdsaSha512,
            rfc8410::ID_ED_25519 if allow_ed25519 => SigAlg::Ed25519,
            rfc8410::ID_ED_25519 => {
                return Err(Problem::bad_csr(
                    "Ed25519 CSR signatures are not accepted by this CA; use an RSA or ECDSA P-256/P-384 key",
                ));
            }
            rfc5912::MD_2_WITH_RSA_ENCRYPTION
            | rfc5912::MD_5_WITH_RSA_ENCRYPTION
            | rfc5912::SHA_1_WITH_RSA_ENCRYPTION
            | rfc5912::DSA_WITH_SHA_1
            | ECDSA_WITH_SHA1 => {
                let hash = if oid == rfc5912::MD_5_WITH_RSA_ENCRYPTION {
                    "MD5"
                } else if oid == rfc5912::MD_2_WITH_RSA_ENCRYPTION {
                    "MD2"
                } else {
                    "SHA-1"
                };
                return Err(Problem::bad_csr(format!(
                    "the CSR is signed with {hash}, which is no longer accepted; {USE_SHA256}"
                )));
            }
            rfc5912::ID_RSASSA_PSS => {
                return Err(Problem::bad_csr(format!("RSASSA-PSS CSR signatures are not supported; {USE_SHA256}")));
            }
            other => {
                return Err(Problem::bad_csr(format!(
                    "the CSR signature algorithm {other} is not supported; {USE_SHA256}"
                )));
            }
        };
        // RFC 4055 §5 / RFC 5758 §3.2 / RFC 8410 §3: NULL (or absent) parameters for
        // PKCS#1 v1.5, absent for ECDSA and Ed25519.
        let params_ok = match (&alg.parameters, found) {
            (None, _) => true,
            (Some(p), SigAlg::RsaSha256 | SigAlg::RsaSha384 | SigAlg::RsaSha512) => p.is_null(),
            (Some(_), _) => false,
        };
        if !params_ok {
            return Err(Problem::bad_csr("the CSR signature algorithm carries unexpected parameters"));
        }
        Ok(found)
    }

    /// The key type this algorithm needs, as [`Jwk::key_type_name`] spells it.
    fn fits(self, key_type: &str) -> bool {
        match self {
            SigAlg::RsaSha256 | SigAlg::RsaSha384 | SigAlg::RsaSha512 => key_type == "RSA",
            SigAlg::EcdsaSha256 | SigAlg::EcdsaSha384 | SigAlg::EcdsaSha512 => {
                key_type == "P-256" || key_type == "P-384"
            }
            SigAlg::Ed25519 => key_type == "Ed25519",
        }
    }

    fn digest(self, data: &[u8]) -> Vec<u8> {
        match self {
            SigAlg::RsaSha256 | SigAlg::EcdsaSha256 => Sha256::digest(data).to_vec(),
            SigAlg::RsaSha384 | SigAlg::EcdsaSha384 => Sha384::digest(data).to_vec(),
            SigAlg::RsaSha512 | SigAlg::EcdsaSha512 => Sha512::digest(data).to_vec(),
            SigAlg::Ed25519 => data.to_vec(),
        }
    }
}

fn bad_signature() -> Problem {
    Problem::bad_csr("the CSR signature does not verify with the CSR's public key")
}

/// Verifies `sig` over `tbs` with the SubjectPublicKeyInfo `spki` (already policy-checked).
fn verify(spki: &[u8], alg: SigAlg, tbs: &[u8], sig: &[u8]) -> Result<(), Problem> {
    use signature::hazmat::PrehashVerifier;
    let prehash = alg.digest(tbs);
    let ok = match alg {
        SigAlg::RsaSha256 | SigAlg::RsaSha384 | SigAlg::RsaSha512 => {
            let key = rsa::PublicKey::from_public_key_der(spki).map_err(|_| bad_signature())?;
            let scheme = match alg {
                SigAlg::RsaSha256 => rsa::Pkcs1v15Sign::new::<Sha256>(),
                SigAlg::RsaSha384 => rsa::Pkcs1v15Sign::new::<Sha384>(),
                _ => rsa::Pkcs1v15Sign::new::<Sha512>(),
            };
            key.verify(scheme, &prehash, sig).is_ok()
        }
        SigAlg::EcdsaSha256 | SigAlg::EcdsaSha384 | SigAlg::EcdsaSha512 => {
            // X9.62 truncates a longer digest to the curve size, so any of the three
            // hashes works with either curve.
            if let Ok(key) = p256::ecdsa::VerifyingKey::from_public_key_der(spki) {
                let sig = p256::ecdsa::Signature::from_der(sig).map_err(|_| bad_signature())?;
                key.verify_prehash(&prehash, &sig).is_ok()
            } else {
                let key = p384::ecdsa::VerifyingKey::from_public_key_der(spki).map_err(|_| bad_signature())?;
                let sig = p384::ecdsa::Signature::from_der(sig).map_err(|_| bad_signature())?;
                key.verify_prehash(&prehash, &sig).is_ok()
            }
        }
        SigAlg::Ed25519 => {
            let key = ed25519_dalek::VerifyingKey::from_public_key_der(spki).map_err(|_| bad_signature())?;
            let sig = ed25519_dalek::Signature::from_slice(sig).map_err(|_| bad_signature())?;
            key.verify_strict(tbs, &sig).is_ok()
        }
    };
    if ok {
        Ok(())
    } else {
        Err(bad_signature())
    }
}

/// Adds a subject common name: an IP address goes with the IP addresses, anything else
/// is taken as a DNS name.
fn add_common_name(cn: &str, dns: &mut BTreeSet<String>, ips: &mut BTreeSet<String>) -> Result<(), Problem> {
    if cn.is_empty() {
        return Err(Problem::bad_csr("the CSR subject has an empty common name"));
    }
    match canonical_ip(cn) {
        Some(ip) => ips.insert(ip),
        None => dns.insert(cn.to_ascii_lowercase()),
    };
    Ok(())
}

/// Parses and verifies a DER CSR; see the module documentation for the checks.
///
/// Keys accepted: RSA 2048..=8192 bits with e = 65537, ECDSA P-256 and P-384, and
/// Ed25519 when `allow_ed25519` (few relying parties accept Ed25519 certificates, so a
/// CA offers it only by choice). Signatures accepted: PKCS#1 v1.5 and ECDSA with
/// SHA-256/384/512, and Ed25519.
pub fn parse_csr(der: &[u8], allow_ed25519: bool) -> Result<CsrInfo, Problem> {
    let req = CertReq::from_der(der)
        .map_err(|e| Problem::bad_csr(format!("the CSR is not a DER-encoded PKCS#10 request: {e}")))?;
    let alg = SigAlg::from_identifier(&req.algorithm, allow_ed25519)?;

    let spki_der = req
        .info
        .public_key
        .to_der()
        .map_err(|e| Problem::bad_csr(format!("the CSR public key cannot be encoded: {e}")))?;
    let key = Jwk::from_spki_der(&spki_der).map_err(|p| Problem::bad_csr(format!("CSR public key: {}", p.detail)))?;
    let key_type = key.key_type_name();
    let key_ok = match key_type {
        "RSA" | "P-256" | "P-384" => true,
        "Ed25519" => allow_ed25519,
        _ => false,
    };
    if !key_ok {
        let accepted = if allow_ed25519 {
            "RSA (2048 to 8192 bits), ECDSA P-256 or P-384, or Ed25519"
        } else {
            "RSA (2048 to 8192 bits), ECDSA P-256 or P-384"
        };
        return Err(Problem::bad_csr(format!("{key_type} keys are not accepted; use {accepted}")));
    }
    if !alg.fits(key_type) {
        return Err(Problem::bad_csr(format!("the CSR signature algorithm does not match its {key_type} key")));
    }

    // CertReq::from_der accepts only DER, so re-encoding the request info gives back
    // exactly the signed bytes.
    let tbs = req.info.to_der().map_err(|e| Problem::bad_csr(format!("the CSR cannot be re-encoded: {e}")))?;
    let sig =
        req.signature.as_bytes().ok_or_else(|| Problem::bad_csr("the CSR signature BIT STRING has unused bits"))?;
    verify(&spki_der, alg, &tbs, sig)?;

    let mut dns_names = BTreeSet::new();
    let mut ip_addrs = BTreeSet::new();
    for atv in req.info.subject.iter() {
        if atv.oid == rfc4519::COMMON_NAME {
            let cn = DirectoryString::try_from(&atv.value)
                .map_err(|_| Problem::bad_csr("the CSR subject common name is not a readable string"))?;
            add_common_name(&cn.value(), &mut dns_names, &mut ip_addrs)?;
        }
    }

    let mut seen_ext_req = false;
    for attr in req.info.attributes.iter() {
        if attr.oid != ExtensionReq::OID {
            continue;
        }
        if seen_ext_req || attr.values.len() != 1 {
            return Err(Problem::bad_csr("the CSR must carry at most one extensionRequest with one value"));
        }
        seen_ext_req = true;
        let value = attr.values.iter().next().expect("one value").to_der().map_err(|_| bad_ext_req())?;
        let exts = ExtensionReq::from_der(&value).map_err(|_| bad_ext_req())?;
        let mut seen_oids: BTreeSet<ObjectIdentifier> = BTreeSet::new();
        for ext in exts.0.iter() {
            if !seen_oids.insert(ext.extn_id) {
                return Err(Problem::bad_csr(format!("the CSR requests extension {} twice", ext.extn_id)));
            }
            if ext.extn_id != SubjectAltName::OID {
                // Requested key usages and the like are ignored: the CA's profile decides them.
                continue;
            }
            let san = SubjectAltName::from_der(ext.extn_value.as_bytes())
                .map_err(|e| Problem::bad_csr(format!("the CSR subjectAltName cannot be read: {e}")))?;
            let names = SanNames::collect(san.0.iter());
            if let Some(other) = names.other {
                return Err(Problem::bad_csr(format!(
                    "the CSR subjectAltName contains {other}; only DNS names and IP addresses can be certified"
                )));
            }
            dns_names.extend(names.dns);
            ip_addrs.extend(names.ips);
        }
    }
    if dns_names.iter().any(|d| d.is_empty()) {
        return Err(Problem::bad_csr("the CSR subjectAltName contains an empty DNS name"));
    }
    if dns_names.is_empty() && ip_addrs.is_empty() {
        return Err(Problem::bad_csr("the CSR names no DNS name or IP address"));
    }
    Ok(CsrInfo { dns_names, ip_addrs, spki_der, key })
}

fn bad_ext_req() -> Problem {
    Problem::bad_csr("the CSR extensionRequest attribute cannot be read".to_string())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::problem::ProblemType;

    fn fixture(name: &str) -> Vec<u8> {
        super::super::testutil::fixture(name)
    }

    fn refused(der: &[u8], allow_ed25519: bool) -> Problem {
        let p = parse_csr(der, allow_ed25519).expect_err("CSR should be refused");
        assert_eq!(p.kind, ProblemType::BadCsr, "{p:?}");
        p
    }

    fn set(items: &[&str]) -> BTreeSet<String> {
        items.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn rsa_2048_sha256_csr_is_accepted_with_names_lowercased_and_ips_canonical() {
        let der = fixture("rsa2048-sha256.der");
        let info = parse_csr(&der, false).unwrap();
        assert_eq!(info.dns_names, set(&["example.com", "www.example.com"]), "CN duplicates a SAN");
        assert_eq!(info.ip_addrs, set(&["192.0.2.1", "2001:db8::1"]));
        assert_eq!(info.key.key_type_name(), "RSA");
        assert_eq!(info.key.to_spki_der(), info.spki_der);
    }

    #[test]
    fn p256_and_p384_csrs_are_accepted() {
        let p256 = parse_csr(&fixture("p256-sha256.der"), false).unwrap();
        assert_eq!(p256.dns_names, set(&["alt.p256.example", "p256.example"]));
        assert!(p256.ip_addrs.is_empty());
        assert_eq!(p256.key.key_type_name(), "P-256");

        let p384 = parse_csr(&fixture("p384-sha384.der"), false).unwrap();
        assert_eq!(p384.dns_names, set(&["p384.example"]));
        assert_eq!(p384.ip_addrs, set(&["10.0.0.1"]));
        assert_eq!(p384.key.key_type_name(), "P-384");
    }

    #[test]
    fn ecdsa_with_a_longer_hash_than_the_curve_is_accepted() {
        // P-256 key, ecdsa-with-SHA512, empty subject: names come from the SAN only.
        let info = parse_csr(&fixture("p256-sha512.der"), false).unwrap();
        assert_eq!(info.dns_names, set(&["p256.example"]));
    }

    #[test]
    fn common_name_without_san_is_taken_as_a_dns_name() {
        let info = parse_csr(&fixture("rsa2048-cn-only.der"), false).unwrap();
        assert_eq!(info.dns_names, set(&["cn-only.example"]));
    }

    #[test]
    fn tampered_csr_fails_signature_verification() {
        let mut der = fixture("p256-sha256.der");
        let at = der.windows(12).position(|w| w == b"p256.example").expect("SAN bytes");
        der[at] = b'q';
        let p = refused(&der, false);
        assert!(p.detail.contains("signature does not verify"), "{}", p.detail);

        let mut der = fixture("rsa2048-sha256.der");
        let last = der.len() - 1;
        der[last] ^= 1;
        assert!(refused(&der, false).detail.contains("signature does not verify"));
    }

    #[test]
    fn sha1_and_md5_signed_csrs_are_refused_with_advice_to_use_sha256() {
        for (name, hash) in [("rsa2048-sha1.der", "SHA-1"), ("p256-sha1.der", "SHA-1"), ("rsa2048-md5.der", "MD5")] {
            let p = refused(&fixture(name), false);
            assert!(p.detail.contains(hash), "{name}: {}", p.detail);
            assert!(p.detail.contains("sign CSRs with SHA-256"), "{name}: {}", p.detail);
        }
    }

    #[test]
    fn rsa_pss_signed_csr_is_refused() {
        let p = refused(&fixture("rsa2048-pss.der"), false);
        assert!(p.detail.contains("RSASSA-PSS"), "{}", p.detail);
    }

    #[test]
    fn weak_or_unsupported_keys_are_refused() {
        let p = refused(&fixture("rsa1024-sha256.der"), false);
        assert!(p.detail.contains("1024 bits"), "{}", p.detail);
        let p = refused(&fixture("rsa2048-e3.der"), false);
        assert!(p.detail.contains("65537"), "{}", p.detail);
        let p = refused(&fixture("p521-sha512.der"), true);
        assert!(p.detail.contains("P-521 keys are not accepted"), "{}", p.detail);
    }

    #[test]
    fn ed25519_csr_is_refused_unless_allowed() {
        let der = fixture("ed25519.der");
        let p = refused(&der, false);
        assert!(p.detail.contains("Ed25519"), "{}", p.detail);
        let info = parse_csr(&der, true).unwrap();
        assert_eq!(info.dns_names, set(&["ed25519.example"]));
        assert_eq!(info.key.key_type_name(), "Ed25519");
    }

    #[test]
    fn email_address_in_san_is_refused() {
        let p = refused(&fixture("rsa2048-email-san.der"), false);
        assert!(p.detail.contains("rfc822Name"), "{}", p.detail);
    }

    #[test]
    fn garbage_and_truncated_der_are_bad_csr() {
        refused(b"", false);
        refused(b"not a CSR at all", false);
        refused(&[0x30, 0x03, 0x02, 0x01, 0x00], false);
        let der = fixture("p256-sha256.der");
        refused(&der[..der.len() - 1], false);
        let mut trailing = der.clone();
        trailing.push(0);
        refused(&trailing, false);
    }
}
