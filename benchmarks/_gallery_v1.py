"""faceprint 0.1's SqliteGallery (commit c6e62b5, src/faceprint/gallery/sqlite.py), kept
verbatim but for absolute imports as the baseline of bench_gallery.py: its
search reads every vector of an embedder and argsorts all distances per query.

The embedded gallery: one SQLite file.

Layout (schema version 1)::

    people(id, name UNIQUE, metadata JSON, created)
    faces(id, person_id -> people ON DELETE CASCADE, embedder, dim, vector BLOB
          (float32, little-endian), source, box JSON [l, t, w, h], created)

Every write is one ``BEGIN IMMEDIATE`` transaction, so a failed enrolment
stores nothing and two processes writing at once are serialised by SQLite's
lock (WAL journal, 30 s busy timeout) and lose nothing. Searches read all
vectors of one embedder into memory once and reload them only when the file
changed (SQLite's ``data_version``), then compute exact distances with numpy
(fine up to some hundred thousand faces; a server-backed store is the plan
beyond that).
"""

from __future__ import annotations

import json
import math
import sqlite3
import threading
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from datetime import datetime, timezone
from pathlib import Path

import numpy as np

from faceprint.distance import pairwise
from faceprint.errors import EmptyGalleryError, GalleryError, PersonNotFoundError
from faceprint.gallery.base import default_db_path
from faceprint.types import Box, Match, Metric, Person, StoredFace

SCHEMA_VERSION = 1
APPLICATION_ID = 0x46507274  # "FPrt": marks a file as a faceprint gallery
MAX_NAME_LENGTH = 200

_SCHEMA = """
CREATE TABLE IF NOT EXISTS people (
    id INTEGER PRIMARY KEY,
    name TEXT NOT NULL UNIQUE,
    metadata TEXT NOT NULL DEFAULT '{}',
    created TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS faces (
    id INTEGER PRIMARY KEY,
    person_id INTEGER NOT NULL REFERENCES people(id) ON DELETE CASCADE,
    embedder TEXT NOT NULL,
    dim INTEGER NOT NULL,
    vector BLOB NOT NULL,
    source TEXT,
    box TEXT,
    created TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS faces_by_embedder ON faces(embedder, person_id);
CREATE INDEX IF NOT EXISTS faces_by_person ON faces(person_id);
"""


def _now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="seconds")


def _check_name(name: str) -> str:
    if not isinstance(name, str):
        raise GalleryError("a person's name must be text")
    clean = name.strip()
    if not clean:
        raise GalleryError("a person's name cannot be empty")
    if len(clean) > MAX_NAME_LENGTH:
        raise GalleryError(f"a person's name is limited to {MAX_NAME_LENGTH} characters")
    if any(ord(ch) < 32 for ch in clean):
        raise GalleryError("a person's name cannot hold control characters")
    return clean


def _metadata_json(metadata: dict[str, object] | None) -> str:
    if metadata is None:
        return "{}"
    if not isinstance(metadata, dict):
        raise GalleryError("metadata must be a JSON object (a dict)")
    try:
        return json.dumps(metadata, sort_keys=True, allow_nan=False)
    except (TypeError, ValueError) as exc:
        raise GalleryError(f"metadata is not JSON-serialisable: {exc}") from None


