//! The upstream ACME connector against this crate's own server, in-process: a
//! [`TestCa`] is the upstream CA, and requests go to it through a plain function.

extern crate std;

use alloc::format;
use alloc::string::{String, ToString};
use alloc::vec;
use alloc::vec::Vec;
use core::cell::Cell;

use serde_json::{json, Value};

use super::*;
use crate::ca::connector::{AcmeConfig, Job, JobOutput, Secrets, Step};
use crate::ca::{check_issued, inspect, LeafRequest};
use crate::client::build_csr;
use crate::jose::KeyKind;
use crate::problem::ProblemType;
use crate::testkit::{block_on, body_json, TestCa, BASE};
use crate::wfe::Request;

const ADMIN: &str = "Bearer test-admin-token";

fn config() -> AcmeConfig {
    AcmeConfig {
        directory: format!("{BASE}/directory"),
        account_key_secret: "UPSTREAM_KEY".into(),
        eab_kid_secret: None,
        eab_hmac_secret: None,
        contact: vec![],
        profile: None,
        challenge: None,
        give_up_after_secs: 300,
    }
}

/// Sends a connector request to `ca`, counting requests; `down` makes it unreachable.
fn send(ca: &TestCa, req: HttpRequest, count: &Cell<u32>) -> Result<HttpResponse, String> {
    count.set(count.get() + 1);
    let path = req.url.strip_prefix(BASE).ok_or("not the upstream")?.to_string();
    let r = ca.handle(&Request { method: req.method, path, headers: req.headers, body: req.body });
    Ok(HttpResponse { status: r.status, headers: r.headers, body: r.body })
}

/// Runs `job` against `ca` until it finishes, advancing the upstream's clock on waits.
fn drive(ca: &TestCa, job: &mut Job, secrets: &Secrets) -> (Result<JobOutput, crate::Problem>, u32) {
    let count = Cell::new(0);
    for _ in 0..50 {
        let now = ca.clock.0.get();
        let step = block_on(job.run(secrets, now, 20, |r| {
            let out = send(ca, r, &count);
            async move { out }
        }));
        match step {
            Step::Done(out) => return (Ok(out), count.get()),
            Step::Failed(p) => return (Err(p), count.get()),
            Step::Wait(s) => ca.clock.advance(s.max(1)),
            Step::Continue => unreachable!("run only returns at a wait or the end"),
        }
    }
    panic!("the job never finished")
}

/// A leaf request as the front end's finalize builds it, with a fresh CSR for `names`.
fn leaf_request(ca: &TestCa, names: &[&str]) -> LeafRequest {
    let key = ca.key(KeyKind::P256);
    let names: Vec<String> = names.iter().map(|s| s.to_string()).collect();
    let csr_der = build_csr(&key, &names).unwrap();
    let info = crate::ca::parse_csr(&csr_der, false).unwrap();
    LeafRequest {
        csr_der,
        spki_der: info.spki_der,
        dns_names: info.dns_names.into_iter().collect(),
        ip_addrs: info.ip_addrs.into_iter().collect(),
        serial: [1; 16],
        not_before: 0,
        not_after: 0,
        crl_url: None,
        issuer_url: String::new(),
    }
}

fn admin(ca: &TestCa, method: &str, path: &str, body: Value) -> Value {
    let r = ca.handle(&Request {
        method: method.into(),
        path: path.into(),
        headers: vec![("Authorization".into(), ADMIN.into()), ("Content-Type".into(), "application/json".into())],
        body: serde_json::to_vec(&body).unwrap(),
    });
    assert!(r.status < 300, "{method} {path}: {} {}", r.status, String::from_utf8_lossy(&r.body));
    body_json(&r)
}

