//! In-process tests of the request pipeline, nonces, accounts, EAB and key change,
//! through the engine's plain request/response interface.

use alloc::boxed::Box;
use alloc::format;
use alloc::string::{String, ToString};
use alloc::vec;
use alloc::vec::Vec;
use serde_json::{json, Value};

use super::paths;
use super::Request;
use crate::eab::sign_binding;
use crate::jose::{sign_flattened, Alg, KeyKind, SignerRef, SigningKey};
use crate::testkit::*;

const RSA_A: &[u8] = include_bytes!("../testdata/rsa2048.pk8.der");
const RSA_B: &[u8] = include_bytes!("../testdata/rsa2048-b.pk8.der");

fn get(ca: &TestCa, method: &str, path: &str) -> super::Response {
    ca.handle(&Request { method: method.into(), path: path.into(), ..Default::default() })
}

fn agree() -> Value {
    json!({"termsOfServiceAgreed": true, "contact": ["mailto:ops@example.com"]})
}

fn registered(ca: &TestCa, kind: KeyKind) -> TestClient<'_> {
    let mut c = TestClient::new(ca, ca.key(kind));
    let r = c.new_account(&agree());
    assert_eq!(r.status, 201, "{}", String::from_utf8_lossy(&r.body));
    c
}

fn eab_payload(ca: &TestCa, key: &SigningKey, kid: &str, mac_b64: &str) -> Value {
    let mac = crate::eab::decode_mac_key(mac_b64).unwrap();
    let binding = sign_binding(kid, &mac, Alg::HS256, &key.public_jwk(), &ca.config.url(paths::NEW_ACCOUNT));
    json!({"termsOfServiceAgreed": true, "externalAccountBinding": binding})
}

fn usage(ca: &TestCa, kid: &str) -> (u64, u64) {
    let rec = block_on(crate::ra::eab::get(&ca.store, kid)).unwrap().unwrap();
    block_on(crate::ra::eab::usage(&ca.store, &rec)).unwrap()
}

fn new_credential(ca: &TestCa) -> crate::ra::eab::IssuedMacKey {
    block_on(crate::ra::eab::create(&ca.store, &ca.config.eab, ca.clock.0.get(), ca.rng, "test")).unwrap()
}

#[test]
fn directory_lists_every_resource_with_absolute_urls_and_meta() {
    let mut ca = TestCa::new();
    ca.config.terms_of_service = Some("https://ca.test/tos".into());
    ca.config.caa_identities = vec!["ca.test".into()];
    ca.config.eab.required = true;
    let r = get(&ca, "GET", "/directory");
    assert_eq!(r.status, 200);
    let d = body_json(&r);
    for (k, p) in [
        ("newNonce", paths::NEW_NONCE),
        ("newAccount", paths::NEW_ACCOUNT),
        ("newOrder", paths::NEW_ORDER),
        ("newAuthz", paths::NEW_AUTHZ),
        ("revokeCert", paths::REVOKE_CERT),
        ("keyChange", paths::KEY_CHANGE),
        ("renewalInfo", paths::RENEWAL_INFO),
    ] {
        assert_eq!(d[k], format!("https://ca.test{p}"), "{k}");
    }
    assert_eq!(d["meta"]["termsOfService"], "https://ca.test/tos");
    assert_eq!(d["meta"]["externalAccountRequired"], true);
    assert_eq!(d["meta"]["caaIdentities"][0], "ca.test");
    assert!(d["meta"]["profiles"]["classic"].is_string());
    assert!(d["meta"]["profiles"]["shortlived"].is_string());
}

#[test]
fn new_nonce_answers_head_200_and_get_204_without_caching() {
    let ca = TestCa::new();
    let h = get(&ca, "HEAD", paths::NEW_NONCE);
    let g = get(&ca, "GET", paths::NEW_NONCE);
    assert_eq!((h.status, g.status), (200, 204));
    for r in [&h, &g] {
        assert_eq!(r.header("Cache-Control"), Some("no-store"));
        assert!(r.header("Replay-Nonce").is_some_and(|n| n.len() >= 22));
    }
    assert_ne!(h.header("Replay-Nonce"), g.header("Replay-Nonce"));
    assert_eq!(get(&ca, "POST", paths::NEW_NONCE).status, 405);
}