class SqliteGallery:
    """A gallery in one SQLite file (created if missing; ``":memory:"`` for a
    throw-away one). Use as a context manager or call :meth:`close`."""

    def __init__(self, path: str | Path | None = None, *, timeout: float = 30.0) -> None:
        self.path = default_db_path() if path is None else path
        if str(self.path) != ":memory:":
            p = Path(self.path)
            if p.is_dir():
                raise GalleryError(f"{p}: is a directory, not a gallery file")
            try:
                p.parent.mkdir(parents=True, exist_ok=True)
            except OSError as exc:
                raise GalleryError(f"cannot create the folder for {p}: {exc}") from None
        try:
            self._conn = sqlite3.connect(str(self.path), timeout=timeout,
                                         isolation_level=None, check_same_thread=False)
        except sqlite3.Error as exc:
            raise GalleryError(f"{self.path}: cannot open the gallery ({exc})") from None
        self._lock = threading.RLock()
        self._cache: dict[str, tuple[int, np.ndarray, np.ndarray, np.ndarray]] = {}
        self._writes = 0
        try:
            self._setup()
        except sqlite3.DatabaseError as exc:
            self._conn.close()
            raise GalleryError(f"{self.path}: not a faceprint gallery ({exc})") from None

    def _setup(self) -> None:
        conn = self._conn
        conn.execute("PRAGMA foreign_keys = ON")
        app_id = conn.execute("PRAGMA application_id").fetchone()[0]
        tables = {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type='table'")}
        if tables and app_id != APPLICATION_ID:
            raise GalleryError(f"{self.path}: an SQLite file, but not a faceprint gallery "
                               "(refusing to change it)")
        version = conn.execute("PRAGMA user_version").fetchone()[0]
        if version > SCHEMA_VERSION:
            raise GalleryError(f"{self.path}: gallery schema {version} is newer than this "
                               f"faceprint understands ({SCHEMA_VERSION}); upgrade faceprint")
        if str(self.path) != ":memory:":
            conn.execute("PRAGMA journal_mode = WAL")
        if not tables:
            with self._write() as cur:
                cur.executescript(f"PRAGMA application_id = {APPLICATION_ID};"
                                  f"PRAGMA user_version = {SCHEMA_VERSION};")
                cur.execute("BEGIN IMMEDIATE")
                for statement in _SCHEMA.split(";"):
                    if statement.strip():
                        cur.execute(statement)

    # -- plumbing -----------------------------------------------------------------
    @contextmanager
    def _write(self) -> Iterator[sqlite3.Cursor]:
        """One write transaction: everything inside commits together or not at all."""
        with self._lock:
            cur = self._conn.cursor()
            began = False
            try:
                yield cur
                if self._conn.in_transaction:
                    began = True
                    cur.execute("COMMIT")
            except BaseException:
                if self._conn.in_transaction:
                    cur.execute("ROLLBACK")
                raise
            finally:
                cur.close()
                if began:
                    self._writes += 1

    def _begin(self, cur: sqlite3.Cursor) -> None:
        try:
            cur.execute("BEGIN IMMEDIATE")
        except sqlite3.OperationalError as exc:
            raise GalleryError(f"{self.path}: the gallery is busy or read-only ({exc})") from None

    def _person_row(self, name: str) -> tuple[int, str, str]:
        row = self._conn.execute("SELECT id, name, metadata FROM people WHERE name = ?",
                                 (_check_name(name),)).fetchone()
        if row is None:
            raise PersonNotFoundError(f"no person named {name!r} in the gallery")
        return row

    def _to_person(self, pid: int, name: str, metadata: str) -> Person:
        count = self._conn.execute("SELECT COUNT(*) FROM faces WHERE person_id = ?",
                                   (pid,)).fetchone()[0]
        return Person(pid, name, json.loads(metadata), int(count))

    # -- people -------------------------------------------------------------------
    def add_person(self, name: str, metadata: dict[str, object] | None = None) -> Person:
        """Enrol a new person (no faces yet); GalleryError if the name is taken."""
        clean, meta = _check_name(name), _metadata_json(metadata)
        with self._write() as cur:
            self._begin(cur)
            try:
                cur.execute("INSERT INTO people(name, metadata, created) VALUES (?, ?, ?)",
                            (clean, meta, _now()))
            except sqlite3.IntegrityError:
                raise GalleryError(f"a person named {clean!r} already exists") from None
            pid = int(cur.lastrowid or 0)
        return Person(pid, clean, json.loads(meta), 0)

    def add_faces(self, name: str, embedder: str, vectors: np.ndarray, *,
                  sources: Sequence[str | None] | None = None,
                  boxes: Sequence[Box | None] | None = None,
                  metadata: dict[str, object] | None = None) -> list[int]:
        """Store faces for ``name`` (created if new, its metadata updated when given),
        in one transaction. Returns the new face ids."""
        clean = _check_name(name)
        vecs = np.asarray(vectors, dtype=np.float32)
        if vecs.ndim != 2 or len(vecs) == 0:
            raise GalleryError("add_faces needs a non-empty (N, D) array of embeddings")
        if not np.all(np.isfinite(vecs)):
            raise GalleryError("embeddings hold NaN or infinite values")
        n = len(vecs)
        srcs = list(sources) if sources is not None else [None] * n
        bxs = list(boxes) if boxes is not None else [None] * n
        if len(srcs) != n or len(bxs) != n:
            raise GalleryError("sources and boxes must match the number of embeddings")
        meta = None if metadata is None else _metadata_json(metadata)
        ids = []
        with self._write() as cur:
            self._begin(cur)
            row = cur.execute("SELECT dim FROM faces WHERE embedder = ? LIMIT 1",
                              (embedder,)).fetchone()
            if row is not None and row[0] != vecs.shape[1]:
                raise GalleryError(f"embedder {embedder!r} has {row[0]}-d faces in this "
                                   f"gallery; got {vecs.shape[1]}-d")
            found = cur.execute("SELECT id FROM people WHERE name = ?", (clean,)).fetchone()
            if found is None:
                cur.execute("INSERT INTO people(name, metadata, created) VALUES (?, ?, ?)",
                            (clean, meta or "{}", _now()))
                pid = int(cur.lastrowid or 0)
            else:
                pid = int(found[0])
                if meta is not None:
                    cur.execute("UPDATE people SET metadata = ? WHERE id = ?", (meta, pid))
            created = _now()
            for vec, src, box in zip(vecs, srcs, bxs):
                cur.execute(
                    "INSERT INTO faces(person_id, embedder, dim, vector, source, box, created)"
                    " VALUES (?, ?, ?, ?, ?, ?, ?)",
                    (pid, embedder, int(vecs.shape[1]), vec.astype("<f4").tobytes(), src,
                     json.dumps(box.as_list()) if box is not None else None, created))
                ids.append(int(cur.lastrowid or 0))
        return ids

    def people(self) -> list[Person]:
        """Everyone enrolled, by name, with their face counts."""
        rows = self._conn.execute(
            "SELECT p.id, p.name, p.metadata, COUNT(f.id) FROM people p "
            "LEFT JOIN faces f ON f.person_id = p.id GROUP BY p.id ORDER BY p.name").fetchall()
        return [Person(int(i), n, json.loads(m), int(c)) for i, n, m, c in rows]

    def person(self, name: str) -> Person:
        return self._to_person(*self._person_row(name))

    def faces(self, name: str) -> list[StoredFace]:
        """The stored faces of one person."""
        pid = self._person_row(name)[0]
        rows = self._conn.execute(
            "SELECT id, person_id, embedder, source, box, created FROM faces "
            "WHERE person_id = ? ORDER BY id", (pid,)).fetchall()
        return [StoredFace(int(i), int(p), e, s, Box(*json.loads(b)) if b else None, c)
                for i, p, e, s, b, c in rows]

    def rename(self, old: str, new: str) -> Person:
        clean = _check_name(new)
        with self._write() as cur:
            self._begin(cur)
            pid = self._person_row(old)[0]
            try:
                cur.execute("UPDATE people SET name = ? WHERE id = ?", (clean, pid))
            except sqlite3.IntegrityError:
                raise GalleryError(f"a person named {clean!r} already exists") from None
        return self.person(clean)

    def set_metadata(self, name: str, metadata: dict[str, object]) -> Person:
        meta = _metadata_json(metadata)
        with self._write() as cur:
            self._begin(cur)
            pid = self._person_row(name)[0]
            cur.execute("UPDATE people SET metadata = ? WHERE id = ?", (meta, pid))
        return self.person(name)

    def remove_person(self, name: str) -> int:
        """Forget a person and all their faces; returns how many faces went."""
        with self._write() as cur:
            self._begin(cur)
            pid = self._person_row(name)[0]
            count = cur.execute("SELECT COUNT(*) FROM faces WHERE person_id = ?",
                                (pid,)).fetchone()[0]
            cur.execute("DELETE FROM people WHERE id = ?", (pid,))
        return int(count)

    def remove_face(self, face_id: int) -> None:
        with self._write() as cur:
            self._begin(cur)
            cur.execute("DELETE FROM faces WHERE id = ?", (int(face_id),))
            if cur.rowcount == 0:
                raise GalleryError(f"no face with id {face_id} in the gallery")

    def count_faces(self, embedder: str | None = None) -> int:
        if embedder is None:
            return int(self._conn.execute("SELECT COUNT(*) FROM faces").fetchone()[0])
        return int(self._conn.execute("SELECT COUNT(*) FROM faces WHERE embedder = ?",
                                      (embedder,)).fetchone()[0])

    # -- search -------------------------------------------------------------------
    def _vectors(self, embedder: str) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """All faces of one embedder: (vectors (F, D), face ids, person ids), cached
        until the file changes."""
        with self._lock:
            version = (self._conn.execute("PRAGMA data_version").fetchone()[0] << 32) \
                + self._writes
            hit = self._cache.get(embedder)
            if hit is not None and hit[0] == version:
                return hit[1], hit[2], hit[3]
            rows = self._conn.execute(
                "SELECT id, person_id, dim, vector FROM faces WHERE embedder = ? ORDER BY id",
                (embedder,)).fetchall()
            if rows:
                dim = rows[0][2]
                vecs = np.frombuffer(b"".join(r[3] for r in rows), dtype="<f4").reshape(-1, dim)
            else:
                vecs = np.empty((0, 0), dtype=np.float32)
            face_ids = np.array([r[0] for r in rows], dtype=np.int64)
            person_ids = np.array([r[1] for r in rows], dtype=np.int64)
            self._cache[embedder] = (version, vecs, face_ids, person_ids)
            return vecs, face_ids, person_ids

    def search(self, embedder: str, vectors: np.ndarray, metric: Metric, k: int = 1
               ) -> list[list[Match]]:
        """For each query vector, the ``k`` nearest people (by their nearest face),
        nearest first. EmptyGalleryError when no face of ``embedder`` is stored."""
        if k < 1:
            raise GalleryError("k must be at least 1")
        gallery, face_ids, person_ids = self._vectors(embedder)
        if len(gallery) == 0:
            raise EmptyGalleryError(
                f"the gallery {self.path} has no faces embedded with {embedder!r}; "
                "enroll someone first")
        queries = np.atleast_2d(np.asarray(vectors, dtype=np.float32))
        if queries.shape[1] != gallery.shape[1]:
            raise GalleryError(f"query embeddings are {queries.shape[1]}-d, the gallery's "
                               f"{embedder!r} faces are {gallery.shape[1]}-d")
        names = dict(self._conn.execute("SELECT id, name FROM people").fetchall())
        dist = pairwise(queries, gallery, metric)
        results = []
        for row in dist:
            order = np.argsort(row, kind="stable")
            seen: set[int] = set()
            matches = []
            for j in order:
                pid = int(person_ids[j])
                if pid in seen:
                    continue
                seen.add(pid)
                d = float(row[j])
                matches.append(Match(names[pid], d if math.isfinite(d) else math.inf,
                                     pid, int(face_ids[j])))
                if len(matches) == k:
                    break
            results.append(matches)
        return results

    # -- life cycle ---------------------------------------------------------------
    def close(self) -> None:
        with self._lock:
            self._conn.close()

    def __enter__(self) -> SqliteGallery:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
