"""The cloud face API v3's own Python SDK (baidu-aip's AipFace), unchanged but for its
URL constants pointed at ``faceprint serve`` (a real subprocess on 127.0.0.1), on real
LFW photos: detect, user add, search, match, face list, face delete, user delete."""

from __future__ import annotations

import base64
from pathlib import Path
from typing import Any

import pytest

from serve_process import Server, create_key, serving

aip = pytest.importorskip("aip")

pytestmark = pytest.mark.data


def sdk(server: Server, key: dict[str, str]) -> Any:
    client = aip.AipFace("faceprint", key["api_key"], key["secret_key"])
    for name in list(vars(type(client))) + list(vars(aip.base.AipBase)):
        value = getattr(client, name, None)
        if isinstance(value, str) and value.startswith("https://aip.baidubce.com/"):
            setattr(client, name, server.base + value[len("https://aip.baidubce.com"):])
    return client


def b64(path: Path) -> str:
    return base64.b64encode(path.read_bytes()).decode()


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Any:
    db = tmp_path_factory.mktemp("cloud") / "gallery.sqlite"
    key = create_key(db, "staff,visitors")
    other = create_key(db, "elsewhere")
    with serving(db) as s:
        yield s, key, other


def test_sdk_end_to_end(server: Any, lfw_dir: Path) -> None:
    s, key, _ = server
    client = sdk(s, key)
    people = lfw_dir / "images"
    bush1, bush2 = (people / "George_W_Bush" / f"George_W_Bush_000{i}.jpg" for i in (1, 2))
    powell1, powell2 = (people / "Colin_Powell" / f"Colin_Powell_000{i}.jpg" for i in (1, 2))
    blair = people / "Tony_Blair" / "Tony_Blair_0001.jpg"

    det = client.detect(b64(bush1), "BASE64", {"face_field": "angle,landmark,landmark72",
                                               "max_face_num": 3})
    assert det["error_code"] == 0, det
    assert det["result"]["face_num"] >= 1
    face = det["result"]["face_list"][0]
    loc = face["location"]
    assert 60 < loc["left"] < 130 and 60 < loc["top"] < 130 and 60 < loc["width"] < 140
    assert set(face["angle"]) == {"yaw", "pitch", "roll"}
    assert len(face["landmark"]) == 4 and len(face["landmark72"]) == 68
    assert set(det) >= {"error_code", "error_msg", "log_id", "timestamp", "cached", "result"}
    attrs = client.detect(b64(bush1), "BASE64", {"face_field": "age,gender,emotion,quality"})
    assert attrs["error_code"] == 0, attrs
    face = attrs["result"]["face_list"][0]
    assert face["gender"]["type"] == "male" and face["gender"]["probability"] > 0.5
    assert 20 <= face["age"] <= 90  # George W. Bush was in his fifties in LFW's photos
    assert face["emotion"]["type"] in {"angry", "disgust", "fear", "happy", "sad",
                                       "surprise", "neutral"}
    assert 0 <= face["quality"]["blur"] <= 1 and face["quality"]["completeness"] in (0, 1)

    assert client.groupAdd("staff")["error_code"] == 0
    add = client.addUser(b64(bush1), "BASE64", "staff", "bush", {"user_info": "GWB"})
    assert add["error_code"] == 0, add
    assert client.addUser(b64(powell1), "BASE64", "staff", "powell")["error_code"] == 0

    found = client.search(b64(bush2), "BASE64", "staff")
    assert found["error_code"] == 0, found
    top = found["result"]["user_list"][0]
    assert top["user_id"] == "bush" and top["user_info"] == "GWB" and top["score"] >= 80
    found = client.search(b64(powell2), "BASE64", "staff", {"max_user_num": 2,
                                                           "match_threshold": 0})
    assert [u["user_id"] for u in found["result"]["user_list"]] == ["powell", "bush"]
    stranger = client.search(b64(blair), "BASE64", "staff")
    assert stranger["error_code"] == 222207, stranger

    same = client.match([{"image": b64(bush1), "image_type": "BASE64"},
                         {"image": b64(bush2), "image_type": "BASE64"}])
    other = client.match([{"image": b64(bush1), "image_type": "BASE64"},
                          {"image": b64(powell1), "image_type": "BASE64"}])
    assert same["error_code"] == 0 and other["error_code"] == 0, (same, other)
    assert same["result"]["score"] >= 80 > other["result"]["score"]
    # a detect face token works as FACE_TOKEN input
    by_token = client.match([{"image": face["face_token"], "image_type": "FACE_TOKEN"},
                             {"image": b64(bush2), "image_type": "BASE64"}])
    assert by_token["error_code"] == 0 and by_token["result"]["score"] >= 80, by_token

    faces = client.faceGetlist("bush", "staff")
    assert faces["error_code"] == 0
    tokens = [f["face_token"] for f in faces["result"]["face_list"]]
    assert tokens == [add["result"]["face_token"]]
    assert client.getUser("bush", "staff")["result"]["user_list"][0]["group_id"] == "staff"
    assert client.getGroupUsers("staff")["result"]["user_id_list"] == ["bush", "powell"]
    assert "staff" in client.getGroupList()["result"]["group_id_list"]
    assert client.faceDelete("bush", "staff", tokens[0])["error_code"] == 0
    assert client.faceGetlist("bush", "staff")["result"]["face_list"] == []
    assert client.faceDelete("bush", "staff", tokens[0])["error_code"] == 223106
    assert client.deleteUser("staff", "bush")["error_code"] == 0
    assert client.getUser("bush", "staff")["error_code"] == 223103
    url = client.detect("http://example.com/a.jpg", "URL")
    assert url["error_code"] == 222015 and "never fetches" in url["error_msg"]
    live = client.detect(b64(bush1), "BASE64", {"liveness_control": "NORMAL"})
    assert live["error_code"] == 223119


