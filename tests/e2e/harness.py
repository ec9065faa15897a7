"""Process and server plumbing for the end-to-end suite (tests/e2e).

Everything a run starts lives in its own process group on fresh loopback ports with
temporary state, and is stopped (group-wide, by process id) when the run ends, also
on SIGINT/SIGTERM. Logs go to target/test-logs/e2e/.

Servers under test (E2E_SERVER):
  edge-acme (default)  scripts/dev.sh -> wrangler dev --local, HTTPS with a fresh dev CA
  pebble               Debian's pebble, the reference implementation the drivers were
                       debugged against (PEBBLE_VA_NOSLEEP=1, PEBBLE_WFE_NONCEREJECT=0)
"""

from __future__ import annotations

import base64
import json
import os
import re
import secrets
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

import requests

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))
from procs import Proc, free_port, tail  # noqa: E402  (tests/procs.py)

ROOT = HERE.parents[1]
# The checkout whose scripts/dev.sh is started (default: this one). Set E2E_DEV_ROOT to run
# the suite against another checkout, e.g. a `git archive` snapshot of a commit.
DEV_ROOT = Path(os.environ.get("E2E_DEV_ROOT") or ROOT).resolve()
LOGS = ROOT / "target" / "test-logs" / "e2e"
PYTHON = sys.executable


def log_path(name: str) -> Path:
    LOGS.mkdir(parents=True, exist_ok=True)
    return LOGS / name


# --- tests/e2e/testsrv.py -----------------------------------------------------------------
class TestSrv:
    """DNS (UDP/TCP) + DoH + control API + http-01 responder, in a child process."""

    def __init__(self, name: str = "testsrv.log"):
        self.proc = Proc([PYTHON, str(HERE / "testsrv.py")], log_path(name))
        m = self.proc.wait_for(r"(\{\"dns_port\".*\})\n", 30)
        self.info = json.loads(m.group(1))
        self.control_url: str = self.info["control_url"]
        self.doh_url: str = self.info["doh_url"]
        self.dns_addr: str = self.info["dns_addr"]
        self.dns_port: int = self.info["dns_port"]
        self.responder_addr: str = self.info["responder_addr"]
        self.responder_port: int = self.info["responder_port"]

    def post(self, op: str, body: dict) -> dict:
        r = requests.post(f"{self.control_url}/{op}", json=body, timeout=10)
        r.raise_for_status()
        return r.json()

    def state(self) -> dict:
        return requests.get(f"{self.control_url}/state", timeout=10).json()

    def proxy(self, port: int | None, hosts: list[str] = ()) -> None:
        self.post("proxy", {"port": port, "hosts": [h for h in hosts if not h.startswith("*.")]})

    def stop(self) -> None:
        self.proc.stop(5)


# --- TLS material for Pebble and the negative control -------------------------------------
def openssl(*args: str, cwd: Path | None = None) -> str:
    r = subprocess.run(["openssl", *args], cwd=cwd, capture_output=True, text=True)
    if r.returncode != 0:
        raise RuntimeError(f"openssl {' '.join(args)}: {r.stderr}")
    return r.stdout


def make_tls_ca(d: Path, cn: str, leaf: bool = True) -> Path:
    """A throwaway CA (and, with leaf=True, a cert for 127.0.0.1/localhost). Returns ca.pem."""
    d.mkdir(parents=True, exist_ok=True)
    openssl("req", "-x509", "-new", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes",
            "-keyout", str(d / "ca.key"), "-out", str(d / "ca.pem"), "-days", "30", "-sha256",
            "-subj", f"/CN={cn}", "-addext", "basicConstraints=critical,CA:TRUE",
            "-addext", "keyUsage=critical,keyCertSign,cRLSign")
    if leaf:
        (d / "ext.cnf").write_text(
            "basicConstraints = critical, CA:FALSE\nkeyUsage = critical, digitalSignature\n"
            "extendedKeyUsage = serverAuth\nsubjectAltName = DNS:localhost, IP:127.0.0.1\n")
        openssl("req", "-new", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes",
                "-keyout", str(d / "server.key"), "-out", str(d / "server.csr"), "-subj", "/CN=localhost")
        openssl("x509", "-req", "-in", str(d / "server.csr"), "-CA", str(d / "ca.pem"), "-CAkey",
                str(d / "ca.key"), "-set_serial", "0x" + secrets.token_hex(16), "-days", "30",
                "-sha256", "-extfile", str(d / "ext.cnf"), "-out", str(d / "server.pem"))
    return d / "ca.pem"


def pem_blocks(text: str) -> list[str]:
    return re.findall(r"-----BEGIN CERTIFICATE-----.+?-----END CERTIFICATE-----\n?", text, re.S)


