"""Gallery v2: groups, users, face tokens, the face limit, search in several
groups, and bad requests that change nothing, on every backend (``backend_url``:
SQLite + FAISS, a milvus-lite file, a real Milvus server); then the SQLite +
FAISS index rebuilt when it is missing, stale or truncated.

The Milvus server (pip ``milvus``) listens on every interface, so it runs only
inside a private network namespace: outside one, the server's cases skip and
:func:`test_the_same_suite_on_a_real_milvus_server` re-runs them under
``unshare -n`` (loopback up), where a session fixture starts the server and
stops it by its pid."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest

from cli_process import fails, run
from conftest import require_module
from faceprint.distance import pairwise
from faceprint.errors import (
    BackendError,
    DimensionError,
    DuplicateError,
    FaceLimitError,
    FaceNotFoundError,
    GalleryError,
    GroupNotFoundError,
    UserNotFoundError,
)
from faceprint.gallery import SqliteGallery, open_gallery
from faceprint.gallery.sqlite import index_path
from faceprint.types import Box
from milvus_server import in_private_netns, milvus_server


def _vecs(seed: int, n: int, dim: int = 16, scale: float = 1.4) -> np.ndarray:
    """Not unit length, like dlib-resnet's vectors."""
    v = np.random.default_rng(seed).normal(size=(n, dim)).astype(np.float32)
    return (scale * v / np.linalg.norm(v, axis=1, keepdims=True)
            * np.random.default_rng(seed + 1).uniform(0.9, 1.1, (n, 1))).astype(np.float32)


@pytest.fixture()
def db(tmp_path: Path) -> Path:
    return tmp_path / "people.db"


SERVER_CASE = "milvus-server"


@pytest.fixture(scope="session")
def milvus_port(tmp_path_factory: pytest.TempPathFactory) -> Iterator[int]:
    """A real Milvus server for the session, only inside a private network namespace."""
    require_module("milvus")
    if not in_private_netns():
        pytest.skip("the Milvus server runs only inside `unshare -n`; "
                    "test_the_same_suite_on_a_real_milvus_server runs these cases there")
    with milvus_server(tmp_path_factory.mktemp("milvus-server")) as port:
        yield port


@pytest.fixture(params=["sqlite", "milvus-lite", SERVER_CASE])
def backend_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """A fresh, empty gallery on each backend."""
    if request.param == "sqlite":
        return str(tmp_path / "people.db")
    if request.param == "milvus-lite":
        require_module("milvus_lite")
        return f"milvus-lite:{tmp_path / 'people-lite.db'}"
    port = request.getfixturevalue("milvus_port")
    return f"milvus://127.0.0.1:{port}/t{uuid.uuid4().hex[:12]}"


def test_groups_users_faces_and_tokens(backend_url: str) -> None:
    with open_gallery(backend_url) as g:
        assert [x.group_id for x in g.groups()] == ["default"]
        g.add_group("building-a")
        g.add_group("building-b")
        ada_a = g.add_user("ada", {"badge": 1}, group="building-a")
        g.add_user("ada", {"badge": 2}, group="building-b")  # same id, another group
        assert ada_a.user_info == {"badge": 1}
        recs = g.add_face_records("ada", "emb", _vecs(1, 3), group="building-a",
                                  sources=["a.jpg", "b.jpg", None],
                                  boxes=[Box(1, 2, 3, 4), None, None],
                                  qualities=[0.9, None, 0.5])
        tokens = [r.face_token for r in recs]
        assert all(re.fullmatch(r"[0-9a-f]{32}", t) for t in tokens) and len(set(tokens)) == 3
        assert recs[0].box == Box(1, 2, 3, 4) and recs[0].quality == 0.9
        assert recs[1].quality is None and recs[0].created
        assert g.get_user("ada", group="building-a").face_count == 3
        assert g.get_user("ada", group="building-b").face_count == 0
        g.update_user("ada", group="building-b", user_info={"badge": 3}, new_user_id="ada2")
        assert g.get_user("ada2", group="building-b").user_info == {"badge": 3}
        copied = g.copy_user("ada", "building-a", "building-b")
        assert copied.face_count == 3
        new_tokens = {f.face_token for f in g.list_faces("ada", group="building-b")}
        assert not new_tokens & set(tokens)
        assert [u.user_id for u in g.users("building-b")] == ["ada", "ada2"]
        assert g.delete_face(tokens[0]).face_token == tokens[0]
        with pytest.raises(FaceNotFoundError):
            g.get_face(tokens[0])
        assert g.group("building-a").face_count == 2
        assert g.delete_group("building-a") == 2
        assert [x.group_id for x in g.groups()] == ["building-b", "default"]
        assert g.delete_user("ada", group="building-b") == 3


