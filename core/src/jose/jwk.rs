//! Public JWKs (RFC 7517/7518/8037): parsing with key policy, thumbprints (RFC 7638),
//! SPKI conversion and signature verification.

use alloc::format;
use alloc::string::{String, ToString};
use alloc::vec::Vec;
use core::fmt;
use pkcs8::{DecodePublicKey, EncodePublicKey};
use rsa::traits::PublicKeyParts;
use serde_json::{Map, Value};
use sha2::{Digest, Sha256};
use signature::Verifier;

use super::{unsupported_alg, Alg};
use crate::b64;
use crate::problem::Problem;

/// Smallest RSA modulus accepted, in bits.
const RSA_MIN_BITS: usize = 2048;
/// Largest RSA modulus accepted, in bits (bounds verification cost).
const RSA_MAX_BITS: usize = 8192;
/// Private members of any key type (RFC 7518 §6.2.2, §6.3.2, §6.4; RFC 8037 §2).
const PRIVATE_MEMBERS: &[&str] = &["d", "p", "q", "dp", "dq", "qi", "oth", "k"];

/// A validated public key as it appears in a JWS `jwk` header or an EAB payload.
#[derive(Clone, PartialEq, Eq)]
pub struct Jwk {
    key: Key,
}

#[derive(Clone, PartialEq, Eq)]
enum Key {
    P256(p256::ecdsa::VerifyingKey),
    P384(p384::ecdsa::VerifyingKey),
    P521(p521::ecdsa::VerifyingKey),
    Rsa(rsa::PublicKey),
    Ed25519(ed25519_dalek::VerifyingKey),
}

fn member<'a>(obj: &'a Map<String, Value>, name: &str) -> Result<&'a str, Problem> {
    match obj.get(name) {
        Some(Value::String(s)) => Ok(s),
        Some(_) => Err(Problem::malformed(format!("JWK member \"{name}\" must be a string"))),
        None => Err(Problem::malformed(format!("JWK is missing the \"{name}\" member"))),
    }
}

fn member_bytes(obj: &Map<String, Value>, name: &str) -> Result<Vec<u8>, Problem> {
    b64::decode(member(obj, name)?).map_err(|e| Problem::malformed(format!("JWK member \"{name}\": {e}")))
}

fn ec_coordinates(obj: &Map<String, Value>, crv: &str, len: usize) -> Result<Vec<u8>, Problem> {
    let x = member_bytes(obj, "x")?;
    let y = member_bytes(obj, "y")?;
    if x.len() != len || y.len() != len {
        // RFC 7518 §6.2.1.2: coordinates are full-length, leading zeros included.
        return Err(Problem::bad_public_key(format!(
            "{crv} coordinates must be {len} bytes each, got x={} y={}",
            x.len(),
            y.len()
        )));
    }
    let mut sec1 = Vec::with_capacity(1 + 2 * len);
    sec1.push(0x04);
    sec1.extend_from_slice(&x);
    sec1.extend_from_slice(&y);
    Ok(sec1)
}

fn not_on_curve(crv: &str) -> Problem {
    Problem::bad_public_key(format!("the {crv} point is not on the curve"))
}

impl Jwk {
    /// Parses and validates a public JWK, applying the key policy described in [`crate::jose`].
    pub fn from_value(value: &Value) -> Result<Jwk, Problem> {
        let obj = value.as_object().ok_or_else(|| Problem::malformed("JWK must be a JSON object"))?;
        if let Some(private) = PRIVATE_MEMBERS.iter().find(|m| obj.contains_key(**m)) {
            return Err(Problem::bad_public_key(format!(
                "JWK contains the private member \"{private}\"; send only the public key"
            )));
        }
        let kty = member(obj, "kty")?;
        let key = match kty {
            "EC" => {
                let crv = member(obj, "crv")?;
                match crv {
                    "P-256" => Key::P256(
                        p256::ecdsa::VerifyingKey::from_sec1_bytes(&ec_coordinates(obj, crv, 32)?)
                            .map_err(|_| not_on_curve(crv))?,
                    ),
                    "P-384" => Key::P384(
                        p384::ecdsa::VerifyingKey::from_sec1_bytes(&ec_coordinates(obj, crv, 48)?)
                            .map_err(|_| not_on_curve(crv))?,
                    ),
                    "P-521" => Key::P521(
                        p521::ecdsa::VerifyingKey::from_sec1_bytes(&ec_coordinates(obj, crv, 66)?)
                            .map_err(|_| not_on_curve(crv))?,
                    ),
                    other => {
                        return Err(Problem::bad_public_key(format!(
                            "unsupported EC curve {other:?}; use P-256, P-384 or P-521"
                        )))
                    }
                }
            }
            "RSA" => Key::Rsa(rsa_key(&member_bytes(obj, "n")?, &member_bytes(obj, "e")?)?),
            "OKP" => {
                let crv = member(obj, "crv")?;
                if crv != "Ed25519" {
                    return Err(Problem::bad_public_key(format!("unsupported OKP curve {crv:?}; only Ed25519 signs")));
                }
                let x = member_bytes(obj, "x")?;
                let x: [u8; 32] = x
                    .as_slice()
                    .try_into()
                    .map_err(|_| Problem::bad_public_key(format!("Ed25519 \"x\" must be 32 bytes, got {}", x.len())))?;
                Key::Ed25519(ed25519_key(&x)?)
            }
            other => {
                return Err(Problem::bad_public_key(format!("unsupported key type {other:?}; use EC, RSA or OKP")))
            }
        };
        Ok(Jwk { key })
    }

