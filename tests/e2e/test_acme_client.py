"""npm acme-client (pinned in tests/e2e/package.json) end to end, one Node process per
scenario (tests/e2e/acme_client.mjs). Trust for the server's TLS: NODE_EXTRA_CA_CERTS.
http-01 tokens and dns-01 TXT records go to tests/e2e/testsrv.py's control API."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

import harness
from harness import run, unique, verify_chain

SCRIPT = harness.HERE / "acme_client.mjs"
PKG = harness.HERE / "node_modules" / "acme-client" / "package.json"
NODE = shutil.which("node") or "node"


@pytest.fixture(scope="module", autouse=True)
def installed():
    if not PKG.exists():
        pytest.skip("tests/e2e/node_modules is missing (scripts/bootstrap.sh e2e)")


def acme_client(scenario: str, server, testsrv, tmp_path: Path, log: Path, env: dict | None = None, **cfg):
    out = tmp_path / scenario
    conf = {"directory": server.directory, "control_url": testsrv.control_url, "outdir": str(out), **cfg}
    cpath = tmp_path / f"{scenario}.json"
    cpath.write_text(json.dumps(conf))
    e = {"NODE_EXTRA_CA_CERTS": str(server.ca_bundle), **(env or {})}
    r = run([NODE, str(SCRIPT), scenario, str(cpath)], env=e, log=log, timeout=180)
    lines = [ln for ln in r.stdout.splitlines() if ln.startswith("{")]
    result = json.loads(lines[-1]) if lines else {"ok": False, "error": "no result line"}
    result["_exit"] = r.returncode
    result["_output"] = harness.tail(r.stdout + r.stderr, 40)
    return result


def ok(res: dict, what: str) -> dict:
    assert res.get("ok") and res["_exit"] == 0, f"{what}: {res.get('error')} ({res.get('type')})\n{res['_output']}"
    return res


@pytest.mark.parametrize("account_key", ["rsa", "p256", "p384"])
def test_http01(server, testsrv, tmp_path, client_log, account_key):
    name = unique(f"ac-{account_key}") + ".e2e.test"
    res = ok(acme_client("issue", server, testsrv, tmp_path, client_log, names=[name],
                         account_key=account_key, cert_key=account_key, challenge="http-01"),
             f"acme-client {account_key} account, http-01")
    assert res["account_status"] == "valid"
    verify_chain(server, Path(res["cert_path"]), [name], account_key)


def test_dns01_wildcard(server, testsrv, tmp_path, client_log):
    base = unique("ac-dns") + ".e2e.test"
    names = [base, f"*.{base}"]
    res = ok(acme_client("issue", server, testsrv, tmp_path, client_log, names=names, account_key="p256",
                         challenge="dns-01"), "acme-client dns-01 wildcard")
    verify_chain(server, Path(res["cert_path"]), names, "p256")
    q = f"_acme-challenge.{base}."
    seen = [e for e in testsrv.state()["log"] if e.get("kind") == "dns" and e["name"] == q and e["type"] == "TXT"]
    assert seen, f"the CA never looked up TXT {q}"


def test_eab(eab_server, testsrv, tmp_path, client_log):
    eab = eab_server.new_eab("acme-client")
    name = unique("ac-eab") + ".e2e.test"
    res = ok(acme_client("issue", eab_server, testsrv, tmp_path, client_log, names=[name], account_key="p256",
                         eab=eab), "acme-client with EAB")
    verify_chain(eab_server, Path(res["cert_path"]), [name], "p256")


def test_key_change_and_only_return_existing(server, testsrv, tmp_path, client_log):
    name = unique("ac-keychange") + ".e2e.test"
    res = ok(acme_client("keychange", server, testsrv, tmp_path, client_log, names=[name], account_key="p256",
                         new_account_key="p384"), "updateAccountKey")
    assert res["lookup_url"] == res["account_url"], res
    assert res["old_key"]["type"] == "urn:ietf:params:acme:error:accountDoesNotExist", res["old_key"]
    assert res["order_status"] in ("pending", "ready"), res


def test_revoke(server, testsrv, tmp_path, client_log):
    name = unique("ac-revoke") + ".e2e.test"
    res = ok(acme_client("revoke", server, testsrv, tmp_path, client_log, names=[name], account_key="p256"),
             "revokeCertificate")
    verify_chain(server, Path(res["cert_path"]), [name])
    assert res["second"]["type"] == "urn:ietf:params:acme:error:alreadyRevoked", res["second"]


def test_deactivate(server, testsrv, tmp_path, client_log):
    name = unique("ac-deact") + ".e2e.test"
    res = ok(acme_client("deactivate", server, testsrv, tmp_path, client_log, names=[name], account_key="rsa"),
             "account deactivation")
    assert res["status"] == "deactivated", res
    assert res["after"]["type"] == "urn:ietf:params:acme:error:unauthorized", res["after"]


def test_tls_untrusted_ca_fails(server, testsrv, tmp_path, client_log):
    other = harness.make_tls_ca(tmp_path / "other", "not the edge-acme CA", leaf=False)
    res = acme_client("connect", server, testsrv, tmp_path, client_log, env={"NODE_EXTRA_CA_CERTS": str(other)})
    assert not res["ok"] and res["_exit"] != 0, "acme-client connected although it did not trust the server's TLS CA"
    tls_codes = {"SELF_SIGNED_CERT_IN_CHAIN", "UNABLE_TO_VERIFY_LEAF_SIGNATURE", "DEPTH_ZERO_SELF_SIGNED_CERT",
                 "UNABLE_TO_GET_ISSUER_CERT_LOCALLY", "UNABLE_TO_GET_ISSUER_CERT"}
    assert res.get("code") in tls_codes, res
