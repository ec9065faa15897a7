//! RFC 8555 §6.2 flattened JWS parsing.

use alloc::format;
use alloc::string::String;
use alloc::vec::Vec;
use serde_json::{Map, Value};

use super::{from_slice_strict, unsupported_alg, Alg, Jwk, SUPPORTED_MAC_ALGS};
use crate::b64;
use crate::problem::Problem;

/// Largest request body accepted as a JWS; larger bodies are `malformed`.
pub const MAX_JWS_BYTES: usize = 64 * 1024;

/// How the signer names its key: an embedded JWK or an account URL / EAB key id.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum KeyRef {
    /// `jwk`: the public key itself (newAccount, revokeCert by certificate key, keyChange inner).
    Jwk(Jwk),
    /// `kid`: the account URL, or the EAB key identifier in an external account binding.
    Kid(String),
}

/// The protected header parameters ACME uses (RFC 8555 §6.2).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ProtectedHeader {
    /// The signature algorithm.
    pub alg: Alg,
    /// The anti-replay nonce; optional here, the server pipeline requires it.
    pub nonce: Option<String>,
    /// The URL the request was sent to.
    pub url: String,
    /// The signer's key, embedded or by reference.
    pub key: KeyRef,
}

/// A parsed, not yet verified, flattened JWS.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Jws {
    /// The decoded protected header.
    pub header: ProtectedHeader,
    protected_b64: String,
    payload_b64: String,
    payload: Vec<u8>,
    signature: Vec<u8>,
}

/// Which family of algorithms a JWS may use.
#[derive(Clone, Copy, PartialEq, Eq)]
enum AlgClass {
    /// Account requests: the public-key algorithms of `SUPPORTED_ACCOUNT_ALGS`.
    Account,
    /// External account binding: HMAC only, `kid` only.
    Mac,
}

/// Parses a request body as an RFC 8555 flattened JWS signed with an account key.
pub fn parse_flattened(body: &[u8]) -> Result<Jws, Problem> {
    if body.len() > MAX_JWS_BYTES {
        return Err(Problem::malformed(format!("request body exceeds {MAX_JWS_BYTES} bytes")));
    }
    if body.iter().all(u8::is_ascii_whitespace) {
        return Err(Problem::malformed("request body is empty; ACME requests are flattened JWS objects"));
    }
    let value = from_slice_strict(body).map_err(|e| {
        if body.starts_with(b"eyJ") {
            Problem::malformed("JWS compact serialization is not accepted; use flattened JSON (RFC 8555 §6.2)")
        } else {
            Problem::malformed(format!("request body is not a valid JSON JWS: {e}"))
        }
    })?;
    Jws::parse(&value, AlgClass::Account)
}

fn part<'a>(obj: &'a Map<String, Value>, name: &str) -> Result<&'a str, Problem> {
    match obj.get(name) {
        Some(Value::String(s)) => Ok(s),
        Some(_) => Err(Problem::malformed(format!("JWS member \"{name}\" must be a string"))),
        None => Err(Problem::malformed(format!("JWS is missing the \"{name}\" member"))),
    }
}

fn decode_part(name: &str, s: &str) -> Result<Vec<u8>, Problem> {
    b64::decode(s).map_err(|e| Problem::malformed(format!("JWS \"{name}\": {e}")))
}

fn header_string(h: &Map<String, Value>, name: &str) -> Result<Option<String>, Problem> {
    match h.get(name) {
        None => Ok(None),
        Some(Value::String(s)) => Ok(Some(s.clone())),
        Some(_) => Err(Problem::malformed(format!("protected header \"{name}\" must be a string"))),
    }
}

impl Jws {
    /// Reads an already parsed JSON value as a flattened JWS signed with an account key.
    ///
    /// Use this for JWS objects nested in a payload (the keyChange inner JWS); the
    /// payload was parsed by [`Jws::payload_json`], which already refused duplicates.
    pub fn from_value(value: &Value) -> Result<Jws, Problem> {
        Jws::parse(value, AlgClass::Account)
    }