#[test]
fn every_response_carries_a_fresh_nonce_and_the_index_link_errors_included() {
    let ca = TestCa::new();
    let mut seen = Vec::new();
    for (m, p) in [("GET", "/directory"), ("GET", "/nope"), ("GET", "/acme/acct/x"), ("HEAD", paths::NEW_NONCE)] {
        let r = get(&ca, m, p);
        let n = r.header("Replay-Nonce").expect("nonce").to_string();
        assert!(!seen.contains(&n));
        seen.push(n);
        assert!(r.header_all("Link").contains(&"<https://ca.test/directory>;rel=\"index\""), "{p}");
    }
    let r = get(&ca, "GET", "/nope");
    assert_eq!(r.status, 404);
    assert_eq!(r.header("Content-Type"), Some("application/problem+json"));
}

#[test]
fn plain_get_on_post_as_get_resources_is_405_with_allow() {
    let ca = TestCa::new();
    for p in ["/acme/acct/x", "/acme/order/a/o", "/acme/authz/a/z", "/acme/cert/01", paths::NEW_ACCOUNT] {
        let r = get(&ca, "GET", p);
        assert_eq!(r.status, 405, "{p}");
        assert_eq!(r.header("Allow"), Some("POST"));
        assert_eq!(problem_name(&r), "blank");
    }
}

#[test]
fn new_account_creates_201_with_location_and_returns_200_for_the_same_key() {
    let ca = TestCa::new();
    let mut c = TestClient::new(&ca, ca.key(KeyKind::P256));
    let r = c.new_account(&agree());
    assert_eq!(r.status, 201);
    let loc = r.header("Location").unwrap().to_string();
    assert!(loc.starts_with("https://ca.test/acme/acct/"));
    let v = body_json(&r);
    assert_eq!(v["status"], "valid");
    assert_eq!(v["contact"][0], "mailto:ops@example.com");
    assert_eq!(v["orders"], format!("{loc}/orders"));
    let again = c.new_account(&json!({}));
    assert_eq!(again.status, 200);
    assert_eq!(again.header("Location"), Some(loc.as_str()));
    // An account without a binding is its own tenant, listed as such.
    let id = loc.rsplit('/').next().unwrap().to_string();
    // "id" comes first and is followed by a comma (acme.sh's `"id" *: *[^,]*,`).
    assert!(String::from_utf8_lossy(&r.body).starts_with(&format!("{{\"id\":\"{id}\",")));
    assert_eq!(block_on(crate::ra::eab::tenant_accounts(&ca.store, &id)).unwrap(), vec![id.clone()]);
}

#[test]
fn account_keys_of_every_supported_algorithm_register() {
    let ca = TestCa::new();
    let keys = vec![
        ca.key(KeyKind::P256),
        ca.key(KeyKind::P384),
        ca.key(KeyKind::P521),
        ca.key(KeyKind::Ed25519),
        SigningKey::from_pkcs8_der(RSA_A).unwrap(),
    ];
    let mut locations = Vec::new();
    for k in keys {
        let alg = k.alg();
        let mut c = TestClient::new(&ca, k);
        let r = c.new_account(&agree());
        assert_eq!(r.status, 201, "{alg:?}: {}", String::from_utf8_lossy(&r.body));
        let r = c.post(c.path_of(&c.kid.clone().unwrap()), None);
        assert_eq!(r.status, 200, "{alg:?} POST-as-GET");
        locations.push(c.kid.unwrap());
    }
    locations.dedup();
    assert_eq!(locations.len(), 5);
}

#[test]
fn only_return_existing_finds_the_account_or_answers_account_does_not_exist() {
    let ca = TestCa::new();
    let mut c = TestClient::new(&ca, ca.key(KeyKind::P256));
    let r = c.new_account(&json!({"onlyReturnExisting": true}));
    assert_eq!(r.status, 400);
    assert_eq!(problem_name(&r), "accountDoesNotExist");
    let created = c.new_account(&agree());
    let r = c.new_account(&json!({"onlyReturnExisting": true}));
    assert_eq!(r.status, 200);
    assert_eq!(r.header("Location"), created.header("Location"));
}

#[test]
fn contacts_are_validated_with_invalid_and_unsupported_contact() {
    let ca = TestCa::new();
    let mut c = TestClient::new(&ca, ca.key(KeyKind::P256));
    let r = c.new_account(&json!({"contact": ["tel:+15551234"]}));
    assert_eq!(problem_name(&r), "unsupportedContact");
    let r = c.new_account(&json!({"contact": ["mailto:not-an-address"]}));
    assert_eq!(problem_name(&r), "invalidContact");
    let many: Vec<String> = (0..9).map(|i| format!("mailto:a{i}@example.com")).collect();
    let r = c.new_account(&json!({ "contact": many }));
    assert_eq!(problem_name(&r), "invalidContact");
    let r = c.new_account(&json!({"contact": "mailto:a@example.com"}));
    assert_eq!(problem_name(&r), "malformed");
}