def test_search_by_group_k_threshold_and_unknown(backend_url: str) -> None:
    with open_gallery(backend_url) as g:
        for name in ("a", "b"):
            g.add_group(name)
        vecs = _vecs(2, 6)
        g.add_faces("x", "emb", vecs[:2], group="a")
        g.add_faces("y", "emb", vecs[2:4], group="a")
        g.add_faces("x", "emb", vecs[4:5], group="b")  # another "x", in group b
        g.add_faces("z", "emb", vecs[5:6], group="b")
        probe = vecs[4] + 0.01
        [only_a] = g.search_groups("emb", probe, "euclidean", groups="a", k=5)
        assert {m.group_id for m in only_a.candidates} == {"a"}
        assert [m.name for m in only_a.candidates] == sorted(
            ["x", "y"], key=lambda n: pairwise(probe[None], vecs[:2] if n == "x" else
                                               vecs[2:4], "euclidean").min())
        [both] = g.search_groups("emb", probe, "euclidean", groups=["a", "b"], k=10,
                                 threshold=0.2)
        assert len(both.candidates) == 4  # x@a, y@a, x@b, z@b: one entry per user
        assert (both.user_id, both.group_id) == ("x", "b")
        assert both.candidates[0].distance == pytest.approx(
            float(np.linalg.norm(probe - vecs[4])), abs=1e-6)
        [unknown] = g.search_groups("emb", -probe, "euclidean", groups="a,b", threshold=0.2)
        assert unknown.user_id is None and unknown.best is not None
        with pytest.raises(GroupNotFoundError, match="no group 'c'"):
            g.search("emb", probe, "euclidean", groups=["a", "c"])


def test_index_search_equals_brute_force_of_the_old_gallery(backend_url: str) -> None:
    """The same people and the same distances as the old numpy search (to 1e-9; cosine
    to 1e-6: the index holds the unit vectors in float32)."""
    rng = np.random.default_rng(7)
    vecs = _vecs(3, 400)
    owners = [f"p{int(i)}" for i in rng.integers(0, 60, 400)]
    with open_gallery(backend_url) as g:
        for name in sorted(set(owners)):
            sel = [i for i, o in enumerate(owners) if o == name]
            g.add_faces(name, "emb", vecs[sel])
        queries = _vecs(99, 50)
        for metric in ("euclidean", "sqeuclidean", "cosine"):
            got = g.search("emb", queries, metric, k=5)  # type: ignore[arg-type]
            d = pairwise(queries, vecs, metric)  # type: ignore[arg-type]
            for q, matches in enumerate(got):
                best: dict[str, float] = {}
                for j in np.argsort(d[q], kind="stable"):
                    best.setdefault(owners[j], float(d[q, j]))
                want = sorted(best.items(), key=lambda t: t[1])[:5]
                assert [m.name for m in matches] == [n for n, _ in want]
                assert [m.distance for m in matches] == pytest.approx(
                    [x for _, x in want], abs=1e-9 if metric != "cosine" else 1e-6)


