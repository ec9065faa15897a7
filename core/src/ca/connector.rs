//! Connectors to certificate authorities behind the front end: what the upstream ACME
//! connector ([`super::upstream`]) and the CFSSL connector ([`super::cfssl`]) share.
//!
//! A connector is a state machine the host drives one HTTP exchange at a time:
//!
//! ```text
//! loop {
//!     let req = job.next_request(&secrets)?;       // what to send
//!     let resp = host_fetch(req);                  // the host's only part: transport
//!     match job.on_response(resp, now) {           // what it means
//!         Step::Continue => continue,              // send the next request now
//!         Step::Wait(secs) => { save(job); sleep(secs) }
//!         Step::Done(output) => break output,
//!         Step::Failed(problem) => break problem,
//!     }
//! }
//! ```
//!
//! A job is plain serde data, so the host can store it after every step and pick it up
//! after a restart. Transient failures (no answer, HTTP 5xx, rate limits) are retried
//! with exponential backoff until [`Retry::give_up_after`] seconds have passed since the
//! first of them; permanent ones (the back end's own refusal) fail the job at once.
//! Either way the [`Problem`] is `serverInternal` and names the back end's error, since
//! the client did nothing wrong.
//!
//! Configuration comes from the operator as JSON ([`parse_issuers`], [`parse_profiles`]);
//! secrets are only named there and handed in by the host ([`Secrets`]).

use alloc::collections::BTreeMap;
use alloc::format;
use alloc::string::{String, ToString};
use alloc::vec::Vec;

use serde::{Deserialize, Serialize};

use super::{cfssl, upstream, LeafRequest};
use crate::config::Profile;
use crate::jose::SigningKey;
use crate::problem::Problem;

/// Name of the built-in CA; always available, whatever [`parse_issuers`] reads.
pub const LOCAL_ISSUER: &str = "local";

/// How long a job may keep failing transiently before it fails for good (10 minutes).
pub const DEFAULT_GIVE_UP_AFTER_SECS: u64 = 600;

fn default_give_up() -> u64 {
    DEFAULT_GIVE_UP_AFTER_SECS
}

/// One issuer behind the front end, as the operator configures it (`ISSUERS` in the
/// Worker): `{"kind": "acme", ...}` or `{"kind": "cfssl", ...}`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "lowercase")]
pub enum ConnectorConfig {
    /// An upstream ACME CA (RFC 8555), reached as an ACME client.
    Acme(AcmeConfig),
    /// A CFSSL signer over its HTTP API.
    Cfssl(CfsslConfig),
}

/// An upstream ACME CA.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AcmeConfig {
    /// The upstream's directory URL.
    pub directory: String,
    /// Name of the secret holding the upstream account key (PKCS#8 PEM: P-256, P-384
    /// or RSA).
    pub account_key_secret: String,
    /// Names of the secrets holding an External Account Binding key id and its HMAC key
    /// (base64url), when the upstream requires one.
    #[serde(default)]
    pub eab_kid_secret: Option<String>,
    /// See `eab_kid_secret`.
    #[serde(default)]
    pub eab_hmac_secret: Option<String>,
    /// Contact URLs for the upstream account (`mailto:`...).
    #[serde(default)]
    pub contact: Vec<String>,
    /// The upstream profile to request (`order.profile`), if any.
    #[serde(default)]
    pub profile: Option<String>,
    /// For an upstream that validates on request without checking (one that trusts this
    /// front end, or Pebble with `PEBBLE_VA_ALWAYS_VALID`): the challenge type to trigger
    /// on a pending authorization. Without it, a pending upstream authorization fails the
    /// order: the upstream account must hold pre-validated authorizations for the names.
    #[serde(default)]
    pub challenge: Option<String>,
    /// Seconds of transient failures after which the order fails.
    #[serde(default = "default_give_up")]
    pub give_up_after_secs: u64,
}

