"""What the web console needs of the service, against a real ``faceprint serve``
subprocess and real LFW photos: distances and the threshold beside the scores
(search, multi-search, match), faceprint's five landmarks in detect
(``landmark5``), a stored thumbnail per enrolled face (``faceset/face/getlist``),
an atomic rename (``faceprint/user/rename``) and the API keys of the signed-in
key's groups (``faceprint/key/getlist|add|delete``, with 401/403)."""

from __future__ import annotations

import base64
import io
import sqlite3
from pathlib import Path
from typing import Any

import pytest

from serve_process import create_key, serving
from test_serve_tenancy import post, token

pytest.importorskip("fastapi")
pytestmark = pytest.mark.data
V3 = "/rest/2.0/face/v3"


def b64(path: Path) -> str:
    return base64.b64encode(path.read_bytes()).decode()


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory, lfw_dir: Path) -> Any:
    db = tmp_path_factory.mktemp("console_api") / "gallery.sqlite"
    keys = {"owner": create_key(db, "staff,staff2"), "lab": create_key(db, "lab"),
            "all": create_key(db, "*"), "staff": create_key(db, "staff", "detect,search"),
            "narrow": create_key(db, "staff", "detect,manage")}
    img = lfw_dir / "images"
    photos = {"bush1": b64(img / "George_W_Bush" / "George_W_Bush_0001.jpg"),
              "bush2": b64(img / "George_W_Bush" / "George_W_Bush_0002.jpg"),
              "other": b64(img / "Aaron_Eckhart" / "Aaron_Eckhart_0001.jpg")}
    with serving(db) as s:
        tok = {name: token(s.base, k) for name, k in keys.items()}

        def call(path: str, body: Any, who: str = "owner") -> tuple[int, Any]:
            return post(s.base, V3 + path + f"?access_token={tok[who]}", body)

        for g in ("staff", "staff2"):
            assert call("/faceset/group/add", {"group_id": g})[0] == 200
        for uid, photo in (("bush", "bush1"), ("aaron", "other")):
            code, got = call("/faceset/user/add", {"image": photos[photo], "image_type":
                                                   "BASE64", "group_id": "staff",
                                                   "user_id": uid, "user_info": uid.upper()})
            assert code == 200, got
        yield s, db, keys, tok, photos, call


def test_distances_beside_scores(world: Any) -> None:
    from faceprint.serve.service import score_from_distance

    _s, _db, _keys, _tok, photos, call = world
    code, got = call("/search", {"image": photos["bush2"], "image_type": "BASE64",
                                 "group_id_list": "staff", "max_user_num": 2,
                                 "match_threshold": 0})
    assert code == 200, got
    users = got["result"]["user_list"]
    assert [u["user_id"] for u in users] == ["bush", "aaron"]
    for u in users:
        assert set(u) >= {"score", "distance", "threshold", "metric"}
        assert u["score"] == pytest.approx(score_from_distance(u["distance"], u["threshold"]),
                                           abs=1e-3)
    bush, aaron = users
    assert bush["distance"] < bush["threshold"] < aaron["distance"]
    code, multi = call("/multi-search", {"image": photos["bush2"], "image_type": "BASE64",
                                         "group_id_list": "staff", "match_threshold": 0})
    assert code == 200, multi
    [face] = multi["result"]["face_list"]
    assert face["user_list"][0]["distance"] == pytest.approx(bush["distance"], abs=1e-5)
    pair = [{"image": photos["bush1"], "image_type": "BASE64"},
            {"image": photos["bush2"], "image_type": "BASE64"}]
    code, match = call("/match", pair)
    assert code == 200, match
    m = match["result"]
    assert m["metric"] == bush["metric"] and m["threshold"] == bush["threshold"]
    # the enrolled face is bush1, so match(bush1, bush2) is the search's own distance
    assert m["distance"] == pytest.approx(bush["distance"], abs=1e-5)
    assert m["score"] == pytest.approx(score_from_distance(m["distance"], m["threshold"]),
                                       abs=1e-3)


def test_five_landmarks_beside_the_four(world: Any) -> None:
    _s, _db, _keys, _tok, photos, call = world
    code, got = call("/detect", {"image": photos["bush1"], "image_type": "BASE64",
                                 "face_field": "landmark"})
    assert code == 200, got
    [face] = got["result"]["face_list"]
    four, five = face["landmark"], face["landmark5"]
    assert len(four) == 4 and len(five) == 5
    assert four[:3] == five[:3]
    for axis in ("x", "y"):  # the cloud shape's 4th point is the mouth corners' middle
        assert four[3][axis] == pytest.approx((five[3][axis] + five[4][axis]) / 2, abs=0.02)
    assert five[3]["x"] < five[4]["x"]  # two distinct corners, left to right
    box = face["location"]
    for p in five:
        assert box["left"] <= p["x"] <= box["left"] + box["width"]
        assert box["top"] <= p["y"] <= box["top"] + box["height"]


