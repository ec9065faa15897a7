//! Client-side helpers shared by the test client, the npm package and the Worker's
//! upstream connector: certificate signing requests for a list of names.

use alloc::string::String;
use alloc::vec::Vec;
use core::net::IpAddr;
use core::str::FromStr;

use der::asn1::{Ia5String, OctetString};
use der::Encode;
use x509_cert::builder::{Builder, RequestBuilder};
use x509_cert::ext::pkix::name::GeneralName;
use x509_cert::ext::pkix::SubjectAltName;
use x509_cert::name::Name;

use crate::jose::SigningKey;
use crate::problem::Problem;

fn bad(what: &str) -> impl FnOnce(x509_cert::builder::Error) -> Problem + '_ {
    move |e| Problem::malformed(alloc::format!("{what}: {e}"))
}

/// Builds a DER PKCS#10 request with an empty subject and every name (DNS names and IP
/// addresses) in a subjectAltName extension, signed with SHA-256 (or Ed25519) by `key`
/// (P-256, P-384, RSA, Ed25519).
pub fn build_csr(key: &SigningKey, names: &[String]) -> Result<Vec<u8>, Problem> {
    if names.is_empty() {
        return Err(Problem::malformed("a CSR needs at least one name"));
    }
    let mut general = Vec::with_capacity(names.len());
    for n in names {
        let g = match IpAddr::from_str(n) {
            Ok(IpAddr::V4(a)) => GeneralName::IpAddress(OctetString::new(a.octets().to_vec()).map_err(der_err)?),
            Ok(IpAddr::V6(a)) => GeneralName::IpAddress(OctetString::new(a.octets().to_vec()).map_err(der_err)?),
            Err(_) => GeneralName::DnsName(Ia5String::new(n).map_err(der_err)?),
        };
        general.push(g);
    }
    let mut builder = RequestBuilder::new(Name::default()).map_err(bad("CSR"))?;
    builder.add_extension(&SubjectAltName(general)).map_err(der_err)?;
    let req = match key {
        SigningKey::P256(k) => builder.build::<_, p256::ecdsa::DerSignature>(k),
        SigningKey::P384(k) => builder.build::<_, p384::ecdsa::DerSignature>(k),
        SigningKey::Rsa(k) => {
            let signer = rsa::pkcs1v15::SigningKey::<sha2::Sha256>::new(k.clone());
            builder.build::<_, rsa::pkcs1v15::Signature>(&signer)
        }
        // For private CAs and tests: Web PKI CAs (this one included) refuse Ed25519 keys.
        SigningKey::Ed25519(k) => builder.build::<_, ed25519_dalek::Signature>(k),
        SigningKey::P521(_) => {
            return Err(Problem::malformed(
                "CSRs can be made with P-256, P-384, RSA or Ed25519 keys (Web PKI CAs do not accept P-521)",
            ))
        }
    }
    .map_err(bad("signing the CSR"))?;
    req.to_der().map_err(der_err)
}

fn der_err(e: der::Error) -> Problem {
    Problem::malformed(alloc::format!("DER: {e}"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::host::testing::SeededRng;
    use crate::host::Rng;
    use crate::jose::KeyKind;
    use alloc::string::ToString;

    #[test]
    fn csrs_built_here_pass_the_servers_own_csr_checks() {
        let rng = SeededRng::new(9);
        for kind in [KeyKind::P256, KeyKind::P384, KeyKind::Ed25519] {
            let key = SigningKey::from_random_bytes(kind, &mut |b| rng.fill(b)).unwrap();
            let names =
                ["a.example.com".to_string(), "*.b.example.com".into(), "192.0.2.7".into(), "2001:db8::5".into()];
            let der = build_csr(&key, &names).unwrap();
            let info = crate::ca::parse_csr(&der, kind == KeyKind::Ed25519).unwrap();
            assert!(info.dns_names.contains("a.example.com") && info.dns_names.contains("*.b.example.com"));
            assert!(info.ip_addrs.contains("192.0.2.7") && info.ip_addrs.contains("2001:db8::5"));
            assert_eq!(info.key, key.public_jwk());
        }
    }
}
