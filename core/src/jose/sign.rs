//! Client-side signing: account keys and flattened JWS construction.

use alloc::string::String;
use alloc::vec::Vec;
use core::fmt;
use pkcs8::{DecodePrivateKey, EncodePrivateKey};
use serde_json::{Map, Value};
use sha2::{Digest, Sha256};
use signature::Signer;

use super::{Alg, Jwk};
use crate::b64;
use crate::problem::Problem;

/// Key types [`SigningKey::from_random_bytes`] can generate (RSA generation is out of scope).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum KeyKind {
    /// ECDSA P-256 (ES256), the usual ACME account key.
    P256,
    /// ECDSA P-384 (ES384).
    P384,
    /// ECDSA P-521 (ES512).
    P521,
    /// Ed25519 (EdDSA).
    Ed25519,
}

/// An account private key that signs JWS objects.
#[derive(Clone)]
pub enum SigningKey {
    /// ECDSA P-256, signs ES256.
    P256(p256::ecdsa::SigningKey),
    /// ECDSA P-384, signs ES384.
    P384(p384::ecdsa::SigningKey),
    /// ECDSA P-521, signs ES512.
    P521(p521::ecdsa::SigningKey),
    /// Ed25519, signs EdDSA.
    Ed25519(ed25519_dalek::SigningKey),
    /// RSA, signs RS256 (imported only; RSA key generation is not offered).
    Rsa(rsa::PrivateKey),
}

/// How a flattened JWS names its key.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SignerRef<'a> {
    /// Embed the public key as `jwk` (newAccount, revokeCert by certificate key).
    Jwk,
    /// Name the account URL as `kid`.
    Kid(&'a str),
}

/// Retries before concluding the randomness source is broken (each try fails with
/// probability below 2^-32 for P-256/P-384 and about 2^-1 for masked P-521 bytes).
const MAX_KEYGEN_TRIES: usize = 128;

impl SigningKey {
    /// Generates a key from bytes supplied by the host's CSPRNG, retrying out-of-range scalars.
    pub fn from_random_bytes(kind: KeyKind, fill: &mut dyn FnMut(&mut [u8])) -> Result<SigningKey, Problem> {
        for _ in 0..MAX_KEYGEN_TRIES {
            let key = match kind {
                KeyKind::P256 => {
                    let mut b = [0u8; 32];
                    fill(&mut b);
                    p256::ecdsa::SigningKey::from_slice(&b).ok().map(SigningKey::P256)
                }
                KeyKind::P384 => {
                    let mut b = [0u8; 48];
                    fill(&mut b);
                    p384::ecdsa::SigningKey::from_slice(&b).ok().map(SigningKey::P384)
                }
                KeyKind::P521 => {
                    let mut b = [0u8; 66];
                    fill(&mut b);
                    // Keep 521 bits; rejection below the order stays unbiased.
                    b[0] &= 0x01;
                    p521::ecdsa::SigningKey::from_slice(&b).ok().map(SigningKey::P521)
                }
                KeyKind::Ed25519 => {
                    let mut b = [0u8; 32];
                    fill(&mut b);
                    Some(SigningKey::Ed25519(ed25519_dalek::SigningKey::from_bytes(&b)))
                }
            };
            if let Some(k) = key {
                return Ok(k);
            }
        }
        Err(Problem::server_internal("random source produced no valid private key"))
    }

    /// Imports a PKCS#8 DER private key (EC P-256/P-384/P-521, Ed25519 or RSA).
    pub fn from_pkcs8_der(der: &[u8]) -> Result<SigningKey, Problem> {
        let key = if let Ok(k) = p256::ecdsa::SigningKey::from_pkcs8_der(der) {
            SigningKey::P256(k)
        } else if let Ok(k) = p384::ecdsa::SigningKey::from_pkcs8_der(der) {
            SigningKey::P384(k)
        } else if let Ok(k) = p521::ecdsa::SigningKey::from_pkcs8_der(der) {
            SigningKey::P521(k)
        } else if let Ok(k) = ed25519_dalek::SigningKey::from_pkcs8_der(der) {
            SigningKey::Ed25519(k)
        } else if let Ok(k) = rsa::PrivateKey::from_pkcs8_der(der) {
            SigningKey::Rsa(k)
        } else {
            return Err(Problem::malformed("not a PKCS#8 EC (P-256/P-384/P-521), Ed25519 or RSA private key"));
        };
        // The public half must pass the same policy a server applies to it.
        key.try_public_jwk()?;
        Ok(key)
    }