def test_index_persisted_mmapped_and_rebuilt(db: Path) -> None:
    vecs = _vecs(4, 30)
    with SqliteGallery(db) as g:
        for i in range(10):
            g.add_faces(f"p{i}", "emb", vecs[3 * i:3 * i + 3])
        want = g.search("emb", vecs[:5] + 0.01, "euclidean", k=3)
    folder = index_path(db)
    files = sorted(folder.glob("*.faiss"))
    assert files and (folder / "manifest.json").is_file()

    def names(g: SqliteGallery) -> list[list[str]]:
        return [[m.name for m in ms] for ms in g.search("emb", vecs[:5] + 0.01, "euclidean",
                                                        k=3)]

    with SqliteGallery(db) as g:  # opened from disk (memory-mapped), no rebuild
        assert g.index.loaded_from_disk and names(g) == [[m.name for m in w] for w in want]
        assert g.index.rebuilt == 0  # type: ignore[union-attr]
    for f in folder.glob("*.faiss"):  # truncated
        f.write_bytes(f.read_bytes()[:100])
    with SqliteGallery(db) as g:
        assert not g.index.loaded_from_disk  # type: ignore[union-attr]
        assert names(g) == [[m.name for m in w] for w in want]
        assert g.index.rebuilt == 1  # type: ignore[union-attr]
    for f in folder.iterdir():  # deleted
        f.unlink()
    with SqliteGallery(db) as g:
        assert names(g) == [[m.name for m in w] for w in want]
        assert g.index.rebuilt == 1  # type: ignore[union-attr]
    # stale: another connection without an index writes; this one catches up
    with SqliteGallery(db, index=None) as other:
        other.add_faces("newcomer", "emb", -vecs[0:1])
        other.remove_person("p0")
    with SqliteGallery(db) as g:
        [[top]] = g.search("emb", -vecs[0:1], "euclidean")
        assert top.name == "newcomer"
        assert "p0" not in {m.name for m in g.search("emb", vecs[0:1], "euclidean", k=20)[0]}


@pytest.mark.parametrize("kind", ["sq8", "fp16", "hnsw"])
def test_approximate_kinds_find_the_right_person(db: Path, kind: str) -> None:
    vecs = _vecs(5, 200)
    with SqliteGallery(db, index=kind) as g:
        for i in range(100):
            g.add_faces(f"p{i}", "emb", vecs[2 * i:2 * i + 2])
        g.remove_person("p99")
        got = g.search("emb", vecs[:40:2] + 0.005, "euclidean")
        assert [m[0].name for m in got] == [f"p{i}" for i in range(20)]
        assert "p99" not in {m.name for m in g.search("emb", vecs[198:199], "euclidean",
                                                      k=5)[0]}


def test_bad_requests_change_nothing(backend_url: str) -> None:
    with open_gallery(backend_url, max_faces=20) as g:
        g.add_group("office")
        g.add_faces("ada", "emb", _vecs(6, 19), group="office")
        before = g.store.checksum()  # type: ignore[attr-defined]
        with pytest.raises(GroupNotFoundError, match="no group 'nowhere'"):
            g.add_faces("bob", "emb", _vecs(7, 1), group="nowhere")
        with pytest.raises(DuplicateError, match="already exists in group 'office'"):
            g.add_user("ada", group="office")
        with pytest.raises(DuplicateError):
            g.add_group("office")
        with pytest.raises(FaceLimitError, match="has 19 faces; 2 more would exceed the limit"):
            g.add_faces("ada", "emb", _vecs(8, 2), group="office")
        with pytest.raises(DimensionError, match="16-d faces in this gallery; got 8-d"):
            g.add_faces("bob", "emb", np.ones((1, 8), np.float32), group="office")
        with pytest.raises(DimensionError, match="query embeddings are 8-d"):
            g.search("emb", np.ones((1, 8), np.float32), "euclidean", groups="office")
        with pytest.raises(UserNotFoundError):
            g.update_user("nobody", group="office", user_info={})
        with pytest.raises(GalleryError, match="bad group id"):
            g.add_group("no spaces/slashes")
        assert g.store.checksum() == before  # type: ignore[attr-defined]
        for exc in (GroupNotFoundError, DuplicateError, FaceLimitError, DimensionError):
            assert exc.exit_code == 6
        assert (GroupNotFoundError.http_status, DuplicateError.http_status,
                FaceLimitError.http_status) == (404, 409, 400)
        g.add_faces("ada", "emb", _vecs(9, 1), group="office")  # the 20th is fine
        assert g.get_user("ada", group="office").face_count == 20


