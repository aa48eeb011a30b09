"""The detection benchmark: annotation readers (dlib XML, FDDB ellipses), PASCAL
matching and average precision on known answers, and the real detectors on the
hand-boxed PASCAL photos of ../shared/data/photos."""

from __future__ import annotations

import json
import math
import subprocess
import sys
from pathlib import Path

import pytest

from faceprint.errors import DataError
from faceprint.eval.detection import (
    benchmark,
    ellipse_box,
    match_scored,
    precision_recall,
    read_annotations,
    read_dlib_xml,
    read_fddb,
)
from faceprint.types import Box


def test_ellipse_box() -> None:
    upright = ellipse_box(30, 20, math.pi / 2, 100, 80)  # major axis vertical
    assert upright.as_list(3) == [80.0, 50.0, 40.0, 60.0]
    flat = ellipse_box(30, 20, 0.0, 100, 80)
    assert flat.as_list(3) == [70.0, 60.0, 60.0, 40.0]
    tilted = ellipse_box(30, 30, 0.7, 0, 0)  # a circle: any angle
    assert tilted.width == pytest.approx(60) and tilted.height == pytest.approx(60)


def test_average_precision_known_answer() -> None:
    truths = [Box(0, 0, 10, 10), Box(20, 0, 10, 10)]
    dets = [(Box(0, 0, 10, 10), 0.9), (Box(50, 50, 10, 10), 0.8), (Box(21, 0, 10, 10), 0.7),
            (Box(0, 1, 10, 10), 0.6)]  # the last one duplicates the first truth
    scored = match_scored(dets, truths, 0.5)
    assert [t for _, t in scored] == [True, False, True, False]
    precision, recall, ap = precision_recall(scored, 2)
    # P/R: 1/1 at R .5, 1/2 at .5, 2/3 at 1.0, 2/4 at 1.0 -> AP = .5*1 + .5*(2/3)
    assert ap == pytest.approx(0.5 + 0.5 * 2 / 3)
    assert recall[-1] == 1.0 and precision[0] == 1.0


def _fddb_from_boxes(truth: dict[Path, list[Box]], root: Path) -> str:
    """An FDDB ellipse list describing hand boxes as upright ellipses."""
    lines = []
    for path, boxes in truth.items():
        lines += [str(path.relative_to(root).with_suffix("")), str(len(boxes))]
        for b in boxes:
            cx, cy = b.center
            lines.append(f"{b.height / 2:.6f} {b.width / 2:.6f} {math.pi / 2:.6f} "
                         f"{cx:.6f} {cy:.6f}  1")
    return "\n".join(lines) + "\n"


def test_read_fddb_round_trip(photos_dir: Path, tmp_path: Path) -> None:
    truth = read_dlib_xml(photos_dir / "testing.xml")
    fddb = tmp_path / "FDDB-fold-01-ellipseList.txt"
    fddb.write_text(_fddb_from_boxes(truth, photos_dir.resolve()))
    back = read_fddb(fddb, photos_dir)
    assert set(back) == set(truth)
    for p in truth:
        assert [round(b.iou(t), 6) for b, t in zip(back[p], truth[p])] == [1.0] * len(truth[p])
    bad = tmp_path / "bad.txt"
    bad.write_text("some/image\n2\n10 5 1.5 40 40 1\n")
    with pytest.raises(DataError, match="2 faces announced, 1 given|not an FDDB"):
        read_fddb(bad)
    with pytest.raises(DataError, match="missing"):
        read_annotations([fddb])  # images looked up beside the list: not there


def test_hog_and_haar_on_the_hand_boxed_photos(photos_dir: Path) -> None:
    """Measured (43 faces of training.xml + testing.xml, dogs.jpg as negative):
    see docs/evaluation.md; floors set below the measured numbers."""
    truth = read_annotations([photos_dir / "training.xml", photos_dir / "testing.xml"])
    truth[(photos_dir / "dogs.jpg").resolve()] = []
    results = {r.detector: r for r in benchmark(["hog", "haar"], truth, progress=False)}
    hog, haar = results["hog"], results["haar"]
    assert hog.faces == haar.faces == 43 and hog.images == 10
    assert hog.ap > 0.8 and hog.recall > 0.8 and hog.precision > 0.9
    assert haar.ap > 0.7
    assert hog.detections[str((photos_dir / "dogs.jpg").resolve())] == []
    assert 0 < hog.ms_per_image < 5000 and 0 <= hog.count_accuracy <= 1
    precision, recall = hog.pr_curve
    assert len(precision) == len(recall) > 43 and recall[-1] >= hog.recall


def test_detection_command(photos_dir: Path, tmp_path: Path) -> None:
    truth = read_dlib_xml(photos_dir / "training.xml")
    fddb = tmp_path / "train-ellipses.txt"
    fddb.write_text(_fddb_from_boxes(truth, photos_dir.resolve()))
    out, plot = tmp_path / "det.json", tmp_path / "pr.png"
    proc = subprocess.run(
        [sys.executable, "-m", "faceprint.cli", "eval", "detection", "--annotations",
         str(fddb), "--images-root", str(photos_dir), "--negatives",
         str(photos_dir / "dogs.jpg"), "--detectors", "haar,hog", "--json", str(out),
         "--plot", str(plot)], capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr
    rows = json.loads(out.read_text())
    assert [r["detector"] for r in rows] == ["haar", "hog"]
    assert rows[1]["faces"] == 18 and rows[1]["images"] == 5
    assert plot.stat().st_size > 10_000
    proc = subprocess.run(
        [sys.executable, "-m", "faceprint.cli", "eval", "detection", "--annotations",
         str(tmp_path / "none.xml")], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 7 and "no such annotation file" in proc.stderr