/// An upstream that requires EAB, and a credential whose tenant holds an operator claim
/// on `domain`: the front end's account there has pre-validated names.
fn upstream_with_claim(domain: &str) -> (TestCa, Secrets, AcmeConfig) {
    let mut ca = TestCa::with_seed(0xacce55);
    ca.config.eab.required = true;
    let cred = admin(&ca, "POST", "/admin/eab", json!({"label": "edge-acme front end"}));
    let kid = cred["kid"].as_str().unwrap().to_string();
    admin(&ca, "POST", &format!("/admin/tenants/{kid}/claims"), json!({"name": domain}));
    let mac = crate::eab::decode_mac_key(cred["macKey"].as_str().unwrap()).unwrap();
    let secrets = Secrets { account_key: Some(ca.key(KeyKind::P256)), eab: Some((kid, mac)), cfssl_auth_key: None };
    let mut cfg = config();
    cfg.eab_kid_secret = Some("EAB_KID".into());
    cfg.eab_hmac_secret = Some("EAB_HMAC".into());
    (ca, secrets, cfg)
}

#[test]
fn issues_through_an_upstream_edge_acme_whose_account_has_pre_validated_names() {
    let (ca, secrets, cfg) = upstream_with_claim("corp.example");
    let req = leaf_request(&ca, &["www.corp.example", "api.corp.example"]);
    let mut job = Job::issue(&crate::ca::connector::ConnectorConfig::Acme(cfg), &req).unwrap();
    let (out, requests) = drive(&ca, &mut job, &secrets);
    let JobOutput::Issued { leaf, chain } = out.unwrap() else { panic!("issuance") };
    // directory (its answer carries a nonce), account, newOrder (ready at once),
    // finalize (valid at once), download.
    assert_eq!(requests, 5);
    assert_eq!(chain, vec![ca.issuer.to_parts().1], "the upstream's own chain");
    let summary = check_issued(&leaf, &req.dns_names, &req.ip_addrs, &req.spki_der, 90 * 86_400).unwrap();
    assert_eq!(summary.aki_key_id.as_deref(), Some(ca.issuer.key_identifier()));

    // Revocation reaches the upstream: its ARI window for the certificate moves to now.
    let mut revoke = Job::revoke(&crate::ca::connector::ConnectorConfig::Acme(config_eab()), &leaf, 4).unwrap();
    let (out, _) = drive(&ca, &mut revoke, &secrets);
    assert_eq!(out.unwrap(), JobOutput::Revoked);
    let rec: crate::sa::records::CertRecord =
        block_on(crate::sa::get_json(&ca.store, &crate::sa::records::CertRecord::key(&summary.serial_hex)))
            .unwrap()
            .unwrap()
            .0;
    assert_eq!(rec.revoked.map(|r| r.reason), Some(4));
    // Revoking again is not an error (alreadyRevoked is the outcome wanted).
    let mut again = Job::revoke(&crate::ca::connector::ConnectorConfig::Acme(config_eab()), &leaf, 4).unwrap();
    assert_eq!(drive(&ca, &mut again, &secrets).0.unwrap(), JobOutput::Revoked);
}

fn config_eab() -> AcmeConfig {
    let mut c = config();
    c.eab_kid_secret = Some("EAB_KID".into());
    c.eab_hmac_secret = Some("EAB_HMAC".into());
    c
}

#[test]
fn a_name_without_upstream_authorization_fails_with_a_problem_that_says_why() {
    let (ca, secrets, cfg) = upstream_with_claim("corp.example");
    let req = leaf_request(&ca, &["elsewhere.example"]);
    let mut job = Job::issue(&crate::ca::connector::ConnectorConfig::Acme(cfg), &req).unwrap();
    let p = drive(&ca, &mut job, &secrets).0.unwrap_err();
    assert_eq!(p.kind, ProblemType::ServerInternal);
    assert!(
        p.detail
            .starts_with("upstream ACME CA at ca.test: the upstream authorization for elsewhere.example is pending"),
        "{}",
        p.detail
    );
}

