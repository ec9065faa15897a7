//! Issuers behind the front end: the built-in CA and the connectors of `ISSUERS`
//! (an upstream ACME CA, CFSSL), dispatched by the profile's issuer name.
//!
//! The built-in CA ("local") signs at once. A connector never makes a client request
//! wait: finalize stores a job ([`edge_acme_core::ca::connector::Job`], plain JSON) in a
//! jobs object (`jobs:<account>`, a [`crate::StoreObject`]) and answers `processing`.
//! That object's alarm drives the job one `fetch()` at a time, storing the job after
//! every exchange, so a restart loses nothing; it waits and retries as the connector
//! says (backoff on transient upstream errors, a deadline after which the order
//! fails), and when the job ends it runs the engine's `advance_order` for the order,
//! which checks the certificate against the order and the profile and records it (or
//! the failure). A client polling the order in the meantime reads the job's state
//! from the same object (one call, no upstream traffic).
//!
//! Revocations of certificates from a connector are recorded by the engine and then
//! queued the same way (`jobs:revocations`) for the back end.
//!
//! Configuration: `ISSUERS` (JSON: issuer name → connector, see
//! [`edge_acme_core::ca::connector::parse_issuers`]) and `PROFILES` (JSON list of
//! profiles, each naming an issuer). Secrets are named in `ISSUERS` and read from the
//! Worker's secrets (or, in development, vars) of those names.

use std::collections::BTreeMap;

use edge_acme_core::ca::connector::{self, ConnectorConfig, HttpRequest, HttpResponse, Job, JobOutput, Secrets, Step};
use edge_acme_core::ca::{IssueOutcome, Issuer, Issuers, LeafRequest, RevokedEntry};
use edge_acme_core::config::{Config, Profile};
use edge_acme_core::host::random_id;
use edge_acme_core::jose::SigningKey;
use edge_acme_core::wfe::Engine;
use edge_acme_core::wire::OrderStatus;
use edge_acme_core::Problem;
use futures_util::future::{select, Either};
use serde::{Deserialize, Serialize};
use worker::{Date, Delay, Env, Fetch, Headers, Method, ObjectNamespace, Request, RequestInit, Response, State};

use crate::host::{self, setting, WorkerClock, WorkerRng};
use crate::sql::{as_i64, as_string, first_value, transaction_sync};
use crate::store::{call, StoreOp, BINDING};

/// Prefix of the jobs objects' names.
const JOBS_PREFIX: &str = "jobs:";
/// Object that queues revocations for back ends.
const REVOCATIONS: &str = "jobs:revocations";
/// How long one upstream request may take.
const FETCH_TIMEOUT_MS: u64 = 30_000;
/// Exchanges one alarm run makes before it hands over to the next alarm.
const STEPS_PER_ALARM: usize = 64;
/// How long finished jobs stay readable (a week).
const KEEP_FINISHED_MS: i64 = 7 * 86_400_000;
/// RFC 8555 §6.1: ACME clients send a User-Agent; so do the other connectors.
const USER_AGENT: &str = concat!("edge-acme/", env!("CARGO_PKG_VERSION"), " (CA connector)");

/// Table of the jobs objects (created with the rest of `StoreObject`'s schema).
pub const SCHEMA: &str = "CREATE TABLE IF NOT EXISTS jobs (id TEXT PRIMARY KEY, issuer TEXT NOT NULL, \
     job TEXT NOT NULL, status TEXT NOT NULL, result TEXT, due INTEGER NOT NULL, account TEXT, ord TEXT, \
     origin TEXT, delivered INTEGER NOT NULL DEFAULT 0, created INTEGER NOT NULL, steps INTEGER NOT NULL DEFAULT 0)";

fn internal(what: &str, e: impl core::fmt::Display) -> Problem {
    Problem::server_internal(format!("{what}: {e}"))
}

/// The connectors of `ISSUERS` (none when unset: only the built-in CA).
pub fn connectors(env: &Env) -> Result<BTreeMap<String, ConnectorConfig>, Problem> {
    match setting(env, "ISSUERS").filter(|s| !s.trim().is_empty()) {
        Some(json) => Ok(connector::parse_issuers(&json)?.into_iter().collect()),
        None => Ok(BTreeMap::new()),
    }
}

