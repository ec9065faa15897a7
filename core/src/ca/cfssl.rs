//! The CFSSL connector: signing and revocation through a CFSSL server's HTTP API.
//!
//! Issuance is two exchanges: `POST /api/v1/cfssl/sign` (or `authsign` when an auth key
//! is configured) with the client's CSR and the order's names as `hosts`, then
//! `POST /api/v1/cfssl/info` for the signer's certificate, which becomes the chain
//! (CFSSL's sign answer carries only the leaf). Revocation is one
//! `POST /api/v1/cfssl/revoke` with the serial in decimal, the authority key id in hex
//! and the RFC 5280 reason code; CFSSL only accepts it when `cfssl serve` runs with a
//! certificate database (`-db-config`), and it has no authenticated variant.
//!
//! Every CFSSL answer is `{"success": bool, "result": ..., "errors": [{"code",
//! "message"}], "messages": [...]}`. An answer with `success: false` is CFSSL's own,
//! final refusal, and the order fails with a problem that quotes its code and message;
//! no answer, or an HTTP 5xx without a CFSSL body, is retried ([`Retry`]).
//!
//! The authenticated form (`authsign`) wraps the JSON-encoded sign request: `{"token":
//! base64(HMAC-SHA256(key, request)), "request": base64(request)}`, standard base64 as
//! Go encodes byte slices, the key being the hex auth key of CFSSL's config.

use alloc::format;
use alloc::string::{String, ToString};
use alloc::vec::Vec;

use base64::engine::general_purpose::STANDARD;
use base64::Engine as _;
use hmac::{Hmac, KeyInit, Mac};
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};
use sha2::Sha256;

use super::connector::{self, CfsslConfig, HttpRequest, HttpResponse, JobOutput, Retry, Secrets, Step};
use super::LeafRequest;
use crate::problem::Problem;

/// The HMAC-SHA256 token CFSSL's standard auth provider expects for `request`.
pub fn auth_token(key: &[u8], request: &[u8]) -> Vec<u8> {
    let mac = <Hmac<Sha256> as KeyInit>::new_from_slice(key).expect("HMAC takes keys of any length");
    mac.chain_update(request).finalize().into_bytes().to_vec()
}

/// The JSON body of a sign request for `csr_der` certifying exactly `hosts`.
pub fn sign_request(csr_der: &[u8], hosts: &[String], profile: Option<&str>, label: Option<&str>) -> Vec<u8> {
    let pem = der::pem::encode_string("CERTIFICATE REQUEST", der::pem::LineEnding::LF, csr_der)
        .expect("a fixed PEM label always encodes");
    let mut req = json!({ "certificate_request": pem, "hosts": hosts });
    if let Some(p) = profile {
        req["profile"] = json!(p);
    }
    if let Some(l) = label {
        req["label"] = json!(l);
    }
    serde_json::to_vec(&req).expect("JSON values serialize")
}

/// The `authsign` envelope around a JSON-encoded request.
pub fn auth_envelope(key: &[u8], request: &[u8]) -> Vec<u8> {
    let body = json!({
        "token": STANDARD.encode(auth_token(key, request)),
        "request": STANDARD.encode(request),
    });
    serde_json::to_vec(&body).expect("JSON values serialize")
}

/// What a CFSSL answer says: its `result` on success, or a problem quoting its errors.
/// `Err(None)`: the answer is not CFSSL's (no JSON envelope), so nothing is known.
pub fn parse_response(backend: &str, resp: &HttpResponse) -> Result<Value, Option<Problem>> {
    let Ok(v) = serde_json::from_slice::<Value>(&resp.body) else { return Err(None) };
    let Some(success) = v.get("success").and_then(Value::as_bool) else { return Err(None) };
    if success && (200..300).contains(&resp.status) {
        return Ok(v.get("result").cloned().unwrap_or(Value::Null));
    }
    let errors: Vec<String> = v
        .get("errors")
        .and_then(Value::as_array)
        .map(|a| {
            a.iter()
                .map(|e| {
                    let code = e.get("code").map(|c| c.to_string()).unwrap_or_default();
                    let msg = e.get("message").and_then(Value::as_str).unwrap_or("");
                    format!("error {code}: {msg}")
                })
                .collect()
        })
        .unwrap_or_default();
    let what =
        if errors.is_empty() { format!("HTTP {} without an error message", resp.status) } else { errors.join("; ") };
    Err(Some(Problem::server_internal(format!("{backend} refused the request: {what}"))))
}