    pub(super) fn from_p256(k: p256::ecdsa::VerifyingKey) -> Jwk {
        Jwk { key: Key::P256(k) }
    }

    pub(super) fn from_p384(k: p384::ecdsa::VerifyingKey) -> Jwk {
        Jwk { key: Key::P384(k) }
    }

    pub(super) fn from_p521(k: p521::ecdsa::VerifyingKey) -> Jwk {
        Jwk { key: Key::P521(k) }
    }

    pub(super) fn from_ed25519(k: ed25519_dalek::VerifyingKey) -> Jwk {
        Jwk { key: Key::Ed25519(k) }
    }

    pub(super) fn from_rsa(k: &rsa::PublicKey) -> Result<Jwk, Problem> {
        Ok(Jwk { key: Key::Rsa(rsa_key(&k.n_bytes(), &k.e_bytes())?) })
    }

    /// The JWK with only its required public members (the RFC 7638 members).
    pub fn to_value(&self) -> Value {
        let mut m = Map::new();
        for (k, v) in self.members() {
            m.insert(k.into(), Value::String(v));
        }
        Value::Object(m)
    }

    /// The required members in lexicographic order, values already encoded.
    fn members(&self) -> Vec<(&'static str, String)> {
        let ec = |crv: &str, point: &[u8], len: usize| {
            alloc::vec![
                ("crv", crv.to_string()),
                ("kty", "EC".to_string()),
                ("x", b64::encode(&point[1..1 + len])),
                ("y", b64::encode(&point[1 + len..])),
            ]
        };
        match &self.key {
            Key::P256(k) => ec("P-256", k.to_sec1_point(false).as_bytes(), 32),
            Key::P384(k) => ec("P-384", k.to_sec1_point(false).as_bytes(), 48),
            Key::P521(k) => ec("P-521", k.to_sec1_point(false).as_bytes(), 66),
            Key::Rsa(k) => alloc::vec![
                ("e", b64::encode(&k.e_bytes())),
                ("kty", "RSA".to_string()),
                ("n", b64::encode(&k.n_bytes())),
            ],
            Key::Ed25519(k) => alloc::vec![
                ("crv", "Ed25519".to_string()),
                ("kty", "OKP".to_string()),
                ("x", b64::encode(k.as_bytes())),
            ],
        }
    }

    /// The RFC 7638 thumbprint input: required members, sorted, no whitespace.
    fn thumbprint_input(&self) -> String {
        // Built by hand rather than through serde_json so that a `preserve_order`
        // feature switched on elsewhere in a build can never change member order.
        // Every value is base64url or a fixed name, so nothing needs escaping.
        let members: Vec<String> = self.members().iter().map(|(k, v)| format!("\"{k}\":\"{v}\"")).collect();
        format!("{{{}}}", members.join(","))
    }

    /// SHA-256 JWK thumbprint (RFC 7638) as raw bytes.
    pub fn thumbprint_bytes(&self) -> [u8; 32] {
        Sha256::digest(self.thumbprint_input().as_bytes()).into()
    }

    /// SHA-256 JWK thumbprint (RFC 7638), base64url.
    pub fn thumbprint(&self) -> String {
        b64::encode(&self.thumbprint_bytes())
    }