/// A CFSSL signer.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CfsslConfig {
    /// Base URL of `cfssl serve` (the API is under `/api/v1/cfssl/`).
    pub url: String,
    /// Name of the secret holding the hex HMAC key of the signer's auth key; when set,
    /// requests go to `authsign` instead of `sign`.
    #[serde(default)]
    pub auth_key_secret: Option<String>,
    /// The CFSSL signing profile.
    #[serde(default)]
    pub profile: Option<String>,
    /// The CFSSL signer label (multi-root signers).
    #[serde(default)]
    pub label: Option<String>,
    /// Seconds of transient failures after which the order fails.
    #[serde(default = "default_give_up")]
    pub give_up_after_secs: u64,
}

impl ConnectorConfig {
    /// The names of the secrets this connector reads.
    pub fn secret_names(&self) -> Vec<&str> {
        match self {
            ConnectorConfig::Acme(a) => {
                [Some(&a.account_key_secret), a.eab_kid_secret.as_ref(), a.eab_hmac_secret.as_ref()]
                    .into_iter()
                    .flatten()
                    .map(String::as_str)
                    .collect()
            }
            ConnectorConfig::Cfssl(c) => c.auth_key_secret.iter().map(String::as_str).collect(),
        }
    }

    /// `acme` or `cfssl`.
    pub fn kind(&self) -> &'static str {
        match self {
            ConnectorConfig::Acme(_) => "acme",
            ConnectorConfig::Cfssl(_) => "cfssl",
        }
    }
}

/// Reads the `ISSUERS` JSON object: issuer name → connector. The name `local` is the
/// built-in CA's and cannot be taken.
pub fn parse_issuers(json: &str) -> Result<BTreeMap<String, ConnectorConfig>, Problem> {
    let map: BTreeMap<String, ConnectorConfig> = serde_json::from_str(json)
        .map_err(|e| Problem::server_internal(format!("ISSUERS is not a valid issuer map: {e}")))?;
    if map.contains_key(LOCAL_ISSUER) {
        return Err(Problem::server_internal("ISSUERS: the name \"local\" is the built-in CA's"));
    }
    for (name, c) in &map {
        let url = match c {
            ConnectorConfig::Acme(a) => &a.directory,
            ConnectorConfig::Cfssl(c) => &c.url,
        };
        if !(url.starts_with("https://") || url.starts_with("http://")) {
            return Err(Problem::server_internal(format!("ISSUERS: {name}: {url:?} is not an http(s) URL")));
        }
        if let ConnectorConfig::Acme(a) = c {
            if a.eab_kid_secret.is_some() != a.eab_hmac_secret.is_some() {
                return Err(Problem::server_internal(format!(
                    "ISSUERS: {name}: eab_kid_secret and eab_hmac_secret go together"
                )));
            }
        }
    }
    Ok(map)
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ProfileSpec {
    name: String,
    #[serde(default)]
    description: String,
    validity_days: u64,
    issuer: String,
}

/// Reads the `PROFILES` JSON list (`[{"name", "description", "validity_days",
/// "issuer"}]`, the first is the default) and checks that every issuer is `local` or
/// one of `issuers`.
pub fn parse_profiles<'a>(json: &str, issuers: impl IntoIterator<Item = &'a str>) -> Result<Vec<Profile>, Problem> {
    let specs: Vec<ProfileSpec> = serde_json::from_str(json)
        .map_err(|e| Problem::server_internal(format!("PROFILES is not a valid profile list: {e}")))?;
    if specs.is_empty() {
        return Err(Problem::server_internal("PROFILES must list at least one profile"));
    }
    let known: Vec<&str> = issuers.into_iter().chain([LOCAL_ISSUER]).collect();
    let mut out: Vec<Profile> = Vec::with_capacity(specs.len());
    for s in specs {
        if !known.contains(&s.issuer.as_str()) {
            return Err(Problem::server_internal(format!(
                "PROFILES: profile {:?} names issuer {:?}, which is not configured",
                s.name, s.issuer
            )));
        }
        if s.validity_days == 0 || out.iter().any(|p| p.name == s.name) {
            return Err(Problem::server_internal(format!(
                "PROFILES: profile {:?} is repeated or has no validity",
                s.name
            )));
        }
        out.push(Profile {
            name: s.name,
            description: s.description,
            validity_secs: s.validity_days * 86_400,
            issuer: s.issuer,
        });
    }
    Ok(out)
}

