"""lego (Debian package) end to end. Trust for the server's TLS: LEGO_CA_CERTIFICATES.

lego's account key has the type of --key-type, so the three http-01 cases also cover
ES256, RS256 and ES384 request signatures. Its built-in http-01 server only answers
requests whose Host header starts with the name; tests/e2e/testsrv.py forwards the
CA's request with that Host (see its docstring).
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

import harness
from harness import debian_version, free_port, run, unique, verify_chain

HOOK = harness.HERE / "hooks" / "dns_hook.py"
LEGO = shutil.which("lego") or "/usr/bin/lego"


class Lego:
    def __init__(self, testsrv, work: Path):
        self.testsrv, self.work = testsrv, work
        self.issued: dict[str, dict] = {}  # key type -> {"name", "email", "path"}

    def __call__(self, *args, server, log: Path, path: Path, email: str, env: dict | None = None,
                 timeout: float = 180):
        argv = [LEGO, "--server", server.directory, "--path", str(path), "--email", email, "--accept-tos",
                *map(str, args)]
        e = {"LEGO_CA_CERTIFICATES": str(server.ca_bundle), "E2E_CONTROL_URL": self.testsrv.control_url}
        return run(argv, env={**e, **(env or {})}, log=log, timeout=timeout)

    def http(self, name: str) -> list[str]:
        port = free_port()
        self.testsrv.proxy(port, [name])
        return ["--http", "--http.port", f"127.0.0.1:{port}"]


@pytest.fixture(scope="module")
def lego(testsrv, tmp_path_factory):
    if not Path(LEGO).exists():
        pytest.skip("lego is not installed (scripts/bootstrap.sh e2e)")
    return Lego(testsrv, tmp_path_factory.mktemp("lego"))


def ok(r, what: str):
    assert r.returncode == 0, f"{what} failed (exit {r.returncode}):\n{harness.tail(r.stdout + r.stderr, 60)}"


def cert_file(path: Path, name: str) -> Path:
    return path / "certificates" / (name.replace("*", "_") + ".crt")


def account_json(path: Path, email: str) -> Path:
    found = list((path / "accounts").glob(f"*/{email}/account.json"))
    assert len(found) == 1, f"lego account files for {email}: {found}"
    return found[0]


def issue_http(lego, server, log, key_type: str) -> dict:
    name = unique(f"lego-{key_type}") + ".e2e.test"
    email = f"{key_type}@e2e.test"
    path = lego.work / f"http-{key_type}"
    r = lego("--key-type", key_type, *lego.http(name), "-d", name, "run",
             server=server, log=log, path=path, email=email)
    ok(r, f"lego {debian_version('lego')} run --http --key-type {key_type}")
    lego.issued[key_type] = {"name": name, "email": email, "path": path}
    return lego.issued[key_type]


@pytest.mark.parametrize("key_type", ["ec256", "rsa2048", "ec384"])
def test_http01(lego, server, client_log, key_type):
    got = issue_http(lego, server, client_log, key_type)
    verify_chain(server, cert_file(got["path"], got["name"]), [got["name"]], key_type)
    acct = json.loads(account_json(got["path"], got["email"]).read_text())
    assert acct["registration"]["body"]["status"] == "valid", acct


def test_dns01_exec_wildcard(lego, server, testsrv, client_log):
    base = unique("lego-dns") + ".e2e.test"
    names = [base, f"*.{base}"]
    path = lego.work / "dns"
    # The exec provider solves one authorization at a time, EXEC_SEQUENCE_INTERVAL (60 s by
    # default) apart; so the CA sees one TXT value at a time here, unlike certbot.
    env = {"EXEC_PATH": str(HOOK), "EXEC_POLLING_INTERVAL": "1", "EXEC_PROPAGATION_TIMEOUT": "30",
           "EXEC_SEQUENCE_INTERVAL": "1"}
    r = lego("--dns", "exec", "--dns.resolvers", testsrv.dns_addr, "--dns.disable-cp",
             "-d", names[0], "-d", names[1], "run", server=server, log=client_log, path=path,
             email="dns@e2e.test", env=env)
    ok(r, "lego run --dns exec")
    verify_chain(server, cert_file(path, base), names, "ec256")
    q = f"_acme-challenge.{base}."
    seen = [e for e in testsrv.state()["log"] if e.get("kind") == "dns" and e["name"] == q and e["type"] == "TXT"]
    assert seen and min(e["answers"] for e in seen) >= 1, f"TXT lookups of {q}: {seen}"
    assert not testsrv.state()["txt"].get(q), "cleanup left TXT records behind"


def test_eab(lego, eab_server, client_log):
    eab = eab_server.new_eab("lego")
    name = unique("lego-eab") + ".e2e.test"
    path = lego.work / "eab"
    # "=" form: a base64url key may start with "-"
    r = lego("--eab", f"--kid={eab['kid']}", f"--hmac={eab['hmac_key']}", *lego.http(name), "-d", name, "run",
             server=eab_server, log=client_log, path=path, email="eab@e2e.test")
    ok(r, "lego --eab run")
    verify_chain(eab_server, cert_file(path, name), [name], "ec256")


def test_account_lookup_after_deleting_registration(lego, server, client_log):
    got = lego.issued.get("ec256") or issue_http(lego, server, client_log, "ec256")
    acct_file = account_json(got["path"], got["email"])
    uri = json.loads(acct_file.read_text())["registration"]["uri"]
    acct_file.unlink()  # keep the key: lego must find the same account by it (newAccount -> 200)
    name = unique("lego-lookup") + ".e2e.test"
    r = lego(*lego.http(name), "-d", name, "run", server=server, log=client_log, path=got["path"],
             email=got["email"])
    ok(r, "lego run with a known key and no stored registration")
    again = json.loads(account_json(got["path"], got["email"]).read_text())["registration"]["uri"]
    assert again == uri, f"the key now names {again}, before {uri}"
    verify_chain(server, cert_file(got["path"], name), [name], "ec256")


def test_renew(lego, server, client_log):
    got = lego.issued.get("rsa2048") or issue_http(lego, server, client_log, "rsa2048")
    crt = cert_file(got["path"], got["name"])
    before = verify_chain(server, crt, [got["name"]]).serial_number
    r = lego("--key-type", "rsa2048", *lego.http(got["name"]), "-d", got["name"], "renew", "--days", "100000",
             "--no-random-sleep", server=server, log=client_log, path=got["path"], email=got["email"])
    ok(r, "lego renew")
    after = verify_chain(server, crt, [got["name"]], "rsa2048").serial_number
    assert after != before, "renew kept the old certificate"


def test_revoke(lego, server, client_log):
    got = lego.issued.get("ec384") or issue_http(lego, server, client_log, "ec384")
    args = ("--key-type", "ec384", "-d", got["name"], "revoke", "--keep", "--reason", "1")
    r = lego(*args, server=server, log=client_log, path=got["path"], email=got["email"])
    ok(r, "lego revoke")
    again = lego(*args, server=server, log=client_log, path=got["path"], email=got["email"])
    assert again.returncode != 0, "a second revocation succeeded"
    assert "alreadyRevoked" in again.stdout + again.stderr, harness.tail(again.stdout + again.stderr)


def test_tls_untrusted_ca_fails(lego, server, tmp_path, client_log):
    other = harness.make_tls_ca(tmp_path / "other", "not the edge-acme CA", leaf=False)
    name = unique("lego-tls") + ".e2e.test"
    r = lego(*lego.http(name), "-d", name, "run", server=server, log=client_log, path=tmp_path / "lego",
             email="tls@e2e.test", env={"LEGO_CA_CERTIFICATES": str(other)})
    assert r.returncode != 0, "lego ran although it did not trust the server's TLS CA"
    assert "certificate signed by unknown authority" in r.stdout + r.stderr, harness.tail(r.stdout + r.stderr)
