"""Raw RFC 8555 details the real clients depend on (issue 6, "Conformance details"),
checked directly with hand-made JWS requests, plus what no client here exercises: ES512
account keys and CAA (RFC 8659) answers served over DoH.

Every response must carry a fresh Replay-Nonce; every error must be application/problem+json.
"""

from __future__ import annotations

import base64
import json
import time

import josepy as jose
import pytest
import requests
from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives import serialization as ser
from cryptography.hazmat.primitives.asymmetric import ec, rsa

from harness import unique, verify_chain

ALGS = {
    "RS256": (lambda: rsa.generate_private_key(65537, 2048), jose.RS256),
    "ES256": (lambda: ec.generate_private_key(ec.SECP256R1()), jose.ES256),
    "ES384": (lambda: ec.generate_private_key(ec.SECP384R1()), jose.ES384),
    "ES512": (lambda: ec.generate_private_key(ec.SECP521R1()), jose.ES512),
}
PROBLEM = "application/problem+json"
# Findings that come from the test set-up, not from the profile: names under e2e.test and
# URLs on 127.0.0.1 are "internal" to the CA/Browser Forum.
ENVIRONMENT_LINTS = {"cabf.internal_domain_name"}
ERR = "urn:ietf:params:acme:error:"


def b64u(b: bytes) -> str:
    return base64.urlsafe_b64encode(b).rstrip(b"=").decode()


def session(server) -> requests.Session:
    s = requests.Session()
    s.trust_env = False  # REQUESTS_CA_BUNDLE in the environment would replace `verify`
    s.verify = str(server.ca_bundle)
    return s


class Raw:
    """A minimal ACME client: one account key, JWS by hand, every response checked."""

    def __init__(self, server, alg: str = "ES256"):
        make, self.alg = ALGS[alg]
        self.key = make()
        pem = self.key.private_bytes(ser.Encoding.PEM, ser.PrivateFormat.PKCS8, ser.NoEncryption())
        self.jwk = jose.JWK.load(pem)
        self.s = session(server)
        self.dir = self.s.get(server.directory, timeout=30).json()
        self.kid: str | None = None
        self.nonce: str | None = None
        self.seen: set[str] = set()

    def thumbprint(self) -> str:
        return b64u(self.jwk.public_key().thumbprint())  # SHA-256, RFC 7638

    def check(self, r: requests.Response) -> requests.Response:
        n = r.headers.get("Replay-Nonce")
        assert n, f"{r.request.method} {r.url} -> {r.status_code} without Replay-Nonce (RFC 8555 §6.5)"
        assert n not in self.seen, f"nonce {n} handed out twice"
        self.seen.add(n)
        self.nonce = n
        if r.status_code >= 400:
            ctype = r.headers.get("Content-Type", "").split(";")[0].strip()
            assert ctype == PROBLEM, f"{r.url} -> {r.status_code}, Content-Type {ctype!r} (RFC 8555 §6.7)"
        return r

    def new_nonce(self) -> str:
        return self.check(self.s.head(self.dir["newNonce"], timeout=30)).headers["Replay-Nonce"]

    def post(self, url: str, payload, use_jwk: bool = False, nonce: str | None = None) -> requests.Response:
        if nonce is None:
            nonce = self.nonce or self.new_nonce()
        self.nonce = None
        prot = {"alg": self.alg.name, "nonce": nonce, "url": url}
        if self.kid and not use_jwk:
            prot["kid"] = self.kid
        else:
            prot["jwk"] = self.jwk.public_key().to_partial_json()
        p = b64u(json.dumps(prot).encode())
        pl = "" if payload is None else b64u(json.dumps(payload).encode())
        sig = self.alg.sign(self.key, f"{p}.{pl}".encode())
        body = json.dumps({"protected": p, "payload": pl, "signature": b64u(sig)})
        r = self.s.post(url, data=body, headers={"Content-Type": "application/jose+json"}, timeout=60)
        return self.check(r)

    def register(self) -> requests.Response:
        r = self.post(self.dir["newAccount"], {"termsOfServiceAgreed": True}, use_jwk=True)
        assert r.status_code == 201, r.text
        self.kid = r.headers["Location"]
        return r

    def poll(self, url: str, until: set[str], timeout: float = 30) -> requests.Response:
        deadline = time.monotonic() + timeout
        while True:
            r = self.post(url, None)
            assert r.status_code == 200, r.text
            if r.json()["status"] in until:
                return r
            assert time.monotonic() < deadline, f"{url} still {r.json()['status']} after {timeout}s"
            time.sleep(0.2)

    def order(self, names: list[str]) -> tuple[str, dict]:
        r = self.post(self.dir["newOrder"], {"identifiers": [{"type": "dns", "value": n} for n in names]})
        assert r.status_code == 201, r.text
        assert r.headers.get("Location"), "newOrder without Location (RFC 8555 §7.4)"
        return r.headers["Location"], r.json()