/// Secret values a connector needs, resolved by the host from the names in its config.
#[derive(Default)]
pub struct Secrets {
    /// The upstream ACME account key.
    pub account_key: Option<SigningKey>,
    /// External Account Binding key id and HMAC key for the upstream ACME account.
    pub eab: Option<(String, Vec<u8>)>,
    /// CFSSL's HMAC auth key (raw bytes).
    pub cfssl_auth_key: Option<Vec<u8>>,
}

/// An HTTP request a connector asks the host to send.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct HttpRequest {
    /// `GET`, `HEAD` or `POST`.
    pub method: String,
    /// Absolute URL.
    pub url: String,
    /// Header names and values.
    pub headers: Vec<(String, String)>,
    /// The body.
    pub body: Vec<u8>,
}

impl HttpRequest {
    /// A POST with a JSON body of `content_type`.
    pub fn post(url: &str, content_type: &str, body: Vec<u8>) -> Self {
        HttpRequest {
            method: "POST".into(),
            url: url.into(),
            headers: alloc::vec![("Content-Type".into(), content_type.into())],
            body,
        }
    }
}

/// The answer the host got.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct HttpResponse {
    /// Status code.
    pub status: u16,
    /// Header names and values.
    pub headers: Vec<(String, String)>,
    /// The body.
    pub body: Vec<u8>,
}

impl HttpResponse {
    /// The first value of a header (case-insensitive name).
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.iter().find(|(k, _)| k.eq_ignore_ascii_case(name)).map(|(_, v)| v.as_str())
    }

    /// `Retry-After` in seconds, when given as a number.
    pub fn retry_after(&self) -> Option<u64> {
        self.header("Retry-After").and_then(|v| v.trim().parse().ok())
    }
}

/// What a job wants after one exchange.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Step<T> {
    /// Send the next request now.
    Continue,
    /// Store the job and come back after this many seconds.
    Wait(u64),
    /// Finished.
    Done(T),
    /// Failed for good (`serverInternal`, naming the back end's error).
    Failed(Problem),
}

/// Transient-failure bookkeeping: exponential backoff from 1 s up to 60 s, and a
/// deadline counted from the first failure of the current run of failures.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Retry {
    /// Seconds of transient failures after which the job fails.
    pub give_up_after: u64,
    /// Failures in a row.
    pub failures: u32,
    /// When the current run of failures began.
    pub since: Option<u64>,
}

impl Retry {
    /// A policy that gives up after `secs` of failures.
    pub fn new(give_up_after: u64) -> Self {
        Retry { give_up_after, failures: 0, since: None }
    }

    /// The back end answered usefully: forget earlier failures.
    pub fn reset(&mut self) {
        self.failures = 0;
        self.since = None;
    }

    /// A transient failure described by `what` (never containing secrets): wait and try
    /// again (at least `hint` seconds when the back end said so), or give up.
    pub fn transient<T>(&mut self, backend: &str, what: &str, now: u64, hint: Option<u64>) -> Step<T> {
        let since = *self.since.get_or_insert(now);
        self.failures = self.failures.saturating_add(1);
        if now.saturating_sub(since) >= self.give_up_after {
            return Step::Failed(Problem::server_internal(format!(
                "{backend}: {what} (gave up after {} attempts over {} s)",
                self.failures,
                now - since
            )));
        }
        let backoff = 1u64 << (self.failures - 1).min(6);
        Step::Wait(hint.unwrap_or(0).max(backoff).min(60))
    }
}

/// A permanent failure of a back end: `serverInternal` naming the back end and its error.
pub fn permanent<T>(backend: &str, what: impl core::fmt::Display) -> Step<T> {
    Step::Failed(Problem::server_internal(format!("{backend}: {what}")))
}

