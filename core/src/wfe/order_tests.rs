//! In-process end-to-end flows for orders, challenges, claims, CAA, finalize,
//! certificates, revocation, renewal information and CRLs.

extern crate std;

use alloc::boxed::Box;
use alloc::format;
use alloc::string::{String, ToString};
use alloc::vec;
use alloc::vec::Vec;
use serde_json::{json, Value};

use super::paths;
use crate::client::build_csr;
use crate::jose::{sign_flattened, KeyKind, SignerRef, SigningKey};
use crate::keyauth::{dns01_txt_value, key_authorization};
use crate::testkit::*;
use crate::va::CaaRecord;

fn account(ca: &TestCa) -> TestClient<'_> {
    let mut c = TestClient::new(ca, ca.key(KeyKind::P256));
    let r = c.new_account(&json!({"termsOfServiceAgreed": true}));
    assert_eq!(r.status, 201);
    c
}

fn new_order(c: &TestClient<'_>, names: &[&str]) -> super::Response {
    let ids: Vec<Value> = names
        .iter()
        .map(|n| {
            let t = if n.parse::<core::net::IpAddr>().is_ok() { "ip" } else { "dns" };
            json!({"type": t, "value": n})
        })
        .collect();
    c.post(paths::NEW_ORDER, Some(&json!({ "identifiers": ids })))
}

fn get(c: &TestClient<'_>, url: &str) -> super::Response {
    c.post(c.path_of(url), None)
}

fn keyauth(c: &TestClient<'_>, token: &str) -> String {
    key_authorization(token, &c.key.public_jwk())
}

/// Publishes the http-01 answer for `authz` and triggers its challenge.
fn answer_http01(c: &TestClient<'_>, authz_url: &str) -> Value {
    let authz = body_json(&get(c, authz_url));
    let ch = authz["challenges"].as_array().unwrap().iter().find(|ch| ch["type"] == "http-01").unwrap().clone();
    let token = ch["token"].as_str().unwrap();
    let host = authz["identifier"]["value"].as_str().unwrap();
    let host = if host.contains(':') { format!("[{host}]") } else { host.to_string() };
    let url = format!("http://{host}/.well-known/acme-challenge/{token}");
    let ka = keyauth(c, token);
    c.ca.va.set(|va| va.http(&url, 200, format!("{ka}\n")));
    body_json(&c.post(c.path_of(ch["url"].as_str().unwrap()), Some(&json!({}))))
}

/// Publishes the dns-01 TXT value for `authz` (adding to what is there) and triggers it.
fn answer_dns01(c: &TestClient<'_>, authz_url: &str, published: &mut Vec<String>) -> Value {
    let authz = body_json(&get(c, authz_url));
    let ch = authz["challenges"].as_array().unwrap().iter().find(|ch| ch["type"] == "dns-01").unwrap().clone();
    let name = format!("_acme-challenge.{}", authz["identifier"]["value"].as_str().unwrap());
    published.push(dns01_txt_value(&keyauth(c, ch["token"].as_str().unwrap())));
    let values: Vec<&str> = published.iter().map(|s| s.as_str()).collect();
    c.ca.va.set(|va| va.txt(&name, &values));
    body_json(&c.post(c.path_of(ch["url"].as_str().unwrap()), Some(&json!({}))))
}

fn finalize(c: &TestClient<'_>, order: &Value, key: &SigningKey, names: &[&str]) -> super::Response {
    let names: Vec<String> = names.iter().map(|s| s.to_string()).collect();
    let csr = crate::b64::encode(&build_csr(key, &names).unwrap());
    c.post(c.path_of(order["finalize"].as_str().unwrap()), Some(&json!({ "csr": csr })))
}

fn cert_key(ca: &TestCa) -> SigningKey {
    ca.key(KeyKind::P256)
}

/// Runs `openssl` with `args` in a temporary folder holding `files`; returns stdout.
fn openssl(files: &[(&str, &[u8])], args: &[&str]) -> String {
    let dir = std::env::temp_dir().join(format!(
        "edge-acme-test-{}-{}",
        std::process::id(),
        crate::host::random_id(&crate::host::testing::SeededRng::new(
            std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_nanos() as u64
        ))
    ));
    std::fs::create_dir_all(&dir).unwrap();
    for (name, data) in files {
        std::fs::write(dir.join(name), data).unwrap();
    }
    let out =
        std::process::Command::new("openssl").args(args).current_dir(&dir).output().expect("openssl must be installed");
    let _ = std::fs::remove_dir_all(&dir);
    assert!(out.status.success(), "openssl {args:?}: {}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8_lossy(&out.stdout).into_owned()
}

fn root_pem(ca: &TestCa) -> String {
    crate::ca::pem_chain(&ca.root_der, &[])
}

/// Issues a certificate for `names` via http-01 and returns (client, order, PEM).
fn issue<'a>(ca: &'a TestCa, names: &[&str]) -> (TestClient<'a>, Value, String) {
    let c = account(ca);
    let r = new_order(&c, names);
    assert_eq!(r.status, 201, "{}", String::from_utf8_lossy(&r.body));
    let order = body_json(&r);
    for a in order["authorizations"].as_array().unwrap() {
        assert_eq!(answer_http01(&c, a.as_str().unwrap())["status"], "valid");
    }
    let order_url = r.header("Location").unwrap().to_string();
    let r = finalize(&c, &body_json(&get(&c, &order_url)), &cert_key(ca), names);
    assert_eq!(r.status, 200, "{}", String::from_utf8_lossy(&r.body));
    let order = body_json(&r);
    assert_eq!(order["status"], "valid");
    let cert = get(&c, order["certificate"].as_str().unwrap());
    assert_eq!(cert.status, 200);
    (c, order, String::from_utf8(cert.body).unwrap())
}

