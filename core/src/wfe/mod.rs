//! Web front end: plain HTTP requests in, plain HTTP responses out.
//!
//! [`Engine::handle`] is the server. It routes a [`Request`] to a handler (one file
//! per resource in this module), and every handler is linear: authenticate the JWS
//! ([`auth`]), check policy and change state through the registration authority
//! ([`crate::ra`]), and answer. Headers every response needs — a fresh
//! `Replay-Nonce`, the `Link` to the directory, problem documents with the right
//! status — are added here, once, so no handler can forget them.

mod account;
pub mod admin;
pub(crate) mod auth;
mod certificate;
mod challenge;
mod directory;
mod finalize;
mod key_change;
mod order;
#[cfg(test)]
mod order_tests;
pub mod paths;

use alloc::string::{String, ToString};
use alloc::vec::Vec;
use serde::Serialize;

use crate::ca::Issuer;
use crate::config::Config;
use crate::host::{Clock, Rng};
use crate::nonce::Nonces;
use crate::problem::{Problem, ProblemType};
use crate::sa::Store;
use crate::va::Va;
use paths::Route;

/// An HTTP request as the host received it.
#[derive(Clone, Debug, Default)]
pub struct Request {
    /// Upper-case method (`GET`, `HEAD`, `POST`, `OPTIONS`...).
    pub method: String,
    /// Path and query, e.g. `/acme/acct/abc/orders?cursor=2`.
    pub path: String,
    /// Header names and values; names are compared case-insensitively.
    pub headers: Vec<(String, String)>,
    /// The raw body.
    pub body: Vec<u8>,
}

impl Request {
    /// The first value of a header.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.iter().find(|(k, _)| k.eq_ignore_ascii_case(name)).map(|(_, v)| v.as_str())
    }
}

/// An HTTP response for the host to send.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Response {
    /// Status code.
    pub status: u16,
    /// Header names and values.
    pub headers: Vec<(String, String)>,
    /// The body.
    pub body: Vec<u8>,
}

impl Response {
    /// An empty response.
    pub fn empty(status: u16) -> Self {
        Response { status, headers: Vec::new(), body: Vec::new() }
    }

    /// A JSON response.
    pub fn json<T: Serialize>(status: u16, value: &T) -> Self {
        let mut r = Response::empty(status);
        r.body = serde_json::to_vec(value).unwrap_or_default();
        r.set_header("Content-Type", "application/json");
        r
    }

    /// A problem document, with the headers its type calls for.
    pub fn problem(p: &Problem) -> Self {
        let mut r = Response::empty(p.status);
        r.body = p.to_json();
        r.set_header("Content-Type", "application/problem+json");
        r
    }

    /// Adds a header (keeps existing ones of the same name, as `Link` needs).
    pub fn add_header(&mut self, name: &str, value: impl Into<String>) {
        self.headers.push((name.to_string(), value.into()));
    }

    /// Sets a header, replacing any of the same name.
    pub fn set_header(&mut self, name: &str, value: impl Into<String>) {
        self.headers.retain(|(k, _)| !k.eq_ignore_ascii_case(name));
        self.add_header(name, value);
    }

    /// The first value of a header.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.iter().find(|(k, _)| k.eq_ignore_ascii_case(name)).map(|(_, v)| v.as_str())
    }

    /// All values of a header.
    pub fn header_all(&self, name: &str) -> Vec<&str> {
        self.headers.iter().filter(|(k, _)| k.eq_ignore_ascii_case(name)).map(|(_, v)| v.as_str()).collect()
    }

    pub(crate) fn with_location(mut self, url: String) -> Self {
        self.set_header("Location", url);
        self
    }
}

/// The ACME server: configuration plus the host's services.
pub struct Engine<'a, S: Store, N: Nonces, V: Va, I: Issuer> {
    /// Configuration.
    pub config: &'a Config,
    /// Storage.
    pub store: &'a S,
    /// Nonces.
    pub nonces: &'a N,
    /// Time.
    pub clock: &'a dyn Clock,
    /// Randomness.
    pub rng: &'a dyn Rng,
    /// Challenge transport.
    pub va: &'a V,
    /// Certificate and CRL signing.
    pub issuer: &'a I,
}