#[test]
fn terms_of_service_must_be_agreed_when_configured() {
    let mut ca = TestCa::new();
    ca.config.terms_of_service = Some("https://ca.test/tos".into());
    let mut c = TestClient::new(&ca, ca.key(KeyKind::P256));
    let r = c.new_account(&json!({}));
    assert_eq!(r.status, 403);
    assert_eq!(problem_name(&r), "userActionRequired");
    assert_eq!(body_json(&r)["instance"], "https://ca.test/tos");
    assert_eq!(c.new_account(&json!({"termsOfServiceAgreed": true})).status, 201);
}

#[test]
fn pipeline_rejects_wrong_content_type_size_url_and_key_form() {
    let ca = TestCa::new();
    let c = registered(&ca, KeyKind::P256);
    let acct_path = c.path_of(c.kid.as_ref().unwrap()).to_string();

    let mut req = jose_request(&acct_path, &c.sign(&acct_path, None));
    req.headers[0].1 = "application/json".into();
    let r = c.send(&req);
    assert_eq!((r.status, problem_name(&r).as_str()), (415, "malformed"));

    let big = json!({"contact": ["mailto:".to_string() + &"a".repeat(70_000) + "@example.com"]});
    let r = c.post(&acct_path, Some(&big));
    assert_eq!((r.status, problem_name(&r).as_str()), (413, "malformed"));

    // Signed for one URL, sent to another.
    let body = c.sign(&acct_path, None);
    let r = c.send(&jose_request(&format!("{acct_path}/orders"), &body));
    assert_eq!(problem_name(&r), "unauthorized");

    // jwk on an account resource.
    let nonce = ca.nonce();
    let body = sign_flattened(&c.key, SignerRef::Jwk, Some(&nonce), &ca.config.url(&acct_path), b"");
    assert_eq!(problem_name(&c.send(&jose_request(&acct_path, &body))), "malformed");

    // kid on newAccount.
    let nonce = ca.nonce();
    let kid = c.kid.clone().unwrap();
    let body = sign_flattened(&c.key, SignerRef::Kid(&kid), Some(&nonce), &ca.config.url(paths::NEW_ACCOUNT), b"{}");
    assert_eq!(problem_name(&c.send(&jose_request(paths::NEW_ACCOUNT, &body))), "malformed");

    // kid naming no account, and a kid that is not an account URL.
    for bogus in ["https://ca.test/acme/acct/doesnotexist", "https://other.test/acme/acct/x"] {
        let nonce = ca.nonce();
        let body = sign_flattened(&c.key, SignerRef::Kid(bogus), Some(&nonce), &ca.config.url(&acct_path), b"");
        assert_eq!(problem_name(&c.send(&jose_request(&acct_path, &body))), "accountDoesNotExist");
    }

    // Signature by a different key than the account's.
    let other = ca.key(KeyKind::P256);
    let nonce = ca.nonce();
    let body = sign_flattened(&other, SignerRef::Kid(&kid), Some(&nonce), &ca.config.url(&acct_path), b"");
    assert_eq!(problem_name(&c.send(&jose_request(&acct_path, &body))), "malformed");

    // POST-as-GET where a payload is needed, and vice versa.
    let r = c.post(paths::NEW_ACCOUNT, None);
    assert_eq!(problem_name(&r), "malformed");
    let r = c.post(&format!("{acct_path}/orders"), Some(&json!({})));
    assert_eq!(problem_name(&r), "malformed");
}

#[test]
fn replayed_nonce_is_rejected_with_bad_nonce_and_a_fresh_nonce() {
    let ca = TestCa::new();
    let c = registered(&ca, KeyKind::P256);
    let path = c.path_of(c.kid.as_ref().unwrap()).to_string();
    let body = c.sign(&path, None);
    assert_eq!(c.send(&jose_request(&path, &body)).status, 200);
    let r = c.send(&jose_request(&path, &body));
    assert_eq!((r.status, problem_name(&r).as_str()), (400, "badNonce"));
    // acme.sh retries a badNonce only when the detail carries this phrase.
    assert!(body_json(&r)["detail"].as_str().unwrap().starts_with("JWS has an invalid anti-replay nonce"));
    let fresh = r.header("Replay-Nonce").unwrap().to_string();
    // The nonce from the error response works at once.
    let body =
        sign_flattened(&c.key, SignerRef::Kid(c.kid.as_ref().unwrap()), Some(&fresh), &ca.config.url(&path), b"");
    assert_eq!(c.send(&jose_request(&path, &body)).status, 200);
}

