"""Tenancy and authentication on every endpoint of both shapes, against a real
``faceprint serve`` subprocess: the cloud shape answers 100 / 110 / 111 for a
missing / invalid / expired access token and 6 for an operation outside the key's
scopes or groups; CompreFace's answers 401 and 403. Nothing a denied request asked
for is changed."""

from __future__ import annotations

import base64
import json
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

import pytest

from serve_process import create_key, revoke_key, serving

pytest.importorskip("fastapi")
pytestmark = pytest.mark.data


def post(base: str, path: str, body: Any = None, headers: dict[str, str] | None = None,
         method: str = "POST", raw: bytes | None = None) -> tuple[int, Any]:
    data = raw if raw is not None else (None if body is None else json.dumps(body).encode())
    req = urllib.request.Request(base + path, data=data, method=method,
                                 headers={"Content-Type": "application/json", **(headers or {})})
    try:
        with urllib.request.urlopen(req, timeout=120) as r:
            return r.status, json.load(r)
    except urllib.error.HTTPError as e:
        return e.code, json.load(e)


def token(base: str, key: dict[str, str]) -> str:
    code, body = post(base, f"/oauth/2.0/token?grant_type=client_credentials&client_id="
                            f"{key['api_key']}&client_secret={key['secret_key']}")
    assert code == 200, body
    assert body["expires_in"] > 0 and "brain_all_scope" in body["scope"].split()
    return str(body["access_token"])


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory, lfw_dir: Path) -> Any:
    db = tmp_path_factory.mktemp("tenancy") / "gallery.sqlite"
    keys = {"owner": create_key(db, "staff,staff2"), "stranger": create_key(db, "lab"),
            "detector": create_key(db, "staff", "detect"),
            "revoked": create_key(db, "staff")}
    image = base64.b64encode((lfw_dir / "images" / "George_W_Bush" /
                              "George_W_Bush_0001.jpg").read_bytes()).decode()
    with serving(db) as s:
        tok = {name: token(s.base, k) for name, k in keys.items()}
        revoke_key(db, keys["revoked"]["api_key"])
        from faceprint.serve.keys import KeyStore

        store = KeyStore(str(db) + ".keys")
        tok["expired"] = store.issue_token(store.by_api_key(keys["owner"]["api_key"]), -5)
        store.close()
        v3 = "/rest/2.0/face/v3"
        owner = f"?access_token={tok['owner']}"
        assert post(s.base, v3 + "/faceset/group/add" + owner, {"group_id": "staff"})[0] == 200
        assert post(s.base, v3 + "/faceset/group/add" + owner, {"group_id": "staff2"})[0] == 200
        code, added = post(s.base, v3 + "/faceset/user/add" + owner,
                           {"image": image, "image_type": "BASE64", "group_id": "staff",
                            "user_id": "bush"})
        assert code == 200, added
        yield s, keys, tok, image, added["result"]["face_token"]


def cloud_calls(image: str, face: str) -> list[tuple[str, Any, str]]:
    """(path, body, scope needed) of every cloud endpoint, on the group "staff"."""
    img = {"image": image, "image_type": "BASE64"}
    return [
        ("/detect", img, "detect"),
        ("/search", {**img, "group_id_list": "staff"}, "search"),
        ("/multi-search", {**img, "group_id_list": "staff"}, "search"),
        ("/match", [{"image": face, "image_type": "FACE_TOKEN"}, img], "search"),
        ("/faceset/user/add", {**img, "group_id": "staff", "user_id": "x"}, "manage"),
        ("/faceset/user/update", {**img, "group_id": "staff", "user_id": "bush"}, "manage"),
        ("/faceset/user/get", {"group_id": "staff", "user_id": "bush"}, "search"),
        ("/faceset/user/copy", {"user_id": "bush", "src_group_id": "staff",
                                "dst_group_id": "staff2"}, "manage"),
        ("/faceset/user/delete", {"group_id": "staff", "user_id": "bush"}, "manage"),
        ("/faceset/face/delete", {"group_id": "staff", "user_id": "bush", "face_token": face},
         "manage"),
        ("/faceset/face/getlist", {"group_id": "staff", "user_id": "bush"}, "search"),
        ("/faceset/group/add", {"group_id": "staff"}, "manage"),
        ("/faceset/group/delete", {"group_id": "staff"}, "manage"),
        ("/faceset/group/getusers", {"group_id": "staff"}, "search"),
        ("/faceset/group/getlist", {}, "search"),
    ]