/// Replaces the default profiles with `PROFILES`, when set.
pub fn apply_profiles(
    env: &Env,
    config: &mut Config,
    connectors: &BTreeMap<String, ConnectorConfig>,
) -> Result<(), Problem> {
    if let Some(json) = setting(env, "PROFILES").filter(|s| !s.trim().is_empty()) {
        config.profiles = connector::parse_profiles(&json, connectors.keys().map(String::as_str))?;
    }
    Ok(())
}

/// The secrets a connector names, read from the Worker's secrets.
fn secrets(env: &Env, config: &ConnectorConfig) -> Result<Secrets, Problem> {
    let get = |name: &str| {
        setting(env, name)
            .filter(|v| !v.trim().is_empty())
            .ok_or_else(|| Problem::server_internal(format!("the secret {name} is not set")))
    };
    let mut out = Secrets::default();
    match config {
        ConnectorConfig::Acme(a) => {
            let pem = get(&a.account_key_secret)?;
            let (_, der) = der::pem::decode_vec(pem.trim().as_bytes())
                .map_err(|e| internal(&format!("{} is not PEM", a.account_key_secret), e))?;
            out.account_key = Some(SigningKey::from_pkcs8_der(&der)?);
            if let (Some(kid), Some(mac)) = (&a.eab_kid_secret, &a.eab_hmac_secret) {
                out.eab = Some((get(kid)?.trim().to_string(), edge_acme_core::eab::decode_mac_key(get(mac)?.trim())?));
            }
        }
        ConnectorConfig::Cfssl(c) => {
            if let Some(name) = &c.auth_key_secret {
                out.cfssl_auth_key =
                    Some(hex(get(name)?.trim()).ok_or_else(|| Problem::server_internal(format!("{name} is not hex")))?);
            }
        }
    }
    Ok(out)
}

fn hex(s: &str) -> Option<Vec<u8>> {
    if s.len() % 2 != 0 {
        return None;
    }
    (0..s.len()).step_by(2).map(|i| u8::from_str_radix(s.get(i..i + 2)?, 16).ok()).collect()
}

/// The order an issuance belongs to, so that the jobs object can finish it.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct OrderRef {
    /// Account id.
    pub account: String,
    /// Order id.
    pub order: String,
    /// The origin the request came to (the base URL when `BASE_URL` is unset).
    pub origin: String,
}

/// A call into a jobs object (`StoreOp::Job`).
#[derive(Debug, Serialize, Deserialize)]
#[serde(tag = "jop", rename_all = "snake_case")]
pub enum JobOp {
    /// Stores a new job and wakes the object's alarm.
    Add { id: String, issuer: String, job: String, order: Option<OrderRef> },
    /// Reads a job's state.
    Get { id: String },
}

/// A job's state as `JobOp::Get` returns it.
#[derive(Debug, Default, Serialize, Deserialize)]
pub struct JobReply {
    /// `pending`, `issued`, `revoked`, `failed` or `missing`.
    pub status: String,
    /// The certificate (base64url DER), when issued.
    pub leaf: Option<String>,
    /// Its chain (base64url DER).
    pub chain: Vec<String>,
    /// Why it failed.
    pub problem: Option<Problem>,
}

/// The engine's `Issuer` in the Worker: the built-in CA plus the configured connectors.
pub struct Backends {
    local: Issuers,
    connectors: BTreeMap<String, ConnectorConfig>,
    ns: ObjectNamespace,
    /// The order being finalized by this request, if any.
    order: Option<OrderRef>,
    /// Inside a jobs object: the outcome of the job being delivered, so the engine's
    /// poll needs no call back into the same object.
    known: Option<(String, Result<IssueOutcome, Problem>)>,
}

impl Backends {
    /// The issuers for one request; `order` is set for finalize.
    pub fn new(
        env: &Env,
        local: Issuers,
        connectors: BTreeMap<String, ConnectorConfig>,
        order: Option<OrderRef>,
    ) -> worker::Result<Self> {
        Ok(Backends { local, connectors, ns: env.durable_object(BINDING)?, order, known: None })
    }

    fn connector(&self, issuer: &str) -> Option<&ConnectorConfig> {
        self.connectors.get(issuer)
    }

    async fn add_job(&self, object: &str, issuer: &str, job: &Job, order: Option<OrderRef>) -> Result<String, Problem> {
        let id = random_id(&WorkerRng);
        let op = StoreOp::Job {
            call: JobOp::Add {
                id: id.clone(),
                issuer: issuer.into(),
                job: serde_json::to_string(job).map_err(|e| internal("job", e))?,
                order,
            },
        };
        call::<JobReply>(&self.ns, object, &op).await.map_err(|e| internal("jobs object", e))?;
        Ok(format!("{object}#{id}"))
    }
}