#[test]
fn single_name_http01_flow_issues_a_certificate_that_openssl_verifies() {
    let ca = TestCa::new();
    let c = account(&ca);
    let r = new_order(&c, &["www.example.com"]);
    assert_eq!(r.status, 201);
    let order_url = r.header("Location").unwrap().to_string();
    assert!(order_url.starts_with("https://ca.test/acme/order/"));
    let order = body_json(&r);
    assert_eq!(order["status"], "pending");
    assert_eq!(order["identifiers"], json!([{"type": "dns", "value": "www.example.com"}]));
    assert!(order["expires"].as_str().unwrap().ends_with('Z'));
    let authz_url = order["authorizations"][0].as_str().unwrap().to_string();
    let authz = get(&c, &authz_url);
    assert_eq!(authz.header("Retry-After"), Some("1"));
    let av = body_json(&authz);
    assert_eq!(av["status"], "pending");
    let types: Vec<&str> = av["challenges"].as_array().unwrap().iter().map(|c| c["type"].as_str().unwrap()).collect();
    assert_eq!(types, ["http-01", "dns-01"]);

    // Finalizing too early.
    let early = finalize(&c, &order, &cert_key(&ca), &["www.example.com"]);
    assert_eq!((early.status, problem_name(&early).as_str()), (403, "orderNotReady"));

    let ch = answer_http01(&c, &authz_url);
    assert_eq!(ch["status"], "valid", "{ch}");
    assert!(ch["validated"].is_string());
    assert_eq!(body_json(&get(&c, &authz_url))["status"], "valid");
    let order = body_json(&get(&c, &order_url));
    assert_eq!(order["status"], "ready");

    let r = finalize(&c, &order, &cert_key(&ca), &["www.example.com"]);
    assert_eq!(r.status, 200, "{}", String::from_utf8_lossy(&r.body));
    assert_eq!(r.header("Location"), Some(order_url.as_str()));
    let order = body_json(&r);
    assert_eq!(order["status"], "valid");
    let cert = get(&c, order["certificate"].as_str().unwrap());
    assert_eq!(cert.header("Content-Type"), Some("application/pem-certificate-chain"));
    assert!(!cert.header_all("Link").iter().any(|l| l.contains("rel=\"up\"")), "no up link: the chain has the issuer");
    let pem = String::from_utf8(cert.body).unwrap();
    assert_eq!(pem.matches("BEGIN CERTIFICATE").count(), 2, "leaf then intermediate");
    let root = root_pem(&ca);
    let out = openssl(
        &[("root.pem", root.as_bytes()), ("chain.pem", pem.as_bytes())],
        &["verify", "-CAfile", "root.pem", "-untrusted", "chain.pem", "-attime", "1767312000", "chain.pem"],
    );
    assert!(out.contains("chain.pem: OK"), "{out}");
    let text =
        openssl(&[("chain.pem", pem.as_bytes())], &["x509", "-in", "chain.pem", "-noout", "-ext", "subjectAltName"]);
    assert!(text.contains("DNS:www.example.com"), "{text}");
}

#[test]
fn name_plus_wildcard_via_dns01_with_two_txt_values_on_one_name() {
    let ca = TestCa::new();
    let c = account(&ca);
    let names = ["*.example.org", "example.org"];
    let r = new_order(&c, &names);
    let order_url = r.header("Location").unwrap().to_string();
    let order = body_json(&r);
    let mut published = Vec::new();
    for a in order["authorizations"].as_array().unwrap() {
        let authz = body_json(&get(&c, a.as_str().unwrap()));
        if authz["wildcard"] == true {
            let types: Vec<&str> =
                authz["challenges"].as_array().unwrap().iter().map(|c| c["type"].as_str().unwrap()).collect();
            assert_eq!(types, ["dns-01"], "wildcards only get dns-01");
            assert_eq!(authz["identifier"]["value"], "example.org");
        }
        assert_eq!(answer_dns01(&c, a.as_str().unwrap(), &mut published)["status"], "valid");
    }
    assert_eq!(published.len(), 2);
    let r = finalize(&c, &body_json(&get(&c, &order_url)), &cert_key(&ca), &names);
    assert_eq!(body_json(&r)["status"], "valid", "{}", String::from_utf8_lossy(&r.body));
}

