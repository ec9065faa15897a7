//! # edge-acme core
//!
//! A sans-I/O ACME (RFC 8555) certificate authority: JOSE, External Account Binding,
//! the ACME wire types and the server engine, in `#![no_std]` + `alloc`.
//!
//! ## What this crate does not do
//! It does not take care of network I/O. It does not accept HTTP connections, resolve
//! DNS, fetch challenge responses, read a clock, draw random numbers or keep anything
//! on disk. The host (the Cloudflare Worker in `worker/`, the in-memory test host, or a
//! browser through `js/`) does all of that and hands the results in.
//!
//! ## What it does instead
//! - [`b64`], [`jose`] and [`eab`]: parse and verify RFC 8555 §6.2 flattened JWS
//!   objects, JWKs and thumbprints (RFC 7638), sign them for clients, and build and
//!   check external account bindings (RFC 8555 §7.3.4).
//! - [`wire`] and [`problem`]: the JSON objects of the protocol and its error documents.
//! - [`keyauth`]: key authorizations and the values http-01 and dns-01 publish.
//!
//! Every error is a [`problem::Problem`] carrying the RFC 8555 error type and HTTP
//! status a server must answer with, so callers never translate error kinds by hand.
#![no_std]
#![forbid(unsafe_code)]
#![warn(missing_docs)]
// `Problem` is deliberately rich (subproblems, identifier); errors are rare, so its size
// on the error path does not matter.
#![allow(clippy::result_large_err)]

extern crate alloc;
#[cfg(feature = "std")]
extern crate std;

pub mod b64;
pub mod ca;
pub mod client;
pub mod config;
pub mod eab;
pub mod host;
pub mod jose;
pub mod keyauth;
pub mod nonce;
pub mod policy;
pub mod problem;
pub mod ra;
pub mod sa;
pub mod time;
pub mod va;
pub mod wfe;
pub mod wire;

#[cfg(any(test, feature = "testing"))]
pub mod testkit;

pub use problem::{Problem, ProblemType};
