"""The Milvus backend: records and vectors both live in Milvus (a server, or a
local milvus-lite file), searched by Milvus itself.

``milvus://HOST:PORT/NAME`` opens collections named ``NAME_*`` on a Milvus
server; ``milvus-lite:PATH`` a local milvus-lite file (``PATH`` ends in ``.db``).
Layout (``NAME`` = the collection prefix):

* ``NAME_records``: one row per group (``g:GROUP``), per user (``u:REF``), per
  embedder (``e:EMBEDDER``, with its dimension, metric and faces collection) and
  the store's id (``m:store``); scalar fields ``kind``, ``group_id``,
  ``user_id``, ``user_ref``, ``info`` (``user_info`` as JSON), ``created``,
  ``dim`` and a 2-d placeholder vector (Milvus needs one per collection).
* ``NAME_f<hash>``, one per embedder: one row per face, primary key the face id
  (int64), the vector, and ``group_id``, ``user_ref``, ``user_id``,
  ``face_token``, ``meta`` (source, box, quality as JSON), ``created``; a FLAT
  (exact) index in the embedder's space (L2 for euclidean embedders, COSINE for
  cosine ones), searched with a ``group_id in [...]`` filter.

Every call uses strong consistency (with Milvus's default, a count right after
a delete still shows the deleted rows). Milvus has no multi-row transactions:
every check (unknown group, duplicate, face limit, dimension) runs before the
first write, and a write that fails half-way is undone by deleting what it wrote.
Concurrent writers to the same user of one collection are not serialised.
"""

from __future__ import annotations

import hashlib
import json
import logging
import secrets
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager, suppress
from typing import Any, ClassVar

import numpy as np

