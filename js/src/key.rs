//! Private keys as JavaScript holds them: a [`PrivateKey`] handle over core's
//! [`SigningKey`], with generation from `crypto.getRandomValues`, import from the
//! formats other tools write (PKCS#8, SEC1 and PKCS#1 PEM, private JWKs as WebCrypto
//! exports them) and export to PKCS#8 and JWK.
//!
//! Every import ends in [`SigningKey::from_pkcs8_der`], so a key is accepted here exactly
//! when core (and so the server) accepts its public half: RSA 2048..=8192 bits with
//! e = 65537, EC on P-256/P-384/P-521, Ed25519.

use der::Decode;
use edge_acme_core::b64;
use edge_acme_core::jose::{KeyKind, SigningKey};
use edge_acme_core::Problem;
use rsa::pkcs1::{DecodeRsaPrivateKey, EncodeRsaPrivateKey, RsaPrivateKeyRef, UintRef};
use serde_json::{Map, Value};
use wasm_bindgen::prelude::*;

/// A private key for account JWS signatures and CSRs. Free it with `free()` when done,
/// or let the garbage collector do it where FinalizationRegistry exists.
#[wasm_bindgen]
pub struct PrivateKey {
    inner: SigningKey,
}

impl std::fmt::Debug for PrivateKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Core's Debug prints the public key only.
        self.inner.fmt(f)
    }
}

/// PrivateKeyInfo v1 for Ed25519 up to the 32-byte seed: SEQUENCE { INTEGER 0,
/// SEQUENCE { OID 1.3.101.112 }, OCTET STRING { OCTET STRING (32 bytes) } }.
const ED25519_PKCS8_V1_PREFIX: [u8; 16] =
    [0x30, 0x2e, 0x02, 0x01, 0x00, 0x30, 0x05, 0x06, 0x03, 0x2b, 0x65, 0x70, 0x04, 0x22, 0x04, 0x20];

/// The key kind names the API uses, as WebCrypto spells curve names.
fn kind_name(k: &SigningKey) -> &'static str {
    match k {
        SigningKey::P256(_) => "P-256",
        SigningKey::P384(_) => "P-384",
        SigningKey::P521(_) => "P-521",
        SigningKey::Ed25519(_) => "Ed25519",
        SigningKey::Rsa(_) => "RSA",
    }
}

fn b64_member(obj: &Map<String, Value>, name: &str) -> Result<Vec<u8>, Problem> {
    match obj.get(name) {
        Some(Value::String(s)) => b64::decode(s).map_err(|e| Problem::malformed(format!("JWK member \"{name}\": {e}"))),
        Some(_) => Err(Problem::malformed(format!("JWK member \"{name}\" must be a string"))),
        None => Err(Problem::malformed(format!("private JWK is missing \"{name}\""))),
    }
}

fn str_member<'a>(obj: &'a Map<String, Value>, name: &str) -> &'a str {
    obj.get(name).and_then(Value::as_str).unwrap_or("")
}

fn bad_key(detail: &str) -> Problem {
    Problem::bad_public_key(detail)
}

impl PrivateKey {
    /// The core signing key.
    pub fn inner(&self) -> &SigningKey {
        &self.inner
    }

    /// Wraps a core key after the import policy check (see the module docs).
    pub fn from_signing_key(key: SigningKey) -> Result<PrivateKey, Problem> {
        // Round-tripping through PKCS#8 runs core's import checks on the public half.
        let inner = SigningKey::from_pkcs8_der(&key.to_pkcs8_der())?;
        Ok(PrivateKey { inner })
    }

    /// Generates a key of `kind` ("P-256", "P-384", "P-521" or "Ed25519").
    pub fn generate(kind: &str) -> Result<PrivateKey, Problem> {
        let kind = match kind {
            "P-256" | "ES256" => KeyKind::P256,
            "P-384" | "ES384" => KeyKind::P384,
            "P-521" | "ES512" => KeyKind::P521,
            "Ed25519" | "EdDSA" => KeyKind::Ed25519,
            other => {
                return Err(Problem::malformed(format!(
                    "cannot generate a {other:?} key: use P-256, P-384, P-521 or Ed25519 (RSA keys can be imported)"
                )))
            }
        };
        let mut failed = false;
        let key = SigningKey::from_random_bytes(kind, &mut |b: &mut [u8]| {
            if getrandom::fill(b).is_err() {
                failed = true;
            }
        });
        if failed {
            return Err(Problem::server_internal("no secure random source: crypto.getRandomValues is unavailable"));
        }
        Ok(PrivateKey { inner: key? })
    }

