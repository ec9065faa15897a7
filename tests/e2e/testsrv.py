#!/usr/bin/env python3
"""Local stand-ins for the Internet during the end-to-end tests and the benchmark.

One process, four listeners on fresh loopback ports (port 0 unless given):

* DNS over UDP and TCP (same port number): what Pebble's ``-dnsserver`` and lego's
  ``--dns.resolvers`` query.
* HTTP (the "control" port): DNS over HTTPS wire format per RFC 8484 at ``/dns-query``
  (POST ``application/dns-message``, or GET ``?dns=<base64url>``) -- what edge-acme's
  ``EDGE_ACME_DOH_URL`` points at -- plus a small JSON control API.
* The http-01 responder: ``GET /.well-known/acme-challenge/<token>``. This is the address
  edge-acme's ``EDGE_ACME_HTTP01_ADDR`` points at, and Pebble's ``httpPort``.

Zone data: every name has A 127.0.0.1 (no AAAA, so Pebble's VA dials IPv4 loopback);
TXT and CAA records exist only as set through the control API; everything else is an
empty NOERROR answer.

The responder answers tokens registered through the control API. For any other token
it forwards the request to an upstream port (``POST /proxy``): that is how a client's
own standalone http-01 server (certbot --standalone, lego --http) is reached while this
responder keeps the one address the CA validates against. edge-acme's Worker cannot set
the Host header on a loopback fetch, so its requests arrive with ``Host: 127.0.0.1:PORT``;
the proxy then sends the name the client is waiting for in Host (it tries each name
given in ``hosts`` until one answers 200), as a CA reaching that name on port 80 would.
Requests that already carry a real name (Pebble's) are forwarded unchanged.

Control API (JSON bodies, on the control port):
  POST /add-txt   {"host": "_acme-challenge.a.test.", "value": "..."}   append a TXT value
  POST /set-txt   {"host": ..., "value": "..."}                           replace all values
  POST /clear-txt {"host": ..., "value": "..."}   remove one value (all without "value")
  POST /set-caa   {"host": "a.test.", "records": [[0, "issue", "ca.example"], ...]}
  POST /clear-caa {"host": ...}
  POST /http01    {"token": "...", "content": "..."}   responder serves this token
  POST /http01-clear {"token": "..."}                  (all tokens without "token")
  POST /proxy     {"port": 40123, "hosts": ["a.test", ...]}  ({"port": null}: off)
  GET  /state     records, tokens and the log of queries and validation requests
  POST /reset     forget records, tokens, proxy and the log

Run: ``python testsrv.py [--dns-port N] [--control-port N] [--responder-port N]``. Once
every port is bound it prints one JSON line to stdout:
``{"dns_port": .., "control_port": .., "responder_port": .., "control_url": ..,
"doh_url": .., "responder_addr": ..}`` and serves until SIGTERM/SIGINT.
"""

from __future__ import annotations

import argparse
import base64
import http.client
import json
import signal
import socket
import socketserver
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import dns.flags
import dns.message
import dns.rcode
import dns.rdata
import dns.rdataclass
import dns.rdatatype
import dns.rrset

TTL = 0  # nothing may cache a record the tests change a second later
LOG_LIMIT = 20000


def norm(name: str) -> str:
    name = name.strip().lower()
    return name if name.endswith(".") else name + "."


