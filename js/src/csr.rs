//! Certificate signing requests: core's `client::build_csr` (the function the server's
//! own CSR checks are tested against), for P-256, P-384, RSA and Ed25519 keys. Web PKI
//! CAs, edge-acme included, do not issue for Ed25519 certificate keys: an Ed25519 CSR
//! is for private CAs and tests.

use edge_acme_core::jose::SigningKey;
use edge_acme_core::Problem;

/// A DER PKCS#10 request for `names` (empty subject, all names in subjectAltName).
pub fn build(key: &SigningKey, names: &[String]) -> Result<Vec<u8>, Problem> {
    edge_acme_core::client::build_csr(key, names)
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