    /// A short name of the key type: `P-256`, `P-384`, `P-521`, `RSA` or `Ed25519`.
    pub fn key_type_name(&self) -> &'static str {
        match &self.key {
            Key::P256(_) => "P-256",
            Key::P384(_) => "P-384",
            Key::P521(_) => "P-521",
            Key::Rsa(_) => "RSA",
            Key::Ed25519(_) => "Ed25519",
        }
    }

    /// The algorithm a signer with this key uses by default (RS256 for RSA).
    pub fn default_alg(&self) -> Alg {
        match &self.key {
            Key::P256(_) => Alg::ES256,
            Key::P384(_) => Alg::ES384,
            Key::P521(_) => Alg::ES512,
            Key::Rsa(_) => Alg::RS256,
            Key::Ed25519(_) => Alg::EdDSA,
        }
    }

    /// Whether `alg` can be verified with this key (ES256↔P-256, RS256/PS256↔RSA, ...).
    pub fn accepts_alg(&self, alg: Alg) -> bool {
        matches!(
            (&self.key, alg),
            (Key::P256(_), Alg::ES256)
                | (Key::P384(_), Alg::ES384)
                | (Key::P521(_), Alg::ES512)
                | (Key::Rsa(_), Alg::RS256 | Alg::PS256)
                | (Key::Ed25519(_), Alg::EdDSA)
        )
    }

    /// The `badSignatureAlgorithm` problem for an `alg` this key cannot verify.
    pub(crate) fn alg_mismatch(&self, alg: Alg) -> Problem {
        unsupported_alg(format!(
            "algorithm {} cannot be used with key type {} (expected {})",
            alg.name(),
            self.key_type_name(),
            match &self.key {
                Key::Rsa(_) => "RS256 or PS256",
                _ => self.default_alg().name(),
            }
        ))
    }

    /// Verifies `signature` over `signing_input` with `alg`.
    ///
    /// An `alg` that does not fit the key is `badSignatureAlgorithm`; a signature of the
    /// wrong size or shape, or one that does not verify, is `malformed`. ECDSA signatures
    /// are the fixed-size `r || s` of RFC 7518 §3.4; DER is refused. High-S ECDSA
    /// signatures are accepted (JOSE does not require low-S, and common clients emit
    /// both); `r` or `s` of zero or not below the group order are refused.
    pub fn verify(&self, alg: Alg, signing_input: &[u8], signature: &[u8]) -> Result<(), Problem> {
        if !self.accepts_alg(alg) {
            return Err(self.alg_mismatch(alg));
        }
        macro_rules! ecdsa {
            ($curve:ident, $key:expr, $len:expr) => {{
                if signature.len() != 2 * $len {
                    return Err(Problem::malformed(format!(
                        "{} signature must be {} bytes (r || s, not DER), got {}",
                        alg.name(),
                        2 * $len,
                        signature.len()
                    )));
                }
                let sig = $curve::ecdsa::Signature::from_slice(signature)
                    .map_err(|_| Problem::malformed(format!("{} signature has r or s out of range", alg.name())))?;
                $key.verify(signing_input, &sig).map_err(|_| verification_failed())
            }};
        }
        match &self.key {
            Key::P256(k) => ecdsa!(p256, k, 32),
            Key::P384(k) => ecdsa!(p384, k, 48),
            Key::P521(k) => ecdsa!(p521, k, 66),
            Key::Rsa(k) => {
                if signature.len() != k.size() {
                    return Err(Problem::malformed(format!(
                        "{} signature must be {} bytes for this key, got {}",
                        alg.name(),
                        k.size(),
                        signature.len()
                    )));
                }
                let hashed = Sha256::digest(signing_input);
                let ok = if alg == Alg::PS256 {
                    // RFC 7518 §3.5: MGF1 with SHA-256 and a salt as long as the hash.
                    k.verify(rsa::Pss::<Sha256>::new(), &hashed, signature)
                } else {
                    k.verify(rsa::Pkcs1v15Sign::new::<Sha256>(), &hashed, signature)
                };
                ok.map_err(|_| verification_failed())
            }
            Key::Ed25519(k) => {
                let sig = ed25519_dalek::Signature::from_slice(signature).map_err(|_| {
                    Problem::malformed(format!("EdDSA signature must be 64 bytes, got {}", signature.len()))
                })?;
                // Strict: refuses non-canonical S and small-order R (RFC 8032 §5.1.7).
                k.verify_strict(signing_input, &sig).map_err(|_| verification_failed())
            }
        }
    }

    /// Reads a DER SubjectPublicKeyInfo (from a CSR or certificate) under the same policy.
    pub fn from_spki_der(der: &[u8]) -> Result<Jwk, Problem> {
        // Each decoder checks the algorithm OID (and curve) first, so trying them in
        // turn is cheap and keeps OID tables out of this crate.
        let key = if let Ok(k) = p256::ecdsa::VerifyingKey::from_public_key_der(der) {
            Key::P256(k)
        } else if let Ok(k) = p384::ecdsa::VerifyingKey::from_public_key_der(der) {
            Key::P384(k)
        } else if let Ok(k) = p521::ecdsa::VerifyingKey::from_public_key_der(der) {
            Key::P521(k)
        } else if let Ok(k) = ed25519_dalek::VerifyingKey::from_public_key_der(der) {
            Key::Ed25519(ed25519_key(k.as_bytes())?)
        } else {
            return Jwk::from_rsa(&rsa_spki(der)?);
        };
        Ok(Jwk { key })
    }

    /// The DER SubjectPublicKeyInfo of this key.
    pub fn to_spki_der(&self) -> Vec<u8> {
        let doc = match &self.key {
            Key::P256(k) => k.to_public_key_der(),
            Key::P384(k) => k.to_public_key_der(),
            Key::P521(k) => k.to_public_key_der(),
            Key::Rsa(k) => k.to_public_key_der(),
            Key::Ed25519(k) => k.to_public_key_der(),
        };
        // Encoding a key that was already validated cannot fail.
        doc.expect("SPKI encoding of a valid public key").into_vec()
    }
}