def _rows_of(url: str) -> list[str]:
    """Every dumped record of a gallery, as sorted text (backends order them apart),
    less the time of the group ``default`` (every new gallery makes its own)."""
    with open_gallery(url) as g:
        rows = list(g.store.dump())  # type: ignore[attr-defined]
    return sorted(repr(sorted(r.items())) for r in rows
                  if not (r["kind"] == "group" and r["group_id"] == "default"))


def test_migrate_to_and_from_milvus_loses_nothing(backend_url: str, tmp_path: Path) -> None:
    """SQLite -> this backend -> a new SQLite file: every group, user, face token, time,
    metadata and vector (bit for bit) survives."""
    src = str(tmp_path / "src.db")
    with open_gallery(src) as g:
        g.add_group("office")
        g.add_faces("ada", "emb", _vecs(20, 3), group="office", metadata={"badge": 7},
                    sources=["a.jpg", None, "c.jpg"], boxes=[Box(1, 2, 3, 4), None, None],
                    qualities=[0.5, None, 1.0])
        g.add_faces("bob", "emb", _vecs(21, 2))
        g.add_user("empty", group="office")
    if backend_url.endswith("people.db"):
        pytest.skip("SQLite to SQLite: tests/test_cli_gallery.py")
    transfer = pytest.importorskip("faceprint.gallery.transfer")
    assert transfer.migrate(src, backend_url) == {"group": 2, "user": 3, "face": 5}
    back = str(tmp_path / "back.db")
    transfer.migrate(backend_url, back)
    assert _rows_of(back) == _rows_of(src)
    with open_gallery(backend_url) as g:  # and it searches what it imported
        [hit] = g.search_groups("emb", _vecs(21, 2)[1], "euclidean", groups="default")
        assert hit.user_id == "bob" and hit.best is not None and hit.best.distance < 1e-6


def test_a_milvus_server_that_is_down_is_a_clear_error(tmp_path: Path) -> None:
    require_module("pymilvus")
    import socket

    with socket.socket() as s:  # a port nothing listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    url = f"milvus://127.0.0.1:{port}/people"
    with pytest.raises(BackendError, match=f"cannot reach the Milvus server at {url}"):
        open_gallery(url)
    assert BackendError.exit_code == 6
    fails(run("people", "--db", url), 6, f"faceprint: cannot reach the Milvus server at {url}")


def test_milvus_url_options(tmp_path: Path) -> None:
    require_module("milvus_lite")
    url = f"milvus-lite:{tmp_path / 'session.db'}?consistency=Session"
    with open_gallery(url) as g:  # read-your-own-writes: a delete is seen at once
        [face] = g.add_face_records("ada", "emb", _vecs(30, 1))
        g.delete_face(face.face_token)
        assert g.count_faces() == 0
    for bad in (f"milvus-lite:{tmp_path / 'x.db'}?consistency=Eventually",
                f"milvus-lite:{tmp_path / 'x.sqlite'}", "milvus://nohost/x",
                "milvus://127.0.0.1:1/bad-name"):
        with pytest.raises(GalleryError) as err:
            open_gallery(bad)
        assert err.value.exit_code == 6 and not isinstance(err.value, BackendError)


@pytest.mark.slow
def test_the_same_suite_on_a_real_milvus_server() -> None:
    """Re-run this module's milvus-server cases inside a private network namespace
    (the server listens on every interface), where the session fixture starts a real
    Milvus standalone server and stops it by its pid."""
    require_module("milvus")
    if in_private_netns():
        pytest.skip("already inside the private namespace")
    if shutil.which("unshare") is None or os.geteuid() != 0:
        pytest.skip("needs root and unshare(1) for a private network namespace")
    cmd = (f"ip link set lo up && exec {sys.executable} -m pytest -q -p no:cacheprovider "
           f"{__file__} -k {SERVER_CASE}")
    proc = subprocess.run(["unshare", "-n", "sh", "-c", cmd], capture_output=True, text=True,
                          timeout=900, env={**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)})
    out = proc.stdout.strip()
    tail = out.splitlines()[-1] if out else proc.stderr[-2000:]
    assert proc.returncode == 0, proc.stdout[-4000:] + proc.stderr[-2000:]
    assert " passed" in tail and "skipped" not in tail and "failed" not in tail, tail


