"""``faceprint detect`` run as a real process on real photos: JSON, drawings, the
human output, and many images of which some cannot be read (each readable one
still gets its faces; each unreadable one an error entry naming it; exit 3)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from cli_process import fails, ok, run


@pytest.fixture(scope="module")
def astronaut_jpg(tmp_path_factory: pytest.TempPathFactory, astronaut: np.ndarray) -> Path:
    path = tmp_path_factory.mktemp("photos") / "astronaut.jpg"
    Image.fromarray(astronaut).save(path, quality=95)
    return path


def truncated(source: Path, folder: Path) -> Path:
    """The first 3000 bytes of a real JPEG: a file that starts as a photo and breaks."""
    cut = folder / "broken.jpg"
    cut.write_bytes(source.read_bytes()[:3000])
    return cut


def test_detect_json_and_drawing(photos_dir: Path, tmp_path: Path) -> None:
    out = tmp_path / "drawn.png"
    proc = ok(run("detect", photos_dir / "multiface.jpg", "--json", "--draw", out))
    data = json.loads(proc.stdout)
    [entry] = data["images"]
    assert entry["path"].endswith("multiface.jpg") and len(entry["faces"]) == 6
    face = entry["faces"][0]
    assert len(face["box"]) == 4 and len(face["landmarks"]) == 5
    assert set(face["pose"]) == {"yaw", "pitch", "roll"} and face["score"] > 0
    drawn = np.asarray(Image.open(out))
    assert drawn.shape == (630, 1200, 3)
    original = np.asarray(Image.open(photos_dir / "multiface.jpg"))
    assert (drawn != original).any(axis=2).mean() > 0.005  # boxes were drawn


def test_detect_human_output_and_detector_choice(photos_dir: Path) -> None:
    proc = ok(run("detect", photos_dir / "dogs.jpg", photos_dir / "multiface.jpg",
                  "--detector", "mtcnn"))
    assert "dogs.jpg: 0 faces" in proc.stdout and "multiface.jpg: 6 faces" in proc.stdout


def test_detect_reports_every_image_when_some_cannot_be_read(
        astronaut_jpg: Path, photos_dir: Path, tmp_path: Path) -> None:
    broken = truncated(astronaut_jpg, tmp_path)
    missing = tmp_path / "missing.jpg"
    images = [astronaut_jpg, broken, photos_dir / "multiface.jpg", missing]
    proc = run("detect", *images, "--json")
    assert proc.returncode == 3, proc.stderr
    assert "Traceback" not in proc.stderr
    entries = json.loads(proc.stdout)["images"]
    assert [e["path"] for e in entries] == [str(p) for p in images]
    first, cut, group, gone = entries
    assert len(first["faces"]) == 1 and "error" not in first
    assert len(group["faces"]) == 6
    assert set(cut) == {"path", "error"} and "broken.jpg: truncated or corrupt image" in \
        cut["error"]
    assert set(gone) == {"path", "error"} and "missing.jpg: no such file" in gone["error"]

    text = run("detect", astronaut_jpg, broken)
    assert text.returncode == 3
    assert f"{astronaut_jpg}: 1 face" in text.stdout
    [line] = text.stderr.strip().splitlines()
    assert line.startswith(f"faceprint: {broken}: truncated or corrupt image")


def test_detect_the_same_faces_alone_and_among_broken_images(
        astronaut_jpg: Path, tmp_path: Path) -> None:
    alone = json.loads(ok(run("detect", astronaut_jpg, "--json")).stdout)["images"]
    mixed = json.loads(run("detect", truncated(astronaut_jpg, tmp_path), astronaut_jpg,
                           "--json").stdout)["images"]
    assert mixed[1] == alone[0]


def test_detect_one_unreadable_image_is_one_line_and_exit_3(tmp_path: Path) -> None:
    fails(run("detect", tmp_path / "missing.jpg"), 3, "missing.jpg: no such file")
