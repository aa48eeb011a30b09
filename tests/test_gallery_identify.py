"""LFW identification scored through a real SQLite + FAISS gallery gives the
evaluation suite's rank-1, rank-5, CMC and DIR exactly (benchmarks/
gallery_identify_check.py; the same small protocol as test_eval_identify)."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "benchmarks"))

from gallery_identify_check import compare


def test_identification_through_the_gallery_is_unchanged(lfw_dir: Path) -> None:
    rows = compare(str(lfw_dir), 20, 5, 40, (1, 3), 0.05)
    assert [g for g, _, _ in rows] == [1, 3]
    for _, suite, ours in rows:
        for key in ("rank1", "rank5", "dir_at_far", "cmc"):
            assert ours[key] == suite[key], key
        assert ours["threshold"] == pytest.approx(suite["threshold"], abs=1e-9)
    assert rows[0][1]["rank1"] >= 0.9  # a real run, not an empty one