    /// Imports PKCS#8 DER.
    pub fn from_pkcs8_der(der: &[u8]) -> Result<PrivateKey, Problem> {
        Ok(PrivateKey { inner: SigningKey::from_pkcs8_der(der)? })
    }

    /// Imports the first private key block of a PEM text: `PRIVATE KEY` (PKCS#8),
    /// `EC PRIVATE KEY` (SEC1, as `openssl ecparam -genkey` writes it, possibly after an
    /// `EC PARAMETERS` block) or `RSA PRIVATE KEY` (PKCS#1).
    pub fn from_pem(pem: &str) -> Result<PrivateKey, Problem> {
        for (label, der) in pem_blocks(pem) {
            match label.as_str() {
                "PRIVATE KEY" => return Self::from_pkcs8_der(&der),
                "EC PRIVATE KEY" => return Self::from_sec1_der(&der),
                "RSA PRIVATE KEY" => {
                    let k = rsa::PrivateKey::from_pkcs1_der(&der)
                        .map_err(|e| Problem::malformed(format!("RSA PRIVATE KEY: {e}")))?;
                    return Self::from_signing_key(SigningKey::Rsa(k));
                }
                "ENCRYPTED PRIVATE KEY" => {
                    return Err(Problem::malformed(
                        "encrypted PKCS#8 keys are not supported: decrypt first (openssl pkcs8 -in key.pem)",
                    ))
                }
                _ => {}
            }
        }
        Err(Problem::malformed("no PEM PRIVATE KEY, EC PRIVATE KEY or RSA PRIVATE KEY block found"))
    }

    fn from_sec1_der(der: &[u8]) -> Result<PrivateKey, Problem> {
        let key = if let Ok(k) = p256::SecretKey::from_sec1_der(der) {
            SigningKey::P256(k.into())
        } else if let Ok(k) = p384::SecretKey::from_sec1_der(der) {
            SigningKey::P384(k.into())
        } else {
            return Err(Problem::malformed("EC PRIVATE KEY is not a P-256 or P-384 SEC1 key"));
        };
        Self::from_signing_key(key)
    }

    /// Imports a private JWK: EC (P-256/P-384/P-521) or OKP (Ed25519) with `d`, or RSA
    /// with `n`, `e`, `d`, `p`, `q`, `dp`, `dq` and `qi` (what WebCrypto exports). Public
    /// members that are present must match the private key.
    pub fn from_jwk(v: &Value) -> Result<PrivateKey, Problem> {
        let obj = v.as_object().ok_or_else(|| Problem::malformed("a JWK must be a JSON object"))?;
        let key = match (str_member(obj, "kty"), str_member(obj, "crv")) {
            ("EC", crv) => {
                let d = b64_member(obj, "d")?;
                let k = match crv {
                    "P-256" => p256::ecdsa::SigningKey::from_slice(&d).ok().map(SigningKey::P256),
                    "P-384" => p384::ecdsa::SigningKey::from_slice(&d).ok().map(SigningKey::P384),
                    "P-521" => p521::ecdsa::SigningKey::from_slice(&d).ok().map(SigningKey::P521),
                    other => return Err(bad_key(&format!("EC curve {other:?} is not P-256, P-384 or P-521"))),
                };
                k.ok_or_else(|| bad_key("EC private scalar \"d\" is out of range"))?
            }
            ("OKP", "Ed25519") => {
                let d: [u8; 32] = b64_member(obj, "d")?
                    .try_into()
                    .map_err(|_| bad_key("Ed25519 private key \"d\" must be 32 bytes"))?;
                SigningKey::Ed25519(ed25519_dalek::SigningKey::from_bytes(&d))
            }
            ("OKP", other) => return Err(bad_key(&format!("OKP curve {other:?} is not Ed25519"))),
            ("RSA", _) => {
                let parts = ["n", "e", "d", "p", "q", "dp", "dq", "qi"];
                let mut bytes = Vec::with_capacity(parts.len());
                for p in parts {
                    bytes.push(b64_member(obj, p).map_err(|_| {
                        Problem::malformed(format!(
                            "RSA private JWK needs n, e, d, p, q, dp, dq and qi; \"{p}\" is missing or not base64url"
                        ))
                    })?);
                }
                let u = |i: usize| {
                    UintRef::new(&bytes[i]).map_err(|e| Problem::malformed(format!("RSA JWK \"{}\": {e}", parts[i])))
                };
                let pkcs1 = RsaPrivateKeyRef {
                    modulus: u(0)?,
                    public_exponent: u(1)?,
                    private_exponent: u(2)?,
                    prime1: u(3)?,
                    prime2: u(4)?,
                    exponent1: u(5)?,
                    exponent2: u(6)?,
                    coefficient: u(7)?,
                    other_prime_infos: None,
                };
                let k = rsa::PrivateKey::try_from(pkcs1)
                    .map_err(|e| bad_key(&format!("RSA private key is not consistent: {e}")))?;
                SigningKey::Rsa(k)
            }
            (kty, _) => return Err(bad_key(&format!("JWK kty {kty:?} is not EC, OKP or RSA"))),
        };
        let key = Self::from_signing_key(key)?;
        // Any public member given must be the one the private key implies.
        let public = key.inner.public_jwk().to_value();
        for (name, expected) in public.as_object().into_iter().flatten() {
            if let Some(given) = obj.get(name) {
                if given != expected {
                    return Err(bad_key(&format!("JWK member \"{name}\" does not match the private key")));
                }
            }
        }
        Ok(key)
    }