from ..errors import (
    BackendError,
    DimensionError,
    DuplicateError,
    FaceLimitError,
    FaceNotFoundError,
    GalleryError,
    GroupNotFoundError,
    UserNotFoundError,
)
from ..types import Box, FaceRecord, Group, Metric, User
from .core import Gallery
from .model import (
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
from .store.sqlite import new_token, now

STRONG = "Strong"
#: Strong: every read sees every write committed before it (any client's);
#: Session: this client's own writes (cheaper: no wait for the cluster's clock)
LEVELS = ("Strong", "Session")
_SPACE = {"euclidean": "L2", "sqeuclidean": "L2", "cosine": "COSINE"}
_SCAN = 4096
_PAGE = 16384  # Milvus's largest query page


def _lit(text: str) -> str:
    """A Milvus expression string literal."""
    return json.dumps(text, ensure_ascii=False)


@contextmanager
def _quiet() -> Iterator[None]:
    """pymilvus's own log lines (it logs what it also raises) held back."""
    names = ("pymilvus", "pymilvus.milvus_client")
    levels = [logging.getLogger(n).level for n in names]
    for n in names:
        logging.getLogger(n).setLevel(logging.CRITICAL)
    try:
        yield
    finally:
        for n, level in zip(names, levels):
            logging.getLogger(n).setLevel(level)


def _reason(exc: BaseException) -> str:
    """The message of a pymilvus exception, without its class wrapper."""
    return str(getattr(exc, "message", "") or exc).strip() or type(exc).__name__


def _new_id() -> int:
    return secrets.randbits(62) + 1


def _embedder_metric(embedder: str) -> str:
    """The Milvus metric of an embedder's faces: its registered metric's space, L2
    for names the registry does not know."""
    try:
        from ..registry import embedder_class

        metric = str(getattr(embedder_class(embedder), "metric", "euclidean"))
    except Exception:  # an unregistered name (tests, imported galleries)
        metric = "euclidean"
    return _SPACE.get(metric, "L2")


class MilvusStore:
    """Groups, users and faces in Milvus collections (see the module's docstring)."""

    def __init__(self, uri: str, prefix: str, *, location: str,
                 max_faces: int = MAX_FACES_PER_USER, timeout: float = 5.0,
                 consistency: str = STRONG) -> None:
        try:
            from pymilvus import DataType, MilvusClient
        except ImportError as exc:
            raise BackendError(f"{location}: pymilvus is not installed (pip install "
                               f"'faceprint[milvus]'): {exc}") from None
        self.location = location
        self.max_faces = max_faces
        if consistency not in LEVELS:
            raise GalleryError(f"{location}: consistency must be one of {', '.join(LEVELS)}")
        self._level = consistency
        self._spaces: dict[str, tuple[str, str]] = {}
        self._dt = DataType
        self._prefix = prefix
        try:
            with _quiet():  # pymilvus logs a failed connection itself
                self.client = MilvusClient(uri=uri, timeout=timeout)
        except Exception as exc:
            what = "Milvus server" if uri.startswith("http") else "milvus-lite file"
            raise BackendError(f"cannot reach the {what} at {location}: "
                               f"{_reason(exc)}") from None
        try:
            self._records = f"{prefix}_records"
            if not self.client.has_collection(self._records):
                self._create(self._records, 2, "L2", records=True)
            self.client.load_collection(self._records)
        except GalleryError:
            raise
        except Exception as exc:
            raise BackendError(f"cannot use the Milvus gallery at {location}: "
                               f"{_reason(exc)}") from None
        meta = self._get("m:store")
        if meta is None:
            self._store_id = secrets.token_hex(16)
            self._put([{"key": "m:store", "kind": "m", "info": self._store_id}])
        else:
            self._store_id = str(meta["info"])

    # -- plumbing ----------------------------------------------------------------------
    def _create(self, name: str, dim: int, metric: str, *, records: bool) -> None:
        dt = self._dt
        schema = self.client.create_schema(auto_id=False, enable_dynamic_field=False)
        if records:
            schema.add_field("key", dt.VARCHAR, max_length=512, is_primary=True)
            schema.add_field("kind", dt.VARCHAR, max_length=1)
            schema.add_field("group_id", dt.VARCHAR, max_length=128)
            schema.add_field("user_id", dt.VARCHAR, max_length=1024)
            schema.add_field("user_ref", dt.INT64)
            schema.add_field("info", dt.VARCHAR, max_length=65535)
            schema.add_field("created", dt.VARCHAR, max_length=64)
            schema.add_field("dim", dt.INT64)
        else:
            schema.add_field("id", dt.INT64, is_primary=True)
            schema.add_field("group_id", dt.VARCHAR, max_length=128)
            schema.add_field("user_ref", dt.INT64)
            schema.add_field("user_id", dt.VARCHAR, max_length=1024)
            schema.add_field("face_token", dt.VARCHAR, max_length=64)
            schema.add_field("meta", dt.VARCHAR, max_length=8192)
            schema.add_field("created", dt.VARCHAR, max_length=64)
        schema.add_field("vector", dt.FLOAT_VECTOR, dim=dim)
        params = self.client.prepare_index_params()
        params.add_index(field_name="vector", index_type="FLAT", metric_type=metric)
        self.client.create_collection(name, schema=schema, index_params=params,
                                      consistency_level=self._level)

    def _call(self, what: str, fn: Any, *args: Any, **kwargs: Any) -> Any:
        try:
            return fn(*args, **kwargs)
        except GalleryError:
            raise
        except Exception as exc:
            raise BackendError(f"{self.location}: Milvus failed to {what}: "
                               f"{_reason(exc)}") from None

    def _rows(self, coll: str, expr: str, fields: list[str]) -> list[dict[str, Any]]:
        """Every row of ``coll`` matching ``expr`` (an iterator past one page)."""
        page = self._call("read", self.client.query, coll, filter=expr, output_fields=fields,
                          limit=_PAGE, consistency_level=self._level)
        if len(page) < _PAGE:
            return [dict(r) for r in page]
        with _quiet():  # its notes on timestamps
            it = self._call("read", self.client.query_iterator, coll, batch_size=_SCAN,
                            filter=expr, output_fields=fields, consistency_level=self._level)
        out: list[dict[str, Any]] = []
        while True:
            batch = self._call("read", it.next)
            if not batch:
                it.close()
                return out
            out.extend(dict(r) for r in batch)

    def _count(self, coll: str, expr: str) -> int:
        res = self._call("count", self.client.query, coll, filter=expr,
                         output_fields=["count(*)"], consistency_level=self._level)
        return int(res[0]["count(*)"]) if res else 0

    def _put(self, rows: list[dict[str, Any]]) -> None:
        full = [{"kind": "", "group_id": "", "user_id": "", "user_ref": 0, "info": "",
                 "created": "", "dim": 0, "vector": [0.0, 0.0], **r} for r in rows]
        self._call("write", self.client.upsert, self._records, data=full)

    def _get(self, key: str) -> dict[str, Any] | None:
        rows = self._call("read", self.client.query, self._records, filter=f"key == {_lit(key)}",
                          output_fields=["*"], consistency_level=self._level)
        return dict(rows[0]) if rows else None

    def _embedder_rows(self) -> dict[str, dict[str, Any]]:
        return {str(r["user_id"]): r for r in self._rows(
            self._records, 'kind == "e"', ["user_id", "info", "dim", "group_id"])}

    def _face_colls(self) -> list[tuple[str, str]]:
        """(embedder, faces collection) of every embedder with a collection."""
        return [(e, str(r["info"])) for e, r in self._embedder_rows().items()]

    def _coll(self, embedder: str) -> str | None:
        row = self._get("e:" + embedder)
        return None if row is None else str(row["info"])

    def _group_row(self, group_id: str) -> dict[str, Any]:
        check_group_id(group_id)
        row = self._get("g:" + group_id)
        if row is None:
            raise GroupNotFoundError(f"no group {group_id!r} in the gallery")
        return row

    def _user_row(self, group_id: str, user_id: str) -> dict[str, Any]:
        self._group_row(group_id)
        clean = check_user_id(user_id)
        rows = self._rows(self._records, f'kind == "u" and group_id == {_lit(group_id)} '
                          f"and user_id == {_lit(clean)}", ["*"])
        if not rows:
            where = "" if group_id == DEFAULT_GROUP else f" in group {group_id!r}"
            raise UserNotFoundError(f"no person named {clean!r}{where} in the gallery")
        return rows[0]

    def _face_count(self, expr: str) -> int:
        return sum(self._count(c, expr) for _, c in self._face_colls())

    def _user(self, row: dict[str, Any]) -> User:
        ref = int(row["user_ref"])
        return User(str(row["group_id"]), str(row["user_id"]), json.loads(row["info"] or "{}"),
                    self._face_count(f"user_ref == {ref}"), str(row["created"]), ref)

    @staticmethod
    def _face(embedder: str, r: dict[str, Any]) -> FaceRecord:
        meta = json.loads(r["meta"] or "{}")
        box = meta.get("box")
        quality = meta.get("quality")
        return FaceRecord(str(r["face_token"]), str(r["group_id"]), str(r["user_id"]), embedder,
                          meta.get("source"), Box(*box) if box else None,
                          None if quality is None else float(quality), str(r["created"]),
                          int(r["id"]))

    _FACE_FIELDS: ClassVar[list[str]] = ["id", "group_id", "user_ref", "user_id", "face_token",
                                         "meta", "created"]

    def _faces_where(self, expr: str, *, vectors: bool = False
                     ) -> list[tuple[str, str, dict[str, Any]]]:
        fields = self._FACE_FIELDS + (["vector"] if vectors else [])
        return [(e, c, r) for e, c in self._face_colls() for r in self._rows(c, expr, fields)]

    # -- groups ------------------------------------------------------------------------
    def add_group(self, group_id: str) -> Group:
        check_group_id(group_id)
        if self._get("g:" + group_id) is not None:
            raise DuplicateError(f"a group {group_id!r} already exists")
        self._put([{"key": "g:" + group_id, "kind": "g", "group_id": group_id,
                    "created": now()}])
        return self.group(group_id)

    def delete_group(self, group_id: str) -> int:
        self._group_row(group_id)
        expr = f"group_id == {_lit(group_id)}"
        count = 0
        for _, coll in self._face_colls():
            count += self._count(coll, expr)
            self._call("delete", self.client.delete, coll, filter=expr)
        self._call("delete", self.client.delete, self._records,
                   filter=f'(kind == "u" or kind == "g") and {expr}')
        return count

    def require_group(self, group_id: str) -> None:
        self._group_row(group_id)

    def group_exists(self, group_id: str) -> bool:
        return self._get("g:" + check_group_id(group_id)) is not None

    def group(self, group_id: str) -> Group:
        row = self._group_row(group_id)
        expr = f"group_id == {_lit(group_id)}"
        return Group(group_id, str(row["created"]),
                     self._count(self._records, f'kind == "u" and {expr}'),
                     self._face_count(expr))

    def groups(self) -> list[Group]:
        rows = self._rows(self._records, 'kind == "g"', ["group_id"])
        return [self.group(g) for g in sorted(str(r["group_id"]) for r in rows)]

    # -- users -------------------------------------------------------------------------
    def _user_exists(self, group_id: str, user_id: str) -> bool:
        return self._count(self._records, f'kind == "u" and group_id == {_lit(group_id)} '
                           f"and user_id == {_lit(user_id)}") > 0

    def _duplicate(self, group_id: str, user_id: str) -> DuplicateError:
        where = "" if group_id == DEFAULT_GROUP else f" in group {group_id!r}"
        return DuplicateError(f"a person named {user_id!r} already exists{where}")

    def _new_user(self, group_id: str, user_id: str, info: str, created: str | None = None
                  ) -> int:
        ref = _new_id()
        self._put([{"key": f"u:{ref}", "kind": "u", "group_id": group_id, "user_id": user_id,
                    "user_ref": ref, "info": info, "created": created or now()}])
        return ref

    def add_user(self, group_id: str, user_id: str, user_info: dict[str, object] | None = None
                 ) -> User:
        clean, info = check_user_id(user_id), info_json(user_info)
        self._group_row(group_id)
        if self._user_exists(group_id, clean):
            raise self._duplicate(group_id, clean)
        self._new_user(group_id, clean, info)
        return self.user(group_id, clean)

    def update_user(self, group_id: str, user_id: str, *,
                    user_info: dict[str, object] | None = None,
                    new_user_id: str | None = None) -> User:
        info = None if user_info is None else info_json(user_info)
        new = None if new_user_id is None else check_user_id(new_user_id)
        row = self._user_row(group_id, user_id)
        if new is not None and new != row["user_id"] and self._user_exists(group_id, new):
            raise self._duplicate(group_id, new)
        if info is not None:
            row["info"] = info
        if new is not None and new != row["user_id"]:
            row["user_id"] = new
            ref = int(row["user_ref"])
            for _, coll, face in self._faces_where(f"user_ref == {ref}", vectors=True):
                face["user_id"] = new
                self._call("write", self.client.upsert, coll, data=[face])
        self._put([row])
        return self.user(group_id, new or user_id)

    def user(self, group_id: str, user_id: str) -> User:
        return self._user(self._user_row(group_id, user_id))

    def users(self, group_id: str) -> list[User]:
        self._group_row(group_id)
        rows = self._rows(self._records, f'kind == "u" and group_id == {_lit(group_id)}', ["*"])
        counts: dict[int, int] = {}
        for _, _, f in self._faces_where(f"group_id == {_lit(group_id)}"):
            counts[int(f["user_ref"])] = counts.get(int(f["user_ref"]), 0) + 1
        users = [User(group_id, str(r["user_id"]), json.loads(r["info"] or "{}"),
                      counts.get(int(r["user_ref"]), 0), str(r["created"]), int(r["user_ref"]))
                 for r in rows]
        return sorted(users, key=lambda u: u.user_id)

    def copy_user(self, user_id: str, src_group: str, dst_group: str) -> User:
        row = self._user_row(src_group, user_id)
        uid = str(row["user_id"])
        self._group_row(dst_group)
        if self._user_exists(dst_group, uid):
            raise DuplicateError(f"a person named {uid!r} already exists in group "
                                 f"{dst_group!r}")
        ref = self._new_user(dst_group, uid, str(row["info"]))
        stamp = now()
        for _, coll, face in self._faces_where(f"user_ref == {int(row['user_ref'])}",
                                               vectors=True):
            face.update(id=_new_id(), group_id=dst_group, user_ref=ref, face_token=new_token(),
                        created=stamp)
            self._call("write", self.client.insert, coll, data=[face])
        return self.user(dst_group, uid)

    def delete_user(self, group_id: str, user_id: str) -> int:
        ref = int(self._user_row(group_id, user_id)["user_ref"])
        count = 0
        for _, coll in self._face_colls():
            count += self._count(coll, f"user_ref == {ref}")
            self._call("delete", self.client.delete, coll, filter=f"user_ref == {ref}")
        self._call("delete", self.client.delete, self._records, ids=[f"u:{ref}"])
        return count

    # -- faces -------------------------------------------------------------------------
    def add_faces(self, group_id: str, user_id: str, embedder: str, faces: Sequence[NewFace],
                  *, create: bool = False, user_info: dict[str, object] | None = None,
                  ) -> list[FaceRecord]:
        clean, vecs, info = check_new_faces(user_id, faces, user_info)
        erow = self._get("e:" + embedder)
        if erow is not None and int(erow["dim"]) != vecs.shape[1]:
            raise DimensionError(f"embedder {embedder!r} has {erow['dim']}-d faces in this "
                                 f"gallery; got {vecs.shape[1]}-d")
        self._group_row(group_id)
        found = self._rows(self._records, f'kind == "u" and group_id == {_lit(group_id)} '
                           f"and user_id == {_lit(clean)}", ["*"])
        if not found and not create:
            self._user_row(group_id, clean)  # raises UserNotFoundError
        have = self._face_count(f"user_ref == {int(found[0]['user_ref'])}") if found else 0
        if have + len(faces) > self.max_faces:
            raise FaceLimitError(f"{clean!r} has {have} face{'s' if have != 1 else ''}; "
                                 f"{len(faces)} more would exceed the limit of "
                                 f"{self.max_faces} faces per person")
        coll = self._ensure_coll(embedder, int(vecs.shape[1]), erow)
        stamp = now()
        if found:
            ref, new_user = int(found[0]["user_ref"]), False
            if info is not None:
                self._put([{**found[0], "info": info}])
        else:
            ref, new_user = self._new_user(group_id, clean, info or "{}", stamp), True
        rows = []
        for face, vec in zip(faces, vecs):
            meta = {"source": face.source,
                    "box": face.box.as_list() if face.box is not None else None,
                    "quality": None if face.quality is None else float(face.quality)}
            rows.append({"id": _new_id(), "group_id": group_id, "user_ref": ref,
                         "user_id": clean, "face_token": new_token(), "meta": json.dumps(meta),
                         "created": stamp, "vector": vec.tolist()})
        try:
            self._call("write faces", self.client.insert, coll, data=rows)
        except BackendError:
            if new_user:
                self.client.delete(self._records, ids=[f"u:{ref}"])
            raise
        return [self._face(embedder, r) for r in rows]

    def _ensure_coll(self, embedder: str, dim: int, erow: dict[str, Any] | None) -> str:
        """The faces collection of ``embedder`` (made, with its FLAT index, if new)."""
        if erow is not None:
            return str(erow["info"])
        coll = f"{self._prefix}_f{hashlib.sha1(embedder.encode()).hexdigest()[:16]}"
        if not self._call("check", self.client.has_collection, coll):
            self._call("create a collection", self._create, coll, dim,
                       _embedder_metric(embedder), records=False)
        self._put([{"key": "e:" + embedder, "kind": "e", "user_id": embedder, "info": coll,
                    "dim": dim}])
        return coll

    def _find_face(self, face: str | int) -> tuple[str, str, dict[str, Any]]:
        if isinstance(face, (int, np.integer)) and not isinstance(face, bool):
            expr = f"id == {int(face)}"
        elif isinstance(face, str) and face:
            expr = f"face_token == {_lit(face)}"
        else:
            raise GalleryError(f"a face is named by its face token (text), got {face!r}")
        found = self._faces_where(expr)
        if not found:
            raise FaceNotFoundError(f"no face {face!r} in the gallery" if isinstance(face, str)
                                    else f"no face with id {face} in the gallery")
        return found[0]

    def face(self, face: str | int) -> FaceRecord:
        emb, _, row = self._find_face(face)
        return self._face(emb, row)

    def delete_face(self, face: str | int) -> FaceRecord:
        emb, coll, row = self._find_face(face)
        self._call("delete", self.client.delete, coll, ids=[int(row["id"])])
        return self._face(emb, row)

    def faces(self, group_id: str, user_id: str) -> list[FaceRecord]:
        ref = int(self._user_row(group_id, user_id)["user_ref"])
        found = [self._face(e, r) for e, _, r in self._faces_where(f"user_ref == {ref}")]
        return sorted(found, key=lambda f: (f.created, f.id))

    def count_faces(self, embedder: str | None = None, group_id: str | None = None) -> int:
        expr = "id >= 0"
        if group_id is not None:
            self._group_row(group_id)
            expr = f"group_id == {_lit(group_id)}"
        if embedder is None:
            return self._face_count(expr)
        coll = self._coll(embedder)
        return 0 if coll is None else self._count(coll, expr)

    def embedder_dim(self, embedder: str) -> int | None:
        row = self._get("e:" + embedder)
        if row is None or self._count(str(row["info"]), "id >= 0") == 0:
            return None
        return int(row["dim"])

    def embedders(self) -> dict[str, int]:
        return {e: int(r["dim"]) for e, r in self._embedder_rows().items()
                if self._count(str(r["info"]), "id >= 0") > 0}

    def space(self, embedder: str) -> tuple[str, str] | None:
        """(faces collection, Milvus metric) of an embedder, None without one."""
        if embedder in self._spaces:  # a faces collection's metric never changes
            return self._spaces[embedder]
        coll = self._coll(embedder)
        if coll is None:
            return None
        desc = self._call("describe", self.client.describe_index, coll, index_name="vector")
        self._spaces[embedder] = (coll, str(desc.get("metric_type", "L2")))
        return self._spaces[embedder]

    # -- what an index needs (Milvus is its own index: no change log) ------------------
    def changes(self) -> int:
        return 0

    def store_id(self) -> str:
        return self._store_id

    def changes_since(self, seq: int) -> list[Change] | None:
        return []

    def vectors(self, embedder: str, face_ids: Sequence[int] | None = None, *,
                chunk: int = 65536
                ) -> Iterator[tuple[np.ndarray, np.ndarray, list[str], np.ndarray]]:
        coll = self._coll(embedder)
        if coll is None:
            return
        expr = "id >= 0" if face_ids is None else f"id in {[int(i) for i in face_ids]}"
        rows = self._rows(coll, expr, ["id", "user_ref", "group_id", "vector"])
        rows.sort(key=lambda r: int(r["id"]))
        for start in range(0, len(rows), chunk):
            part = rows[start:start + chunk]
            yield (np.array([r["id"] for r in part], np.int64),
                   np.array([r["user_ref"] for r in part], np.int64),
                   [str(r["group_id"]) for r in part],
                   np.array([r["vector"] for r in part], np.float32))

    def hits(self, face_ids: Sequence[int]) -> dict[int, Hit]:
        ids = sorted({int(i) for i in face_ids})
        if not ids:
            return {}
        return {int(r["id"]): Hit(int(r["id"]), str(r["face_token"]), int(r["user_ref"]),
                                  str(r["user_id"]), str(r["group_id"]))
                for _, _, r in self._faces_where(f"id in {ids}")}

    # -- export / import ---------------------------------------------------------------
    def dump(self) -> Iterator[dict[str, Any]]:
        """The rows of :mod:`.transfer` (groups, users, faces), in a stable order."""
        groups = self._rows(self._records, 'kind == "g"', ["group_id", "created"])
        for g in sorted(groups, key=lambda r: (r["created"], r["group_id"])):
            yield {"kind": "group", "group_id": g["group_id"], "group_created": g["created"]}
        users = self._rows(self._records, 'kind == "u"', ["*"])
        for u in sorted(users, key=lambda r: (r["group_id"], r["user_id"])):
            yield {"kind": "user", "group_id": u["group_id"], "user_id": u["user_id"],
                   "user_info": u["info"], "user_created": u["created"]}
        faces = self._faces_where("id >= 0", vectors=True)
        for emb, _, f in sorted(faces, key=lambda t: (t[2]["created"], t[2]["face_token"])):
            meta = json.loads(f["meta"] or "{}")
            vec = np.asarray(f["vector"], "<f4")
            yield {"kind": "face", "group_id": f["group_id"], "user_id": f["user_id"],
                   "face_token": f["face_token"], "embedder": emb, "dim": int(vec.size),
                   "vector": vec.tobytes(), "source": meta.get("source"),
                   "box": json.dumps(meta["box"]) if meta.get("box") else None,
                   "quality": meta.get("quality"), "face_created": f["created"]}

    def load(self, rows: Iterable[dict[str, Any]]) -> int:
        """Insert dumped rows keeping tokens and times; every row is checked (duplicates,
        dimensions) before the first write, so a bad file imports nothing."""
        todo = list(rows)
        have_groups = {str(r["group_id"]) for r in self._rows(self._records, 'kind == "g"',
                                                              ["group_id"])}
        have_users = {(str(r["group_id"]), str(r["user_id"])) for r in self._rows(
            self._records, 'kind == "u"', ["group_id", "user_id"])}
        dims = {e: int(r["dim"]) for e, r in self._embedder_rows().items()}
        tokens = set()
        for r in todo:
            if r["kind"] == "user":
                key = (str(r["group_id"]), check_user_id(r["user_id"]))
                if key in have_users:
                    raise DuplicateError(f"a person named {key[1]!r} already exists in "
                                         f"group {key[0]!r}")
                have_users.add(key)
            elif r["kind"] == "face":
                if len(bytes(r["vector"])) != 4 * int(r["dim"]):
                    raise DimensionError(f"face {r['face_token']}: {len(bytes(r['vector']))} "
                                         f"bytes for a {r['dim']}-d vector")
                if dims.setdefault(r["embedder"], int(r["dim"])) != int(r["dim"]):
                    raise DimensionError(f"embedder {r['embedder']!r} would hold vectors of "
                                         "two dimensions; nothing imported")
                tokens.add(str(r["face_token"]))
        if tokens and self._faces_where(f"face_token in {json.dumps(sorted(tokens))}"):
            raise DuplicateError("a face of the file already exists; nothing imported")
        refs: dict[tuple[str, str], int] = {}
        rows_by_emb: dict[str, list[dict[str, Any]]] = {}
        new_users: list[dict[str, Any]] = []
        added = 0
        for r in todo:
            if r["kind"] == "group":
                gid = check_group_id(r["group_id"])
                if gid not in have_groups:
                    self._put([{"key": "g:" + gid, "kind": "g", "group_id": gid,
                                "created": r["group_created"]}])
                    have_groups.add(gid)
            elif r["kind"] == "user":
                gid, uid = str(r["group_id"]), check_user_id(r["user_id"])
                if gid not in have_groups:
                    self._group_row(gid)
                ref = _new_id()
                refs[(gid, uid)] = ref
                new_users.append({"key": f"u:{ref}", "kind": "u", "group_id": gid,
                                  "user_id": uid, "user_ref": ref, "created": r["user_created"],
                                  "info": info_json(json.loads(r["user_info"]))})
            else:
                rows_by_emb.setdefault(str(r["embedder"]), []).append(r)
        for start in range(0, len(new_users), 2000):
            self._put(new_users[start:start + 2000])
        erows = self._embedder_rows()
        for emb, faces in rows_by_emb.items():
            coll = self._ensure_coll(emb, int(faces[0]["dim"]), erows.get(emb))
            data = []
            for r in faces:
                key = (str(r["group_id"]), str(r["user_id"]))
                if key not in refs:
                    refs[key] = int(self._user_row(*key)["user_ref"])
                data.append({"id": _new_id(), "group_id": key[0], "user_ref": refs[key],
                             "user_id": key[1], "face_token": r["face_token"],
                             "meta": json.dumps({"source": r["source"],
                                                 "box": json.loads(r["box"]) if r["box"]
                                                 else None, "quality": r["quality"]}),
                             "created": r["face_created"],
                             "vector": np.frombuffer(bytes(r["vector"]), "<f4").tolist()})
            for start in range(0, len(data), 2000):
                self._call("write faces", self.client.insert, coll,
                           data=data[start:start + 2000])
            added += len(data)
        return added

    def checksum(self) -> str:
        """A digest of every record and vector (for "nothing changed" checks)."""
        return records_checksum(self.dump())

    def drop(self) -> None:
        """Drop every collection of this gallery (tests, benchmarks)."""
        for _, coll in self._face_colls():
            self.client.drop_collection(coll)
        self.client.drop_collection(self._records)
        self._spaces.clear()

    def close(self) -> None:
        with suppress(Exception):  # closing a dead connection
            self.client.close()


class MilvusIndex:
    """Search by Milvus itself over the store's faces collections (exact FLAT
    index, group filter). Nothing to sync or save: the store is the index."""

    def __init__(self, store: MilvusStore) -> None:
        self.store = store

    def sync(self) -> None:
        pass

    def add(self, embedder: str, group_id: str, face_ids: np.ndarray, user_refs: np.ndarray,
            vectors: np.ndarray) -> None:
        pass

    def remove(self, face_ids: Sequence[int]) -> None:
        pass

    def search(self, embedder: str, vectors: np.ndarray, groups: Sequence[str],
               k_faces: int, metric: Metric
               ) -> list[tuple[np.ndarray, np.ndarray, np.ndarray]]:
        from ..distance import pairwise

        queries = np.atleast_2d(np.asarray(vectors, np.float32))
        space = self.store.space(embedder)
        empty = (np.zeros(0), np.zeros(0, np.int64), np.zeros(0, np.int64))
        if space is None:
            return [empty for _ in queries]
        coll, milvus_metric = space
        if _SPACE.get(metric) != milvus_metric:  # another space: exact scan of the store
            return self._scan(embedder, queries, groups, k_faces, metric)
        expr = f"group_id in {json.dumps([str(g) for g in groups])}"
        found = self.store._call(
            "search", self.store.client.search, coll, data=queries.tolist(),
            limit=min(k_faces, 16384), filter=expr, output_fields=["user_ref", "vector"],
            search_params={"metric_type": milvus_metric}, consistency_level=self.store._level)
        out = []
        for q, hits in zip(queries, found):
            if not hits:
                out.append(empty)
                continue
            fids = np.array([h["id"] for h in hits], np.int64)
            refs = np.array([h["entity"]["user_ref"] for h in hits], np.int64)
            vecs = np.array([h["entity"]["vector"] for h in hits], np.float32)
            dist = pairwise(q[None], vecs, metric)[0]  # the gallery's own distances
            order = np.lexsort((fids, dist))
            out.append((dist[order], fids[order], refs[order]))
        return out

    def _scan(self, embedder: str, queries: np.ndarray, groups: Sequence[str], k_faces: int,
              metric: Metric) -> list[tuple[np.ndarray, np.ndarray, np.ndarray]]:
        from ..distance import pairwise

        parts = [(i, r, v) for i, r, g, v in self.store.vectors(embedder)]
        fid = np.concatenate([p[0] for p in parts])
        ref = np.concatenate([p[1] for p in parts])
        vec = np.concatenate([p[2] for p in parts])
        gid = np.array([g for _, _, gs, _ in self.store.vectors(embedder) for g in gs])
        sel = np.isin(gid, list(groups))
        fid, ref, vec = fid[sel], ref[sel], vec[sel]
        out = []
        for row in pairwise(queries, vec, metric) if len(fid) else [np.zeros(0)] * len(queries):
            order = np.lexsort((fid, row))[:k_faces]
            out.append((row[order], fid[order], ref[order]))
        return out

    def save(self) -> None:
        pass

    def close(self) -> None:
        pass


def parse_url(url: str) -> tuple[str, str, str]:
    """``milvus://HOST:PORT/NAME`` -> (``http://HOST:PORT``, NAME, consistency);
    ``milvus-lite:PATH`` -> (PATH, ``faceprint``, consistency). A trailing
    ``?consistency=Session`` trades Strong reads for read-your-own-writes."""
    url, _, query = url.partition("?")
    level = STRONG
    if query:
        key, _, value = query.partition("=")
        if key != "consistency" or value not in LEVELS:
            raise GalleryError(f"{url}?{query}: the only option is ?consistency="
                               f"{'|'.join(LEVELS)}")
        level = value
    if url.startswith("milvus-lite:"):
        path = url[len("milvus-lite:"):]
        if not path.endswith(".db"):
            raise GalleryError(f"{url}: a milvus-lite gallery is a file whose name ends in .db")
        return path, "faceprint", level
    rest = url[len("milvus://"):]
    host, _, name = rest.partition("/")
    if not host or not name or ":" not in host:
        raise GalleryError(f"{url}: a Milvus server gallery is milvus://HOST:PORT/COLLECTION")
    if not name.replace("_", "a").isalnum() or not name[0].isalpha():
        raise GalleryError(f"{url}: a collection name is letters, digits and '_', starting "
                           "with a letter")
    return f"http://{host}", name, level


class MilvusGallery(Gallery):
    """A gallery whose records and vectors live in Milvus (a server or milvus-lite)."""

    def __init__(self, url: str, *, max_faces: int = MAX_FACES_PER_USER,
                 timeout: float = 5.0) -> None:
        uri, prefix, level = parse_url(url)
        if url.startswith("milvus-lite:"):
            try:
                import milvus_lite  # noqa: F401
            except ImportError as exc:
                raise BackendError(f"{url}: milvus-lite is not installed (pip install "
                                   f"'faceprint[milvus]'): {exc}") from None
        store = MilvusStore(uri, prefix, location=url, max_faces=max_faces, timeout=timeout,
                            consistency=level)
        super().__init__(store, MilvusIndex(store), location=url)
        if not store.group_exists(DEFAULT_GROUP):
            store.add_group(DEFAULT_GROUP)

    def __enter__(self) -> MilvusGallery:
        return self
