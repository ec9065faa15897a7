"""Fixtures for the end-to-end suite: one test-network process (DNS, DoH, http-01
responder), the server under test (E2E_SERVER=edge-acme|pebble) and, on first use, a
second instance of it that requires External Account Binding."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))
import harness  # noqa: E402

SERVER_KIND = os.environ.get("E2E_SERVER", "edge-acme")
_timings: dict[str, float] = {}


def pytest_report_header(config):
    return [f"e2e: server under test = {SERVER_KIND}; logs in {harness.LOGS}"]


@pytest.fixture(scope="session")
def testsrv():
    ts = harness.TestSrv()
    yield ts
    ts.stop()


@pytest.fixture(scope="session")
def server(testsrv):
    srv = harness.start_server(SERVER_KIND, testsrv, "main")
    _timings["main server start (s)"] = srv.started_in
    yield srv
    assert srv.stop(), f"{SERVER_KIND} left processes behind"


@pytest.fixture(scope="session")
def eab_server(testsrv, server):
    # Started after the main server: with edge-acme it reuses the build dev.sh just made.
    kw = {"skip_build": True} if SERVER_KIND == "edge-acme" else {}
    srv = harness.start_server(SERVER_KIND, testsrv, "eab", eab_required=True, **kw)
    _timings["EAB server start (s)"] = srv.started_in
    yield srv
    srv.stop()


@pytest.fixture
def client_log(request) -> Path:
    """One log file per test with every client command and its output."""
    name = request.node.nodeid.split("::", 1)[-1]
    safe = "".join(c if c.isalnum() or c in "-_." else "_" for c in name)
    p = harness.log_path(f"{Path(request.node.fspath).stem}.{safe}.log")
    p.write_text(f"# {request.node.nodeid}\n")
    return p


def pytest_terminal_summary(terminalreporter):
    for k, v in _timings.items():
        terminalreporter.write_line(f"e2e timing: {k}: {v:.1f}")