#[test]
fn with_a_challenge_configured_pending_authorizations_are_triggered_and_polled() {
    let ca = TestCa::with_seed(0xc4a1);
    let mut cfg = config();
    cfg.challenge = Some("http-01".into());
    let key = ca.key(KeyKind::P384);
    let thumb = key.public_jwk();
    let secrets = Secrets { account_key: Some(key), ..Default::default() };
    let req = leaf_request(&ca, &["a.trusting.example", "b.trusting.example"]);
    let mut job = Job::issue(&crate::ca::connector::ConnectorConfig::Acme(cfg), &req).unwrap();
    // Stand-in for an upstream that trusts the front end: its validation always
    // succeeds because whatever it fetches answers with the right key authorization.
    let count = Cell::new(0);
    let mut out = None;
    for _ in 0..40 {
        let now = ca.clock.0.get();
        let step = block_on(job.run(&secrets, now, 1, |r| {
            // Publish the key authorization for every http-01 token the upstream shows.
            let res = send(&ca, r, &count);
            if let Ok(resp) = &res {
                if let Ok(v) = serde_json::from_slice::<Value>(&resp.body) {
                    for c in v.get("challenges").and_then(Value::as_array).into_iter().flatten() {
                        if let (Some(tok), Some("http-01")) = (c["token"].as_str(), c["type"].as_str()) {
                            let host = v["identifier"]["value"].as_str().unwrap();
                            let url = format!("http://{host}/.well-known/acme-challenge/{tok}");
                            let ka = crate::keyauth::key_authorization(tok, &thumb);
                            ca.va.set(|va| va.http(&url, 200, ka));
                        }
                    }
                }
            }
            async move { res }
        }));
        match step {
            Step::Done(o) => {
                out = Some(o);
                break;
            }
            Step::Failed(p) => panic!("{}", p.detail),
            Step::Wait(s) => ca.clock.advance(s.max(1)),
            Step::Continue => unreachable!(),
        }
    }
    let Some(JobOutput::Issued { leaf, .. }) = out else { panic!("never issued") };
    check_issued(&leaf, &req.dns_names, &req.ip_addrs, &req.spki_der, 90 * 86_400).unwrap();
    // directory, account, newOrder, then per name authz + challenge + authz, then
    // finalize and download.
    assert_eq!(count.get(), 3 + 2 * 3 + 2);
}

#[test]
fn an_unreachable_upstream_is_retried_with_backoff_then_fails_naming_the_error() {
    let mut cfg = config();
    cfg.give_up_after_secs = 30;
    let ca = TestCa::new();
    let req = leaf_request(&ca, &["x.example"]);
    let mut job = Job::issue(&crate::ca::connector::ConnectorConfig::Acme(cfg), &req).unwrap();
    let secrets = Secrets { account_key: Some(ca.key(KeyKind::P256)), ..Default::default() };
    let mut now = 1000;
    let mut waits = Vec::new();
    let p = loop {
        let step = block_on(job.run(&secrets, now, 5, |_| async { Err("connection refused".to_string()) }));
        match step {
            Step::Wait(s) => {
                waits.push(s);
                now += s;
            }
            Step::Failed(p) => break p,
            other => panic!("{other:?}"),
        }
    };
    assert_eq!(waits, [1, 2, 4, 8, 16]);
    assert_eq!(p.kind, ProblemType::ServerInternal);
    assert!(
        p.detail.starts_with("upstream ACME CA at ca.test: directory: no answer (connection refused) (gave up after 6"),
        "{}",
        p.detail
    );
}

#[test]
fn upstream_refusals_are_final_and_quote_the_upstream_problem() {
    let mut ca = TestCa::new();
    ca.config.blocked_suffixes = vec!["blocked.example".into()];
    let req = leaf_request(&ca, &["www.blocked.example"]);
    let mut job = Job::issue(&crate::ca::connector::ConnectorConfig::Acme(config()), &req).unwrap();
    let secrets = Secrets { account_key: Some(ca.key(KeyKind::P256)), ..Default::default() };
    let p = drive(&ca, &mut job, &secrets).0.unwrap_err();
    assert_eq!(p.kind, ProblemType::ServerInternal);
    assert!(
        p.detail.starts_with("upstream ACME CA at ca.test: newOrder: HTTP 400 rejectedIdentifier:"),
        "{}",
        p.detail
    );
    // Missing secrets are named too.
    let mut job = Job::issue(&crate::ca::connector::ConnectorConfig::Acme(config_eab()), &req).unwrap();
    let no_key = drive(&ca, &mut job, &Secrets::default()).0.unwrap_err();
    assert!(no_key.detail.contains("account key secret is not set"), "{}", no_key.detail);
}

