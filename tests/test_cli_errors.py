"""Bad input to every command: a one-line message, the documented exit status, no
traceback, and nothing stored lost."""

from __future__ import annotations

from pathlib import Path

from PIL import Image

from cli_process import fails, run


def test_bad_inputs(lfw_people: dict[str, list[Path]], photos_dir: Path, tmp_path: Path) -> None:
    face = lfw_people["Colin_Powell"][0]
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
