//! External Account Binding (RFC 8555 §7.3.4).
//!
//! A CA that knows its customers hands each one a key identifier and a MAC key out of
//! band. The client proves possession by MACing its new account key, in a JWS nested in
//! the newAccount payload. This module builds that JWS for clients and checks its shape
//! for servers; looking the key id up, checking its expiry and counting its uses belong
//! to the engine and the store.
//!
//! ## Which error type
//! - The binding cannot be read, uses a non-HMAC `alg`, carries a `nonce` or a `jwk`, or
//!   its payload is not a JWK: `malformed`.
//! - The binding's `url` is not the newAccount URL, or its payload is a different key
//!   from the one signing the request, or the MAC does not verify: `unauthorized`. These
//!   are the binding analogues of RFC 8555 §6.4 (a JWS `url` that does not match the
//!   request is `unauthorized`): the object is well formed, but it does not authorize
//!   this key at this endpoint.

// `Problem` is the crate-wide error type; its size is problem.rs's decision, not ours.

use alloc::format;
use alloc::string::String;
use alloc::vec::Vec;
use hmac::{Hmac, KeyInit, Mac};
use serde_json::{Map, Value};
use sha2::{Sha256, Sha384, Sha512};

use crate::b64;
use crate::jose::{Alg, Jwk, Jws};
use crate::problem::Problem;

/// Shortest MAC key accepted when a credential is created: 256 bits.
pub const MIN_MAC_KEY_BYTES: usize = 32;

/// A parsed, not yet verified, external account binding.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Binding {
    /// The EAB key identifier the CA issued (the binding's `kid`).
    pub key_id: String,
    /// The HMAC algorithm (HS256, HS384 or HS512).
    pub alg: Alg,
    jws: Jws,
}

/// An HMAC of type `M` keyed with `key` over `input`.
fn keyed<M: Mac + KeyInit>(key: &[u8], input: &[u8]) -> M {
    <M as KeyInit>::new_from_slice(key).expect("HMAC accepts keys of any length").chain_update(input)
}

/// The tag of `input` under `key` with the HMAC algorithm `alg`.
fn mac(alg: Alg, key: &[u8], input: &[u8]) -> Vec<u8> {
    match alg {
        Alg::HS256 => keyed::<Hmac<Sha256>>(key, input).finalize().into_bytes().to_vec(),
        Alg::HS384 => keyed::<Hmac<Sha384>>(key, input).finalize().into_bytes().to_vec(),
        Alg::HS512 => keyed::<Hmac<Sha512>>(key, input).finalize().into_bytes().to_vec(),
        other => panic!("{} is not an HMAC algorithm", other.name()),
    }
}

/// Checks `tag` against the HMAC of `input`; `verify_slice` compares in constant time.
fn mac_matches(alg: Alg, key: &[u8], input: &[u8], tag: &[u8]) -> bool {
    match alg {
        Alg::HS256 => keyed::<Hmac<Sha256>>(key, input).verify_slice(tag).is_ok(),
        Alg::HS384 => keyed::<Hmac<Sha384>>(key, input).verify_slice(tag).is_ok(),
        Alg::HS512 => keyed::<Hmac<Sha512>>(key, input).verify_slice(tag).is_ok(),
        _ => false,
    }
}

/// Builds the `externalAccountBinding` JWS a client puts into its newAccount payload.
///
/// # Panics
/// If `alg` is not HS256, HS384 or HS512 (a programming error, not an input error).
pub fn sign_binding(eab_kid: &str, mac_key: &[u8], alg: Alg, account_jwk: &Jwk, new_account_url: &str) -> Value {
    assert!(alg.is_mac(), "external account binding needs an HMAC algorithm, got {}", alg.name());
    let mut header = Map::new();
    header.insert("alg".into(), Value::String(alg.name().into()));
    header.insert("kid".into(), Value::String(eab_kid.into()));
    header.insert("url".into(), Value::String(new_account_url.into()));
    let header = serde_json::to_vec(&Value::Object(header)).expect("JSON map serializes");
    let payload = serde_json::to_vec(&account_jwk.to_value()).expect("JSON map serializes");
    crate::jose::sign::assemble(&header, &payload, |input| mac(alg, mac_key, input))
}

