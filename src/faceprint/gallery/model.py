"""The gallery's model: groups, users, faces, and the two protocols a backend
implements.

* A **group** (``group_id``) holds **users** (``user_id`` + ``user_info`` JSON);
  the same ``user_id`` may exist in two groups, as two different users.
* A user holds at most ``max_faces`` **faces** (20 by default, as the cloud
  APIs): each has an opaque, unguessable ``face_token`` (128 random bits), the
  embedder that made its vector, the source, box, quality and creation time.
* A :class:`Store` holds the records and the vectors and is the source of truth:
  every write is one transaction, committed before the call returns, and bumps
  a change counter (``changes()``) with a log of which faces came and went.
* A :class:`VectorIndex` answers nearest-neighbour queries filtered by group.
  It can always be rebuilt from the store; it remembers the store change it
  reflects, and catches up from the store's log (or rebuilds) when it differs.

Which backend stores what:

========================  =============================  ==========================
what                      SQLite + FAISS (default)       source of truth
========================  =============================  ==========================
groups, users, faces      SQLite tables (``store/``)     the store
vectors                   SQLite BLOBs (float32 LE)      the store
search structure          FAISS files beside the .db     rebuilt from the store
========================  =============================  ==========================
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from typing import Protocol, runtime_checkable

import numpy as np

from ..errors import DimensionError, GalleryError
from ..types import Box, FaceRecord, Group, Metric, User

DEFAULT_GROUP = "default"
MAX_FACES_PER_USER = 20
MAX_ID_LENGTH = 200
_GROUP_RE = re.compile(r"^[A-Za-z0-9_.\-]{1,128}$")


def check_group_id(group_id: str) -> str:
    """Group ids: 1-128 of letters, digits, ``_ . -`` (they name files and partitions)."""
    if not isinstance(group_id, str) or not _GROUP_RE.match(group_id):
        raise GalleryError(f"bad group id {group_id!r}: use 1-128 letters, digits, '_', "
                           "'.' or '-'")
    return group_id


def check_user_id(user_id: str) -> str:
    """User ids: any text up to 200 characters, no control characters, trimmed."""
    if not isinstance(user_id, str):
        raise GalleryError("a user id (a person's name) must be text")
    clean = user_id.strip()
    if not clean:
        raise GalleryError("a person's name cannot be empty")
    if len(clean) > MAX_ID_LENGTH:
        raise GalleryError(f"a person's name is limited to {MAX_ID_LENGTH} characters")
    if any(ord(ch) < 32 for ch in clean):
        raise GalleryError("a person's name cannot hold control characters")
    return clean


def info_json(info: dict[str, object] | None) -> str:
    """``user_info`` as canonical JSON text (a JSON object, finite numbers)."""
    if info is None:
        return "{}"
    if not isinstance(info, dict):
        raise GalleryError("metadata must be a JSON object (a dict)")
    try:
        return json.dumps(info, sort_keys=True, allow_nan=False, ensure_ascii=False)
    except (TypeError, ValueError) as exc:
        raise GalleryError(f"metadata is not JSON-serialisable: {exc}") from None


def check_vectors(vectors: np.ndarray, dim: int | None = None) -> np.ndarray:
    """A non-empty, finite ``(N, D)`` float32 array (``D == dim`` when given)."""
    vecs = np.asarray(vectors, dtype=np.float32)
    if vecs.ndim == 1:
        vecs = vecs[None]
    if vecs.ndim != 2 or len(vecs) == 0 or vecs.shape[1] == 0:
        raise GalleryError("add_faces needs a non-empty (N, D) array of embeddings")
    if not np.all(np.isfinite(vecs)):
        raise GalleryError("embeddings hold NaN or infinite values")
    if dim is not None and vecs.shape[1] != dim:
        raise DimensionError(f"{vecs.shape[1]}-d embeddings where {dim}-d are expected")
    return vecs


@dataclass(frozen=True, slots=True)
class NewFace:
    """One face to store: its vector and what is known of where it came from."""

    vector: np.ndarray
    source: str | None = None
    box: Box | None = None
    quality: float | None = None
    thumbnail: bytes | None = None  # a small JPEG (kept by the SQLite store only)


def check_new_faces(user_id: str, faces: Sequence[NewFace],
                    user_info: dict[str, object] | None) -> tuple[str, np.ndarray, str | None]:
    """What every store's ``add_faces`` checks before it writes anything: the user id
    (cleaned), the faces' vectors as one ``(N, D)`` float32 array, and ``user_info`` as
    JSON (None: leave the user's as it is)."""
    clean = check_user_id(user_id)
    if not faces:
        raise GalleryError("add_faces needs at least one face")
    vecs = check_vectors(np.stack([np.asarray(f.vector, np.float32).ravel() for f in faces]))
    return clean, vecs, None if user_info is None else info_json(user_info)


def records_checksum(rows: Iterable[dict[str, object]]) -> str:
    """A digest of a store's :meth:`Store.dump` (every record and vector), for "nothing
    changed" checks. A face's ``thumbnail`` (a picture kept by the SQLite store only)
    is left out, so that the same records in two backends have the same digest."""
    h = hashlib.sha256()
    for row in rows:
        h.update(repr(sorted((k, v) for k, v in row.items() if k != "thumbnail")).encode())
    return h.hexdigest()


@dataclass(frozen=True, slots=True)
class Hit:
    """What the store says of a face an index returned."""

    face_id: int
    face_token: str
    user_ref: int
    user_id: str
    group_id: str


@dataclass(frozen=True, slots=True)
class Change:
    """One entry of the store's change log: a face added or removed."""

    seq: int
    face_id: int
    added: bool


@runtime_checkable
class Store(Protocol):
    """The records and vectors: the source of truth. Every write is one transaction,
    committed before the method returns."""

    location: str
    max_faces: int

    # groups
    def add_group(self, group_id: str) -> Group: ...
    def delete_group(self, group_id: str) -> int: ...
    def group(self, group_id: str) -> Group: ...
    def require_group(self, group_id: str) -> None: ...
    def groups(self) -> list[Group]: ...

    # users
    def add_user(self, group_id: str, user_id: str, user_info: dict[str, object] | None = None,
                 ) -> User: ...
    def update_user(self, group_id: str, user_id: str, *,
                    user_info: dict[str, object] | None = None,
                    new_user_id: str | None = None) -> User: ...
    def user(self, group_id: str, user_id: str) -> User: ...
    def users(self, group_id: str) -> list[User]: ...
    def copy_user(self, user_id: str, src_group: str, dst_group: str) -> User: ...
    def delete_user(self, group_id: str, user_id: str) -> int: ...

    # faces
    def add_faces(self, group_id: str, user_id: str, embedder: str, faces: Sequence[NewFace],
                  *, create: bool = False, user_info: dict[str, object] | None = None,
                  ) -> list[FaceRecord]: ...
    def delete_face(self, face: str | int) -> FaceRecord: ...
    def face(self, face: str | int) -> FaceRecord: ...
    def faces(self, group_id: str, user_id: str) -> list[FaceRecord]: ...
    def count_faces(self, embedder: str | None = None, group_id: str | None = None) -> int: ...
    def embedders(self) -> dict[str, int]: ...
    def embedder_dim(self, embedder: str) -> int | None: ...

    # what an index needs
    def changes(self) -> int: ...
    def store_id(self) -> str: ...
    def changes_since(self, seq: int) -> list[Change] | None: ...
    def vectors(self, embedder: str, face_ids: Sequence[int] | None = None, *,
                chunk: int = 65536) -> Iterator[tuple[np.ndarray, np.ndarray, list[str],
                                                      np.ndarray]]: ...
    def hits(self, face_ids: Sequence[int]) -> dict[int, Hit]: ...

    def close(self) -> None: ...


@runtime_checkable
class VectorIndex(Protocol):
    """Nearest faces of query vectors, filtered by group; built from (and always
    rebuildable from) the store it was opened on.

    ``search`` returns, per query, ``(distances, face_ids, user_refs)`` arrays of
    the nearest faces (at most ``k_faces``), nearest first, distances in
    ``metric`` (the embedder's own). ``sync`` brings it up to the store's change
    counter: from the store's change log, or by a rebuild."""

    def sync(self) -> None: ...
    def add(self, embedder: str, group_id: str, face_ids: np.ndarray, user_refs: np.ndarray,
            vectors: np.ndarray) -> None: ...
    def remove(self, face_ids: Sequence[int]) -> None: ...
    def search(self, embedder: str, vectors: np.ndarray, groups: Sequence[str],
               k_faces: int, metric: Metric
               ) -> list[tuple[np.ndarray, np.ndarray, np.ndarray]]: ...
    def save(self) -> None: ...
    def close(self) -> None: ...