fn outcome(reply: JobReply, handle: &str) -> Result<IssueOutcome, Problem> {
    let decode = |s: &str| edge_acme_core::b64::decode(s).map_err(|e| internal("stored certificate", e));
    match reply.status.as_str() {
        "pending" => Ok(IssueOutcome::Pending { handle: handle.into(), retry_after: 0 }),
        "issued" => Ok(IssueOutcome::Issued {
            leaf: decode(reply.leaf.as_deref().unwrap_or(""))?,
            chain: reply.chain.iter().map(|c| decode(c)).collect::<Result<_, _>>()?,
        }),
        "failed" => Err(reply.problem.unwrap_or_else(|| Problem::server_internal("the back end failed"))),
        other => Err(Problem::server_internal(format!("the issuance job is {other}"))),
    }
}

impl Issuer for Backends {
    async fn issue(&self, profile: &Profile, req: &LeafRequest) -> Result<IssueOutcome, Problem> {
        let Some(config) = self.connector(&profile.issuer) else {
            return self.local.issue(profile, req).await;
        };
        let job = Job::issue(config, req)?;
        let object = match &self.order {
            Some(o) => format!("{JOBS_PREFIX}{}", o.account),
            None => format!("{JOBS_PREFIX}_"),
        };
        let handle = self.add_job(&object, &profile.issuer, &job, self.order.clone()).await?;
        // Polled on every order read; the read costs one object call, never upstream I/O.
        Ok(IssueOutcome::Pending { handle, retry_after: 0 })
    }

    async fn poll(&self, profile: &Profile, handle: &str) -> Result<IssueOutcome, Problem> {
        if self.connector(&profile.issuer).is_none() {
            return self.local.poll(profile, handle).await;
        }
        if let Some((h, out)) = &self.known {
            if h == handle {
                return out.clone();
            }
        }
        let (object, id) = handle.split_once('#').ok_or_else(|| Problem::server_internal("malformed job handle"))?;
        let op = StoreOp::Job { call: JobOp::Get { id: id.into() } };
        let reply = call::<JobReply>(&self.ns, object, &op).await.map_err(|e| internal("jobs object", e))?;
        outcome(reply, handle)
    }

    fn issuer_chain(&self, issuer: &str) -> Option<Vec<Vec<u8>>> {
        // Back ends behind us publish their own issuer certificates and CRLs.
        self.local.issuer_chain(issuer)
    }

    async fn revoke(&self, issuer: &str, leaf_der: &[u8], reason: u8) -> Result<(), Problem> {
        let Some(config) = self.connector(issuer) else { return Ok(()) };
        let job = Job::revoke(config, leaf_der, reason)?;
        self.add_job(REVOCATIONS, issuer, &job, None).await.map(|_| ())
    }

    async fn sign_crl(
        &self,
        issuer: &str,
        revoked: &[RevokedEntry],
        this_update: u64,
        next_update: u64,
        number: u64,
    ) -> Result<Vec<u8>, Problem> {
        self.local.sign_crl(issuer, revoked, this_update, next_update, number).await
    }
}

// ---- inside a jobs object ------------------------------------------------------------

/// Serves a `JobOp` in the object that holds the jobs.
pub async fn handle_op(state: &State, op: JobOp) -> worker::Result<Response> {
    let storage = state.storage();
    let now = Date::now().as_millis() as i64;
    match op {
        JobOp::Add { id, issuer, job, order } => {
            let (account, ord, origin) = match order {
                Some(o) => (Some(o.account), Some(o.order), Some(o.origin)),
                None => (None, None, None),
            };
            transaction_sync(&storage, |sql| {
                sql.exec(
                    "INSERT INTO jobs (id, issuer, job, status, due, account, ord, origin, created) \
                     VALUES (?, ?, ?, 'pending', ?, ?, ?, ?, ?)",
                    vec![
                        id.as_str().into(),
                        issuer.as_str().into(),
                        job.as_str().into(),
                        now.into(),
                        account.into(),
                        ord.into(),
                        origin.into(),
                        now.into(),
                    ],
                )?;
                Ok(())
            })?;
            storage.set_alarm(0i64).await?;
            Response::from_json(&JobReply { status: "pending".into(), ..Default::default() })
        }
        JobOp::Get { id } => {
            let cursor =
                storage.sql().exec("SELECT status, result, due FROM jobs WHERE id = ?", vec![id.as_str().into()])?;
            let mut rows = cursor.raw();
            let row = rows.next().transpose()?;
            for rest in rows {
                rest?;
            }
            let Some(row) = row else {
                return Response::from_json(&JobReply { status: "missing".into(), ..Default::default() });
            };
            let mut row = row.into_iter();
            let status = as_string(row.next()).unwrap_or_default();
            let result = as_string(row.next());
            let due = as_i64(row.next()).unwrap_or(0);
            // Self-healing: a pending job past its time with no alarm set (an alarm lost
            // to a runtime restart) gets one now.
            if status == "pending" && due + 5_000 < now && storage.get_alarm().await?.is_none() {
                storage.set_alarm(0i64).await?;
            }
            let mut reply: JobReply = result.and_then(|r| serde_json::from_str(&r).ok()).unwrap_or_default();
            reply.status = status;
            Response::from_json(&reply)
        }
    }
}

