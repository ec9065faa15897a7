"""Processes and clients for the back-end connector suite (tests/backends).

Everything runs on loopback with fresh ports and temporary state, each child in its
own process group, stopped by process id when the run ends. Logs go to
target/test-logs/backends/.

Back ends:
  Pebble     Debian's pebble with PEBBLE_VA_ALWAYS_VALID=1 (an upstream ACME CA that
             trusts the front end), TLS from a throwaway CA given to workerd through
             NODE_EXTRA_CA_CERTS
  edge-acme  a second scripts/dev.sh instance: an upstream whose account (bound with
             EAB) holds an operator claim, so its orders are ready at once
  CFSSL      Debian's `cfssl serve` with a CA from `cfssl gencert -initca`, an HMAC
             auth key (authsign) and a SQLite certificate database (revocation)
  fake CFSSL fake_cfssl.py: answers every sign with one fixed certificate for other names
"""

from __future__ import annotations

import base64
import json
import os
import secrets
import sqlite3
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import requests

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))
from procs import Proc, free_port, tail  # noqa: E402,F401  (tests/procs.py; re-exported)

ROOT = HERE.parents[1]
LOGS = ROOT / "target" / "test-logs" / "backends"


def log_path(name: str) -> Path:
    LOGS.mkdir(parents=True, exist_ok=True)
    return LOGS / name


def openssl(*args: str, cwd: Path | None = None, input: bytes | None = None) -> bytes:
    r = subprocess.run(["openssl", *args], cwd=cwd, capture_output=True, input=input)
    if r.returncode != 0:
        raise RuntimeError(f"openssl {' '.join(args)}: {r.stderr.decode()}")
    return r.stdout


def wait_until(what: str, ok, timeout: float, proc: Proc | None = None, every: float = 0.2):
    deadline = time.monotonic() + timeout
    while True:
        try:
            v = ok()
            if v:
                return v
        except Exception:  # noqa: BLE001 - not up yet
            pass
        if proc is not None and not proc.alive():
            raise RuntimeError(f"{what}: {proc.argv[0]} exited; log {proc.log}:\n{tail(proc.text())}")
        if time.monotonic() > deadline:
            raise RuntimeError(f"{what}: not ready after {timeout:.0f}s" + (f"; log {proc.log}:\n{tail(proc.text())}" if proc else ""))
        time.sleep(every)


def pem_blocks(text: str) -> list[str]:
    import re
    return re.findall(r"-----BEGIN CERTIFICATE-----.+?-----END CERTIFICATE-----\n?", text, re.S)


# --- TLS and keys ----------------------------------------------------------------------------
def tls_ca(d: Path, cn: str) -> Path:
    """A throwaway CA and a server certificate for 127.0.0.1/localhost. Returns ca.pem."""
    d.mkdir(parents=True, exist_ok=True)
    openssl("req", "-x509", "-new", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes",
            "-keyout", str(d / "ca.key"), "-out", str(d / "ca.pem"), "-days", "30", "-sha256",
            "-subj", f"/CN={cn}", "-addext", "basicConstraints=critical,CA:TRUE",
            "-addext", "keyUsage=critical,keyCertSign,cRLSign")
    (d / "ext.cnf").write_text("basicConstraints = critical, CA:FALSE\nkeyUsage = critical, digitalSignature\n"
                               "extendedKeyUsage = serverAuth\nsubjectAltName = DNS:localhost, IP:127.0.0.1\n")
    openssl("req", "-new", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes",
            "-keyout", str(d / "server.key"), "-out", str(d / "server.csr"), "-subj", "/CN=localhost")
    openssl("x509", "-req", "-in", str(d / "server.csr"), "-CA", str(d / "ca.pem"), "-CAkey", str(d / "ca.key"),
            "-set_serial", "0x" + secrets.token_hex(16), "-days", "30", "-sha256",
            "-extfile", str(d / "ext.cnf"), "-out", str(d / "server.pem"))
    return d / "ca.pem"


def p256_pkcs8_pem() -> str:
    return openssl("genpkey", "-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:P-256").decode()