    /// Exports the key as PKCS#8 DER.
    pub fn to_pkcs8_der(&self) -> Vec<u8> {
        let doc = match self {
            SigningKey::P256(k) => k.to_pkcs8_der(),
            SigningKey::P384(k) => k.to_pkcs8_der(),
            SigningKey::P521(k) => k.to_pkcs8_der(),
            SigningKey::Ed25519(k) => k.to_pkcs8_der(),
            SigningKey::Rsa(k) => k.to_pkcs8_der(),
        };
        doc.expect("PKCS#8 encoding of a valid private key").as_bytes().to_vec()
    }

    fn try_public_jwk(&self) -> Result<Jwk, Problem> {
        Ok(match self {
            SigningKey::P256(k) => Jwk::from_p256(*k.verifying_key()),
            SigningKey::P384(k) => Jwk::from_p384(*k.verifying_key()),
            SigningKey::P521(k) => Jwk::from_p521(*k.verifying_key()),
            SigningKey::Ed25519(k) => Jwk::from_ed25519(k.verifying_key()),
            SigningKey::Rsa(k) => Jwk::from_rsa(k.as_public_key())?,
        })
    }

    /// The public key as a JWK.
    pub fn public_jwk(&self) -> Jwk {
        // Keys are checked on import and generation, so this cannot fail.
        self.try_public_jwk().expect("public half of a checked signing key")
    }

    /// The JWS algorithm this key signs with.
    pub fn alg(&self) -> Alg {
        match self {
            SigningKey::P256(_) => Alg::ES256,
            SigningKey::P384(_) => Alg::ES384,
            SigningKey::P521(_) => Alg::ES512,
            SigningKey::Ed25519(_) => Alg::EdDSA,
            SigningKey::Rsa(_) => Alg::RS256,
        }
    }

    /// Signs `input`: ECDSA deterministically (RFC 6979) as `r || s`, Ed25519, or RS256.
    pub fn sign(&self, input: &[u8]) -> Vec<u8> {
        match self {
            SigningKey::P256(k) => {
                let s: p256::ecdsa::Signature = k.sign(input);
                s.to_bytes().to_vec()
            }
            SigningKey::P384(k) => {
                let s: p384::ecdsa::Signature = k.sign(input);
                s.to_bytes().to_vec()
            }
            SigningKey::P521(k) => {
                let s: p521::ecdsa::Signature = k.sign(input);
                s.to_bytes().to_vec()
            }
            SigningKey::Ed25519(k) => k.sign(input).to_bytes().to_vec(),
            // Without an RNG the rsa crate signs unblinded. This is client-side signing
            // of public data with the client's own key, where timing is not observable
            // to a remote attacker in any useful way.
            SigningKey::Rsa(k) => k
                .sign(rsa::Pkcs1v15Sign::new::<Sha256>(), &Sha256::digest(input))
                .expect("RS256 signing with a valid key"),
        }
    }
}

impl fmt::Debug for SigningKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // Never print private material.
        f.debug_struct("SigningKey").field("public", &self.public_jwk()).finish()
    }
}