#[test]
fn failed_validation_records_the_error_and_invalidates_the_order() {
    let ca = TestCa::new();
    let c = account(&ca);
    let r = new_order(&c, &["bad.example.com"]);
    let order_url = r.header("Location").unwrap().to_string();
    let authz_url = body_json(&r)["authorizations"][0].as_str().unwrap().to_string();
    let authz = body_json(&get(&c, &authz_url));
    let token = authz["challenges"][0]["token"].as_str().unwrap();
    c.ca.va.set(|va| va.http(&format!("http://bad.example.com/.well-known/acme-challenge/{token}"), 200, "wrong"));
    let ch = body_json(&c.post(c.path_of(authz["challenges"][0]["url"].as_str().unwrap()), Some(&json!({}))));
    assert_eq!(ch["status"], "invalid");
    assert_eq!(ch["error"]["type"], "urn:ietf:params:acme:error:incorrectResponse");
    assert_eq!(body_json(&get(&c, &authz_url))["status"], "invalid");
    let order = body_json(&get(&c, &order_url));
    assert_eq!(order["status"], "invalid");
    // A connection failure on another order gives `connection`.
    let r = new_order(&c, &["down.example.com"]);
    let authz = body_json(&get(&c, body_json(&r)["authorizations"][0].as_str().unwrap()));
    let ch = body_json(&c.post(c.path_of(authz["challenges"][0]["url"].as_str().unwrap()), Some(&json!({}))));
    assert_eq!(ch["error"]["type"], "urn:ietf:params:acme:error:connection");
    // dns-01 with nothing published gives `unauthorized`, a lookup failure `dns`.
    let r = new_order(&c, &["nodns.example.com"]);
    let authz = body_json(&get(&c, body_json(&r)["authorizations"][0].as_str().unwrap()));
    let ch = body_json(&c.post(c.path_of(authz["challenges"][1]["url"].as_str().unwrap()), Some(&json!({}))));
    assert_eq!(ch["error"]["type"], "urn:ietf:params:acme:error:unauthorized");
    c.ca.va.set(|va| {
        va.txt_error("_acme-challenge.servfail.example.com", crate::va::TransportError::Dns("SERVFAIL".into()))
    });
    let r = new_order(&c, &["servfail.example.com"]);
    let authz = body_json(&get(&c, body_json(&r)["authorizations"][0].as_str().unwrap()));
    let ch = body_json(&c.post(c.path_of(authz["challenges"][1]["url"].as_str().unwrap()), Some(&json!({}))));
    assert_eq!(ch["error"]["type"], "urn:ietf:params:acme:error:dns");
}

#[test]
fn an_order_covered_by_a_dns01_claim_needs_no_challenge() {
    let ca = TestCa::new();
    let c = account(&ca);
    let r = new_order(&c, &["claimed.example"]);
    let mut published = Vec::new();
    let authz_url = body_json(&r)["authorizations"][0].as_str().unwrap().to_string();
    assert_eq!(answer_dns01(&c, &authz_url, &mut published)["status"], "valid");
    // Subdomains and the wildcard are now covered for 397 days.
    let names = ["claimed.example", "www.claimed.example", "*.claimed.example", "a.b.claimed.example"];
    let r = new_order(&c, &names);
    let order = body_json(&r);
    assert_eq!(order["status"], "ready");
    for a in order["authorizations"].as_array().unwrap() {
        let authz = body_json(&get(&c, a.as_str().unwrap()));
        assert_eq!(authz["status"], "valid");
        assert_eq!(authz["challenges"][0]["type"], "dns-01");
    }
    let r = finalize(&c, &order, &cert_key(&ca), &names);
    assert_eq!(body_json(&r)["status"], "valid");
    // After 397 days the claim no longer covers new orders.
    ca.clock.advance(397 * 86_400);
    assert_eq!(body_json(&new_order(&c, &["www.claimed.example"]))["status"], "pending");
}

#[test]
fn an_http01_claim_covers_only_its_exact_name() {
    let ca = TestCa::new();
    let c = account(&ca);
    let r = new_order(&c, &["host.example.net"]);
    answer_http01(&c, body_json(&r)["authorizations"][0].as_str().unwrap());
    assert_eq!(body_json(&new_order(&c, &["host.example.net"]))["status"], "ready");
    for other in ["sibling.example.net", "sub.host.example.net", "*.host.example.net", "example.net"] {
        assert_eq!(body_json(&new_order(&c, &[other]))["status"], "pending", "{other}");
    }
}

#[test]
fn claims_belong_to_the_tenant_shared_by_accounts_of_one_credential() {
    let ca = TestCa::new();
    let cred = block_on(crate::ra::eab::create(&ca.store, &ca.config.eab, ca.clock.0.get(), ca.rng, "t")).unwrap();
    let mac = crate::eab::decode_mac_key(&cred.mac_key).unwrap();
    let mut clients = Vec::new();
    for _ in 0..2 {
        let key = ca.key(KeyKind::P256);
        let binding = crate::eab::sign_binding(
            &cred.kid,
            &mac,
            crate::jose::Alg::HS256,
            &key.public_jwk(),
            &ca.config.url(paths::NEW_ACCOUNT),
        );
        let mut c = TestClient::new(&ca, key);
        assert_eq!(c.new_account(&json!({"externalAccountBinding": binding})).status, 201);
        clients.push(c);
    }
    let r = new_order(&clients[0], &["tenant.example"]);
    let mut published = Vec::new();
    answer_dns01(&clients[0], body_json(&r)["authorizations"][0].as_str().unwrap(), &mut published);
    assert_eq!(body_json(&new_order(&clients[1], &["www.tenant.example"]))["status"], "ready");
    // An unrelated account gets no benefit.
    let stranger = account(&ca);
    assert_eq!(body_json(&new_order(&stranger, &["www.tenant.example"]))["status"], "pending");
}

