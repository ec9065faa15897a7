//! The upstream ACME connector: this front end as an ACME client (RFC 8555) of another
//! ACME CA, one HTTP exchange at a time (see [`super::connector`] for the loop a host
//! runs).
//!
//! Issuance ([`IssueJob`]): directory → newNonce → newAccount (the configured account
//! key, with an External Account Binding when configured; an existing account is
//! found by its key) → newOrder for the order's identifiers → the authorizations →
//! finalize with the client's CSR exactly as the client sent it (the upstream certifies
//! the client's key; this front end never holds it) → poll the order → download the
//! chain. The front end has already validated the names; the upstream must not ask
//! again, which works in two supported modes:
//!
//! - **pre-validated account**: the upstream account already holds valid
//!   authorizations for the names (an operator-added claim on another edge-acme, a CA
//!   account with validated domains), so new orders are `ready` at once or their
//!   authorizations are `valid`;
//! - **trusting upstream**: the upstream validates on request without checking (for
//!   example Pebble with `PEBBLE_VA_ALWAYS_VALID=1`): with `challenge` configured the
//!   connector triggers that challenge on each pending authorization and polls it.
//!
//! Any other pending authorization fails the order with a problem that says so.
//!
//! Revocation ([`RevokeJob`]): directory → newNonce → the existing account
//! (`onlyReturnExisting`) → revokeCert with the certificate and reason.
//!
//! Errors: no answer, HTTP 5xx and `rateLimited` are retried with backoff; `badNonce`
//! is retried at once with the fresh nonce; any other problem document is the
//! upstream's final word and fails the job, naming the upstream and its error type and
//! detail. After a restart a job may repeat one request: a repeated newOrder makes a
//! second upstream order (harmless), and a repeated finalize that the upstream refuses
//! with `orderNotReady` is followed by polling the order, which has moved on.

use alloc::format;
use alloc::string::{String, ToString};
use alloc::vec::Vec;

use serde::{Deserialize, Serialize};
use serde_json::{json, Value};

use super::connector::{self, AcmeConfig, HttpRequest, HttpResponse, JobOutput, Retry, Secrets, Step};
use super::LeafRequest;
use crate::jose::{sign_flattened, Alg, SignerRef, SigningKey};
use crate::problem::Problem;
use crate::wire::Identifier;

/// How many `badNonce` answers in a row are retried at once before backing off.
const MAX_QUICK_NONCE_RETRIES: u32 = 3;

/// The upstream's resource URLs from its directory.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
struct Urls {
    new_nonce: String,
    new_account: String,
    new_order: String,
    revoke_cert: String,
}

/// What the session itself must send before a job's own request.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Stage {
    Directory,
    Nonce,
    Account,
    Job,
}

/// The client session with the upstream: directory, nonce and account, shared by the
/// issuance and revocation jobs.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
struct Session {
    directory: String,
    contact: Vec<String>,
    eab: bool,
    only_existing: bool,
    urls: Option<Urls>,
    nonce: Option<String>,
    kid: Option<String>,
    bad_nonces: u32,
    retry: Retry,
}

fn upstream_name(directory: &str) -> String {
    format!("upstream ACME CA at {}", connector::host_of(directory))
}

fn key_of<'a>(secrets: &'a Secrets, directory: &str) -> Result<&'a SigningKey, Problem> {
    secrets.account_key.as_ref().ok_or_else(|| {
        Problem::server_internal(format!("{}: the account key secret is not set", upstream_name(directory)))
    })
}

/// The short name of an ACME problem type URI (`urn:ietf:params:acme:error:badNonce` →
/// `badNonce`).
fn short_type(t: &str) -> &str {
    t.rsplit(':').next().unwrap_or(t)
}

