"""1,000 hostile requests against ``faceprint serve`` (a real subprocess): truncated
images, decompression bombs, wrong base64, wrong types, huge and deep JSON, Unicode
and SQL-looking names, broken multipart. Every answer is a 4xx JSON error in the
shape of the API called; the server is alive afterwards and the gallery's content
(a hash of its SQL dump) is unchanged."""

from __future__ import annotations

import base64
import hashlib
import io
import json
import random
import sqlite3
import struct
import urllib.error
import urllib.request
import zlib
from pathlib import Path
from typing import Any

import pytest
from PIL import Image

from serve_process import create_key, serving

pytest.importorskip("fastapi")
pytestmark = pytest.mark.data

N = 1000
V3 = "/rest/2.0/face/v3"


def gallery_hash(db: Path) -> str:
    with sqlite3.connect(db) as conn:
        return hashlib.sha256("\n".join(conn.iterdump()).encode()).hexdigest()


def png_bomb(width: int, height: int) -> bytes:
    """A PNG header claiming a huge size, with a little zlib data."""
    def chunk(kind: bytes, data: bytes) -> bytes:
        return (struct.pack(">I", len(data)) + kind + data +
                struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF))
    ihdr = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)
    idat = zlib.compress(b"\0" * (width + 1) * 64, 9)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", idat) + \
        chunk(b"IEND", b"")


def request(base: str, method: str, path: str, body: bytes | None,
            headers: dict[str, str]) -> tuple[int, Any]:
    req = urllib.request.Request(base + path, data=body, method=method, headers=headers)
    try:
        with urllib.request.urlopen(req, timeout=120) as r:
            status, raw = r.status, r.read()
    except urllib.error.HTTPError as e:
        status, raw = e.code, e.read()
    try:
        return status, json.loads(raw)
    except ValueError:
        return status, raw[:200]


def quote(name: str) -> str:
    return urllib.request.quote(name.encode("utf-8", "surrogatepass"), safe="")


def multipart(fields: dict[str, bytes], boundary: str = "xYzZY") -> tuple[bytes, str]:
    out = io.BytesIO()
    for name, data in fields.items():
        out.write(f"--{boundary}\r\nContent-Disposition: form-data; name=\"{name}\"; "
                  f"filename=\"a.jpg\"\r\nContent-Type: image/jpeg\r\n\r\n".encode())
        out.write(data + b"\r\n")
    out.write(f"--{boundary}--\r\n".encode())
    return out.getvalue(), f"multipart/form-data; boundary={boundary}"