SCHEMA1 = Path(__file__).parent / "data" / "gallery_schema1.db"


def _rows(path: Path, sql: str) -> list[tuple[object, ...]]:
    import sqlite3

    with sqlite3.connect(path) as conn:
        return conn.execute(sql).fetchall()


def test_schema1_gallery_is_migrated_in_place_with_a_backup(tmp_path: Path) -> None:
    """A real schema-1 file written by faceprint 0.1's code (tests/data/
    make_schema1_gallery.py says how) opens, is migrated, and keeps every person,
    face id, vector (bit for bit), source, box and time."""
    db = tmp_path / "old.db"
    db.write_bytes(SCHEMA1.read_bytes())
    assert _rows(db, "PRAGMA user_version") == [(1,)]
    people = _rows(db, "SELECT id, name, metadata, created FROM people ORDER BY id")
    faces = _rows(db, "SELECT id, person_id, embedder, dim, vector, source, box, created "
                      "FROM faces ORDER BY id")
    with SqliteGallery(db) as g:
        assert g.store.migrated_from == 1  # type: ignore[attr-defined]
        backup = g.store.backup  # type: ignore[attr-defined]
        assert [(p.name, p.face_count, p.metadata) for p in g.people()] == [
            ("Ada Lovelace", 3, {"badge": 7, "team": "analytics"}), ("Alan Turing", 2, {}),
            ("Grace Hopper", 1, {})]
        ada = g.faces("Ada Lovelace")
        assert [f.source for f in ada] == ["ada1.jpg", "ada2.jpg", "ada3.jpg"]
        assert ada[0].box == Box(10, 20, 30, 40) and ada[2].box is None
        assert all(re.fullmatch(r"[0-9a-f]{32}", f.face_token) for f in ada)
        vec = np.frombuffer(faces[0][4], "<f4")  # type: ignore[arg-type]
        [[top]] = g.search("dlib-resnet", vec[None], "euclidean")
        assert top.name == "Ada Lovelace" and top.distance == 0.0 and top.face_id == 1
        g.add_faces("Ada Lovelace", "dlib-resnet", vec[None])  # writable after migrating
    assert _rows(db, "PRAGMA user_version") == [(2,)]
    new = _rows(db, "SELECT f.id, u.id, f.embedder, f.dim, f.vector, f.source, f.box, "
                    "f.created FROM faces f JOIN users u ON u.id = f.user_ref ORDER BY f.id")
    assert new[:len(faces)] == faces  # ids, owners, vectors bit for bit, sources, boxes
    assert _rows(db, "SELECT id, user_id, user_info, created FROM users ORDER BY id") == \
        people
    assert backup is not None and backup.name == "old.db.schema1.bak"
    assert _rows(backup, "PRAGMA user_version") == [(1,)]
    assert _rows(backup, "SELECT id, person_id, embedder, dim, vector, source, box, created "
                         "FROM faces ORDER BY id") == faces
    assert _rows(db, "PRAGMA integrity_check") == [("ok",)]
    with SqliteGallery(db) as again:  # a second open does not migrate again
        assert again.store.migrated_from is None  # type: ignore[attr-defined]


def test_index_newer_than_its_store_is_rebuilt(db: Path) -> None:
    """A database file put back from a copy (its change counter behind the saved
    index's): the index is not trusted but rebuilt from the store."""
    vecs = _vecs(11, 4)
    with SqliteGallery(db) as g:
        g.add_faces("kept", "emb", vecs[:1])
    copy = db.read_bytes()
    with SqliteGallery(db) as g:
        g.add_faces("later", "emb", vecs[1:2])
        g.search("emb", vecs[:1], "euclidean")
        g.save_index()
    for extra in (db.with_name(db.name + "-wal"), db.with_name(db.name + "-shm")):
        extra.unlink(missing_ok=True)
    db.write_bytes(copy)
    with SqliteGallery(db) as g:
        assert not g.index.loaded_from_disk  # type: ignore[union-attr]
        names = {m.name for m in g.search("emb", vecs[1:2], "euclidean", k=5)[0]}
        assert names == {"kept"}