/// One row of the jobs table that the alarm works on.
struct DueJob {
    id: String,
    issuer: String,
    job: String,
    status: String,
    result: Option<String>,
    order: Option<OrderRef>,
    created: i64,
    steps: i64,
}

fn due_job(state: &State, now: i64) -> worker::Result<Option<DueJob>> {
    let cursor = state.storage().sql().exec(
        "SELECT id, issuer, job, status, result, account, ord, origin, created, steps FROM jobs \
         WHERE due <= ? AND (status = 'pending' OR (delivered = 0 AND ord IS NOT NULL)) ORDER BY due LIMIT 1",
        vec![now.into()],
    )?;
    let mut rows = cursor.raw();
    let row = rows.next().transpose()?;
    for rest in rows {
        rest?;
    }
    let Some(row) = row else { return Ok(None) };
    let mut r = row.into_iter();
    let mut s = || as_string(r.next());
    let (id, issuer, job, status) =
        (s().unwrap_or_default(), s().unwrap_or_default(), s().unwrap_or_default(), s().unwrap_or_default());
    let result = s();
    let (account, ord, origin) = (s(), s(), s());
    let created = as_i64(r.next()).unwrap_or(0);
    let steps = as_i64(r.next()).unwrap_or(0);
    let order = match (account, ord, origin) {
        (Some(account), Some(order), Some(origin)) => Some(OrderRef { account, order, origin }),
        _ => None,
    };
    Ok(Some(DueJob { id, issuer, job, status, result, order, created, steps }))
}

fn update(state: &State, id: &str, sql: &str, mut args: Vec<worker::SqlStorageValue>) -> worker::Result<()> {
    args.push(id.into());
    transaction_sync(&state.storage(), |s| {
        s.exec(sql, args)?;
        Ok(())
    })
}

/// The alarm of a jobs object: runs due jobs one exchange at a time, delivers finished
/// issuances to their orders, and sets the next alarm. `false`: the object holds no
/// jobs (it is not a jobs object).
pub async fn run_alarm(state: &State, env: &Env) -> worker::Result<bool> {
    let any = first_value(state.storage().sql().exec("SELECT count(*) FROM jobs", None)?)?;
    if as_i64(any).unwrap_or(0) == 0 {
        return Ok(false);
    }
    let mut budget = STEPS_PER_ALARM;
    while budget > 0 {
        let now = Date::now().as_millis() as i64;
        let Some(row) = due_job(state, now)? else { break };
        budget -= 1;
        if row.status == "pending" {
            step_job(state, env, &row, now).await?;
        } else {
            let delivered = match deliver(env, &row).await {
                Ok(done) => done,
                Err(p) => {
                    worker::console_log!(
                        "{}",
                        serde_json::json!({"event": "job_delivery_error", "job": row.id, "detail": p.detail})
                    );
                    false
                }
            };
            if delivered {
                update(state, &row.id, "UPDATE jobs SET delivered = 1 WHERE id = ?", vec![])?;
            } else {
                update(state, &row.id, "UPDATE jobs SET due = ? WHERE id = ?", vec![(now + 1_000).into()])?;
            }
        }
    }
    // Finished jobs stay readable for a week, then they are forgotten.
    let old = Date::now().as_millis() as i64 - KEEP_FINISHED_MS;
    transaction_sync(&state.storage(), |sql| {
        sql.exec(
            "DELETE FROM jobs WHERE status != 'pending' AND (delivered = 1 OR ord IS NULL) AND created < ?",
            vec![old.into()],
        )?;
        Ok(())
    })?;
    let next =
        first_value(state.storage().sql().exec(
            "SELECT min(due) FROM jobs WHERE status = 'pending' OR (delivered = 0 AND ord IS NOT NULL)",
            None,
        )?)?;
    if let Some(due) = as_i64(next) {
        let now = Date::now().as_millis() as i64;
        state.storage().set_alarm((due - now).max(0)).await?;
    }
    Ok(true)
}