# --- back ends -------------------------------------------------------------------------------
class Pebble:
    def __init__(self, work: Path, validity_secs: int):
        self.work = work
        self.ca = tls_ca(work / "tls", "pebble backends TLS CA")
        port, mport = free_port(), free_port()
        cfg = {"pebble": {
            "listenAddress": f"127.0.0.1:{port}", "managementListenAddress": f"127.0.0.1:{mport}",
            "certificate": str(work / "tls" / "server.pem"), "privateKey": str(work / "tls" / "server.key"),
            "httpPort": free_port(), "tlsPort": free_port(), "ocspResponderURL": "",
            "externalAccountBindingRequired": False, "certificateValidityPeriod": validity_secs,
        }}
        (work / "pebble.json").write_text(json.dumps(cfg))
        env = {"PEBBLE_VA_ALWAYS_VALID": "1", "PEBBLE_VA_NOSLEEP": "1", "PEBBLE_WFE_NONCEREJECT": "0",
               "PEBBLE_AUTHZREUSE": "0"}
        self.proc = Proc(["pebble", "-config", str(work / "pebble.json")], log_path("pebble.log"), env=env, cwd=work)
        self.directory = f"https://127.0.0.1:{port}/dir"
        self.mgmt = f"https://127.0.0.1:{mport}"
        wait_until("pebble", lambda: requests.get(self.directory, verify=str(self.ca), timeout=2).ok, 30, self.proc)

    def roots(self) -> str:
        return requests.get(self.mgmt + "/roots/0", verify=str(self.ca), timeout=10).text

    def cert_status(self, serial_hex: str) -> str:
        r = requests.get(f"{self.mgmt}/cert-status-by-serial/{serial_hex}", verify=str(self.ca), timeout=10)
        return r.json().get("Status", "") if r.ok else f"HTTP {r.status_code}"

    def stop(self):
        self.proc.stop()


CFSSL_SCHEMA = """
CREATE TABLE certificates (serial_number BLOB NOT NULL, authority_key_identifier BLOB NOT NULL,
  ca_label BLOB, status BLOB NOT NULL, reason INT, expiry TIMESTAMP, revoked_at TIMESTAMP,
  pem BLOB NOT NULL, PRIMARY KEY (serial_number, authority_key_identifier));
CREATE TABLE ocsp_responses (serial_number BLOB NOT NULL, authority_key_identifier BLOB NOT NULL,
  body BLOB NOT NULL, expiry TIMESTAMP, PRIMARY KEY (serial_number, authority_key_identifier));
"""


class Cfssl:
    """`cfssl serve` with its own CA, an auth key for every profile and a certificate DB."""

    def __init__(self, work: Path, port: int | None = None, name: str = "cfssl"):
        self.work = work
        work.mkdir(parents=True, exist_ok=True)
        (work / "csr.json").write_text(json.dumps({
            "CN": f"edge-acme backends test {name} CA", "key": {"algo": "ecdsa", "size": 256},
            "names": [{"O": "edge-acme tests"}]}))
        out = subprocess.run(["cfssl", "gencert", "-initca", str(work / "csr.json")], capture_output=True, check=True)
        init = json.loads(out.stdout)
        (work / "ca.pem").write_text(init["cert"])
        (work / "ca-key.pem").write_text(init["key"])
        self.auth_key = secrets.token_hex(16)
        policy = {"expiry": "2160h", "usages": ["digital signature", "server auth"], "auth_key": "front"}
        (work / "config.json").write_text(json.dumps({
            "signing": {"default": policy, "profiles": {"www": policy}},
            "auth_keys": {"front": {"type": "standard", "key": self.auth_key}}}))
        self.db = work / "certs.db"
        with sqlite3.connect(self.db) as c:
            c.executescript(CFSSL_SCHEMA)
        (work / "db.json").write_text(json.dumps({"driver": "sqlite3", "data_source": str(self.db)}))
        self.port = port or free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.name = name
        self.proc: Proc | None = None

    def start(self):
        w = self.work
        self.proc = Proc(["cfssl", "serve", "-address", "127.0.0.1", "-port", str(self.port), "-ca", str(w / "ca.pem"),
                          "-ca-key", str(w / "ca-key.pem"), "-config", str(w / "config.json"),
                          "-db-config", str(w / "db.json"), "-loglevel", "1"], log_path(f"{self.name}.log"), cwd=w)
        wait_until(self.name, lambda: requests.post(self.url + "/api/v1/cfssl/info", json={}, timeout=2).ok,
                   30, self.proc)
        return self

    def status(self, serial_decimal: str) -> str | None:
        with sqlite3.connect(self.db) as c:
            row = c.execute("SELECT status FROM certificates WHERE serial_number = ?", (serial_decimal,)).fetchone()
        return None if row is None else (row[0].decode() if isinstance(row[0], bytes) else row[0])

    def stop(self):
        if self.proc:
            self.proc.stop()