fn backend_name(url: &str) -> String {
    format!("CFSSL at {}", connector::host_of(url))
}

fn api(url: &str, endpoint: &str) -> String {
    format!("{}/api/v1/cfssl/{endpoint}", url.trim_end_matches('/'))
}

/// Where a sign job is.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SignPhase {
    /// Sending the CSR.
    Sign,
    /// Fetching the signer's certificate for the chain.
    Info,
}

/// Issuance by CFSSL (see the module documentation).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct SignJob {
    url: String,
    authenticated: bool,
    profile: Option<String>,
    label: Option<String>,
    /// The CSR, base64url DER.
    csr: String,
    hosts: Vec<String>,
    phase: SignPhase,
    /// The signed leaf, base64url DER, once CFSSL returned it.
    leaf: Option<String>,
    retry: Retry,
}

impl SignJob {
    /// A job that has CFSSL sign `req`'s CSR for `req`'s names.
    pub fn new(config: &CfsslConfig, req: &LeafRequest) -> Result<Self, Problem> {
        if req.csr_der.is_empty() {
            return Err(Problem::server_internal("CFSSL needs the client's CSR, and none was passed"));
        }
        Ok(SignJob {
            url: config.url.clone(),
            authenticated: config.auth_key_secret.is_some(),
            profile: config.profile.clone(),
            label: config.label.clone(),
            csr: crate::b64::encode(&req.csr_der),
            hosts: req.dns_names.iter().chain(&req.ip_addrs).cloned().collect(),
            phase: SignPhase::Sign,
            leaf: None,
            retry: Retry::new(config.give_up_after_secs),
        })
    }

    /// The phase the job is in.
    pub fn phase(&self) -> SignPhase {
        self.phase
    }

    /// The request for the current phase.
    pub fn next_request(&self, secrets: &Secrets) -> Result<HttpRequest, Problem> {
        match self.phase {
            SignPhase::Sign => {
                let csr =
                    crate::b64::decode(&self.csr).map_err(|e| Problem::server_internal(format!("stored CSR: {e}")))?;
                let body = sign_request(&csr, &self.hosts, self.profile.as_deref(), self.label.as_deref());
                if !self.authenticated {
                    return Ok(HttpRequest::post(&api(&self.url, "sign"), "application/json", body));
                }
                let key = secrets.cfssl_auth_key.as_deref().ok_or_else(|| {
                    Problem::server_internal(format!("{}: the auth key secret is not set", backend_name(&self.url)))
                })?;
                Ok(HttpRequest::post(&api(&self.url, "authsign"), "application/json", auth_envelope(key, &body)))
            }
            SignPhase::Info => {
                let mut body = json!({});
                if let Some(l) = &self.label {
                    body["label"] = json!(l);
                }
                if let Some(p) = &self.profile {
                    body["profile"] = json!(p);
                }
                Ok(HttpRequest::post(&api(&self.url, "info"), "application/json", body.to_string().into_bytes()))
            }
        }
    }

    /// Takes the answer to [`SignJob::next_request`].
    pub fn on_response(&mut self, resp: Result<HttpResponse, String>, now: u64) -> Step<JobOutput> {
        let backend = backend_name(&self.url);
        let result = match answer(&backend, resp, &mut self.retry, now) {
            Ok(r) => r,
            Err(step) => return step,
        };
        let Some(pem) = result.get("certificate").and_then(Value::as_str) else {
            return connector::permanent(&backend, "the answer has no certificate");
        };
        let Some(der) = super::pem_to_ders(pem).into_iter().next() else {
            return connector::permanent(&backend, "the answer's certificate is not PEM");
        };
        match self.phase {
            SignPhase::Sign => {
                self.leaf = Some(crate::b64::encode(&der));
                self.phase = SignPhase::Info;
                Step::Continue
            }
            SignPhase::Info => {
                let leaf = self.leaf.as_deref().and_then(|l| crate::b64::decode(l).ok()).unwrap_or_default();
                Step::Done(JobOutput::Issued { leaf, chain: alloc::vec![der] })
            }
        }
    }
}