/// The problem document of an error answer: (short type, detail).
fn problem_of(resp: &HttpResponse) -> Option<(String, String)> {
    let v: Value = serde_json::from_slice(&resp.body).ok()?;
    let t = v.get("type")?.as_str()?;
    Some((short_type(t).to_string(), v.get("detail").and_then(Value::as_str).unwrap_or("").to_string()))
}

fn describe_problem(v: &Value) -> String {
    let t = v.get("type").and_then(Value::as_str).map(short_type).unwrap_or("error");
    let d = v.get("detail").and_then(Value::as_str).unwrap_or("");
    format!("{t}: {d}")
}

impl Session {
    fn new(config: &AcmeConfig, only_existing: bool) -> Self {
        Session {
            directory: config.directory.clone(),
            contact: config.contact.clone(),
            eab: config.eab_kid_secret.is_some(),
            only_existing,
            urls: None,
            nonce: None,
            kid: None,
            bad_nonces: 0,
            retry: Retry::new(config.give_up_after_secs),
        }
    }

    fn name(&self) -> String {
        upstream_name(&self.directory)
    }

    fn stage(&self) -> Stage {
        match (&self.urls, &self.nonce, &self.kid) {
            (None, _, _) => Stage::Directory,
            (_, None, _) => Stage::Nonce,
            (_, _, None) => Stage::Account,
            _ => Stage::Job,
        }
    }

    fn urls(&self) -> &Urls {
        self.urls.as_ref().expect("the directory is read before any other request")
    }

    /// A signed POST (`payload` None: POST-as-GET) with the account's kid.
    fn post(&self, secrets: &Secrets, url: &str, payload: Option<&Value>) -> Result<HttpRequest, Problem> {
        let key = key_of(secrets, &self.directory)?;
        let kid = self.kid.as_deref().expect("the account is known before job requests");
        Ok(self.signed(key, SignerRef::Kid(kid), url, payload))
    }

    fn signed(&self, key: &SigningKey, signer: SignerRef<'_>, url: &str, payload: Option<&Value>) -> HttpRequest {
        let bytes = payload.map(|p| serde_json::to_vec(p).expect("JSON values serialize")).unwrap_or_default();
        let jws = sign_flattened(key, signer, self.nonce.as_deref(), url, &bytes);
        HttpRequest::post(url, "application/jose+json", serde_json::to_vec(&jws).expect("JSON values serialize"))
    }

    /// The session's own request, if it needs one before the job can go on.
    fn next_request(&self, secrets: &Secrets) -> Result<Option<HttpRequest>, Problem> {
        Ok(Some(match self.stage() {
            Stage::Directory => HttpRequest { method: "GET".into(), url: self.directory.clone(), ..Default::default() },
            Stage::Nonce => {
                HttpRequest { method: "HEAD".into(), url: self.urls().new_nonce.clone(), ..Default::default() }
            }
            Stage::Account => {
                let key = key_of(secrets, &self.directory)?;
                let url = &self.urls().new_account;
                let mut payload = json!({ "termsOfServiceAgreed": true });
                if !self.contact.is_empty() {
                    payload["contact"] = json!(self.contact);
                }
                if self.only_existing {
                    payload["onlyReturnExisting"] = json!(true);
                } else if self.eab {
                    let (kid, mac) = secrets.eab.as_ref().ok_or_else(|| {
                        Problem::server_internal(format!("{}: the EAB secrets are not set", self.name()))
                    })?;
                    payload["externalAccountBinding"] =
                        crate::eab::sign_binding(kid, mac, Alg::HS256, &key.public_jwk(), url);
                }
                self.signed(key, SignerRef::Jwk, url, Some(&payload))
            }
            Stage::Job => return Ok(None),
        }))
    }