def hostile_cases(photo: bytes, rng: random.Random) -> list[tuple[str, str, Any, str]]:
    """(shape, path, payload, kind): payload is a dict/list (JSON), bytes (raw JSON body)
    or ("multipart", fields)."""
    b64 = base64.b64encode
    truncated = [photo[: rng.randint(10, len(photo) - 1)] for _ in range(40)]
    bombs = [png_bomb(30000, 30000), png_bomb(100000, 100000), png_bomb(1, 2 ** 31 - 1)]
    buf = io.BytesIO()
    Image.new("RGB", (1, 1)).save(buf, "GIF")
    tiny_gif = buf.getvalue()
    names = ["'; DROP TABLE users; --", "1 OR 1=1", "\" OR \"\"=\"", "robert'); --",
             "ü" * 300, "😀" * 80, "\u202egnp.exe", "\x00nul", "a\nb", " ", "../../etc/passwd",
             "%00", "\ud800", "名前" * 150]
    bad_b64 = ["@@@@", "====", "not base64 at all!", "\u00e9\u00e9", "QUJD" * 3 + "=",
               "data:image/jpeg;base64,/9j/", b64(b"plain text").decode(),
               b64(tiny_gif).decode()[:-3]]
    cases: list[tuple[str, str, Any, str]] = []
    for t in truncated:
        cases.append(("v3", "/detect", {"image": b64(t).decode(), "image_type": "BASE64"},
                      "truncated"))
        cases.append(("cf", "/api/v1/detection/detect", ("multipart", {"file": t}),
                      "truncated"))
        cases.append(("v3", "/faceset/user/add", {"image": b64(t).decode(),
                                                  "image_type": "BASE64", "group_id": "h",
                                                  "user_id": rng.choice(names)}, "truncated"))
    for bomb in bombs:
        cases.append(("v3", "/detect", {"image": b64(bomb).decode(), "image_type": "BASE64"},
                      "bomb"))
        cases.append(("cf", "/api/v1/recognition/recognize", ("multipart", {"file": bomb}),
                      "bomb"))
        cases.append(("cf", "/api/v1/detection/detect", {"file": b64(bomb).decode()}, "bomb"))
    for s in bad_b64:
        cases.append(("v3", "/detect", {"image": s, "image_type": "BASE64"}, "base64"))
        cases.append(("v3", "/search", {"image": s, "image_type": "BASE64",
                                        "group_id_list": "h"}, "base64"))
        cases.append(("cf", "/api/v1/recognition/recognize", {"file": s}, "base64"))
        cases.append(("cf", "/api/v1/verification/verify", {"source_image": s,
                                                            "target_image": s}, "base64"))
    wrong = [1, 1.5, None, True, [], {}, ["a"], {"a": 1}, "x" * 10]
    for w in wrong:
        cases.append(("v3", "/detect", {"image": w, "image_type": "BASE64"}, "types"))
        cases.append(("v3", "/detect", {"image": b64(photo).decode(), "image_type": w},
                      "types"))
        cases.append(("v3", "/detect", {"image": "x", "image_type": "BASE64",
                                        "max_face_num": w}, "types"))
        cases.append(("v3", "/search", {"image": "x", "image_type": "BASE64",
                                        "group_id_list": w}, "types"))
        cases.append(("v3", "/faceset/user/get", {"group_id": w, "user_id": w}, "types"))
        if w is not None and w != 1:  # (absent, or 1, are valid paging values)
            cases.append(("v3", "/faceset/group/getusers", {"group_id": "h", "start": w,
                                                            "length": w}, "types"))
        cases.append(("v3", "/match", [w, w], "types"))
        cases.append(("v3", "/match", w if isinstance(w, dict) else [w], "types"))
        if not isinstance(w, str):  # (a string is a valid subject name)
            cases.append(("cf", "/api/v1/recognition/subjects", {"subject": w}, "types"))
        cases.append(("cf", "/api/v1/recognition/recognize", {"file": w}, "types"))
    for raw in (b"[1,2", b"{", b"\xff\xfe\x00", b"null", b"\"str\"", b"12", b"[]", b"",
                b"{\"image\": \"" + b"A" * 2_000_000 + b"\"", b"{" + b"\"a\":1," * 100000 + b"}"):
        cases.append(("v3", "/detect", raw, "json"))
        cases.append(("v3", "/faceset/group/add", raw, "json"))
        cases.append(("cf", "/api/v1/recognition/subjects", raw, "json"))
    for depth in (1000, 50_000, 400_000):
        deep = b"[" * depth + b"]" * depth
        cases.append(("v3", "/detect", deep, "deep"))
        cases.append(("cf", "/api/v1/recognition/subjects", deep, "deep"))
        cases.append(("v3", "/faceset/user/add", b"{\"image\":" + b"{\"a\":" * depth +
                      b"1" + b"}" * depth + b"}", "deep"))
    huge = b"{\"image\": \"" + b"A" * (11 * 1024 * 1024) + b"\", \"image_type\": \"BASE64\"}"
    for _ in range(3):
        cases.append(("v3", "/detect", huge, "huge"))
        cases.append(("cf", "/api/v1/detection/detect", ("multipart", {"file": huge}), "huge"))
    for name in names:
        cases.append(("v3", "/faceset/user/get", {"group_id": "h", "user_id": name}, "names"))
        cases.append(("v3", "/faceset/user/delete", {"group_id": "h", "user_id": name},
                      "names"))
        cases.append(("v3", "/faceset/face/getlist", {"group_id": "h", "user_id": name},
                      "names"))
        cases.append(("v3", "/faceset/group/getusers", {"group_id": name}, "names"))
        cases.append(("v3", "/faceset/group/delete", {"group_id": name}, "names"))
        cases.append(("v3", "/faceset/face/delete", {"group_id": "h", "user_id": "alice",
                                                     "face_token": name}, "names"))
        cases.append(("v3", "/match", [{"image": name, "image_type": "FACE_TOKEN"}] * 2,
                      "names"))
        cases.append(("v3", "/faceset/user/copy", {"user_id": name, "src_group_id": "h",
                                                   "dst_group_id": name}, "names"))
        cases.append(("cf", "/api/v1/recognition/faces?subject=" +
                      quote(name), ("multipart", {"file": b"junk"}), "names"))
        cases.append(("cf", "DELETE /api/v1/recognition/subjects/" +
                      quote(name), None, "names"))
        cases.append(("cf", "DELETE /api/v1/recognition/faces/" +
                      quote(name), None, "names"))
        cases.append(("cf", "PUT /api/v1/recognition/subjects/" +
                      quote(name), {"subject": name}, "names"))
    for _ in range(20):
        junk = bytes(rng.getrandbits(8) for _ in range(rng.randint(0, 3000)))
        cases.append(("cf", "/api/v1/recognition/recognize", ("raw-multipart", junk),
                      "multipart"))
        cases.append(("cf", "/api/v1/recognition/recognize", ("multipart", {"wrong": photo}),
                      "multipart"))
        cases.append(("v3", "/detect", {"image": b64(junk).decode(), "image_type": "BASE64"},
                      "random"))
        cases.append(("v3", "/detect", {"image": "x", "image_type": "URL"}, "url"))
        cases.append(("v3", "/detect", {"image": b64(photo).decode(), "image_type": "BASE64",
                                        "face_field": "age,\u0000," + "x" * 2000}, "field"))
    cases = [c for c in cases if c[3] != "huge"] + [c for c in cases if c[3] == "huge"]
    while len(cases) < N:  # fill with random repeats of cheap cases
        cases.append(rng.choice([c for c in cases if c[3] in ("base64", "types", "names",
                                                              "json", "url")]))
    return cases[:N]


