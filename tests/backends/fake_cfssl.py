"""A stand-in for a CFSSL signer that misbehaves: every sign or authsign request gets
the same certificate, issued for other.example, whatever names were asked for; info
returns that certificate too. Usage: fake_cfssl.py PORT CERT.pem"""

import json
import sys
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

PORT, CERT = int(sys.argv[1]), open(sys.argv[2]).read()


class Handler(BaseHTTPRequestHandler):
    def do_POST(self):  # noqa: N802 - http.server's naming
        self.rfile.read(int(self.headers.get("Content-Length") or 0))
        body = json.dumps({"success": True, "result": {"certificate": CERT}, "errors": [], "messages": []}).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)
        print(f"answered {self.path} with the certificate for other.example", flush=True)

    def log_message(self, *args):
        pass


ThreadingHTTPServer(("127.0.0.1", PORT), Handler).serve_forever()
