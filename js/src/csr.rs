//! Certificate signing requests. P-256, P-384 and RSA keys go through core's
//! `client::build_csr` (the function the server's own CSR checks are tested against);
//! Ed25519 is added here because core's builder does not offer it yet.
//!
//! x509-cert's builder supports Ed25519 (ed25519-dalek implements the signature
//! algorithm identifier and the bit-string encoding), so the Ed25519 arm below is the
//! same request with `ed25519_dalek::Signature`. It belongs in core's `build_csr` as one
//! more match arm; it lives here until then so core stays untouched by this crate.
//! Note that Web PKI CAs, edge-acme included, do not issue for Ed25519 certificate keys:
//! an Ed25519 CSR is for private CAs and tests.

use std::net::IpAddr;
use std::str::FromStr;

use der::asn1::{Ia5String, OctetString};
use der::Encode;
use edge_acme_core::jose::SigningKey;
use edge_acme_core::Problem;
use x509_cert::builder::{Builder, RequestBuilder};
use x509_cert::ext::pkix::name::GeneralName;
use x509_cert::ext::pkix::SubjectAltName;
use x509_cert::name::Name;

/// A DER PKCS#10 request for `names` (empty subject, all names in subjectAltName).
pub fn build(key: &SigningKey, names: &[String]) -> Result<Vec<u8>, Problem> {
    match key {
        SigningKey::Ed25519(k) => build_ed25519(k, names),
        SigningKey::P521(_) => Err(Problem::malformed(
            "CSRs can be made with P-256, P-384, RSA or Ed25519 keys (P-521 is not accepted by Web PKI CAs)",
        )),
        _ => edge_acme_core::client::build_csr(key, names),
    }
}

fn malformed(what: &str, e: impl core::fmt::Display) -> Problem {
    Problem::malformed(format!("{what}: {e}"))
}

fn build_ed25519(key: &ed25519_dalek::SigningKey, names: &[String]) -> Result<Vec<u8>, Problem> {
    if names.is_empty() {
        return Err(Problem::malformed("a CSR needs at least one name"));
    }
    let mut general = Vec::with_capacity(names.len());
    for n in names {
        general.push(match IpAddr::from_str(n) {
            Ok(IpAddr::V4(a)) => {
                GeneralName::IpAddress(OctetString::new(a.octets().to_vec()).map_err(|e| malformed("DER", e))?)
            }
            Ok(IpAddr::V6(a)) => {
                GeneralName::IpAddress(OctetString::new(a.octets().to_vec()).map_err(|e| malformed("DER", e))?)
            }
            Err(_) => GeneralName::DnsName(Ia5String::new(n).map_err(|e| malformed("DER", e))?),
        });
    }
    let mut builder = RequestBuilder::new(Name::default()).map_err(|e| malformed("CSR", e))?;
    builder.add_extension(&SubjectAltName(general)).map_err(|e| malformed("DER", e))?;
    let req = builder.build::<_, ed25519_dalek::Signature>(key).map_err(|e| malformed("signing the CSR", e))?;
    req.to_der().map_err(|e| malformed("DER", e))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::key::PrivateKey;

    fn names() -> Vec<String> {
        vec!["a.example.com".to_string(), "*.b.example.com".into(), "192.0.2.7".into()]
    }

    #[test]
    fn ecdsa_csrs_pass_the_servers_csr_parser() {
        for kind in ["P-256", "P-384"] {
            let key = PrivateKey::generate(kind).unwrap();
            let der = build(key.inner(), &names()).unwrap();
            let info = edge_acme_core::ca::parse_csr(&der, false).unwrap();
            assert!(info.dns_names.contains("*.b.example.com"), "{kind}");
            assert!(info.ip_addrs.contains("192.0.2.7"), "{kind}");
            assert_eq!(info.key, key.inner().public_jwk(), "{kind}");
        }
    }

    #[test]
    fn ed25519_csr_is_well_formed_and_refused_by_the_web_pki_policy() {
        // The server reads the request and refuses it for its algorithm alone (openssl
        // verifies the signature in js/test/wasm.test.mjs).
        let key = PrivateKey::generate("Ed25519").unwrap();
        let der = build(key.inner(), &names()).unwrap();
        let err = edge_acme_core::ca::parse_csr(&der, false).unwrap_err();
        assert_eq!(err.kind, edge_acme_core::ProblemType::BadCsr);
        assert!(err.detail.contains("Ed25519"), "{}", err.detail);
    }

    #[test]
    fn empty_name_list_and_p521_are_refused() {
        let key = PrivateKey::generate("Ed25519").unwrap();
        assert!(build(key.inner(), &[]).is_err());
        let key = PrivateKey::generate("P-521").unwrap();
        assert!(build(key.inner(), &["a.example".into()]).is_err());
    }
}