def csr_for(names: list[str]) -> tuple[bytes, ec.EllipticCurvePrivateKey]:
    key = ec.generate_private_key(ec.SECP256R1())
    csr = (x509.CertificateSigningRequestBuilder().subject_name(x509.Name([]))
           .add_extension(x509.SubjectAlternativeName([x509.DNSName(n) for n in names]), critical=False)
           .sign(key, hashes.SHA256()))
    return csr.public_bytes(ser.Encoding.DER), key


def validate_http01(c: Raw, testsrv, authz_url: str) -> requests.Response:
    """Answer the authorization's http-01 challenge through the responder; returns the
    response to the challenge POST."""
    authz = c.post(authz_url, None).json()
    ch = next(x for x in authz["challenges"] if x["type"] == "http-01")
    testsrv.post("http01", {"token": ch["token"], "content": f"{ch['token']}.{c.thumbprint()}"})
    return c.post(ch["url"], {})


# --- tests ------------------------------------------------------------------------------------
def test_new_nonce_by_head_and_get(server):
    s = session(server)
    url = s.get(server.directory, timeout=30).json()["newNonce"]
    head = s.head(url, timeout=30)
    get = s.get(url, timeout=30)
    assert head.status_code == 200 and head.headers.get("Replay-Nonce"), (head.status_code, dict(head.headers))
    assert get.status_code == 204 and get.headers.get("Replay-Nonce"), (get.status_code, dict(get.headers))
    assert head.headers["Replay-Nonce"] != get.headers["Replay-Nonce"]
    if "no-store" in server.features:  # Pebble 2.4 sends "public, max-age=0, no-cache"
        assert "no-store" in head.headers.get("Cache-Control", ""), "RFC 8555 §7.2: Cache-Control: no-store"


@pytest.mark.parametrize("alg", list(ALGS))
def test_account_key_types(server, alg):
    c = Raw(server, alg)
    first = c.register()
    assert first.json()["status"] == "valid"
    again = c.post(c.dir["newAccount"], {"termsOfServiceAgreed": True}, use_jwk=True)
    assert again.status_code == 200, again.text
    assert again.headers.get("Location") == c.kid, "existing account: same Location (RFC 8555 §7.3.1)"
    # kid-signed request with this algorithm: POST-as-GET the account.
    acct = c.post(c.kid, None)
    assert acct.status_code == 200 and acct.json()["status"] == "valid", acct.text


def test_only_return_existing_unknown_key(server):
    c = Raw(server, "ES256")
    r = c.post(c.dir["newAccount"], {"onlyReturnExisting": True}, use_jwk=True)
    assert r.status_code == 400 and r.json()["type"] == ERR + "accountDoesNotExist", r.text


def test_bad_nonce_is_a_problem_with_a_fresh_nonce(server):
    c = Raw(server, "ES256")
    c.register()
    r = c.post(c.dir["newOrder"], {"identifiers": [{"type": "dns", "value": "x.e2e.test"}]},
               nonce=b64u(b"not-a-nonce-from-this-server"))
    assert r.status_code == 400 and r.json()["type"] == ERR + "badNonce", r.text
    # ... and the nonce that came with the error works.
    ok = c.post(c.kid, None)
    assert ok.status_code == 200, ok.text


def test_get_on_a_resource_is_refused(server):
    """RFC 8555 §6.3: resources other than the directory and newNonce need POST-as-GET."""
    c = Raw(server, "ES256")
    c.register()
    order_url, _ = c.order([unique("get") + ".e2e.test"])
    r = c.s.get(order_url, timeout=30)
    assert r.status_code == 405, (r.status_code, r.text)


def test_full_issuance_headers(server, testsrv, tmp_path):
    """newOrder Location, Retry-After while pending/processing, pem-certificate-chain."""
    name = unique("raw") + ".e2e.test"
    c = Raw(server, "ES256")
    c.register()
    order_url, order = c.order([name])
    assert order["status"] == "pending"
    authz_url = order["authorizations"][0]
    pending = c.post(authz_url, None)
    assert pending.json()["status"] == "pending"
    resp = validate_http01(c, testsrv, authz_url)
    assert resp.status_code == 200, resp.text
    retry_after = "retry-after" in server.features  # Pebble 2.4 sends none
    if retry_after and resp.json()["status"] in ("pending", "processing"):
        assert resp.headers.get("Retry-After"), "challenge still processing without Retry-After"
    c.poll(authz_url, {"valid"})
    der, _ = csr_for([name])
    fin = c.post(order["finalize"], {"csr": b64u(der)})
    assert fin.status_code == 200, fin.text
    if retry_after and fin.json()["status"] == "processing":
        assert fin.headers.get("Retry-After"), "processing order without Retry-After (RFC 8555 §7.4)"
    done = c.poll(order_url, {"valid"})
    cert = c.post(done.json()["certificate"], None)
    assert cert.status_code == 200
    assert cert.headers["Content-Type"].split(";")[0] == "application/pem-certificate-chain"
    p = tmp_path / "chain.pem"
    p.write_text(cert.text)
    verify_chain(server, p, [name], "p256")


