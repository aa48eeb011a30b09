"""Durability: 6 client threads add users (each with one face, real LFW photos) through
the cloud shape while ``faceprint serve`` is killed with SIGKILL and restarted three
times. Afterwards every acknowledged write is in the gallery, no user is half-written
(a user without its face), SQLite's integrity check passes, and a search through the
index (caught up from the store after the crashes) finds every acknowledged face."""

from __future__ import annotations

import base64
import http.client
import json
import random
import sqlite3
import threading
import time
import urllib.error
import urllib.request
from pathlib import Path

import numpy as np
import pytest

from serve_process import create_key, start, stop

pytest.importorskip("fastapi")
pytestmark = pytest.mark.data

THREADS = 6
KILLS = 3


def _post(base: str, path: str, body: object, timeout: float = 60) -> dict[str, object]:
    req = urllib.request.Request(base + path, data=json.dumps(body).encode(),
                                 headers={"Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(req, timeout=timeout) as r:
            out: dict[str, object] = json.load(r)
    except urllib.error.HTTPError as e:
        out = json.load(e)
    return out


def test_kill_9_loses_no_acknowledged_write(tmp_path: Path, lfw_dir: Path) -> None:
    db = tmp_path / "gallery.sqlite"
    key = create_key(db, "d", "detect,search,manage")
    people = sorted(p for p in (lfw_dir / "images").iterdir() if p.is_dir())[:600]
    images = [base64.b64encode(sorted(p.glob("*.jpg"))[0].read_bytes()).decode()
              for p in people]
    port_box: dict[str, object] = {"server": start(db)}
    server = port_box["server"]
    base = server.base  # type: ignore[attr-defined]
    port = server.port  # type: ignore[attr-defined]

    def token() -> str:
        with urllib.request.urlopen(f"{base}/oauth/2.0/token?grant_type=client_credentials"
                                    f"&client_id={key['api_key']}&client_secret="
                                    f"{key['secret_key']}", timeout=60) as r:
            return str(json.load(r)["access_token"])

    tok = token()
    assert _post(base, f"/rest/2.0/face/v3/faceset/group/add?access_token={tok}",
                 {"group_id": "d"})["error_code"] == 0
    acked: dict[str, str] = {}  # user id -> face token
    attempted: set[str] = set()
    lock = threading.Lock()
    stop_flag = threading.Event()
    counter = iter(range(len(images)))

    def client(tid: int) -> None:
        while not stop_flag.is_set():
            with lock:
                i = next(counter, None)
            if i is None:
                return
            uid = f"user-{i:04d}"
            with lock:
                attempted.add(uid)
            try:
                got = _post(base, f"/rest/2.0/face/v3/faceset/user/add?access_token={tok}",
                            {"image": images[i], "image_type": "BASE64", "group_id": "d",
                             "user_id": uid})
            except (OSError, ValueError, http.client.HTTPException):
                time.sleep(0.2)  # the server is down: not acknowledged
                continue
            if got.get("error_code") == 0:
                with lock:
                    acked[uid] = str(got["result"]["face_token"])  # type: ignore[index]

    threads = [threading.Thread(target=client, args=(t,), daemon=True) for t in range(THREADS)]
    for t in threads:
        t.start()
    rng = random.Random(7)
    for _ in range(KILLS):
        time.sleep(rng.uniform(2.0, 4.0))
        stop(server, kill=True)  # type: ignore[arg-type]
        server = start(db, port=port)
    time.sleep(2.0)
    stop_flag.set()
    for t in threads:
        t.join(timeout=120)
    stop(server)  # type: ignore[arg-type]
    assert len(acked) >= 10, f"only {len(acked)} writes were acknowledged"

    with sqlite3.connect(db) as conn:
        assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    from faceprint.gallery import open_gallery

    g = open_gallery(db)
    try:
        users = {u.user_id: u for u in g.users("d")}
        for uid, face in acked.items():
            assert uid in users, f"acknowledged {uid} lost"
            assert [f.face_token for f in g.list_faces(uid, group="d")] == [face]
        for uid, u in users.items():
            assert uid in attempted
            assert u.face_count == 1, f"{uid} is half-written ({u.face_count} faces)"
        embedder = "dlib-resnet"
        for uid, face in acked.items():
            record = g.get_face(face)
            vec = next(iter(g.store.vectors(embedder, [record.id])))[3][0]
            best = g.search(embedder, np.asarray(vec)[None], "euclidean", k=1, groups="d")[0][0]
            assert best.name == uid and best.distance < 1e-4, (uid, best)
    finally:
        g.close()
    print(f"{len(acked)} acknowledged, {len(attempted)} attempted, {len(users)} stored")