    /// The JWK of this key: public members only, or with the private ones when `private`.
    pub fn jwk_value(&self, private: bool) -> Value {
        let mut v = self.inner.public_jwk().to_value();
        if !private {
            return v;
        }
        let obj = v.as_object_mut().expect("a JWK is an object");
        let mut put = |name: &str, bytes: &[u8]| {
            obj.insert(name.into(), Value::String(b64::encode(bytes)));
        };
        match &self.inner {
            SigningKey::P256(k) => put("d", &k.to_bytes()),
            SigningKey::P384(k) => put("d", &k.to_bytes()),
            SigningKey::P521(k) => put("d", &k.to_bytes()),
            SigningKey::Ed25519(k) => put("d", k.as_bytes()),
            SigningKey::Rsa(k) => {
                let doc = k.to_pkcs1_der().expect("PKCS#1 encoding of a valid RSA key");
                let p = RsaPrivateKeyRef::from_der(doc.as_bytes()).expect("PKCS#1 we just encoded");
                put("d", p.private_exponent.as_bytes());
                put("p", p.prime1.as_bytes());
                put("q", p.prime2.as_bytes());
                put("dp", p.exponent1.as_bytes());
                put("dq", p.exponent2.as_bytes());
                put("qi", p.coefficient.as_bytes());
            }
        }
        v
    }

    /// PKCS#8 DER. Ed25519 keys are written as version 1 without the public key (the
    /// RFC 8410 §7 form OpenSSL writes): Chromium's WebCrypto refuses the version 2
    /// (OneAsymmetricKey) encoding that ed25519-dalek, and so core, produces.
    pub fn pkcs8_der(&self) -> Vec<u8> {
        match &self.inner {
            SigningKey::Ed25519(k) => {
                let mut der = ED25519_PKCS8_V1_PREFIX.to_vec();
                der.extend_from_slice(k.as_bytes());
                der
            }
            other => other.to_pkcs8_der(),
        }
    }

    /// PKCS#8 PEM (`-----BEGIN PRIVATE KEY-----`, LF line endings).
    pub fn pkcs8_pem(&self) -> String {
        der::pem::encode_string("PRIVATE KEY", der::pem::LineEnding::LF, &self.pkcs8_der())
            .expect("PEM encoding with a fixed label")
    }
}

/// The `(label, der)` of every well-formed PEM block in `text`, in order.
pub fn pem_blocks(text: &str) -> Vec<(String, Vec<u8>)> {
    const BEGIN: &str = "-----BEGIN ";
    const END: &str = "-----END ";
    let mut out = Vec::new();
    let mut rest = text;
    while let Some(start) = rest.find(BEGIN) {
        let block = &rest[start..];
        let end = match block.find(END) {
            Some(e) => block[e..].find('\n').map_or(block.len(), |nl| e + nl + 1),
            None => block.len(),
        };
        if let Ok((label, der)) = der::pem::decode_vec(block[..end].trim_end().as_bytes()) {
            out.push((label.to_string(), der));
        }
        rest = &block[end..];
    }
    out
}

#[wasm_bindgen]
impl PrivateKey {
    /// "P-256", "P-384", "P-521", "Ed25519" or "RSA".
    #[wasm_bindgen(getter)]
    pub fn kind(&self) -> String {
        kind_name(&self.inner).into()
    }

    /// The JWS algorithm this key signs with (ES256, ES384, ES512, EdDSA, RS256).
    #[wasm_bindgen(getter)]
    pub fn alg(&self) -> String {
        self.inner.alg().name().into()
    }

    /// The public JWK (required members only, as RFC 7638 orders them).
    #[wasm_bindgen(js_name = publicJwk)]
    pub fn public_jwk(&self) -> JsValue {
        crate::to_object(&self.jwk_value(false))
    }