/// Builds a flattened JWS (RFC 8555 §6.2) over `payload`; an empty payload is POST-as-GET.
pub fn sign_flattened(
    key: &SigningKey,
    key_ref: SignerRef<'_>,
    nonce: Option<&str>,
    url: &str,
    payload: &[u8],
) -> Value {
    let mut header = Map::new();
    header.insert("alg".into(), Value::String(key.alg().name().into()));
    match key_ref {
        SignerRef::Jwk => {
            header.insert("jwk".into(), key.public_jwk().to_value());
        }
        SignerRef::Kid(kid) => {
            header.insert("kid".into(), Value::String(kid.into()));
        }
    }
    if let Some(n) = nonce {
        header.insert("nonce".into(), Value::String(n.into()));
    }
    header.insert("url".into(), Value::String(url.into()));
    let header = serde_json::to_vec(&Value::Object(header)).expect("JSON map serializes");
    assemble(&header, payload, |input| key.sign(input))
}

/// Encodes header and payload, signs the signing input with `sign`, returns the flattened JSON.
pub(crate) fn assemble(header: &[u8], payload: &[u8], sign: impl FnOnce(&[u8]) -> Vec<u8>) -> Value {
    let protected = b64::encode(header);
    let payload = b64::encode(payload);
    let mut input = String::with_capacity(protected.len() + 1 + payload.len());
    input.push_str(&protected);
    input.push('.');
    input.push_str(&payload);
    let signature = b64::encode(&sign(input.as_bytes()));
    let mut out = Map::new();
    out.insert("protected".into(), Value::String(protected));
    out.insert("payload".into(), Value::String(payload));
    out.insert("signature".into(), Value::String(signature));
    Value::Object(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::jose::testutil::{key, rsa, RSA2048_PK8};
    use crate::jose::{parse_flattened, KeyRef};
    use crate::problem::ProblemType;
    use alloc::vec;

    const URL: &str = "https://ca.example/acme/new-account";

    /// pyca/cryptography's RS256 signature of PY_PS256_INPUT with testdata/rsa2048.pk8.der.
    const PY_RS256_SIG: &str = "TOTXyMDFOnZHHHGvWMkfLwa-3plmtGUQuGGXFvII9lTc1oZKLdz-0QNSJamzzN6uBOKnwlUw5efNK-PhD5pkz7WOOokxY9E3k4p3aMtDruNscAaGeL7nKrV6JsXGboMtvweaSTGRTfq5CZehB5-HU52sD08iJhxxWG6IYS9HdJ3Xv1iESZrnt81tYZByAzJo7eY4dWPaVkCtzWJWZCYUlskQaLhjhG9uJKnza67R6uxTMua4chn1SaoXTvCe1eRoFOjy_IkXL27-Us1H52Dj2VeJFSm3Lq_eaVharqTMpfOUeR10tUgSqRNADD1zOP2FdVeNSD1U-6JW9fAU_AU_wg";

    fn all_keys() -> Vec<SigningKey> {
        vec![key(KeyKind::P256, 30), key(KeyKind::P384, 31), key(KeyKind::P521, 32), key(KeyKind::Ed25519, 33), rsa()]
    }

    fn body(v: &Value) -> Vec<u8> {
        serde_json::to_vec(v).unwrap()
    }

    #[test]
    fn every_key_kind_signs_a_jws_that_parses_and_verifies() {
        for k in all_keys() {
            let jws = sign_flattened(&k, SignerRef::Jwk, Some("bm9uY2U"), URL, br#"{"termsOfServiceAgreed":true}"#);
            let parsed = parse_flattened(&body(&jws)).unwrap();
            assert_eq!(parsed.header.alg, k.alg());
            assert_eq!(parsed.header.key, KeyRef::Jwk(k.public_jwk()));
            assert_eq!(parsed.header.nonce.as_deref(), Some("bm9uY2U"));
            assert_eq!(parsed.header.url, URL);
            parsed.verify(&k.public_jwk()).unwrap();
            assert_eq!(parsed.payload_json().unwrap().unwrap()["termsOfServiceAgreed"], true);

            let by_kid = sign_flattened(&k, SignerRef::Kid("https://ca.example/acct/7"), None, URL, b"");
            let parsed = parse_flattened(&body(&by_kid)).unwrap();
            assert_eq!(parsed.kid(), Some("https://ca.example/acct/7"));
            parsed.verify(&k.public_jwk()).unwrap();
        }
    }

    #[test]
    fn tampered_payload_or_header_fails_verification() {
        for k in all_keys() {
            let mut jws = sign_flattened(&k, SignerRef::Kid("a"), Some("n"), URL, br#"{"a":1}"#);
            jws["payload"] = Value::String(b64::encode(br#"{"a":2}"#));
            let parsed = parse_flattened(&body(&jws)).unwrap();
            let err = parsed.verify(&k.public_jwk()).unwrap_err();
            assert_eq!((err.kind, err.detail.as_str()), (ProblemType::Malformed, "JWS signature verification failed"));

            let mut jws = sign_flattened(&k, SignerRef::Kid("a"), Some("n"), URL, br#"{"a":1}"#);
            let other = sign_flattened(&k, SignerRef::Kid("a"), Some("m"), URL, br#"{"a":1}"#);
            jws["protected"] = other["protected"].clone();
            let parsed = parse_flattened(&body(&jws)).unwrap();
            assert_eq!(parsed.verify(&k.public_jwk()).unwrap_err().kind, ProblemType::Malformed);
        }
    }

    #[test]
    fn post_as_get_has_an_exactly_empty_payload() {
        let jws = sign_flattened(&key(KeyKind::P256, 34), SignerRef::Kid("a"), Some("n"), URL, b"");
        assert_eq!(jws["payload"], "");
        let parsed = parse_flattened(&body(&jws)).unwrap();
        assert_eq!(parsed.payload_json().unwrap(), None);
    }

    #[test]
    fn ecdsa_and_rs256_signatures_are_deterministic() {
        for k in all_keys() {
            assert_eq!(k.sign(b"abc"), k.sign(b"abc"), "{:?}", k.alg());
        }
        let sizes: Vec<usize> = all_keys().iter().map(|k| k.sign(b"abc").len()).collect();
        assert_eq!(sizes, [64, 96, 132, 64, 256]);
    }

    #[test]
    fn rs256_matches_pyca_byte_for_byte() {
        assert_eq!(b64::encode(&rsa().sign(b"eyJhbGciOiJQUzI1NiJ9.ZWRnZS1hY21l")), PY_RS256_SIG);
    }

    #[test]
    fn pkcs8_round_trips_for_every_key_kind() {
        for k in all_keys() {
            let der = k.to_pkcs8_der();
            let back = SigningKey::from_pkcs8_der(&der).unwrap();
            assert_eq!(back.public_jwk(), k.public_jwk());
            assert_eq!(back.alg(), k.alg());
        }
        assert_eq!(rsa().to_pkcs8_der(), RSA2048_PK8);
        assert_eq!(SigningKey::from_pkcs8_der(b"junk").unwrap_err().kind, ProblemType::Malformed);
    }

    #[test]
    fn random_key_generation_retries_out_of_range_scalars() {
        // First draw: all 0xff (above the group order), then a valid scalar.
        let mut draws = 0;
        let mut fill = |b: &mut [u8]| {
            draws += 1;
            b.fill(if draws == 1 { 0xff } else { 0x42 });
        };
        let k = SigningKey::from_random_bytes(KeyKind::P384, &mut fill).unwrap();
        assert_eq!(draws, 2);
        assert_eq!(k.alg(), Alg::ES384);
        // A source that only ever yields zero is reported, not looped on forever.
        let err = SigningKey::from_random_bytes(KeyKind::P256, &mut |b: &mut [u8]| b.fill(0)).unwrap_err();
        assert_eq!(err.kind, ProblemType::ServerInternal);
    }

    #[test]
    fn debug_output_shows_no_private_material() {
        let k = key(KeyKind::Ed25519, 35);
        let secret = match &k {
            SigningKey::Ed25519(s) => b64::encode(s.as_bytes()),
            _ => unreachable!(),
        };
        let dbg = alloc::format!("{k:?}");
        assert!(!dbg.contains(&secret) && dbg.contains(&k.public_jwk().thumbprint()), "{dbg}");
    }
}
