"""The embedded store: one SQLite file, the source of truth.

Layout (schema version 2)::

    meta(key PRIMARY KEY, value)          store_id (random, new per file), max_faces
    groups(id, group_id UNIQUE, created)
    users(id, group_ref -> groups ON DELETE CASCADE, user_id, user_info JSON, created,
          UNIQUE(group_ref, user_id))
    faces(id, face_token UNIQUE, user_ref -> users ON DELETE CASCADE, embedder, dim,
          vector BLOB (float32, little-endian), source, box JSON [l, t, w, h],
          quality, created)
    changes(seq AUTOINCREMENT, face_id, added)   filled by triggers on faces
    thumbnails(face_id -> faces ON DELETE CASCADE, jpeg BLOB)   a small picture of
          each face enrolled through the service (optional; added to older schema-2
          files when they are opened, see _THUMBNAILS)

The change log is written by triggers, so no writer can forget it: an index
that reflects change ``seq`` catches up by replaying the later entries.

Every write is one ``BEGIN IMMEDIATE`` transaction, committed before the method
returns, so a failed request stores nothing and processes writing at once are
serialised by SQLite's lock (WAL journal, 30 s busy timeout) and lose nothing.

Schema 1 files (faceprint 0.1: ``people`` and ``faces``) are migrated in place
when opened, in one transaction, after a copy of the file is written to
``<file>.schema1.bak``: every person becomes a user of the group ``default``
(name -> user_id, metadata -> user_info), every face keeps its id and gains a
face token.
"""

from __future__ import annotations

import json
import secrets
import sqlite3
import threading
import uuid
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import numpy as np

from ...errors import (
    DimensionError,
    DuplicateError,
    FaceLimitError,
    FaceNotFoundError,
    GalleryError,
    GroupNotFoundError,
    UserNotFoundError,
)
from ...types import Box, FaceRecord, Group, User
from ..model import (
    DEFAULT_GROUP,
    MAX_FACES_PER_USER,
    Change,
    Hit,
    NewFace,
    check_group_id,
    check_new_faces,
    check_user_id,
    info_json,
    records_checksum,
)

SCHEMA_VERSION = 2
APPLICATION_ID = 0x46507274  # "FPrt": marks a file as a faceprint gallery

_TABLES = """
CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE groups (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    group_id TEXT NOT NULL UNIQUE,
    created TEXT NOT NULL
);
CREATE TABLE users (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    group_ref INTEGER NOT NULL REFERENCES groups(id) ON DELETE CASCADE,
    user_id TEXT NOT NULL,
    user_info TEXT NOT NULL DEFAULT '{}',
    created TEXT NOT NULL,
    UNIQUE (group_ref, user_id)
);
CREATE TABLE faces2 (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    face_token TEXT NOT NULL UNIQUE,
    user_ref INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    embedder TEXT NOT NULL,
    dim INTEGER NOT NULL,
    vector BLOB NOT NULL,
    source TEXT,
    box TEXT,
    quality REAL,
    created TEXT NOT NULL
);
CREATE TABLE changes (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    face_id INTEGER NOT NULL,
    added INTEGER NOT NULL
)
"""

_AFTER = """
CREATE INDEX faces_by_user ON faces(user_ref);
CREATE INDEX faces_by_embedder ON faces(embedder, id);
CREATE INDEX users_by_group ON users(group_ref);
CREATE TRIGGER faces_added AFTER INSERT ON faces BEGIN
    INSERT INTO changes(face_id, added) VALUES (new.id, 1);
END;
CREATE TRIGGER faces_removed AFTER DELETE ON faces BEGIN
    INSERT INTO changes(face_id, added) VALUES (old.id, 0);
END
"""


# The face thumbnails' side table: additive, so it needs no new schema version (a
# faceprint that does not know it leaves it alone, and the cascade still removes a
# deleted face's picture); made when missing each time a file is opened.
_THUMBNAILS = """
CREATE TABLE IF NOT EXISTS thumbnails (
    face_id INTEGER PRIMARY KEY REFERENCES faces(id) ON DELETE CASCADE,
    jpeg BLOB NOT NULL
)
"""