/// What a finished job produced.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum JobOutput {
    /// A certificate (DER) and its issuer chain (DER, nearest first).
    Issued {
        /// The end-entity certificate.
        leaf: Vec<u8>,
        /// Issuer certificates.
        chain: Vec<Vec<u8>>,
    },
    /// The back end recorded a revocation.
    Revoked,
}

/// One unit of work for a back end: issuing or revoking through one of the connectors.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "job", rename_all = "snake_case")]
pub enum Job {
    /// Issuance through an upstream ACME CA.
    AcmeIssue(upstream::IssueJob),
    /// Revocation at an upstream ACME CA.
    AcmeRevoke(upstream::RevokeJob),
    /// Signing by CFSSL.
    CfsslSign(cfssl::SignJob),
    /// Revocation at CFSSL.
    CfsslRevoke(cfssl::RevokeJob),
}

impl Job {
    /// The job that issues `req` through `config`.
    pub fn issue(config: &ConnectorConfig, req: &LeafRequest) -> Result<Job, Problem> {
        Ok(match config {
            ConnectorConfig::Acme(a) => Job::AcmeIssue(upstream::IssueJob::new(a, req)),
            ConnectorConfig::Cfssl(c) => Job::CfsslSign(cfssl::SignJob::new(c, req)?),
        })
    }

    /// The job that tells the back end of `config` that `leaf_der` is revoked.
    pub fn revoke(config: &ConnectorConfig, leaf_der: &[u8], reason: u8) -> Result<Job, Problem> {
        Ok(match config {
            ConnectorConfig::Acme(a) => Job::AcmeRevoke(upstream::RevokeJob::new(a, leaf_der, reason)),
            ConnectorConfig::Cfssl(c) => Job::CfsslRevoke(cfssl::RevokeJob::new(c, leaf_der, reason)?),
        })
    }

    /// The next request to send.
    pub fn next_request(&self, secrets: &Secrets) -> Result<HttpRequest, Problem> {
        match self {
            Job::AcmeIssue(j) => j.next_request(secrets),
            Job::AcmeRevoke(j) => j.next_request(secrets),
            Job::CfsslSign(j) => j.next_request(secrets),
            Job::CfsslRevoke(j) => Ok(j.next_request()),
        }
    }

    /// Takes the host's answer to [`Job::next_request`] (`Err`: the request got no
    /// answer, with the reason) at time `now`.
    pub fn on_response(&mut self, resp: Result<HttpResponse, String>, now: u64) -> Step<JobOutput> {
        match self {
            Job::AcmeIssue(j) => j.on_response(resp, now),
            Job::AcmeRevoke(j) => j.on_response(resp, now),
            Job::CfsslSign(j) => j.on_response(resp, now),
            Job::CfsslRevoke(j) => j.on_response(resp, now),
        }
    }

    /// Runs the job to its end or its next wait, sending each request with `send`
    /// (at most `max_steps` exchanges). Hosts with a scheduler store the job on
    /// [`Step::Wait`]; tests run it against in-process back ends.
    pub async fn run<F, Fut>(&mut self, secrets: &Secrets, now: u64, max_steps: usize, mut send: F) -> Step<JobOutput>
    where
        F: FnMut(HttpRequest) -> Fut,
        Fut: core::future::Future<Output = Result<HttpResponse, String>>,
    {
        for _ in 0..max_steps {
            let req = match self.next_request(secrets) {
                Ok(r) => r,
                Err(p) => return Step::Failed(p),
            };
            match self.on_response(send(req).await, now) {
                Step::Continue => continue,
                other => return other,
            }
        }
        Step::Wait(0)
    }
}

