//! Native half of `bench/run.sh`: prints ops/s for each operation as one JSON object.
//!
//! Usage: `edge-acme-bench WORKLOAD.json` (env BENCH_SECONDS per round, BENCH_ROUNDS).

use std::time::Instant;

use edge_acme_bench::{Op, Workload};

/// Repeats `op` in doubling batches for at least `seconds`; returns ops/s.
fn measure(w: &Workload, op: Op, seconds: f64) -> f64 {
    let (mut n, mut ops) = (1u32, 0u64);
    let start = Instant::now();
    while start.elapsed().as_secs_f64() < seconds {
        assert_eq!(w.repeat(op, n), n, "verification failed");
        ops += u64::from(n);
        n = (n * 2).min(1024);
    }
    ops as f64 / start.elapsed().as_secs_f64()
}

fn env_or<T: std::str::FromStr>(name: &str, default: T) -> T {
    std::env::var(name).ok().and_then(|v| v.parse().ok()).unwrap_or(default)
}

fn main() {
    let path = std::env::args().nth(1).expect("usage: edge-acme-bench WORKLOAD.json");
    let w = Workload::from_json(&std::fs::read_to_string(path).expect("read workload"));
    let seconds: f64 = env_or("BENCH_SECONDS", 0.5);
    let rounds: usize = env_or("BENCH_ROUNDS", 5);
    let ops: [(&str, Op); 3] =
        [("es256", Workload::verify_es256), ("rs256", Workload::verify_rs256), ("eab_hs256", Workload::verify_eab)];
    let fields: Vec<String> = ops
        .iter()
        .map(|(name, op)| {
            let mut runs: Vec<f64> = (0..rounds).map(|_| measure(&w, *op, seconds)).collect();
            runs.sort_by(f64::total_cmp);
            format!("\"{name}\": {:.1}", runs[rounds / 2])
        })
        .collect();
    println!("{{{}}}", fields.join(", "));
}
