"""Caddy (Debian package; its ACME client is acmez/CertMagic, written independently of
lego) end to end: Caddy started with edge-acme as its only CA (`acme_ca`, trusting the
server's TLS through `acme_ca_root`) obtains a certificate for its site by http-01 on
its own HTTP port (tests/e2e/testsrv.py forwards the CA's check there with the site's
name in Host), then serves HTTPS with it. Also with External Account Binding
(`acme_eab`). Caddy never offers anything but what the directory and authorizations
allow, so this also checks that it picks http-01 when tls-alpn-01 is not offered.
"""

from __future__ import annotations

import shutil
import socket
import ssl
from pathlib import Path

import pytest

import harness
from harness import debian_version, free_port, unique, verify_chain

CADDY = shutil.which("caddy") or "/usr/bin/caddy"


@pytest.fixture(scope="module", autouse=True)
def installed():
    if not Path(CADDY).exists():
        pytest.fail("caddy is not installed (scripts/bootstrap.sh e2e installs it)")


def run_caddy(server, testsrv, work: Path, name: str, log: Path, eab: dict | None = None) -> Path:
    """Starts Caddy for `name`, waits for its certificate, checks it serves HTTPS with it,
    stops Caddy and returns the certificate file."""
    http_port, https_port = free_port(), free_port()
    storage = work / "storage"
    eab_block = f"  acme_eab {{\n    key_id {eab['kid']}\n    mac_key {eab['hmac_key']}\n  }}\n" if eab else ""
    caddyfile = work / "Caddyfile"
    caddyfile.write_text(
        "{\n"
        "  admin off\n"
        f"  http_port {http_port}\n"
        f"  https_port {https_port}\n"
        f"  acme_ca {server.directory}\n"
        f"  acme_ca_root {server.ca_bundle}\n"
        "  email caddy@e2e.test\n"
        f"{eab_block}"
        f"  storage file_system {{\n    root {storage}\n  }}\n"
        "}\n"
        f"{name} {{\n  respond \"hello from caddy\"\n}}\n"
    )
    testsrv.proxy(http_port, [name])
    env = {"HOME": str(work), "XDG_DATA_HOME": str(work / "data"), "XDG_CONFIG_HOME": str(work / "config")}
    proc = harness.Proc([CADDY, "run", "--config", str(caddyfile), "--adapter", "caddyfile"], log, env=env, cwd=work)
    try:
        proc.wait_for(r"certificate obtained successfully", timeout=120)
        found = list(storage.glob(f"certificates/*/{name}/{name}.crt"))
        assert len(found) == 1, f"Caddy's certificate files for {name}: {found}"
        # Caddy now serves the site with it (SNI = the name).
        ctx = ssl.create_default_context(cafile=str(server.trust_file()))
        ctx.check_hostname = True
        with socket.create_connection(("127.0.0.1", https_port), timeout=10) as raw:
            with ctx.wrap_socket(raw, server_hostname=name) as tls:
                served = tls.getpeercert()
        sans = [v for k, v in served.get("subjectAltName", ()) if k == "DNS"]
        assert sans == [name], served
        return found[0]
    except Exception as e:
        raise AssertionError(f"{e}\ncaddy {debian_version('caddy')} log:\n{harness.tail(proc.text(), 60)}") from e
    finally:
        proc.stop()
        testsrv.proxy(None)


def test_http01_certificate_then_https(server, testsrv, tmp_path, client_log):
    name = unique("caddy") + ".e2e.test"
    cert = run_caddy(server, testsrv, tmp_path, name, client_log)
    verify_chain(server, cert, [name], "p256")


def test_eab(eab_server, testsrv, tmp_path, client_log):
    eab = eab_server.new_eab("caddy")
    name = unique("caddy-eab") + ".e2e.test"
    cert = run_caddy(eab_server, testsrv, tmp_path, name, client_log, eab=eab)
    verify_chain(eab_server, cert, [name], "p256")
    got = eab_server.admin("GET", f"/admin/eab/{eab['kid']}").json()
    assert got["accounts"] == 1, got
