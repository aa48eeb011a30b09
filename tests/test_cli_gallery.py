"""The gallery commands run as real processes on a real SQLite file: enroll, people,
faces, identify, rename, forget; a failed enrolment stores nothing; identify over
many images reports every image, readable or not."""

from __future__ import annotations

import json
from pathlib import Path

from cli_process import fails, ok, run


def test_enroll_people_identify_forget(lfw_people: dict[str, list[Path]], photos_dir: Path,
                                       tmp_path: Path) -> None:
    db = tmp_path / "g.db"
    cp, sw = lfw_people["Colin_Powell"], lfw_people["Serena_Williams"]
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


def test_failed_enrolment_stores_nothing(lfw_people: dict[str, list[Path]], photos_dir: Path,
                                         tmp_path: Path) -> None:
    db = tmp_path / "g.db"
    ok(run("enroll", "Serena_Williams", lfw_people["Serena_Williams"][0], db=db))
    before = ok(run("people", "--json", db=db)).stdout
    fails(run("enroll", "Colin_Powell", lfw_people["Colin_Powell"][0], photos_dir / "dogs.jpg",
              db=db), 4, "dogs.jpg: no face found")
    assert ok(run("people", "--json", db=db)).stdout == before


def test_identify_reports_every_image_when_some_cannot_be_read(
        lfw_people: dict[str, list[Path]], tmp_path: Path) -> None:
    db = tmp_path / "g.db"
    cp = lfw_people["Colin_Powell"]
    ok(run("enroll", "Colin_Powell", cp[0], cp[1], db=db))
    faces = json.loads(ok(run("faces", "Colin_Powell", "--json", db=db)).stdout)
    assert faces["name"] == "Colin_Powell" and len(faces["faces"]) == 2
    stored = faces["faces"][0]
    assert set(stored) == {"id", "person_id", "embedder", "source", "box", "created",
                           "face_token", "quality"}
    assert stored["embedder"] == "dlib-resnet" and stored["source"].endswith("_0001.jpg")
    assert len(stored["box"]) == 4

    broken = tmp_path / "broken.jpg"
    broken.write_bytes(cp[2].read_bytes()[:3000])
    images = [cp[3], broken, tmp_path / "missing.jpg", cp[2]]
    proc = run("identify", *images, "--json", "-k", "2", db=db)
    assert proc.returncode == 3 and "Traceback" not in proc.stderr, proc.stderr
    first, cut, gone, last = json.loads(proc.stdout)["images"]
    assert [e["path"] for e in (first, cut, gone, last)] == [str(p) for p in images]
    for good in (first, last):
        [face] = good["faces"]
        assert face["name"] == "Colin_Powell" and face["distance"] < face["threshold"]
        assert face["metric"] == "euclidean" and face["candidates"][0]["name"] == "Colin_Powell"
    assert "broken.jpg: truncated or corrupt image" in cut["error"] and "faces" not in cut
    assert "missing.jpg: no such file" in gone["error"]

    text = run("identify", cp[3], broken, db=db)
    assert text.returncode == 3
    assert "Recognized as Colin_Powell" in text.stdout
    [line] = text.stderr.strip().splitlines()
    assert line.startswith(f"faceprint: {broken}: truncated or corrupt image")