def der_to_pem(der: bytes) -> str:
    b = base64.b64encode(der).decode()
    return "-----BEGIN CERTIFICATE-----\n" + "\n".join(b[i:i + 64] for i in range(0, len(b), 64)) + \
        "\n-----END CERTIFICATE-----\n"


# --- servers under test -------------------------------------------------------------------
@dataclass
class Server:
    kind: str                      # "edge-acme" | "pebble"
    directory: str
    ca_bundle: Path                # the server's TLS CA (what clients must trust)
    workdir: Path
    eab_required: bool = False
    # What the server under test is held to beyond what Pebble 2.4 does: "ari", "caa",
    # "admin", "profiles", "retry-after" (on pending/processing resources), "no-store"
    # (Cache-Control on newNonce, RFC 8555 §7.2).
    features: set = field(default_factory=set)
    proc: Proc | None = None
    started_in: float = 0.0

    _trust: Path | None = None

    def get(self, url: str, **kw) -> requests.Response:
        return requests.get(url, verify=str(self.ca_bundle), timeout=30, **kw)

    def directory_json(self) -> dict:
        r = self.get(self.directory)
        r.raise_for_status()
        return r.json()

    def issuer_roots(self) -> list[str]:
        """PEM trust anchors for `openssl verify` of issued certificates."""
        raise NotImplementedError

    def trust_file(self) -> Path:
        if self._trust is None:
            p = self.workdir / "issuer-roots.pem"
            p.write_text("".join(self.issuer_roots()))
            self._trust = p
        return self._trust

    def new_eab(self, label: str) -> dict:
        raise NotImplementedError

    def stop(self) -> bool:
        return self.proc.stop() if self.proc else True


class EdgeAcme(Server):
    dev: dict

    @classmethod
    def start(cls, testsrv: TestSrv, name: str, eab_required: bool = False, skip_build: bool = False,
              timeout: float = 900, http01_port: int | None = None) -> "EdgeAcme":
        """scripts/dev.sh on fresh ports with temporary state. `started_in`: spawn until the
        ready line; `first_directory_s`: spawn until the first 200 from the directory."""
        work = Path(tempfile.mkdtemp(prefix=f"edge-acme-e2e-{name}-"))
        port = free_port()
        env = {
            "EDGE_ACME_PORT": str(port),
            "EDGE_ACME_INSPECTOR_PORT": str(free_port()),
            "EDGE_ACME_PERSIST_TO": str(work / "persist"),
            "EDGE_ACME_DEV_STATE": str(work / "dev-state"),
            "EDGE_ACME_DEV_WATCH": "0",
            "EDGE_ACME_HTTP01_ADDR": f"127.0.0.1:{http01_port or testsrv.responder_port}",
            "EDGE_ACME_DOH_URL": testsrv.doh_url,
            "EDGE_ACME_EAB_REQUIRED": "true" if eab_required else "false",
            "EDGE_ACME_READY_TIMEOUT": str(int(timeout)),
        }
        if skip_build:
            env["EDGE_ACME_DEV_SKIP_BUILD"] = "1"
        t0 = time.monotonic()
        proc = Proc(["bash", str(DEV_ROOT / "scripts" / "dev.sh")], log_path(f"dev-{name}.log"), env=env,
                    cwd=DEV_ROOT)
        ca, directory, first_dir = work / "dev-state" / "tls" / "ca.pem", f"https://127.0.0.1:{port}/directory", None
        rx = re.compile(r"edge-acme dev: ready base_url=(\S+) ca_bundle=(\S+)")
        marks = {"wrangler_launch": "edge-acme dev: state ", "wrangler_ready": "Ready on https://"}
        seen: dict[str, float] = {}
        try:
            deadline = time.monotonic() + timeout
            while True:
                text = proc.text()
                for k, needle in marks.items():
                    if k not in seen and needle in text:
                        seen[k] = time.monotonic() - t0
                if first_dir is None and ca.exists():
                    try:
                        if requests.get(directory, verify=str(ca), timeout=2).status_code == 200:
                            first_dir = time.monotonic() - t0
                    except (requests.RequestException, OSError):
                        pass
                m = rx.search(text)
                if m and first_dir is not None:
                    break
                if not proc.alive():
                    raise RuntimeError(f"dev.sh exited ({proc.p.returncode}) before ready; log {proc.log}:\n"
                                       f"{tail(proc.text())}")
                if time.monotonic() > deadline:
                    raise RuntimeError(f"dev.sh not ready (or no directory) after {timeout:.0f}s; log {proc.log}:\n"
                                       f"{tail(proc.text())}")
                time.sleep(0.05)
            dev_json = work / "dev-state" / "dev.json"
            deadline = time.monotonic() + 30
            while not dev_json.exists() and time.monotonic() < deadline:
                time.sleep(0.1)
            if not dev_json.exists():
                raise RuntimeError(f"dev.sh is ready but wrote no {dev_json}")
            dev = json.loads(dev_json.read_text())
        except BaseException:
            proc.stop()
            shutil.rmtree(work, ignore_errors=True)
            raise
        srv = cls(kind="edge-acme", directory=dev["directory"], ca_bundle=Path(dev["ca_bundle"]), workdir=work,
                  eab_required=eab_required, features={"ari", "caa", "admin", "profiles", "retry-after", "no-store"},
                  proc=proc, started_in=time.monotonic() - t0)
        srv.dev = dev
        srv.first_directory_s = first_dir
        srv.milestones = {**seen, "first_directory": first_dir}  # seconds after spawning dev.sh
        srv.base_url = dev["base_url"]
        srv.ready_line = m.group(0)
        return srv

    def admin(self, method: str, path: str, body: dict | None = None) -> requests.Response:
        return requests.request(method, self.base_url + path, json=body, verify=str(self.ca_bundle),
                                headers={"Authorization": f"Bearer {self.dev['admin_token']}"}, timeout=30)

    def new_eab(self, label: str) -> dict:
        r = self.admin("POST", "/admin/eab", {"label": label})
        if r.status_code != 201:
            raise RuntimeError(f"POST /admin/eab: {r.status_code} {r.text}")
        j = r.json()
        return {"kid": j["kid"], "hmac_key": j["macKey"]}

    def issuer_roots(self) -> list[str]:
        """dev.json's `acme_root` (the development ACME root). The issuing certificate that
        GET /acme/issuer/local serves must chain to it; it is not a trust anchor itself."""
        root = pem_blocks(Path(self.dev["acme_root"]).read_text())
        r = self.get(self.base_url + "/acme/issuer/local")
        r.raise_for_status()
        body = r.content
        issuer = pem_blocks(body.decode()) if body.startswith(b"-----BEGIN") else [der_to_pem(body)]
        (self.workdir / "acme-root.pem").write_text("".join(root))
        (self.workdir / "issuer-local.pem").write_text("".join(issuer))
        v = subprocess.run(["openssl", "verify", "-CAfile", str(self.workdir / "acme-root.pem"),
                            str(self.workdir / "issuer-local.pem")], capture_output=True, text=True)
        if v.returncode != 0:
            raise AssertionError(f"/acme/issuer/local does not chain to acme_root: {v.stdout}{v.stderr}")
        return root

    def stop(self) -> bool:
        clean = super().stop()
        shutil.rmtree(self.workdir, ignore_errors=True)
        return clean


