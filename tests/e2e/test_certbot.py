"""certbot end to end: certbot 5.8.0 from PyPI (in .cache/venv) and Debian's certbot.

Each flavour gets its own config directory; the tests of one flavour run in file order
and later ones reuse the account and certificate lineage of earlier ones (or make their
own when an earlier one failed). Trust for the server's TLS: REQUESTS_CA_BUNDLE.
"""

from __future__ import annotations

import base64
import json
import re
import shutil
import sys
from pathlib import Path

import pytest

import harness
from harness import free_port, run, unique, verify_chain

HOOK = harness.HERE / "hooks" / "dns_hook.py"
FLAVOURS = {
    "pypi": Path(sys.executable).parent / "certbot",
    "debian": Path("/usr/bin/certbot"),
}


class Certbot:
    def __init__(self, flavour: str, exe: Path, testsrv, work: Path):
        self.flavour, self.exe, self.testsrv, self.work = flavour, exe, testsrv, work
        self.version = run([str(exe), "--version"]).stdout.strip() or "?"
        self.n = 0
        self.lineage: dict | None = None  # the standalone certificate: name, port

    def __call__(self, *args, server, log: Path, config: str = "main", env: dict | None = None,
                 timeout: float = 180):
        self.n += 1
        logs = self.work / "logs" / f"{self.n:02d}-{args[0]}"
        argv = [str(self.exe), *map(str, args), "--server", server.directory,
                "--config-dir", str(self.work / config), "--work-dir", str(self.work / "work"),
                "--logs-dir", str(logs), "--non-interactive"]
        e = {"REQUESTS_CA_BUNDLE": str(server.ca_bundle), "E2E_CONTROL_URL": self.testsrv.control_url}
        r = run(argv, env={**e, **(env or {})}, log=log, timeout=timeout)
        r.logfile = logs / "letsencrypt.log"
        return r

    def live(self, name: str, config: str = "main") -> Path:
        return self.work / config / "live" / name / "fullchain.pem"

    def account_dir(self, server, config: str = "main") -> Path:
        """accounts/<host:port>/<directory path>/<account id>/ for this server."""
        host = server.directory.split("//", 1)[1].split("/", 1)[0]
        mine = [p.parent for p in (self.work / config / "accounts").rglob("regr.json") if f"/{host}/" in str(p)]
        assert len(mine) == 1, f"certbot accounts for {server.directory} under {self.work / config}: {mine}"
        return mine[0]


@pytest.fixture(scope="module", params=list(FLAVOURS))
def certbot(request, testsrv, tmp_path_factory):
    exe = FLAVOURS[request.param]
    if not exe.exists():
        pytest.skip(f"{exe} is not installed (scripts/bootstrap.sh e2e)")
    return Certbot(request.param, exe, testsrv, tmp_path_factory.mktemp(f"certbot-{request.param}"))


def ok(r, what: str):
    assert r.returncode == 0, f"{what} failed (exit {r.returncode}):\n{harness.tail(r.stdout + r.stderr, 60)}"


def standalone(certbot, server, testsrv, log: Path, name: str, config: str = "main", extra=()):
    port = free_port()
    testsrv.proxy(port, [name])
    r = certbot("certonly", "--standalone", "--http-01-port", port, "--http-01-address", "127.0.0.1",
                "-d", name, "--cert-name", name, "--agree-tos", "-m", f"admin@{name}", "--no-eff-email",
                *extra, server=server, log=log, config=config)
    return r, port


def ensure_lineage(certbot, server, testsrv, log: Path) -> dict:
    if certbot.lineage is None:
        name = unique(f"cb-{certbot.flavour}") + ".e2e.test"
        r, port = standalone(certbot, server, testsrv, log, name)
        ok(r, "certonly --standalone")
        certbot.lineage = {"name": name, "port": port}
    testsrv.proxy(certbot.lineage["port"], [certbot.lineage["name"]])
    return certbot.lineage


def test_certonly_standalone_http01(certbot, server, testsrv, client_log):
    name = unique(f"cb-{certbot.flavour}") + ".e2e.test"
    r, port = standalone(certbot, server, testsrv, client_log, name)
    ok(r, f"{certbot.version} certonly --standalone")
    certbot.lineage = {"name": name, "port": port}
    verify_chain(server, certbot.live(name), [name], "ec256")
    # certbot's account key is RSA-2048, so every request above was RS256-signed.
    key = json.loads((certbot.account_dir(server) / "private_key.json").read_text())
    assert key["kty"] == "RSA", key["kty"]
    n = base64.urlsafe_b64decode(key["n"] + "=" * (-len(key["n"]) % 4))
    assert len(n) * 8 == 2048