/// One exchange of a pending job, stored before the next.
async fn step_job(state: &State, env: &Env, row: &DueJob, now: i64) -> worker::Result<()> {
    let step = match one_exchange(env, row, now).await {
        Ok((job, step)) => {
            let json = serde_json::to_string(&job)?;
            update(state, &row.id, "UPDATE jobs SET job = ?, steps = steps + 1 WHERE id = ?", vec![json.into()])?;
            step
        }
        Err(p) => Step::Failed(p),
    };
    let (status, result, due) = match step {
        Step::Continue => ("pending", None, now),
        Step::Wait(secs) => ("pending", None, now + secs as i64 * 1000),
        Step::Done(JobOutput::Issued { leaf, chain }) => {
            let reply = JobReply {
                status: String::new(),
                leaf: Some(edge_acme_core::b64::encode(&leaf)),
                chain: chain.iter().map(|c| edge_acme_core::b64::encode(c)).collect(),
                problem: None,
            };
            ("issued", Some(serde_json::to_string(&reply)?), now)
        }
        Step::Done(JobOutput::Revoked) => ("revoked", None, now),
        Step::Failed(p) => {
            let reply = JobReply { problem: Some(p), ..Default::default() };
            ("failed", Some(serde_json::to_string(&reply)?), now)
        }
    };
    update(
        state,
        &row.id,
        "UPDATE jobs SET status = ?, result = ?, due = ? WHERE id = ?",
        vec![status.into(), result.clone().into(), due.into()],
    )?;
    if status != "pending" {
        let kind =
            serde_json::from_str::<serde_json::Value>(&row.job).ok().and_then(|v| v["job"].as_str().map(String::from));
        let problem =
            result.and_then(|r| serde_json::from_str::<JobReply>(&r).ok()).and_then(|r| r.problem).map(|p| p.detail);
        // Issuance latency as the Worker sees it: from finalize to the back end's answer.
        worker::console_log!(
            "{}",
            serde_json::json!({"event": "job_done", "job": row.id, "issuer": row.issuer, "kind": kind,
                "status": status, "ms": now - row.created, "exchanges": row.steps + 1, "problem": problem})
        );
    }
    Ok(())
}

async fn one_exchange(env: &Env, row: &DueJob, now: i64) -> Result<(Job, Step<JobOutput>), Problem> {
    let connectors = connectors(env)?;
    let config = connectors
        .get(&row.issuer)
        .ok_or_else(|| Problem::server_internal(format!("the issuer {:?} is no longer configured", row.issuer)))?;
    let secrets = secrets(env, config)?;
    let mut job: Job = serde_json::from_str(&row.job).map_err(|e| internal("stored job", e))?;
    let req = job.next_request(&secrets)?;
    let resp = fetch(req).await;
    let step = job.on_response(resp, (now / 1000) as u64);
    Ok((job, step))
}

/// Sends a connector's request with `fetch()`; `Err` carries why there was no answer.
async fn fetch(req: HttpRequest) -> Result<HttpResponse, String> {
    let headers = Headers::new();
    headers.set("User-Agent", USER_AGENT).map_err(|e| e.to_string())?;
    for (k, v) in &req.headers {
        headers.set(k, v).map_err(|e| e.to_string())?;
    }
    let method = match req.method.as_str() {
        "HEAD" => Method::Head,
        "POST" => Method::Post,
        _ => Method::Get,
    };
    let mut init = RequestInit::new();
    init.with_method(method).with_headers(headers);
    if !req.body.is_empty() {
        init.with_body(Some(worker::js_sys::Uint8Array::from(req.body.as_slice()).into()));
    }
    let request = Request::new_with_init(&req.url, &init).map_err(|e| e.to_string())?;
    let fetch = Fetch::Request(request);
    let send = core::pin::pin!(fetch.send());
    let timeout = core::pin::pin!(Delay::from(core::time::Duration::from_millis(FETCH_TIMEOUT_MS)));
    let mut resp = match select(send, timeout).await {
        Either::Left((r, _)) => r.map_err(|e| e.to_string())?,
        Either::Right(_) => return Err(format!("no answer within {} s", FETCH_TIMEOUT_MS / 1000)),
    };
    let status = resp.status_code();
    let headers = resp.headers().entries().collect();
    let body = resp.bytes().await.map_err(|e| e.to_string())?;
    Ok(HttpResponse { status, headers, body })
}