    /// Reads the nonce and the error classes every answer shares. `Ok`: a 2xx answer for
    /// the caller to read; `Err`: the step to take instead. `what` names the request.
    fn classify(
        &mut self,
        resp: Result<HttpResponse, String>,
        now: u64,
        what: &str,
    ) -> Result<HttpResponse, Step<JobOutput>> {
        let name = self.name();
        let resp = match resp {
            Ok(r) => r,
            Err(e) => return Err(self.retry.transient(&name, &format!("{what}: no answer ({e})"), now, None)),
        };
        // Every answer may carry a fresh nonce; a POST used up the old one either way.
        let posted = matches!(self.stage(), Stage::Account | Stage::Job);
        match resp.header("Replay-Nonce") {
            Some(n) => self.nonce = Some(n.to_string()),
            None if posted => self.nonce = None,
            None => {}
        }
        if (200..300).contains(&resp.status) {
            self.retry.reset();
            self.bad_nonces = 0;
            return Ok(resp);
        }
        let problem = problem_of(&resp);
        let detail = match &problem {
            Some((t, d)) => format!("{what}: HTTP {} {t}: {d}", resp.status),
            None => format!("{what}: HTTP {}", resp.status),
        };
        match problem.as_ref().map(|(t, _)| t.as_str()) {
            Some("badNonce") => {
                self.bad_nonces += 1;
                if self.bad_nonces <= MAX_QUICK_NONCE_RETRIES {
                    return Err(Step::Continue);
                }
                Err(self.retry.transient(&name, &detail, now, None))
            }
            Some("rateLimited") => Err(self.retry.transient(&name, &detail, now, resp.retry_after())),
            _ if resp.status >= 500 || resp.status == 429 => {
                Err(self.retry.transient(&name, &detail, now, resp.retry_after()))
            }
            _ => Err(connector::permanent(&name, detail)),
        }
    }

    /// Takes the answer to the session's own request.
    fn on_response(&mut self, resp: Result<HttpResponse, String>, now: u64) -> Step<JobOutput> {
        let stage = self.stage();
        let what = match stage {
            Stage::Directory => "directory",
            Stage::Nonce => "newNonce",
            _ => "newAccount",
        };
        let resp = match self.classify(resp, now, what) {
            Ok(r) => r,
            Err(step) => return step,
        };
        match stage {
            Stage::Directory => {
                let v: Value = serde_json::from_slice(&resp.body).unwrap_or(Value::Null);
                let get = |k: &str| v.get(k).and_then(Value::as_str).map(String::from);
                match (get("newNonce"), get("newAccount"), get("newOrder"), get("revokeCert")) {
                    (Some(new_nonce), Some(new_account), Some(new_order), Some(revoke_cert)) => {
                        self.urls = Some(Urls { new_nonce, new_account, new_order, revoke_cert });
                        Step::Continue
                    }
                    _ => connector::permanent(
                        &self.name(),
                        "the directory lacks newNonce, newAccount, newOrder or revokeCert",
                    ),
                }
            }
            Stage::Nonce if self.nonce.is_none() => connector::permanent(&self.name(), "newNonce gave no Replay-Nonce"),
            Stage::Nonce => Step::Continue,
            _ => match resp.header("Location") {
                Some(kid) => {
                    self.kid = Some(kid.to_string());
                    Step::Continue
                }
                None => connector::permanent(&self.name(), "newAccount gave no account URL (Location)"),
            },
        }
    }
}

/// Where an issuance job is after the session is set up.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "phase", rename_all = "snake_case")]
pub enum IssuePhase {
    /// Creating the upstream order.
    NewOrder,
    /// Reading authorization `index` (after triggering its challenge if `triggered`).
    Authz {
        /// Which of the order's authorizations.
        index: usize,
        /// Whether its challenge was triggered already.
        triggered: bool,
    },
    /// Triggering the configured challenge of authorization `index`.
    Challenge {
        /// Which of the order's authorizations.
        index: usize,
        /// The challenge URL.
        url: String,
    },
    /// Sending the CSR.
    Finalize,
    /// Waiting for the upstream to issue.
    PollOrder,
    /// Fetching the certificate chain.
    Download,
}

