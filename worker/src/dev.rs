//! Development-only routes under `/_dev/`, registered only when the variable
//! `EDGE_ACME_DEV_ROUTES` is "1" (scripts/dev.sh passes it with `--var`; it is
//! never in wrangler.toml). They exercise each platform primitive the CA relies
//! on and back tests/worker/smoke.test.mjs.

use serde::Deserialize;
use worker::{Fetch, Request, Response, Result, RouteContext, Router, Url};

use crate::store::{self, AlarmReply, KvReply, QuotaReply, StoreOp};

pub const ENABLE_VAR: &str = "EDGE_ACME_DEV_ROUTES";
/// KV keys written by these routes live under this prefix.
const KV_PREFIX: &str = "_dev/";

pub fn enabled(env: &worker::Env) -> bool {
    env.var(ENABLE_VAR).map(|v| v.to_string() == "1").unwrap_or(false)
}

pub fn routes(router: Router<'_, ()>) -> Router<'_, ()> {
    router
        .post_async("/_dev/quota/:object/:key", |req, ctx| async move {
            let limit = query(&req, "limit").and_then(|v| v.parse().ok()).unwrap_or(1);
            let op = StoreOp::QuotaUse { key: param(&ctx, "key")?, limit };
            let reply: QuotaReply = call(&ctx, &op).await?;
            Response::from_json(&reply).map(|r| r.with_status(if reply.ok { 200 } else { 409 }))
        })
        .get_async("/_dev/quota/:object/:key", |_req, ctx| async move {
            let reply: QuotaReply = call(&ctx, &StoreOp::QuotaGet { key: param(&ctx, "key")? }).await?;
            Response::from_json(&reply)
        })
        // The engine's own record operations (Get, versioned Put) on a named object.
        .get_async("/_dev/record/:object/:name", |_req, ctx| async move {
            let reply: KvReply = call(&ctx, &StoreOp::Get { name: param(&ctx, "name")? }).await?;
            Response::from_json(&reply)
        })
        .post_async("/_dev/record/:object/:name", |mut req, ctx| async move {
            #[derive(Deserialize)]
            struct Body {
                version: Option<i64>,
                value: String,
            }
            let Body { version, value } = req.json().await?;
            let op = StoreOp::Put { name: param(&ctx, "name")?, value, version };
            let reply: KvReply = call(&ctx, &op).await?;
            Response::from_json(&reply).map(|r| r.with_status(if reply.ok { 200 } else { 409 }))
        })
        .post_async("/_dev/rollback/:object/:name", |mut req, ctx| async move {
            let value = req.text().await?;
            let op = StoreOp::WriteThenFail { name: param(&ctx, "name")?, value };
            let reply: KvReply = call(&ctx, &op).await?;
            Response::from_json(&reply)
        })
        .post_async("/_dev/alarm/:object", |req, ctx| async move {
            let delay_ms = query(&req, "delay_ms").and_then(|v| v.parse().ok()).unwrap_or(1000);
            let reply: AlarmReply = call(&ctx, &StoreOp::AlarmSet { delay_ms }).await?;
            Response::from_json(&reply)
        })
        .get_async("/_dev/alarm/:object", |_req, ctx| async move {
            let reply: AlarmReply = call(&ctx, &StoreOp::AlarmStatus).await?;
            Response::from_json(&reply)
        })
        .put_async("/_dev/kv/:key", |mut req, ctx| async move {
            let key = format!("{KV_PREFIX}{}", param(&ctx, "key")?);
            let body = req.bytes().await?;
            ctx.kv(crate::KV_BINDING)?.put_bytes(&key, &body)?.execute().await?;
            Response::empty().map(|r| r.with_status(204))
        })
        .get_async("/_dev/kv/:key", |_req, ctx| async move {
            let key = format!("{KV_PREFIX}{}", param(&ctx, "key")?);
            match ctx.kv(crate::KV_BINDING)?.get(&key).bytes().await? {
                Some(bytes) => Response::from_bytes(bytes),
                None => Response::error("not found", 404),
            }
        })
        // Outbound fetch, restricted to loopback: the shape of an http-01 probe.
        .get_async("/_dev/fetch", |req, _ctx| async move {
            let Some(target) = query(&req, "url") else {
                return Response::error("url required", 400);
            };
            let url = Url::parse(&target)?;
            let loopback = matches!(url.host_str(), Some("127.0.0.1" | "localhost" | "[::1]"));
            if !loopback || !matches!(url.scheme(), "http" | "https") {
                return Response::error("only http(s) to loopback", 400);
            }
            let mut resp = Fetch::Url(url).send().await?;
            let status = resp.status_code();
            let body = resp.text().await?;
            Response::from_json(&serde_json::json!({ "status": status, "body": body }))
        })
}

async fn call<R: serde::de::DeserializeOwned>(ctx: &RouteContext<()>, op: &StoreOp) -> Result<R> {
    let ns = ctx.durable_object(store::BINDING)?;
    store::call(&ns, &format!("dev:{}", param(ctx, "object")?), op).await
}

fn param(ctx: &RouteContext<()>, name: &str) -> Result<String> {
    ctx.param(name).cloned().ok_or_else(|| format!("missing {name}").into())
}

fn query(req: &Request, name: &str) -> Option<String> {
    let url = req.url().ok()?;
    url.query_pairs().find(|(k, _)| k == name).map(|(_, v)| v.into_owned())
}
