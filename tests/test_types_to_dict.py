"""``to_dict()`` of every record the CLI prints: JSON-ready (only lists, dicts, str,
int, float, bool, None), boxes as ``[left, top, width, height]``, floats rounded as
the CLI has always printed them; the records of a real enrolment and search in a
real SQLite gallery survive ``json.dumps``."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from faceprint.types import (
    Box,
    Comparison,
    Face,
    Identification,
    Landmarks,
    Match,
    Person,
    Pose,
    StoredFace,
)

FACE = Face(Box(10.04, 20.06, 30.0, 40.55), 0.987654,
            Landmarks(((1.04, 2.0), (3.0, 4.0), (5.0, 6.0), (7.0, 8.0), (9.0, 10.06))),
            Pose(-12.34, 5.67, 0.05), "hog")


def plain(obj: object) -> bool:
    """Only JSON's own types, all the way down (tuples and numpy scalars are not)."""
    if isinstance(obj, dict):
        return all(isinstance(k, str) and plain(v) for k, v in obj.items())
    if isinstance(obj, list):
        return all(plain(v) for v in obj)
    return obj is None or type(obj) in (str, int, float, bool)


def test_face() -> None:
    d = FACE.to_dict()
    assert d == {"box": [10.0, 20.1, 30.0, 40.5], "score": 0.9877,
                 "landmarks": [[1.0, 2.0], [3.0, 4.0], [5.0, 6.0], [7.0, 8.0], [9.0, 10.1]],
                 "pose": {"yaw": -12.3, "pitch": 5.7, "roll": 0.1}}
    assert plain(d)
    assert Face(Box(0, 0, 1, 1), np.float32(0.5)).to_dict()["landmarks"] is None
    assert plain(Face(Box(0, 0, 1, 1), np.float32(0.5)).to_dict())


def test_comparison() -> None:
    d = Comparison(0.41234567, 0.6, "euclidean").to_dict()
    assert d == {"distance": 0.412346, "threshold": 0.6, "metric": "euclidean", "same": True}
    assert Comparison(0.7, 0.6, "euclidean").to_dict()["same"] is False


def test_match() -> None:
    d = Match("Ada", np.float32(0.123456), 3, 17).to_dict()
    assert d == {"name": "Ada", "group_id": "default", "distance": 0.1235, "person_id": 3,
                 "face_id": 17, "face_token": ""}
    assert plain(d)


def test_identification_known_unknown_and_empty() -> None:
    near, far = Match("Ada", 0.31237, 1, 1), Match("Bob", 0.72, 2, 5)
    known = Identification(FACE, (near, far), 0.6, "euclidean").to_dict()
    assert known == {"box": [10.0, 20.1, 30.0, 40.5], "name": "Ada", "group": "default",
                     "distance": 0.3124,
                     "threshold": 0.6, "metric": "euclidean",
                     "candidates": [near.to_dict(), far.to_dict()]}
    unknown = Identification(FACE, (far,), 0.6, "euclidean").to_dict(candidates=False)
    assert unknown["name"] is None and unknown["distance"] == 0.72
    assert "candidates" not in unknown
    empty = Identification(FACE, (), 0.6, "euclidean").to_dict()
    assert empty["name"] is None and empty["distance"] is None and empty["candidates"] == []
    assert all(plain(d) for d in (known, unknown, empty))


def test_person_and_stored_face() -> None:
    person = Person(4, "Ada", {"role": "engineer"}, 2)
    assert person.to_dict() == {"id": 4, "name": "Ada", "faces": 2,
                                "metadata": {"role": "engineer"}}
    stored = StoredFace(9, 4, "dlib-resnet", "ada.jpg", Box(1.04, 2.0, 3.0, 4.0),
                        "2026-01-01 10:00:00")
    assert stored.to_dict() == {"id": 9, "person_id": 4, "embedder": "dlib-resnet",
                                "source": "ada.jpg", "box": [1.0, 2.0, 3.0, 4.0],
                                "created": "2026-01-01 10:00:00", "face_token": "",
                                "quality": None}
    assert StoredFace(1, 1, "lbp", None, None, "x").to_dict()["box"] is None


def test_records_of_a_real_gallery_are_json_ready(astronaut: np.ndarray,
                                                   tmp_path: Path) -> None:
    from faceprint.gallery.sqlite import SqliteGallery
    from faceprint.pipeline import Pipeline

    pipe = Pipeline("hog")
    with SqliteGallery(tmp_path / "g.db") as gallery:
        pipe.enroll(gallery, "Eileen_Collins", [astronaut], metadata={"flights": "4"})
        [person] = gallery.people()
        [stored] = gallery.faces("Eileen_Collins")
        found = pipe.identify(astronaut, gallery, k=1)
    ident = max(found, key=lambda i: i.face.box.area)  # enrolment keeps the largest face
    records = {"person": person.to_dict(), "stored": stored.to_dict(),
               "ident": ident.to_dict(), "face": ident.face.to_dict()}
    assert all(plain(d) for d in records.values())
    back = json.loads(json.dumps(records))
    assert back["person"]["faces"] == 1 and back["person"]["metadata"] == {"flights": "4"}
    assert back["stored"]["box"] == back["face"]["box"] == back["ident"]["box"]
    assert back["ident"]["name"] == "Eileen_Collins" and back["ident"]["distance"] < 0.01
    assert back["ident"]["candidates"][0]["face_id"] == stored.id