/// Runs the engine's `advance_order` for a finished job's order; `true` once the order
/// has left `processing` (or is gone).
async fn deliver(env: &Env, row: &DueJob) -> Result<bool, Problem> {
    let Some(order) = &row.order else { return Ok(true) };
    let connectors = connectors(env)?;
    let mut config = host::config(env, &order.origin);
    apply_profiles(env, &mut config, &connectors)?;
    let store = host::DoStore::new(env).map_err(|e| internal("storage", e))?;
    let nonces = host::nonces(env, &store).await?;
    let va = host::WorkerVa::new(env);
    let (issuers, _) = host::issuers(env, &store).await?;
    let handle = format!("{JOBS_PREFIX}{}#{}", order.account, row.id);
    if !matches!(row.status.as_str(), "issued" | "failed") {
        return Ok(true);
    }
    let mut reply: JobReply = row.result.as_deref().and_then(|r| serde_json::from_str(r).ok()).unwrap_or_default();
    reply.status = row.status.clone();
    let mut backends = Backends::new(env, issuers, connectors, None).map_err(|e| internal("issuers", e))?;
    backends.known = Some((handle, outcome(reply, "")));
    let engine = Engine {
        config: &config,
        store: &store,
        nonces: &nonces,
        clock: &WorkerClock,
        rng: &WorkerRng,
        va: &va,
        issuer: &backends,
    };
    match engine.advance_order(&order.account, &order.order).await {
        Ok((o, _)) => {
            if o.status != OrderStatus::Processing {
                worker::console_log!(
                    "{}",
                    serde_json::json!({"event": "order_finished", "job": row.id, "status": format!("{:?}", o.status),
                        "ms": Date::now().as_millis() as i64 - row.created})
                );
            }
            Ok(o.status != OrderStatus::Processing)
        }
        Err(p) if p.status == 404 => Ok(true),
        Err(p) => Err(p),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn job_calls_have_a_stable_wire_format() {
        let op = StoreOp::Job { call: JobOp::Get { id: "j1".into() } };
        assert_eq!(serde_json::to_string(&op).unwrap(), r#"{"op":"job","call":{"jop":"get","id":"j1"}}"#);
        let add: StoreOp = serde_json::from_str(
            r#"{"op":"job","call":{"jop":"add","id":"j","issuer":"cfssl","job":"{}","order":null}}"#,
        )
        .unwrap();
        assert!(matches!(add, StoreOp::Job { call: JobOp::Add { order: None, .. } }));
    }

    #[test]
    fn job_replies_map_to_issuer_outcomes() {
        let pending = outcome(JobReply { status: "pending".into(), ..Default::default() }, "jobs:a#j").unwrap();
        assert_eq!(pending, IssueOutcome::Pending { handle: "jobs:a#j".into(), retry_after: 0 });
        let issued = JobReply {
            status: "issued".into(),
            leaf: Some(edge_acme_core::b64::encode(b"leaf")),
            chain: vec![edge_acme_core::b64::encode(b"ca")],
            problem: None,
        };
        assert_eq!(
            outcome(issued, "h").unwrap(),
            IssueOutcome::Issued { leaf: b"leaf".to_vec(), chain: vec![b"ca".to_vec()] }
        );
        let failed = JobReply {
            status: "failed".into(),
            problem: Some(Problem::server_internal("CFSSL at x: y")),
            ..Default::default()
        };
        assert_eq!(outcome(failed, "h").unwrap_err().detail, "CFSSL at x: y");
        assert!(outcome(JobReply { status: "missing".into(), ..Default::default() }, "h").is_err());
    }

    #[test]
    fn hex_keys_decode_strictly() {
        assert_eq!(hex("00ff10"), Some(vec![0, 255, 16]));
        assert_eq!(hex("0"), None);
        assert_eq!(hex("zz"), None);
    }
}
