//! The operations `bench/run.sh` times, shared by the native binary and the wasm module.
//!
//! One operation is what the server does per request: parse the flattened JWS, take the
//! key from its `jwk` header, verify (or, for EAB, check the binding against the outer
//! key and verify the MAC). Timing lives in the hosts (`main.rs` with `std::time`, Node
//! with `performance.now()`), because wasm32-unknown-unknown has no clock.
#![no_std]

extern crate alloc;

use alloc::string::String;
use alloc::vec::Vec;
use edge_acme_core::eab::{decode_mac_key, parse_binding};
use edge_acme_core::jose::{parse_flattened, Jwk};
use serde_json::Value;

/// One benchmark operation: runs once, returns whether the object was accepted.
pub type Op = fn(&Workload) -> bool;

/// The signed objects, parsed once from the workload JSON that `bench.mjs workload` writes.
pub struct Workload {
    es256: Vec<u8>,
    rs256: Vec<u8>,
    eab_binding: Value,
    eab_account: Jwk,
    eab_url: String,
    eab_mac_key: Vec<u8>,
}

impl Workload {
    /// Reads the workload document; panics on a malformed one (it is generated, not input).
    pub fn from_json(text: &str) -> Workload {
        let w: Value = serde_json::from_str(text).expect("workload JSON");
        let body = |k: &str| serde_json::to_vec(&w[k]["jws"]).expect("JWS serializes");
        Workload {
            es256: body("es256"),
            rs256: body("rs256"),
            eab_binding: w["eab"]["binding"].clone(),
            eab_account: Jwk::from_value(&w["eab"]["account_jwk"]).expect("account JWK"),
            eab_url: w["eab"]["url"].as_str().expect("url").into(),
            eab_mac_key: decode_mac_key(w["eab"]["mac_key"].as_str().expect("mac_key")).expect("MAC key"),
        }
    }

    /// One ES256 newAccount-style JWS: parse, key from `jwk`, verify.
    pub fn verify_es256(&self) -> bool {
        verify_jwk_jws(&self.es256)
    }

    /// One RS256 (2048-bit) newAccount-style JWS: parse, key from `jwk`, verify.
    pub fn verify_rs256(&self) -> bool {
        verify_jwk_jws(&self.rs256)
    }

    /// One HS256 external account binding: parse, compare with the outer key, verify the MAC.
    pub fn verify_eab(&self) -> bool {
        match parse_binding(&self.eab_binding, &self.eab_account, &self.eab_url) {
            Ok(binding) => binding.verify(&self.eab_mac_key).is_ok(),
            Err(_) => false,
        }
    }

    /// Runs `op` `n` times and returns how many succeeded (the hosts check it equals `n`).
    pub fn repeat(&self, op: Op, n: u32) -> u32 {
        (0..n).map(|_| op(self) as u32).sum()
    }
}

fn verify_jwk_jws(body: &[u8]) -> bool {
    match parse_flattened(body) {
        Ok(jws) => match jws.jwk() {
            Some(jwk) => jws.verify(jwk).is_ok(),
            None => false,
        },
        Err(_) => false,
    }
}