def test_manual_dns01_name_and_wildcard(certbot, server, testsrv, client_log):
    base = unique(f"cb-dns-{certbot.flavour}") + ".e2e.test"
    names = [base, f"*.{base}"]
    r = certbot("certonly", "--manual", "--preferred-challenges", "dns",
                "--manual-auth-hook", f"{HOOK} certbot-auth", "--manual-cleanup-hook", f"{HOOK} certbot-cleanup",
                "-d", names[0], "-d", names[1], "--cert-name", base,
                "--agree-tos", "-m", f"admin@{base}", "--no-eff-email", server=server, log=client_log)
    ok(r, "certonly --manual dns-01")
    verify_chain(server, certbot.live(base), names, "ec256")
    # Both authorizations share _acme-challenge.<base>: the CA saw two TXT values at once.
    q = f"_acme-challenge.{base}."
    seen = [e for e in testsrv.state()["log"] if e.get("kind") == "dns" and e["name"] == q and e["type"] == "TXT"]
    assert seen, f"the CA never looked up TXT {q}"
    assert max(e["answers"] for e in seen) == 2, f"TXT lookups of {q}: {seen}"
    assert not testsrv.state()["txt"].get(q), "cleanup hook left TXT records behind"


def test_renew_asks_ari(certbot, server, testsrv, client_log):
    if "ari" not in server.features or "renewalInfo" not in server.directory_json():
        pytest.skip(f"{server.kind} does not advertise renewalInfo")
    if certbot.flavour == "debian":
        pytest.skip(f"{certbot.version} predates ARI support (certbot >= 4.1)")
    lin = ensure_lineage(certbot, server, testsrv, client_log)
    ari_base = server.directory_json()["renewalInfo"]
    r = certbot("renew", "--cert-name", lin["name"], "--no-random-sleep-on-renew", server=server, log=client_log)
    ok(r, "renew")
    text = r.logfile.read_text()
    asked = re.findall(r"Sending GET request to (" + re.escape(ari_base) + r"/\S+?)\.?\n", text)
    assert asked, f"certbot's log has no GET {ari_base}/...; see {r.logfile}"
    assert "An error occurred requesting ACME Renewal Information" not in text, \
        f"certbot could not use the ARI response; see {r.logfile}"
    status = re.search(r"Received response:\nHTTP (\d+)", text[text.index(asked[0]):])
    assert status and status.group(1) == "200", f"ARI answered {status and status.group(1)}"
    assert "not yet due for renewal" in r.stdout + r.stderr
    conf = (certbot.work / "main" / "renewal" / f"{lin['name']}.conf").read_text()
    assert "ari_retry_after" in conf, conf
    with open(client_log, "a") as fh:
        fh.write(f"# ARI request from certbot's log: GET {asked[0]}\n")


def test_renew_forced(certbot, server, testsrv, client_log):
    lin = ensure_lineage(certbot, server, testsrv, client_log)
    live = certbot.live(lin["name"])
    before = verify_chain(server, live, [lin["name"]]).serial_number
    r = certbot("renew", "--cert-name", lin["name"], "--force-renewal", "--no-random-sleep-on-renew",
                server=server, log=client_log)
    ok(r, "renew --force-renewal")
    after = verify_chain(server, live, [lin["name"]], "ec256").serial_number
    assert after != before, "renew did not replace the certificate"


def test_revoke(certbot, server, testsrv, client_log):
    lin = ensure_lineage(certbot, server, testsrv, client_log)
    cert = certbot.work / "main" / "live" / lin["name"] / "cert.pem"
    r = certbot("revoke", "--cert-path", cert, "--reason", "keycompromise", "--no-delete-after-revoke",
                server=server, log=client_log)
    ok(r, "revoke")
    again = certbot("revoke", "--cert-path", cert, "--reason", "keycompromise", "--no-delete-after-revoke",
                    server=server, log=client_log)
    assert again.returncode != 0, "a second revocation succeeded"
    problem = "urn:ietf:params:acme:error:alreadyRevoked" in again.logfile.read_text()
    assert problem, f"second revocation failed without alreadyRevoked (RFC 8555 §7.6); see {again.logfile}"
    certbot.lineage = None  # the next test that needs a live certificate makes a new one