/// Checks the shape of a binding against the outer newAccount JWS (everything except the MAC).
pub fn parse_binding(binding: &Value, outer_jwk: &Jwk, new_account_url: &str) -> Result<Binding, Problem> {
    let jws = Jws::from_value_mac(binding).map_err(|mut p| {
        p.detail = format!("externalAccountBinding: {}", p.detail);
        p
    })?;
    if jws.header.nonce.is_some() {
        return Err(Problem::malformed("externalAccountBinding must not contain a \"nonce\" (RFC 8555 §7.3.4)"));
    }
    if jws.header.url != new_account_url {
        return Err(Problem::unauthorized(
            "externalAccountBinding \"url\" must be the newAccount URL of the outer request",
        ));
    }
    let payload = jws
        .payload_json()?
        .ok_or_else(|| Problem::malformed("externalAccountBinding payload must be the account JWK, not empty"))?;
    let bound = Jwk::from_value(&payload).map_err(|mut p| {
        p.detail = format!("externalAccountBinding payload: {}", p.detail);
        p
    })?;
    if &bound != outer_jwk {
        return Err(Problem::unauthorized(
            "externalAccountBinding binds a different key from the one signing this request",
        ));
    }
    let key_id = jws.kid().expect("MAC JWS always has a kid").into();
    Ok(Binding { key_id, alg: jws.header.alg, jws })
}

impl Binding {
    /// Verifies the MAC with the credential's key, in constant time; a mismatch is `unauthorized`.
    pub fn verify(&self, mac_key: &[u8]) -> Result<(), Problem> {
        let input = self.jws.signing_input();
        if mac_matches(self.alg, mac_key, &input, self.jws.signature_bytes()) {
            Ok(())
        } else {
            Err(Problem::unauthorized("externalAccountBinding MAC does not verify"))
        }
    }
}

/// Decodes a MAC key as operators paste it: base64url with or without `=` padding.
pub fn decode_mac_key(s: &str) -> Result<Vec<u8>, Problem> {
    let key = b64::decode_lenient(s).map_err(|e| Problem::malformed(format!("EAB MAC key: {e}")))?;
    if key.is_empty() {
        return Err(Problem::malformed("EAB MAC key is empty"));
    }
    Ok(key)
}