#[test]
fn unknown_missing_malformed_and_expired_nonces_get_bad_nonce() {
    let ca = TestCa::new();
    let c = registered(&ca, KeyKind::P256);
    let kid = c.kid.clone().unwrap();
    let path = c.path_of(&kid).to_string();
    let url = ca.config.url(&path);
    for nonce in [Some("AAAAAAAAAAAAAAAAAAAAAA"), None, Some("not base64!"), Some("")] {
        let body = sign_flattened(&c.key, SignerRef::Kid(&kid), nonce, &url, b"");
        let r = c.send(&jose_request(&path, &body));
        assert_eq!(problem_name(&r), "badNonce", "{nonce:?}");
    }
    let stale = ca.nonce();
    ca.clock.advance(crate::nonce::NONCE_LIFETIME_SECS + 1);
    let body = sign_flattened(&c.key, SignerRef::Kid(&kid), Some(&stale), &url, b"");
    assert_eq!(problem_name(&c.send(&jose_request(&path, &body))), "badNonce");
}

#[test]
fn a_fresh_nonce_is_never_rejected() {
    let ca = TestCa::new();
    let c = registered(&ca, KeyKind::P256);
    let path = c.path_of(c.kid.as_ref().unwrap()).to_string();
    // Many nonces outstanding at once, redeemed in reverse order.
    let nonces: Vec<String> = (0..300).map(|_| ca.nonce()).collect();
    let url = ca.config.url(&path);
    for n in nonces.iter().rev() {
        let body = sign_flattened(&c.key, SignerRef::Kid(c.kid.as_ref().unwrap()), Some(n), &url, b"");
        assert_eq!(c.send(&jose_request(&path, &body)).status, 200);
    }
}

#[test]
fn account_update_changes_contact_and_deactivation_locks_the_account() {
    let ca = TestCa::new();
    let mut c = registered(&ca, KeyKind::Ed25519);
    let path = c.path_of(c.kid.as_ref().unwrap()).to_string();
    let r = c.post(&path, Some(&json!({"contact": ["mailto:new@example.org"]})));
    assert_eq!(r.status, 200);
    assert_eq!(body_json(&r)["contact"][0], "mailto:new@example.org");
    let r = c.post(&path, Some(&json!({"contact": ["ftp://x"]})));
    assert_eq!(problem_name(&r), "unsupportedContact");
    let r = c.post(&path, Some(&json!({"status": "revoked"})));
    assert_eq!(problem_name(&r), "malformed");
    let r = c.post(&path, Some(&json!({"status": "deactivated"})));
    assert_eq!(r.status, 200);
    assert_eq!(body_json(&r)["status"], "deactivated");
    // RFC 8555 §7.3.6: POST and POST-as-GET from a deactivated account get 401 unauthorized.
    for p in [Some(json!({})), None] {
        let r = c.post(&path, p.as_ref());
        assert_eq!((r.status, problem_name(&r).as_str()), (401, "unauthorized"));
    }
    let r = c.post(paths::NEW_ORDER, Some(&json!({"identifiers": [{"type": "dns", "value": "example.com"}]})));
    assert_eq!((r.status, problem_name(&r).as_str()), (401, "unauthorized"));
    // The key stays bound to the deactivated account: newAccount (also with
    // onlyReturnExisting) is a request from that account too, so it gets the same 401.
    let r = c.new_account(&agree());
    assert_eq!((r.status, problem_name(&r).as_str()), (401, "unauthorized"));
    let r = c.new_account(&json!({"onlyReturnExisting": true}));
    assert_eq!((r.status, problem_name(&r).as_str()), (401, "unauthorized"));
}

#[test]
fn an_account_cannot_read_or_change_another_account() {
    let ca = TestCa::new();
    let a = registered(&ca, KeyKind::P256);
    let b = registered(&ca, KeyKind::P256);
    let b_path = b.path_of(b.kid.as_ref().unwrap()).to_string();
    for payload in [None, Some(json!({"status": "deactivated"}))] {
        let r = a.post(&b_path, payload.as_ref());
        assert_eq!(problem_name(&r), "unauthorized");
    }
    let r = a.post(&format!("{b_path}/orders"), None);
    assert_eq!(problem_name(&r), "unauthorized");
    assert_eq!(b.post(&b_path, None).status, 200);
}

