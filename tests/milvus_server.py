"""A real Milvus standalone server (pip ``milvus`` 2.3.x, embedded etcd and local
storage) for the gallery tests. It listens on every interface, so it may only be
started inside a private network namespace: :func:`in_private_netns` checks that
the only interface is the loopback (what ``unshare -n`` gives)."""

from __future__ import annotations

import os
import signal
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path


def in_private_netns() -> bool:
    """True when this process's network namespace holds only ``lo``."""
    lines = Path("/proc/self/net/dev").read_text().splitlines()[2:]
    return [line.split(":")[0].strip() for line in lines] == ["lo"]


@contextmanager
def milvus_server(data_dir: Path, timeout_ms: int = 240_000) -> Iterator[int]:
    """Start a Milvus server with its data under ``data_dir``; yield its gRPC port;
    stop it by its own pid (SIGTERM, then SIGKILL)."""
    if not in_private_netns():
        raise RuntimeError("the Milvus test server listens on every interface: start it only "
                           "inside `unshare -n` (loopback up)")
    from milvus import MilvusServer

    server = MilvusServer(wait_for_started=False)
    server.set_base_dir(str(data_dir))
    server.start()
    proc: subprocess.Popen[bytes] = server.server_proc
    try:
        server.wait_started(timeout=timeout_ms)
        yield int(server.config.get("proxy_port"))
    finally:
        if proc.poll() is None:
            os.kill(proc.pid, signal.SIGTERM)
            try:
                proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                os.kill(proc.pid, signal.SIGKILL)
                proc.wait(timeout=10)
        server.server_proc = None
        server.stop()  # closes its log files