/// Issuance through an upstream ACME CA (see the module documentation).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct IssueJob {
    session: Session,
    identifiers: Vec<Identifier>,
    /// The client's CSR, base64url DER.
    csr: String,
    profile: Option<String>,
    challenge: Option<String>,
    phase: IssuePhase,
    order_url: Option<String>,
    finalize_url: Option<String>,
    authorizations: Vec<String>,
    certificate_url: Option<String>,
    /// Whether the current wait point was already re-polled at once (see [`IssueJob::wait`]).
    #[serde(default)]
    repolled: bool,
}

impl IssueJob {
    /// A job that has the upstream certify `req`'s CSR for `req`'s names.
    pub fn new(config: &AcmeConfig, req: &LeafRequest) -> Self {
        let identifiers = req
            .dns_names
            .iter()
            .map(|d| Identifier::dns(d.clone()))
            .chain(req.ip_addrs.iter().map(|i| Identifier::ip(i.clone())))
            .collect();
        IssueJob {
            session: Session::new(config, false),
            identifiers,
            csr: crate::b64::encode(&req.csr_der),
            profile: config.profile.clone(),
            challenge: config.challenge.clone(),
            phase: IssuePhase::NewOrder,
            order_url: None,
            finalize_url: None,
            authorizations: Vec::new(),
            certificate_url: None,
            repolled: false,
        }
    }

    /// How long to wait before polling again: the upstream's `Retry-After` when it gives
    /// one; otherwise one immediate re-poll (upstreams often finish within milliseconds)
    /// and then 1 s.
    fn wait(&mut self, resp: &HttpResponse) -> Step<JobOutput> {
        if let Some(secs) = resp.retry_after() {
            return Step::Wait(secs.clamp(1, 60));
        }
        if !self.repolled {
            self.repolled = true;
            return Step::Continue;
        }
        Step::Wait(1)
    }

    /// The phase the job is in.
    pub fn phase(&self) -> &IssuePhase {
        &self.phase
    }

    /// The upstream order's URL, once created.
    pub fn order_url(&self) -> Option<&str> {
        self.order_url.as_deref()
    }

    /// The next request to send.
    pub fn next_request(&self, secrets: &Secrets) -> Result<HttpRequest, Problem> {
        if let Some(r) = self.session.next_request(secrets)? {
            return Ok(r);
        }
        let s = &self.session;
        let missing = || Problem::server_internal(format!("{}: the job lost its order URL", s.name()));
        match &self.phase {
            IssuePhase::NewOrder => {
                let mut payload = json!({ "identifiers": self.identifiers });
                if let Some(p) = &self.profile {
                    payload["profile"] = json!(p);
                }
                s.post(secrets, &s.urls().new_order, Some(&payload))
            }
            IssuePhase::Authz { index, .. } => {
                let url = self.authorizations.get(*index).ok_or_else(missing)?;
                s.post(secrets, url, None)
            }
            IssuePhase::Challenge { url, .. } => s.post(secrets, url, Some(&json!({}))),
            IssuePhase::Finalize => {
                let url = self.finalize_url.as_deref().ok_or_else(missing)?;
                s.post(secrets, url, Some(&json!({ "csr": self.csr })))
            }
            IssuePhase::PollOrder => s.post(secrets, self.order_url.as_deref().ok_or_else(missing)?, None),
            IssuePhase::Download => s.post(secrets, self.certificate_url.as_deref().ok_or_else(missing)?, None),
        }
    }