class Pebble(Server):
    mgmt: str
    eab_keys: list

    @classmethod
    def start(cls, testsrv: TestSrv, name: str, eab_required: bool = False, timeout: float = 60,
              http01_port: int | None = None) -> "Pebble":
        work = Path(tempfile.mkdtemp(prefix=f"pebble-e2e-{name}-"))
        ca = make_tls_ca(work / "tls", "pebble e2e TLS CA")
        port, mport = free_port(), free_port()
        # Every key starts with "-" (valid base64url): clients must pass it so that their
        # option parser does not take it for an option (certbot's argparse would).
        keys = [(f"kid-{i}", "-" + base64.urlsafe_b64encode(secrets.token_bytes(33)).decode()[1:])
                for i in range(40)]
        cfg = {"pebble": {
            "listenAddress": f"127.0.0.1:{port}",
            "managementListenAddress": f"127.0.0.1:{mport}",
            "certificate": str(work / "tls" / "server.pem"),
            "privateKey": str(work / "tls" / "server.key"),
            "httpPort": http01_port or testsrv.responder_port,
            "tlsPort": free_port(),
            "ocspResponderURL": "",
            "externalAccountBindingRequired": eab_required,
            "externalAccountMACKeys": dict(keys),
        }}
        (work / "pebble.json").write_text(json.dumps(cfg, indent=2))
        env = {"PEBBLE_VA_NOSLEEP": "1", "PEBBLE_WFE_NONCEREJECT": "0", "PEBBLE_AUTHZREUSE": "0"}
        t0 = time.monotonic()
        proc = Proc(["pebble", "-config", str(work / "pebble.json"), "-dnsserver", testsrv.dns_addr],
                    log_path(f"pebble-{name}.log"), env=env, cwd=work)
        directory = f"https://127.0.0.1:{port}/dir"
        deadline = time.monotonic() + timeout
        while True:
            try:
                if requests.get(directory, verify=str(ca), timeout=2).ok:
                    break
            except requests.RequestException:
                pass
            if not proc.alive() or time.monotonic() > deadline:
                proc.stop()
                shutil.rmtree(work, ignore_errors=True)
                raise RuntimeError(f"pebble did not start; log {proc.log}:\n{tail(proc.text())}")
            time.sleep(0.05)
        srv = cls(kind="pebble", directory=directory, ca_bundle=ca, workdir=work, eab_required=eab_required,
                  features=set(), proc=proc, started_in=time.monotonic() - t0)
        srv.mgmt = f"https://127.0.0.1:{mport}"
        srv.first_directory_s = srv.started_in
        srv.eab_keys = keys
        return srv

    def new_eab(self, label: str) -> dict:
        kid, key = self.eab_keys.pop(0)
        return {"kid": kid, "hmac_key": key}

    def issuer_roots(self) -> list[str]:
        r = self.get(self.mgmt + "/roots/0")
        r.raise_for_status()
        return pem_blocks(r.text)

    def stop(self) -> bool:
        clean = super().stop()
        shutil.rmtree(self.workdir, ignore_errors=True)
        return clean


