"""Writes JWS and EAB objects signed by josepy and acme (the libraries behind certbot).

core/tests/interop.rs verifies every object in the file this writes, so a change in
either implementation that breaks interoperability fails the Rust test suite.

Usage: python gen_vectors.py OUT.json
"""

import json
import os
import sys

import josepy as jose
from acme import jws as acme_jws
from acme import messages
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from importlib.metadata import version

NEW_ACCOUNT_URL = "https://acme.test/acme/new-account"
ORDER_URL = "https://acme.test/acme/new-order"
ACCOUNT_KID = "https://acme.test/acme/acct/7Yn2"

# alg name -> (josepy algorithm, key factory)
SIGNERS = {
    "RS256": (jose.RS256, lambda: jose.JWKRSA(key=rsa.generate_private_key(65537, 2048))),
    "ES256": (jose.ES256, lambda: jose.JWKEC(key=ec.generate_private_key(ec.SECP256R1()))),
    "ES384": (jose.ES384, lambda: jose.JWKEC(key=ec.generate_private_key(ec.SECP384R1()))),
    "ES512": (jose.ES512, lambda: jose.JWKEC(key=ec.generate_private_key(ec.SECP521R1()))),
}


def b64(data: bytes) -> str:
    return jose.b64.b64encode(data).decode()


def thumbprint(jwk: jose.JWK) -> str:
    # josepy hashes the RFC 7638 required members with SHA-256 and returns raw bytes.
    return b64(jwk.thumbprint())


def jws_vector(name, alg_name, alg, key, payload, kid=None):
    nonce = os.urandom(16)
    signed = acme_jws.JWS.sign(payload, key=key, alg=alg, nonce=nonce, url=ORDER_URL, kid=kid)
    public = key.public_key()
    return {
        "name": name,
        "alg": alg_name,
        "jws": signed.to_partial_json(flat=True),
        "jwk": public.to_partial_json(),
        "thumbprint": thumbprint(public),
        "url": ORDER_URL,
        "nonce": b64(nonce),
        "kid": kid,
        "payload": json.loads(payload) if payload else None,
    }


def main(out_path: str) -> None:
    payload = json.dumps({"identifiers": [{"type": "dns", "value": "www.example.org"}]}).encode()
    vectors = []
    keys = {}
    for alg_name, (alg, make_key) in SIGNERS.items():
        key = make_key()
        keys[alg_name] = key
        vectors.append(jws_vector(f"josepy-{alg_name}-jwk", alg_name, alg, key, payload))
        vectors.append(jws_vector(f"josepy-{alg_name}-kid", alg_name, alg, key, payload, ACCOUNT_KID))
    # POST-as-GET: the payload is the empty string (RFC 8555 §6.3).
    vectors.append(jws_vector("josepy-ES256-post-as-get", "ES256", jose.ES256, keys["ES256"], b"", ACCOUNT_KID))

    directory = messages.Directory({"newAccount": NEW_ACCOUNT_URL})
    bindings = []
    for hmac_alg, size in (("HS256", 32), ("HS384", 48), ("HS512", 64)):
        for acct_alg in ("ES256", "RS256"):
            account_jwk = keys[acct_alg].public_key()
            mac_key = b64(os.urandom(size))
            kid = f"kid-{hmac_alg.lower()}-{acct_alg.lower()}"
            binding = messages.ExternalAccountBinding.from_data(
                account_jwk, kid, mac_key, directory, hmac_alg=hmac_alg)
            bindings.append({
                "name": f"acme-{hmac_alg}-{acct_alg}",
                "alg": hmac_alg,
                "binding": binding,
                "account_jwk": account_jwk.to_partial_json(),
                "mac_key": mac_key,
                "kid": kid,
                "url": NEW_ACCOUNT_URL,
            })

    doc = {
        "generator": f"josepy {version('josepy')}, acme {version('acme')}",
        "jws": vectors,
        "eab": bindings,
    }
    with open(out_path, "w", encoding="utf-8") as f:
        json.dump(doc, f, indent=1, sort_keys=True)
        f.write("\n")
    print(f"gen_vectors.py: {len(vectors)} JWS, {len(bindings)} EAB -> {out_path}")


if __name__ == "__main__":
    main(sys.argv[1])
