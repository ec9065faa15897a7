"""edge-acme (wrangler dev) vs Pebble: the same issuance load against both, in one run.

Run through bench/pebble-compare/run.sh (it installs the tools). Steps:
  1. `wrangler deploy --dry-run --outdir` -> the Worker bundle's size, raw and gzip.
  2. The test network (tests/e2e/testsrv.py: DNS for Pebble's VA, DoH for edge-acme's CAA
     lookups); the driver's own http-01 responder on a fresh port both servers validate
     against.
  3. edge-acme: scripts/dev.sh (prebuilt, no watch, fresh state), cold start = process
     start until the first 200 from /directory; then driver.mjs with N and C.
  4. Pebble (PEBBLE_VA_NOSLEEP=1, PEBBLE_WFE_NONCEREJECT=0): the same.
  5. A table per step (p50/p99), orders/s and the ratio edge-acme / Pebble; JSON in
     target/bench/.
Env: BENCH_N (200), BENCH_C (8), BENCH_WARMUP (= C), BENCH_POLL_MS (25),
     BENCH_SERVERS ("edge-acme pebble").
"""

from __future__ import annotations

import gzip
import json
import os
import platform
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[1]
sys.path.insert(0, str(ROOT / "tests" / "e2e"))
import harness  # noqa: E402

N = int(os.environ.get("BENCH_N", "200"))
C = int(os.environ.get("BENCH_C", "8"))
WARMUP = int(os.environ.get("BENCH_WARMUP", str(C)))
POLL_MS = int(os.environ.get("BENCH_POLL_MS", "25"))
SERVERS = os.environ.get("BENCH_SERVERS", "edge-acme pebble").split()
OUT = ROOT / "target" / "bench"


def sh(*argv: str, **kw) -> str:
    return subprocess.run(argv, capture_output=True, text=True, **kw).stdout.strip()


def bundle_size() -> dict:
    out = Path(tempfile.mkdtemp(prefix="edge-acme-bundle-"))
    t0 = time.monotonic()
    r = subprocess.run(["wrangler", "deploy", "--dry-run", "--outdir", str(out)], cwd=harness.DEV_ROOT,
                       capture_output=True, text=True)
    if r.returncode != 0:
        raise RuntimeError(f"wrangler deploy --dry-run failed:\n{harness.tail(r.stdout + r.stderr)}")
    files = {}
    for f in sorted(p for p in out.rglob("*") if p.is_file() and not p.name.endswith(".map")):
        data = f.read_bytes()
        files[str(f.relative_to(out))] = {"raw": len(data), "gzip": len(gzip.compress(data, 9))}
    m = re.search(r"Total Upload:\s*([\d.]+\s*\w+)\s*/\s*gzip:\s*([\d.]+\s*\w+)", r.stdout + r.stderr)
    return {
        "files": files,
        "raw_bytes": sum(v["raw"] for v in files.values()),
        "gzip_bytes": sum(v["gzip"] for v in files.values()),
        "wrangler_says": f"{m.group(1)} / gzip {m.group(2)}" if m else None,
        "build_s": time.monotonic() - t0,
    }