/// The `result` of a CFSSL answer, or the step to take when there is none.
fn answer(
    backend: &str,
    resp: Result<HttpResponse, String>,
    retry: &mut Retry,
    now: u64,
) -> Result<Value, Step<JobOutput>> {
    let resp = match resp {
        Ok(r) => r,
        Err(e) => return Err(retry.transient(backend, &format!("no answer ({e})"), now, None)),
    };
    match parse_response(backend, &resp) {
        Ok(v) => {
            retry.reset();
            Ok(v)
        }
        Err(Some(p)) => Err(Step::Failed(p)),
        Err(None) if resp.status >= 500 || resp.status == 429 => {
            Err(retry.transient(backend, &format!("HTTP {}", resp.status), now, resp.retry_after()))
        }
        Err(None) => {
            Err(connector::permanent(backend, format!("HTTP {} with a body that is not CFSSL's", resp.status)))
        }
    }
}

/// A big-endian unsigned integer in decimal (CFSSL's certificate database keys
/// serials by their decimal form).
pub fn decimal(be: &[u8]) -> String {
    let mut n: Vec<u8> = be.iter().copied().skip_while(|b| *b == 0).collect();
    if n.is_empty() {
        return "0".into();
    }
    let mut digits = Vec::new();
    while !n.is_empty() {
        let mut rem = 0u32;
        for b in n.iter_mut() {
            let cur = (rem << 8) | u32::from(*b);
            *b = (cur / 10) as u8;
            rem = cur % 10;
        }
        digits.push(b'0' + rem as u8);
        let zeros = n.iter().take_while(|b| **b == 0).count();
        n.drain(..zeros);
    }
    digits.reverse();
    String::from_utf8(digits).expect("ASCII digits")
}

/// Revocation at CFSSL (see the module documentation).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct RevokeJob {
    url: String,
    serial: String,
    authority_key_id: String,
    reason: u8,
    retry: Retry,
}

impl RevokeJob {
    /// A job that tells CFSSL `leaf_der` is revoked for `reason`.
    pub fn new(config: &CfsslConfig, leaf_der: &[u8], reason: u8) -> Result<Self, Problem> {
        let cert = super::inspect(leaf_der)?;
        let aki = cert.aki_key_id.unwrap_or_default();
        Ok(RevokeJob {
            url: config.url.clone(),
            serial: decimal(&cert.serial),
            authority_key_id: aki.iter().map(|b| format!("{b:02x}")).collect(),
            reason,
            retry: Retry::new(config.give_up_after_secs),
        })
    }

    /// The revoke request.
    pub fn next_request(&self) -> HttpRequest {
        let body = json!({
            "serial": self.serial,
            "authority_key_id": self.authority_key_id,
            "reason": self.reason.to_string(),
        });
        HttpRequest::post(&api(&self.url, "revoke"), "application/json", body.to_string().into_bytes())
    }