impl<S: Store, N: Nonces, V: Va, I: Issuer> Engine<'_, S, N, V, I> {
    /// Serves one request. Never fails: every error becomes a problem response.
    pub async fn handle(&self, req: &Request) -> Response {
        let mut resp = if req.method == "OPTIONS" {
            preflight()
        } else if req.path.starts_with(admin::ADMIN_PREFIX) {
            self.handle_admin(req).await
        } else {
            self.handle_acme(req).await
        };
        cors(&mut resp);
        resp
    }

    async fn handle_acme(&self, req: &Request) -> Response {
        let route = paths::route(&req.path);
        let mut resp = match self.dispatch(&route, req).await {
            Ok(r) => r,
            Err(p) => problem_response(&p, self.config.retry_after_secs),
        };
        self.finish(&mut resp).await;
        resp
    }

    async fn dispatch(&self, route: &Route, req: &Request) -> Result<Response, Problem> {
        let m = req.method.as_str();
        match (route, m) {
            (Route::Directory, "GET" | "HEAD") => Ok(self.directory()),
            (Route::NewNonce, "HEAD") => Ok(nonce_response(200)),
            (Route::NewNonce, "GET") => Ok(nonce_response(204)),
            (Route::NewAccount, "POST") => self.new_account(req).await,
            (Route::Account(id), "POST") => self.account(req, id).await,
            (Route::AccountOrders(id), "POST") => self.account_orders(req, id).await,
            (Route::KeyChange, "POST") => self.key_change(req).await,
            (Route::NewOrder, "POST") => self.new_order(req).await,
            (Route::NewAuthz, "POST") => self.new_authz(req).await,
            (Route::Order(a, o), "POST") => self.order(req, a, o).await,
            (Route::Finalize(a, o), "POST") => self.finalize(req, a, o).await,
            (Route::Authz(a, z), "POST") => self.authz(req, a, z).await,
            (Route::Challenge(a, z, k), "POST") => self.challenge(req, a, z, k).await,
            (Route::Certificate(s, n), "POST") => self.certificate(req, s, *n).await,
            (Route::RevokeCert, "POST") => self.revoke(req).await,
            (Route::RenewalInfo(id), "GET" | "HEAD") => self.renewal_info(id).await,
            (Route::IssuerCert(i), "GET" | "HEAD") => self.issuer_certificate(i),
            (Route::Crl(i), "GET" | "HEAD") => self.crl(i).await,
            (Route::NotFound, _) => Err(Problem::not_found("no such resource")),
            (r, _) => Ok(method_not_allowed(r)),
        }
    }

    /// Headers every response carries: a fresh nonce (errors included, so a client
    /// that got `badNonce` can retry at once), the directory link, CORS exposure.
    async fn finish(&self, resp: &mut Response) {
        match self.nonces.issue().await {
            Ok(n) => resp.set_header("Replay-Nonce", n),
            Err(p) => *resp = problem_response(&p, self.config.retry_after_secs),
        }
        resp.add_header("Link", alloc::format!("<{}>;rel=\"index\"", self.config.url(paths::DIRECTORY)));
        if resp.header("Cache-Control").is_none() {
            resp.set_header("Cache-Control", "no-store");
        }
    }
}

/// CORS for browser clients: any origin, and the headers ACME clients must read.
fn cors(resp: &mut Response) {
    resp.set_header("Access-Control-Allow-Origin", "*");
    resp.set_header("Access-Control-Expose-Headers", "Replay-Nonce, Location, Link, Retry-After, Content-Type");
}

/// The answer to a CORS preflight request.
fn preflight() -> Response {
    let mut r = Response::empty(204);
    r.set_header("Access-Control-Allow-Methods", "GET, HEAD, POST, OPTIONS");
    r.set_header("Access-Control-Allow-Headers", "Content-Type, Authorization");
    r.set_header("Access-Control-Max-Age", "86400");
    r
}

fn nonce_response(status: u16) -> Response {
    let mut r = Response::empty(status);
    r.set_header("Cache-Control", "no-store");
    r
}

/// The problem response with the extra headers some types need.
pub(crate) fn problem_response(p: &Problem, retry_after: u64) -> Response {
    let mut r = Response::problem(p);
    if p.kind == ProblemType::RateLimited {
        r.set_header("Retry-After", alloc::format!("{}", retry_after.max(1)));
    }
    r
}

/// 405 with the `Allow` header RFC 9110 requires.
fn method_not_allowed(route: &Route) -> Response {
    let allowed = route.allowed_methods();
    let p = Problem::method_not_allowed(alloc::format!("this resource only accepts {allowed}"));
    let mut r = Response::problem(&p);
    r.set_header("Allow", allowed);
    r
}

#[cfg(test)]
mod tests;
