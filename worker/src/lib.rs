//! edge-acme Worker: HTTP entry point, Durable Objects and platform glue.
//!
//! The ACME protocol logic lives in `edge-acme-core` (sans-I/O); this crate only
//! routes requests and implements the core's storage, validation and issuance
//! traits on Durable Objects, KV and `fetch()` ([`host`]).
// `Problem` is the core's rich error type; its size on the error path does not matter.
#![allow(clippy::result_large_err)]

use edge_acme_core::wfe::{Engine, Request as AcmeRequest, Response as AcmeResponse};
use worker::{event, Context, Env, Headers, Request, Response, Result};

mod backends;
mod dev;
mod host;
mod sql;
mod store;

pub use store::StoreObject;

/// KV namespace for immutable, read-heavy data (certificates, CRLs).
pub const KV_BINDING: &str = "CERTS";

/// Default number of nonce shards.
pub(crate) const NONCE_SHARDS: usize = 4;

#[event(fetch)]
pub async fn fetch(mut req: Request, env: Env, _ctx: Context) -> Result<Response> {
    let url = req.url()?;
    let path = url.path().to_string();
    if path == "/health" {
        return Response::from_json(&serde_json::json!({"status": "ok", "version": env!("CARGO_PKG_VERSION")}));
    }
    if dev::enabled(&env) && path.starts_with("/_dev/") {
        return dev::routes(worker::Router::new()).run(req, env).await;
    }
    let started = worker::Date::now().as_millis();
    let origin = url.origin().ascii_serialization();
    let mut config = host::config(&env, &origin);
    let connectors =
        match backends::connectors(&env).and_then(|c| backends::apply_profiles(&env, &mut config, &c).map(|()| c)) {
            Ok(c) => c,
            Err(p) => return to_worker(AcmeResponse::problem(&p)),
        };
    let store = host::DoStore::new(&env)?;
    let nonces = match host::nonces(&env, &store).await {
        Ok(n) => n,
        Err(p) => return to_worker(AcmeResponse::problem(&p)),
    };
    let va = host::WorkerVa::new(&env);
    let (issuers, root) = match host::issuers(&env, &store).await {
        Ok(v) => v,
        Err(p) => return to_worker(AcmeResponse::problem(&p)),
    };
    if path == "/dev/acme-root.pem" && host::setting(&env, "DEV_CA").as_deref() == Some("1") {
        let mut r = Response::ok(edge_acme_core::ca::pem_chain(&root, &[]))?;
        r.headers_mut().set("Content-Type", "application/x-pem-file")?;
        return Ok(r);
    }
    // Finalize names its order, so that a back end's job can finish it later.
    let order = match edge_acme_core::wfe::paths::route(&path) {
        edge_acme_core::wfe::paths::Route::Finalize(account, order) => {
            Some(backends::OrderRef { account, order, origin: config.base_url.clone() })
        }
        _ => None,
    };
    let issuers = backends::Backends::new(&env, issuers, connectors, order)?;
    let engine = Engine {
        config: &config,
        store: &store,
        nonces: &nonces,
        clock: &host::WorkerClock,
        rng: &host::WorkerRng,
        va: &va,
        issuer: &issuers,
    };
    let mut path_q = path.clone();
    if let Some(q) = url.query() {
        path_q.push('?');
        path_q.push_str(q);
    }
    let acme_req = AcmeRequest {
        method: req.method().to_string().to_ascii_uppercase(),
        path: path_q,
        headers: req.headers().entries().collect(),
        body: if req.method() == worker::Method::Post { req.bytes().await.unwrap_or_default() } else { Vec::new() },
    };
    let resp = engine.handle(&acme_req).await;
    log_line(&acme_req, &resp, worker::Date::now().as_millis().saturating_sub(started));
    to_worker(resp)
}

/// One structured log line per request: endpoint, account, status, problem type.
/// Never bodies, keys, tokens or nonces.
fn log_line(req: &AcmeRequest, resp: &AcmeResponse, ms: u64) {
    let route = edge_acme_core::wfe::paths::route(&req.path);
    let (endpoint, account) = describe(&route, &req.path);
    let problem = if resp.header("Content-Type") == Some("application/problem+json") {
        serde_json::from_slice::<serde_json::Value>(&resp.body).ok().and_then(|v| v["type"].as_str().map(String::from))
    } else {
        None
    };
    let line = serde_json::json!({
        "endpoint": endpoint, "method": req.method, "account": account,
        "status": resp.status, "problem": problem, "ms": ms,
    });
    worker::console_log!("{line}");
}

fn describe(route: &edge_acme_core::wfe::paths::Route, path: &str) -> (String, Option<String>) {
    use edge_acme_core::wfe::paths::Route::*;
    let name = format!("{route:?}");
    let endpoint = name.split('(').next().unwrap_or("").to_string();
    let account = match route {
        Account(a) | AccountOrders(a) | Order(a, _) | Finalize(a, _) | Authz(a, _) | Challenge(a, _, _) => {
            Some(a.clone())
        }
        _ => None,
    };
    if path.starts_with("/admin/") {
        return ("Admin".into(), None);
    }
    (endpoint, account)
}

fn to_worker(resp: AcmeResponse) -> Result<Response> {
    let headers = Headers::new();
    for (k, v) in &resp.headers {
        headers.append(k, v)?;
    }
    let body = if resp.body.is_empty() { None } else { Some(resp.body) };
    Ok(Response::from_body(match body {
        Some(b) => worker::ResponseBody::Body(b),
        None => worker::ResponseBody::Empty,
    })?
    .with_status(resp.status)
    .with_headers(headers))
}
