"""``faceprint eval report`` on a small subset of the real data (what CI runs):
every section's table and picture must exist and hold something. The full
report is the documented command in docs/evaluation.md."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import pytest
from PIL import Image

PICTURES = ["roc.png", "hist-eigenfaces.png", "hist-fisherfaces.png", "hist-lbp.png",
            "hist-dlib-resnet.png", "pairs.png", "robustness-jpeg-dlib-resnet.png",
            "robustness-pixels-dlib-resnet.png", "robustness-examples.png",
            "identify-rank1.png", "identify-dir.png", "identify-failures.png",
            "detection-pr.png", "detection-examples.png"]
SECTIONS = ["1. Verification on LFW", "Flip test-time augmentation", "2. Robustness",
            "3. Identification", "4. Face detection", "5. Accuracy by group"]


@pytest.mark.slow  # 622 s on the shared 2-core machine under load (pytest --durations)
def test_report_on_a_subset(lfw_dir: Path, photos_dir: Path, tmp_path: Path) -> None:
    from faceprint.datasets.lfw import read_people

    groups = tmp_path / "groups.csv"
    names = [n for s in read_people(lfw_dir / "people.txt") for n, _ in s]
    groups.write_text("identity,group\n" + "".join(
        f"{n},{'even' if len(n) % 2 == 0 else 'odd'}\n" for n in names))  # a null control
    out = tmp_path / "report"
    proc = subprocess.run(
        [sys.executable, "-m", "faceprint.cli", "eval", "report", str(out), "--data",
         str(lfw_dir), "--folds", "1,2", "--pairs-per-fold", "100", "--fit-max-images", "400",
         "--jpeg", "10,90", "--pixels", "1600,14400", "--identify-max-people", "12",
         "--identify-max-probes", "4", "--identify-impostors", "30",
         "--identify-gallery", "1,3", "--photos", str(photos_dir),
         "--detectors", "haar,hog", "--groups", str(groups)],
        capture_output=True, text=True, timeout=1800)
    assert proc.returncode == 0, proc.stderr[-3000:]
    md = (out / "report.md").read_text()
    html = (out / "report.html").read_text()
    for section in SECTIONS:
        assert section in md and section in html, section
    assert "Subset run" in md and "quoted, not measured" in md
    for picture in PICTURES:
        path = out / picture
        assert path.stat().st_size > 5_000, picture
        with Image.open(path) as img:
            assert img.width > 300 and img.height > 150, picture
            extrema = img.convert("L").getextrema()
            assert extrema[1] - extrema[0] > 100, f"{picture} is blank"
        assert f"]({picture})" in md and f"src='{picture}'" in html
    # every table has a header, a rule and at least one row of numbers
    tables = re.findall(r"((?:^\|.*\|\n)+)", md, flags=re.M)
    assert len(tables) >= 9
    for t in tables:
        lines = t.strip().splitlines()
        assert len(lines) >= 3 and set(lines[1]) <= set("|-"), t
        assert re.search(r"\d", "".join(lines[2:])), t
    results = json.loads((out / "results.json").read_text())
    ver = results["verification"]
    assert set(ver) == {"eigenfaces", "fisherfaces", "lbp", "dlib-resnet"}
    assert ver["dlib-resnet"]["accuracy_mean"] > ver["eigenfaces"]["accuracy_mean"]
    assert all(v["pairs"] == 200 and v["folds"] == 2 for v in ver.values())
    assert "fitted per test fold" in ver["eigenfaces"]["protocol"]
    assert len(results["robustness"]["dlib-resnet"]["jpeg"]) == 3
    assert set(results["identification"]) == set(ver)
    assert [d["detector"] for d in results["detection"]] == ["haar", "hog"]
    assert {g["group"] for g in results["bias"]["lbp"]} >= {"even", "odd"}
