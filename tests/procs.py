"""Child processes for the Python test suites (tests/e2e, tests/backends): each child runs
in its own session and process group with its output in a log file, and every child
still alive is killed, group-wide by process id, when the run ends (also on SIGTERM and
SIGHUP). Standard library only."""

from __future__ import annotations

import atexit
import os
import re
import signal
import socket
import subprocess
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

_live: list["Proc"] = []


def kill_all(*_args) -> None:
    for p in list(_live):
        p.kill_group()


def _on_signal(signum, _frame):
    kill_all()
    signal.signal(signum, signal.SIG_DFL)
    os.kill(os.getpid(), signum)


atexit.register(kill_all)
for _sig in (signal.SIGTERM, signal.SIGHUP):
    signal.signal(_sig, _on_signal)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def tail(text: str, n: int = 40) -> str:
    return "\n".join("  | " + line for line in text.splitlines()[-n:])


class Proc:
    """A child in its own session/process group, output to a log file (`append`: added
    to what the file holds, for restarts; otherwise the file starts empty)."""

    def __init__(self, argv: list[str], log: Path, env: dict | None = None, cwd: Path | None = None,
                 append: bool = False):
        self.argv, self.log = argv, log
        self.fh = open(log, "ab" if append else "wb")
        self.t0 = time.monotonic()
        self.p = subprocess.Popen(
            argv, cwd=cwd or ROOT, env={**os.environ, **(env or {})},
            stdin=subprocess.DEVNULL, stdout=self.fh, stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        _live.append(self)

    @property
    def pid(self) -> int:
        return self.p.pid

    def alive(self) -> bool:
        return self.p.poll() is None

    def text(self) -> str:
        try:
            return self.log.read_text(errors="replace")
        except OSError:
            return ""

    def wait_for(self, pattern: str, timeout: float) -> re.Match:
        rx = re.compile(pattern)
        deadline = time.monotonic() + timeout
        while True:
            m = rx.search(self.text())
            if m:
                return m
            if not self.alive():
                raise RuntimeError(f"{self.argv[0]} exited ({self.p.returncode}) before ready; "
                                   f"log {self.log}:\n{tail(self.text())}")
            if time.monotonic() > deadline:
                raise RuntimeError(f"{self.argv[0]} not ready after {timeout:.0f}s; log {self.log}:\n"
                                   f"{tail(self.text())}")
            time.sleep(0.1)

    def group_alive(self) -> bool:
        try:
            os.killpg(self.p.pid, 0)
            return True
        except OSError:
            return False

    def stop(self, timeout: float = 20) -> bool:
        """SIGTERM to the leader (it stops its own children), then SIGKILL the group.
        True when everything had ended by itself."""
        clean = True
        if self.alive():
            self.p.send_signal(signal.SIGTERM)
            try:
                self.p.wait(timeout)
            except subprocess.TimeoutExpired:
                clean = False
        for _ in range(50):
            if not self.group_alive():
                break
            time.sleep(0.1)
        if self.group_alive():
            clean = False
        self.kill_group()
        return clean

    def kill_group(self) -> None:
        try:
            os.killpg(self.p.pid, signal.SIGKILL)
        except OSError:
            pass
        try:
            self.p.wait(5)
        except Exception:
            pass
        if self in _live:
            _live.remove(self)
        if not self.fh.closed:
            self.fh.close()