#[test]
fn orders_list_is_paginated_with_link_next() {
    let mut ca = TestCa::new();
    ca.config.orders_page_size = 2;
    let c = registered(&ca, KeyKind::P256);
    let id = ca.config.account_id_from_url(c.kid.as_ref().unwrap()).unwrap().to_string();
    let ids: Vec<String> = (0..5).map(|i| format!("o{i}")).collect();
    let idx = crate::sa::records::OrdersIndexRecord { ids };
    block_on(crate::sa::put_json(&ca.store, &crate::sa::records::OrdersIndexRecord::key(&id), &idx)).unwrap();
    let mut path = format!("/acme/acct/{id}/orders");
    let mut all = Vec::new();
    for page in 0.. {
        let r = c.post(&path, None);
        assert_eq!(r.status, 200);
        let v = body_json(&r);
        all.extend(v["orders"].as_array().unwrap().iter().map(|o| o.as_str().unwrap().to_string()));
        let next = r.header_all("Link").into_iter().find(|l| l.ends_with("rel=\"next\"")).map(|l| l.to_string());
        match next {
            Some(l) => path = c.path_of(l.trim_start_matches('<').split('>').next().unwrap()).to_string(),
            None => {
                assert_eq!(page, 2);
                break;
            }
        }
    }
    assert_eq!(all.len(), 5);
    assert_eq!(all[4], format!("https://ca.test/acme/order/{id}/o4"));
}

#[test]
fn eab_required_refuses_new_account_without_binding() {
    let mut ca = TestCa::new();
    ca.config.eab.required = true;
    let mut c = TestClient::new(&ca, ca.key(KeyKind::P256));
    let r = c.new_account(&agree());
    assert_eq!(problem_name(&r), "externalAccountRequired");
}

#[test]
fn eab_binding_creates_an_account_in_the_credential_tenant() {
    let mut ca = TestCa::new();
    ca.config.eab.required = true;
    let cred = new_credential(&ca);
    assert_eq!(crate::eab::decode_mac_key(&cred.mac_key).unwrap().len(), 32);
    let key = ca.key(KeyKind::P384);
    let payload = eab_payload(&ca, &key, &cred.kid, &cred.mac_key);
    let mut c = TestClient::new(&ca, key);
    let r = c.new_account(&payload);
    assert_eq!(r.status, 201, "{}", String::from_utf8_lossy(&r.body));
    let id = ca.config.account_id_from_url(c.kid.as_ref().unwrap()).unwrap().to_string();
    let rec = block_on(crate::ra::account::load(&ca.store, &id)).unwrap().unwrap();
    assert_eq!(rec.tenant, cred.kid);
    assert_eq!(block_on(crate::ra::eab::tenant_accounts(&ca.store, &cred.kid)).unwrap(), vec![id]);
    assert_eq!(usage(&ca, &cred.kid), (1, 1));
    // The same key again returns the account and does not count a use.
    let again = eab_payload(&ca, &c.key, &cred.kid, &cred.mac_key);
    assert_eq!(c.new_account(&again).status, 200);
    assert_eq!(usage(&ca, &cred.kid), (1, 1));
}

#[test]
fn eab_mac_key_is_accepted_with_or_without_padding() {
    let ca = TestCa::new();
    let cred = new_credential(&ca);
    let padded = format!("{}=", cred.mac_key);
    let key = ca.key(KeyKind::P256);
    let mut c = TestClient::new(&ca, key.clone());
    assert_eq!(c.new_account(&eab_payload(&ca, &key, &cred.kid, &padded)).status, 201);
}

#[test]
fn eab_with_wrong_mac_unknown_kid_or_wrong_key_is_refused() {
    let ca = TestCa::new();
    let cred = new_credential(&ca);
    let key = ca.key(KeyKind::P256);
    let mut c = TestClient::new(&ca, key.clone());
    let wrong_mac = crate::b64::encode(&[7u8; 32]);
    assert_eq!(problem_name(&c.new_account(&eab_payload(&ca, &key, &cred.kid, &wrong_mac))), "unauthorized");
    assert_eq!(problem_name(&c.new_account(&eab_payload(&ca, &key, "kid-nope", &cred.mac_key))), "unauthorized");
    // A binding made for another account key.
    let other = ca.key(KeyKind::P256);
    let r = c.new_account(&eab_payload(&ca, &other, &cred.kid, &cred.mac_key));
    assert!(matches!(problem_name(&r).as_str(), "malformed" | "unauthorized"), "{}", problem_name(&r));
    assert_eq!(usage(&ca, &cred.kid), (0, 0));
}