def test_cloud_shape_every_endpoint(world: Any) -> None:
    s, _keys, tok, image, face = world
    v3 = "/rest/2.0/face/v3"
    for path, body, scope in cloud_calls(image, face):
        for query, want in (("", 100), ("?access_token=", 100), ("?access_token=fp1.x.y.z.w", 110),
                            (f"?access_token={tok['revoked']}", 110),
                            (f"?access_token={tok['expired']}", 111)):
            code, got = post(s.base, v3 + path + query, body)
            assert (code, got["error_code"]) == (401, want), (path, query, got)
            assert set(got) == {"error_code", "error_msg", "log_id", "timestamp", "cached",
                                "result"}
        if path != "/detect":  # the stranger's groups do not include staff
            if path == "/faceset/group/getlist":
                code, got = post(s.base, v3 + path + f"?access_token={tok['stranger']}", body)
                assert code == 200 and "staff" not in got["result"]["group_id_list"]
            elif path == "/match":  # another tenant's face token does not exist for it
                code, got = post(s.base, v3 + path + f"?access_token={tok['stranger']}", body)
                assert (code, got["error_code"]) == (404, 222209), (path, got)
            else:
                code, got = post(s.base, v3 + path + f"?access_token={tok['stranger']}", body)
                assert (code, got["error_code"]) == (403, 6), (path, got)
        if scope != "detect":
            code, got = post(s.base, v3 + path + f"?access_token={tok['detector']}", body)
            assert (code, got["error_code"]) == (403, 6), (path, got)
    # nothing was changed by the denied calls
    owner = f"?access_token={tok['owner']}"
    code, got = post(s.base, v3 + "/faceset/face/getlist" + owner,
                     {"group_id": "staff", "user_id": "bush"})
    assert [f["face_token"] for f in got["result"]["face_list"]] == [face]
    code, got = post(s.base, v3 + "/faceset/group/getusers" + owner, {"group_id": "staff2"})
    assert got["result"]["user_id_list"] == []


def test_compreface_shape_every_endpoint(world: Any) -> None:
    s, keys, _tok, image, face = world
    calls = [("POST", "/api/v1/recognition/recognize", {"file": image}, "search"),
             ("POST", "/api/v1/detection/detect", {"file": image}, "detect"),
             ("POST", "/api/v1/verification/verify", {"source_image": image,
                                                      "target_image": image}, "search"),
             ("POST", "/api/v1/recognition/faces?subject=x", {"file": image}, "manage"),
             ("GET", "/api/v1/recognition/faces", None, "search"),
             ("DELETE", "/api/v1/recognition/faces?subject=bush", None, "manage"),
             ("DELETE", f"/api/v1/recognition/faces/{face}", None, "manage"),
             ("POST", f"/api/v1/recognition/faces/{face}/verify", {"file": image}, "search"),
             ("POST", "/api/v1/recognition/subjects", {"subject": "y"}, "manage"),
             ("GET", "/api/v1/recognition/subjects", None, "search"),
             ("PUT", "/api/v1/recognition/subjects/bush", {"subject": "z"}, "manage"),
             ("DELETE", "/api/v1/recognition/subjects/bush", None, "manage"),
             ("DELETE", "/api/v1/recognition/subjects", None, "manage")]
    for method, path, body, scope in calls:
        for headers in ({}, {"x-api-key": "nope"}, {"x-api-key": keys["revoked"]["api_key"]}):
            code, got = post(s.base, path, body, headers, method)
            assert code == 401 and set(got) == {"message", "code"}, (path, headers, got)
        if scope != "detect":
            code, got = post(s.base, path, body, {"x-api-key": keys["detector"]["api_key"]},
                             method)
            assert code == 403, (path, got)
    # the stranger's service is its own group "lab": it sees none of staff
    stranger = {"x-api-key": keys["stranger"]["api_key"]}
    assert post(s.base, "/api/v1/recognition/subjects", None, stranger, "GET")[1] == \
        {"subjects": []}
    code, _ = post(s.base, f"/api/v1/recognition/faces/{face}", None, stranger, "DELETE")
    assert code == 404
    code, got = post(s.base, f"/api/v1/recognition/faces/{face}/verify", {"file": image},
                     stranger)
    assert code == 404, got
    owner = {"x-api-key": keys["owner"]["api_key"]}
    code, got = post(s.base, "/api/v1/recognition/faces", None, owner, "GET")
    assert [f["image_id"] for f in got["faces"]] == [face]