class FakeCfssl:
    """Answers like CFSSL, but always with a certificate for other.example."""

    def __init__(self, work: Path):
        work.mkdir(parents=True, exist_ok=True)
        openssl("req", "-x509", "-new", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes",
                "-keyout", str(work / "other.key"), "-out", str(work / "other.pem"), "-days", "30", "-subj", "/",
                "-addext", "basicConstraints=critical,CA:FALSE", "-addext", "subjectAltName=DNS:other.example",
                "-addext", "authorityKeyIdentifier=keyid:always")
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.proc = Proc([sys.executable, str(HERE / "fake_cfssl.py"), str(self.port), str(work / "other.pem")],
                         log_path("fake-cfssl.log"))
        wait_until("fake cfssl", lambda: requests.post(self.url + "/api/v1/cfssl/info", json={}, timeout=2).ok,
                   20, self.proc)

    def stop(self):
        self.proc.stop()


class EdgeAcme:
    """scripts/dev.sh on fresh ports; `restart()` keeps its state and port."""

    def __init__(self, name: str, extra_env: dict | None = None, args: list[str] | None = None,
                 skip_build: bool = False, timeout: float = 900):
        self.name = name
        self.work = Path(tempfile.mkdtemp(prefix=f"edge-acme-backends-{name}-"))
        self.port = free_port()
        self.env = {
            "EDGE_ACME_PORT": str(self.port), "EDGE_ACME_INSPECTOR_PORT": str(free_port()),
            "EDGE_ACME_PERSIST_TO": str(self.work / "persist"), "EDGE_ACME_DEV_STATE": str(self.work / "dev-state"),
            "EDGE_ACME_DEV_WATCH": "0", "EDGE_ACME_SKIP_CAA": "true", "EDGE_ACME_READY_TIMEOUT": str(int(timeout)),
            **(extra_env or {}),
        }
        if skip_build:
            self.env["EDGE_ACME_DEV_SKIP_BUILD"] = "1"
        self.args = args or []
        self.timeout = timeout
        self.proc: Proc | None = None
        log_path(f"dev-{name}.log").unlink(missing_ok=True)  # restarts append to it
        self.start()

    def start(self):
        t0 = time.monotonic()
        self.proc = Proc(["bash", str(ROOT / "scripts" / "dev.sh"), *self.args], log_path(f"dev-{self.name}.log"),
                         env=self.env, append=True)
        dev_json = self.work / "dev-state" / "dev.json"
        if dev_json.exists():
            dev_json.unlink()
        wait_until(f"edge-acme {self.name}", lambda: "edge-acme dev: ready" in self.proc.text()[-4000:] and dev_json.exists(),
                   self.timeout, self.proc, every=0.5)
        self.dev = json.loads(dev_json.read_text())
        self.base_url = self.dev["base_url"]
        self.directory = self.dev["directory"]
        self.ca_bundle = self.dev["ca_bundle"]
        self.started_in = time.monotonic() - t0
        # The next start of this instance reuses the build.
        self.env["EDGE_ACME_DEV_SKIP_BUILD"] = "1"

    def restart(self):
        self.proc.stop()
        self.start()

    def admin(self, method: str, path: str, body: dict | None = None) -> dict:
        r = requests.request(method, self.base_url + path, json=body, verify=self.ca_bundle, timeout=30,
                             headers={"Authorization": f"Bearer {self.dev['admin_token']}"})
        if r.status_code >= 300:
            raise RuntimeError(f"{method} {path}: {r.status_code} {r.text}")
        return r.json() if r.content else {}

    def eab_with_claim(self, domain: str) -> dict:
        """A new EAB credential whose tenant holds an operator claim on `domain`."""
        cred = self.admin("POST", "/admin/eab", {"label": f"backends {domain}"})
        self.admin("POST", f"/admin/tenants/{cred['kid']}/claims", {"name": domain})
        return {"kid": cred["kid"], "hmac_key": cred["macKey"]}

    def stop(self):
        if self.proc:
            self.proc.stop()
        import shutil
        shutil.rmtree(self.work, ignore_errors=True)