/// The host part of a URL (for naming a back end in errors without paths or secrets).
pub fn host_of(url: &str) -> String {
    let rest = url.split_once("://").map(|(_, r)| r).unwrap_or(url);
    rest.split('/').next().unwrap_or(rest).to_string()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::problem::ProblemType;

    #[test]
    fn issuers_and_profiles_parse_from_operator_json() {
        let issuers = parse_issuers(
            r#"{"upstream": {"kind": "acme", "directory": "https://127.0.0.1:14000/dir",
                 "account_key_secret": "UPSTREAM_KEY", "challenge": "http-01"},
                "cfssl": {"kind": "cfssl", "url": "http://127.0.0.1:8888", "auth_key_secret": "CFSSL_AUTH_KEY",
                 "profile": "www"}}"#,
        )
        .unwrap();
        assert_eq!(issuers.len(), 2);
        assert_eq!(issuers["upstream"].kind(), "acme");
        assert_eq!(issuers["upstream"].secret_names(), ["UPSTREAM_KEY"]);
        assert_eq!(issuers["cfssl"].secret_names(), ["CFSSL_AUTH_KEY"]);
        let ConnectorConfig::Acme(a) = &issuers["upstream"] else { panic!() };
        assert_eq!(a.give_up_after_secs, DEFAULT_GIVE_UP_AFTER_SECS);

        let profiles = parse_profiles(
            r#"[{"name": "public", "description": "from upstream", "validity_days": 90, "issuer": "upstream"},
                {"name": "private", "validity_days": 30, "issuer": "local"}]"#,
            issuers.keys().map(String::as_str),
        )
        .unwrap();
        assert_eq!(profiles[0].name, "public");
        assert_eq!(profiles[0].validity_secs, 90 * 86_400);
        assert_eq!(profiles[1].issuer, "local");
    }

    #[test]
    fn bad_operator_json_is_refused_with_the_reason() {
        let cases = [
            (r#"{"x": {"kind": "vault", "url": "http://a"}}"#, "vault"),
            (r#"{"local": {"kind": "cfssl", "url": "http://a"}}"#, "built-in"),
            (r#"{"x": {"kind": "cfssl", "url": "ftp://a"}}"#, "http(s)"),
            (r#"{"x": {"kind": "cfssl", "url": "http://a", "ca_bundle_pem_var": "X"}}"#, "unknown field"),
            (
                r#"{"x": {"kind": "acme", "directory": "https://a/dir", "account_key_secret": "K", "eab_kid_secret": "E"}}"#,
                "together",
            ),
        ];
        for (json, want) in cases {
            let p = parse_issuers(json).expect_err(json);
            assert_eq!(p.kind, ProblemType::ServerInternal);
            assert!(p.detail.contains(want), "{json}: {}", p.detail);
        }
        let p = parse_profiles(r#"[{"name": "a", "validity_days": 9, "issuer": "nowhere"}]"#, []).unwrap_err();
        assert!(p.detail.contains("nowhere"), "{}", p.detail);
        assert!(parse_profiles("[]", []).is_err());
        assert!(parse_profiles(r#"[{"name": "a", "validity_days": 0, "issuer": "local"}]"#, []).is_err());
    }

    #[test]
    fn retry_backs_off_exponentially_then_gives_up_naming_the_error() {
        let mut r = Retry::new(100);
        let waits: Vec<Step<()>> =
            (0..4).map(|i| r.transient("cfssl at h", "connection refused", 1000 + i, None)).collect();
        assert_eq!(waits, [Step::Wait(1), Step::Wait(2), Step::Wait(4), Step::Wait(8)]);
        assert_eq!(r.transient::<()>("b", "busy", 1010, Some(30)), Step::Wait(30));
        let Step::Failed(p) = r.transient::<()>("cfssl at h", "connection refused", 1100, None) else { panic!() };
        assert_eq!(p.kind, ProblemType::ServerInternal);
        assert!(
            p.detail.starts_with("cfssl at h: connection refused (gave up after 6 attempts over 100 s)"),
            "{}",
            p.detail
        );
        r.reset();
        assert_eq!(r.transient::<()>("b", "x", 5000, None), Step::Wait(1));
    }

    #[test]
    fn host_of_names_only_the_authority() {
        assert_eq!(host_of("https://ca.example:14000/dir"), "ca.example:14000");
        assert_eq!(host_of("http://127.0.0.1:8888"), "127.0.0.1:8888");
    }
}
