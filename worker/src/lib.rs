//! edge-acme Worker: HTTP entry point, Durable Objects and platform glue.
//!
//! The ACME protocol logic lives in `edge-acme-core` (sans-I/O); this crate only
//! routes requests and implements the core's storage, validation and issuance
//! traits on Durable Objects, KV and `fetch()`.

use worker::{event, Context, Env, Request, Response, Result, Router};

mod dev;
mod sql;
mod store;

pub use store::StoreObject;

/// KV namespace for immutable, read-heavy data (certificates, CRLs).
pub const KV_BINDING: &str = "CERTS";

#[event(fetch)]
pub async fn fetch(req: Request, env: Env, _ctx: Context) -> Result<Response> {
    let dev_routes = dev::enabled(&env);
    let mut router = Router::new().get("/health", |_req, _ctx| {
        Response::from_json(&serde_json::json!({
            "status": "ok",
            "version": env!("CARGO_PKG_VERSION"),
        }))
    });
    if dev_routes {
        router = dev::routes(router);
    }
    router.run(req, env).await
}