#[test]
fn operator_claims_authorize_names_without_validation() {
    let ca = TestCa::new();
    let c = account(&ca);
    let tenant =
        block_on(crate::ra::account::load(&ca.store, ca.config.account_id_from_url(c.kid.as_ref().unwrap()).unwrap()))
            .unwrap()
            .unwrap()
            .tenant;
    let now = ca.clock.0.get();
    let claim = crate::sa::records::Claim {
        name: "ops.example".into(),
        scope: crate::sa::records::ClaimScope::Subtree,
        method: "operator".into(),
        created_at: now,
        expires: now + 86_400,
    };
    block_on(crate::ra::order::add_claim(&ca.store, &tenant, claim, now)).unwrap();
    assert_eq!(body_json(&new_order(&c, &["*.ops.example"]))["status"], "ready");
    assert!(block_on(crate::ra::order::remove_claim(&ca.store, &tenant, "ops.example")).unwrap());
    assert_eq!(body_json(&new_order(&c, &["x.ops.example"]))["status"], "pending");
}

#[test]
fn caa_records_allow_or_deny_issuance() {
    let rec = |tag: &str, value: &str| CaaRecord { flags: 0, tag: tag.into(), value: value.into() };
    let cases: Vec<(&str, Vec<CaaRecord>, bool)> = vec![
        ("none.example", vec![], true),
        ("ours.example", vec![rec("issue", "ca.test")], true),
        ("theirs.example", vec![rec("issue", "other-ca.example")], false),
        ("forbid.example", vec![rec("issue", ";")], false),
        ("method.example", vec![rec("issue", "ca.test; validationmethods=dns-01")], false),
        ("critical.example", vec![CaaRecord { flags: 128, tag: "future".into(), value: "x".into() }], false),
    ];
    for (name, records, allowed) in cases {
        let ca = TestCa::new();
        ca.va.set(|va| va.caa(name, &records));
        let c = account(&ca);
        let r = new_order(&c, &[name]);
        let order_url = r.header("Location").unwrap().to_string();
        answer_http01(&c, body_json(&r)["authorizations"][0].as_str().unwrap());
        let r = finalize(&c, &body_json(&get(&c, &order_url)), &cert_key(&ca), &[name]);
        if allowed {
            assert_eq!(body_json(&r)["status"], "valid", "{name}");
        } else {
            assert_eq!(problem_name(&r), "caa", "{name}: {}", String::from_utf8_lossy(&r.body));
            let order = body_json(&get(&c, &order_url));
            assert_eq!(order["status"], "invalid", "{name}");
            assert_eq!(order["error"]["type"], "urn:ietf:params:acme:error:caa");
        }
    }
    // accounturi binds CAA to one account.
    let ca = TestCa::new();
    let c = account(&ca);
    let uri = c.kid.clone().unwrap();
    ca.va.set(|va| va.caa("bound.example", &[rec("issue", &format!("ca.test; accounturi={uri}"))]));
    let r = new_order(&c, &["bound.example"]);
    let url = r.header("Location").unwrap().to_string();
    answer_http01(&c, body_json(&r)["authorizations"][0].as_str().unwrap());
    assert_eq!(
        body_json(&finalize(&c, &body_json(&get(&c, &url)), &cert_key(&ca), &["bound.example"]))["status"],
        "valid"
    );
    let other = account(&ca);
    let r = new_order(&other, &["bound.example"]);
    let url = r.header("Location").unwrap().to_string();
    answer_http01(&other, body_json(&r)["authorizations"][0].as_str().unwrap());
    assert_eq!(
        problem_name(&finalize(&other, &body_json(&get(&other, &url)), &cert_key(&ca), &["bound.example"])),
        "caa"
    );
}

#[test]
fn every_csr_rejection_is_bad_csr() {
    let ca = TestCa::new();
    let c = account(&ca);
    let r = new_order(&c, &["csr.example.com", "www.csr.example.com"]);
    let order_url = r.header("Location").unwrap().to_string();
    for a in body_json(&r)["authorizations"].as_array().unwrap() {
        answer_http01(&c, a.as_str().unwrap());
    }
    let order = body_json(&get(&c, &order_url));
    let k = cert_key(&ca);
    let cases: Vec<(&str, Value)> = vec![
        ("missing name", json!({"csr": crate::b64::encode(&build_csr(&k, &["csr.example.com".into()]).unwrap())})),
        (
            "extra name",
            json!({"csr": crate::b64::encode(&build_csr(&k, &["csr.example.com".into(), "www.csr.example.com".into(), "x.csr.example.com".into()]).unwrap())}),
        ),
        (
            "account key",
            json!({"csr": crate::b64::encode(&build_csr(&c.key, &["csr.example.com".into(), "www.csr.example.com".into()]).unwrap())}),
        ),
        ("garbage", json!({"csr": crate::b64::encode(b"not a csr")})),
        ("sha1", json!({"csr": crate::b64::encode(include_bytes!("../ca/testdata/rsa2048-sha1.der"))})),
    ];
    for (what, payload) in cases {
        let r = c.post(c.path_of(order["finalize"].as_str().unwrap()), Some(&payload));
        assert_eq!(problem_name(&r), "badCSR", "{what}: {}", String::from_utf8_lossy(&r.body));
        if what == "sha1" {
            assert!(body_json(&r)["detail"].as_str().unwrap().contains("SHA-256"));
        }
    }
    // Still ready: a bad CSR does not consume the order.
    assert_eq!(body_json(&get(&c, &order_url))["status"], "ready");
}