#[test]
fn eab_mac_key_expires_after_its_lifetime() {
    let ca = TestCa::new();
    let cred = new_credential(&ca);
    ca.clock.advance(30 * 24 * 3600);
    let key = ca.key(KeyKind::P256);
    let mut c = TestClient::new(&ca, key.clone());
    let r = c.new_account(&eab_payload(&ca, &key, &cred.kid, &cred.mac_key));
    assert_eq!(problem_name(&r), "unauthorized");
    assert!(body_json(&r)["detail"].as_str().unwrap().contains("expired"));
}

#[test]
fn eab_mac_key_stops_after_its_use_limit() {
    let mut ca = TestCa::new();
    ca.config.eab.mac_max_uses = 3;
    let cred = new_credential(&ca);
    for i in 0..4 {
        let key = ca.key(KeyKind::P256);
        let mut c = TestClient::new(&ca, key.clone());
        let r = c.new_account(&eab_payload(&ca, &key, &cred.kid, &cred.mac_key));
        if i < 3 {
            assert_eq!(r.status, 201);
        } else {
            assert_eq!(problem_name(&r), "unauthorized");
        }
    }
}

#[test]
fn rotating_the_mac_key_keeps_bound_accounts_and_refuses_the_old_key_for_new_bindings() {
    let ca = TestCa::new();
    let cred = new_credential(&ca);
    let key = ca.key(KeyKind::P256);
    let mut bound = TestClient::new(&ca, key.clone());
    assert_eq!(bound.new_account(&eab_payload(&ca, &key, &cred.kid, &cred.mac_key)).status, 201);
    let rotated = block_on(crate::ra::eab::rotate(&ca.store, &ca.config.eab, ca.clock.0.get(), &cred.kid)).unwrap();
    assert_ne!(rotated.mac_key, cred.mac_key);
    assert_eq!(rotated.version, 2);
    let path = bound.path_of(bound.kid.as_ref().unwrap()).to_string();
    assert_eq!(bound.post(&path, None).status, 200);
    let key2 = ca.key(KeyKind::P256);
    let mut c2 = TestClient::new(&ca, key2.clone());
    assert_eq!(problem_name(&c2.new_account(&eab_payload(&ca, &key2, &cred.kid, &cred.mac_key))), "unauthorized");
    assert_eq!(c2.new_account(&eab_payload(&ca, &key2, &cred.kid, &rotated.mac_key)).status, 201);
}

#[test]
fn revoking_a_credential_disables_every_bound_account() {
    let ca = TestCa::new();
    let cred = new_credential(&ca);
    let key = ca.key(KeyKind::P256);
    let mut c = TestClient::new(&ca, key.clone());
    assert_eq!(c.new_account(&eab_payload(&ca, &key, &cred.kid, &cred.mac_key)).status, 201);
    let path = c.path_of(c.kid.as_ref().unwrap()).to_string();
    block_on(crate::ra::eab::revoke(&ca.store, &cred.kid)).unwrap();
    let r = c.post(&path, None);
    assert_eq!((r.status, problem_name(&r).as_str()), (403, "unauthorized"));
    let key2 = ca.key(KeyKind::P256);
    let mut c2 = TestClient::new(&ca, key2.clone());
    assert_eq!(problem_name(&c2.new_account(&eab_payload(&ca, &key2, &cred.kid, &cred.mac_key))), "unauthorized");
}

#[test]
fn accounts_per_credential_cap_is_rate_limited_with_retry_after() {
    let mut ca = TestCa::new();
    ca.config.eab.max_accounts_per_credential = Some(1);
    let cred = new_credential(&ca);
    for i in 0..2 {
        let key = ca.key(KeyKind::P256);
        let mut c = TestClient::new(&ca, key.clone());
        let r = c.new_account(&eab_payload(&ca, &key, &cred.kid, &cred.mac_key));
        if i == 0 {
            assert_eq!(r.status, 201);
        } else {
            assert_eq!((r.status, problem_name(&r).as_str()), (429, "rateLimited"));
            assert!(r.header("Retry-After").is_some());
        }
    }
}