def test_thumbnails_stored_listed_copied_exported(world: Any, tmp_path: Path) -> None:
    from PIL import Image

    s, db, keys, _tok, photos, call = world
    code, got = call("/faceset/face/getlist", {"group_id": "staff", "user_id": "bush"})
    assert code == 200, got
    [face] = got["result"]["face_list"]
    jpeg = base64.b64decode(face["thumbnail"])
    assert jpeg[:3] == b"\xff\xd8\xff" and len(jpeg) < 8000
    picture = Image.open(io.BytesIO(jpeg))
    assert picture.format == "JPEG" and max(picture.size) <= 96 and min(picture.size) >= 48
    # CompreFace's add-example stores one too (the owner's service is its first group)
    code, added = post(s.base, "/api/v1/recognition/faces?subject=cf_bush",
                       {"file": photos["bush2"]}, {"x-api-key": keys["owner"]["api_key"]})
    assert code == 201, added
    code, cf = call("/faceset/face/getlist", {"group_id": "staff", "user_id": "cf_bush"})
    assert base64.b64decode(cf["result"]["face_list"][0]["thumbnail"])[:3] == b"\xff\xd8\xff"
    assert call("/faceset/user/delete", {"group_id": "staff", "user_id": "cf_bush"})[0] == 200
    # a copied user keeps the pictures (under the new face tokens)
    assert call("/faceset/user/copy", {"user_id": "bush", "src_group_id": "staff",
                                       "dst_group_id": "staff2"})[0] == 200
    code, copied = call("/faceset/face/getlist", {"group_id": "staff2", "user_id": "bush"})
    [cface] = copied["result"]["face_list"]
    assert cface["face_token"] != face["face_token"] and cface["thumbnail"] == face["thumbnail"]
    assert call("/faceset/user/delete", {"group_id": "staff2", "user_id": "bush"})[0] == 200
    with sqlite3.connect(f"file:{db}?mode=ro", uri=True) as conn:  # the cascade removed it
        faces, thumbs = conn.execute("SELECT (SELECT COUNT(*) FROM faces), "
                                     "(SELECT COUNT(*) FROM thumbnails)").fetchone()
    conn.close()
    assert faces == thumbs == 2
    # export / import carry them, bit for bit
    pytest.importorskip("pyarrow")
    from faceprint.gallery import open_gallery
    from faceprint.gallery.transfer import export_parquet, import_parquet

    with open_gallery(db, index=None) as g:
        export_parquet(g, tmp_path / "out.parquet")
        before = g.thumbnails([r.id for r in g.list_faces("bush", group="staff")])
    with open_gallery(tmp_path / "copy.sqlite", index=None) as g2:
        import_parquet(g2, tmp_path / "out.parquet")
        after = g2.thumbnails([r.id for r in g2.list_faces("bush", group="staff")])
    assert list(before.values()) == list(after.values()) == [jpeg]


def test_rename_is_one_transaction(world: Any) -> None:
    _s, _db, _keys, _tok, _photos, call = world
    code, before = call("/faceset/face/getlist", {"group_id": "staff", "user_id": "aaron"})
    tokens = [f["face_token"] for f in before["result"]["face_list"]]
    # user_info is written first, then the new id collides: nothing of it stays
    code, got = call("/faceprint/user/rename", {"group_id": "staff", "user_id": "aaron",
                                                "new_user_id": "bush", "user_info": "CHANGED"})
    assert (code, got["error_code"]) == (409, 223102), got
    code, info = call("/faceset/user/get", {"group_id": "staff", "user_id": "aaron"})
    assert code == 200 and info["result"]["user_list"][0]["user_info"] == "AARON"
    code, bush = call("/faceset/user/get", {"group_id": "staff", "user_id": "bush"})
    assert bush["result"]["user_list"][0]["user_info"] == "BUSH"
    code, after = call("/faceset/face/getlist", {"group_id": "staff", "user_id": "aaron"})
    assert [f["face_token"] for f in after["result"]["face_list"]] == tokens
    # a rename keeps the faces and their tokens
    code, got = call("/faceprint/user/rename", {"group_id": "staff", "user_id": "aaron",
                                                "new_user_id": "eckhart", "user_info": "A. E."})
    assert code == 200 and got["result"] == {"group_id": "staff", "user_id": "eckhart",
                                             "user_info": "A. E."}, got
    code, moved = call("/faceset/face/getlist", {"group_id": "staff", "user_id": "eckhart"})
    assert [f["face_token"] for f in moved["result"]["face_list"]] == tokens
    code, gone = call("/faceset/user/get", {"group_id": "staff", "user_id": "aaron"})
    assert (code, gone["error_code"]) == (404, 223103)
    code, got = call("/faceprint/user/rename", {"group_id": "staff", "user_id": "eckhart"})
    assert (code, got["error_code"]) == (400, 222001)
    code, got = call("/faceprint/user/rename", {"group_id": "staff", "user_id": "eckhart",
                                                "new_user_id": "x"}, "staff")  # no manage
    assert (code, got["error_code"]) == (403, 6)
    code, got = call("/faceprint/user/rename", {"group_id": "staff", "user_id": "eckhart",
                                                "new_user_id": "x"}, "lab")  # not its group
    assert (code, got["error_code"]) == (403, 6)