#[test]
fn concurrent_finalize_of_one_order_issues_exactly_one_certificate() {
    for seed in 0..40 {
        let ca = TestCa::new();
        let c = account(&ca);
        let r = new_order(&c, &["race.example.com"]);
        let order_url = r.header("Location").unwrap().to_string();
        answer_http01(&c, body_json(&r)["authorizations"][0].as_str().unwrap());
        let order = body_json(&get(&c, &order_url));
        let csr = crate::b64::encode(&build_csr(&cert_key(&ca), &["race.example.com".into()]).unwrap());
        let reqs: Vec<super::Request> = (0..6)
            .map(|_| {
                let path = c.path_of(order["finalize"].as_str().unwrap());
                jose_request(path, &c.sign(path, Some(&json!({ "csr": csr }))))
            })
            .collect();
        let engine = ca.engine();
        let tasks: Vec<Task<'_, u16>> =
            reqs.iter().map(|r| Box::pin(async { engine.handle(r).await.status }) as Task<'_, u16>).collect();
        let statuses = run_interleaved(tasks, seed);
        assert_eq!(statuses.iter().filter(|s| **s == 200).count(), 1, "seed {seed}: {statuses:?}");
        assert!(statuses.iter().all(|s| *s == 200 || *s == 403));
        let certs = ca.store.0.keys_with_prefix("cert/").len();
        assert_eq!(certs, 1, "seed {seed}");
    }
}

#[test]
fn revocation_by_issuing_account_by_authorized_account_and_by_certificate_key() {
    for signer in ["issuer", "authorized", "cert-key", "stranger"] {
        let ca = TestCa::new();
        let k = cert_key(&ca);
        let (c, _, pem) = {
            let c = account(&ca);
            let r = new_order(&c, &["rev.example.com"]);
            let url = r.header("Location").unwrap().to_string();
            let mut published = Vec::new();
            answer_dns01(&c, body_json(&r)["authorizations"][0].as_str().unwrap(), &mut published);
            let order = body_json(&finalize(&c, &body_json(&get(&c, &url)), &k, &["rev.example.com"]));
            let pem = String::from_utf8(get(&c, order["certificate"].as_str().unwrap()).body).unwrap();
            (c, order, pem)
        };
        let der = crate::ca::pem_to_ders(&pem).remove(0);
        let payload = json!({"certificate": crate::b64::encode(&der), "reason": 1});
        let r = match signer {
            "issuer" => c.post(paths::REVOKE_CERT, Some(&payload)),
            "authorized" | "stranger" => {
                let other = account(&ca);
                if signer == "authorized" {
                    let r = new_order(&other, &["rev.example.com"]);
                    answer_http01(&other, body_json(&r)["authorizations"][0].as_str().unwrap());
                }
                other.post(paths::REVOKE_CERT, Some(&payload))
            }
            _ => {
                let body = sign_flattened(
                    &k,
                    SignerRef::Jwk,
                    Some(&ca.nonce()),
                    &ca.config.url(paths::REVOKE_CERT),
                    &serde_json::to_vec(&payload).unwrap(),
                );
                c.send(&jose_request(paths::REVOKE_CERT, &body))
            }
        };
        if signer == "stranger" {
            assert_eq!(problem_name(&r), "unauthorized");
            continue;
        }
        assert_eq!(r.status, 200, "{signer}: {}", String::from_utf8_lossy(&r.body));
        let again = c.post(paths::REVOKE_CERT, Some(&payload));
        assert_eq!(problem_name(&again), "alreadyRevoked", "{signer}");
    }
}

#[test]
fn revocation_reasons_and_unknown_certificates_are_checked() {
    let ca = TestCa::new();
    let (c, _, pem) = issue(&ca, &["reason.example.com"]);
    let der = crate::ca::pem_to_ders(&pem).remove(0);
    for bad in [7, 11, 255] {
        let r = c.post(paths::REVOKE_CERT, Some(&json!({"certificate": crate::b64::encode(&der), "reason": bad})));
        assert_eq!(problem_name(&r), "badRevocationReason", "{bad}");
    }
    let other = TestCa::with_seed(77);
    let (_, _, foreign) = issue(&other, &["reason.example.com"]);
    let fder = crate::ca::pem_to_ders(&foreign).remove(0);
    let r = c.post(paths::REVOKE_CERT, Some(&json!({"certificate": crate::b64::encode(&fder)})));
    assert_eq!(problem_name(&r), "malformed");
}

#[test]
fn renewal_info_window_moves_to_now_after_revocation_and_crl_lists_the_serial() {
    let ca = TestCa::new();
    let (c, order, pem) = issue(&ca, &["ari.example.com"]);
    let der = crate::ca::pem_to_ders(&pem).remove(0);
    let summary = crate::ca::inspect(&der).unwrap();
    let cert_id = crate::ca::cert_id(&summary).encode();
    let r = ca.handle(&super::Request {
        method: "GET".into(),
        path: format!("{}/{cert_id}", paths::RENEWAL_INFO),
        ..Default::default()
    });
    assert_eq!(r.status, 200);
    assert_eq!(r.header("Retry-After"), Some("21600"));
    let w = body_json(&r);
    let start = crate::time::parse_rfc3339(w["suggestedWindow"]["start"].as_str().unwrap()).unwrap();
    let end = crate::time::parse_rfc3339(w["suggestedWindow"]["end"].as_str().unwrap()).unwrap();
    assert!(start > summary.not_before + 50 * 86_400 && end < summary.not_after && start < end, "{w}");

    // Replace it through `replaces`, once.
    let ids = json!([{"type": "dns", "value": "ari.example.com"}]);
    let r = c.post(paths::NEW_ORDER, Some(&json!({"identifiers": ids, "replaces": cert_id})));
    assert_eq!(r.status, 201, "{}", String::from_utf8_lossy(&r.body));
    assert_eq!(body_json(&r)["replaces"], cert_id.as_str());
    let r = c.post(paths::NEW_ORDER, Some(&json!({"identifiers": ids, "replaces": cert_id})));
    assert_eq!(problem_name(&r), "alreadyReplaced");
    let _ = order;

    assert_eq!(
        c.post(paths::REVOKE_CERT, Some(&json!({"certificate": crate::b64::encode(&der), "reason": 4}))).status,
        200
    );
    let r = ca.handle(&super::Request {
        method: "GET".into(),
        path: format!("{}/{cert_id}", paths::RENEWAL_INFO),
        ..Default::default()
    });
    let w = body_json(&r);
    let start = crate::time::parse_rfc3339(w["suggestedWindow"]["start"].as_str().unwrap()).unwrap();
    assert!(start <= ca.clock.0.get(), "revoked: renew now");

    let r = ca.handle(&super::Request { method: "GET".into(), path: "/acme/crl/local".into(), ..Default::default() });
    assert_eq!(r.header("Content-Type"), Some("application/pkix-crl"));
    let text = openssl(&[("crl.der", &r.body)], &["crl", "-in", "crl.der", "-inform", "DER", "-noout", "-text"]);
    assert!(text.to_uppercase().contains(&summary.serial_hex.to_uppercase()), "{text}");
    assert!(text.contains("Superseded"), "{text}");

    let unknown = ca.handle(&super::Request {
        method: "GET".into(),
        path: format!("{}/AAAA.AAAA", paths::RENEWAL_INFO),
        ..Default::default()
    });
    assert_eq!(unknown.status, 404);
    let bad = ca.handle(&super::Request {
        method: "GET".into(),
        path: format!("{}/nodot", paths::RENEWAL_INFO),
        ..Default::default()
    });
    assert_eq!(problem_name(&bad), "malformed");
}

#[test]
fn order_requests_are_checked_profile_validity_identifiers() {
    let ca = TestCa::new();
    let c = account(&ca);
    let ids = json!([{"type": "dns", "value": "p.example.com"}]);
    let r = c.post(paths::NEW_ORDER, Some(&json!({"identifiers": ids, "profile": "nope"})));
    assert_eq!(problem_name(&r), "invalidProfile");
    let r = c.post(paths::NEW_ORDER, Some(&json!({"identifiers": ids, "profile": "shortlived"})));
    assert_eq!(body_json(&r)["profile"], "shortlived");
    let r = c.post(paths::NEW_ORDER, Some(&json!({"identifiers": ids, "notAfter": "2099-01-01T00:00:00Z"})));
    assert_eq!(problem_name(&r), "malformed");
    let r = c.post(paths::NEW_ORDER, Some(&json!({"identifiers": ids, "notBefore": "yesterday"})));
    assert_eq!(problem_name(&r), "malformed");
    let r = c.post(paths::NEW_ORDER, Some(&json!({"identifiers": [{"type": "dns", "value": "Bad_Name.example"}, {"type": "dns", "value": "ok.example"}]})));
    assert_eq!(problem_name(&r), "rejectedIdentifier");
    assert_eq!(body_json(&r)["subproblems"][0]["identifier"]["value"], "Bad_Name.example");
    let r = c.post(paths::NEW_ORDER, Some(&json!({"identifiers": [{"type": "email", "value": "a@b.example"}]})));
    assert_eq!(problem_name(&r), "unsupportedIdentifier");
}

#[test]
fn short_lived_profile_issues_a_seven_day_certificate() {
    let ca = TestCa::new();
    let c = account(&ca);
    let ids = json!([{"type": "dns", "value": "short.example.com"}]);
    let r = c.post(paths::NEW_ORDER, Some(&json!({"identifiers": ids, "profile": "shortlived"})));
    let url = r.header("Location").unwrap().to_string();
    answer_http01(&c, body_json(&r)["authorizations"][0].as_str().unwrap());
    let order = body_json(&finalize(&c, &body_json(&get(&c, &url)), &cert_key(&ca), &["short.example.com"]));
    let pem = String::from_utf8(get(&c, order["certificate"].as_str().unwrap()).body).unwrap();
    let s = crate::ca::inspect(&crate::ca::pem_to_ders(&pem).remove(0)).unwrap();
    // Seven days inclusive of both ends (the Baseline Requirements count the last second).
    assert_eq!(s.not_after - s.not_before + 1, 7 * 86_400);
    let text = openssl(&[("c.pem", pem.as_bytes())], &["x509", "-in", "c.pem", "-noout", "-text"]);
    assert!(text.contains("CRL Distribution"), "{text}");
    // The Baseline Requirements want plain http for CRL and caIssuers URLs.
    assert!(text.contains("URI:http://ca.test/acme/crl/local"), "{text}");
    assert!(text.contains("CA Issuers - URI:http://ca.test/acme/issuer/local"), "{text}");
}

#[test]
fn ip_identifiers_get_http01_only_and_issue() {
    let ca = TestCa::new();
    let c = account(&ca);
    let r = new_order(&c, &["192.0.2.10"]);
    let authz = body_json(&get(&c, body_json(&r)["authorizations"][0].as_str().unwrap()));
    assert_eq!(authz["challenges"].as_array().unwrap().len(), 1);
    let (_, order, _) = issue(&ca, &["192.0.2.10"]);
    assert_eq!(order["identifiers"][0]["type"], "ip");
}

#[test]
fn authorization_deactivation_invalidates_the_order() {
    let ca = TestCa::new();
    let c = account(&ca);
    let r = new_order(&c, &["deact.example.com"]);
    let order_url = r.header("Location").unwrap().to_string();
    let authz_url = body_json(&r)["authorizations"][0].as_str().unwrap().to_string();
    let r = c.post(c.path_of(&authz_url), Some(&json!({"status": "valid"})));
    assert_eq!(problem_name(&r), "malformed");
    let r = c.post(c.path_of(&authz_url), Some(&json!({"status": "deactivated"})));
    assert_eq!(body_json(&r)["status"], "deactivated");
    assert_eq!(body_json(&get(&c, &order_url))["status"], "invalid");
}

#[test]
fn deactivating_a_valid_authorization_gives_up_the_validation_behind_it() {
    // RFC 8555 §7.5.2; acme.sh --deactivate relies on it to force revalidation.
    let ca = TestCa::new();
    let c = account(&ca);
    let mut published = Vec::new();
    let r = new_order(&c, &["gone.example"]);
    answer_dns01(&c, body_json(&r)["authorizations"][0].as_str().unwrap(), &mut published);
    let r = new_order(&c, &["www.gone.example"]);
    assert_eq!(body_json(&r)["status"], "ready", "the dns-01 claim covers the subdomain");
    let authz_url = body_json(&r)["authorizations"][0].as_str().unwrap().to_string();
    let r = c.post(c.path_of(&authz_url), Some(&json!({"status": "deactivated"})));
    assert_eq!(body_json(&r)["status"], "deactivated");
    for name in ["www.gone.example", "gone.example", "*.gone.example"] {
        assert_eq!(body_json(&new_order(&c, &[name]))["status"], "pending", "{name}: validates again");
    }
}

#[test]
fn new_authz_pre_authorizes_a_name() {
    let ca = TestCa::new();
    let c = account(&ca);
    let r = c.post(paths::NEW_AUTHZ, Some(&json!({"identifier": {"type": "dns", "value": "pre.example.com"}})));
    assert_eq!(r.status, 201);
    let url = r.header("Location").unwrap().to_string();
    assert_eq!(answer_http01(&c, &url)["status"], "valid");
    assert_eq!(body_json(&new_order(&c, &["pre.example.com"]))["status"], "ready");
    let r = c.post(paths::NEW_AUTHZ, Some(&json!({"identifier": {"type": "dns", "value": "*.pre.example.com"}})));
    assert_eq!(problem_name(&r), "rejectedIdentifier");
}

#[test]
fn other_accounts_cannot_touch_orders_authorizations_or_certificates() {
    let ca = TestCa::new();
    let (c, order, _) = issue(&ca, &["mine.example.com"]);
    let stranger = account(&ca);
    for url in [order["authorizations"][0].as_str().unwrap(), order["certificate"].as_str().unwrap()] {
        assert_eq!(problem_name(&get(&stranger, url)), "unauthorized", "{url}");
    }
    let order_url = c.path_of(order["finalize"].as_str().unwrap()).trim_end_matches("/finalize").to_string();
    assert_eq!(problem_name(&stranger.post(&order_url, None)), "unauthorized");
}

// ---- issuers behind the front end: asynchronous, failing, and wrong back ends ----

/// A back end wrapping the local CA that can answer later, fail, or sign the wrong names.
struct Backend<'a> {
    ca: &'a crate::ca::local::LocalCa,
    root: Vec<u8>,
    mode: &'static str,
    polls: core::cell::Cell<u32>,
    pending: core::cell::RefCell<Option<crate::ca::LeafRequest>>,
}