    /// Takes the answer to [`IssueJob::next_request`].
    pub fn on_response(&mut self, resp: Result<HttpResponse, String>, now: u64) -> Step<JobOutput> {
        if self.session.stage() != Stage::Job {
            return self.session.on_response(resp, now);
        }
        let what = match &self.phase {
            IssuePhase::NewOrder => "newOrder",
            IssuePhase::Authz { .. } => "authorization",
            IssuePhase::Challenge { .. } => "challenge",
            IssuePhase::Finalize => "finalize",
            IssuePhase::PollOrder => "order",
            IssuePhase::Download => "certificate",
        };
        // A finalize repeated after a restart: the order has moved on; go and look.
        if self.phase == IssuePhase::Finalize {
            if let Ok(r) = &resp {
                if problem_of(r).is_some_and(|(t, _)| t == "orderNotReady") {
                    self.session.nonce = r.header("Replay-Nonce").map(String::from);
                    self.phase = IssuePhase::PollOrder;
                    return Step::Continue;
                }
            }
        }
        let resp = match self.session.classify(resp, now, what) {
            Ok(r) => r,
            Err(step) => return step,
        };
        let name = self.session.name();
        if self.phase == IssuePhase::Download {
            let mut ders = super::pem_to_ders(&String::from_utf8_lossy(&resp.body));
            if ders.is_empty() {
                return connector::permanent(&name, "the certificate download holds no certificate");
            }
            let leaf = ders.remove(0);
            return Step::Done(JobOutput::Issued { leaf, chain: ders });
        }
        let v: Value = match serde_json::from_slice(&resp.body) {
            Ok(v) => v,
            Err(_) => return connector::permanent(&name, format!("{what}: the answer is not JSON")),
        };
        match self.phase.clone() {
            IssuePhase::NewOrder => {
                self.order_url = resp.header("Location").map(String::from);
                self.finalize_url = v.get("finalize").and_then(Value::as_str).map(String::from);
                self.authorizations = v
                    .get("authorizations")
                    .and_then(Value::as_array)
                    .map(|a| a.iter().filter_map(Value::as_str).map(String::from).collect())
                    .unwrap_or_default();
                if self.order_url.is_none() || self.finalize_url.is_none() {
                    return connector::permanent(&name, "newOrder gave no order URL or finalize URL");
                }
                match v.get("status").and_then(Value::as_str) {
                    Some("pending") if !self.authorizations.is_empty() => {
                        self.phase = IssuePhase::Authz { index: 0, triggered: false };
                        Step::Continue
                    }
                    _ => self.on_order(&v, &resp),
                }
            }
            IssuePhase::Authz { index, triggered } => self.on_authz(index, triggered, &v, &resp),
            IssuePhase::Challenge { index, .. } => {
                self.phase = IssuePhase::Authz { index, triggered: true };
                Step::Continue
            }
            IssuePhase::Finalize | IssuePhase::PollOrder => self.on_order(&v, &resp),
            IssuePhase::Download => unreachable!("handled above"),
        }
    }

    /// Acts on an upstream order object.
    fn on_order(&mut self, v: &Value, resp: &HttpResponse) -> Step<JobOutput> {
        let name = self.session.name();
        match v.get("status").and_then(Value::as_str) {
            Some("valid") => match v.get("certificate").and_then(Value::as_str) {
                Some(url) => {
                    self.certificate_url = Some(url.into());
                    self.phase = IssuePhase::Download;
                    Step::Continue
                }
                None => connector::permanent(&name, "the order is valid but has no certificate URL"),
            },
            Some("ready") if self.phase != IssuePhase::Finalize => {
                self.phase = IssuePhase::Finalize;
                Step::Continue
            }
            Some("processing" | "ready" | "pending") => {
                if self.phase != IssuePhase::PollOrder {
                    self.repolled = false;
                }
                self.phase = IssuePhase::PollOrder;
                self.wait(resp)
            }
            Some("invalid") => {
                let why = v.get("error").map(describe_problem).unwrap_or_else(|| "no error given".into());
                connector::permanent(&name, format!("the upstream order is invalid ({why})"))
            }
            other => connector::permanent(&name, format!("the order has an unknown status {other:?}")),
        }
    }