fn rsa_spki(der: &[u8]) -> Result<rsa::PublicKey, Problem> {
    rsa::PublicKey::from_public_key_der(der).map_err(|e| match e {
        pkcs8::spki::Error::OidUnknown { .. } => {
            Problem::bad_public_key("unsupported public key algorithm; use EC P-256/P-384/P-521, RSA or Ed25519")
        }
        _ => Problem::bad_public_key(alloc::format!("public key is not an acceptable SubjectPublicKeyInfo: {e}")),
    })
}

fn verification_failed() -> Problem {
    Problem::malformed("JWS signature verification failed")
}

fn ed25519_key(x: &[u8; 32]) -> Result<ed25519_dalek::VerifyingKey, Problem> {
    let k = ed25519_dalek::VerifyingKey::from_bytes(x)
        .map_err(|_| Problem::bad_public_key("Ed25519 \"x\" is not a valid curve point"))?;
    if k.is_weak() {
        return Err(Problem::bad_public_key("Ed25519 key is a small-order point"));
    }
    Ok(k)
}

/// Applies the RSA policy: minimal encodings, 2048..=8192-bit modulus, e = 65537.
fn rsa_key(n: &[u8], e: &[u8]) -> Result<rsa::PublicKey, Problem> {
    // RFC 7518 §2 (Base64urlUInt): the minimum number of octets. A leading zero would
    // give the same key a second thumbprint.
    if n.first().is_none_or(|b| *b == 0) {
        return Err(Problem::bad_public_key("RSA modulus must be non-empty without leading zero bytes"));
    }
    if e != [1, 0, 1] {
        return Err(Problem::bad_public_key("RSA public exponent must be 65537 (\"AQAB\")"));
    }
    let bits = n.len() * 8 - n[0].leading_zeros() as usize;
    if !(RSA_MIN_BITS..=RSA_MAX_BITS).contains(&bits) {
        return Err(Problem::bad_public_key(format!(
            "RSA modulus is {bits} bits; accepted sizes are {RSA_MIN_BITS} to {RSA_MAX_BITS}"
        )));
    }
    rsa::PublicKey::new_with_size_limits(
        rsa::BoxedUint::from_be_slice_vartime(n),
        rsa::BoxedUint::from_be_slice_vartime(e),
        RSA_MIN_BITS..=RSA_MAX_BITS,
    )
    .map_err(|e| Problem::bad_public_key(format!("RSA public key rejected: {e}")))
}

impl fmt::Debug for Jwk {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Jwk").field("type", &self.key_type_name()).field("thumbprint", &self.thumbprint()).finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::jose::testutil::*;
    use crate::jose::KeyKind;
    use crate::problem::ProblemType;
    use serde_json::json;

