"""Every ``faceprint`` command, run as a real process on real photos, and every
bad input: a one-line message, the documented exit status, no traceback, and
nothing stored lost."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

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


@pytest.fixture(scope="module")
def people(lfw_dir: Path) -> dict[str, list[Path]]:
    img = lfw_dir / "images"
    return {name: [img / name / f"{name}_{i:04d}.jpg" for i in range(1, 5)]
            for name in ("Colin_Powell", "Serena_Williams")}


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


def test_compare_same_and_different(people: dict[str, list[Path]]) -> None:
    cp, sw = people["Colin_Powell"], people["Serena_Williams"]
    same = json.loads(ok(run("compare", cp[0], cp[1], "--json")).stdout)
    assert same["same"] is True and same["distance"] < same["threshold"]
    assert set(same) >= {"distance", "threshold", "same"}
    diff = ok(run("compare", cp[0], sw[0]))
    assert "different people" in diff.stdout


def test_enroll_people_identify_forget(people: dict[str, list[Path]], photos_dir: Path,
                                       tmp_path: Path) -> None:
    db = tmp_path / "g.db"
    cp, sw = people["Colin_Powell"], people["Serena_Williams"]
    assert "enrolled 2 faces for Colin_Powell" in ok(run("enroll", "Colin_Powell", cp[0], cp[1],
                                                         "--meta", "role=diplomat", db=db)).stdout
    ok(run("enroll", "Serena_Williams", sw[0], sw[1], db=db))
    listing = json.loads(ok(run("people", "--json", db=db)).stdout)
    assert [(p["name"], p["faces"]) for p in listing["people"]] == [
        ("Colin_Powell", 2), ("Serena_Williams", 2)]
    assert listing["people"][0]["metadata"] == {"role": "diplomat"}

    proc = ok(run("identify", cp[3], sw[3], photos_dir / "dogs.jpg", db=db))
    assert "Recognized as Colin_Powell (distance 0." in proc.stdout
    assert "Recognized as Serena_Williams" in proc.stdout
    assert "dogs.jpg: no face found" in proc.stdout

    drawn = tmp_path / "named"
    data = json.loads(ok(run("identify", cp[3], photos_dir / "multiface.jpg", "--json",
                             "--draw", drawn, db=db)).stdout)
    first, group = data["images"]
    assert first["faces"][0]["name"] == "Colin_Powell" and first["faces"][0]["distance"] < 0.6
    assert len(group["faces"]) == 6 and all(f["name"] is None for f in group["faces"])
    assert (drawn / "Colin_Powell_0004.jpg").stat().st_size > 0
    assert (drawn / "multiface.jpg").stat().st_size > 0

    ok(run("rename", "Colin_Powell", "General Powell", db=db))
    assert "General Powell: 2 faces" in ok(run("people", db=db)).stdout
    face_id = ok(run("faces", "General Powell", db=db)).stdout.split()[1].rstrip(":")
    ok(run("forget", "--face", face_id, db=db))
    assert "General Powell: 1 face" in ok(run("people", db=db)).stdout
    assert "forgot Serena_Williams and 2 faces" in ok(run("forget", "Serena_Williams",
                                                          db=db)).stdout
    assert "Serena" not in ok(run("people", db=db)).stdout


def test_failed_enrolment_stores_nothing(people: dict[str, list[Path]], photos_dir: Path,
                                         tmp_path: Path) -> None:
    db = tmp_path / "g.db"
    ok(run("enroll", "Serena_Williams", people["Serena_Williams"][0], db=db))
    before = ok(run("people", "--json", db=db)).stdout
    fails(run("enroll", "Colin_Powell", people["Colin_Powell"][0], photos_dir / "dogs.jpg",
              db=db), 4, "dogs.jpg: no face found")
    assert ok(run("people", "--json", db=db)).stdout == before


def test_bad_inputs(people: dict[str, list[Path]], photos_dir: Path, tmp_path: Path) -> None:
    face = people["Colin_Powell"][0]
    fails(run("detect", tmp_path / "missing.jpg"), 3, "missing.jpg: no such file")
    text = tmp_path / "notes.jpg"
    text.write_text("not a picture")
    fails(run("compare", face, text), 3, "notes.jpg: not an image file")
    cut = tmp_path / "cut.jpg"
    cut.write_bytes(face.read_bytes()[:3000])
    fails(run("detect", cut), 3, "cut.jpg: truncated or corrupt image")
    big = tmp_path / "huge.png"
    Image.new("L", (8000, 6000)).save(big)
    fails(run("detect", big), 3, "huge.png: image has 8000x6000 = 48,000,000 pixels, "
                                 "over the limit of 40,000,000")
    fails(run("compare", face, photos_dir / "dogs.jpg"), 4, "dogs.jpg: no face found")
    fails(run("identify", face, db=tmp_path / "empty.db"), 6, "has no faces for dlib-resnet; "
                                                              "enroll someone first")
    fails(run("detect", face, "--detector", "nope"), 5, "unknown detector 'nope'")
    fails(run("forget", "Nobody", db=tmp_path / "empty.db"), 6, "no person named 'Nobody'")
    usage = run("detect")
    assert usage.returncode == 2 and "Traceback" not in usage.stderr


def test_embed_folder_to_npz(people: dict[str, list[Path]], photos_dir: Path,
                             tmp_path: Path) -> None:
    folder = tmp_path / "album"
    folder.mkdir()
    for p in people["Colin_Powell"][:3]:
        (folder / p.name).write_bytes(p.read_bytes())
    (folder / "group.jpg").write_bytes((photos_dir / "multiface.jpg").read_bytes())
    (folder / "broken.jpg").write_text("not an image")
    out = tmp_path / "emb.npz"
    proc = ok(run("embed", folder, "--out", out, "--workers", "2"))
    assert "5 images, 9 faces (0 images without a face, 1 unreadable)" in proc.stdout
    z = np.load(out)
    assert z["embeddings"].shape == (9, 128) and z["boxes"].shape == (9, 4)
    assert [Path(str(p)).name for p in z["failed_paths"]] == ["broken.jpg"]
    # the three photos of one man are near each other, far from the group
    names = np.array([Path(str(p)).name for p in z["paths"]])
    powell = z["embeddings"][np.char.startswith(names, "Colin")]
    assert len(powell) == 3
    assert np.linalg.norm(powell[0] - powell[1]) < 0.6
    largest = tmp_path / "largest.parquet"
    ok(run("embed", folder, "--out", largest, "--largest", "--threads"))
    import pyarrow.parquet as pq

    table = pq.read_table(largest)
    assert table.num_rows == 4 and len(table.column("embedding")[0]) == 128
    assert table.schema.metadata[b"embedder"] == b"dlib-resnet"
    fails(run("embed", folder, "--out", tmp_path / "emb.csv"), 1, "must end in .npz or .parquet")


def test_info_reports_models_and_engine() -> None:
    info = json.loads(ok(run("info", "--json")).stdout)
    assert info["models"]["dlib-resnet"]["sha256"].startswith("55533b28a958")
    assert "CPUExecutionProvider" in info["providers"]["chosen"]
    assert set(info["detectors"]) >= {"haar", "hog", "cnn", "mtcnn", "blazeface",
                                      "blazeface-onet"}
    assert info["blazeface_engine"] == ("litert" if "ai-edge-litert" in info["packages"]
                                        else "opencv")
    human = ok(run("info")).stdout
    assert "engine: ONNX Runtime" in human and "dlib-mmod" in human
    assert info["providers"]["onnxruntime"] and isinstance(info["providers"]["gpu_present"], bool)
    assert "NVIDIA GPU " in human
    assert "BlazeFace on " in human
