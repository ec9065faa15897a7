#!/usr/bin/env python3
"""Challenge hook for the end-to-end clients: sets TXT records and http-01 answers in tests/e2e/testsrv.py
through its control API (E2E_CONTROL_URL). Standard library only.

certbot:  --manual-auth-hook "dns_hook.py certbot-auth"
          --manual-cleanup-hook "dns_hook.py certbot-cleanup"
          (reads CERTBOT_DOMAIN and CERTBOT_VALIDATION)
lego:     EXEC_PATH=dns_hook.py  ->  dns_hook.py present|cleanup FQDN VALUE
dehydrated: HOOK=dns_hook.py -> dns_hook.py deploy_challenge|clean_challenge DOMAIN TOKEN VALUE
          (E2E_CHALLENGE=http-01: VALUE is the key authorization served for TOKEN;
          dns-01: the TXT value for _acme-challenge.DOMAIN); its other hook calls
          (deploy_cert, startup_hook, ...) are accepted and ignored.
"""
import json
import os
import sys
import urllib.request


def call(op: str, host: str, value: str, body: dict | None = None) -> None:
    url = os.environ["E2E_CONTROL_URL"].rstrip("/") + "/" + op
    body = json.dumps(body or {"host": host, "value": value}).encode()
    req = urllib.request.Request(url, data=body, headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(req, timeout=10) as r:
        print(f"dns_hook {op} {host} -> {r.read().decode()}", file=sys.stderr)


def main() -> int:
    mode = sys.argv[1] if len(sys.argv) > 1 else ""
    if mode in ("certbot-auth", "certbot-cleanup"):
        host = "_acme-challenge." + os.environ["CERTBOT_DOMAIN"].rstrip(".") + "."
        call("add-txt" if mode == "certbot-auth" else "clear-txt", host, os.environ["CERTBOT_VALIDATION"])
        return 0
    if mode in ("present", "cleanup") and len(sys.argv) == 4:
        call("add-txt" if mode == "present" else "clear-txt", sys.argv[2], sys.argv[3])
        return 0
    if os.environ.get("E2E_HOOK") == "dehydrated":
        if mode in ("deploy_challenge", "clean_challenge") and len(sys.argv) == 5:
            domain, token, value = sys.argv[2:5]
            deploy = mode == "deploy_challenge"
            if os.environ.get("E2E_CHALLENGE") == "http-01":
                call("http01" if deploy else "http01-clear", domain, value,
                     {"token": token, "content": value} if deploy else {"token": token})
            else:
                call("add-txt" if deploy else "clear-txt", f"_acme-challenge.{domain}.", value)
        return 0
    print(f"usage: {sys.argv[0]} certbot-auth|certbot-cleanup|present FQDN VALUE|cleanup FQDN VALUE",
          file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main())
