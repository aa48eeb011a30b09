"""``faceprint serve`` as a real subprocess on 127.0.0.1 for the service tests, and
``faceprint keys create`` through the real CLI."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

EXE = [sys.executable, "-m", "faceprint.cli"]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def create_key(db: Path, groups: str, scopes: str = "detect,search,manage") -> dict[str, str]:
    out = subprocess.run([*EXE, "keys", "create", "--db", str(db), "--groups", groups,
                          "--scopes", scopes, "--json"], capture_output=True, text=True,
                         check=True, timeout=120)
    data: dict[str, str] = json.loads(out.stdout)
    return data


def revoke_key(db: Path, key: str) -> None:
    subprocess.run([*EXE, "keys", "revoke", "--db", str(db), key], capture_output=True,
                   check=True, timeout=120)


class Server:
    def __init__(self, proc: subprocess.Popen[bytes], port: int, log: Path) -> None:
        self.proc = proc
        self.port = port
        self.base = f"http://127.0.0.1:{port}"
        self.log = log

    def alive(self) -> bool:
        try:
            with urllib.request.urlopen(self.base + "/healthz", timeout=5) as r:
                return bool(r.status == 200)
        except OSError:
            return False


def start(db: Path, *extra: str, port: int | None = None, wait_s: float = 180.0) -> Server:
    port = port or free_port()
    log = db.with_name(db.name + f".serve-{port}.log")
    env = {**os.environ, "FACEPRINT_DEBUG": "0"}
    with open(log, "ab") as fh:
        proc = subprocess.Popen([*EXE, "serve", "--db", str(db), "--host", "127.0.0.1",
                                 "--port", str(port), *extra], stdout=fh,
                                stderr=subprocess.STDOUT, env=env, start_new_session=True)
    server = Server(proc, port, log)
    deadline = time.monotonic() + wait_s
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"faceprint serve exited {proc.returncode}: "
                               f"{log.read_text()[-2000:]}")
        try:
            with urllib.request.urlopen(server.base + "/readyz", timeout=5) as r:
                if r.status == 200:
                    return server
        except OSError:
            pass
        time.sleep(0.3)
    stop(server)
    raise RuntimeError(f"faceprint serve not ready after {wait_s} s: {log.read_text()[-2000:]}")


def stop(server: Server, kill: bool = False) -> None:
    if server.proc.poll() is None:
        os.killpg(server.proc.pid, signal.SIGKILL if kill else signal.SIGTERM)
        try:
            server.proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(server.proc.pid, signal.SIGKILL)
            server.proc.wait(timeout=30)


@contextmanager
def serving(db: Path, *extra: str) -> Iterator[Server]:
    server = start(db, *extra)
    try:
        yield server
    finally:
        stop(server)
