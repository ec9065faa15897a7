"""edge-acme in front of other CAs, end to end under wrangler dev: one profile per back
end, real clients (certbot from .cache/venv) and a step-by-step client (the `acme`
library), outages, a wrong back end, a runtime restart in the middle of issuance, and
revocation forwarded to the back ends."""

from __future__ import annotations

import json
import os
import secrets
import subprocess
import sys
import time
from pathlib import Path

import pytest
import requests

import plumbing
from conftest import DOMAIN, DOWN_GIVE_UP_SECS, LATENCY, VALIDITY_DAYS

CERTBOT = Path(sys.executable).parent / "certbot"
SERVER_INTERNAL = "urn:ietf:params:acme:error:serverInternal"


def name(prefix: str) -> str:
    return f"{prefix}-{secrets.token_hex(3)}.{DOMAIN}"


def roots(stack, issuer: str) -> str:
    if issuer == "pebble":
        return stack.pebble.roots()
    if issuer == "edge":
        return Path(stack.upstream.dev["acme_root"]).read_text()
    if issuer == "cfssl":
        return (stack.cfssl.work / "ca.pem").read_text()
    if issuer == "late":
        return (stack.late.work / "ca.pem").read_text()
    return Path(stack.front.dev["acme_root"]).read_text()


def issue(client, profile: str, names: list[str], timeout: float = 60, every: float = 0.25) -> tuple[dict, float, str]:
    """Order (ready at once: the account's tenant holds a claim), finalize, poll until the
    order leaves processing. Returns the order, seconds from finalize to the end, and the
    status finalize answered with."""
    orderr, _ = client.order(names, profile)
    assert orderr.body.status.name == "ready", orderr.body
    t0 = time.monotonic()
    fin = client.finalize(orderr)
    order = client.poll(fin.uri, lambda o: o["status"] not in ("processing", "ready"), timeout, every=every)
    return order, time.monotonic() - t0, fin.body.status.name


def test_directory_advertises_the_configured_profiles(stack):
    d = requests.get(stack.front.directory, verify=stack.front.ca_bundle, timeout=10).json()
    assert d["meta"]["profiles"] == {p["name"]: p["description"] for p in stack.profiles}


@pytest.mark.parametrize("issuer", ["pebble", "cfssl", "edge"])
def test_certbot_gets_a_certificate_through_the_connector(stack, issuer, tmp_path):
    n = name(f"certbot-{issuer}")
    cfg = stack.work / "certbot"
    log = plumbing.log_path(f"certbot-{issuer}.log")
    argv = [str(CERTBOT), "certonly", "--manual", "--manual-auth-hook", "true", "--preferred-challenges", "http",
            "-d", n, "--cert-name", n, "--agree-tos", "-m", f"admin@{DOMAIN}", "--no-eff-email",
            # `=`: a base64url MAC key may start with "-", which argparse takes for an option.
            "--required-profile", issuer, f"--eab-kid={stack.front_eab['kid']}",
            f"--eab-hmac-key={stack.front_eab['hmac_key']}", "--server", stack.front.directory,
            "--config-dir", str(cfg / "config"),
            "--work-dir", str(cfg / "work"), "--logs-dir", str(cfg / "logs"), "--non-interactive"]
    t0 = time.monotonic()
    r = subprocess.run(argv, env={**os.environ, "REQUESTS_CA_BUNDLE": stack.front.ca_bundle}, capture_output=True,
                       text=True, timeout=300)
    log.write_text(f"$ {' '.join(argv)}\n{r.stdout}\n{r.stderr}\n# {time.monotonic() - t0:.1f}s\n")
    assert r.returncode == 0, f"certbot --required-profile {issuer} failed:\n{plumbing.tail(r.stdout + r.stderr)}"
    chain = (cfg / "config" / "live" / n / "fullchain.pem").read_text()
    info = plumbing.cert_info(chain)
    assert info["names"] == [n]
    assert (info["not_after"] - info["not_before"]).total_seconds() <= VALIDITY_DAYS * 86_400
    out = plumbing.verify(chain, roots(stack, issuer), tmp_path)
    assert "leaf.pem: OK" in out, out


