//! JOSE, EAB and key authorizations in the wasm32 build, under Node (`wasm-pack test --node core`).
//!
//! The Worker and the npm package run core as wasm, so the properties that matter most
//! are proven there too: signatures made and checked by core, the RFC 7638 thumbprint
//! vector, and objects from independent implementations (the committed josepy/acme and
//! npm jose fixtures of `tests/interop/`).
#![cfg(target_arch = "wasm32")]

use edge_acme_core::eab::{decode_mac_key, parse_binding, sign_binding};
use edge_acme_core::jose::{parse_flattened, sign_flattened, Alg, Jwk, KeyKind, KeyRef, SignerRef, SigningKey};
use edge_acme_core::keyauth::{dns01_txt_value, key_authorization};
use edge_acme_core::ProblemType;
use serde_json::{json, Value};
use wasm_bindgen_test::wasm_bindgen_test;

const URL: &str = "https://acme.test/acme/new-order";
const NEW_ACCOUNT_URL: &str = "https://acme.test/acme/new-account";
const JOSEPY: &str = include_str!("../../tests/interop/fixtures/josepy.json");
const NPM_JOSE: &str = include_str!("../../tests/interop/fixtures/npm-jose.json");
/// core does not generate RSA keys; it signs with imported ones, like this test key.
const RSA_TEST_KEY: &[u8] = include_bytes!("../src/jose/testdata/rsa2048.pk8.der");

/// A deterministic stand-in for the host's CSPRNG: a counter, so every key differs.
fn counter_fill() -> impl FnMut(&mut [u8]) {
    let mut n: u8 = 1;
    move |buf: &mut [u8]| {
        for b in buf.iter_mut() {
            *b = n;
            n = n.wrapping_mul(31).wrapping_add(7);
        }
    }
}

fn key(kind: KeyKind) -> SigningKey {
    SigningKey::from_random_bytes(kind, &mut counter_fill()).expect("key from bytes")
}

#[wasm_bindgen_test]
fn rfc7638_thumbprint_vector() {
    // RFC 7638 §3.1: the RSA key of RFC 7517 Appendix A.1 and its SHA-256 thumbprint.
    let jwk = Jwk::from_value(&json!({
        "kty": "RSA",
        "n": "0vx7agoebGcQSuuPiLJXZptN9nndrQmbXEps2aiAFbWhM78LhWx4cbbfAAtVT86zwu1RK7aPFFxuhDR1L6tSoc_BJECP\
              ebWKRXjBZCiFV4n3oknjhMstn64tZ_2W-5JsGY4Hc5n9yBXArwl93lqt7_RN5w6Cf0h4QyQ5v-65YGjQR0_FDW2QvzqY\
              368QQMicAtaSqzs8KJZgnYb9c7d0zgdAZHzu6qMQvRL5hajrn1n91CbOpbISD08qNLyrdkt-bFTWhAI4vMQFh6WeZu0f\
              M4lFd2NcRwr3XPksINHaQ-G_xBniIqbw0Ls1jF44-csFCur-kEgU8awapJzKnqDKgw",
        "e": "AQAB",
        "alg": "RS256",
        "kid": "2011-04-29"
    }))
    .expect("RFC 7638 key");
    assert_eq!(jwk.thumbprint(), "NzbLsXh8uDCcd-6MNwXF4W_7noWXFZAfHkxZsRGC9Xs");
}

