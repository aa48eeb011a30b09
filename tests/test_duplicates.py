"""No two places in src/faceprint hold the same code: pylint's duplicate-code
checker (R0801: eight or more similar lines, comments, docstrings, imports and
signatures ignored) finds nothing. A second test plants a copy of a real module
to show that the checker runs and reports."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

pytest.importorskip("pylint", reason="pylint is part of the test extra")

import faceprint

SRC = Path(faceprint.__file__).resolve().parent
MIN_LINES = 8


def duplicate_code(folder: Path) -> list[str]:
    """pylint's duplicate-code findings for a package folder, one text block each."""
    proc = subprocess.run(
        [sys.executable, "-m", "pylint", "--disable=all", "--enable=duplicate-code",
         f"--min-similarity-lines={MIN_LINES}", "--score=n", "--persistent=n", str(folder)],
        capture_output=True, text=True, cwd=folder.parent, timeout=600)
    assert proc.returncode in (0, 8), proc.stdout + proc.stderr  # 8: refactor messages
    blocks = proc.stdout.split("R0801: ")[1:]
    return [b.strip() for b in blocks]


def test_no_duplicated_code_in_src() -> None:
    found = duplicate_code(SRC)
    assert not found, f"{len(found)} duplicated blocks:\n\n" + "\n\n".join(found)


def test_the_checker_reports_a_planted_copy(tmp_path: Path) -> None:
    package = tmp_path / "planted"
    package.mkdir()
    (package / "__init__.py").write_text("")
    shutil.copy(SRC / "dlibdnn" / "cache.py", package / "one.py")
    shutil.copy(SRC / "dlibdnn" / "cache.py", package / "two.py")
    found = duplicate_code(package)
    assert len(found) == 1 and "planted.one" in found[0] and "planted.two" in found[0]