def test_show_account(certbot, server, testsrv, client_log):
    ensure_lineage(certbot, server, testsrv, client_log)
    uri = json.loads((certbot.account_dir(server) / "regr.json").read_text())["uri"]
    r = certbot("show_account", server=server, log=client_log)
    ok(r, "show_account")
    out = r.stdout + r.stderr
    assert uri in out, f"show_account does not print the account URL {uri}:\n{out}"
    assert "admin@" in out, out


def test_update_account(certbot, server, testsrv, client_log):
    ensure_lineage(certbot, server, testsrv, client_log)
    email = f"{unique('new')}@e2e.test"
    r = certbot("update_account", "-m", email, "--no-eff-email", server=server, log=client_log)
    ok(r, "update_account")
    shown = certbot("show_account", server=server, log=client_log)
    ok(shown, "show_account")
    assert email in shown.stdout + shown.stderr, "show_account does not show the new email (from the server)"


def test_eab_registration(certbot, eab_server, testsrv, client_log):
    eab = eab_server.new_eab(f"certbot-{certbot.flavour}")
    r = certbot("register", "--agree-tos", "-m", "eab@e2e.test", "--no-eff-email",
                # "=" form: a base64url key may start with "-"
                f"--eab-kid={eab['kid']}", f"--eab-hmac-key={eab['hmac_key']}",
                server=eab_server, log=client_log, config="eab")
    ok(r, "register with EAB")
    name = unique(f"cb-eab-{certbot.flavour}") + ".e2e.test"
    r, _ = standalone(certbot, eab_server, testsrv, client_log, name, config="eab")
    ok(r, "certonly with the EAB-bound account")
    verify_chain(eab_server, certbot.live(name, config="eab"), [name], "ec256")


def test_eab_required_refuses_plain_registration(certbot, eab_server, client_log):
    r = certbot("register", "--agree-tos", "-m", "plain@e2e.test", "--no-eff-email",
                server=eab_server, log=client_log, config="plain")
    assert r.returncode != 0, "registration without EAB succeeded on a server that requires it"
    out = r.stdout + r.stderr + (r.logfile.read_text() if r.logfile.exists() else "")
    problem = re.search(r"externalAccountRequired|external account", out, re.I) is not None
    assert problem, f"registration failed for another reason; see {r.logfile}"


def test_unregister(certbot, server, client_log):
    r = certbot("register", "--agree-tos", "-m", "bye@e2e.test", "--no-eff-email",
                server=server, log=client_log, config="unreg")
    ok(r, "register")
    acct = certbot.account_dir(server, config="unreg")
    key = (acct / "private_key.json").read_text()
    regr = (acct / "regr.json").read_text()
    r = certbot("unregister", server=server, log=client_log, config="unreg")
    ok(r, "unregister")
    # The server agrees: a POST-as-GET with the old account key is refused (RFC 8555 §7.3.6).
    from acme import client as acme_client, messages
    import josepy as jose
    net = acme_client.ClientNetwork(jose.JWK.json_loads(key), account=messages.RegistrationResource.json_loads(regr),
                                    verify_ssl=str(server.ca_bundle), user_agent="edge-acme-e2e")
    cl = acme_client.ClientV2(messages.Directory.from_json(net.get(server.directory).json()), net)
    with pytest.raises(messages.Error) as e:
        cl.query_registration(messages.RegistrationResource.json_loads(regr))
    assert e.value.code == "unauthorized", e.value


def test_tls_untrusted_ca_fails(certbot, server, tmp_path, client_log):
    other = harness.make_tls_ca(tmp_path / "other", "not the edge-acme CA", leaf=False)
    r = certbot("register", "--agree-tos", "-m", "tls@e2e.test", "--no-eff-email",
                server=server, log=client_log, config="tls", env={"REQUESTS_CA_BUNDLE": str(other)})
    assert r.returncode != 0, "certbot registered although it did not trust the server's TLS CA"
    assert re.search(r"certificate verify failed|CERTIFICATE_VERIFY_FAILED", r.stdout + r.stderr), \
        harness.tail(r.stdout + r.stderr)
    shutil.rmtree(tmp_path / "other", ignore_errors=True)