# --- an ACME client with step-by-step control (the `acme` library from certbot) ----------
class Client:
    def __init__(self, server: EdgeAcme, eab: dict):
        import josepy as jose
        from acme import client, messages
        from cryptography.hazmat.primitives.asymmetric import ec
        self.messages = messages
        key = jose.JWKEC(key=ec.generate_private_key(ec.SECP256R1()))
        self.net = client.ClientNetwork(key, alg=jose.ES256, user_agent="edge-acme-backends-test", verify_ssl=server.ca_bundle)
        directory = client.ClientV2.get_directory(server.directory, self.net)
        self.acme = client.ClientV2(directory, self.net)
        binding = messages.ExternalAccountBinding.from_data(
            account_public_key=key.public_key(), kid=eab["kid"], hmac_key=eab["hmac_key"], directory=directory)
        self.account = self.acme.new_account(messages.NewRegistration.from_data(
            terms_of_service_agreed=True, external_account_binding=binding))

    def order(self, names: list[str], profile: str):
        """newOrder with a fresh key and CSR; returns (order resource, key PEM)."""
        from acme import crypto_util
        key_pem = p256_pkcs8_pem().encode()
        csr = crypto_util.make_csr(key_pem, names)
        return self.acme.new_order(csr, profile=profile), key_pem

    def finalize(self, orderr):
        return self.acme.begin_finalization(orderr)

    def get(self, url: str) -> dict:
        return self.acme._post_as_get(url).json()  # noqa: SLF001 - the library keeps POST-as-GET private

    def poll(self, url: str, until, timeout: float, every: float = 0.25) -> dict:
        deadline = time.monotonic() + timeout
        while True:
            o = self.get(url)
            if until(o) or time.monotonic() > deadline:
                return o
            time.sleep(every)

    def certificate(self, url: str) -> str:
        return self.acme._post_as_get(url).text  # noqa: SLF001

    def revoke(self, cert_pem: str, reason: int = 1):
        from cryptography import x509
        self.acme.revoke(x509.load_pem_x509_certificate(cert_pem.encode()), reason)


def cert_info(pem: str) -> dict:
    from cryptography import x509
    c = x509.load_pem_x509_certificate(pem.encode())
    san = c.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    return {"serial": c.serial_number, "names": sorted(san.get_values_for_type(x509.DNSName)),
            "not_before": c.not_valid_before_utc, "not_after": c.not_valid_after_utc, "cert": c}


def verify(chain_pem: str, roots_pem: str, work: Path) -> str:
    """`openssl verify` of the leaf against `roots_pem`, the rest of the chain untrusted."""
    work.mkdir(parents=True, exist_ok=True)
    blocks = pem_blocks(chain_pem)
    (work / "leaf.pem").write_text(blocks[0])
    (work / "chain.pem").write_text("".join(blocks[1:]) or blocks[0])
    (work / "roots.pem").write_text(roots_pem)
    r = subprocess.run(["openssl", "verify", "-CAfile", str(work / "roots.pem"), "-untrusted", str(work / "chain.pem"),
                        str(work / "leaf.pem")], capture_output=True, text=True)
    return r.stdout + r.stderr


def b64url(b: bytes) -> str:
    return base64.urlsafe_b64encode(b).decode().rstrip("=")
