"""Fixtures for the back-end connector suite: the back ends (Pebble, a second edge-acme,
CFSSL, a late CFSSL, a fake CFSSL, a closed port) and the front end under test, an
edge-acme instance (scripts/dev.sh) whose ISSUERS and PROFILES map one profile to each.
"""

from __future__ import annotations

import json
import shutil
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))
import plumbing  # noqa: E402

DOMAIN = "backends.test"
VALIDITY_DAYS = 90
# A back end that never answers fails its order after this many seconds.
DOWN_GIVE_UP_SECS = 12

LATENCY: dict[str, list[float]] = {}


def pytest_report_header(config):
    return [f"backends: logs in {plumbing.LOGS}"]


@pytest.fixture(scope="session")
def stack(tmp_path_factory):
    for tool in ("pebble", "cfssl", "openssl"):
        if not shutil.which(tool):
            pytest.fail(f"{tool} is not installed (scripts/bootstrap.sh backends)")
    work = tmp_path_factory.mktemp("backends")
    started = []
    try:
        pebble = plumbing.Pebble(work / "pebble", VALIDITY_DAYS * 86_400)
        started.append(pebble)
        cfssl = plumbing.Cfssl(work / "cfssl").start()
        started.append(cfssl)
        late = plumbing.Cfssl(work / "late", name="cfssl-late")  # started by the restart test
        started.append(late)
        fake = plumbing.FakeCfssl(work / "fake")
        started.append(fake)
        upstream = plumbing.EdgeAcme("upstream")
        started.append(upstream)
        upstream_eab = upstream.eab_with_claim(DOMAIN)
        # workerd trusts these for fetch() (wrangler passes NODE_EXTRA_CA_CERTS on).
        extra_ca = work / "extra-ca.pem"
        extra_ca.write_text(pebble.ca.read_text() + Path(upstream.ca_bundle).read_text())
        issuers = {
            "pebble": {"kind": "acme", "directory": pebble.directory, "account_key_secret": "PEBBLE_ACCOUNT_KEY",
                       "challenge": "http-01"},
            "edge": {"kind": "acme", "directory": upstream.directory, "account_key_secret": "EDGE_ACCOUNT_KEY",
                     "eab_kid_secret": "EDGE_EAB_KID", "eab_hmac_secret": "EDGE_EAB_HMAC"},
            "cfssl": {"kind": "cfssl", "url": cfssl.url, "auth_key_secret": "CFSSL_AUTH_KEY", "profile": "www"},
            "late": {"kind": "cfssl", "url": late.url, "auth_key_secret": "LATE_AUTH_KEY", "profile": "www"},
            "down": {"kind": "cfssl", "url": f"http://127.0.0.1:{plumbing.free_port()}",
                     "give_up_after_secs": DOWN_GIVE_UP_SECS},
            "wrong": {"kind": "cfssl", "url": fake.url},
        }
        profiles = [{"name": "classic", "description": "built-in CA", "validity_days": VALIDITY_DAYS,
                     "issuer": "local"}]
        profiles += [{"name": n, "description": f"issued by {n}", "validity_days": VALIDITY_DAYS, "issuer": n}
                     for n in issuers]
        variables = {
            "ISSUERS": json.dumps(issuers), "PROFILES": json.dumps(profiles),
            "PEBBLE_ACCOUNT_KEY": plumbing.p256_pkcs8_pem(), "EDGE_ACCOUNT_KEY": plumbing.p256_pkcs8_pem(),
            "EDGE_EAB_KID": upstream_eab["kid"], "EDGE_EAB_HMAC": upstream_eab["hmac_key"],
            "CFSSL_AUTH_KEY": cfssl.auth_key, "LATE_AUTH_KEY": late.auth_key,
        }
        args = [a for k, v in variables.items() for a in ("--var", f"{k}:{v}")]
        front = plumbing.EdgeAcme("front", extra_env={"NODE_EXTRA_CA_CERTS": str(extra_ca)}, args=args,
                                  skip_build=True)
        started.append(front)
        s = type("Stack", (), {})()
        s.pebble, s.cfssl, s.late, s.fake, s.upstream, s.front = pebble, cfssl, late, fake, upstream, front
        s.issuers, s.profiles, s.work = issuers, profiles, work
        s.front_eab = front.eab_with_claim(DOMAIN)
        yield s
    finally:
        for p in reversed(started):
            p.stop()


@pytest.fixture(scope="session")
def client(stack):
    return plumbing.Client(stack.front, stack.front_eab)


def worker_job_times() -> dict[str, list[int]]:
    """Per issuer, the Worker's own time from finalize to the back end's certificate
    (the `job_done` log lines of the front end)."""
    import re
    out: dict[str, list[int]] = {}
    try:
        text = plumbing.log_path("dev-front.log").read_text(errors="replace")
    except OSError:
        return out
    for m in re.finditer(r'\{"event":"job_done"[^}]*\}', text):
        j = json.loads(m.group(0))
        if j["status"] == "issued":
            out.setdefault(j["issuer"], []).append(j["ms"])
    return out


def pytest_terminal_summary(terminalreporter):
    if not LATENCY:
        return
    out = {}
    for issuer, ms in worker_job_times().items():
        ms = sorted(ms)
        out[f"worker-job-{issuer}"] = {"n": len(ms), "median_s": ms[len(ms) // 2] / 1000, "min_s": ms[0] / 1000,
                                       "max_s": ms[-1] / 1000}
        terminalreporter.write_line(
            f"backends worker job {issuer}: finalize -> back end's certificate median {ms[len(ms) // 2]} ms "
            f"(min {ms[0]}, max {ms[-1]}, n={len(ms)})")
    for name, xs in LATENCY.items():
        xs = sorted(xs)
        out[name] = {"n": len(xs), "median_s": round(xs[len(xs) // 2], 3), "min_s": round(xs[0], 3),
                     "max_s": round(xs[-1], 3)}
        terminalreporter.write_line(
            f"backends latency {name}: finalize -> valid median {out[name]['median_s']:.2f} s "
            f"(min {out[name]['min_s']:.2f}, max {out[name]['max_s']:.2f}, n={len(xs)})")
    plumbing.log_path("latency.json").write_text(json.dumps(out, indent=2))