impl crate::ca::Issuer for Backend<'_> {
    async fn issue(
        &self,
        profile: &crate::config::Profile,
        req: &crate::ca::LeafRequest,
    ) -> Result<crate::ca::IssueOutcome, crate::Problem> {
        match self.mode {
            "async" => {
                *self.pending.borrow_mut() = Some(req.clone());
                Ok(crate::ca::IssueOutcome::Pending { handle: "job-1".into(), retry_after: 5 })
            }
            "slow" => Ok(crate::ca::IssueOutcome::Pending { handle: "job-1".into(), retry_after: 0 }),
            "down" => Err(crate::Problem::server_internal("upstream CA: connection refused")),
            "wrong" => {
                let mut other = req.clone();
                other.dns_names = vec!["attacker.example".into()];
                crate::ca::Issuer::issue(self.ca, profile, &other).await
            }
            _ => crate::ca::Issuer::issue(self.ca, profile, req).await,
        }
    }
    async fn poll(
        &self,
        profile: &crate::config::Profile,
        handle: &str,
    ) -> Result<crate::ca::IssueOutcome, crate::Problem> {
        assert_eq!(handle, "job-1");
        self.polls.set(self.polls.get() + 1);
        if self.mode == "slow" {
            return Ok(crate::ca::IssueOutcome::Pending { handle: handle.into(), retry_after: 0 });
        }
        if self.polls.get() < 2 {
            return Ok(crate::ca::IssueOutcome::Pending { handle: handle.into(), retry_after: 5 });
        }
        let req = self.pending.borrow().clone().expect("issued first");
        crate::ca::Issuer::issue(self.ca, profile, &req).await
    }
    fn issuer_chain(&self, issuer: &str) -> Option<Vec<Vec<u8>>> {
        crate::ca::Issuer::issuer_chain(self.ca, issuer)
    }
    fn alternate_chains(&self, _issuer: &str) -> Vec<Vec<Vec<u8>>> {
        match self.mode {
            // One alternate chain: the intermediate followed by its root.
            "alt" => vec![vec![self.ca.chain().remove(0), self.root.clone()]],
            _ => Vec::new(),
        }
    }
    async fn sign_crl(
        &self,
        issuer: &str,
        revoked: &[crate::ca::RevokedEntry],
        a: u64,
        b: u64,
        n: u64,
    ) -> Result<Vec<u8>, crate::Problem> {
        crate::ca::Issuer::sign_crl(self.ca, issuer, revoked, a, b, n).await
    }
}

