//! Prints JWS and EAB objects signed by core, one per key kind and MAC algorithm, as JSON.
//!
//! `tests/interop/test_core_vectors.py` (josepy/acme) and `tests/interop/verify_core.test.mjs`
//! (npm jose) verify them and compare thumbprints; `scripts/test.sh interop` runs all three.
//! Keys are fresh on every run (EC and Ed25519 from the OS random source); the RSA key is
//! core's 2048-bit test key, because core does not generate RSA keys.
//!
//! Usage: `cargo run -p edge-acme-core --example emit_vectors > core.json`

use std::io::Read;

use edge_acme_core::b64;
use edge_acme_core::eab::sign_binding;
use edge_acme_core::jose::{sign_flattened, Alg, KeyKind, SignerRef, SigningKey};
use serde_json::{json, Value};

const ORDER_URL: &str = "https://acme.test/acme/new-order";
const NEW_ACCOUNT_URL: &str = "https://acme.test/acme/new-account";
const ACCOUNT_KID: &str = "https://acme.test/acme/acct/Qe3x";
const RSA_TEST_KEY: &[u8] = include_bytes!("../src/jose/testdata/rsa2048.pk8.der");

fn random(buf: &mut [u8]) {
    std::fs::File::open("/dev/urandom").and_then(|mut f| f.read_exact(buf)).expect("read /dev/urandom");
}

fn jws_vector(name: &str, key: &SigningKey, kid: Option<&str>, payload: Option<&Value>) -> Value {
    let mut nonce = [0u8; 16];
    random(&mut nonce);
    let nonce = b64::encode(&nonce);
    let signer = kid.map_or(SignerRef::Jwk, SignerRef::Kid);
    let bytes = payload.map(|p| serde_json::to_vec(p).unwrap()).unwrap_or_default();
    let jwk = key.public_jwk();
    json!({
        "name": name,
        "alg": key.alg().name(),
        "jws": sign_flattened(key, signer, Some(&nonce), ORDER_URL, &bytes),
        "jwk": jwk.to_value(),
        "thumbprint": jwk.thumbprint(),
        "url": ORDER_URL,
        "nonce": nonce,
        "kid": kid,
        "payload": payload,
    })
}

fn main() {
    let payload = json!({"identifiers": [{"type": "dns", "value": "core.example.com"}]});
    let mut keys = Vec::new();
    for kind in [KeyKind::P256, KeyKind::P384, KeyKind::P521, KeyKind::Ed25519] {
        keys.push(SigningKey::from_random_bytes(kind, &mut random).expect("key generation"));
    }
    keys.push(SigningKey::from_pkcs8_der(RSA_TEST_KEY).expect("RSA test key"));

    let mut jws = Vec::new();
    for key in &keys {
        let alg = key.alg().name();
        jws.push(jws_vector(&format!("core-{alg}-jwk"), key, None, Some(&payload)));
        jws.push(jws_vector(&format!("core-{alg}-kid"), key, Some(ACCOUNT_KID), Some(&payload)));
    }
    for key in &keys[..2] {
        let alg = key.alg().name();
        jws.push(jws_vector(&format!("core-{alg}-post-as-get"), key, Some(ACCOUNT_KID), None));
    }

    let mut eab = Vec::new();
    for (alg, size) in [(Alg::HS256, 32), (Alg::HS384, 48), (Alg::HS512, 64)] {
        for account in [&keys[0], &keys[4]] {
            let mut mac_key = vec![0u8; size];
            random(&mut mac_key);
            let kid = format!("kid-{}-{}", alg.name().to_lowercase(), account.alg().name().to_lowercase());
            let jwk = account.public_jwk();
            eab.push(json!({
                "name": format!("core-{}-{}", alg.name(), account.alg().name()),
                "alg": alg.name(),
                "binding": sign_binding(&kid, &mac_key, alg, &jwk, NEW_ACCOUNT_URL),
                "account_jwk": jwk.to_value(),
                "mac_key": b64::encode(&mac_key),
                "kid": kid,
                "url": NEW_ACCOUNT_URL,
            }));
        }
    }

    let doc = json!({"generator": "edge-acme-core emit_vectors", "jws": jws, "eab": eab});
    println!("{}", serde_json::to_string_pretty(&doc).unwrap());
}