    /// Independent vectors from pyca/cryptography (testdata/gen_vectors.py).
    const PY_PS256_INPUT: &[u8] = b"eyJhbGciOiJQUzI1NiJ9.ZWRnZS1hY21l";
    const PY_PS256_SIG: &str = "Z0t-OQXZHlig3GbIuvr7KBiXeXPfL8BS0Z3s7-ZAcb02na2cuMtKpslTGG7uCvYU9X6FQexxoiJe3DgTAo0cuPNKEurTBSPH0Glwfkns_p_0cPjt2t87U4XcVCli_QRj2GNImC2eOMUPYe_HpW4VaWVa2oI9qBxVbeMWatg3o_i0ja-l57r-4XIeJawc3WBXxPbPpokbb0GHKOhDNEoQAVLmebb1nfQrEROFSnawlaZa3a6JyTs5D-wZVBiwtoSj2X4L2OTIUytj8o1A3Kbxrklv52QkfYPhX6wdrOFm-4c9CZomyvNReBEQOqbq2B9Yll23FPHxXaf5b2h7sRIeWQ";
    const PY_RSA_N: &str = "tslZNOAui3gOOCLiGIPduK0seAQ5r6w4pfOB8Nvews1CNgJKkF3ixdAAhQz_cjocBOa9c8s_WjIVVjSrRXLzwm8NMON_G6JF-fU9jVihvUb64ze4EuRyfv4tlZklN641LwxBfiYLkrBI4Ov4U3aXL4-6pDAJm0e99twZtNIBF-KR6CATXGvygHy7RoxI93_hdMgX0hSMFv-Xndq3SC-7vRTSJjL8l-Hj39kdKQ0oaDQnwE1iw1ArsJPGYZLuHcjUGxmNLMd8Gw5wcOGdfPUKUZakdvlem0mfcH-2xXi6sI5p0lKwwWn-rtudSNf-cxVXtZJsJ-T6cP2T6IOkfZWpaw";
    const PY_P384_X: &str = "1hCakA9AwzLnm-cuIEQdTGK7dyIe5Gm1G-X5cc1mrrsRBj5aVf7C1SAuciE1Si5x";
    const PY_P384_Y: &str = "dld6D1aTtGWn_paDmnghtWPKXMn0WkBvmShDnkZ1H21Ze0RKkxWbQ064vqn-GPsR";
    const PY_ES384_SIG: &str = "rI_rRdR3FWnSnNkaQ0rkqVx68YnHohEFL-z8k91buzReFgC5nDSRPa0mGp-C5mRnSa-DlaVEQwGz54fWyUF9XiXT4TRMdYV1FPutiJVJOPLkV15Ax1mj-08M58cbtmOK";
    const PY_ES384_DER_SIG: &str = "MGUCMQCsj-tF1HcVadKc2RpDSuSpXHrxiceiEQUv7PyT3Vu7NF4WALmcNJE9rSYan4LmZGcCMEmvg5WlREMBs-eH1slBfV4l0-E0THWFdRT7rYiVSTjy5FdeQMdZo_tPDOfHG7Zjig";
    const PY_A3_SPKI: &str = "MFkwEwYHKoZIzj0CAQYIKoZIzj0DAQcDQgAEf83OJ3D2xF1Bg8vub9tLe1gHMzV76e8Tus9uPHvRVEXH8UTNG72bfocs3-257rn0s2ldbqkLJK2KRiMohYjlrQ";
    const PY_ED25519_SPKI: &str = "MCowBQYDK2VwAyEA11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo";

    /// RFC 7515 Appendix A.4 (ES512) public key, payload and signature.
    const RFC7515_A4_X: &str =
        "AekpBQ8ST8a8VcfVOTNl353vSrDCLLJXmPk06wTjxrrjcBpXp5EOnYG_NjFZ6OvLFV1jSfS9tsz4qUxcWceqwQGk";
    const RFC7515_A4_Y: &str =
        "ADSmRA43Z1DSNx_RvcLI87cdL07l6jQyyBXMoxVg_l2Th-x3S1WDhjDly79ajL4Kkd0AZMaZmh9ubmf63e3kyMj2";
    const RFC7515_A4_INPUT: &str = "eyJhbGciOiJFUzUxMiJ9.UGF5bG9hZA";
    const RFC7515_A4_SIG: &str = concat!(
        "AdwMgeerwtHoh-l192l60hp9wAHZFVJbLfD_UxMi70cwnZOYaRI1bKPWROc-mZZq",
        "wqT2SI-KGDKB34XO0aw_7XdtAG8GaSwFKdCAPZgoXD2YBJZCPEX3xKpRwcdOO8Kp",
        "EHwJjyqOgzDO7iKvU8vcnwNrmxYbSW9ERBXukOXolLzeO_Jn",
    );

    fn d(s: &str) -> Vec<u8> {
        b64::decode(s).unwrap()
    }

    fn a3_jwk() -> Jwk {
        Jwk::from_value(&json!({"kty": "EC", "crv": "P-256", "x": RFC7515_A3_X, "y": RFC7515_A3_Y})).unwrap()
    }

    fn a2_jwk() -> Jwk {
        Jwk::from_value(&json!({"kty": "RSA", "n": RFC7515_A2_N, "e": "AQAB"})).unwrap()
    }

    fn rfc8037_jwk() -> Jwk {
        Jwk::from_value(&json!({"kty": "OKP", "crv": "Ed25519", "x": RFC8037_X})).unwrap()
    }

    fn kind(r: Result<Jwk, Problem>) -> ProblemType {
        r.expect_err("must be refused").kind
    }

    #[test]
    fn rfc7515_a2_rs256_example_verifies() {
        let input = alloc::format!("eyJhbGciOiJSUzI1NiJ9.{RFC7515_PAYLOAD}");
        a2_jwk().verify(Alg::RS256, input.as_bytes(), &d(RFC7515_A2_SIG)).unwrap();
    }

