"""dehydrated (Debian package; a Bash client on curl and openssl) end to end. Trust for the
server's TLS: CURL_OPTS="--cacert …" in its config file. Challenges go through
hooks/dns_hook.py in its dehydrated mode (http-01 answers and TXT records set in
tests/e2e/testsrv.py). dehydrated 0.7 makes an RSA account key, so its requests are RS256.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import josepy as jose
import pytest
from cryptography.hazmat.primitives import serialization as ser

import harness
from harness import debian_version, run, unique, verify_chain
from test_protocol import Raw

HOOK = harness.HERE / "hooks" / "dns_hook.py"
DEHYDRATED = shutil.which("dehydrated") or "/usr/bin/dehydrated"


class Dehydrated:
    """One dehydrated base directory (config, account, certificates) per server."""

    def __init__(self, server, testsrv, base: Path, eab: dict | None = None, email: str = "dehydrated@e2e.test"):
        self.server, self.testsrv, self.base = server, testsrv, base
        (base / "wellknown").mkdir(parents=True, exist_ok=True)
        lines = [
            f'CA="{server.directory}"',
            f'BASEDIR="{base}"',
            f'WELLKNOWN="{base / "wellknown"}"',
            f'HOOK="{HOOK}"',
            f'CURL_OPTS="--cacert {server.ca_bundle}"',
            f'CONTACT_EMAIL="{email}"',
            'RENEW_DAYS="30"',
            'KEYSIZE="2048"',
        ]
        if eab:
            lines += [f'EAB_KID="{eab["kid"]}"', f'EAB_HMAC_KEY="{eab["hmac_key"]}"']
        self.config = base / "config"
        self.config.write_text("\n".join(lines) + "\n")

    def __call__(self, *args: str, log: Path, challenge: str = "http-01", timeout: float = 180):
        env = {"E2E_CONTROL_URL": self.testsrv.control_url, "E2E_HOOK": "dehydrated", "E2E_CHALLENGE": challenge}
        return run([DEHYDRATED, "-f", str(self.config), *args], env=env, log=log, timeout=timeout)

    def register(self, log: Path):
        ok(self("--register", "--accept-terms", log=log), "dehydrated --register")

    def raw(self) -> Raw:
        """test_protocol's hand-made client holding dehydrated's account key."""
        raw = Raw(self.server, "RS256")
        (key_file,) = (self.base / "accounts").glob("*/account_key.pem")
        raw.key = ser.load_pem_private_key(key_file.read_bytes(), password=None)
        raw.jwk = jose.JWK.load(key_file.read_bytes())
        self.raw_dir = raw.dir
        return raw

    def cert_dir(self, name: str) -> Path:
        return self.base / "certs" / name


def ok(r, what: str):
    assert r.returncode == 0, f"{what} (dehydrated {debian_version('dehydrated')}) failed (exit {r.returncode}):\n" \
                              f"{harness.tail(r.stdout + r.stderr, 60)}"


@pytest.fixture(scope="module", autouse=True)
def installed():
    if not Path(DEHYDRATED).exists():
        pytest.fail("dehydrated is not installed (scripts/bootstrap.sh e2e installs it)")


@pytest.mark.parametrize("algo", ["prime256v1", "secp384r1", "rsa"])
def test_http01(server, testsrv, tmp_path, client_log, algo):
    d = Dehydrated(server, testsrv, tmp_path / "d")
    d.register(client_log)
    name = unique(f"dh-{algo}") + ".e2e.test"
    ok(d("--cron", "--algo", algo, "--challenge", "http-01", "-d", name, "-d", f"www.{name}", log=client_log),
       f"dehydrated --cron --algo {algo} (http-01)")
    key_type = {"prime256v1": "p256", "secp384r1": "p384", "rsa": "rsa"}[algo]
    verify_chain(server, d.cert_dir(name) / "fullchain.pem", [name, f"www.{name}"], key_type)


def test_dns01_wildcard_then_revoke_then_deactivate(server, testsrv, tmp_path, client_log):
    d = Dehydrated(server, testsrv, tmp_path / "d")
    d.register(client_log)
    base = unique("dh-dns") + ".e2e.test"
    ok(d("--cron", "--challenge", "dns-01", "-d", base, "-d", f"*.{base}", "--alias", base,
         log=client_log, challenge="dns-01"), "dehydrated --cron dns-01 wildcard")
    cert = (d.cert_dir(base) / "cert.pem").resolve()  # cert.pem links to cert-<time>.pem
    verify_chain(server, d.cert_dir(base) / "fullchain.pem", [base, f"*.{base}"], "p384")

    ok(d("--revoke", str(cert), log=client_log), "dehydrated --revoke")
    # dehydrated renames what it revoked; revoking that file again must be refused.
    again = d("--revoke", f"{cert}-revoked", log=client_log)
    assert again.returncode != 0, "a second revocation succeeded"
    assert "alreadyRevoked" in again.stdout + again.stderr, harness.tail(again.stdout + again.stderr)

    ok(d("--deactivate", log=client_log), "dehydrated --deactivate")
    # dehydrated then refuses to use the account itself; the server must refuse the key too.
    r = d.raw().post(d.raw_dir["newAccount"], {"onlyReturnExisting": True}, use_jwk=True)
    assert r.status_code == 401 and r.json()["type"] == "urn:ietf:params:acme:error:unauthorized", r.text


def test_account_contact_update(server, testsrv, tmp_path, client_log):
    d = Dehydrated(server, testsrv, tmp_path / "d", email="before@e2e.test")
    d.register(client_log)
    d.config.write_text(d.config.read_text().replace("before@e2e.test", "after@e2e.test"))
    ok(d("--account", log=client_log), "dehydrated --account")
    # The server's view, asked with dehydrated's own account key (onlyReturnExisting).
    r = d.raw().post(d.raw_dir["newAccount"], {"onlyReturnExisting": True}, use_jwk=True)
    assert r.status_code == 200, r.text
    assert r.json()["contact"] == ["mailto:after@e2e.test"], r.text


def test_eab(eab_server, testsrv, tmp_path, client_log):
    eab = eab_server.new_eab("dehydrated")
    d = Dehydrated(eab_server, testsrv, tmp_path / "d", eab=eab)
    d.register(client_log)
    name = unique("dh-eab") + ".e2e.test"
    ok(d("--cron", "-d", name, log=client_log), "dehydrated --cron with EAB")
    verify_chain(eab_server, d.cert_dir(name) / "fullchain.pem", [name], "p384")
    got = eab_server.admin("GET", f"/admin/eab/{eab['kid']}").json()
    assert got["accounts"] == 1 and got["macKeyUses"] == 1, got


def test_eab_required_without_binding_fails(eab_server, testsrv, tmp_path, client_log):
    d = Dehydrated(eab_server, testsrv, tmp_path / "d")
    r = d("--register", "--accept-terms", log=client_log)
    assert r.returncode != 0, "registration without EAB succeeded on an EAB-only server"
