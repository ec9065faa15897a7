//! # edge-acme-js
//!
//! The wasm-bindgen layer of the `edge-acme` npm package: the parts of an ACME client
//! that need cryptography or ASN.1 (keys, JWS, external account binding, key
//! authorizations, CSRs, certificate inspection), taken from `edge-acme-core` so the
//! browser, Node, Deno and Workers run the exact code the server runs.
//!
//! ## What this crate does not do
//! No I/O. It never calls `fetch()`, reads files or keeps state between calls apart
//! from the keys a caller holds. The ACME protocol flow (directory, nonces, polling,
//! Retry-After) is the TypeScript client in `src/client.ts`, on top of these functions.
//!
//! ## Shape of the exports
//! The JavaScript wrapper (`src/wasm.ts`) gives the functions their documented names and
//! types; the raw exports here take and return plain values: strings, `Uint8Array`s,
//! JSON-shaped objects (built with `JSON.parse` of `serde_json` output, which keeps
//! serde-wasm-bindgen out of the binary) and the [`PrivateKey`] handle. Errors are JS
//! `Error`s carrying the RFC 8555 problem `type`, `status` and `detail` (see [`error`]).
//!
//! The only randomness is key generation, from `getrandom`'s Web Crypto backend
//! (`crypto.getRandomValues`); signatures are deterministic (RFC 6979, Ed25519, RS256).

// `Problem` is the crate-wide error type; its size is core's decision.
#![allow(clippy::result_large_err)]

pub mod cert;
pub mod csr;
pub mod error;
pub mod key;

use edge_acme_core::jose::{sign_flattened, Alg, Jwk, SignerRef};
use edge_acme_core::{eab, keyauth, Problem};
use wasm_bindgen::prelude::*;

pub use key::PrivateKey;

use error::{to_js, JsResult};

/// Parses a JSON text from the wrapper into a value (the wrapper passes objects as JSON).
fn json_arg(text: &str, what: &str) -> Result<serde_json::Value, Problem> {
    serde_json::from_str(text).map_err(|e| Problem::malformed(format!("{what} is not JSON: {e}")))
}

/// Turns a `serde_json` value into a plain JS object.
fn to_object(v: &serde_json::Value) -> JsValue {
    // Serializing a Value cannot fail, and JSON.parse of serde_json output cannot either.
    js_sys::JSON::parse(&v.to_string()).unwrap_or(JsValue::NULL)
}

/// A public JWK from its JSON text, under the same key policy a server applies.
fn public_jwk(jwk_json: &str) -> Result<Jwk, Problem> {
    Jwk::from_value(&json_arg(jwk_json, "JWK")?)
}

/// Generates a P-256, P-384, P-521 or Ed25519 private key from `crypto.getRandomValues`.
#[wasm_bindgen(js_name = generateKey)]
pub fn generate_key(kind: &str) -> JsResult<PrivateKey> {
    PrivateKey::generate(kind).map_err(to_js)
}

/// Imports a PEM private key (PKCS#8 `PRIVATE KEY`, SEC1 `EC PRIVATE KEY`, PKCS#1 `RSA PRIVATE KEY`).
#[wasm_bindgen(js_name = importKeyPem)]
pub fn import_key_pem(pem: &str) -> JsResult<PrivateKey> {
    PrivateKey::from_pem(pem).map_err(to_js)
}

/// Imports a private JWK given as JSON text (EC, OKP Ed25519 or RSA with CRT parameters).
#[wasm_bindgen(js_name = importKeyJwk)]
pub fn import_key_jwk(jwk_json: &str) -> JsResult<PrivateKey> {
    json_arg(jwk_json, "JWK").and_then(|v| PrivateKey::from_jwk(&v)).map_err(to_js)
}

/// Imports a PKCS#8 DER private key.
#[wasm_bindgen(js_name = importKeyPkcs8)]
pub fn import_key_pkcs8(der: &[u8]) -> JsResult<PrivateKey> {
    PrivateKey::from_pkcs8_der(der).map_err(to_js)
}

/// The RFC 7638 thumbprint (base64url SHA-256) of a public JWK given as JSON text.
#[wasm_bindgen(js_name = jwkThumbprint)]
pub fn jwk_thumbprint(jwk_json: &str) -> JsResult<String> {
    public_jwk(jwk_json).map(|j| j.thumbprint()).map_err(to_js)
}

/// Normalizes a public JWK (JSON text) to its required members, after checking it.
#[wasm_bindgen(js_name = publicJwk)]
pub fn public_jwk_object(jwk_json: &str) -> JsResult<JsValue> {
    public_jwk(jwk_json).map(|j| to_object(&j.to_value())).map_err(to_js)
}