@pytest.mark.parametrize("issuer", ["classic", "pebble", "cfssl", "edge"])
def test_issuance_latency_per_connector(stack, client, issuer):
    """Five orders per back end, finalize to valid as the client sees it (polling every
    50 ms); the built-in CA ("classic") is the baseline."""
    times = []
    for i in range(5):
        order, secs, first = issue(client, issuer, [name(f"lat-{issuer}-{i}")], every=0.05)
        assert order["status"] == "valid", order
        assert first == ("valid" if issuer == "classic" else "processing")
        times.append(secs)
    LATENCY[issuer] = times


def test_an_unreachable_back_end_keeps_the_order_processing_then_fails_it_precisely(stack, client):
    orderr, _ = client.order([name("down")], "down")
    fin = client.finalize(orderr)
    assert fin.body.status.name == "processing"
    time.sleep(3)
    assert client.get(fin.uri)["status"] == "processing", "retrying, not failed yet"
    order = client.poll(fin.uri, lambda o: o["status"] != "processing", DOWN_GIVE_UP_SECS + 45, every=1)
    assert order["status"] == "invalid", order
    assert order["error"]["type"] == SERVER_INTERNAL
    port = stack.issuers["down"]["url"].rsplit(":", 1)[1]
    detail = order["error"]["detail"]
    assert detail.startswith(f"CFSSL at 127.0.0.1:{port}: no answer ("), detail
    assert "gave up after" in detail, detail
    assert "certificate" not in order


def test_a_back_end_that_signs_other_names_fails_the_order_and_no_certificate_is_served(stack, client):
    order, _, first = issue(client, "wrong", [name("wrong")])
    assert first == "processing"
    assert order["status"] == "invalid", order
    assert order["error"]["type"] == SERVER_INTERNAL
    assert "names other than the order's" in order["error"]["detail"], order["error"]
    assert "certificate" not in order


def test_an_order_processing_across_a_runtime_restart_completes(stack, client, tmp_path):
    """The back end is down at finalize; the runtime restarts; the back end comes up; the
    stored job and its alarm finish the order."""
    n = name("restart")
    orderr, _ = client.order([n], "late")
    fin = client.finalize(orderr)
    assert fin.body.status.name == "processing"
    time.sleep(2)
    stack.front.restart()
    assert client.get(fin.uri)["status"] == "processing"
    stack.late.start()
    order = client.poll(fin.uri, lambda o: o["status"] != "processing", 120, every=1)
    assert order["status"] == "valid", order
    chain = client.certificate(order["certificate"])
    assert plumbing.cert_info(chain)["names"] == [n]
    assert "leaf.pem: OK" in plumbing.verify(chain, roots(stack, "late"), tmp_path)


def test_revocation_reaches_the_back_end_that_issued(stack, client):
    from cryptography import x509
    issued = {}
    for issuer in ("pebble", "cfssl", "edge"):
        order, _, _ = issue(client, issuer, [name(f"revoke-{issuer}")])
        assert order["status"] == "valid", order
        issued[issuer] = client.certificate(order["certificate"])
        client.revoke(issued[issuer], reason=1)

    serial = {k: plumbing.cert_info(v)["serial"] for k, v in issued.items()}

    def pebble_revoked():
        return stack.pebble.cert_status(format(serial["pebble"], "x")) == "Revoked"

    def cfssl_revoked():
        return stack.cfssl.status(str(serial["cfssl"])) == "revoked"

    def edge_revoked():
        r = requests.get(stack.upstream.base_url + "/acme/crl/local", verify=stack.upstream.ca_bundle, timeout=10)
        crl = x509.load_der_x509_crl(r.content)
        return crl.get_revoked_certificate_by_serial_number(serial["edge"]) is not None

    for what, check in [("pebble", pebble_revoked), ("cfssl", cfssl_revoked), ("edge", edge_revoked)]:
        plumbing.wait_until(f"revocation at {what}", check, 30, every=0.5)
