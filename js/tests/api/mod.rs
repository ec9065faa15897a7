//! The wasm API tests shared by tests/node.rs and tests/browser.rs (see there).

use edge_acme_core::jose::{parse_flattened, Jwk};
use edge_acme_js::*;
use js_sys::Reflect;
use wasm_bindgen::prelude::*;
use wasm_bindgen_futures::JsFuture;
use wasm_bindgen_test::*;

#[wasm_bindgen(module = "/tests/webcrypto.js")]
extern "C" {
    #[wasm_bindgen(js_name = webcryptoKey)]
    fn webcrypto_key(kind: &str) -> js_sys::Promise;
    #[wasm_bindgen(js_name = webcryptoVerifyJws)]
    fn webcrypto_verify_jws(kind: &str, jws_json: &str, jwk_json: &str) -> js_sys::Promise;
    #[wasm_bindgen(js_name = webcryptoSignWithPkcs8)]
    fn webcrypto_sign_with_pkcs8(kind: &str, pkcs8: &[u8], text: &str) -> js_sys::Promise;
    #[wasm_bindgen(js_name = webcryptoImportJwk)]
    fn webcrypto_import_jwk(kind: &str, jwk_json: &str) -> js_sys::Promise;
    #[wasm_bindgen(js_name = webcryptoHasEd25519)]
    fn webcrypto_has_ed25519() -> js_sys::Promise;
}

const RSA_PK8: &[u8] = include_bytes!("../../../core/src/testdata/rsa2048.pk8.der");
const CHAIN_PEM: &str = include_str!("../fixtures/chain.pem");
const URL: &str = "https://ca.example/acme/new-order";

fn json(v: &JsValue) -> String {
    js_sys::JSON::stringify(v).unwrap().as_string().unwrap()
}

fn get(v: &JsValue, name: &str) -> JsValue {
    Reflect::get(v, &JsValue::from_str(name)).unwrap()
}

async fn ed25519_in_webcrypto() -> bool {
    JsFuture::from(webcrypto_has_ed25519()).await.unwrap().as_bool().unwrap()
}

/// The kinds WebCrypto can check here (Ed25519 only where the runtime has it).
async fn webcrypto_kinds() -> Vec<&'static str> {
    let mut kinds = vec!["P-256", "P-384", "P-521", "RSA"];
    if ed25519_in_webcrypto().await {
        kinds.push("Ed25519");
    }
    kinds
}

fn key_of(kind: &str) -> PrivateKey {
    if kind == "RSA" {
        import_key_pkcs8(RSA_PK8).unwrap()
    } else {
        generate_key(kind).unwrap()
    }
}

#[wasm_bindgen_test]
fn every_kind_signs_jws_that_core_verifies() {
    for kind in ["P-256", "P-384", "P-521", "Ed25519", "RSA"] {
        let key = key_of(kind);
        let payload = br#"{"identifiers":[{"type":"dns","value":"a.example"}]}"#;
        for kid in [None, Some("https://ca.example/acct/1".to_string())] {
            let jws = sign_jws(&key, URL, Some("bm9uY2U".into()), kid.clone(), payload);
            let parsed = parse_flattened(json(&jws).as_bytes()).unwrap();
            let jwk = Jwk::from_value(&serde_json::from_str(&json(&key.public_jwk())).unwrap()).unwrap();
            parsed.verify(&jwk).unwrap();
            assert_eq!(parsed.kid(), kid.as_deref(), "{kind}");
            assert_eq!(parsed.header.url, URL);
            assert_eq!(parsed.payload_bytes(), payload);
        }
    }
}

#[wasm_bindgen_test]
fn generated_keys_come_from_a_real_random_source() {
    let a = generate_key("P-256").unwrap();
    let b = generate_key("P-256").unwrap();
    assert_ne!(a.thumbprint(), b.thumbprint());
}

#[wasm_bindgen_test]
async fn webcrypto_verifies_jws_signed_here() {
    for kind in webcrypto_kinds().await {
        let key = key_of(kind);
        let jws = sign_jws(&key, URL, Some("n".into()), None, b"{}");
        let ok = JsFuture::from(webcrypto_verify_jws(kind, &json(&jws), &json(&key.public_jwk()))).await.unwrap();
        assert_eq!(ok.as_bool(), Some(true), "{kind}");
    }
}

#[wasm_bindgen_test]
async fn webcrypto_keys_import_here_by_pkcs8_and_jwk() {
    for kind in webcrypto_kinds().await {
        let made = JsFuture::from(webcrypto_key(kind)).await.unwrap();
        let pkcs8 = js_sys::Uint8Array::new(&get(&made, "pkcs8")).to_vec();
        let from_pkcs8 = import_key_pkcs8(&pkcs8).unwrap();
        let from_jwk = import_key_jwk(&get(&made, "jwk").as_string().unwrap()).unwrap();
        let public = get(&made, "publicJwk").as_string().unwrap();
        let webcrypto_thumbprint = jwk_thumbprint(&public).unwrap();
        assert_eq!(from_pkcs8.thumbprint(), webcrypto_thumbprint, "{kind}");
        assert_eq!(from_jwk.thumbprint(), webcrypto_thumbprint, "{kind}");
        // And the imported key signs what WebCrypto verifies with its own public key.
        let jws = sign_jws(&from_jwk, URL, None, Some("k".into()), b"");
        let ok = JsFuture::from(webcrypto_verify_jws(kind, &json(&jws), &public)).await.unwrap();
        assert_eq!(ok.as_bool(), Some(true), "{kind}");
    }
}

