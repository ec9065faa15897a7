"""Regenerates the independent-implementation vectors used by jose's tests.

Run with any Python that has `cryptography` (pyca, OpenSSL-backed):
    python3 gen_vectors.py
It writes rsa2048.pk8.der (only if absent) and prints Rust constants to paste.
"""
import base64, hashlib, os
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa, utils

def b64u(b): return base64.urlsafe_b64encode(b).rstrip(b"=").decode()
def unb64u(s): return base64.urlsafe_b64decode(s + "=" * (-len(s) % 4))

if not os.path.exists("rsa2048.pk8.der"):
    k = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    open("rsa2048.pk8.der", "wb").write(k.private_bytes(
        serialization.Encoding.DER, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()))
rsa_key = serialization.load_der_private_key(open("rsa2048.pk8.der", "rb").read(), None)
msg = b"eyJhbGciOiJQUzI1NiJ9.ZWRnZS1hY21l"
pss = rsa_key.sign(msg, padding.PSS(padding.MGF1(hashes.SHA256()), 32), hashes.SHA256())
print(f'const PY_PS256_INPUT: &[u8] = b"{msg.decode()}";')
print(f'const PY_PS256_SIG: &str = "{b64u(pss)}";')
rs = rsa_key.sign(msg, padding.PKCS1v15(), hashes.SHA256())
print(f'const PY_RS256_SIG: &str = "{b64u(rs)}";')
pn = rsa_key.public_key().public_numbers()
print(f'const PY_RSA_N: &str = "{b64u(pn.n.to_bytes(256, "big"))}";')

# P-384: a fixed private scalar, an ES384 signature (randomized k) converted to r || s.
d = int.from_bytes(hashlib.sha384(b"edge-acme P-384 test key").digest(), "big") % (2**383)
ek = ec.derive_private_key(d, ec.SECP384R1())
der = ek.sign(msg, ec.ECDSA(hashes.SHA384()))
r, s = utils.decode_dss_signature(der)
nums = ek.public_key().public_numbers()
print(f'const PY_P384_X: &str = "{b64u(nums.x.to_bytes(48, "big"))}";')
print(f'const PY_P384_Y: &str = "{b64u(nums.y.to_bytes(48, "big"))}";')
print(f'const PY_ES384_SIG: &str = "{b64u(r.to_bytes(48, "big") + s.to_bytes(48, "big"))}";')
print(f'const PY_ES384_DER_SIG: &str = "{b64u(der)}";')

# SPKI of the RFC 7515 A.3 P-256 key and the RFC 8037 A.2 Ed25519 key.
x = int.from_bytes(unb64u("f83OJ3D2xF1Bg8vub9tLe1gHMzV76e8Tus9uPHvRVEU"), "big")
y = int.from_bytes(unb64u("x_FEzRu9m36HLN_tue659LNpXW6pCyStikYjKIWI5a0"), "big")
p256 = ec.EllipticCurvePublicNumbers(x, y, ec.SECP256R1()).public_key()
spki = p256.public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)
print(f'const PY_A3_SPKI: &str = "{b64u(spki)}";')
from cryptography.hazmat.primitives.asymmetric import ed25519
edk = ed25519.Ed25519PublicKey.from_public_bytes(unb64u("11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo"))
spki = edk.public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)
print(f'const PY_ED25519_SPKI: &str = "{b64u(spki)}";')

# dns-01 value for a key authorization over the RFC 7638 example key.
ka = "evaGxfADs6pSRb2LAv9IZf17Dt3juxGJ-PCt92wr-oA.NzbLsXh8uDCcd-6MNwXF4W_7noWXFZAfHkxZsRGC9Xs"
print(f'const PY_DNS01: &str = "{b64u(hashlib.sha256(ka.encode()).digest())}";')