def start_server(kind: str, testsrv: TestSrv, name: str, eab_required: bool = False, **kw) -> Server:
    if kind == "pebble":
        kw.pop("skip_build", None)
        return Pebble.start(testsrv, name, eab_required=eab_required, **kw)
    if kind == "edge-acme":
        return EdgeAcme.start(testsrv, name, eab_required=eab_required, **kw)
    raise ValueError(f"E2E_SERVER must be edge-acme or pebble, not {kind!r}")


# --- certificate checks -------------------------------------------------------------------
def verify_chain(server: Server, chain_pem: Path, names: list[str], key_type: str | None = None):
    """`openssl verify` of the leaf against the server's issuing root, with the rest of the
    served chain as untrusted intermediates; then SANs (exactly `names`) and key type."""
    from cryptography import x509
    from cryptography.hazmat.primitives.asymmetric import ec, rsa

    blocks = pem_blocks(chain_pem.read_text())
    assert blocks, f"{chain_pem}: no certificate"
    leaf = chain_pem.with_suffix(".leaf.pem")
    leaf.write_text(blocks[0])
    args = ["verify", "-CAfile", str(server.trust_file()), "-purpose", "sslserver"]
    if len(blocks) > 1:
        rest = chain_pem.with_suffix(".chain.pem")
        rest.write_text("".join(blocks[1:]))
        args += ["-untrusted", str(rest)]
    r = subprocess.run(["openssl", *args, str(leaf)], capture_output=True, text=True)
    assert r.returncode == 0 and ": OK" in r.stdout, \
        f"openssl verify failed for {chain_pem}:\n{r.stdout}{r.stderr}\nchain has {len(blocks)} certs"
    cert = x509.load_pem_x509_certificate(blocks[0].encode())
    san = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    got = sorted(n.lower() for n in san.get_values_for_type(x509.DNSName))
    assert got == sorted(n.lower() for n in names), f"SANs {got} != requested {sorted(names)}"
    pub = cert.public_key()
    if key_type:
        want = {"rsa2048": (rsa.RSAPublicKey, 2048), "rsa": (rsa.RSAPublicKey, 2048),
                "ec256": (ec.EllipticCurvePublicKey, 256), "p256": (ec.EllipticCurvePublicKey, 256),
                "ec384": (ec.EllipticCurvePublicKey, 384), "p384": (ec.EllipticCurvePublicKey, 384)}[key_type]
        assert isinstance(pub, want[0]) and pub.key_size == want[1], \
            f"certificate key {type(pub).__name__}/{pub.key_size}, wanted {key_type}"
    return cert


def run(argv: list[str], env: dict | None = None, timeout: float = 180, log: Path | None = None,
        cwd: Path | None = None) -> subprocess.CompletedProcess:
    """Run a client command; its output goes to `log` (appended) and is returned."""
    t0 = time.monotonic()
    r = subprocess.run(argv, env={**os.environ, **(env or {})}, capture_output=True, text=True,
                       timeout=timeout, cwd=cwd, stdin=subprocess.DEVNULL)
    if log:
        with open(log, "a") as fh:
            fh.write(f"$ {' '.join(argv)}\n# exit {r.returncode} in {time.monotonic() - t0:.1f}s\n")
            fh.write(r.stdout)
            fh.write(r.stderr)
            fh.write("\n")
    return r


def debian_version(package: str) -> str:
    """The installed version of a Debian package ("?" when dpkg does not know it)."""
    r = subprocess.run(["dpkg-query", "-W", "-f", "${Version}", package], capture_output=True, text=True)
    return r.stdout.strip() or "?"


def unique(prefix: str) -> str:
    return f"{prefix}-{secrets.token_hex(3)}"