fn key_change_body(c: &TestClient<'_>, new_key: &SigningKey, inner_url: &str, account: &str, old: Value) -> Value {
    let inner = sign_flattened(
        new_key,
        SignerRef::Jwk,
        None,
        inner_url,
        &serde_json::to_vec(&json!({"account": account, "oldKey": old})).unwrap(),
    );
    c.sign(paths::KEY_CHANGE, Some(&inner))
}

#[test]
fn key_change_moves_the_account_to_the_new_key() {
    let ca = TestCa::new();
    let mut c = registered(&ca, KeyKind::P256);
    let kid = c.kid.clone().unwrap();
    let new_key = SigningKey::from_pkcs8_der(RSA_B).unwrap();
    let url = ca.config.url(paths::KEY_CHANGE);
    let body = key_change_body(&c, &new_key, &url, &kid, c.key.public_jwk().to_value());
    let r = c.send(&jose_request(paths::KEY_CHANGE, &body));
    assert_eq!(r.status, 200, "{}", String::from_utf8_lossy(&r.body));
    // The old key no longer signs for the account; the new one does.
    let path = c.path_of(&kid).to_string();
    // ES256 by the old key against the account's RSA key now.
    assert_eq!(problem_name(&c.post(&path, None)), "badSignatureAlgorithm");
    let old_key = core::mem::replace(&mut c.key, new_key);
    assert_eq!(c.post(&path, None).status, 200);
    let r = c.new_account(&json!({"onlyReturnExisting": true}));
    assert_eq!(r.header("Location"), Some(kid.as_str()));
    let mut old = TestClient::new(&ca, old_key);
    assert_eq!(problem_name(&old.new_account(&json!({"onlyReturnExisting": true}))), "accountDoesNotExist");
}

#[test]
fn key_change_to_a_key_of_another_account_is_409_with_its_location() {
    let ca = TestCa::new();
    let c = registered(&ca, KeyKind::P256);
    let other = registered(&ca, KeyKind::P384);
    let url = ca.config.url(paths::KEY_CHANGE);
    let body = key_change_body(&c, &other.key, &url, c.kid.as_ref().unwrap(), c.key.public_jwk().to_value());
    let r = c.send(&jose_request(paths::KEY_CHANGE, &body));
    assert_eq!(r.status, 409);
    assert_eq!(r.header("Location"), other.kid.as_deref());
}

#[test]
fn key_change_checks_every_rule_of_rfc8555_7_3_5() {
    let ca = TestCa::new();
    let c = registered(&ca, KeyKind::P256);
    let kid = c.kid.clone().unwrap();
    let new_key = ca.key(KeyKind::Ed25519);
    let url = ca.config.url(paths::KEY_CHANGE);
    let old = c.key.public_jwk().to_value();
    let stranger = ca.key(KeyKind::P256).public_jwk().to_value();
    let cases: Vec<(&str, Value)> = vec![
        ("inner url differs", key_change_body(&c, &new_key, "https://ca.test/acme/new-order", &kid, old.clone())),
        ("account differs", key_change_body(&c, &new_key, &url, "https://ca.test/acme/acct/zzz", old.clone())),
        ("oldKey is not the account key", key_change_body(&c, &new_key, &url, &kid, stranger)),
        ("new key equals old key", key_change_body(&c, &c.key, &url, &kid, old.clone())),
    ];
    for (what, body) in cases {
        let r = c.send(&jose_request(paths::KEY_CHANGE, &body));
        assert_eq!(problem_name(&r), "malformed", "{what}");
    }
    // Inner JWS with a nonce.
    let inner = sign_flattened(
        &new_key,
        SignerRef::Jwk,
        Some("AAAAAAAAAAAAAAAAAAAAAA"),
        &url,
        &serde_json::to_vec(&json!({"account": kid, "oldKey": old})).unwrap(),
    );
    let r = c.post(paths::KEY_CHANGE, Some(&inner));
    assert_eq!(problem_name(&r), "malformed");
    // Inner JWS using kid instead of jwk.
    let inner = sign_flattened(&new_key, SignerRef::Kid(&kid), None, &url, b"{}");
    assert_eq!(problem_name(&c.post(paths::KEY_CHANGE, Some(&inner))), "malformed");
    // Inner signature not made by the embedded jwk.
    let mut inner = sign_flattened(
        &new_key,
        SignerRef::Jwk,
        None,
        &url,
        &serde_json::to_vec(&json!({"account": kid, "oldKey": old})).unwrap(),
    );
    let forged = sign_flattened(&c.key, SignerRef::Jwk, None, &url, b"x");
    inner["signature"] = forged["signature"].clone();
    assert_eq!(problem_name(&c.post(paths::KEY_CHANGE, Some(&inner))), "malformed");
    // The account still works with its old key.
    assert_eq!(c.post(c.path_of(&kid), None).status, 200);
}