@pytest.mark.parametrize("profile", ["classic", "shortlived"])
def test_issued_certificate_passes_pkilint(server, testsrv, tmp_path, profile):
    """The certificate profile bar of the design: pkilint's CA/Browser Forum TLS server
    lints (`lint_cabf_serverauth_cert lint -d`), zero errors and zero warnings, for each
    profile the directory advertises (RFC 9702-style `profile` in newOrder)."""
    if "profiles" not in server.features:
        pytest.skip(f"{server.kind} has no profiles")
    import shutil
    import subprocess
    lint = shutil.which("lint_cabf_serverauth_cert")
    if not lint:
        pytest.skip("pkilint is not installed (scripts/requirements.txt)")
    name = unique(f"lint-{profile}") + ".e2e.test"
    c = Raw(server, "ES256")
    assert profile in c.dir.get("meta", {}).get("profiles", {}), c.dir.get("meta")
    c.register()
    r = c.post(c.dir["newOrder"], {"identifiers": [{"type": "dns", "value": name}], "profile": profile})
    assert r.status_code == 201, r.text
    order_url, order = r.headers["Location"], r.json()
    validate_http01(c, testsrv, order["authorizations"][0])
    c.poll(order["authorizations"][0], {"valid"})
    der, _ = csr_for([name])
    assert c.post(order["finalize"], {"csr": b64u(der)}).status_code == 200
    cert = c.post(c.poll(order_url, {"valid"}).json()["certificate"], None).text
    leaf = tmp_path / "leaf.pem"
    leaf.write_text(cert.split("-----END CERTIFICATE-----")[0] + "-----END CERTIFICATE-----\n")
    out = subprocess.run([lint, "lint", "-d", "-s", "WARNING", str(leaf)], capture_output=True, text=True)
    # "Validator @ path" lines, each followed by indented "code (SEVERITY): detail" lines.
    findings, where = [], ""
    for line in (out.stdout + out.stderr).splitlines():
        if not line.strip():
            continue
        if not line.startswith(" "):
            where = line.strip()
            continue
        code = line.strip().split(" ", 1)[0]
        if code in ENVIRONMENT_LINTS:
            continue
        findings.append(f"{line.strip()}   [{where}]")
    assert not findings, f"pkilint findings for the {profile} profile:\n" + "\n".join(findings)


def test_pending_authorization_has_retry_after_while_validating(server, testsrv):
    """A pending authorization polled after its challenge was answered carries Retry-After
    (RFC 8555 §7.5.1); the servers answer fast, so only a response that is still pending
    is checked."""
    if "retry-after" not in server.features:
        pytest.skip(f"{server.kind} sends no Retry-After")
    c = Raw(server, "ES256")
    c.register()
    _, order = c.order([unique("ra") + ".e2e.test"])
    authz_url = order["authorizations"][0]
    validate_http01(c, testsrv, authz_url)
    r = c.post(authz_url, None)
    if r.json()["status"] == "pending":
        assert r.headers.get("Retry-After"), "pending authorization without Retry-After"


@pytest.fixture
def caa_server(server):
    if "caa" not in server.features:
        pytest.skip(f"{server.kind} does not check CAA")
    return server


def caa_order(c: Raw, testsrv, name: str) -> dict:
    """Order + http-01 for `name`; returns the final authorization or order document."""
    order_url, order = c.order([name])
    authz_url = order["authorizations"][0]
    validate_http01(c, testsrv, authz_url)
    authz = c.poll(authz_url, {"valid", "invalid"}).json()
    if authz["status"] == "invalid":
        return {"where": "authorization", **authz}
    der, _ = csr_for([name])
    fin = c.post(order["finalize"], {"csr": b64u(der)})
    if fin.status_code >= 400:
        return {"where": "finalize", "status": "invalid", "error": fin.json()}
    return {"where": "order", **c.poll(order_url, {"valid", "invalid"}).json()}


def test_caa_forbids_other_ca(caa_server, testsrv):
    name = unique("caa-no") + ".e2e.test"
    testsrv.post("set-caa", {"host": name, "records": [[0, "issue", "other-ca.example"]]})
    c = Raw(caa_server, "ES256")
    c.register()
    res = caa_order(c, testsrv, name)
    assert res["status"] == "invalid", f"issued despite CAA 0 issue \"other-ca.example\": {res}"
    text = json.dumps(res)
    assert ERR + "caa" in text, f"refused, but not with a caa problem: {res}"
    seen = [e for e in testsrv.state()["log"] if e.get("kind") == "dns" and e["type"] == "CAA"
            and e["name"] == name + "." and e["transport"].startswith("doh")]
    assert seen, "the CA did not ask the DoH server for CAA"


def test_caa_permits_our_identity(caa_server, testsrv):
    c = Raw(caa_server, "ES256")
    ids = c.dir.get("meta", {}).get("caaIdentities") or []
    assert ids, "directory meta has no caaIdentities"
    parent = unique("caa-yes") + ".e2e.test"
    name = f"www.{parent}"
    # On the parent: the tree climb (RFC 8659 §3) must find it.
    testsrv.post("set-caa", {"host": parent, "records": [[0, "issue", ids[0]], [0, "issuewild", ";"]]})
    c.register()
    res = caa_order(c, testsrv, name)
    assert res["status"] == "valid", f"refused although CAA names {ids[0]}: {res}"