    /// Reads a flattened JWS MACed with HS256/384/512 and naming its key with `kid`.
    ///
    /// This is the external account binding entry point ([`crate::eab`] adds the
    /// binding's own rules). Any other `alg` is `malformed`, not `badSignatureAlgorithm`:
    /// that type's `algorithms` list tells a client which *account key* algorithms to
    /// re-sign with, which is not the fix for a binding's MAC algorithm.
    pub fn from_value_mac(value: &Value) -> Result<Jws, Problem> {
        Jws::parse(value, AlgClass::Mac)
    }

    fn parse(value: &Value, class: AlgClass) -> Result<Jws, Problem> {
        let obj = match value {
            Value::Object(o) => o,
            _ => return Err(Problem::malformed("JWS must be a JSON object in flattened serialization")),
        };
        for k in obj.keys() {
            match k.as_str() {
                "protected" | "payload" | "signature" => {}
                "header" => return Err(Problem::malformed("unprotected JWS header is not allowed (RFC 8555 §6.2)")),
                "signatures" => {
                    return Err(Problem::malformed("JWS general serialization is not accepted; use flattened"))
                }
                other => return Err(Problem::malformed(format!("unexpected JWS member {other:?}"))),
            }
        }
        let protected_b64 = part(obj, "protected")?;
        let payload_b64 = part(obj, "payload")?;
        let signature_b64 = part(obj, "signature")?;
        let protected = decode_part("protected", protected_b64)?;
        let payload = decode_part("payload", payload_b64)?;
        let signature = decode_part("signature", signature_b64)?;

        let header = from_slice_strict(&protected)
            .map_err(|e| Problem::malformed(format!("JWS protected header is not valid JSON: {e}")))?;
        let header =
            header.as_object().ok_or_else(|| Problem::malformed("JWS protected header must be a JSON object"))?;
        let header = parse_header(header, class)?;

        Ok(Jws { header, protected_b64: protected_b64.into(), payload_b64: payload_b64.into(), payload, signature })
    }

    /// The decoded payload; empty for POST-as-GET.
    pub fn payload_bytes(&self) -> &[u8] {
        &self.payload
    }

    /// The payload as JSON: `None` for POST-as-GET (empty payload); duplicates or non-JSON are `malformed`.
    pub fn payload_json(&self) -> Result<Option<Value>, Problem> {
        if self.payload.is_empty() {
            return Ok(None);
        }
        from_slice_strict(&self.payload)
            .map(Some)
            .map_err(|e| Problem::malformed(format!("JWS payload is not valid JSON: {e}")))
    }

    /// The decoded signature bytes.
    pub fn signature_bytes(&self) -> &[u8] {
        &self.signature
    }

    /// The `protected` member exactly as received.
    pub fn protected_b64(&self) -> &str {
        &self.protected_b64
    }

    /// The `payload` member exactly as received.
    pub fn payload_b64(&self) -> &str {
        &self.payload_b64
    }

    /// The JWS signing input: ASCII `protected` + `.` + `payload` (RFC 7515 §5.1).
    pub fn signing_input(&self) -> Vec<u8> {
        let mut v = Vec::with_capacity(self.protected_b64.len() + 1 + self.payload_b64.len());
        v.extend_from_slice(self.protected_b64.as_bytes());
        v.push(b'.');
        v.extend_from_slice(self.payload_b64.as_bytes());
        v
    }

    /// The embedded `jwk`, if the JWS has one.
    pub fn jwk(&self) -> Option<&Jwk> {
        match &self.header.key {
            KeyRef::Jwk(k) => Some(k),
            KeyRef::Kid(_) => None,
        }
    }

    /// The `kid`, if the JWS has one.
    pub fn kid(&self) -> Option<&str> {
        match &self.header.key {
            KeyRef::Kid(k) => Some(k),
            KeyRef::Jwk(_) => None,
        }
    }