// ---- concurrency: many interleavings of the same requests ----

const SEEDS: u64 = 150;

#[test]
fn a_nonce_is_redeemed_at_most_once_under_any_interleaving() {
    for seed in 0..SEEDS {
        let ca = TestCa::new();
        let c = registered(&ca, KeyKind::P256);
        let path = c.path_of(c.kid.as_ref().unwrap()).to_string();
        let req = jose_request(&path, &c.sign(&path, None));
        let engine = ca.engine();
        let tasks: Vec<Task<'_, u16>> =
            (0..8).map(|_| Box::pin(async { engine.handle(&req).await.status }) as Task<'_, u16>).collect();
        let statuses = run_interleaved(tasks, seed);
        assert_eq!(statuses.iter().filter(|s| **s == 200).count(), 1, "seed {seed}: {statuses:?}");
        assert_eq!(statuses.iter().filter(|s| **s == 400).count(), 7, "seed {seed}");
    }
}

#[test]
fn eab_use_count_never_exceeds_its_limit_nor_loses_a_use() {
    for seed in 0..SEEDS {
        let mut ca = TestCa::new();
        ca.config.eab.mac_max_uses = 4;
        let cred = new_credential(&ca);
        let reqs: Vec<Request> = (0..7)
            .map(|_| {
                let key = ca.key(KeyKind::P256);
                let c = TestClient::new(&ca, key.clone());
                jose_request(
                    paths::NEW_ACCOUNT,
                    &c.sign(paths::NEW_ACCOUNT, Some(&eab_payload(&ca, &key, &cred.kid, &cred.mac_key))),
                )
            })
            .collect();
        let engine = ca.engine();
        let tasks: Vec<Task<'_, u16>> =
            reqs.iter().map(|r| Box::pin(async { engine.handle(r).await.status }) as Task<'_, u16>).collect();
        let statuses = run_interleaved(tasks, seed);
        assert_eq!(statuses.iter().filter(|s| **s == 201).count(), 4, "seed {seed}: {statuses:?}");
        assert_eq!(usage(&ca, &cred.kid), (4, 4), "seed {seed}");
        assert_eq!(block_on(crate::ra::eab::tenant_accounts(&ca.store, &cred.kid)).unwrap().len(), 4);
    }
}

#[test]
fn concurrent_new_account_with_one_key_yields_one_account() {
    for seed in 0..SEEDS {
        let ca = TestCa::new();
        let cred = new_credential(&ca);
        let key = ca.key(KeyKind::P256);
        let c = TestClient::new(&ca, key.clone());
        let reqs: Vec<Request> = (0..6)
            .map(|i| {
                let payload = if i % 2 == 0 { agree() } else { eab_payload(&ca, &key, &cred.kid, &cred.mac_key) };
                jose_request(paths::NEW_ACCOUNT, &c.sign(paths::NEW_ACCOUNT, Some(&payload)))
            })
            .collect();
        let engine = ca.engine();
        let tasks: Vec<Task<'_, (u16, Option<String>)>> = reqs
            .iter()
            .map(|r| {
                Box::pin(async {
                    let resp = engine.handle(r).await;
                    (resp.status, resp.header("Location").map(|s| s.to_string()))
                }) as Task<'_, _>
            })
            .collect();
        let out = run_interleaved(tasks, seed);
        assert_eq!(out.iter().filter(|(s, _)| *s == 201).count(), 1, "seed {seed}: {out:?}");
        assert!(out.iter().all(|(s, _)| *s == 200 || *s == 201));
        let first = &out[0].1;
        assert!(out.iter().all(|(_, l)| l == first), "seed {seed}");
        let eab_winner = out.iter().enumerate().any(|(i, (s, _))| *s == 201 && i % 2 == 1);
        let n = u64::from(eab_winner);
        assert_eq!(usage(&ca, &cred.kid), (n, n), "seed {seed}: uses must equal accounts bound");
        assert_eq!(
            ca.store.0.keys_with_prefix("account").iter().filter(|k| k.name == "account").count(),
            1,
            "seed {seed}: no orphan account records"
        );
    }
}