#[test]
fn a_stored_job_resumes_where_it_stopped_and_a_repeated_finalize_is_harmless() {
    let (ca, secrets, cfg) = upstream_with_claim("resume.example");
    let req = leaf_request(&ca, &["resume.example"]);
    let mut job = Job::issue(&crate::ca::connector::ConnectorConfig::Acme(cfg), &req).unwrap();
    let count = Cell::new(0);
    // Up to and including finalize (directory, nonce, account, newOrder, finalize)...
    let mut sent_finalize = false;
    while !sent_finalize {
        let Job::AcmeIssue(j) = &job else { unreachable!() };
        sent_finalize = *j.phase() == IssuePhase::Finalize;
        let r = job.next_request(&secrets).unwrap();
        let resp = send(&ca, r, &count);
        if !sent_finalize {
            assert_eq!(job.on_response(resp, 0), Step::Continue);
        }
    }
    // ...then "crash" before the finalize answer was recorded: the stored job (JSON)
    // still says finalize. Resuming sends finalize again, the upstream answers
    // orderNotReady, and the job polls the order and downloads the certificate.
    let stored = serde_json::to_string(&job).unwrap();
    let mut resumed: Job = serde_json::from_str(&stored).unwrap();
    let (out, _) = drive(&ca, &mut resumed, &secrets);
    let JobOutput::Issued { leaf, .. } = out.unwrap() else { panic!() };
    assert_eq!(inspect(&leaf).unwrap().dns_names.into_iter().collect::<Vec<_>>(), ["resume.example"]);
}

/// An issuer for the front end that runs connector jobs against an in-process upstream:
/// the same shape as the Worker's (a job per issuance, polled until it ends).
struct JobIssuer<'a> {
    upstream: &'a TestCa,
    config: crate::ca::connector::ConnectorConfig,
    secrets: Secrets,
    jobs: core::cell::RefCell<alloc::collections::BTreeMap<String, Job>>,
    revoked: Cell<u32>,
}

impl crate::ca::Issuer for JobIssuer<'_> {
    async fn issue(
        &self,
        _profile: &crate::config::Profile,
        req: &LeafRequest,
    ) -> Result<crate::ca::IssueOutcome, crate::Problem> {
        let handle = format!("job-{}", self.jobs.borrow().len());
        self.jobs.borrow_mut().insert(handle.clone(), Job::issue(&self.config, req)?);
        Ok(crate::ca::IssueOutcome::Pending { handle, retry_after: 1 })
    }
    async fn poll(
        &self,
        _profile: &crate::config::Profile,
        handle: &str,
    ) -> Result<crate::ca::IssueOutcome, crate::Problem> {
        let mut job = self.jobs.borrow().get(handle).cloned().expect("known job");
        let count = Cell::new(0);
        let now = self.upstream.clock.0.get();
        let step = job.run(&self.secrets, now, 20, |r| {
            let out = send(self.upstream, r, &count);
            async move { out }
        });
        let step = step.await;
        self.jobs.borrow_mut().insert(handle.into(), job);
        match step {
            Step::Done(JobOutput::Issued { leaf, chain }) => Ok(crate::ca::IssueOutcome::Issued { leaf, chain }),
            Step::Failed(p) => Err(p),
            _ => Ok(crate::ca::IssueOutcome::Pending { handle: handle.into(), retry_after: 1 }),
        }
    }
    fn issuer_chain(&self, _issuer: &str) -> Option<Vec<Vec<u8>>> {
        None
    }
    async fn revoke(&self, _issuer: &str, leaf_der: &[u8], reason: u8) -> Result<(), crate::Problem> {
        let mut job = Job::revoke(&self.config, leaf_der, reason)?;
        let (out, _) = drive(self.upstream, &mut job, &self.secrets);
        out.map(|_| self.revoked.set(self.revoked.get() + 1))
    }
    async fn sign_crl(
        &self,
        issuer: &str,
        _revoked: &[crate::ca::RevokedEntry],
        _this_update: u64,
        _next_update: u64,
        _number: u64,
    ) -> Result<Vec<u8>, crate::Problem> {
        Err(crate::Problem::server_internal(format!("{issuer} publishes its own CRLs")))
    }
}

