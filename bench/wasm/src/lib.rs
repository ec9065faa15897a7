//! Exports the benchmark operations to JavaScript; Node times the calls.

use edge_acme_bench::Workload;
use wasm_bindgen::prelude::wasm_bindgen;

/// A parsed workload; each method runs its operation `n` times and returns the successes.
#[wasm_bindgen]
pub struct Bench(Workload);

#[wasm_bindgen]
impl Bench {
    /// Parses the workload JSON written by `bench.mjs workload`.
    #[wasm_bindgen(constructor)]
    pub fn new(workload_json: &str) -> Bench {
        Bench(Workload::from_json(workload_json))
    }

    /// ES256 JWS verifications.
    pub fn es256(&self, n: u32) -> u32 {
        self.0.repeat(Workload::verify_es256, n)
    }

    /// RS256 JWS verifications.
    pub fn rs256(&self, n: u32) -> u32 {
        self.0.repeat(Workload::verify_rs256, n)
    }

    /// HS256 external account binding verifications.
    pub fn eab(&self, n: u32) -> u32 {
        self.0.repeat(Workload::verify_eab, n)
    }
}