/// Signs a flattened JWS (RFC 8555 §6.2): `kid` when given, else the embedded `jwk`.
/// An empty payload is POST-as-GET.
#[wasm_bindgen(js_name = signJws)]
pub fn sign_jws(key: &PrivateKey, url: &str, nonce: Option<String>, kid: Option<String>, payload: &[u8]) -> JsValue {
    let signer = match kid.as_deref() {
        Some(k) => SignerRef::Kid(k),
        None => SignerRef::Jwk,
    };
    to_object(&sign_flattened(key.inner(), signer, nonce.as_deref(), url, payload))
}

/// Builds the `externalAccountBinding` JWS for newAccount (RFC 8555 §7.3.4).
/// `mac_key` is the base64url key as the CA hands it out (padding tolerated); `alg` is
/// HS256 (the default), HS384 or HS512.
#[wasm_bindgen(js_name = eabBinding)]
pub fn eab_binding(
    eab_kid: &str,
    mac_key: &str,
    account_jwk_json: &str,
    new_account_url: &str,
    alg: Option<String>,
) -> JsResult<JsValue> {
    let run = || -> Result<JsValue, Problem> {
        let key = eab::decode_mac_key(mac_key)?;
        let alg = match alg.as_deref().unwrap_or("HS256") {
            "HS256" => Alg::HS256,
            "HS384" => Alg::HS384,
            "HS512" => Alg::HS512,
            other => return Err(Problem::malformed(format!("EAB alg {other:?} is not HS256, HS384 or HS512"))),
        };
        let jwk = public_jwk(account_jwk_json)?;
        Ok(to_object(&eab::sign_binding(eab_kid, &key, alg, &jwk, new_account_url)))
    };
    run().map_err(to_js)
}

/// The key authorization `token.thumbprint` (RFC 8555 §8.1) for a public JWK (JSON text).
#[wasm_bindgen(js_name = keyAuthorization)]
pub fn key_authorization(token: &str, jwk_json: &str) -> JsResult<String> {
    public_jwk(jwk_json).map(|j| keyauth::key_authorization(token, &j)).map_err(to_js)
}

/// The dns-01 TXT record value: base64url SHA-256 of the key authorization (RFC 8555 §8.4).
#[wasm_bindgen(js_name = dns01TxtValue)]
pub fn dns01_txt_value(key_authorization: &str) -> String {
    keyauth::dns01_txt_value(key_authorization)
}

/// A DER PKCS#10 CSR for `names` (DNS names and IP addresses), signed by `key`.
#[wasm_bindgen(js_name = createCsr)]
pub fn create_csr(key: &PrivateKey, names: Vec<String>) -> JsResult<Vec<u8>> {
    csr::build(key.inner(), &names).map_err(to_js)
}

/// PEM-encodes DER bytes under `label` (`CERTIFICATE REQUEST`, `CERTIFICATE`, ...).
#[wasm_bindgen(js_name = derToPem)]
pub fn der_to_pem(label: &str, der: &[u8]) -> JsResult<String> {
    der::pem::encode_string(label, der::pem::LineEnding::LF, der)
        .map_err(|e| to_js(Problem::malformed(format!("PEM encoding: {e}"))))
}

/// The DER certificates of a PEM bundle, in order.
#[wasm_bindgen(js_name = pemCertificates)]
pub fn pem_certificates(pem: &str) -> js_sys::Array {
    edge_acme_core::ca::cert::pem_to_ders(pem)
        .iter()
        .map(|d| JsValue::from(js_sys::Uint8Array::from(d.as_slice())))
        .collect()
}

/// Facts about the first certificate of a PEM bundle (see [`cert::summary`]).
#[wasm_bindgen(js_name = inspectCertificate)]
pub fn inspect_certificate(pem: &str) -> JsResult<JsValue> {
    cert::summary_of_pem(pem).map(|v| to_object(&v)).map_err(to_js)
}

/// Like [`inspect_certificate`] for one DER certificate.
#[wasm_bindgen(js_name = inspectCertificateDer)]
pub fn inspect_certificate_der(der: &[u8]) -> JsResult<JsValue> {
    cert::summary(der).map(|v| to_object(&v)).map_err(to_js)
}

/// `Reflect.set` for building result objects; setting a property on a fresh plain
/// object cannot fail.
pub(crate) fn set(obj: &js_sys::Object, name: &str, value: &JsValue) {
    let _ = js_sys::Reflect::set(obj, &JsValue::from_str(name), value);
}