def floor(srv, n: int = 40) -> dict:
    """Sequential GET /directory and HEAD newNonce on a warm server: the per-request cost
    of the HTTPS front (for edge-acme: wrangler dev's local proxy + workerd), without the
    engine's storage work. p50 in ms."""
    import requests
    s = requests.Session()
    s.trust_env = False
    s.verify = str(srv.ca_bundle)
    nonce_url = s.get(srv.directory, timeout=30).json()["newNonce"]
    out = {}
    for what, call in (("directory_get", lambda: s.get(srv.directory, timeout=30)),
                       ("new_nonce_head", lambda: s.head(nonce_url, timeout=30))):
        ts = []
        for _ in range(n):
            t0 = time.perf_counter()
            call().raise_for_status()
            ts.append((time.perf_counter() - t0) * 1000)
        ts.sort()
        out[what] = {"p50_ms": ts[len(ts) // 2], "p99_ms": ts[min(len(ts) - 1, int(len(ts) * 0.99))]}
    return out


def worker_times(log_text: str) -> dict:
    """The Worker logs one JSON line per ACME request with its own wall time ("ms"): p50
    and p99 per endpoint, i.e. the time spent inside workerd (engine, Durable Objects, KV,
    validation fetches) without wrangler dev's local HTTPS proxy."""
    per: dict[str, list[float]] = {}
    for line in log_text.splitlines():
        if not line.startswith('{"'):
            continue
        try:
            j = json.loads(line)
        except ValueError:
            continue
        if "endpoint" in j and "ms" in j:
            per.setdefault(j["endpoint"], []).append(float(j["ms"]))
    out = {}
    for k, v in sorted(per.items()):
        v.sort()
        out[k] = {"n": len(v), "p50_ms": v[len(v) // 2], "p99_ms": v[min(len(v) - 1, int(len(v) * 0.99))]}
    return out


def run_driver(label: str, srv, port: int) -> dict:
    out = OUT / f"driver-{label}.json"
    log = harness.log_path(f"bench-driver-{label}.log")
    argv = ["node", str(HERE / "driver.mjs"), "--directory", srv.directory, "--ca", str(srv.ca_bundle),
            "--responder-port", str(port), "--n", str(N), "--c", str(C), "--warmup", str(WARMUP),
            "--poll-ms", str(POLL_MS), "--label", label, "--json", str(out)]
    r = subprocess.run(argv, capture_output=True, text=True)
    log.write_text(r.stdout + r.stderr)
    print(r.stdout, end="", flush=True)
    if r.returncode != 0 or not out.exists():
        raise RuntimeError(f"driver against {label} failed:\n{harness.tail(r.stdout + r.stderr)}")
    return json.loads(out.read_text())


def machine() -> dict:
    cpu = re.search(r"model name\s*:\s*(.+)", Path("/proc/cpuinfo").read_text())
    mem = re.search(r"MemTotal:\s*(\d+)", Path("/proc/meminfo").read_text())
    return {
        "cpu": cpu.group(1) if cpu else platform.processor(),
        "cores": os.cpu_count(),
        "mem_gib": round(int(mem.group(1)) / 2**20, 1) if mem else None,
        "os": sh("sh", "-c", ". /etc/os-release && echo $PRETTY_NAME"),
        "node": sh("node", "--version"),
        "wrangler": sh("wrangler", "--version").splitlines()[-1:] or ["?"],
        "pebble": sh("dpkg-query", "-W", "-f", "${Version}", "pebble"),
        "loadavg_at_start": [round(x, 2) for x in os.getloadavg()],
    }


def main() -> int:
    OUT.mkdir(parents=True, exist_ok=True)
    result = {"n": N, "c": C, "warmup": WARMUP, "poll_ms": POLL_MS, "machine": machine(), "servers": {}}
    print(f"bench: {N} issuances, concurrency {C}, warm-up {WARMUP}, poll every {POLL_MS} ms; "
          f"{result['machine']['cores']} cores, {result['machine']['cpu']}", flush=True)
    if "edge-acme" in SERVERS:
        b = bundle_size()
        result["bundle"] = b
        print(f"bundle: {b['raw_bytes'] / 1024:.0f} KiB raw, {b['gzip_bytes'] / 1024:.0f} KiB gzip -9 "
              f"(wrangler: {b['wrangler_says']}); files: " +
              ", ".join(f"{k} {v['gzip'] / 1024:.0f} KiB gz" for k, v in b["files"].items()), flush=True)

    ts = harness.TestSrv("bench-testsrv.log")
    port = harness.free_port()
    try:
        for kind in SERVERS:
            srv = harness.start_server(kind, ts, f"bench-{kind}", http01_port=port,
                                       **({"skip_build": True} if kind == "edge-acme" else {}))
            try:
                ms = getattr(srv, "milestones", {})
                detail = (f"; dev.sh launched wrangler at {ms['wrangler_launch']:.2f} s, wrangler ready at "
                          f"{ms['wrangler_ready']:.2f} s" if "wrangler_ready" in ms and "wrangler_launch" in ms else "")
                print(f"{kind}: cold start {srv.first_directory_s:.2f} s (process start -> first directory "
                      f"response{detail})", flush=True)
                fl = floor(srv)
                print(f"{kind}: warm single requests, p50: GET directory {fl['directory_get']['p50_ms']:.1f} ms, "
                      f"HEAD newNonce {fl['new_nonce_head']['p50_ms']:.1f} ms", flush=True)
                before = len(srv.proc.text()) if srv.proc else 0
                res = run_driver(kind, srv, port)
                res["cold_start_s"] = srv.first_directory_s
                res["milestones"] = getattr(srv, "milestones", {"first_directory": srv.first_directory_s})
                res["floor"] = fl
                if kind == "edge-acme" and srv.proc:
                    res["inside_worker"] = worker_times(srv.proc.text()[before:])
                    print("  inside the Worker (its own request log), p50/p99 ms: " + ", ".join(
                        f"{k} {v['p50_ms']:.0f}/{v['p99_ms']:.0f}" for k, v in res["inside_worker"].items()),
                        flush=True)
                result["servers"][kind] = res
            finally:
                srv.stop()
    finally:
        ts.stop()

    result["machine"]["loadavg_at_end"] = [round(x, 2) for x in os.getloadavg()]
    stamp = time.strftime("%Y%m%d-%H%M%S")
    (OUT / f"pebble-compare-{stamp}.json").write_text(json.dumps(result, indent=2))
    if set(SERVERS) >= {"edge-acme", "pebble"}:
        e, p = result["servers"]["edge-acme"], result["servers"]["pebble"]
        print()
        print(f"{'step':<10} {'edge p50':>9} {'pebble p50':>11} {'edge p99':>9} {'pebble p99':>11}   (ms)")
        for s in e["steps"]:
            a, b = e["steps"][s], p["steps"][s]
            print(f"{s:<10} {a['p50_ms']:>9.1f} {b['p50_ms']:>11.1f} {a['p99_ms']:>9.1f} {b['p99_ms']:>11.1f}")
        ratio = e["orders_per_s"] / p["orders_per_s"]
        result["ratio_orders_per_s"] = ratio
        (OUT / f"pebble-compare-{stamp}.json").write_text(json.dumps(result, indent=2))
        print(f"\norders/s: edge-acme {e['orders_per_s']:.2f}, Pebble {p['orders_per_s']:.2f}; "
              f"ratio edge-acme/Pebble = {ratio:.2f}")
        print(f"cold start: edge-acme {e['cold_start_s']:.2f} s, Pebble {p['cold_start_s']:.2f} s")
        if "bundle" in result:
            print(f"Worker bundle: {result['bundle']['gzip_bytes'] / 1024:.0f} KiB gzip")
    print(f"load average (1/5/15 min) at start {result['machine']['loadavg_at_start']}, "
          f"at end {result['machine']['loadavg_at_end']}")
    print(f"results: {OUT / f'pebble-compare-{stamp}.json'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