class State:
    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.reset()

    def reset(self) -> None:
        with self.lock:
            self.txt: dict[str, list[str]] = {}
            self.caa: dict[str, list[tuple[int, str, str]]] = {}
            self.tokens: dict[str, str] = {}
            self.proxy_port: int | None = None
            self.proxy_hosts: list[str] = []
            self.log: list[dict] = []

    def record(self, **entry) -> None:
        entry["t"] = round(time.time(), 3)
        with self.lock:
            self.log.append(entry)
            if len(self.log) > LOG_LIMIT:
                del self.log[: LOG_LIMIT // 10]

    def snapshot(self) -> dict:
        with self.lock:
            return {
                "txt": {k: list(v) for k, v in self.txt.items()},
                "caa": {k: [list(r) for r in v] for k, v in self.caa.items()},
                "tokens": dict(self.tokens),
                "proxy": {"port": self.proxy_port, "hosts": list(self.proxy_hosts)},
                "log": list(self.log),
            }


STATE = State()


# --- DNS ----------------------------------------------------------------------------------
def answer(wire: bytes, transport: str) -> bytes:
    try:
        query = dns.message.from_wire(wire)
    except Exception:  # malformed: FORMERR with the id, if there is one
        if len(wire) < 2:
            return b""
        return wire[:2] + bytes([0x81, 0x01]) + b"\x00" * 8
    resp = dns.message.make_response(query, recursion_available=True)
    resp.flags |= dns.flags.AA
    resp.set_rcode(dns.rcode.NOERROR)
    for q in query.question:
        name = q.name.to_text().lower()
        qtype = dns.rdatatype.to_text(q.rdtype)
        texts: list[str] = []
        if q.rdtype == dns.rdatatype.A:
            texts = ["127.0.0.1"]
        elif q.rdtype == dns.rdatatype.TXT:
            with STATE.lock:
                values = list(STATE.txt.get(name, []))
            texts = [txt_rdata(v) for v in values]
        elif q.rdtype == dns.rdatatype.CAA:
            with STATE.lock:
                recs = list(STATE.caa.get(name, []))
            texts = [f'{flags} {tag} "{value}"' for flags, tag, value in recs]
        if texts:
            rrset = dns.rrset.from_text_list(q.name, TTL, dns.rdataclass.IN, q.rdtype, texts)
            resp.answer.append(rrset)
        STATE.record(kind="dns", transport=transport, name=name, type=qtype, answers=len(texts))
    return resp.to_wire()


def txt_rdata(value: str) -> str:
    # One character-string per 255 bytes; quotes and backslashes escaped.
    esc = value.replace("\\", "\\\\").replace('"', '\\"')
    return " ".join(f'"{esc[i:i + 255]}"' for i in range(0, len(esc), 255)) or '""'


class DnsUdpHandler(socketserver.BaseRequestHandler):
    def handle(self) -> None:
        data, sock = self.request
        out = answer(data, "udp")
        if out:
            sock.sendto(out, self.client_address)


class DnsTcpHandler(socketserver.BaseRequestHandler):
    def handle(self) -> None:
        conn = self.request
        conn.settimeout(10)
        try:
            while True:
                head = recv_exact(conn, 2)
                if not head:
                    return
                data = recv_exact(conn, int.from_bytes(head, "big"))
                if data is None:
                    return
                out = answer(data, "tcp")
                conn.sendall(len(out).to_bytes(2, "big") + out)
        except OSError:
            return


def recv_exact(conn: socket.socket, n: int) -> bytes | None:
    buf = b""
    while len(buf) < n:
        chunk = conn.recv(n - len(buf))
        if not chunk:
            return None
        buf += chunk
    return buf


class UdpServer(socketserver.ThreadingUDPServer):
    daemon_threads = True
    allow_reuse_address = False


class TcpServer(socketserver.ThreadingTCPServer):
    daemon_threads = True
    allow_reuse_address = True


# --- HTTP: DoH + control -----------------------------------------------------------------
class Quiet(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, fmt, *args):  # noqa: D401 - silence the default stderr log
        pass

    def send(self, status: int, body: bytes, ctype: str = "application/json") -> None:
        self.send_response(status)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(body)))
        self.send_header("Cache-Control", "no-store")
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    def json(self, status: int, obj) -> None:
        self.send(status, json.dumps(obj).encode())

    def body(self) -> bytes:
        n = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(n) if n else b""


class ControlHandler(Quiet):
    def do_GET(self) -> None:
        path, _, query = self.path.partition("?")
        if path == "/dns-query":
            params = dict(p.partition("=")[::2] for p in query.split("&") if p)
            try:
                wire = base64.urlsafe_b64decode(params["dns"] + "=" * (-len(params["dns"]) % 4))
            except Exception:
                return self.json(400, {"error": "missing or bad ?dns="})
            return self.send(200, answer(wire, "doh-get"), "application/dns-message")
        if path == "/state":
            return self.json(200, STATE.snapshot())
        if path == "/health":
            return self.json(200, {"ok": True})
        self.json(404, {"error": "not found"})

    def do_POST(self) -> None:
        raw = self.body()
        if self.path == "/dns-query":
            ctype = (self.headers.get("Content-Type") or "").split(";")[0].strip().lower()
            if ctype != "application/dns-message":
                return self.json(415, {"error": "Content-Type must be application/dns-message"})
            return self.send(200, answer(raw, "doh-post"), "application/dns-message")
        try:
            req = json.loads(raw or b"{}")
        except ValueError:
            return self.json(400, {"error": "body is not JSON"})
        try:
            result = self.control(self.path, req)
        except (KeyError, TypeError, ValueError) as e:
            return self.json(400, {"error": f"bad request: {e!r}"})
        if result is None:
            return self.json(404, {"error": "not found"})
        self.json(200, result)

    def control(self, path: str, req: dict):
        s = STATE
        if path == "/add-txt":
            host = norm(req["host"])
            with s.lock:
                vals = s.txt.setdefault(host, [])
                if req["value"] not in vals:
                    vals.append(str(req["value"]))
                out = list(vals)
            s.record(kind="control", op="add-txt", host=host, value=req["value"])
            return {"host": host, "values": out}
        if path == "/set-txt":
            host = norm(req["host"])
            with s.lock:
                s.txt[host] = [str(req["value"])]
            s.record(kind="control", op="set-txt", host=host, value=req["value"])
            return {"host": host, "values": [req["value"]]}
        if path == "/clear-txt":
            host = norm(req["host"])
            with s.lock:
                if "value" in req and req["value"] is not None:
                    vals = [v for v in s.txt.get(host, []) if v != req["value"]]
                    if vals:
                        s.txt[host] = vals
                    else:
                        s.txt.pop(host, None)
                else:
                    s.txt.pop(host, None)
                out = list(s.txt.get(host, []))
            s.record(kind="control", op="clear-txt", host=host, value=req.get("value"))
            return {"host": host, "values": out}
        if path == "/set-caa":
            host = norm(req["host"])
            recs = [(int(f), str(t), str(v)) for f, t, v in req["records"]]
            with s.lock:
                s.caa[host] = recs
            return {"host": host, "records": recs}
        if path == "/clear-caa":
            host = norm(req["host"])
            with s.lock:
                s.caa.pop(host, None)
            return {"host": host}
        if path == "/http01":
            with s.lock:
                s.tokens[str(req["token"])] = str(req["content"])
            return {"token": req["token"]}
        if path == "/http01-clear":
            with s.lock:
                if req.get("token"):
                    s.tokens.pop(str(req["token"]), None)
                else:
                    s.tokens.clear()
            return {}
        if path == "/proxy":
            port = req.get("port")
            with s.lock:
                s.proxy_port = int(port) if port else None
                s.proxy_hosts = [str(h).rstrip(".") for h in req.get("hosts") or []]
            return {"port": s.proxy_port, "hosts": s.proxy_hosts}
        if path == "/reset":
            s.reset()
            return {}
        return None


