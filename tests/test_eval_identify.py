"""The identification benchmark: rank-k and DIR on vectors with a known answer,
the LFW split's guarantees, and a small real run."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from faceprint.errors import DataError
from faceprint.eval.identify import IdentifyProtocol, make_split, score


def test_score_known_answer() -> None:
    # gallery: person A at x=0, B at x=10, C at x=20 (one image each, 1-d embeddings)
    gallery = np.array([[0.0], [10.0], [20.0]])
    people = ["A", "B", "C"]
    probes = np.array([[1.0], [12.0], [16.0], [8.0]])  # A, B, C, A
    truth = ["A", "B", "C", "A"]
    impostors = np.array([[5.0], [30.0], [14.0], [26.0]])  # nearest distances 5, 10, 4, 6
    r = score(probes, truth, impostors, gallery, people, "euclidean", far=0.25,
              gallery_size=1)
    # nearest: 1 -> A (right), 12 -> B (right), 16 -> C at 4 (right), 8 -> B at 2 (wrong;
    # its own person A is second)
    assert r.rank1 == pytest.approx(0.75)
    assert r.cmc[1] == 1.0 and r.rank5 == 1.0
    # far 0.25 of 4 impostors: accept one -> threshold between 4 and 5
    assert 4.0 < r.threshold < 5.0
    # right at rank 1 and within 4.5: the probes at distances 1, 2 and 4
    assert r.dir_at_far == pytest.approx(0.75)


def test_split_keeps_roles_apart(lfw_dir: Path) -> None:
    protocol = IdentifyProtocol(min_images=10, gallery_sizes=(1, 3), max_probes=5,
                                impostors=200, fit_max_images=500)
    split = make_split(lfw_dir, protocol)
    assert len(split.gallery) == 158  # LFW has 158 people with 10 images or more
    gallery = {p for g in split.gallery.values() for p in g}
    assert all(len(g) == 3 for g in split.gallery.values())
    assert len(split.probes) == 158 * 5 and len(split.impostors) == 200
    people = lambda paths: {Path(p).parent.name for p in paths}  # noqa: E731
    assert not gallery & set(split.probes)
    assert people(split.probes) == set(split.gallery)
    assert not people(split.impostors) & set(split.gallery)
    assert not people(split.fit) & (people(split.impostors) | set(split.gallery))
    assert len(split.fit) == 500
    again = make_split(lfw_dir, protocol)
    assert again.probes == split.probes and again.fit == split.fit  # seeded
    with pytest.raises(DataError, match="must exceed"):
        IdentifyProtocol(min_images=3, gallery_sizes=(1, 3))


def test_identify_command_dlib_resnet(lfw_dir: Path, tmp_path: Path) -> None:
    """20 enrolled people (5 probes each) and 40 impostors. Measured: rank-1
    100 % at every gallery size, DIR@FAR=0.05 97-100 %; floors below."""
    out = tmp_path / "id.json"
    proc = subprocess.run(
        [sys.executable, "-m", "faceprint.cli", "eval", "identify", "--data", str(lfw_dir),
         "--max-people", "20", "--max-probes", "5", "--impostors", "40", "--gallery", "1,3",
         "--far", "0.05", "--json", str(out)], capture_output=True, text=True, timeout=1200)
    assert proc.returncode == 0, proc.stderr
    r = json.loads(out.read_text())
    assert r["people"] == 20 and r["mated_probes"] == 100 and r["non_mated_probes"] == 40
    g1, g3 = r["galleries"]
    assert g1["gallery_size"] == 1 and g3["gallery_size"] == 3
    assert g1["rank1"] >= 0.9 and g3["rank1"] >= g1["rank1"] - 0.02
    assert g3["rank5"] >= g3["rank1"] and g1["dir_at_far"] >= 0.8
    assert "rank-1" in proc.stdout