#[wasm_bindgen_test]
async fn keys_made_here_import_into_webcrypto_and_sign_what_core_verifies() {
    for kind in webcrypto_kinds().await {
        let key = key_of(kind);
        JsFuture::from(webcrypto_import_jwk(kind, &json(&key.private_jwk())))
            .await
            .unwrap_or_else(|e| panic!("{kind} private JWK: {e:?}"));
        let sig = JsFuture::from(webcrypto_sign_with_pkcs8(kind, &key.to_pkcs8_der(), "signed by WebCrypto"))
            .await
            .unwrap_or_else(|e| panic!("{kind} PKCS#8: {e:?}"))
            .as_string()
            .unwrap();
        let sig = edge_acme_core::b64::decode(&sig).unwrap();
        let jwk = Jwk::from_value(&serde_json::from_str(&json(&key.public_jwk())).unwrap()).unwrap();
        jwk.verify(key.inner().alg(), b"signed by WebCrypto", &sig).unwrap();
    }
}

#[wasm_bindgen_test]
fn eab_binding_verifies_with_the_server_side_check() {
    let key = generate_key("P-384").unwrap();
    let jwk_json = json(&key.public_jwk());
    let mac_key = "c2VjcmV0LWtleS1mb3ItZWFiLWJpbmRpbmctMzItYnl0ZXM";
    for alg in ["HS256", "HS384", "HS512"] {
        let binding =
            eab_binding("kid-7", mac_key, &jwk_json, "https://ca.example/new-acct", Some(alg.into())).unwrap();
        let value: serde_json::Value = serde_json::from_str(&json(&binding)).unwrap();
        let jwk = Jwk::from_value(&serde_json::from_str(&jwk_json).unwrap()).unwrap();
        let parsed = edge_acme_core::eab::parse_binding(&value, &jwk, "https://ca.example/new-acct").unwrap();
        assert_eq!(parsed.key_id, "kid-7");
        parsed.verify(&edge_acme_core::eab::decode_mac_key(mac_key).unwrap()).unwrap();
    }
    let err = eab_binding("k", mac_key, &jwk_json, "u", Some("RS256".into())).unwrap_err();
    assert_eq!(get(&err, "type").as_string().unwrap(), "urn:ietf:params:acme:error:malformed");
}

#[wasm_bindgen_test]
fn csrs_made_here_parse_in_core_with_every_name() {
    for kind in ["P-256", "P-384", "RSA"] {
        let key = key_of(kind);
        let names = vec!["a.example.com".to_string(), "*.w.example.com".into(), "2001:db8::1".into()];
        let der = create_csr(&key, names).unwrap();
        let info = edge_acme_core::ca::parse_csr(&der, false).unwrap();
        assert!(info.dns_names.contains("*.w.example.com") && info.ip_addrs.contains("2001:db8::1"), "{kind}");
        let pem = der_to_pem("CERTIFICATE REQUEST", &der).unwrap();
        assert!(pem.starts_with("-----BEGIN CERTIFICATE REQUEST-----\n"));
    }
}

#[wasm_bindgen_test]
fn certificate_inspection_reports_names_serial_dates_issuer_and_ari_id() {
    let info = inspect_certificate(CHAIN_PEM).unwrap();
    assert_eq!(json(&get(&info, "names")), r#"["example.com","www.example.com","192.0.2.7"]"#);
    assert_eq!(get(&info, "serial").as_string().unwrap(), "c0ffee0123456789");
    assert_eq!(get(&info, "issuer").as_string().unwrap(), "CN=Test Root\\, Inc.,O=edge-acme tests,C=DE");
    assert_eq!(get(&info, "ariCertId").as_string().unwrap(), "gQp0LOCjOuy_iAuHr2VRCYRrHo4.AMD_7gEjRWeJ");
    assert_eq!(get(&info, "notBefore").as_string().unwrap(), "2026-12-04T17:05:05Z");
    assert_eq!(get(&info, "notAfter").as_string().unwrap(), "2027-03-04T17:05:05Z");
    assert_eq!(get(&info, "chainLength").as_f64(), Some(2.0));
    assert_eq!(get(&info, "isCa").as_bool(), Some(false));
    assert_eq!(pem_certificates(CHAIN_PEM).length(), 2);
}

#[wasm_bindgen_test]
fn errors_are_js_errors_with_the_problem_type() {
    let err = import_key_pem("-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n").unwrap_err();
    assert!(err.is_instance_of::<js_sys::Error>());
    assert_eq!(get(&err, "name").as_string().unwrap(), "AcmeError");
    assert_eq!(get(&err, "type").as_string().unwrap(), "urn:ietf:params:acme:error:malformed");
    assert_eq!(get(&err, "status").as_f64(), Some(400.0));
    let err = import_key_jwk(r#"{"kty":"EC","crv":"P-192","d":"AA"}"#).unwrap_err();
    assert_eq!(get(&err, "type").as_string().unwrap(), "urn:ietf:params:acme:error:badPublicKey");
    let err = inspect_certificate("no certificate").unwrap_err();
    assert_eq!(get(&err, "type").as_string().unwrap(), "urn:ietf:params:acme:error:malformed");
}

#[wasm_bindgen_test]
fn key_authorization_and_dns01_value_follow_rfc_8555() {
    let key = generate_key("Ed25519").unwrap();
    let ka = key_authorization("tok-1", &json(&key.public_jwk())).unwrap();
    assert_eq!(ka, format!("tok-1.{}", key.thumbprint()));
    use sha2::Digest;
    assert_eq!(dns01_txt_value(&ka), edge_acme_core::b64::encode(&sha2::Sha256::digest(ka.as_bytes())));
}