    /// The private JWK, importable by WebCrypto (`crypto.subtle.importKey("jwk", ...)`).
    #[wasm_bindgen(js_name = privateJwk)]
    pub fn private_jwk(&self) -> JsValue {
        crate::to_object(&self.jwk_value(true))
    }

    /// The RFC 7638 thumbprint of the public key.
    pub fn thumbprint(&self) -> String {
        self.inner.public_jwk().thumbprint()
    }

    /// PKCS#8 PEM.
    #[wasm_bindgen(js_name = toPkcs8Pem)]
    pub fn to_pkcs8_pem(&self) -> String {
        self.pkcs8_pem()
    }

    /// PKCS#8 DER.
    #[wasm_bindgen(js_name = toPkcs8Der)]
    pub fn to_pkcs8_der(&self) -> Vec<u8> {
        self.pkcs8_der()
    }

    /// The DER SubjectPublicKeyInfo of the public key.
    #[wasm_bindgen(js_name = toSpkiDer)]
    pub fn to_spki_der(&self) -> Vec<u8> {
        self.inner.public_jwk().to_spki_der()
    }

    /// Signs raw bytes as JWS does (ECDSA `r || s`, Ed25519, RS256 PKCS#1 v1.5).
    pub fn sign(&self, data: &[u8]) -> Vec<u8> {
        self.inner.sign(data)
    }

    /// A copy of this key (handles are freed independently).
    #[wasm_bindgen(js_name = clone)]
    pub fn clone_key(&self) -> PrivateKey {
        PrivateKey { inner: self.inner.clone() }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn all_kinds() -> Vec<PrivateKey> {
        ["P-256", "P-384", "P-521", "Ed25519"].iter().map(|k| PrivateKey::generate(k).unwrap()).collect()
    }

    #[test]
    fn private_jwk_round_trips_for_every_generated_kind() {
        for k in all_kinds() {
            let jwk = k.jwk_value(true);
            let back = PrivateKey::from_jwk(&jwk).unwrap();
            assert_eq!(back.inner.to_pkcs8_der(), k.inner.to_pkcs8_der(), "{}", k.kind());
        }
    }

    #[test]
    fn pkcs8_pem_round_trips_and_unknown_blocks_are_skipped() {
        for k in all_kinds() {
            let pem = format!(
                "junk\n-----BEGIN EC PARAMETERS-----\nBggqhkjOPQMBBw==\n-----END EC PARAMETERS-----\n{}",
                k.pkcs8_pem()
            );
            let back = PrivateKey::from_pem(&pem).unwrap();
            assert_eq!(back.thumbprint(), k.thumbprint());
        }
        assert_eq!(PrivateKey::from_pem("nothing").err().unwrap().kind, edge_acme_core::ProblemType::Malformed);
    }

    #[test]
    fn ed25519_pkcs8_is_version_1_and_reads_back() {
        let k = PrivateKey::generate("Ed25519").unwrap();
        let der = k.pkcs8_der();
        assert_eq!(der.len(), 48);
        let info = pkcs8::PrivateKeyInfoRef::from_der(&der).unwrap();
        assert!(info.public_key.is_none());
        assert_eq!(PrivateKey::from_pkcs8_der(&der).unwrap().thumbprint(), k.thumbprint());
    }

    #[test]
    fn rsa_private_jwk_round_trips_through_pkcs1_components() {
        let der = include_bytes!("../../core/src/testdata/rsa2048.pk8.der");
        let k = PrivateKey::from_pkcs8_der(der).unwrap();
        let jwk = k.jwk_value(true);
        for m in ["n", "e", "d", "p", "q", "dp", "dq", "qi"] {
            assert!(jwk.get(m).is_some(), "{m}");
        }
        let back = PrivateKey::from_jwk(&jwk).unwrap();
        assert_eq!(back.inner.to_pkcs8_der(), k.inner.to_pkcs8_der());
        let mut missing = jwk.clone();
        missing.as_object_mut().unwrap().remove("qi");
        assert!(PrivateKey::from_jwk(&missing).is_err());
    }

    #[test]
    fn jwk_with_a_foreign_public_half_is_refused() {
        let a = PrivateKey::generate("P-256").unwrap().jwk_value(true);
        let b = PrivateKey::generate("P-256").unwrap().jwk_value(true);
        let mut mixed = a.clone();
        mixed["x"] = b["x"].clone();
        assert_eq!(PrivateKey::from_jwk(&mixed).err().unwrap().kind, edge_acme_core::ProblemType::BadPublicKey);
    }

    #[test]
    fn rsa_generation_is_refused_with_a_hint() {
        let err = PrivateKey::generate("RSA").err().unwrap();
        assert!(err.detail.contains("imported"), "{}", err.detail);
    }
}
