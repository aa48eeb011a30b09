"""Processes enrolling and searching at once on one SQLite gallery.

Each of ``--procs`` spawned processes opens the same gallery file (its own
SQLite connection and its own FAISS index) and, for ``--seconds``, enrols a new
user with two random 128-d faces (alternating the groups ``default`` and
``team``), then searches the first of them in that group: the answer must be
that user at distance 0 (so every process's index keeps up with the others'
writes). At the end: every enrolment is there with its two faces and its face
tokens, no process saw an error, and ``PRAGMA integrity_check`` says ok.

    python benchmarks/gallery_concurrency.py --procs 8 --seconds 60

``tests/test_gallery_concurrency.py`` runs the same for 15 seconds.
"""

from __future__ import annotations

import argparse
import json
import multiprocessing as mp
import sqlite3
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np


def _worker(db: str, wid: int, seconds: float, out: str) -> None:
    from faceprint.gallery import SqliteGallery

    rng = np.random.default_rng(1000 + wid)
    enrolled: list[list[Any]] = []
    errors: list[str] = []
    searches = 0
    with SqliteGallery(db) as g:
        end = time.monotonic() + seconds
        i = 0
        while time.monotonic() < end:
            name, group = f"w{wid}-{i:05d}", ("default", "team")[i % 2]
            vecs = rng.normal(size=(2, 128)).astype(np.float32)
            try:
                recs = g.add_face_records(name, "emb", vecs, group=group)
                enrolled.append([name, group, [r.face_token for r in recs],
                                 vecs[0].astype("<f4").tobytes().hex()])
                [[top]] = g.search("emb", vecs[:1], "euclidean", groups=[group])
                searches += 1
                if top.name != name or top.distance > 1e-5:
                    errors.append(f"{name}: search found {top.name} at {top.distance}")
            except Exception as exc:
                errors.append(f"{name}: {type(exc).__name__}: {exc}")
            i += 1
    Path(out).write_text(json.dumps({"enrolled": enrolled, "errors": errors,
                                     "searches": searches}))


def run(db: Path, procs: int, seconds: float) -> dict[str, Any]:
    """Run the workers and check the gallery; returns the counts and any problem."""
    from faceprint.gallery import SqliteGallery

    with SqliteGallery(db) as g:
        if "team" not in {x.group_id for x in g.groups()}:
            g.add_group("team")
    ctx = mp.get_context("spawn")
    outs = [db.with_name(f"{db.name}.worker{w}.json") for w in range(procs)]
    started = time.perf_counter()
    ps = [ctx.Process(target=_worker, args=(str(db), w, seconds, str(o)))
          for w, o in enumerate(outs)]
    for p in ps:
        p.start()
    for p in ps:
        p.join(seconds + 300)
    wall = time.perf_counter() - started
    problems = [f"worker {w} exit {p.exitcode}" for w, p in enumerate(ps) if p.exitcode != 0]
    results = [json.loads(o.read_text()) for o in outs if o.is_file()]
    enrolled = [e for r in results for e in r["enrolled"]]
    problems += [err for r in results for err in r["errors"]]
    with SqliteGallery(db) as g:
        for group in ("default", "team"):
            users = {u.user_id: u.face_count for u in g.users(group)}
            mine = [e for e in enrolled if e[1] == group]
            missing = [e[0] for e in mine if users.get(e[0]) != 2]
            if missing:
                problems.append(f"{len(missing)} enrolments missing in {group}: {missing[:3]}")
        tokens = {f.face_token for e in enrolled[:200] for f in g.list_faces(e[0], group=e[1])}
        if tokens != {t for e in enrolled[:200] for t in e[2]}:
            problems.append("face tokens differ from those the workers were given")
        sample = enrolled[::max(1, len(enrolled) // 100)]
        if sample:
            vecs = np.stack([np.frombuffer(bytes.fromhex(e[3]), "<f4") for e in sample])
            for e, ms in zip(sample, g.search("emb", vecs, "euclidean", groups=["default",
                                                                                  "team"])):
                if ms[0].name != e[0]:
                    problems.append(f"reopened gallery: {e[0]} found as {ms[0].name}")
        faces = g.count_faces("emb")
    with sqlite3.connect(db) as conn:
        integrity = conn.execute("PRAGMA integrity_check").fetchone()[0]
    conn.close()
    if integrity != "ok":
        problems.append(f"integrity_check: {integrity}")
    if faces != 2 * len(enrolled):
        problems.append(f"{faces} faces stored, {2 * len(enrolled)} enrolled")
    for o in outs:
        o.unlink(missing_ok=True)
    return {"procs": procs, "seconds": seconds, "wall_s": round(wall, 1),
            "enrolments": len(enrolled), "searches": sum(r["searches"] for r in results),
            "faces": faces, "integrity": integrity, "problems": problems}


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--procs", type=int, default=8)
    ap.add_argument("--seconds", type=float, default=60.0)
    ap.add_argument("--db", default=None, help="gallery file (default: a temporary one)")
    args = ap.parse_args()
    db = Path(args.db) if args.db else Path(tempfile.mkdtemp()) / "shared.db"
    report = run(db, args.procs, args.seconds)
    print(json.dumps(report, indent=1))
    return 0 if not report["problems"] else 1


if __name__ == "__main__":
    sys.exit(main())