    /// Takes CFSSL's answer. CFSSL releases before late 2016 (Debian's among them)
    /// store certificates without their authority key id, so a "not found" for the
    /// (serial, key id) pair is asked once more with an empty key id.
    pub fn on_response(&mut self, resp: Result<HttpResponse, String>, now: u64) -> Step<JobOutput> {
        match answer(&backend_name(&self.url), resp, &mut self.retry, now) {
            Ok(_) => Step::Done(JobOutput::Revoked),
            Err(Step::Failed(p)) if p.detail.contains("not found") && !self.authority_key_id.is_empty() => {
                self.authority_key_id.clear();
                Step::Continue
            }
            Err(step) => step,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ca::testutil::{ca, leaf_request};
    use crate::jose::KeyKind;
    use crate::problem::ProblemType;

    fn config(auth: bool) -> CfsslConfig {
        CfsslConfig {
            url: "http://127.0.0.1:8888/".into(),
            auth_key_secret: auth.then(|| "CFSSL_AUTH_KEY".into()),
            profile: Some("www".into()),
            label: None,
            give_up_after_secs: 60,
        }
    }

    fn ok(result: Value) -> HttpResponse {
        let body = json!({"success": true, "result": result, "errors": [], "messages": []});
        HttpResponse { status: 200, headers: Vec::new(), body: body.to_string().into_bytes() }
    }

    /// `printf %s 'hello' | openssl dgst -sha256 -mac HMAC -macopt hexkey:000102...1f`
    #[test]
    fn auth_token_is_hmac_sha256_of_the_request_as_openssl_computes_it() {
        let key: Vec<u8> = (0u8..32).collect();
        let tag: String = auth_token(&key, b"hello").iter().map(|b| format!("{b:02x}")).collect();
        assert_eq!(tag, "53c40272a70c15ca4ee0af4df1f155fd6c41e00ce2307d8987ecd4bb36a7e990");
        let env: Value = serde_json::from_slice(&auth_envelope(&key, b"hello")).unwrap();
        assert_eq!(env["request"], "aGVsbG8=");
        assert_eq!(STANDARD.decode(env["token"].as_str().unwrap()).unwrap(), auth_token(&key, b"hello"));
    }

    #[test]
    fn sign_job_sends_the_csr_and_names_then_fetches_the_signer_for_the_chain() {
        let ca = ca(KeyKind::P256, 7);
        let req = leaf_request("p256-sha256.der", 90, true);
        let mut job = SignJob::new(&config(false), &req).unwrap();
        let sign = job.next_request(&Secrets::default()).unwrap();
        assert_eq!(sign.url, "http://127.0.0.1:8888/api/v1/cfssl/sign");
        let body: Value = serde_json::from_slice(&sign.body).unwrap();
        assert!(body["certificate_request"].as_str().unwrap().starts_with("-----BEGIN CERTIFICATE REQUEST-----\n"));
        let pem = body["certificate_request"].as_str().unwrap();
        assert_eq!(der::pem::decode_vec(pem.as_bytes()).unwrap().1, req.csr_der);
        assert_eq!(body["hosts"], json!(["example.com", "www.example.com", "1.1.1.1", "2606:4700:4700::1111"]));
        assert_eq!(body["profile"], "www");

        let leaf = ca.issue_leaf(&req).unwrap();
        let step = job.on_response(Ok(ok(json!({"certificate": super::super::pem_chain(&leaf, &[])}))), 0);
        assert_eq!(step, Step::Continue);
        assert_eq!(job.phase(), SignPhase::Info);
        let info = job.next_request(&Secrets::default()).unwrap();
        assert_eq!(info.url, "http://127.0.0.1:8888/api/v1/cfssl/info");
        let signer = ca.to_parts().1;
        let step = job.on_response(Ok(ok(json!({"certificate": super::super::pem_chain(&signer, &[])}))), 0);
        assert_eq!(step, Step::Done(JobOutput::Issued { leaf, chain: alloc::vec![signer] }));
    }

    #[test]
    fn authsign_wraps_the_sign_request_and_needs_the_secret() {
        let req = leaf_request("p256-sha256.der", 90, true);
        let job = SignJob::new(&config(true), &req).unwrap();
        let p = job.next_request(&Secrets::default()).unwrap_err();
        assert!(p.detail.contains("auth key secret is not set"), "{}", p.detail);
        let key = alloc::vec![7u8; 16];
        let secrets = Secrets { cfssl_auth_key: Some(key.clone()), ..Default::default() };
        let r = job.next_request(&secrets).unwrap();
        assert_eq!(r.url, "http://127.0.0.1:8888/api/v1/cfssl/authsign");
        let env: Value = serde_json::from_slice(&r.body).unwrap();
        let inner = STANDARD.decode(env["request"].as_str().unwrap()).unwrap();
        assert_eq!(inner, sign_request(&req.csr_der, &job.hosts, Some("www"), None));
        assert_eq!(STANDARD.decode(env["token"].as_str().unwrap()).unwrap(), auth_token(&key, &inner));
    }

    #[test]
    fn cfssl_errors_fail_the_job_naming_code_and_message_and_outages_are_retried() {
        let req = leaf_request("p256-sha256.der", 90, true);
        let mut job = SignJob::new(&config(false), &req).unwrap();
        let body = json!({"success": false, "result": null, "messages": [],
                          "errors": [{"code": 2400, "message": "Invalid CSR: unknown key type"}]});
        let resp = HttpResponse { status: 400, headers: Vec::new(), body: body.to_string().into_bytes() };
        let Step::Failed(p) = job.on_response(Ok(resp), 0) else { panic!("a CFSSL refusal is final") };
        assert_eq!(p.kind, ProblemType::ServerInternal);
        assert_eq!(p.detail, "CFSSL at 127.0.0.1:8888 refused the request: error 2400: Invalid CSR: unknown key type");

        let mut job = SignJob::new(&config(false), &req).unwrap();
        assert_eq!(job.on_response(Err("connection refused".into()), 100), Step::Wait(1));
        let bad_gateway = HttpResponse { status: 502, headers: Vec::new(), body: b"<html>".to_vec() };
        assert_eq!(job.on_response(Ok(bad_gateway), 101), Step::Wait(2));
        let Step::Failed(p) = job.on_response(Err("connection refused".into()), 160) else { panic!("deadline") };
        assert!(
            p.detail.starts_with("CFSSL at 127.0.0.1:8888: no answer (connection refused) (gave up"),
            "{}",
            p.detail
        );
        let mut job = SignJob::new(&config(false), &req).unwrap();
        let html = HttpResponse { status: 404, headers: Vec::new(), body: b"not found".to_vec() };
        assert!(matches!(job.on_response(Ok(html), 0), Step::Failed(_)));
    }

    #[test]
    fn revoke_sends_decimal_serial_hex_aki_and_reason() {
        let ca = ca(KeyKind::P256, 8);
        let req = leaf_request("p256-sha256.der", 90, true);
        let leaf = ca.issue_leaf(&req).unwrap();
        let mut job = RevokeJob::new(&config(false), &leaf, 1).unwrap();
        let r = job.next_request();
        assert_eq!(r.url, "http://127.0.0.1:8888/api/v1/cfssl/revoke");
        let body: Value = serde_json::from_slice(&r.body).unwrap();
        let summary = super::super::inspect(&leaf).unwrap();
        let hex = &summary.serial_hex;
        // Cross-check the decimal form on a value small enough for u128.
        assert_eq!(decimal(&u128::from_str_radix(hex, 16).unwrap().to_be_bytes()), body["serial"].as_str().unwrap());
        assert_eq!(body["reason"], "1");
        assert_eq!(body["authority_key_id"].as_str().unwrap().len(), 40);
        let not_found = json!({"success": false, "result": null, "messages": [],
            "errors": [{"code": 11200, "message": "failed to revoke the certificate: certificate not found"}]});
        let resp = HttpResponse { status: 400, headers: Vec::new(), body: not_found.to_string().into_bytes() };
        assert_eq!(job.on_response(Ok(resp.clone()), 0), Step::Continue, "asked again without the key id");
        let body: Value = serde_json::from_slice(&job.next_request().body).unwrap();
        assert_eq!(body["authority_key_id"], "");
        assert!(matches!(job.on_response(Ok(resp), 0), Step::Failed(p) if p.detail.contains("certificate not found")));
        assert_eq!(job.on_response(Ok(ok(json!({}))), 0), Step::Done(JobOutput::Revoked));
        assert_eq!(decimal(&[0, 0]), "0");
        assert_eq!(decimal(&[0x01, 0x00]), "256");
        assert_eq!(decimal(&[0xff; 8]), "18446744073709551615");
    }
}
