#!/bin/sh
# Regenerates the CSR fixtures of core/src/ca (csr.rs tests) with the openssl CLI.
# The private keys are thrown away: the tests only need the requests and their public keys.
# Usage: sh core/src/ca/testdata/make.sh   (from anywhere; writes next to this script)
set -eu
cd "$(dirname "$0")"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

key() { # key NAME ALGORITHM [OPTIONS...]
  name=$1; alg=$2; shift 2
  opts=""
  for o in "$@"; do opts="$opts -pkeyopt $o"; done
  # shellcheck disable=SC2086
  openssl genpkey -algorithm "$alg" $opts -out "$tmp/$name.key" 2>/dev/null
}

csr() { # csr OUT KEY SUBJECT SAN [EXTRA req OPTIONS...]
  out=$1; k=$2; subj=$3; san=$4; shift 4
  if [ -n "$san" ]; then
    openssl req -new -key "$tmp/$k.key" -subj "$subj" -addext "subjectAltName=$san" "$@" -outform DER -out "$out"
  else
    openssl req -new -key "$tmp/$k.key" -subj "$subj" "$@" -outform DER -out "$out"
  fi
}

key rsa2048 RSA rsa_keygen_bits:2048
key rsa1024 RSA rsa_keygen_bits:1024
key rsa2048e3 RSA rsa_keygen_bits:2048 rsa_keygen_pubexp:3
key p256 EC ec_paramgen_curve:P-256
key p384 EC ec_paramgen_curve:P-384
key p521 EC ec_paramgen_curve:P-521
key ed25519 ED25519

# Accepted requests.
csr rsa2048-sha256.der rsa2048 "/CN=Example.COM" \
  "DNS:example.com,DNS:www.Example.com,IP:192.0.2.1,IP:2001:DB8:0:0:0:0:0:1" -sha256
csr p256-sha256.der p256 "/CN=p256.example" "DNS:p256.example,DNS:Alt.P256.example" -sha256
csr p384-sha384.der p384 "/CN=p384.example" "DNS:p384.example,IP:10.0.0.1" -sha384
csr p256-sha512.der p256 "/" "DNS:p256.example" -sha512
csr rsa2048-cn-only.der rsa2048 "/O=Example/CN=cn-only.example" "" -sha256
csr ed25519.der ed25519 "/CN=ed25519.example" "DNS:ed25519.example"

# Rejected requests.
csr rsa2048-sha1.der rsa2048 "/CN=sha1.example" "DNS:sha1.example" -sha1
csr rsa2048-md5.der rsa2048 "/CN=md5.example" "DNS:md5.example" -md5
csr p256-sha1.der p256 "/CN=sha1.example" "DNS:sha1.example" -sha1
csr rsa2048-pss.der rsa2048 "/CN=pss.example" "DNS:pss.example" -sha256 -sigopt rsa_padding_mode:pss
csr rsa1024-sha256.der rsa1024 "/CN=small.example" "DNS:small.example" -sha256
csr rsa2048-e3.der rsa2048e3 "/CN=e3.example" "DNS:e3.example" -sha256
csr p521-sha512.der p521 "/CN=p521.example" "DNS:p521.example" -sha512
csr rsa2048-email-san.der rsa2048 "/CN=mail.example" "DNS:mail.example,email:user@mail.example" -sha256