    #[test]
    fn rfc7515_a3_es256_example_verifies() {
        let input = alloc::format!("eyJhbGciOiJFUzI1NiJ9.{RFC7515_PAYLOAD}");
        a3_jwk().verify(Alg::ES256, input.as_bytes(), &d(RFC7515_A3_SIG)).unwrap();
    }

    #[test]
    fn rfc7515_a4_es512_example_verifies() {
        let jwk = Jwk::from_value(&json!({"kty": "EC", "crv": "P-521", "x": RFC7515_A4_X, "y": RFC7515_A4_Y})).unwrap();
        jwk.verify(Alg::ES512, RFC7515_A4_INPUT.as_bytes(), &d(RFC7515_A4_SIG)).unwrap();
    }

    #[test]
    fn rfc7515_examples_fail_on_a_changed_input() {
        let input = alloc::format!("eyJhbGciOiJFUzI1NiJ9.{RFC7515_PAYLOAD}x");
        let err = a3_jwk().verify(Alg::ES256, input.as_bytes(), &d(RFC7515_A3_SIG)).unwrap_err();
        assert_eq!(err.kind, ProblemType::Malformed);
        assert_eq!(err.detail, "JWS signature verification failed");
        let err = a2_jwk().verify(Alg::RS256, input.as_bytes(), &d(RFC7515_A2_SIG)).unwrap_err();
        assert_eq!(err.kind, ProblemType::Malformed);
    }

    #[test]
    fn rfc7638_thumbprint_example() {
        let jwk =
            Jwk::from_value(&json!({"kty": "RSA", "n": RFC7638_N, "e": "AQAB", "alg": "RS256", "kid": "2011-04-29"}))
                .unwrap();
        assert_eq!(jwk.thumbprint(), RFC7638_THUMBPRINT);
        assert_eq!(b64::encode(&jwk.thumbprint_bytes()), RFC7638_THUMBPRINT);
    }

    #[test]
    fn rfc8037_a3_ed25519_thumbprint() {
        let jwk = rfc8037_jwk();
        assert_eq!(jwk.thumbprint(), RFC8037_THUMBPRINT);
        assert_eq!(
            jwk.thumbprint_input(),
            alloc::format!("{{\"crv\":\"Ed25519\",\"kty\":\"OKP\",\"x\":\"{RFC8037_X}\"}}")
        );
    }

    #[test]
    fn rfc8037_a4_ed25519_signature_verifies() {
        rfc8037_jwk().verify(Alg::EdDSA, RFC8037_INPUT.as_bytes(), &d(RFC8037_SIG)).unwrap();
    }

    #[test]
    fn rfc8037_a1_private_key_gives_a2_public_key_and_reproduces_a4_signature() {
        let seed: [u8; 32] = d(RFC8037_D).try_into().unwrap();
        let key = crate::jose::SigningKey::Ed25519(ed25519_dalek::SigningKey::from_bytes(&seed));
        assert_eq!(key.public_jwk(), rfc8037_jwk());
        assert_eq!(b64::encode(&key.sign(RFC8037_INPUT.as_bytes())), RFC8037_SIG);
    }

    #[test]
    fn ec_thumbprint_input_is_sorted_and_compact() {
        assert_eq!(
            a3_jwk().thumbprint_input(),
            alloc::format!("{{\"crv\":\"P-256\",\"kty\":\"EC\",\"x\":\"{RFC7515_A3_X}\",\"y\":\"{RFC7515_A3_Y}\"}}")
        );
    }

    #[test]
    fn to_value_keeps_only_required_public_members_and_round_trips() {
        let with_extras = json!({"kty": "RSA", "n": RFC7638_N, "e": "AQAB", "alg": "RS256", "kid": "k", "use": "sig"});
        let jwk = Jwk::from_value(&with_extras).unwrap();
        assert_eq!(jwk.to_value(), json!({"kty": "RSA", "n": RFC7638_N, "e": "AQAB"}));
        for jwk in [a3_jwk(), a2_jwk(), rfc8037_jwk()] {
            assert_eq!(Jwk::from_value(&jwk.to_value()).unwrap(), jwk);
        }
    }

    #[test]
    fn pyca_ps256_signature_verifies() {
        let jwk = Jwk::from_value(&json!({"kty": "RSA", "n": PY_RSA_N, "e": "AQAB"})).unwrap();
        jwk.verify(Alg::PS256, PY_PS256_INPUT, &d(PY_PS256_SIG)).unwrap();
        // A PSS signature is not a PKCS#1 v1.5 one.
        assert_eq!(jwk.verify(Alg::RS256, PY_PS256_INPUT, &d(PY_PS256_SIG)).unwrap_err().kind, ProblemType::Malformed);
    }

