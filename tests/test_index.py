"""``faceprint index`` on real LFW images with a real local Dask cluster: a fresh
run, a run killed with SIGKILL mid-way and resumed (it skips what was done and
enrols nothing twice), a re-run that does nothing, a changed file redone, and
failures recorded with their reason."""

from __future__ import annotations

import json
import os
import shutil
import signal
import sqlite3
import subprocess
import time
from pathlib import Path

from cli_process import EXE, ok, run
from faceprint.gallery import open_gallery

PEOPLE = 9


def _collection(lfw_dir: Path, dst: Path) -> int:
    """About 30 images: the first people with 3-5 images, and one unreadable file."""
    n, people = 0, 0
    for person in sorted((lfw_dir / "images").iterdir()):
        images = sorted(person.glob("*.jpg"))
        if 3 <= len(images) <= 5 and people < PEOPLE:
            (dst / person.name).mkdir(parents=True)
            for img in images:
                shutil.copy(img, dst / person.name / img.name)
            n += len(images)
            people += 1
    (dst / "Nobody").mkdir()
    (dst / "Nobody" / "broken.jpg").write_bytes(b"not an image")
    return n + 1


def _index(photos: Path, db: Path, *extra: str) -> dict[str, int]:
    out = ok(run("index", photos, "--group", "lfw", "--workers", "2", "--chunk", "3",
                 "--json", *extra, db=db)).stdout
    return json.loads(out)  # type: ignore[no-any-return]


def _manifest(path: Path) -> list[tuple[str, str, int]]:
    with sqlite3.connect(path) as conn:
        rows = conn.execute("SELECT path, outcome, faces FROM files ORDER BY path").fetchall()
    conn.close()
    return [(Path(p).name, o, f) for p, o, f in rows]


def _faces(db: Path) -> dict[str, int]:
    with open_gallery(db) as g:
        return {u.user_id: u.face_count for u in g.users("lfw")}


def test_index_kill_resume_equals_a_fresh_run(lfw_dir: Path, tmp_path: Path) -> None:
    photos = tmp_path / "photos"
    total = _collection(lfw_dir, photos)
    # a fresh run
    fresh_db = tmp_path / "fresh.db"
    ok(run("group", "add", "lfw", db=fresh_db))
    fresh = _index(photos, fresh_db)
    assert fresh["enrolled"] == total - 1 and fresh["failed"] == 1 and fresh["skipped"] == 0
    fresh_rows = _manifest(Path(f"{fresh_db}.index-lfw.sqlite"))
    broken = [r for r in fresh_rows if r[0] == "broken.jpg"]
    assert broken == [("broken.jpg", "failed", 0)]
    with sqlite3.connect(f"{fresh_db}.index-lfw.sqlite") as conn:
        [(reason,)] = conn.execute("SELECT reason FROM files WHERE outcome = 'failed'")
    conn.close()
    assert "broken.jpg" in reason
    assert sum(_faces(fresh_db).values()) == total - 1 and len(_faces(fresh_db)) == PEOPLE

    # a run killed with SIGKILL once some chunks are recorded, then resumed
    db = tmp_path / "killed.db"
    manifest = Path(f"{db}.index-lfw.sqlite")
    ok(run("group", "add", "lfw", db=db))
    proc = subprocess.Popen([*EXE, "index", str(photos), "--group", "lfw", "--workers", "2",
                             "--chunk", "3", "--db", str(db)], stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL, start_new_session=True)
    done = 0
    deadline = time.monotonic() + 300
    while time.monotonic() < deadline and proc.poll() is None:
        if manifest.exists():
            try:
                with sqlite3.connect(manifest, timeout=1) as conn:
                    done = conn.execute("SELECT COUNT(*) FROM files").fetchone()[0]
                conn.close()
            except sqlite3.Error:
                done = 0
            if done >= 3:
                break
        time.sleep(0.05)
    os.killpg(proc.pid, signal.SIGKILL)  # the command and its Dask cluster, by their group
    proc.wait(timeout=30)
    killed_at = len(_manifest(manifest))
    assert 3 <= killed_at < total, killed_at
    resumed = _index(photos, db)
    assert resumed["skipped"] == killed_at
    assert resumed["enrolled"] + resumed["failed"] == total - killed_at
    assert _manifest(manifest) == fresh_rows
    assert _faces(db) == _faces(fresh_db)  # nothing enrolled twice

    # nothing new: nothing done; a changed file: only it is redone
    again = _index(photos, db)
    assert again["skipped"] == total and again["enrolled"] == 0
    (photos / "Nobody" / "broken.jpg").write_bytes(b"still not an image, longer")
    changed = _index(photos, db)
    assert changed["skipped"] == total - 1 and changed["failed"] == 1
    assert (changed["total_enrolled"], changed["total_failed"]) == (total - 1, 1)
