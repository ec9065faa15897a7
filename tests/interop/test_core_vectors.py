"""josepy and acme (the libraries behind certbot) verify JWS and EAB objects signed by core/.

The objects come from `cargo run -p edge-acme-core --example emit_vectors`; scripts/test.sh
writes them and passes the file in EDGE_ACME_CORE_VECTORS.
"""

import json
import os

import josepy as jose
import pytest
from acme import jws as acme_jws

with open(os.environ["EDGE_ACME_CORE_VECTORS"], encoding="utf-8") as f:
    VECTORS = json.load(f)

# josepy has no OKP (Ed25519) keys; npm jose covers EdDSA in verify_core.test.mjs.
JOSEPY_ALGS = {"RS256", "ES256", "ES384", "ES512"}
JWS = [v for v in VECTORS["jws"] if v["alg"] in JOSEPY_ALGS]
EAB = VECTORS["eab"]


def b64(data: bytes) -> str:
    return jose.b64.b64encode(data).decode()


def by_name(vectors):
    return pytest.mark.parametrize("v", vectors, ids=[v["name"] for v in vectors])


def test_core_emits_every_algorithm_josepy_knows():
    assert {v["alg"] for v in JWS} == JOSEPY_ALGS
    assert {v["alg"] for v in EAB} >= {"HS256"}


@by_name(JWS)
def test_josepy_verifies_core_jws(v):
    signed = acme_jws.JWS.from_json(v["jws"])
    jwk = jose.JWK.from_json(v["jwk"])
    assert signed.verify(jwk)
    header = signed.signature.combined
    assert header.alg.name == v["alg"]
    assert header.url == v["url"]
    assert b64(header.nonce) == v["nonce"]
    if v["kid"] is None:
        assert header.jwk == jwk and header.kid is None
    else:
        assert header.kid == v["kid"] and header.jwk is None
    expected = b"" if v["payload"] is None else v["payload"]
    assert (signed.payload if expected == b"" else json.loads(signed.payload)) == expected


@by_name(JWS)
def test_josepy_rejects_core_jws_with_changed_payload(v):
    obj = dict(v["jws"], payload=b64(b'{"status":"deactivated"}'))
    assert not acme_jws.JWS.from_json(obj).verify(jose.JWK.from_json(v["jwk"]))


@by_name(JWS)
def test_josepy_thumbprint_equals_core(v):
    assert b64(jose.JWK.from_json(v["jwk"]).thumbprint()) == v["thumbprint"]


@by_name(EAB)
def test_acme_verifies_core_eab(v):
    binding = acme_jws.JWS.from_json(v["binding"])
    mac_key = jose.JWKOct(key=jose.b64.b64decode(v["mac_key"]))
    assert binding.verify(mac_key)
    header = binding.signature.combined
    assert header.alg.name == v["alg"]
    assert header.kid == v["kid"]
    assert header.url == v["url"]
    assert header.nonce is None and header.jwk is None
    assert jose.JWK.from_json(json.loads(binding.payload)) == jose.JWK.from_json(v["account_jwk"])


@by_name(EAB)
def test_acme_rejects_core_eab_with_other_mac_key(v):
    binding = acme_jws.JWS.from_json(v["binding"])
    assert not binding.verify(jose.JWKOct(key=b"\x00" * 32))