    #[test]
    fn pyca_es384_signature_verifies_but_its_der_form_is_refused() {
        let jwk = Jwk::from_value(&json!({"kty": "EC", "crv": "P-384", "x": PY_P384_X, "y": PY_P384_Y})).unwrap();
        jwk.verify(Alg::ES384, PY_PS256_INPUT, &d(PY_ES384_SIG)).unwrap();
        let err = jwk.verify(Alg::ES384, PY_PS256_INPUT, &d(PY_ES384_DER_SIG)).unwrap_err();
        assert_eq!(err.kind, ProblemType::Malformed);
        assert!(err.detail.contains("not DER"), "{}", err.detail);
    }

    #[test]
    fn high_s_ecdsa_signatures_are_accepted() {
        let key = key(KeyKind::P256, 1);
        let jwk = key.public_jwk();
        let input = b"high-s";
        let sig = p256::ecdsa::Signature::from_slice(&key.sign(input)).unwrap();
        let low = sig.normalize_s();
        let (r, s) = low.split_scalars();
        let high = p256::ecdsa::Signature::from_scalars(r.to_bytes(), (-*s).to_bytes()).unwrap();
        assert_ne!(low, high);
        jwk.verify(Alg::ES256, input, &low.to_bytes()).unwrap();
        jwk.verify(Alg::ES256, input, &high.to_bytes()).unwrap();
    }

    #[test]
    fn out_of_range_ecdsa_scalars_are_malformed() {
        let jwk = a3_jwk();
        let input = alloc::format!("eyJhbGciOiJFUzI1NiJ9.{RFC7515_PAYLOAD}");
        let good = d(RFC7515_A3_SIG);
        let n = hex("ffffffff00000000ffffffffffffffffbce6faada7179e84f3b9cac2fc632551");
        let cases: [(&str, Vec<u8>); 4] = [
            ("r = 0", [&[0u8; 32][..], &good[32..]].concat()),
            ("s = 0", [&good[..32], &[0u8; 32][..]].concat()),
            ("s = n", [&good[..32], &n[..]].concat()),
            ("r = 2^256 - 1", [&[0xffu8; 32][..], &good[32..]].concat()),
        ];
        for (name, sig) in cases {
            let err = jwk.verify(Alg::ES256, input.as_bytes(), &sig).unwrap_err();
            assert_eq!(err.kind, ProblemType::Malformed, "{name}");
            assert!(err.detail.contains("out of range"), "{name}: {}", err.detail);
        }
    }

    #[test]
    fn alg_must_match_key_type_and_curve() {
        let p384 = key(KeyKind::P384, 2).public_jwk();
        let pairs = [
            (a3_jwk(), Alg::ES384),
            (a3_jwk(), Alg::RS256),
            (p384.clone(), Alg::ES256),
            (p384, Alg::ES512),
            (a2_jwk(), Alg::ES256),
            (a2_jwk(), Alg::EdDSA),
            (rfc8037_jwk(), Alg::ES256),
            (a3_jwk(), Alg::HS256),
        ];
        for (jwk, alg) in pairs {
            let err = jwk.verify(alg, b"x", &[0; 64]).unwrap_err();
            assert_eq!(err.kind, ProblemType::BadSignatureAlgorithm, "{alg:?} with {}", jwk.key_type_name());
            assert_eq!(err.algorithms.as_deref().unwrap().len(), crate::jose::SUPPORTED_ACCOUNT_ALGS.len());
        }
        assert!(a2_jwk().accepts_alg(Alg::PS256));
    }

