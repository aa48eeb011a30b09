"""Eight processes enrolling and searching at once on one real SQLite gallery
for 15 seconds (benchmarks/gallery_concurrency.py runs the same for a minute):
nothing lost, no error, every process's searches see its own writes at once,
and SQLite's integrity check passes."""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "benchmarks"))

from gallery_concurrency import run


def test_eight_processes_enrolling_and_searching_lose_nothing(tmp_path: Path) -> None:
    report = run(tmp_path / "shared.db", procs=8, seconds=15)
    assert report["problems"] == []
    assert report["integrity"] == "ok"
    assert report["enrolments"] >= 16 and report["searches"] == report["enrolments"]
    assert report["faces"] == 2 * report["enrolments"]