# --- http-01 responder ----------------------------------------------------------------------
PREFIX = "/.well-known/acme-challenge/"


def is_address(host: str) -> bool:
    h = host.rsplit(":", 1)[0] if host.count(":") == 1 else host
    h = h.strip("[]")
    if h in ("localhost", ""):
        return True
    try:
        socket.inet_pton(socket.AF_INET6 if ":" in h else socket.AF_INET, h)
        return True
    except OSError:
        return False


class ResponderHandler(Quiet):
    def do_GET(self) -> None:
        path = self.path.split("?")[0]
        host = self.headers.get("Host", "")
        if not path.startswith(PREFIX):
            STATE.record(kind="http01", path=path, host=host, status=404)
            return self.send(404, b"not an ACME challenge path\n", "text/plain")
        token = path[len(PREFIX):]
        with STATE.lock:
            content = STATE.tokens.get(token)
            port, hosts = STATE.proxy_port, list(STATE.proxy_hosts)
        if content is not None:
            STATE.record(kind="http01", path=path, host=host, status=200, via="table")
            return self.send(200, content.encode(), "text/plain")
        if port:
            candidates = [host] if host and not is_address(host) else hosts
            status, body, ctype = 404, b"", "text/plain"
            for cand in candidates or [host]:
                status, body, ctype = forward(port, path, cand)
                if status == 200:
                    break
            STATE.record(kind="http01", path=path, host=host, status=status, via=f"proxy:{port}")
            return self.send(status, body, ctype)
        STATE.record(kind="http01", path=path, host=host, status=404)
        self.send(404, b"unknown token\n", "text/plain")

    do_HEAD = do_GET


def forward(port: int, path: str, host: str) -> tuple[int, bytes, str]:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    try:
        conn.request("GET", path, headers={"Host": host, "Connection": "close"})
        r = conn.getresponse()
        return r.status, r.read(), r.getheader("Content-Type") or "text/plain"
    except OSError as e:
        return 502, f"upstream 127.0.0.1:{port}: {e}\n".encode(), "text/plain"
    finally:
        conn.close()


class HttpServer(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True
    request_queue_size = 128


def bind_dns(port: int) -> tuple[UdpServer, TcpServer]:
    """UDP and TCP listeners on the same port number (port 0: any free one)."""
    for _ in range(50):
        udp = UdpServer(("127.0.0.1", port), DnsUdpHandler)
        try:
            tcp = TcpServer(("127.0.0.1", udp.server_address[1]), DnsTcpHandler)
            return udp, tcp
        except OSError:
            udp.server_close()
            if port:
                raise
    raise OSError("no port free for both UDP and TCP")


def serve(dns_port: int = 0, control_port: int = 0, responder_port: int = 0) -> dict:
    udp, tcp = bind_dns(dns_port)
    ctl = HttpServer(("127.0.0.1", control_port), ControlHandler)
    rsp = HttpServer(("127.0.0.1", responder_port), ResponderHandler)
    for srv in (udp, tcp, ctl, rsp):
        threading.Thread(target=srv.serve_forever, daemon=True).start()
    d, c, r = udp.server_address[1], ctl.server_address[1], rsp.server_address[1]
    return {
        "dns_port": d,
        "control_port": c,
        "responder_port": r,
        "dns_addr": f"127.0.0.1:{d}",
        "control_url": f"http://127.0.0.1:{c}",
        "doh_url": f"http://127.0.0.1:{c}/dns-query",
        "responder_addr": f"127.0.0.1:{r}",
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--dns-port", type=int, default=0)
    ap.add_argument("--control-port", type=int, default=0)
    ap.add_argument("--responder-port", type=int, default=0)
    args = ap.parse_args()
    info = serve(args.dns_port, args.control_port, args.responder_port)
    stop = threading.Event()
    for sig in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
        signal.signal(sig, lambda *_: stop.set())
    print(json.dumps(info), flush=True)
    stop.wait()


if __name__ == "__main__":
    sys.exit(main())