def test_keys_of_the_signed_in_keys_groups(world: Any) -> None:
    s, _db, keys, tok, _photos, call = world
    code, got = call("/faceprint/key/getlist", {})
    assert code == 200, got
    listed = {k["key_id"] for k in got["result"]["key_list"]}
    ids = {name: k["key_id"] for name, k in keys.items()}
    assert listed == {ids["owner"], ids["staff"], ids["narrow"]}  # not lab's, not "*"
    for k in got["result"]["key_list"]:
        assert set(k) == {"key_id", "name", "groups", "scopes", "created", "revoked"}
    raw = str(got)
    assert not any(k["secret_key"] in raw or k["api_key"] in raw for k in keys.values())
    code, every = call("/faceprint/key/getlist", {}, "all")
    assert {k["key_id"] for k in every["result"]["key_list"]} >= set(ids.values())
    # not for a group it does not hold, not "*", not beyond its own scopes
    for body in ({"groups": "lab", "scopes": "detect"}, {"groups": "staff,lab",
                                                          "scopes": "detect"},
                 {"groups": "*", "scopes": "detect"}):
        code, got = call("/faceprint/key/add", body)
        assert (code, got["error_code"]) == (403, 6), (body, got)
    code, got = call("/faceprint/key/add", {"groups": "staff", "scopes": "search"}, "narrow")
    assert (code, got["error_code"]) == (403, 6), got
    code, got = call("/faceprint/key/getlist", {}, "staff")  # no manage scope
    assert (code, got["error_code"]) == (403, 6), got
    code, got = post(s.base, V3 + "/faceprint/key/getlist", {})
    assert (code, got["error_code"]) == (401, 100), got
    code, got = call("/faceprint/key/add", {"groups": "staff", "scopes": "fly"})
    assert (code, got["error_code"]) == (400, 216100), got
    # a new key: its secret once, it works, it is listed (without the secret), revoked
    code, got = call("/faceprint/key/add", {"groups": "staff2", "scopes": "detect,search",
                                            "name": "front desk"})
    assert code == 200, got
    new = got["result"]
    assert new["groups"] == ["staff2"] and new["scopes"] == ["detect", "search"]
    new_token = token(s.base, new)
    code, seen = post(s.base, V3 + f"/faceset/group/getlist?access_token={new_token}", {})
    assert seen["result"]["group_id_list"] == ["staff2"]
    code, got = call("/faceprint/key/getlist", {})
    [entry] = [k for k in got["result"]["key_list"] if k["key_id"] == new["key_id"]]
    assert entry["name"] == "front desk" and entry["revoked"] is None
    assert new["secret_key"] not in str(got)
    code, got = call("/faceprint/key/delete", {"key_id": ids["lab"]})  # not its group
    assert (code, got["error_code"]) == (403, 6), got
    code, got = post(s.base, V3 + f"/faceset/group/getlist?access_token={tok['lab']}", {})
    assert code == 200  # the lab key still works
    code, got = call("/faceprint/key/delete", {"key_id": new["key_id"]})
    assert code == 200 and got["result"]["revoked"], got
    code, got = post(s.base, V3 + f"/faceset/group/getlist?access_token={new_token}", {})
    assert (code, got["error_code"]) == (401, 110), got
    code, got = call("/faceprint/key/delete", {"key_id": new["key_id"]})
    assert (code, got["error_code"]) == (400, 216100), got  # revoked already
