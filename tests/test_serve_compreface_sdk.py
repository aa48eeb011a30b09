"""CompreFace's own Python SDK (compreface-sdk), unchanged, against ``faceprint serve``
(a real subprocess on 127.0.0.1), on real LFW photos: subjects, examples, recognition,
detection, verification; and the shape's 401/403 answers."""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

import pytest

from serve_process import create_key, revoke_key, serving

compreface = pytest.importorskip("compreface")

pytestmark = pytest.mark.data


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Any:
    db = tmp_path_factory.mktemp("cf") / "gallery.sqlite"
    keys = {"office": create_key(db, "office"), "detect_only": create_key(db, "office", "detect"),
            "other": create_key(db, "lab"), "revoked": create_key(db, "office")}
    revoke_key(db, keys["revoked"]["api_key"])
    with serving(db) as s:
        yield s, keys


def people(lfw_dir: Path, name: str, i: int) -> str:
    return str(lfw_dir / "images" / name / f"{name}_{i:04d}.jpg")


def test_sdk_end_to_end(server: Any, lfw_dir: Path) -> None:
    s, keys = server
    cf = compreface.CompreFace("http://127.0.0.1", str(s.port))
    rec = cf.init_face_recognition(keys["office"]["api_key"])
    subjects = rec.get_subjects()
    assert subjects.add("Colin Powell") == {"subject": "Colin Powell"}
    faces = rec.get_face_collection()
    a = faces.add(people(lfw_dir, "George_W_Bush", 1), "George")
    assert a["subject"] == "George" and len(a["image_id"]) == 32, a
    b = faces.add(people(lfw_dir, "Colin_Powell", 1), "Colin Powell")
    assert b["subject"] == "Colin Powell", b
    assert sorted(subjects.list()["subjects"]) == ["Colin Powell", "George"]
    listed = faces.list()
    assert {f["image_id"] for f in listed["faces"]} == {a["image_id"], b["image_id"]}

    got = rec.recognize(people(lfw_dir, "George_W_Bush", 2),
                        {"prediction_count": 2, "face_plugins": "landmarks,calculator",
                         "status": "true"})
    face = got["result"][0]
    assert face["subjects"][0]["subject"] == "George", got
    assert face["subjects"][0]["similarity"] >= 0.8 > face["subjects"][1]["similarity"]
    assert len(face["landmarks"]) == 5 and len(face["embedding"]) == 128
    assert set(face["box"]) == {"probability", "x_min", "y_min", "x_max", "y_max"}

    same = faces.verify(people(lfw_dir, "George_W_Bush", 3), a["image_id"])
    assert same["result"][0]["similarity"] >= 0.8, same
    diff = faces.verify(people(lfw_dir, "Tony_Blair", 1), a["image_id"])
    assert diff["result"][0]["similarity"] < 0.8, diff

    det = cf.init_face_detection(keys["office"]["api_key"]).detect(
        people(lfw_dir, "Tony_Blair", 1), {"limit": 1, "det_prob_threshold": 0.5})
    assert len(det["result"]) == 1 and det["result"][0]["box"]["x_max"] > 100, det
    ver = cf.init_face_verification(keys["office"]["api_key"]).verify(
        people(lfw_dir, "Colin_Powell", 2), people(lfw_dir, "Colin_Powell", 3))
    assert ver["result"][0]["face_matches"][0]["similarity"] >= 0.8, ver

    assert subjects.update("Colin Powell", "Powell") == {"updated": True}
    assert "Powell" in subjects.list()["subjects"]
    assert faces.delete(b["image_id"]) == {"image_id": b["image_id"], "subject": "Powell"}
    assert faces.delete_all("George") == {"deleted": 1}
    assert subjects.delete("Powell") == {"subject": "Powell"}
    assert subjects.delete_all() == {"deleted": 1}
    assert subjects.list() == {"subjects": []}


def _status(s: Any, path: str, key: str | None, method: str = "GET") -> tuple[int, Any]:
    req = urllib.request.Request(s.base + path, method=method,
                                 headers={"x-api-key": key} if key is not None else {})
    try:
        with urllib.request.urlopen(req, timeout=60) as r:
            return r.status, json.load(r)
    except urllib.error.HTTPError as e:
        return e.code, json.load(e)


def test_keys_and_tenancy(server: Any, lfw_dir: Path) -> None:
    s, keys = server
    for key in (None, "", "not-a-key", keys["revoked"]["api_key"]):
        code, body = _status(s, "/api/v1/recognition/subjects", key)
        assert code == 401 and set(body) == {"message", "code"}, (key, code, body)
    code, body = _status(s, "/api/v1/recognition/subjects", keys["detect_only"]["api_key"])
    assert code == 403, body
    cf = compreface.CompreFace("http://127.0.0.1", str(s.port))
    rec = cf.init_face_recognition(keys["office"]["api_key"])
    rec.get_face_collection().add(people(lfw_dir, "George_W_Bush", 1), "George")
    other = cf.init_face_recognition(keys["other"]["api_key"])
    assert other.get_subjects().list() == {"subjects": []}  # its own group only
    got = other.recognize(people(lfw_dir, "George_W_Bush", 2))
    assert got["result"][0]["subjects"] == [], got
    image_id = rec.get_face_collection().list()["faces"][0]["image_id"]
    code, _ = _status(s, f"/api/v1/recognition/faces/{image_id}", keys["other"]["api_key"],
                      "DELETE")
    assert code == 404
    assert len(rec.get_face_collection().list()["faces"]) == 1
