//! JWS and EAB objects produced by independent implementations verify in core.
//!
//! The objects come from `tests/interop/gen_vectors.py` (josepy and acme, the libraries
//! behind certbot) and `tests/interop/gen_vectors.mjs` (npm `jose`, on WebCrypto). By
//! default the committed fixtures in `tests/interop/fixtures/` are read; `scripts/test.sh`
//! generates fresh ones (new keys, new signatures) into `target/interop/` and points
//! `EDGE_ACME_INTEROP_DIR` there. A missing file fails the test: it never skips.
//!
//! The reverse direction (objects signed by core, verified by those libraries) is
//! `core/examples/emit_vectors.rs` with `tests/interop/test_core_vectors.py` and
//! `tests/interop/verify_core.test.mjs`.
#![cfg(not(target_arch = "wasm32"))]

use std::collections::BTreeSet;
use std::path::PathBuf;

use edge_acme_core::eab::{decode_mac_key, parse_binding};
use edge_acme_core::jose::{parse_flattened, Jwk, KeyRef};
use edge_acme_core::ProblemType;
use serde_json::Value;

/// The generator outputs every run must have, one per peer implementation.
const PEERS: [&str; 2] = ["josepy.json", "npm-jose.json"];

fn fixture_dir() -> PathBuf {
    match std::env::var_os("EDGE_ACME_INTEROP_DIR") {
        Some(dir) => PathBuf::from(dir),
        None => PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../tests/interop/fixtures"),
    }
}

/// Every vector document of every peer, as `(file name, document)`.
fn documents() -> Vec<(String, Value)> {
    let dir = fixture_dir();
    PEERS
        .iter()
        .map(|name| {
            let path = dir.join(name);
            let text = std::fs::read_to_string(&path).unwrap_or_else(|e| {
                panic!("interop fixture {} is missing ({e}); run scripts/test.sh interop", path.display())
            });
            let doc: Value = serde_json::from_str(&text).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
            ((*name).to_string(), doc)
        })
        .collect()
}

/// `(peer file, vector)` for each entry of the `jws` or `eab` list of every document.
fn vectors(list: &str) -> Vec<(String, Value)> {
    let mut out = Vec::new();
    for (file, doc) in documents() {
        let items = doc[list].as_array().unwrap_or_else(|| panic!("{file}: no \"{list}\" array"));
        assert!(!items.is_empty(), "{file}: empty \"{list}\" list");
        out.extend(items.iter().map(|v| (file.clone(), v.clone())));
    }
    out
}

fn name(v: &Value) -> String {
    v["name"].as_str().unwrap_or("<unnamed>").to_string()
}

fn jwk(v: &Value, member: &str) -> Jwk {
    Jwk::from_value(&v[member]).unwrap_or_else(|p| panic!("{}: {member} rejected: {p:?}", name(v)))
}

/// Runs `check` on every vector and fails once, listing every vector that failed.
fn check_all(list: &str, check: impl Fn(&Value) -> Result<(), String>) -> usize {
    let all = vectors(list);
    let failures: Vec<String> =
        all.iter().filter_map(|(file, v)| check(v).err().map(|e| format!("{file} {}: {e}", name(v)))).collect();
    assert!(failures.is_empty(), "{} of {} failed:\n{}", failures.len(), all.len(), failures.join("\n"));
    all.len()
}

#[test]
fn peer_fixtures_cover_every_algorithm_core_accepts() {
    let algs =
        |list: &str| vectors(list).iter().map(|(_, v)| v["alg"].as_str().unwrap().to_string()).collect::<BTreeSet<_>>();
    let want_jws: BTreeSet<String> = ["RS256", "PS256", "ES256", "ES384", "ES512", "EdDSA"].map(String::from).into();
    let want_eab: BTreeSet<String> = ["HS256", "HS384", "HS512"].map(String::from).into();
    assert_eq!(algs("jws"), want_jws);
    assert_eq!(algs("eab"), want_eab);
}