def announce_huge(port: int, path: str, api_key: str) -> tuple[int, Any]:
    """A request announcing an 11 MiB body: the 413 comes before any of it is sent."""
    import http.client

    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
    conn.putrequest("POST", path)
    conn.putheader("Content-Type", "application/json")
    conn.putheader("x-api-key", api_key)
    conn.putheader("Content-Length", str(11 * 1024 * 1024))
    conn.endheaders()
    r = conn.getresponse()
    out = r.status, json.loads(r.read())
    conn.close()
    return out


def test_thousand_hostile_uploads(tmp_path: Path, lfw_dir: Path) -> None:
    db = tmp_path / "gallery.sqlite"
    key = create_key(db, "h", "detect,search,manage")
    photo = (lfw_dir / "images" / "George_W_Bush" / "George_W_Bush_0001.jpg").read_bytes()
    rng = random.Random(2024)
    with serving(db, "--rate", "0") as s:
        _, tok = request(s.base, "GET", f"/oauth/2.0/token?grant_type=client_credentials"
                                        f"&client_id={key['api_key']}&client_secret="
                                        f"{key['secret_key']}", None, {})
        q = f"?access_token={tok['access_token']}"
        jh = {"Content-Type": "application/json"}
        assert request(s.base, "POST", V3 + "/faceset/group/add" + q,
                       json.dumps({"group_id": "h"}).encode(), jh)[1]["error_code"] == 0
        code, added = request(s.base, "POST", V3 + "/faceset/user/add" + q, json.dumps(
            {"image": base64.b64encode(photo).decode(), "image_type": "BASE64",
             "group_id": "h", "user_id": "alice"}).encode(), jh)
        assert code == 200, added
        before = gallery_hash(db)
        cases = hostile_cases(photo, rng)
        assert len(cases) == N
        kinds: dict[str, int] = {}
        for shape, path, payload, kind in cases:
            method = "POST"
            if " " in path:
                method, path = path.split(" ", 1)
            headers: dict[str, str] = {}
            if shape == "v3":
                path = V3 + path + q
            else:
                headers["x-api-key"] = key["api_key"]
            if isinstance(payload, tuple) and payload[0] == "multipart":
                body, ctype = multipart(payload[1])
                headers["Content-Type"] = ctype
            elif isinstance(payload, tuple):
                body = payload[1]
                headers["Content-Type"] = "multipart/form-data; boundary=xYzZY"
            elif isinstance(payload, bytes):
                body = payload
                headers["Content-Type"] = "application/json"
            elif payload is None:
                body = None
            else:
                body = json.dumps(payload).encode("utf-8", "surrogatepass")
                headers["Content-Type"] = "application/json"
            try:
                code, got = request(s.base, method, path, body, headers)
            except (ConnectionError, urllib.error.URLError) as exc:
                if kind == "huge":  # the server may close the socket mid-upload after its 413
                    continue
                raise AssertionError((kind, path, exc)) from exc
            kinds[kind] = kinds.get(kind, 0) + 1
            assert 400 <= code < 500, (kind, path, code, got)
            assert isinstance(got, dict), (kind, path, code, got)
            if shape == "v3":
                assert set(got) == {"error_code", "error_msg", "log_id", "timestamp",
                                    "cached", "result"} and got["error_code"] != 0, got
            else:
                assert set(got) == {"message", "code"}, (kind, path, got)
        for path, shape in ((V3 + "/detect" + q, "v3"), ("/api/v1/detection/detect", "cf")):
            code, got = announce_huge(s.port, path, key["api_key"])
            assert code == 413, got
            assert ("error_code" in got) if shape == "v3" else (set(got) == {"message", "code"})
        assert s.alive()
        code, ok = request(s.base, "POST", V3 + "/detect" + q, json.dumps(
            {"image": base64.b64encode(photo).decode(), "image_type": "BASE64"}).encode(), jh)
        assert code == 200 and ok["result"]["face_num"] == 1
        assert gallery_hash(db) == before
        print(kinds)