def now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="milliseconds")


def new_token() -> str:
    """An opaque, unguessable face token: 128 random bits as 32 hex digits."""
    return secrets.token_hex(16)


def _statements(script: str) -> list[str]:
    """Split a script into complete statements (trigger bodies hold ';' too)."""
    out, buf = [], ""
    for part in script.split(";"):
        buf += part + ";"
        if sqlite3.complete_statement(buf):
            if buf.strip(" \n;"):
                out.append(buf.strip())
            buf = ""
    return out


class SqliteStore:
    """Groups, users and faces in one SQLite file (created if missing)."""

    def __init__(self, path: str | Path, *, timeout: float = 30.0,
                 max_faces: int = MAX_FACES_PER_USER, migrate: bool = True) -> None:
        self.path = Path(path)
        self.location = str(path)
        self.memory = self.location == ":memory:"
        if self.path.is_dir():
            raise GalleryError(f"{self.path}: is a directory, not a gallery file")
        if not self.memory:
            try:
                self.path.parent.mkdir(parents=True, exist_ok=True)
            except OSError as exc:
                raise GalleryError(f"cannot create the folder for {self.path}: {exc}"
                                   ) from None
        try:
            self._conn = sqlite3.connect(self.location, timeout=timeout,
                                         isolation_level=None, check_same_thread=False)
        except sqlite3.Error as exc:
            raise GalleryError(f"{self.path}: cannot open the gallery ({exc})") from None
        self._lock = threading.RLock()
        self.migrated_from: int | None = None
        self.backup: Path | None = None
        try:
            self._setup(migrate)
            row = self._conn.execute("SELECT value FROM meta WHERE key='max_faces'").fetchone()
            self.max_faces = int(row[0]) if row else max_faces
            self._store_id = str(self._conn.execute(
                "SELECT value FROM meta WHERE key='store_id'").fetchone()[0])
        except sqlite3.DatabaseError as exc:
            self._conn.close()
            raise GalleryError(f"{self.path}: not a faceprint gallery ({exc})") from None
        except BaseException:
            self._conn.close()
            raise

    # -- opening, creating, migrating ------------------------------------------------
    def _setup(self, migrate: bool) -> None:
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
        if not self.memory:
            conn.execute("PRAGMA journal_mode = WAL")
        if not tables:
            self._create()
        elif version == 1:
            if not migrate:
                raise GalleryError(f"{self.path}: a schema-1 gallery (run `faceprint gallery "
                                   "migrate` or open it to migrate it)")
            self._migrate_from_1()
        if not conn.execute("SELECT 1 FROM sqlite_master WHERE name = 'thumbnails'").fetchone():
            try:
                with self._write() as cur:
                    cur.execute(_THUMBNAILS)
            except sqlite3.OperationalError:
                pass  # a read-only file: no thumbnails (thumbnails() answers none)

    def _create(self) -> None:
        with self._write() as cur:
            cur.execute(f"PRAGMA application_id = {APPLICATION_ID}")
            cur.execute("BEGIN IMMEDIATE")
            if cur.execute("SELECT COUNT(*) FROM sqlite_master WHERE type='table'"
                           ).fetchone()[0]:
                return  # another process created it meanwhile
            for statement in _statements(_TABLES):
                cur.execute(statement)
            cur.execute("ALTER TABLE faces2 RENAME TO faces")
            for statement in _statements(_AFTER):
                cur.execute(statement)
            self._init_meta(cur)
            cur.execute(f"PRAGMA user_version = {SCHEMA_VERSION}")

    def _init_meta(self, cur: sqlite3.Cursor) -> None:
        cur.execute("INSERT INTO meta VALUES ('store_id', ?)", (uuid.uuid4().hex,))
        cur.execute("INSERT INTO meta VALUES ('max_faces', ?)", (str(MAX_FACES_PER_USER),))
        cur.execute("INSERT INTO groups(group_id, created) VALUES (?, ?)",
                    (DEFAULT_GROUP, now()))

    def _migrate_from_1(self) -> None:
        """Schema 1 -> 2 in one transaction, after a backup copy of the file."""
        backup = self.path.with_name(self.path.name + ".schema1.bak")
        try:
            with sqlite3.connect(str(backup)) as dst:
                self._conn.backup(dst)
            dst.close()
        except sqlite3.Error as exc:
            raise GalleryError(f"{self.path}: cannot write the backup {backup} before "
                               f"migrating ({exc}); nothing changed") from None
        conn = self._conn
        conn.create_function("fp_token", 0, new_token)
        conn.execute("PRAGMA foreign_keys = OFF")
        try:
            with self._write() as cur:
                cur.execute("BEGIN IMMEDIATE")
                if cur.execute("PRAGMA user_version").fetchone()[0] != 1:
                    return  # another process migrated it meanwhile
                for statement in _statements(_TABLES):
                    cur.execute(statement)
                self._init_meta(cur)
                cur.execute("INSERT INTO users(id, group_ref, user_id, user_info, created) "
                            "SELECT id, 1, name, metadata, created FROM people")
                cur.execute("INSERT INTO faces2(id, face_token, user_ref, embedder, dim, "
                            "vector, source, box, quality, created) SELECT id, fp_token(), "
                            "person_id, embedder, dim, vector, source, box, NULL, created "
                            "FROM faces ORDER BY id")
                cur.execute("DROP TABLE faces")
                cur.execute("DROP TABLE people")
                cur.execute("ALTER TABLE faces2 RENAME TO faces")
                for statement in _statements(_AFTER):
                    cur.execute(statement)
                bad = cur.execute("PRAGMA foreign_key_check").fetchall()
                if bad:
                    raise GalleryError(f"{self.path}: schema-1 file has dangling faces "
                                       f"({len(bad)}); not migrated")
                cur.execute(f"PRAGMA user_version = {SCHEMA_VERSION}")
        finally:
            conn.execute("PRAGMA foreign_keys = ON")
        self.migrated_from, self.backup = 1, backup

    # -- plumbing ----------------------------------------------------------------------
    @contextmanager
    def _write(self) -> Iterator[sqlite3.Cursor]:
        """One write transaction: everything inside commits together or not at all."""
        with self._lock:
            cur = self._conn.cursor()
            try:
                yield cur
                if self._conn.in_transaction:
                    cur.execute("COMMIT")
            except BaseException:
                if self._conn.in_transaction:
                    cur.execute("ROLLBACK")
                raise
            finally:
                cur.close()

    @contextmanager
    def _tx(self) -> Iterator[sqlite3.Cursor]:
        with self._write() as cur:
            try:
                cur.execute("BEGIN IMMEDIATE")
            except sqlite3.OperationalError as exc:
                raise GalleryError(f"{self.path}: the gallery is busy or read-only "
                                   f"({exc})") from None
            yield cur

    def _q(self, sql: str, args: Sequence[Any] = ()) -> list[Any]:
        with self._lock:
            return self._conn.execute(sql, tuple(args)).fetchall()

    def _group_ref(self, cur: sqlite3.Cursor | None, group_id: str) -> int:
        check_group_id(group_id)
        c = cur or self._conn
        with self._lock:
            row = c.execute("SELECT id FROM groups WHERE group_id = ?", (group_id,)).fetchone()
        if row is None:
            raise GroupNotFoundError(f"no group {group_id!r} in the gallery")
        return int(row[0])

    def _user_row(self, cur: sqlite3.Cursor | None, group_id: str, user_id: str
                  ) -> tuple[int, str, str, str]:
        gref = self._group_ref(cur, group_id)
        clean = check_user_id(user_id)
        c = cur or self._conn
        with self._lock:
            row = c.execute("SELECT id, user_id, user_info, created FROM users "
                            "WHERE group_ref = ? AND user_id = ?", (gref, clean)).fetchone()
        if row is None:
            where = "" if group_id == DEFAULT_GROUP else f" in group {group_id!r}"
            raise UserNotFoundError(f"no person named {clean!r}{where} in the gallery")
        return int(row[0]), row[1], row[2], row[3]

    def _user(self, group_id: str, row: tuple[int, str, str, str],
              cur: sqlite3.Cursor | None = None) -> User:
        c = cur or self._conn
        with self._lock:
            count = c.execute("SELECT COUNT(*) FROM faces WHERE user_ref = ?",
                              (row[0],)).fetchone()[0]
        return User(group_id, row[1], json.loads(row[2]), int(count), row[3], row[0])

    @staticmethod
    def _face(row: Sequence[Any]) -> FaceRecord:
        fid, token, gid, uid, emb, src, box, quality, created = row
        return FaceRecord(token, gid, uid, emb, src, Box(*json.loads(box)) if box else None,
                          None if quality is None else float(quality), created, int(fid))

    _FACE_SQL = ("SELECT f.id, f.face_token, g.group_id, u.user_id, f.embedder, f.source, "
                 "f.box, f.quality, f.created FROM faces f JOIN users u ON u.id = f.user_ref "
                 "JOIN groups g ON g.id = u.group_ref ")

    # -- groups ------------------------------------------------------------------------
    def add_group(self, group_id: str) -> Group:
        check_group_id(group_id)
        with self._tx() as cur:
            try:
                cur.execute("INSERT INTO groups(group_id, created) VALUES (?, ?)",
                            (group_id, now()))
            except sqlite3.IntegrityError:
                raise DuplicateError(f"a group {group_id!r} already exists") from None
        return self.group(group_id)

    def delete_group(self, group_id: str) -> int:
        """Delete a group, its users and their faces; returns how many faces went."""
        with self._tx() as cur:
            gref = self._group_ref(cur, group_id)
            count = cur.execute("SELECT COUNT(*) FROM faces f JOIN users u ON "
                                "u.id = f.user_ref WHERE u.group_ref = ?", (gref,)).fetchone()[0]
            cur.execute("DELETE FROM groups WHERE id = ?", (gref,))
        return int(count)

    def require_group(self, group_id: str) -> None:
        """GroupNotFoundError unless the group exists (cheap: no counting)."""
        self._group_ref(None, group_id)

    def group(self, group_id: str) -> Group:
        gref = self._group_ref(None, group_id)
        [(created, users, faces)] = self._q(
            "SELECT g.created, (SELECT COUNT(*) FROM users WHERE group_ref = g.id), "
            "(SELECT COUNT(*) FROM faces f JOIN users u ON u.id = f.user_ref "
            "WHERE u.group_ref = g.id) FROM groups g WHERE g.id = ?", (gref,))
        return Group(group_id, created, int(users), int(faces))

    def groups(self) -> list[Group]:
        rows = self._q(
            "SELECT g.group_id, g.created, (SELECT COUNT(*) FROM users WHERE group_ref = g.id), "
            "(SELECT COUNT(*) FROM faces f JOIN users u ON u.id = f.user_ref "
            "WHERE u.group_ref = g.id) FROM groups g ORDER BY g.group_id")
        return [Group(g, c, int(u), int(f)) for g, c, u, f in rows]

    # -- users -------------------------------------------------------------------------
    def add_user(self, group_id: str, user_id: str, user_info: dict[str, object] | None = None
                 ) -> User:
        clean, info = check_user_id(user_id), info_json(user_info)
        with self._tx() as cur:
            gref = self._group_ref(cur, group_id)
            try:
                cur.execute("INSERT INTO users(group_ref, user_id, user_info, created) "
                            "VALUES (?, ?, ?, ?)", (gref, clean, info, now()))
            except sqlite3.IntegrityError:
                where = "" if group_id == DEFAULT_GROUP else f" in group {group_id!r}"
                raise DuplicateError(f"a person named {clean!r} already exists{where}"
                                     ) from None
        return self.user(group_id, clean)

    def update_user(self, group_id: str, user_id: str, *,
                    user_info: dict[str, object] | None = None,
                    new_user_id: str | None = None) -> User:
        info = None if user_info is None else info_json(user_info)
        new = None if new_user_id is None else check_user_id(new_user_id)
        with self._tx() as cur:
            ref = self._user_row(cur, group_id, user_id)[0]
            if info is not None:
                cur.execute("UPDATE users SET user_info = ? WHERE id = ?", (info, ref))
            if new is not None:
                try:
                    cur.execute("UPDATE users SET user_id = ? WHERE id = ?", (new, ref))
                except sqlite3.IntegrityError:
                    where = "" if group_id == DEFAULT_GROUP else f" in group {group_id!r}"
                    raise DuplicateError(f"a person named {new!r} already exists{where}"
                                         ) from None
        return self.user(group_id, new or user_id)

    def user(self, group_id: str, user_id: str) -> User:
        return self._user(group_id, self._user_row(None, group_id, user_id))

    def users(self, group_id: str) -> list[User]:
        gref = self._group_ref(None, group_id)
        rows = self._q("SELECT u.id, u.user_id, u.user_info, u.created, COUNT(f.id) FROM users u "
                       "LEFT JOIN faces f ON f.user_ref = u.id WHERE u.group_ref = ? "
                       "GROUP BY u.id ORDER BY u.user_id", (gref,))
        return [User(group_id, uid, json.loads(info), int(n), created, int(ref))
                for ref, uid, info, created, n in rows]

    def copy_user(self, user_id: str, src_group: str, dst_group: str) -> User:
        """Copy a user with all their faces (new face tokens) into another group."""
        with self._tx() as cur:
            ref, uid, info, _ = self._user_row(cur, src_group, user_id)
            dst = self._group_ref(cur, dst_group)
            try:
                cur.execute("INSERT INTO users(group_ref, user_id, user_info, created) "
                            "VALUES (?, ?, ?, ?)", (dst, uid, info, now()))
            except sqlite3.IntegrityError:
                raise DuplicateError(f"a person named {uid!r} already exists in group "
                                     f"{dst_group!r}") from None
            new_ref = int(cur.lastrowid or 0)
            rows = cur.execute("SELECT id, embedder, dim, vector, source, box, quality, "
                               "created FROM faces WHERE user_ref = ? ORDER BY id",
                               (ref,)).fetchall()
            for old_id, *row in rows:
                cur.execute("INSERT INTO faces(face_token, user_ref, embedder, dim, vector, "
                            "source, box, quality, created) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                            (new_token(), new_ref, *row))
                cur.execute("INSERT INTO thumbnails(face_id, jpeg) SELECT ?, jpeg FROM "
                            "thumbnails WHERE face_id = ?", (int(cur.lastrowid or 0), old_id))
        return self.user(dst_group, uid)

    def delete_user(self, group_id: str, user_id: str) -> int:
        """Forget a user and all their faces; returns how many faces went."""
        with self._tx() as cur:
            ref = self._user_row(cur, group_id, user_id)[0]
            count = cur.execute("SELECT COUNT(*) FROM faces WHERE user_ref = ?",
                                (ref,)).fetchone()[0]
            cur.execute("DELETE FROM users WHERE id = ?", (ref,))
        return int(count)

    # -- faces -------------------------------------------------------------------------
    def add_faces(self, group_id: str, user_id: str, embedder: str, faces: Sequence[NewFace],
                  *, create: bool = False, user_info: dict[str, object] | None = None,
                  ) -> list[FaceRecord]:
        """Store faces for a user in one transaction. With ``create`` the user is
        made if missing and ``user_info``, when given, replaces theirs."""
        clean, vecs, info = check_new_faces(user_id, faces, user_info)
        stamp = now()
        with self._tx() as cur:
            row = cur.execute("SELECT dim FROM faces WHERE embedder = ? LIMIT 1",
                              (embedder,)).fetchone()
            if row is not None and row[0] != vecs.shape[1]:
                raise DimensionError(f"embedder {embedder!r} has {row[0]}-d faces in this "
                                     f"gallery; got {vecs.shape[1]}-d")
            gref = self._group_ref(cur, group_id)
            found = cur.execute("SELECT id FROM users WHERE group_ref = ? AND user_id = ?",
                                (gref, clean)).fetchone()
            if found is None:
                if not create:
                    self._user_row(cur, group_id, clean)  # raises UserNotFoundError
                cur.execute("INSERT INTO users(group_ref, user_id, user_info, created) "
                            "VALUES (?, ?, ?, ?)", (gref, clean, info or "{}", stamp))
                ref, have = int(cur.lastrowid or 0), 0
            else:
                ref = int(found[0])
                have = int(cur.execute("SELECT COUNT(*) FROM faces WHERE user_ref = ?",
                                       (ref,)).fetchone()[0])
                if info is not None:
                    cur.execute("UPDATE users SET user_info = ? WHERE id = ?", (info, ref))
            if have + len(faces) > self.max_faces:
                raise FaceLimitError(f"{clean!r} has {have} face{'s' if have != 1 else ''}; "
                                     f"{len(faces)} more would exceed the limit of "
                                     f"{self.max_faces} faces per person")
            ids = []
            for face, vec in zip(faces, vecs):
                box = json.dumps(face.box.as_list()) if face.box is not None else None
                quality = None if face.quality is None else float(face.quality)
                cur.execute("INSERT INTO faces(face_token, user_ref, embedder, dim, vector, "
                            "source, box, quality, created) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                            (new_token(), ref, embedder, int(vecs.shape[1]),
                             vec.astype("<f4").tobytes(), face.source, box, quality, stamp))
                ids.append(int(cur.lastrowid or 0))
                if face.thumbnail:
                    cur.execute("INSERT INTO thumbnails(face_id, jpeg) VALUES (?, ?)",
                                (ids[-1], bytes(face.thumbnail)))
            marks = ",".join("?" * len(ids))
            rows = cur.execute(self._FACE_SQL + f"WHERE f.id IN ({marks}) ORDER BY f.id",
                               ids).fetchall()
        return [self._face(r) for r in rows]

    def _face_where(self, face: str | int) -> tuple[str, tuple[Any, ...]]:
        if isinstance(face, (int, np.integer)) and not isinstance(face, bool):
            return "f.id = ?", (int(face),)
        if isinstance(face, str) and face:
            return "f.face_token = ?", (face,)
        raise GalleryError(f"a face is named by its face token (text), got {face!r}")

    def face(self, face: str | int) -> FaceRecord:
        where, args = self._face_where(face)
        rows = self._q(self._FACE_SQL + "WHERE " + where, args)
        if not rows:
            raise FaceNotFoundError(f"no face {face!r} in the gallery" if isinstance(face, str)
                                    else f"no face with id {face} in the gallery")
        return self._face(rows[0])

    def delete_face(self, face: str | int) -> FaceRecord:
        with self._tx():
            record = self.face(face)
            self._conn.execute("DELETE FROM faces WHERE id = ?", (record.id,))
        return record

    def faces(self, group_id: str, user_id: str) -> list[FaceRecord]:
        ref = self._user_row(None, group_id, user_id)[0]
        return [self._face(r) for r in self._q(self._FACE_SQL + "WHERE f.user_ref = ? "
                                                "ORDER BY f.id", (ref,))]

    def thumbnails(self, face_ids: Sequence[int]) -> dict[int, bytes]:
        """The JPEG thumbnails of faces, by face id (faces without one left out)."""
        ids = sorted({int(i) for i in face_ids})
        out: dict[int, bytes] = {}
        try:
            for start in range(0, len(ids), 900):
                part = ids[start:start + 900]
                for fid, jpeg in self._q("SELECT face_id, jpeg FROM thumbnails WHERE face_id "
                                         f"IN ({','.join('?' * len(part))})", part):
                    out[int(fid)] = bytes(jpeg)
        except sqlite3.OperationalError:
            return {}  # a read-only file opened before thumbnails existed
        return out

    def count_faces(self, embedder: str | None = None, group_id: str | None = None) -> int:
        sql = "SELECT COUNT(*) FROM faces f"
        args: list[Any] = []
        conds = []
        if group_id is not None:
            sql += " JOIN users u ON u.id = f.user_ref"
            conds.append("u.group_ref = ?")
            args.append(self._group_ref(None, group_id))
        if embedder is not None:
            conds.append("f.embedder = ?")
            args.append(embedder)
        if conds:
            sql += " WHERE " + " AND ".join(conds)
        return int(self._q(sql, args)[0][0])

    def embedder_dim(self, embedder: str) -> int | None:
        """The dimension of ``embedder``'s vectors here (None: it has no faces)."""
        row = self._q("SELECT dim FROM faces WHERE embedder = ? LIMIT 1", (embedder,))
        return int(row[0][0]) if row else None

    def embedders(self) -> dict[str, int]:
        """Each embedder that has faces here and its vectors' dimension."""
        return {e: int(d) for e, d in self._q(
            "SELECT embedder, MIN(dim) FROM faces GROUP BY embedder")}

    # -- what an index needs -----------------------------------------------------------
    def store_id(self) -> str:
        return self._store_id

    def changes(self) -> int:
        """The change counter: the last entry of the change log (0 before any face)."""
        row = self._q("SELECT seq FROM sqlite_sequence WHERE name = 'changes'")
        return int(row[0][0]) if row else 0

    def changes_since(self, seq: int) -> list[Change] | None:
        """The log after ``seq`` (None when the log does not reach back that far)."""
        rows = self._q("SELECT seq, face_id, added FROM changes WHERE seq > ? ORDER BY seq",
                       (seq,))
        if rows and rows[0][0] != seq + 1:
            return None
        return [Change(int(s), int(f), bool(a)) for s, f, a in rows]

    def vectors(self, embedder: str, face_ids: Sequence[int] | None = None, *,
                chunk: int = 65536
                ) -> Iterator[tuple[np.ndarray, np.ndarray, list[str], np.ndarray]]:
        """Faces of one embedder in chunks: (face ids, user refs, group ids, vectors)."""
        base = ("SELECT f.id, f.user_ref, g.group_id, f.dim, f.vector FROM faces f "
                "JOIN users u ON u.id = f.user_ref JOIN groups g ON g.id = u.group_ref "
                "WHERE f.embedder = ? ")
        if face_ids is not None:
            wanted = [int(i) for i in face_ids]
            for start in range(0, len(wanted), 900):
                part = wanted[start:start + 900]
                rows = self._q(base + f"AND f.id IN ({','.join('?' * len(part))}) "
                               "ORDER BY f.id", [embedder, *part])
                if rows:
                    yield self._unpack(rows)
            return
        last = -1
        while True:
            rows = self._q(base + "AND f.id > ? ORDER BY f.id LIMIT ?", (embedder, last, chunk))
            if not rows:
                return
            last = int(rows[-1][0])
            yield self._unpack(rows)

    @staticmethod
    def _unpack(rows: list[Any]) -> tuple[np.ndarray, np.ndarray, list[str], np.ndarray]:
        dim = int(rows[0][3])
        vecs = np.frombuffer(b"".join(r[4] for r in rows), dtype="<f4").reshape(-1, dim)
        return (np.array([r[0] for r in rows], np.int64), np.array([r[1] for r in rows],
                                                                   np.int64),
                [r[2] for r in rows], vecs.astype(np.float32))

    def hits(self, face_ids: Sequence[int]) -> dict[int, Hit]:
        ids = sorted({int(i) for i in face_ids})
        out: dict[int, Hit] = {}
        for start in range(0, len(ids), 900):
            part = ids[start:start + 900]
            for fid, token, uref, uid, gid in self._q(
                    "SELECT f.id, f.face_token, f.user_ref, u.user_id, g.group_id FROM faces f "
                    "JOIN users u ON u.id = f.user_ref JOIN groups g ON g.id = u.group_ref "
                    f"WHERE f.id IN ({','.join('?' * len(part))})", part):
                out[int(fid)] = Hit(int(fid), token, int(uref), uid, gid)
        return out

    # -- export / import (every record, vectors bit for bit) ---------------------------
    def dump(self) -> Iterator[dict[str, Any]]:
        """Every face with its user and group, in face-id order; users without faces
        and empty groups come first as rows whose ``face_token`` is None."""
        for gid, created in self._q("SELECT group_id, created FROM groups ORDER BY id"):
            yield {"kind": "group", "group_id": gid, "group_created": created}
        for gid, uid, info, created in self._q(
                "SELECT g.group_id, u.user_id, u.user_info, u.created FROM users u JOIN groups "
                "g ON g.id = u.group_ref ORDER BY u.id"):
            yield {"kind": "user", "group_id": gid, "user_id": uid, "user_info": info,
                   "user_created": created}
        last = -1
        while True:
            rows = self._q(
                "SELECT f.id, g.group_id, u.user_id, f.face_token, f.embedder, f.dim, f.vector, "
                "f.source, f.box, f.quality, f.created, t.jpeg FROM faces f JOIN users u ON "
                "u.id = f.user_ref JOIN groups g ON g.id = u.group_ref LEFT JOIN thumbnails t "
                "ON t.face_id = f.id WHERE f.id > ? ORDER BY f.id LIMIT 10000", (last,))
            if not rows:
                return
            last = int(rows[-1][0])
            for _, gid, uid, token, emb, dim, vec, src, box, quality, created, jpeg in rows:
                yield {"kind": "face", "group_id": gid, "user_id": uid, "face_token": token,
                       "embedder": emb, "dim": int(dim), "vector": bytes(vec), "source": src,
                       "box": box, "quality": quality, "face_created": created,
                       "thumbnail": None if jpeg is None else bytes(jpeg)}

    def load(self, rows: Iterable[dict[str, Any]]) -> int:
        """Insert dumped rows (groups, users, faces keeping their tokens and times) in
        one transaction; DuplicateError if any exists already. Returns faces added."""
        added = 0
        with self._tx() as cur:
            grefs: dict[str, int] = {}
            urefs: dict[tuple[str, str], int] = {}
            for r in rows:
                kind = r["kind"]
                if kind == "group":
                    gid = check_group_id(r["group_id"])
                    found = cur.execute("SELECT id FROM groups WHERE group_id = ?",
                                        (gid,)).fetchone()
                    if found is None:
                        cur.execute("INSERT INTO groups(group_id, created) VALUES (?, ?)",
                                    (gid, r["group_created"]))
                        grefs[gid] = int(cur.lastrowid or 0)
                    else:
                        grefs[gid] = int(found[0])
                elif kind == "user":
                    gid, uid = r["group_id"], check_user_id(r["user_id"])
                    if gid not in grefs:
                        grefs[gid] = self._group_ref(cur, gid)
                    try:
                        cur.execute("INSERT INTO users(group_ref, user_id, user_info, created) "
                                    "VALUES (?, ?, ?, ?)", (grefs[gid], uid,
                                                            info_json(json.loads(r["user_info"])),
                                                            r["user_created"]))
                    except sqlite3.IntegrityError:
                        raise DuplicateError(f"a person named {uid!r} already exists in "
                                             f"group {gid!r}") from None
                    urefs[(gid, uid)] = int(cur.lastrowid or 0)
                else:
                    vec = bytes(r["vector"])
                    if len(vec) != 4 * int(r["dim"]):
                        raise DimensionError(f"face {r['face_token']}: {len(vec)} bytes for a "
                                             f"{r['dim']}-d vector")
                    try:
                        cur.execute(
                            "INSERT INTO faces(face_token, user_ref, embedder, dim, vector, "
                            "source, box, quality, created) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                            (r["face_token"], urefs[(r["group_id"], r["user_id"])],
                             r["embedder"], int(r["dim"]), vec, r["source"], r["box"],
                             r["quality"], r["face_created"]))
                    except sqlite3.IntegrityError:
                        raise DuplicateError(f"face {r['face_token']} already exists"
                                             ) from None
                    if r.get("thumbnail"):
                        cur.execute("INSERT INTO thumbnails(face_id, jpeg) VALUES (?, ?)",
                                    (int(cur.lastrowid or 0), bytes(r["thumbnail"])))
                    added += 1
            dims = cur.execute("SELECT embedder, COUNT(DISTINCT dim) FROM faces "
                               "GROUP BY embedder HAVING COUNT(DISTINCT dim) > 1").fetchall()
            if dims:
                raise DimensionError(f"embedder {dims[0][0]!r} would hold vectors of two "
                                     "dimensions; nothing imported")
        return added

    def checksum(self) -> str:
        """A digest of every record and vector (for "nothing changed" checks)."""
        return records_checksum(self.dump())

    def integrity_check(self) -> str:
        return str(self._q("PRAGMA integrity_check")[0][0])

    def close(self) -> None:
        with self._lock:
            self._conn.close()