/// Runs a whole order through `mode`'s back end; returns the finalize response body and
/// the order as read afterwards (with the clock advanced between polls).
fn through_backend(mode: &'static str) -> (Value, Vec<Value>) {
    let ca = TestCa::new();
    let backend = Backend {
        ca: &ca.issuer,
        root: ca.root_der.clone(),
        mode,
        polls: Default::default(),
        pending: Default::default(),
    };
    let engine = crate::wfe::Engine {
        config: &ca.config,
        store: &ca.store,
        nonces: &ca.nonces,
        clock: ca.clock,
        rng: ca.rng,
        va: &ca.va,
        issuer: &backend,
    };
    let c = account(&ca);
    let r = new_order(&c, &["backend.example.com"]);
    let url = r.header("Location").unwrap().to_string();
    answer_http01(&c, body_json(&r)["authorizations"][0].as_str().unwrap());
    let order = body_json(&get(&c, &url));
    let csr = crate::b64::encode(&build_csr(&cert_key(&ca), &["backend.example.com".into()]).unwrap());
    let path = c.path_of(order["finalize"].as_str().unwrap());
    let req = jose_request(path, &c.sign(path, Some(&json!({ "csr": csr }))));
    let fin = block_on(engine.handle(&req));
    let mut seen = Vec::new();
    for _ in 0..3 {
        ca.clock.advance(6);
        let req = jose_request(c.path_of(&url), &c.sign(c.path_of(&url), None));
        let resp = block_on(engine.handle(&req));
        let mut order = body_json(&resp);
        order["_retry_after"] = json!(resp.header("Retry-After"));
        seen.push(order);
    }
    if mode == "alt" {
        let cert_url = seen[0]["certificate"].as_str().unwrap().to_string();
        let get = |path: &str| {
            let req = jose_request(path, &c.sign(path, None));
            block_on(engine.handle(&req))
        };
        let main = get(c.path_of(&cert_url));
        let links: Vec<String> = main.header_all("Link").iter().map(|l| l.to_string()).collect();
        let alt = links.iter().find(|l| l.ends_with("rel=\"alternate\"")).expect("alternate link").clone();
        let alt_url = alt.trim_start_matches('<').split('>').next().unwrap().to_string();
        assert_eq!(alt_url, format!("{cert_url}/1"));
        let alt_resp = get(c.path_of(&alt_url));
        assert_eq!(alt_resp.status, 200);
        let pem = String::from_utf8(alt_resp.body.clone()).unwrap();
        assert_eq!(pem.matches("BEGIN CERTIFICATE").count(), 3, "leaf, intermediate, root");
        assert!(alt_resp
            .header_all("Link")
            .iter()
            .any(|l| l.starts_with(&format!("<{cert_url}>")) && l.ends_with("rel=\"alternate\"")));
        assert_eq!(get(&format!("{}/2", c.path_of(&cert_url))).status, 404);
        seen.push(json!({"alternate": pem}));
    }
    (body_json(&fin), seen)
}