#[wasm_bindgen_test]
fn jws_signed_by_core_verifies_for_every_key_kind() {
    let mut keys: Vec<SigningKey> = [KeyKind::P256, KeyKind::P384, KeyKind::P521, KeyKind::Ed25519].map(key).into();
    keys.push(SigningKey::from_pkcs8_der(RSA_TEST_KEY).expect("RSA test key"));
    for key in keys {
        let public = key.public_jwk();
        for signer in [SignerRef::Jwk, SignerRef::Kid("https://acme.test/acme/acct/1")] {
            let obj = sign_flattened(&key, signer, Some("bm9uY2U"), URL, br#"{"onlyReturnExisting":true}"#);
            let jws = parse_flattened(&serde_json::to_vec(&obj).unwrap()).expect("parse own JWS");
            assert_eq!(jws.header.alg, key.alg());
            assert_eq!(jws.header.url, URL);
            assert_eq!(jws.header.nonce.as_deref(), Some("bm9uY2U"));
            match (&jws.header.key, signer) {
                (KeyRef::Jwk(embedded), SignerRef::Jwk) => assert_eq!(embedded, &public),
                (KeyRef::Kid(kid), SignerRef::Kid(want)) => assert_eq!(kid, want),
                (got, _) => panic!("unexpected key reference {got:?}"),
            }
            jws.verify(&public).expect("verify own JWS");
            assert_eq!(jws.payload_json().unwrap(), Some(json!({"onlyReturnExisting": true})));
        }
    }
}

#[wasm_bindgen_test]
fn jws_with_a_changed_payload_or_another_key_is_rejected() {
    let key = key(KeyKind::P256);
    let other = SigningKey::from_random_bytes(KeyKind::P256, &mut |b: &mut [u8]| b.fill(0x42)).unwrap();
    let mut obj = sign_flattened(&key, SignerRef::Jwk, Some("bm9uY2U"), URL, b"{}");
    let jws = parse_flattened(&serde_json::to_vec(&obj).unwrap()).unwrap();
    assert_eq!(jws.verify(&other.public_jwk()).unwrap_err().kind, ProblemType::Malformed);
    obj["payload"] = Value::String("e30K".into());
    let jws = parse_flattened(&serde_json::to_vec(&obj).unwrap()).unwrap();
    assert_eq!(jws.verify(&key.public_jwk()).unwrap_err().kind, ProblemType::Malformed);
}

#[wasm_bindgen_test]
fn post_as_get_has_an_empty_payload() {
    let key = key(KeyKind::Ed25519);
    let obj = sign_flattened(&key, SignerRef::Kid("https://acme.test/acme/acct/1"), Some("bm9uY2U"), URL, b"");
    assert_eq!(obj["payload"], "");
    let jws = parse_flattened(&serde_json::to_vec(&obj).unwrap()).unwrap();
    jws.verify(&key.public_jwk()).unwrap();
    assert_eq!(jws.payload_json().unwrap(), None);
}

#[wasm_bindgen_test]
fn eab_round_trip_for_every_mac_algorithm() {
    let account = key(KeyKind::P256).public_jwk();
    let stranger = key(KeyKind::Ed25519).public_jwk();
    let mac_key = decode_mac_key("zWNDZM6eQGHWpSRTPal5eIUYFTu7EajVIoguysqZ9wG44nMEtx3MUAsUDkMTQ12W").unwrap();
    for alg in [Alg::HS256, Alg::HS384, Alg::HS512] {
        let binding = sign_binding("kid-1", &mac_key, alg, &account, NEW_ACCOUNT_URL);
        let parsed = parse_binding(&binding, &account, NEW_ACCOUNT_URL).expect("parse own binding");
        assert_eq!((parsed.key_id.as_str(), parsed.alg), ("kid-1", alg));
        parsed.verify(&mac_key).expect("verify own binding");
        assert_eq!(parsed.verify(b"another key of 32 bytes........").unwrap_err().kind, ProblemType::Unauthorized);
        let err = parse_binding(&binding, &stranger, NEW_ACCOUNT_URL).unwrap_err();
        assert_eq!(err.kind, ProblemType::Unauthorized);
    }
}

#[wasm_bindgen_test]
fn key_authorization_and_dns01_value_follow_rfc8555() {
    let jwk = key(KeyKind::P256).public_jwk();
    let ka = key_authorization("evaGxfADs6pSRb2LAv9IZf17Dt3juxGJ-PCt92wr-oA", &jwk);
    assert_eq!(ka, format!("evaGxfADs6pSRb2LAv9IZf17Dt3juxGJ-PCt92wr-oA.{}", jwk.thumbprint()));
    let txt = dns01_txt_value(&ka);
    assert_eq!(txt.len(), 43);
    assert!(txt.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_'));
}

#[wasm_bindgen_test]
fn jws_and_eab_objects_from_josepy_and_npm_jose_verify_under_wasm() {
    let mut seen = 0;
    for text in [JOSEPY, NPM_JOSE] {
        let doc: Value = serde_json::from_str(text).unwrap();
        for v in doc["jws"].as_array().unwrap() {
            let jwk = Jwk::from_value(&v["jwk"]).unwrap();
            let jws = parse_flattened(&serde_json::to_vec(&v["jws"]).unwrap()).unwrap();
            jws.verify(&jwk).unwrap_or_else(|p| panic!("{}: {p:?}", v["name"]));
            assert_eq!(jwk.thumbprint(), v["thumbprint"], "{}", v["name"]);
            seen += 1;
        }
        for v in doc["eab"].as_array().unwrap() {
            let account = Jwk::from_value(&v["account_jwk"]).unwrap();
            let binding = parse_binding(&v["binding"], &account, v["url"].as_str().unwrap()).unwrap();
            binding
                .verify(&decode_mac_key(v["mac_key"].as_str().unwrap()).unwrap())
                .unwrap_or_else(|p| panic!("{}: {p:?}", v["name"]));
            seen += 1;
        }
    }
    assert!(seen >= 30, "only {seen} peer objects checked");
}