    #[test]
    fn key_policy_violations_have_exact_problem_types() {
        use ProblemType::{BadPublicKey, Malformed};
        let n1024 = b64::encode(&[0xc5; 128]);
        let n_leading_zero = b64::encode(&[&[0u8][..], &d(RFC7515_A2_N)[..]].concat());
        let n_9000 = b64::encode(&[0xc5; 1125]);
        let cases = [
            ("not an object", json!("EC"), Malformed),
            ("no kty", json!({"crv": "P-256", "x": RFC7515_A3_X, "y": RFC7515_A3_Y}), Malformed),
            ("kty not a string", json!({"kty": 1}), Malformed),
            ("missing y", json!({"kty": "EC", "crv": "P-256", "x": RFC7515_A3_X}), Malformed),
            ("x not base64url", json!({"kty": "EC", "crv": "P-256", "x": "f83O+3D2", "y": RFC7515_A3_Y}), Malformed),
            ("x padded", json!({"kty": "EC", "crv": "P-256", "x": "AA==", "y": RFC7515_A3_Y}), Malformed),
            (
                "private d",
                json!({"kty": "EC", "crv": "P-256", "x": RFC7515_A3_X, "y": RFC7515_A3_Y, "d": "jpsQnnGQmL-YBIffH1136cspYG6-0iY7X1fCE9-E9LI"}),
                BadPublicKey,
            ),
            ("private p", json!({"kty": "RSA", "n": RFC7515_A2_N, "e": "AQAB", "p": "AQAB"}), BadPublicKey),
            ("oct key", json!({"kty": "oct", "k": "AyM1SysPpbyDfgZld3umj1qzKObwVMkoqQ-EstJQLr"}), BadPublicKey),
            ("unknown kty", json!({"kty": "DSA"}), BadPublicKey),
            ("secp256k1", json!({"kty": "EC", "crv": "secp256k1", "x": RFC7515_A3_X, "y": RFC7515_A3_Y}), BadPublicKey),
            ("X25519", json!({"kty": "OKP", "crv": "X25519", "x": RFC8037_X}), BadPublicKey),
            ("Ed448", json!({"kty": "OKP", "crv": "Ed448", "x": RFC8037_X}), BadPublicKey),
            (
                "x short",
                json!({"kty": "EC", "crv": "P-256", "x": b64::encode(&d(RFC7515_A3_X)[1..]), "y": RFC7515_A3_Y}),
                BadPublicKey,
            ),
            (
                "P-384 with P-256 sizes",
                json!({"kty": "EC", "crv": "P-384", "x": RFC7515_A3_X, "y": RFC7515_A3_Y}),
                BadPublicKey,
            ),
            ("not on curve", json!({"kty": "EC", "crv": "P-256", "x": RFC7515_A3_X, "y": RFC7515_A3_X}), BadPublicKey),
            ("ed25519 short", json!({"kty": "OKP", "crv": "Ed25519", "x": "AQAB"}), BadPublicKey),
            (
                "ed25519 small order",
                json!({"kty": "OKP", "crv": "Ed25519", "x": b64::encode(&[&[1u8][..], &[0u8; 31][..]].concat())}),
                BadPublicKey,
            ),
            ("rsa 1024", json!({"kty": "RSA", "n": n1024, "e": "AQAB"}), BadPublicKey),
            ("rsa 9000", json!({"kty": "RSA", "n": n_9000, "e": "AQAB"}), BadPublicKey),
            ("rsa e=3", json!({"kty": "RSA", "n": RFC7515_A2_N, "e": "Aw"}), BadPublicKey),
            ("rsa e with leading zero", json!({"kty": "RSA", "n": RFC7515_A2_N, "e": "AAEAAQ"}), BadPublicKey),
            ("rsa n with leading zero", json!({"kty": "RSA", "n": n_leading_zero, "e": "AQAB"}), BadPublicKey),
            ("rsa n even", json!({"kty": "RSA", "n": b64::encode(&[0xc4; 256]), "e": "AQAB"}), BadPublicKey),
            ("rsa missing e", json!({"kty": "RSA", "n": RFC7515_A2_N}), Malformed),
        ];
        for (name, v, want) in cases {
            assert_eq!(kind(Jwk::from_value(&v)), want, "{name}");
        }
    }

    #[test]
    fn spki_matches_pyca_and_round_trips() {
        assert_eq!(a3_jwk().to_spki_der(), d(PY_A3_SPKI));
        assert_eq!(rfc8037_jwk().to_spki_der(), d(PY_ED25519_SPKI));
        assert_eq!(Jwk::from_spki_der(&d(PY_A3_SPKI)).unwrap(), a3_jwk());
        assert_eq!(Jwk::from_spki_der(&d(PY_ED25519_SPKI)).unwrap(), rfc8037_jwk());
        let keys =
            [a2_jwk(), key(KeyKind::P384, 3).public_jwk(), key(KeyKind::P521, 4).public_jwk(), rsa().public_jwk()];
        for jwk in keys {
            assert_eq!(Jwk::from_spki_der(&jwk.to_spki_der()).unwrap(), jwk, "{}", jwk.key_type_name());
        }
    }

    #[test]
    fn spki_that_is_not_an_acceptable_key_is_bad_public_key() {
        assert_eq!(kind(Jwk::from_spki_der(b"not der")), ProblemType::BadPublicKey);
        let mut truncated = d(PY_A3_SPKI);
        truncated.pop();
        assert_eq!(kind(Jwk::from_spki_der(&truncated)), ProblemType::BadPublicKey);
    }

    #[test]
    fn equality_compares_key_material() {
        assert_eq!(a3_jwk(), a3_jwk());
        assert_ne!(a3_jwk(), key(KeyKind::P256, 5).public_jwk());
        assert_ne!(a2_jwk(), rsa().public_jwk());
        let dbg = alloc::format!("{:?}", rfc8037_jwk());
        assert!(dbg.contains("Ed25519") && dbg.contains(RFC8037_THUMBPRINT), "{dbg}");
    }
}
