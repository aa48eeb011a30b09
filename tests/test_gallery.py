"""The SQLite gallery: a real file, real transactions, two real processes."""

from __future__ import annotations

import multiprocessing as mp
import sqlite3
from pathlib import Path

import numpy as np
import pytest

from faceprint.errors import EmptyGalleryError, GalleryError, PersonNotFoundError
from faceprint.gallery import SqliteGallery
from faceprint.types import Box


def _unit(seed: int, dim: int = 8) -> np.ndarray:
    v = np.random.default_rng(seed).normal(size=dim).astype(np.float32)
    return v / np.linalg.norm(v)


@pytest.fixture()
def gallery(tmp_path: Path) -> SqliteGallery:
    g = SqliteGallery(tmp_path / "people.db")
    yield g  # type: ignore[misc]
    g.close()


def test_people_and_faces_round_trip(gallery: SqliteGallery, tmp_path: Path) -> None:
    gallery.add_person("Ada", {"team": "analytics"})
    ids = gallery.add_faces("Ada", "emb", np.stack([_unit(1), _unit(2)]),
                            sources=["a1.jpg", "a2.jpg"], boxes=[Box(1, 2, 30, 40), None])
    gallery.add_faces("Grace", "emb", _unit(3)[None])
    assert len(ids) == 2
    people = gallery.people()
    assert [(p.name, p.face_count) for p in people] == [("Ada", 2), ("Grace", 1)]
    assert people[0].metadata == {"team": "analytics"}
    faces = gallery.faces("Ada")
    assert [f.source for f in faces] == ["a1.jpg", "a2.jpg"]
    assert faces[0].box == Box(1, 2, 30, 40) and faces[1].box is None
    # the file really holds it: a second connection sees the same
    with SqliteGallery(tmp_path / "people.db") as again:
        assert again.count_faces("emb") == 3


def test_rename_metadata_and_remove(gallery: SqliteGallery) -> None:
    gallery.add_faces("Ada", "emb", _unit(1)[None])
    gallery.add_faces("Grace", "emb", np.stack([_unit(2), _unit(3)]))
    assert gallery.rename("Ada", "Ada Lovelace").name == "Ada Lovelace"
    with pytest.raises(GalleryError, match="already exists"):
        gallery.rename("Grace", "Ada Lovelace")
    assert gallery.set_metadata("Grace", {"badge": 7}).metadata == {"badge": 7}
    face_id = gallery.faces("Grace")[0].id
    gallery.remove_face(face_id)
    assert gallery.person("Grace").face_count == 1
    assert gallery.remove_person("Grace") == 1
    with pytest.raises(PersonNotFoundError, match="no person named 'Grace'"):
        gallery.person("Grace")
    assert [p.name for p in gallery.people()] == ["Ada Lovelace"]


def test_search_returns_k_nearest_people(gallery: SqliteGallery) -> None:
    ada, grace, alan = _unit(1), _unit(2), _unit(3)
    gallery.add_faces("Ada", "emb", np.stack([ada, _unit(10)]))
    gallery.add_faces("Grace", "emb", grace[None])
    gallery.add_faces("Alan", "emb", alan[None])
    probe = ada + 0.01 * _unit(99)
    [matches] = gallery.search("emb", probe[None], "euclidean", k=2)
    assert matches[0].name == "Ada" and matches[0].distance < 0.05
    assert len(matches) == 2 and matches[1].name != "Ada"  # one entry per person
    expected = sorted(("Grace", "Alan"), key=lambda n: float(np.linalg.norm(
        probe - {"Grace": grace, "Alan": alan}[n])))[0]
    assert matches[1].name == expected
    assert gallery.search("emb", probe[None], "euclidean", k=10)[0][-1].name in {"Grace", "Alan"}


def test_search_sees_writes_of_another_connection(gallery: SqliteGallery, tmp_path: Path
                                                   ) -> None:
    gallery.add_faces("Ada", "emb", _unit(1)[None])
    assert gallery.search("emb", _unit(2)[None], "euclidean")[0][0].name == "Ada"
    with SqliteGallery(tmp_path / "people.db") as other:
        other.add_faces("Grace", "emb", _unit(2)[None])
    assert gallery.search("emb", _unit(2)[None], "euclidean")[0][0].name == "Grace"


def test_bad_requests_change_nothing(gallery: SqliteGallery) -> None:
    gallery.add_faces("Ada", "emb", _unit(1)[None])
    with pytest.raises(GalleryError, match="8-d faces in this gallery; got 4-d"):
        gallery.add_faces("Grace", "emb", np.ones((1, 4), np.float32))
    with pytest.raises(GalleryError, match="NaN"):
        gallery.add_faces("Grace", "emb", np.full((1, 8), np.nan, np.float32))
    with pytest.raises(GalleryError, match="cannot be empty"):
        gallery.add_faces("  ", "emb", _unit(2)[None])
    with pytest.raises(GalleryError, match="JSON"):
        gallery.add_person("Grace", {"when": object()})
    with pytest.raises(GalleryError, match="already exists"):
        gallery.add_person("Ada")
    assert [(p.name, p.face_count) for p in gallery.people()] == [("Ada", 1)]


def test_empty_gallery_search_is_a_clear_error(gallery: SqliteGallery) -> None:
    with pytest.raises(EmptyGalleryError, match="no faces embedded with 'emb'; enroll someone"):
        gallery.search("emb", _unit(1)[None], "euclidean")


def test_foreign_sqlite_file_is_refused_untouched(tmp_path: Path) -> None:
    path = tmp_path / "other.db"
    with sqlite3.connect(path) as conn:
        conn.execute("CREATE TABLE accounts(id INTEGER, balance REAL)")
        conn.execute("INSERT INTO accounts VALUES (1, 10.5)")
    before = path.read_bytes()
    with pytest.raises(GalleryError, match="not a faceprint gallery"):
        SqliteGallery(path)
    assert path.read_bytes() == before
    garbage = tmp_path / "garbage.db"
    garbage.write_bytes(b"this is not a database at all" * 100)
    with pytest.raises(GalleryError, match="not a faceprint gallery"):
        SqliteGallery(garbage)
    assert garbage.read_bytes() == b"this is not a database at all" * 100


def _enroll_many(path: str, prefix: str, count: int, seed: int) -> None:
    with SqliteGallery(path) as g:
        for i in range(count):
            g.add_faces(f"{prefix}-{i}", "emb", np.stack([_unit(seed + i), _unit(seed - i - 1)]))


def test_two_processes_enrolling_at_once_lose_nothing(tmp_path: Path) -> None:
    path = str(tmp_path / "shared.db")
    SqliteGallery(path).close()
    ctx = mp.get_context("spawn")
    procs = [ctx.Process(target=_enroll_many, args=(path, name, 60, seed))
             for name, seed in (("left", 1000), ("right", 5000))]
    for p in procs:
        p.start()
    for p in procs:
        p.join(120)
        assert p.exitcode == 0
    with SqliteGallery(path) as g:
        people = g.people()
        assert len(people) == 120
        assert all(p.face_count == 2 for p in people)
        assert g.count_faces("emb") == 240