def test_sdk_tenancy(server: Any, lfw_dir: Path) -> None:
    s, _key, other = server
    client = sdk(s, other)
    image = b64(lfw_dir / "images" / "George_W_Bush" / "George_W_Bush_0001.jpg")
    denied = client.addUser(image, "BASE64", "staff", "intruder")
    assert denied["error_code"] == 6, denied
    assert client.search(image, "BASE64", "staff")["error_code"] == 6
    assert client.getGroupUsers("staff")["error_code"] == 6
    assert "staff" not in client.getGroupList()["result"]["group_id_list"]
    bad = aip.AipFace("faceprint", "0" * 32, "nope")
    for name in list(vars(type(bad))) + list(vars(aip.base.AipBase)):
        value = getattr(bad, name, None)
        if isinstance(value, str) and value.startswith("https://aip.baidubce.com/"):
            setattr(bad, name, s.base + value[len("https://aip.baidubce.com"):])
    assert bad.detect(image, "BASE64")["error_code"] in (100, 110)


def test_sdk_quality_control_refuses_a_blurred_enrolment(server: Any, lfw_dir: Path,
                                                         tmp_path: Path) -> None:
    """quality_control applies faceprint's quality verdict: a sharp photo is enrolled, the
    same photo blurred is refused with the cloud API's "face is fuzzy" code and nothing
    is stored."""
    import cv2

    s, key, _ = server
    client = sdk(s, key)
    sharp = lfw_dir / "images" / "Colin_Powell" / "Colin_Powell_0003.jpg"
    image = cv2.imread(str(sharp))
    blurred = tmp_path / "blurred.jpg"
    cv2.imwrite(str(blurred), cv2.GaussianBlur(image, (0, 0), 6))
    client.groupAdd("visitors")
    ok = client.addUser(b64(sharp), "BASE64", "visitors", "powell_q",
                        {"quality_control": "NORMAL"})
    assert ok["error_code"] == 0, ok
    refused = client.addUser(b64(blurred), "BASE64", "visitors", "powell_blurred",
                             {"quality_control": "NORMAL"})
    assert refused["error_code"] == 223114, refused
    assert "blurred" in refused["error_msg"]
    assert client.getUser("powell_blurred", "visitors")["error_code"] == 223103