    /// Verifies the signature with `key` (the embedded `jwk`, or the account's stored key).
    ///
    /// A signature that does not verify is `malformed` ("JWS signature verification
    /// failed"), as Boulder and Pebble answer; an `alg` the key cannot use is
    /// `badSignatureAlgorithm`.
    pub fn verify(&self, key: &Jwk) -> Result<(), Problem> {
        key.verify(self.header.alg, &self.signing_input(), &self.signature)
    }
}

fn parse_header(h: &Map<String, Value>, class: AlgClass) -> Result<ProtectedHeader, Problem> {
    // We understand no extension, so any `crit` must be refused (RFC 7515 §4.1.11).
    if h.contains_key("crit") {
        return Err(Problem::malformed("protected header \"crit\" is not supported"));
    }
    // RFC 7797 unencoded payloads change the signing input; ACME never uses them, and
    // even `b64: true` is refused because it is only meaningful alongside `crit`.
    if h.contains_key("b64") {
        return Err(Problem::malformed("protected header \"b64\" is not supported"));
    }

    let alg_name = match h.get("alg") {
        Some(Value::String(s)) => s.as_str(),
        Some(_) => return Err(Problem::malformed("protected header \"alg\" must be a string")),
        None => return Err(Problem::malformed("protected header is missing \"alg\"")),
    };
    let alg = match (class, Alg::from_name(alg_name)) {
        (AlgClass::Account, Some(a)) if !a.is_mac() => a,
        (AlgClass::Account, Some(a)) => {
            return Err(unsupported_alg(format!(
                "{} is a MAC algorithm; account requests need a public-key signature",
                a.name()
            )))
        }
        (AlgClass::Account, None) if alg_name == "none" => {
            return Err(unsupported_alg("unsigned JWS (alg \"none\") is never accepted"));
        }
        (AlgClass::Account, None) => {
            return Err(unsupported_alg(format!("unsupported JWS algorithm {alg_name:?}")));
        }
        (AlgClass::Mac, Some(a)) if a.is_mac() => a,
        (AlgClass::Mac, _) => {
            return Err(Problem::malformed(format!(
                "external account binding algorithm must be one of {}, got {alg_name:?}",
                SUPPORTED_MAC_ALGS.join(", ")
            )))
        }
    };

    let key = match (h.get("jwk"), h.get("kid")) {
        (Some(_), Some(_)) => {
            return Err(Problem::malformed("protected header must contain exactly one of \"jwk\" and \"kid\""))
        }
        (None, None) => {
            return Err(Problem::malformed("protected header must contain \"jwk\" or \"kid\""));
        }
        (Some(_), None) if class == AlgClass::Mac => {
            return Err(Problem::malformed("a MAC-protected JWS must name its key with \"kid\", not \"jwk\""));
        }
        (Some(jwk_value), None) => {
            let jwk = Jwk::from_value(jwk_value)?;
            if !jwk.accepts_alg(alg) {
                return Err(jwk.alg_mismatch(alg));
            }
            // A JWK may pin its algorithm (RFC 7517 §4.4); honour the pin.
            match jwk_value.get("alg") {
                None => {}
                Some(Value::String(pinned)) if pinned == alg.name() => {}
                Some(Value::String(pinned)) => {
                    return Err(unsupported_alg(format!(
                        "JWS alg {} differs from the JWK's own alg {pinned:?}",
                        alg.name()
                    )))
                }
                Some(_) => return Err(Problem::malformed("JWK member \"alg\" must be a string")),
            }
            KeyRef::Jwk(jwk)
        }
        (None, Some(Value::String(kid))) => KeyRef::Kid(kid.clone()),
        (None, Some(_)) => return Err(Problem::malformed("protected header \"kid\" must be a string")),
    };

    let url = header_string(h, "url")?.ok_or_else(|| Problem::malformed("protected header is missing \"url\""))?;
    let nonce = header_string(h, "nonce")?;
    Ok(ProtectedHeader { alg, nonce, url, key })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::jose::testutil::{key, rsa};
    use crate::jose::{KeyKind, SigningKey, SUPPORTED_ACCOUNT_ALGS};
    use crate::problem::ProblemType::{self, BadPublicKey, BadSignatureAlgorithm, Malformed};
    use alloc::vec;

    const URL: &str = "https://ca.example/acme/new-order";

    fn enc(s: &str) -> String {
        b64::encode(s.as_bytes())
    }

    /// The full server-side path a body goes through: parse, verify, read the payload.
    /// `kid` requests are verified with `account`, standing in for the stored key.
    fn check(body: &[u8], account: &Jwk) -> Result<Jws, Problem> {
        let jws = parse_flattened(body)?;
        let key = jws.jwk().cloned().unwrap_or_else(|| account.clone());
        jws.verify(&key)?;
        jws.payload_json()?;
        Ok(jws)
    }

    /// A flattened JWS body from raw parts, with `sig` computed by `key` unless given.
    fn body_with(protected: &str, payload: &str, key: &SigningKey, sig: Option<Vec<u8>>) -> Vec<u8> {
        let (p, pl) = (enc(protected), enc(payload));
        let sig = sig.unwrap_or_else(|| key.sign(alloc::format!("{p}.{pl}").as_bytes()));
        raw(&p, &pl, &b64::encode(&sig))
    }

    fn raw(protected_b64: &str, payload_b64: &str, sig_b64: &str) -> Vec<u8> {
        alloc::format!(r#"{{"protected":"{protected_b64}","payload":"{payload_b64}","signature":"{sig_b64}"}}"#)
            .into_bytes()
    }

    fn jwk_json(key: &SigningKey) -> String {
        serde_json::to_string(&key.public_jwk().to_value()).unwrap()
    }

    fn hdr(alg: &str, key_member: &str) -> String {
        alloc::format!(r#"{{"alg":"{alg}",{key_member},"nonce":"bm9uY2U","url":"{URL}"}}"#)
    }

    struct Fixture {
        es256: SigningKey,
        es384: SigningKey,
        ed: SigningKey,
        rsa: SigningKey,
    }

    fn fixture() -> Fixture {
        Fixture {
            es256: key(KeyKind::P256, 10),
            es384: key(KeyKind::P384, 11),
            ed: key(KeyKind::Ed25519, 12),
            rsa: rsa(),
        }
    }

    #[test]
    fn well_formed_requests_pass_the_whole_pipeline() {
        let f = fixture();
        let ec_jwk = alloc::format!(r#""jwk":{}"#, jwk_json(&f.es256));
        let jws = check(&body_with(&hdr("ES256", &ec_jwk), r#"{"a":1}"#, &f.es256, None), &f.ed.public_jwk()).unwrap();
        assert_eq!(jws.header.alg, Alg::ES256);
        assert_eq!(jws.header.nonce.as_deref(), Some("bm9uY2U"));
        assert_eq!(jws.header.url, URL);
        assert_eq!(jws.jwk(), Some(&f.es256.public_jwk()));
        let jws = check(&body_with(&hdr("EdDSA", r#""kid":"acct/1""#), "", &f.ed, None), &f.ed.public_jwk()).unwrap();
        assert_eq!(jws.kid(), Some("acct/1"));
        assert_eq!(jws.payload_json().unwrap(), None);
        // Nonce is optional at this layer (keyChange inner JWS, EAB); the engine requires it.
        let no_nonce = alloc::format!(r#"{{"alg":"ES256","kid":"a","url":"{URL}"}}"#);
        let jws = check(&body_with(&no_nonce, "{}", &f.es256, None), &f.es256.public_jwk()).unwrap();
        assert_eq!(jws.header.nonce, None);
        // Whitespace around the JSON is not "trailing data".
        let mut spaced = b" \n".to_vec();
        spaced.extend(body_with(&no_nonce, "{}", &f.es256, None));
        spaced.extend(b"\r\n");
        check(&spaced, &f.es256.public_jwk()).unwrap();
    }

    #[test]
    fn malformed_inputs_get_exact_problem_types() {
        let f = fixture();
        let account = f.es256.public_jwk();
        let ec = alloc::format!(r#""jwk":{}"#, jwk_json(&f.es256));
        let ec384 = alloc::format!(r#""jwk":{}"#, jwk_json(&f.es384));
        let rsa = alloc::format!(r#""jwk":{}"#, jwk_json(&f.rsa));
        let ed = alloc::format!(r#""jwk":{}"#, jwk_json(&f.ed));
        let ecv = f.es256.public_jwk().to_value();
        let (x, y) = (ecv["x"].as_str().unwrap(), ecv["y"].as_str().unwrap());
        let kid = r#""kid":"https://ca.example/acct/1""#;
        let good = hdr("ES256", kid);
        let good_p = enc(&good);
        let good_pl = enc("{}");
        let good_sig = b64::encode(&f.es256.sign(alloc::format!("{good_p}.{good_pl}").as_bytes()));
        let s = |h: &str| body_with(h, "{}", &f.es256, None);
        let es = |h: &str, sig: Vec<u8>| body_with(h, "{}", &f.es256, Some(sig));
        let good_sig_bytes = b64::decode(&good_sig).unwrap();
        let r = &good_sig_bytes[..32];
        let n256 = crate::jose::testutil::hex("ffffffff00000000ffffffffffffffffbce6faada7179e84f3b9cac2fc632551");
        let der_sig = p256::ecdsa::Signature::from_slice(&good_sig_bytes).unwrap().to_der().to_bytes().to_vec();
        let mut oversized = raw(&good_p, &good_pl, &good_sig);
        oversized.truncate(oversized.len() - 1);
        oversized.extend(vec![b' '; MAX_JWS_BYTES]);
        oversized.push(b'}');
        let jwk_with = |extra: &str| alloc::format!(r#""jwk":{{"kty":"EC","crv":"P-256","x":"{x}","y":"{y}"{extra}}}"#);
        let n1024 = b64::encode(&[0xc5; 128]);

        #[rustfmt::skip]
        let cases: Vec<(&str, Vec<u8>, ProblemType)> = vec![
            // Header key rules.
            ("both jwk and kid", s(&hdr("ES256", &alloc::format!("{ec},{kid}"))), Malformed),
            ("neither jwk nor kid", s(&alloc::format!(r#"{{"alg":"ES256","nonce":"n","url":"{URL}"}}"#)), Malformed),
            ("kid not a string", s(&hdr("ES256", r#""kid":7"#)), Malformed),
            ("jwk not an object", s(&hdr("ES256", r#""jwk":"key""#)), Malformed),
            ("crit present", s(&alloc::format!(r#"{{"alg":"ES256",{kid},"crit":["exp"],"exp":1,"url":"{URL}"}}"#)), Malformed),
            ("b64 false", s(&alloc::format!(r#"{{"alg":"ES256",{kid},"b64":false,"crit":["b64"],"url":"{URL}"}}"#)), Malformed),
            ("b64 false without crit", s(&alloc::format!(r#"{{"alg":"ES256",{kid},"b64":false,"url":"{URL}"}}"#)), Malformed),
            ("b64 true", s(&alloc::format!(r#"{{"alg":"ES256",{kid},"b64":true,"url":"{URL}"}}"#)), Malformed),
            ("url missing", s(&alloc::format!(r#"{{"alg":"ES256",{kid},"nonce":"n"}}"#)), Malformed),
            ("url not a string", s(&alloc::format!(r#"{{"alg":"ES256",{kid},"url":["{URL}"]}}"#)), Malformed),
            ("nonce not a string", s(&alloc::format!(r#"{{"alg":"ES256",{kid},"nonce":1,"url":"{URL}"}}"#)), Malformed),
            ("alg missing", s(&alloc::format!(r#"{{{kid},"url":"{URL}"}}"#)), Malformed),
            ("alg not a string", s(&hdr("ES256", kid).replace(r#""ES256""#, "256")), Malformed),
            // Algorithms.
            ("alg none", s(&hdr("none", kid)), BadSignatureAlgorithm),
            ("alg HS256 on an account JWS", s(&hdr("HS256", kid)), BadSignatureAlgorithm),
            ("alg HS512 with a jwk", s(&hdr("HS512", &ec)), BadSignatureAlgorithm),
            ("unknown alg", s(&hdr("ES256K", kid)), BadSignatureAlgorithm),
            ("alg in wrong case", s(&hdr("es256", kid)), BadSignatureAlgorithm),
            ("ES256 with a P-384 jwk", s(&hdr("ES256", &ec384)), BadSignatureAlgorithm),
            ("ES384 with a P-256 jwk", s(&hdr("ES384", &ec)), BadSignatureAlgorithm),
            ("RS256 with an EC jwk", s(&hdr("RS256", &ec)), BadSignatureAlgorithm),
            ("PS256 with an Ed25519 jwk", s(&hdr("PS256", &ed)), BadSignatureAlgorithm),
            ("EdDSA with an RSA jwk", s(&hdr("EdDSA", &rsa)), BadSignatureAlgorithm),
            ("ES512 by kid with a P-256 account key", s(&hdr("ES512", kid)), BadSignatureAlgorithm),
            ("jwk pins another alg", s(&hdr("ES256", &jwk_with(r#","alg":"ES384""#))), BadSignatureAlgorithm),
            // Signatures.
            ("ECDSA signature 63 bytes", es(&good, good_sig_bytes[..63].to_vec()), Malformed),
            ("ECDSA signature DER-encoded", es(&good, der_sig), Malformed),
            ("ECDSA r = 0", es(&good, [&[0u8; 32][..], &good_sig_bytes[32..]].concat()), Malformed),
            ("ECDSA s = 0", es(&good, [r, &[0u8; 32][..]].concat()), Malformed),
            ("ECDSA s = n", es(&good, [r, &n256[..]].concat()), Malformed),
            ("ECDSA s > n", es(&good, [r, &[0xffu8; 32][..]].concat()), Malformed),
            ("empty signature", es(&good, vec![]), Malformed),
            ("RSA signature wrong length", body_with(&hdr("RS256", &rsa), "{}", &f.rsa, Some(vec![1; 255])), Malformed),
            ("signature over another payload", raw(&good_p, &enc(r#"{"a":2}"#), &good_sig), Malformed),
            ("signature by another key", body_with(&good, "{}", &f.es384, Some(key(KeyKind::P256, 99).sign(alloc::format!("{good_p}.{good_pl}").as_bytes()))), Malformed),
            // base64url in each part.
            ("protected padded", raw(&alloc::format!("{good_p}=="), &good_pl, &good_sig), Malformed),
            ("protected with '+'", raw(&good_p.replacen('e', "+", 1), &good_pl, &good_sig), Malformed),
            ("protected with a space", raw(&alloc::format!("{} ", good_p), &good_pl, &good_sig), Malformed),
            ("payload padded", raw(&good_p, "e30=", &good_sig), Malformed),
            ("payload with '/'", raw(&good_p, "e3/", &good_sig), Malformed),
            ("signature with a newline", raw(&good_p, &good_pl, &alloc::format!("{}\\n{}", &good_sig[..40], &good_sig[40..])), Malformed),
            ("signature non-canonical trailing bits", raw(&good_p, &good_pl, &alloc::format!("{}R", &good_sig[..good_sig.len() - 1])), Malformed),
            // Protected header content.
            ("protected is a JSON array", s("[]"), Malformed),
            ("protected is not JSON", raw(&enc("alg=ES256"), &good_pl, &good_sig), Malformed),
            ("protected is empty", raw("", &good_pl, &good_sig), Malformed),
            ("duplicate alg in protected", s(&alloc::format!(r#"{{"alg":"ES256","alg":"none",{kid},"url":"{URL}"}}"#)), Malformed),
            ("duplicate url in protected", s(&alloc::format!(r#"{{"alg":"ES256",{kid},"url":"{URL}","url":"x"}}"#)), Malformed),
            ("duplicate member inside jwk", s(&hdr("ES256", &jwk_with(&alloc::format!(r#","x":"{x}""#)))), Malformed),
            // JWK policy.
            ("jwk with private d", s(&hdr("ES256", &jwk_with(r#","d":"jpsQnnGQmL-YBIffH1136cspYG6-0iY7X1fCE9-E9LI""#))), BadPublicKey),
            ("RSA 1024-bit jwk", s(&hdr("RS256", &alloc::format!(r#""jwk":{{"kty":"RSA","n":"{n1024}","e":"AQAB"}}"#))), BadPublicKey),
            ("RSA e = 3", s(&hdr("RS256", &jwk_json(&f.rsa).replace("AQAB", "Aw").replacen('{', r#""jwk":{"#, 1))), BadPublicKey),
            ("EC point not on curve", s(&hdr("ES256", &alloc::format!(r#""jwk":{{"kty":"EC","crv":"P-256","x":"{x}","y":"{x}"}}"#))), BadPublicKey),
            ("EC x wrong length", s(&hdr("ES256", &alloc::format!(r#""jwk":{{"kty":"EC","crv":"P-256","x":"{}","y":"{y}"}}"#, &x[..40]))), BadPublicKey),
            ("EC crv secp256k1", s(&hdr("ES256", &alloc::format!(r#""jwk":{{"kty":"EC","crv":"secp256k1","x":"{x}","y":"{y}"}}"#))), BadPublicKey),
            ("OKP crv X25519", s(&hdr("EdDSA", &alloc::format!(r#""jwk":{{"kty":"OKP","crv":"X25519","x":"{x}"}}"#))), BadPublicKey),
            ("kty oct", s(&hdr("ES256", r#""jwk":{"kty":"oct"}"#)), BadPublicKey),
            ("oct key material", s(&hdr("ES256", r#""jwk":{"kty":"oct","k":"c2VjcmV0"}"#)), BadPublicKey),
            ("jwk missing y", s(&hdr("ES256", &alloc::format!(r#""jwk":{{"kty":"EC","crv":"P-256","x":"{x}"}}"#))), Malformed),
            // Body structure.
            ("unprotected header", alloc::format!(r#"{{"protected":"{good_p}","header":{{"kid":"a"}},"payload":"{good_pl}","signature":"{good_sig}"}}"#).into_bytes(), Malformed),
            ("extra top-level member", alloc::format!(r#"{{"protected":"{good_p}","payload":"{good_pl}","signature":"{good_sig}","x":1}}"#).into_bytes(), Malformed),
            ("general serialization", alloc::format!(r#"{{"payload":"{good_pl}","signatures":[{{"protected":"{good_p}","signature":"{good_sig}"}}]}}"#).into_bytes(), Malformed),
            ("duplicate protected member", alloc::format!(r#"{{"protected":"{good_p}","protected":"{good_p}","payload":"{good_pl}","signature":"{good_sig}"}}"#).into_bytes(), Malformed),
            ("duplicate payload member", alloc::format!(r#"{{"protected":"{good_p}","payload":"{good_pl}","payload":"","signature":"{good_sig}"}}"#).into_bytes(), Malformed),
            ("missing signature member", alloc::format!(r#"{{"protected":"{good_p}","payload":"{good_pl}"}}"#).into_bytes(), Malformed),
            ("payload member not a string", alloc::format!(r#"{{"protected":"{good_p}","payload":{{}},"signature":"{good_sig}"}}"#).into_bytes(), Malformed),
            ("trailing garbage", [raw(&good_p, &good_pl, &good_sig), b"x".to_vec()].concat(), Malformed),
            ("two JSON objects", [raw(&good_p, &good_pl, &good_sig), raw(&good_p, &good_pl, &good_sig)].concat(), Malformed),
            ("compact serialization", alloc::format!("{good_p}.{good_pl}.{good_sig}").into_bytes(), Malformed),
            ("compact serialization as a JSON string", alloc::format!("\"{good_p}.{good_pl}.{good_sig}\"").into_bytes(), Malformed),
            ("JSON array body", alloc::format!("[{}]", String::from_utf8(raw(&good_p, &good_pl, &good_sig)).unwrap()).into_bytes(), Malformed),
            ("empty body", vec![], Malformed),
            ("whitespace body", b"  \n".to_vec(), Malformed),
            ("not UTF-8", b"{\"protected\":\"\xff\"}".to_vec(), Malformed),
            ("oversized body", oversized, Malformed),
            // Payload.
            ("payload with duplicate keys", body_with(&good, r#"{"csr":"a","csr":"b"}"#, &f.es256, None), Malformed),
            ("payload not JSON", body_with(&good, "csr=abc", &f.es256, None), Malformed),
            ("payload JSON with trailing data", body_with(&good, "{} {}", &f.es256, None), Malformed),
        ];
        assert!(cases.len() >= 45, "{} cases", cases.len());
        // Sanity: the unmodified request passes, so each case fails for its own reason.
        check(&raw(&good_p, &good_pl, &good_sig), &account).unwrap();
        for (name, body, want) in &cases {
            let err = match check(body, &account) {
                Ok(_) => panic!("{name}: accepted"),
                Err(e) => e,
            };
            assert_eq!(err.kind, *want, "{name}: {}", err.detail);
            if err.kind == BadSignatureAlgorithm {
                assert_eq!(err.algorithms.as_deref().map(|a| a.len()), Some(SUPPORTED_ACCOUNT_ALGS.len()), "{name}");
            }
            assert_eq!(err.status, 400, "{name}");
        }
    }

    #[test]
    fn signature_failure_has_the_detail_boulder_and_pebble_use() {
        let k = key(KeyKind::P256, 20);
        let p = enc(&hdr("ES256", r#""kid":"a""#));
        let body = raw(&p, &enc("{}"), &b64::encode(&k.sign(b"something else")));
        let err = check(&body, &k.public_jwk()).unwrap_err();
        assert_eq!((err.kind, err.detail.as_str()), (Malformed, "JWS signature verification failed"));
    }

    #[test]
    fn mac_entry_point_accepts_only_hmac_and_kid() {
        let v =
            |h: &str| -> Value { serde_json::from_slice(&raw(&enc(h), &enc("{}"), &b64::encode(&[0u8; 32]))).unwrap() };
        let ok = Jws::from_value_mac(&v(r#"{"alg":"HS256","kid":"eab-1","url":"u"}"#)).unwrap();
        assert_eq!((ok.header.alg, ok.kid()), (Alg::HS256, Some("eab-1")));
        for h in [
            r#"{"alg":"ES256","kid":"eab-1","url":"u"}"#,
            r#"{"alg":"none","kid":"eab-1","url":"u"}"#,
            r#"{"alg":"HS1","kid":"eab-1","url":"u"}"#,
            r#"{"alg":"HS256","jwk":{"kty":"oct","k":"AA"},"url":"u"}"#,
        ] {
            assert_eq!(Jws::from_value_mac(&v(h)).unwrap_err().kind, Malformed, "{h}");
        }
        // And the account entry point refuses what the MAC one accepts.
        assert_eq!(
            Jws::from_value(&v(r#"{"alg":"HS256","kid":"eab-1","url":"u"}"#)).unwrap_err().kind,
            BadSignatureAlgorithm
        );
    }

    #[test]
    fn signing_input_and_parts_are_kept_exactly_as_received() {
        let k = key(KeyKind::Ed25519, 21);
        let body = crate::jose::sign_flattened(&k, crate::jose::SignerRef::Kid("a"), Some("n"), URL, b"{}");
        let jws = Jws::from_value(&body).unwrap();
        assert_eq!(jws.protected_b64(), body["protected"].as_str().unwrap());
        assert_eq!(jws.payload_b64(), body["payload"].as_str().unwrap());
        assert_eq!(jws.payload_bytes(), b"{}");
        assert_eq!(jws.signing_input(), alloc::format!("{}.{}", jws.protected_b64(), jws.payload_b64()).into_bytes());
        assert_eq!(jws.signature_bytes().len(), 64);
    }
}