#[test]
fn alternate_chains_are_linked_and_served() {
    let (fin, seen) = through_backend("alt");
    assert_eq!(fin["status"], "valid");
    assert!(seen.last().unwrap()["alternate"].is_string());
}

#[test]
fn asynchronous_issuer_keeps_the_order_processing_until_a_poll_finishes_it() {
    let (fin, seen) = through_backend("async");
    assert_eq!(fin["status"], "processing");
    assert_eq!(seen[0]["status"], "processing", "first poll: still pending");
    assert_eq!(seen[1]["status"], "valid");
    assert!(seen[1]["certificate"].is_string());
}

#[test]
fn a_slow_back_end_gets_growing_retry_after_so_fixed_count_pollers_wait_it_out() {
    // Polls 6, 12 and 18 s after finalize: a quarter of the elapsed time, at least 1 s.
    let (fin, seen) = through_backend("slow");
    assert_eq!(fin["status"], "processing");
    let waits: Vec<&str> = seen.iter().map(|o| o["_retry_after"].as_str().unwrap()).collect();
    assert_eq!(waits, ["1", "3", "4"]);
    assert!(seen.iter().all(|o| o["status"] == "processing"));
}

#[test]
fn a_failing_back_end_fails_the_order_with_server_internal_naming_the_upstream_error() {
    let (fin, seen) = through_backend("down");
    assert_eq!(fin["status"], "invalid");
    assert_eq!(fin["error"]["type"], "urn:ietf:params:acme:error:serverInternal");
    assert!(fin["error"]["detail"].as_str().unwrap().contains("connection refused"));
    assert_eq!(seen[2]["status"], "invalid");
}

#[test]
fn a_back_end_that_signs_other_names_produces_a_failed_order_never_a_wrong_certificate() {
    let (fin, _) = through_backend("wrong");
    assert_eq!(fin["status"], "invalid");
    assert_eq!(fin["error"]["type"], "urn:ietf:params:acme:error:serverInternal");
    assert!(fin.get("certificate").is_none());
}