/// Refuses MAC keys shorter than [`MIN_MAC_KEY_BYTES`] when a credential is created.
pub fn check_new_mac_key(key: &[u8]) -> Result<(), Problem> {
    if key.len() < MIN_MAC_KEY_BYTES {
        return Err(Problem::malformed(format!(
            "EAB MAC key is {} bits; at least {} bits are required",
            key.len() * 8,
            MIN_MAC_KEY_BYTES * 8
        )));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::jose::testutil::{key, rsa};
    use crate::jose::{parse_flattened, sign_flattened, KeyKind, SignerRef};
    use crate::problem::ProblemType::{Malformed, Unauthorized};
    use serde_json::json;

    const NEW_ACCOUNT: &str = "https://example.com/acme/new-account";
    const MAC_KEY: &[u8; 32] = b"an example MAC key of 256 bits!!";

    /// A binding with an arbitrary protected header, MACed correctly with `MAC_KEY`.
    fn binding_with_header(header: Value, alg: Alg, payload: &Value) -> Value {
        let header = serde_json::to_vec(&header).unwrap();
        let payload = serde_json::to_vec(payload).unwrap();
        crate::jose::sign::assemble(&header, &payload, |input| mac(alg, MAC_KEY, input))
    }

    #[test]
    fn binding_round_trips_for_every_hmac_algorithm() {
        for (alg, seed) in [(Alg::HS256, 40), (Alg::HS384, 41), (Alg::HS512, 42)] {
            let account = key(KeyKind::P256, seed).public_jwk();
            let v = sign_binding("kid-1", MAC_KEY, alg, &account, NEW_ACCOUNT);
            let b = parse_binding(&v, &account, NEW_ACCOUNT).unwrap();
            assert_eq!((b.key_id.as_str(), b.alg), ("kid-1", alg));
            b.verify(MAC_KEY).unwrap();
        }
        let account = rsa().public_jwk();
        let v = sign_binding("kid-rsa", MAC_KEY, Alg::HS256, &account, NEW_ACCOUNT);
        parse_binding(&v, &account, NEW_ACCOUNT).unwrap().verify(MAC_KEY).unwrap();
    }

    #[test]
    fn rfc8555_newaccount_with_binding_example_shape_is_accepted() {
        // RFC 8555 §7.3.4: the binding sits in the newAccount payload; its protected
        // header has exactly alg, kid and url, and its payload is the outer jwk.
        let account = key(KeyKind::P256, 43);
        let eab = sign_binding("eab-kid-from-ca", MAC_KEY, Alg::HS256, &account.public_jwk(), NEW_ACCOUNT);
        let header: Value = serde_json::from_slice(&b64::decode(eab["protected"].as_str().unwrap()).unwrap()).unwrap();
        assert_eq!(header, json!({"alg": "HS256", "kid": "eab-kid-from-ca", "url": NEW_ACCOUNT}));
        let payload = json!({
            "termsOfServiceAgreed": true,
            "contact": ["mailto:cert-admin@example.org", "mailto:admin@example.org"],
            "externalAccountBinding": eab,
        });
        let outer = sign_flattened(
            &account,
            SignerRef::Jwk,
            Some("6S8IqOGY7eL2lsGoTZYifg"),
            NEW_ACCOUNT,
            &serde_json::to_vec(&payload).unwrap(),
        );
        let outer = parse_flattened(&serde_json::to_vec(&outer).unwrap()).unwrap();
        let outer_jwk = outer.jwk().unwrap();
        outer.verify(outer_jwk).unwrap();
        let request = outer.payload_json().unwrap().unwrap();
        let b = parse_binding(&request["externalAccountBinding"], outer_jwk, &outer.header.url).unwrap();
        assert_eq!(b.key_id, "eab-kid-from-ca");
        b.verify(MAC_KEY).unwrap();
    }

    #[test]
    fn wrong_mac_key_is_unauthorized() {
        let account = key(KeyKind::Ed25519, 44).public_jwk();
        let v = sign_binding("k", MAC_KEY, Alg::HS256, &account, NEW_ACCOUNT);
        let b = parse_binding(&v, &account, NEW_ACCOUNT).unwrap();
        assert_eq!(b.verify(b"another MAC key of 256 bits!!!!!").unwrap_err().kind, Unauthorized);
        assert_eq!(b.verify(&MAC_KEY[..31]).unwrap_err().kind, Unauthorized);
        let mut truncated = v.clone();
        let sig = b64::decode(v["signature"].as_str().unwrap()).unwrap();
        truncated["signature"] = Value::String(b64::encode(&sig[..16]));
        let b = parse_binding(&truncated, &account, NEW_ACCOUNT).unwrap();
        assert_eq!(b.verify(MAC_KEY).unwrap_err().kind, Unauthorized);
    }

    #[test]
    fn nonce_in_binding_is_malformed() {
        let account = key(KeyKind::P256, 45).public_jwk();
        let v = binding_with_header(
            json!({"alg": "HS256", "kid": "k", "nonce": "bm9uY2U", "url": NEW_ACCOUNT}),
            Alg::HS256,
            &account.to_value(),
        );
        assert_eq!(parse_binding(&v, &account, NEW_ACCOUNT).unwrap_err().kind, Malformed);
    }

    #[test]
    fn url_other_than_new_account_is_unauthorized() {
        let account = key(KeyKind::P256, 46).public_jwk();
        let v = sign_binding("k", MAC_KEY, Alg::HS256, &account, "https://example.com/acme/new-order");
        assert_eq!(parse_binding(&v, &account, NEW_ACCOUNT).unwrap_err().kind, Unauthorized);
    }

    #[test]
    fn binding_of_a_different_key_is_unauthorized() {
        let account = key(KeyKind::P256, 47).public_jwk();
        let other = key(KeyKind::P256, 48).public_jwk();
        let v = sign_binding("k", MAC_KEY, Alg::HS256, &other, NEW_ACCOUNT);
        assert_eq!(parse_binding(&v, &account, NEW_ACCOUNT).unwrap_err().kind, Unauthorized);
        // The same key with extra JWK members is the same key.
        let mut with_extras = account.to_value();
        with_extras["kid"] = json!("client-label");
        let v = binding_with_header(json!({"alg": "HS256", "kid": "k", "url": NEW_ACCOUNT}), Alg::HS256, &with_extras);
        parse_binding(&v, &account, NEW_ACCOUNT).unwrap().verify(MAC_KEY).unwrap();
    }

    #[test]
    fn malformed_bindings_are_malformed() {
        let account = key(KeyKind::P256, 49).public_jwk();
        let hdr = json!({"alg": "HS256", "kid": "k", "url": NEW_ACCOUNT});
        let ok = binding_with_header(hdr.clone(), Alg::HS256, &account.to_value());
        let mut with_header = ok.clone();
        with_header["header"] = json!({"kid": "k"});
        let cases = [
            ("not an object", json!("binding")),
            ("unprotected header", with_header),
            (
                "ES256 alg",
                binding_with_header(
                    json!({"alg": "ES256", "kid": "k", "url": NEW_ACCOUNT}),
                    Alg::HS256,
                    &account.to_value(),
                ),
            ),
            (
                "none alg",
                binding_with_header(
                    json!({"alg": "none", "kid": "k", "url": NEW_ACCOUNT}),
                    Alg::HS256,
                    &account.to_value(),
                ),
            ),
            (
                "jwk instead of kid",
                binding_with_header(
                    json!({"alg": "HS256", "jwk": account.to_value(), "url": NEW_ACCOUNT}),
                    Alg::HS256,
                    &account.to_value(),
                ),
            ),
            (
                "no kid",
                binding_with_header(json!({"alg": "HS256", "url": NEW_ACCOUNT}), Alg::HS256, &account.to_value()),
            ),
            ("no url", binding_with_header(json!({"alg": "HS256", "kid": "k"}), Alg::HS256, &account.to_value())),
            ("payload not a JWK", binding_with_header(hdr.clone(), Alg::HS256, &json!({"account": "x"}))),
            ("payload a private JWK", binding_with_header(hdr.clone(), Alg::HS256, &json!({"kty": "oct", "k": "AA"}))),
            (
                "empty payload",
                crate::jose::sign::assemble(&serde_json::to_vec(&hdr).unwrap(), b"", |i| mac(Alg::HS256, MAC_KEY, i)),
            ),
        ];
        for (name, v) in cases {
            let err = parse_binding(&v, &account, NEW_ACCOUNT).unwrap_err();
            let want = if name == "payload a private JWK" { crate::ProblemType::BadPublicKey } else { Malformed };
            assert_eq!(err.kind, want, "{name}: {}", err.detail);
        }
    }

    #[test]
    fn mac_keys_decode_with_or_without_padding() {
        let key = [0xfbu8; 32];
        let unpadded = b64::encode(&key);
        assert_eq!(unpadded.len(), 43);
        assert_eq!(decode_mac_key(&unpadded).unwrap(), key);
        assert_eq!(decode_mac_key(&alloc::format!("{unpadded}=")).unwrap(), key);
        assert_eq!(decode_mac_key(&alloc::format!(" {unpadded}\n")).unwrap(), key);
        assert_eq!(decode_mac_key(&unpadded.replace('-', "+")).unwrap_err().kind, Malformed);
        assert_eq!(decode_mac_key("").unwrap_err().kind, Malformed);
    }

    #[test]
    fn mac_keys_shorter_than_256_bits_are_refused() {
        assert_eq!(check_new_mac_key(&[7; 31]).unwrap_err().kind, Malformed);
        assert_eq!(check_new_mac_key(&[]).unwrap_err().kind, Malformed);
        check_new_mac_key(&[7; MIN_MAC_KEY_BYTES]).unwrap();
        check_new_mac_key(&[7; 64]).unwrap();
    }

    #[test]
    #[should_panic(expected = "HMAC algorithm")]
    fn signing_a_binding_with_a_signature_alg_is_a_programming_error() {
        sign_binding("k", MAC_KEY, Alg::ES256, &key(KeyKind::P256, 50).public_jwk(), NEW_ACCOUNT);
    }
}