#[test]
fn a_front_end_in_front_of_an_upstream_edge_acme_serves_the_upstream_chain_and_forwards_revocation() {
    use crate::testkit::{jose_request, TestClient};
    let (upstream, secrets, cfg) = upstream_with_claim("front.example");
    let mut front = TestCa::with_seed(0xf407);
    front.config.profiles = crate::ca::connector::parse_profiles(
        r#"[{"name": "public", "description": "via upstream", "validity_days": 90, "issuer": "upstream"}]"#,
        ["upstream"],
    )
    .unwrap();
    let issuer = JobIssuer {
        upstream: &upstream,
        config: crate::ca::connector::ConnectorConfig::Acme(cfg),
        secrets,
        jobs: Default::default(),
        revoked: Cell::new(0),
    };
    let engine = crate::wfe::Engine {
        config: &front.config,
        store: &front.store,
        nonces: &front.nonces,
        clock: front.clock,
        rng: front.rng,
        va: &front.va,
        issuer: &issuer,
    };
    let mut c = TestClient::new(&front, front.key(KeyKind::P256));
    assert_eq!(c.new_account(&json!({"termsOfServiceAgreed": true})).status, 201);
    let account = front.config.account_id_from_url(c.kid.as_deref().unwrap()).unwrap().to_string();
    admin(&front, "POST", &format!("/admin/tenants/{account}/claims"), json!({"name": "front.example"}));
    let send_engine = |path: &str, payload: Option<&Value>| {
        let r = block_on(engine.handle(&jose_request(path, &c.sign(path, payload))));
        let json = serde_json::from_slice(&r.body).unwrap_or(Value::Null);
        (r.status, json, r)
    };
    let r = c.post(
        crate::wfe::paths::NEW_ORDER,
        Some(&json!({"identifiers": [{"type": "dns", "value": "www.front.example"}]})),
    );
    let order = body_json(&r);
    assert_eq!(order["status"], "ready");
    assert_eq!(order["profile"], "public");
    let order_path = c.path_of(r.header("Location").unwrap()).to_string();
    let cert_key = front.key(KeyKind::P256);
    let csr = crate::b64::encode(&build_csr(&cert_key, &["www.front.example".into()]).unwrap());
    let (status, fin, _) = send_engine(c.path_of(order["finalize"].as_str().unwrap()), Some(&json!({"csr": csr})));
    assert_eq!((status, fin["status"].as_str()), (200, Some("processing")), "{fin}");
    front.clock.advance(1);
    let (_, done, _) = send_engine(&order_path, None);
    assert_eq!(done["status"], "valid", "{done}");
    let (_, _, cert) = send_engine(c.path_of(done["certificate"].as_str().unwrap()), None);
    let pem = String::from_utf8(cert.body).unwrap();
    let ders = crate::ca::pem_to_ders(&pem);
    assert_eq!(ders[1..], [upstream.issuer.to_parts().1], "the chain is the upstream's");
    assert_eq!(
        inspect(&ders[0]).unwrap().spki_der,
        cert_key.public_jwk().to_spki_der(),
        "the upstream certified the client's own key"
    );

    let (status, _, _) = send_engine(
        crate::wfe::paths::REVOKE_CERT,
        Some(&json!({"certificate": crate::b64::encode(&ders[0]), "reason": 1})),
    );
    assert_eq!(status, 200);
    assert_eq!(issuer.revoked.get(), 1, "the revocation was forwarded");
    let serial = inspect(&ders[0]).unwrap().serial_hex;
    for ca in [&front, &upstream] {
        let rec: crate::sa::records::CertRecord =
            block_on(crate::sa::get_json(&ca.store, &crate::sa::records::CertRecord::key(&serial))).unwrap().unwrap().0;
        assert!(rec.revoked.is_some(), "recorded on both sides");
    }
    let _ = &mut c;
}
