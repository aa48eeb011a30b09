"""The gallery commands as real processes: groups, --group on enroll / people /
faces / forget / rename / identify, export / import / migrate, and bad input
(exit 6, one line, the gallery's records unchanged)."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import numpy as np
import pytest

from cli_process import fails, run
from cli_process import ok as succeeded
from faceprint.gallery import SqliteGallery


def ok(proc: subprocess.CompletedProcess[str]) -> str:
    """The output of a command that must succeed."""
    return succeeded(proc).stdout


def checksum(db: Path) -> str:
    with SqliteGallery(db, index=None) as g:
        return g.store.checksum()  # type: ignore[attr-defined,no-any-return]


def test_groups_and_identify_in_chosen_groups(lfw_dir: Path, tmp_path: Path) -> None:
    img = lfw_dir / "images"
    cp = [img / "Colin_Powell" / f"Colin_Powell_{i:04d}.jpg" for i in range(1, 25)]
    sw = [img / "Serena_Williams" / f"Serena_Williams_{i:04d}.jpg" for i in range(1, 4)]
    db = tmp_path / "g.db"
    ok(run("group", "add", "office", db=db))
    ok(run("group", "add", "home", db=db))
    fails(run("group", "add", "office", db=db), 6, "a group 'office' already exists")
    assert "enrolled 2 faces for Colin_Powell (2 in all)" in ok(
        run("enroll", "Colin_Powell", cp[0], cp[1], "--group", "office", db=db))
    ok(run("enroll", "Serena_Williams", sw[0], "--group", "home", db=db))
    listing = json.loads(ok(run("group", "list", "--json", db=db)))
    assert [(x["group_id"], x["users"], x["faces"]) for x in listing["groups"]] == [
        ("default", 0, 0), ("home", 1, 1), ("office", 1, 2)]
    people = json.loads(ok(run("people", "--json", "--group", "office", db=db)))
    assert [p["name"] for p in people["people"]] == ["Colin_Powell"]

    found = json.loads(ok(run("identify", cp[3], sw[2], "--group", "home", "--json", db=db)))
    # only Serena is in "home": Powell's photo is unknown there
    assert [f["name"] for im in found["images"] for f in im["faces"]] == [
        None, "Serena_Williams"]
    both = json.loads(ok(run("identify", cp[3], sw[2], "--group", "office,home", "--json",
                             db=db)))
    assert [(f["name"], f["group"]) for im in both["images"] for f in im["faces"]] == [
        ("Colin_Powell", "office"), ("Serena_Williams", "home")]
    fails(run("identify", cp[3], "--group", "office,nowhere", db=db), 6,
          "no group 'nowhere'")

    # faces / forget by face token / rename in a group
    token = ok(run("faces", "Colin_Powell", "--group", "office", db=db)).split()[1].rstrip(":")
    assert len(token) == 32
    ok(run("forget", "--face", token, db=db))
    ok(run("rename", "Colin_Powell", "General Powell", "--group", "office", db=db))
    assert "General Powell: 1 face" in ok(run("people", "--group", "office", db=db))

    # bad input changes nothing: unknown group, duplicate user, the 21st face
    before = checksum(db)
    fails(run("enroll", "X", sw[1], "--group", "nowhere", db=db), 6, "no group 'nowhere'")
    fails(run("people", "--group", "nowhere", db=db), 6, "no group 'nowhere'")
    ok(run("enroll", "General Powell", *cp[4:23], "--group", "office", db=db))  # 20 faces
    before = checksum(db)
    fails(run("enroll", "General Powell", cp[23], "--group", "office", db=db), 6,
          "has 20 faces; 1 more would exceed the limit of 20 faces per person")
    fails(run("rename", "Serena_Williams", "Serena_Williams", "--group", "office", db=db), 6,
          "no person named 'Serena_Williams' in group 'office'")
    assert checksum(db) == before
    assert "deleted group home with 1 user and 1 face" in ok(run("group", "delete", "home",
                                                                 db=db))


def _fill(db: Path) -> None:
    rng = np.random.default_rng(3)
    with SqliteGallery(db) as g:
        g.add_group("kyc")
        g.add_faces("ada", "dlib-resnet", rng.normal(size=(3, 128)).astype(np.float32),
                    metadata={"city": "Zürich", "n": 1.5}, sources=["a.jpg", None, "c.jpg"])
        g.add_faces("ada", "dlib-resnet", rng.normal(size=(1, 128)).astype(np.float32),
                    group="kyc", qualities=[0.75])
        g.add_faces("bob", "sface", rng.normal(size=(2, 128)).astype(np.float32), group="kyc")
        g.add_user("nobody-yet", {"x": [1, 2]}, group="kyc")
        g.add_group("empty")


def _dump(db: Path) -> list[dict[str, object]]:
    with SqliteGallery(db, index=None) as g:
        return list(g.store.dump())  # type: ignore[attr-defined]


def test_export_import_round_trip_is_bit_for_bit(tmp_path: Path) -> None:
    src, dst, out = tmp_path / "a.db", tmp_path / "b.db", tmp_path / "all.parquet"
    _fill(src)
    assert "exported 3 groups, 4 users, 6 faces" in ok(run("gallery", "export", out, db=src))
    assert "imported 3 groups, 4 users, 6 faces" in ok(run("gallery", "import", out, db=dst))
    a, b = _dump(src), _dump(dst)
    # every record equal, but the group "default", which the new gallery had already
    assert a[1:] == b[1:] and sum(r["kind"] == "face" for r in a) == 6
    assert a[0]["group_id"] == b[0]["group_id"] == "default"
    faces = [r for r in a if r["kind"] == "face"]
    assert all(isinstance(r["vector"], bytes) and len(r["vector"]) == 512 for r in faces)
    with SqliteGallery(dst) as g:  # and the imported gallery searches
        vec = np.frombuffer(faces[0]["vector"], "<f4")  # type: ignore[arg-type]
        assert g.search("dlib-resnet", vec, "euclidean")[0][0].name == "ada"
    # importing twice: a duplicate, nothing added
    before = checksum(dst)
    fails(run("gallery", "import", out, db=dst), 6, "already exists")
    assert checksum(dst) == before


def test_import_of_a_wrong_dimension_changes_nothing(tmp_path: Path) -> None:
    import pyarrow.parquet as pq

    src, dst, out = tmp_path / "a.db", tmp_path / "b.db", tmp_path / "all.parquet"
    _fill(src)
    ok(run("gallery", "export", out, db=src))
    with SqliteGallery(dst) as g:
        g.add_faces("carol", "dlib-resnet", np.ones((1, 64), np.float32))  # 64-d here
    before = checksum(dst)
    fails(run("gallery", "import", out, db=dst), 6, "two dimensions; nothing imported")
    assert checksum(dst) == before
    bad = tmp_path / "bad.parquet"
    table = pq.read_table(out)
    pq.write_table(table.replace_schema_metadata({}), bad)
    fails(run("gallery", "import", bad, db=dst), 6, "not a faceprint gallery export")
    assert checksum(dst) == before


def test_migrate_schema1_file_to_a_new_gallery(tmp_path: Path) -> None:
    old = tmp_path / "old.db"
    old.write_bytes((Path(__file__).parent / "data" / "gallery_schema1.db").read_bytes())
    original = old.read_bytes()
    new = tmp_path / "new.db"
    assert "copied 1 groups, 3 users, 6 faces" in ok(run("gallery", "migrate", old, new))
    assert old.read_bytes() == original  # the source is left as it was
    names = json.loads(ok(run("people", "--json", db=new)))
    assert [(p["name"], p["faces"]) for p in names["people"]] == [
        ("Ada Lovelace", 3), ("Alan Turing", 2), ("Grace Hopper", 1)]
    fails(run("gallery", "migrate", tmp_path / "missing.db", new), 6, "no such gallery")


@pytest.mark.parametrize("args", [("group", "list"), ("gallery", "export", "x.parquet")])
def test_foreign_file_is_a_clear_error(tmp_path: Path, args: tuple[str, ...]) -> None:
    junk = tmp_path / "junk.db"
    junk.write_bytes(b"not a database" * 100)
    fails(run(*args, db=junk), 6, "not a faceprint gallery")
