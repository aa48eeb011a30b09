"""``require_module`` (tests/conftest.py): a test file that needs a missing package is
skipped, and fails under FACEPRINT_REQUIRE_DATA=1, as the data tests do. Checked by
running pytest on a small test file in a child process."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

TESTS = Path(__file__).resolve().parent

NEEDS_MISSING = '''
from conftest import require_module

missing = require_module("faceprint_no_such_module")


def test_never_runs() -> None:
    raise AssertionError("the module does not exist")
'''

NEEDS_NUMPY = '''
from conftest import require_module

numpy = require_module("numpy")


def test_runs() -> None:
    assert numpy.zeros(2).sum() == 0
'''


def pytest_in_child(tmp_path: Path, source: str, require: bool) -> subprocess.CompletedProcess[str]:
    (tmp_path / "test_probe.py").write_text(source)
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(
        [str(TESTS), *filter(None, [os.environ.get("PYTHONPATH")])])}
    env.pop("FACEPRINT_REQUIRE_DATA", None)
    if require:
        env["FACEPRINT_REQUIRE_DATA"] = "1"
    return subprocess.run([sys.executable, "-m", "pytest", "-q", "-rs", "-p", "no:cacheprovider",
                           "--rootdir", str(tmp_path), str(tmp_path / "test_probe.py")],
                          capture_output=True, text=True, timeout=300, env=env, cwd=tmp_path)


@pytest.mark.parametrize("require", [False, True])
def test_a_missing_module_skips_or_fails_under_require_data(tmp_path: Path,
                                                           require: bool) -> None:
    proc = pytest_in_child(tmp_path, NEEDS_MISSING, require)
    out = proc.stdout + proc.stderr
    assert "faceprint_no_such_module is not installed" in out
    if require:
        assert proc.returncode != 0 and "FACEPRINT_REQUIRE_DATA=1: required" in out
    else:
        # a skip at the top of a file leaves nothing to run: pytest's status 5, not a failure
        assert proc.returncode == pytest.ExitCode.NO_TESTS_COLLECTED and "1 skipped" in out


def test_an_installed_module_is_returned(tmp_path: Path) -> None:
    proc = pytest_in_child(tmp_path, NEEDS_NUMPY, True)
    assert proc.returncode == 0 and "1 passed" in proc.stdout, proc.stdout + proc.stderr