#[test]
fn peer_jws_objects_verify_in_core() {
    check_all("jws", |v| {
        let body = serde_json::to_vec(&v["jws"]).unwrap();
        let jws = parse_flattened(&body).map_err(|p| format!("parse: {p:?}"))?;
        let key = jwk(v, "jwk");
        jws.verify(&key).map_err(|p| format!("verify: {p:?}"))?;
        let h = &jws.header;
        if h.alg.name() != v["alg"] || h.url != v["url"] || h.nonce.as_deref() != v["nonce"].as_str() {
            return Err(format!("header differs: {h:?}"));
        }
        match (&h.key, v["kid"].as_str()) {
            (KeyRef::Jwk(embedded), None) if *embedded == key => {}
            (KeyRef::Kid(kid), Some(want)) if kid == want => {}
            (got, want) => return Err(format!("key reference {got:?}, expected kid {want:?}")),
        }
        let payload = jws.payload_json().map_err(|p| format!("payload: {p:?}"))?;
        let expected = if v["payload"].is_null() { None } else { Some(v["payload"].clone()) };
        if payload != expected {
            return Err(format!("payload {payload:?}, expected {expected:?}"));
        }
        Ok(())
    });
}

#[test]
fn peer_jws_with_a_changed_payload_fails_verification_as_malformed() {
    check_all("jws", |v| {
        let mut obj = v["jws"].clone();
        obj["payload"] = Value::String(edge_acme_core::b64::encode(br#"{"status":"deactivated"}"#));
        let jws = parse_flattened(&serde_json::to_vec(&obj).unwrap()).map_err(|p| format!("parse: {p:?}"))?;
        match jws.verify(&jwk(v, "jwk")) {
            Err(p) if p.kind == ProblemType::Malformed => Ok(()),
            other => Err(format!("expected malformed, got {other:?}")),
        }
    });
}

#[test]
fn peer_thumbprints_equal_core_thumbprints() {
    check_all("jws", |v| {
        let ours = jwk(v, "jwk").thumbprint();
        if ours == v["thumbprint"] {
            Ok(())
        } else {
            Err(format!("core {ours} != peer {}", v["thumbprint"]))
        }
    });
}

#[test]
fn peer_eab_bindings_verify_in_core() {
    check_all("eab", |v| {
        let account = jwk(v, "account_jwk");
        let url = v["url"].as_str().unwrap();
        let binding = parse_binding(&v["binding"], &account, url).map_err(|p| format!("parse: {p:?}"))?;
        if binding.key_id != v["kid"] || binding.alg.name() != v["alg"] {
            return Err(format!("kid {} alg {}", binding.key_id, binding.alg.name()));
        }
        let mac_key = decode_mac_key(v["mac_key"].as_str().unwrap()).map_err(|p| format!("{p:?}"))?;
        binding.verify(&mac_key).map_err(|p| format!("verify: {p:?}"))
    });
}

#[test]
fn peer_eab_bindings_with_another_mac_key_are_unauthorized() {
    check_all("eab", |v| {
        let binding = parse_binding(&v["binding"], &jwk(v, "account_jwk"), v["url"].as_str().unwrap())
            .map_err(|p| format!("parse: {p:?}"))?;
        let mut mac_key = decode_mac_key(v["mac_key"].as_str().unwrap()).unwrap();
        mac_key[0] ^= 1;
        match binding.verify(&mac_key) {
            Err(p) if p.kind == ProblemType::Unauthorized => Ok(()),
            other => Err(format!("expected unauthorized, got {other:?}")),
        }
    });
}

#[test]
fn peer_eab_bindings_for_another_url_are_unauthorized() {
    check_all("eab", |v| match parse_binding(&v["binding"], &jwk(v, "account_jwk"), "https://acme.test/acme/other") {
        Err(p) if p.kind == ProblemType::Unauthorized => Ok(()),
        other => Err(format!("expected unauthorized, got {other:?}")),
    });
}