    /// Acts on an upstream authorization object.
    fn on_authz(&mut self, index: usize, triggered: bool, v: &Value, resp: &HttpResponse) -> Step<JobOutput> {
        let name = self.session.name();
        let ident = v.pointer("/identifier/value").and_then(Value::as_str).unwrap_or("?").to_string();
        match v.get("status").and_then(Value::as_str) {
            Some("valid") if index + 1 < self.authorizations.len() => {
                self.repolled = false;
                self.phase = IssuePhase::Authz { index: index + 1, triggered: false };
                Step::Continue
            }
            Some("valid") => {
                self.phase = IssuePhase::Finalize;
                Step::Continue
            }
            Some("pending") => {
                let Some(kind) = self.challenge.clone() else {
                    return connector::permanent(
                        &name,
                        format!(
                            "the upstream authorization for {ident} is pending: the upstream account holds no \
                             validated authorization for it (configure pre-validated domains upstream, or \
                             `challenge` for an upstream that validates on request)"
                        ),
                    );
                };
                let challenges = v.get("challenges").and_then(Value::as_array).cloned().unwrap_or_default();
                let Some(ch) = challenges.iter().find(|c| c.get("type").and_then(Value::as_str) == Some(&kind)) else {
                    return connector::permanent(&name, format!("the upstream offers no {kind} challenge for {ident}"));
                };
                match (ch.get("status").and_then(Value::as_str), ch.get("url").and_then(Value::as_str)) {
                    (Some("pending"), Some(url)) if !triggered => {
                        self.phase = IssuePhase::Challenge { index, url: url.into() };
                        Step::Continue
                    }
                    (Some("invalid"), _) => {
                        let why = ch.get("error").map(describe_problem).unwrap_or_default();
                        connector::permanent(&name, format!("the upstream {kind} challenge for {ident} failed ({why})"))
                    }
                    _ => self.wait(resp),
                }
            }
            other => {
                let why = v
                    .get("challenges")
                    .and_then(Value::as_array)
                    .and_then(|cs| cs.iter().find_map(|c| c.get("error")))
                    .map(describe_problem)
                    .unwrap_or_default();
                connector::permanent(
                    &name,
                    format!("the upstream authorization for {ident} is {} {why}", other.unwrap_or("unreadable")),
                )
            }
        }
    }
}

/// Revocation at an upstream ACME CA (see the module documentation).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct RevokeJob {
    session: Session,
    /// The certificate, base64url DER.
    certificate: String,
    reason: u8,
}

impl RevokeJob {
    /// A job that revokes `leaf_der` upstream with RFC 5280 `reason`.
    pub fn new(config: &AcmeConfig, leaf_der: &[u8], reason: u8) -> Self {
        RevokeJob { session: Session::new(config, true), certificate: crate::b64::encode(leaf_der), reason }
    }

    /// The next request to send.
    pub fn next_request(&self, secrets: &Secrets) -> Result<HttpRequest, Problem> {
        if let Some(r) = self.session.next_request(secrets)? {
            return Ok(r);
        }
        let mut payload = json!({ "certificate": self.certificate });
        if self.reason != 0 {
            payload["reason"] = json!(self.reason);
        }
        self.session.post(secrets, &self.session.urls().revoke_cert, Some(&payload))
    }

    /// Takes the answer to [`RevokeJob::next_request`].
    pub fn on_response(&mut self, resp: Result<HttpResponse, String>, now: u64) -> Step<JobOutput> {
        if self.session.stage() != Stage::Job {
            return self.session.on_response(resp, now);
        }
        if let Ok(r) = &resp {
            if problem_of(r).is_some_and(|(t, _)| t == "alreadyRevoked") {
                return Step::Done(JobOutput::Revoked);
            }
        }
        match self.session.classify(resp, now, "revokeCert") {
            Ok(_) => Step::Done(JobOutput::Revoked),
            Err(step) => step,
        }
    }
}

#[cfg(test)]
mod tests;
