"""Running ``faceprint`` as a real process (``python -m faceprint.cli``) in the CLI
tests, and the checks they share: success, or a one-line message with the
documented exit status and no traceback."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

EXE = [sys.executable, "-m", "faceprint.cli"]


def run(*args: str | Path, db: Path | None = None) -> subprocess.CompletedProcess[str]:
    cmd = [*EXE, *map(str, args)]
    if db is not None:
        cmd += ["--db", str(db)]
    env = {**os.environ, "FACEPRINT_DEBUG": "0"}
    return subprocess.run(cmd, capture_output=True, text=True, timeout=600, env=env)


def ok(proc: subprocess.CompletedProcess[str]) -> subprocess.CompletedProcess[str]:
    assert proc.returncode == 0, proc.stderr
    return proc


def fails(proc: subprocess.CompletedProcess[str], code: int, message: str) -> None:
    assert proc.returncode == code, (proc.returncode, proc.stdout, proc.stderr)
    assert message in proc.stderr
    assert "Traceback" not in proc.stderr and len(proc.stderr.strip().splitlines()) == 1
