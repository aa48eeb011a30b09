"""A :class:`Gallery` composes a :class:`~.model.Store` (the records, the truth)
and a :class:`~.model.VectorIndex` (search): writes go to the store in one
transaction, then the index catches up from the store's change log; searches
first bring the index up to the store, so another process's writes are seen.

The flat API of faceprint 0.1 (``add_person``, ``add_faces``, ``people``,
``search`` ...) works on the group ``default`` unless a ``group`` is given.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from ..distance import pairwise
from ..errors import DimensionError, EmptyGalleryError, GalleryError
from ..types import Box, FaceRecord, Group, Match, Metric, Person, SearchResult, StoredFace, User
from .index.faiss import SPACES
from .model import DEFAULT_GROUP, NewFace, Store, VectorIndex, check_group_id, check_vectors


def _person(u: User) -> Person:
    return Person(u.ref, u.user_id, dict(u.user_info), u.face_count)


def _stored(f: FaceRecord, user_ref: int = 0) -> StoredFace:
    return StoredFace(f.id, user_ref, f.embedder, f.source, f.box, f.created, f.face_token,
                      f.quality)


class Gallery:
    """Groups of users and their faces over a store and an index."""

    def __init__(self, store: Store, index: VectorIndex | None, *, location: str = "") -> None:
        self.store = store
        self.index = index
        self.path: str | Path = location or store.location

    # -- plumbing ----------------------------------------------------------------------
    def _synced(self) -> None:
        if self.index is not None:
            self.index.sync()

    @staticmethod
    def _groups(groups: str | Sequence[str] | None) -> list[str]:
        if groups is None:
            return [DEFAULT_GROUP]
        if isinstance(groups, str):
            groups = [g.strip() for g in groups.split(",") if g.strip()]
        out = [check_group_id(g) for g in groups]
        if not out:
            raise GalleryError("search needs at least one group")
        return list(dict.fromkeys(out))

    # -- groups ------------------------------------------------------------------------
    def add_group(self, group_id: str) -> Group:
        return self.store.add_group(group_id)

    def delete_group(self, group_id: str) -> int:
        count = self.store.delete_group(group_id)
        self._synced()
        return count

    def group(self, group_id: str) -> Group:
        return self.store.group(group_id)

    def groups(self) -> list[Group]:
        return self.store.groups()

    # -- users -------------------------------------------------------------------------
    def add_user(self, user_id: str, user_info: dict[str, object] | None = None, *,
                 group: str = DEFAULT_GROUP) -> User:
        return self.store.add_user(group, user_id, user_info)

    def update_user(self, user_id: str, *, group: str = DEFAULT_GROUP,
                    user_info: dict[str, object] | None = None,
                    new_user_id: str | None = None) -> User:
        return self.store.update_user(group, user_id, user_info=user_info,
                                      new_user_id=new_user_id)

    def get_user(self, user_id: str, *, group: str = DEFAULT_GROUP) -> User:
        return self.store.user(group, user_id)

    def users(self, group: str = DEFAULT_GROUP) -> list[User]:
        return self.store.users(group)

    def copy_user(self, user_id: str, src_group: str, dst_group: str) -> User:
        user = self.store.copy_user(user_id, src_group, dst_group)
        self._synced()
        return user

    def delete_user(self, user_id: str, *, group: str = DEFAULT_GROUP) -> int:
        count = self.store.delete_user(group, user_id)
        self._synced()
        return count

    # -- faces -------------------------------------------------------------------------
    def add_face_records(self, user_id: str, embedder: str, vectors: np.ndarray, *,
                         group: str = DEFAULT_GROUP,
                         sources: Sequence[str | None] | None = None,
                         boxes: Sequence[Box | None] | None = None,
                         qualities: Sequence[float | None] | None = None,
                         create: bool = True, user_info: dict[str, object] | None = None,
                         thumbnails: Sequence[bytes | None] | None = None
                         ) -> list[FaceRecord]:
        """Store faces of a user (made if missing when ``create``) in one transaction;
        ``thumbnails``: a small JPEG per face, kept where the store keeps them."""
        vecs = check_vectors(vectors)
        n = len(vecs)
        srcs = list(sources) if sources is not None else [None] * n
        bxs = list(boxes) if boxes is not None else [None] * n
        qs = list(qualities) if qualities is not None else [None] * n
        ths = list(thumbnails) if thumbnails is not None else [None] * n
        if len(srcs) != n or len(bxs) != n or len(qs) != n or len(ths) != n:
            raise GalleryError("sources, boxes, qualities and thumbnails must match the "
                               "number of embeddings")
        faces = [NewFace(v, s, b, q, t) for v, s, b, q, t in zip(vecs, srcs, bxs, qs, ths)]
        records = self.store.add_faces(group, user_id, embedder, faces, create=create,
                                       user_info=user_info)
        self._synced()
        return records

    def delete_face(self, face: str | int) -> FaceRecord:
        record = self.store.delete_face(face)
        self._synced()
        return record

    def thumbnails(self, face_ids: Sequence[int]) -> dict[int, bytes]:
        """The stored JPEG thumbnails of faces, by face id; faces without one (and every
        face of a store that keeps none: Milvus) are left out."""
        get = getattr(self.store, "thumbnails", None)
        return get(face_ids) if get is not None else {}

    def get_face(self, face: str | int) -> FaceRecord:
        return self.store.face(face)

    def list_faces(self, user_id: str, *, group: str = DEFAULT_GROUP) -> list[FaceRecord]:
        return self.store.faces(group, user_id)

    def count_faces(self, embedder: str | None = None, group: str | None = None) -> int:
        return self.store.count_faces(embedder, group)

    # -- search ------------------------------------------------------------------------
    def search_groups(self, embedder: str, vectors: np.ndarray, metric: Metric, *,
                      groups: str | Sequence[str] | None = None, k: int = 1,
                      threshold: float | None = None) -> list[SearchResult]:
        """For each query vector, the ``k`` nearest users of ``groups`` (one entry per
        user, by their nearest face), nearest first; ``threshold`` (in ``metric``)
        makes a query whose best distance is above it "unknown"."""
        matches = self.search(embedder, vectors, metric, k=k, groups=groups)
        return [SearchResult(tuple(m), threshold, metric) for m in matches]

    def search(self, embedder: str, vectors: np.ndarray, metric: Metric, k: int = 1, *,
               groups: str | Sequence[str] | None = None) -> list[list[Match]]:
        """The flat API's search: per query, the ``k`` nearest people (by their nearest
        face) of ``groups`` (default: the group ``default``)."""
        if not isinstance(k, int) or k < 1:
            raise GalleryError("k must be at least 1")
        names = self._groups(groups)
        for g in names:
            self.store.require_group(g)  # GroupNotFoundError for an unknown group
        dim = self.store.embedder_dim(embedder)
        if dim is None:
            raise EmptyGalleryError(f"the gallery {self.path} has no faces embedded with "
                                    f"{embedder!r}; enroll someone first")
        queries = np.atleast_2d(np.asarray(vectors, dtype=np.float32))
        if queries.ndim != 2 or queries.shape[1] != dim:
            raise DimensionError(f"query embeddings are {queries.shape[-1]}-d, the gallery's "
                                 f"{embedder!r} faces are {dim}-d")
        if not np.all(np.isfinite(queries)):
            raise GalleryError("query embeddings hold NaN or infinite values")
        if self.index is not None and metric in SPACES:
            self.index.sync()
            per_query = self._index_search(embedder, queries, names, k, metric)
        else:
            per_query = self._exact_search(embedder, queries, names, k, metric)
        hits = self.store.hits([int(f) for _, fids, _ in per_query for f in fids])
        results = []
        for dist, fids, _ in per_query:
            results.append([Match(h.user_id, float(d) if math.isfinite(d) else math.inf,
                                  h.user_ref, int(f), h.group_id, h.face_token)
                            for d, f in zip(dist, fids) if (h := hits.get(int(f))) is not None])
        return results

    @staticmethod
    def _first_per_user(dist: np.ndarray, fids: np.ndarray, refs: np.ndarray, k: int
                        ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        _, first = np.unique(refs, return_index=True)
        first = np.sort(first)[:k]  # the inputs are sorted nearest first
        return dist[first], fids[first], refs[first]

    def _index_search(self, embedder: str, queries: np.ndarray, groups: list[str], k: int,
                      metric: Metric) -> list[tuple[np.ndarray, np.ndarray, np.ndarray]]:
        assert self.index is not None
        k_faces = k * max(1, self.store.max_faces)
        out: list[tuple[np.ndarray, np.ndarray, np.ndarray] | None] = [None] * len(queries)
        todo = list(range(len(queries)))
        while todo:
            found = self.index.search(embedder, queries[todo], groups, k_faces, metric)
            again = []
            for q, (d, f, r) in zip(todo, found):
                best = self._first_per_user(d, f, r, k)
                if len(best[0]) < k and len(d) == k_faces:
                    again.append(q)  # users with more faces than the limit: look further
                else:
                    out[q] = best
            todo, k_faces = again, k_faces * 4
        return [o for o in out if o is not None]

    def _exact_search(self, embedder: str, queries: np.ndarray, groups: list[str], k: int,
                      metric: Metric) -> list[tuple[np.ndarray, np.ndarray, np.ndarray]]:
        """Brute force over the store (metrics FAISS has no space for, e.g. chi2)."""
        ids, refs, vecs = [], [], []
        for i, r, g, v in self.store.vectors(embedder):
            sel = np.isin(np.array(g), groups)
            ids.append(i[sel])
            refs.append(r[sel])
            vecs.append(v[sel])
        fid = np.concatenate(ids) if ids else np.zeros(0, np.int64)
        ref = np.concatenate(refs) if refs else np.zeros(0, np.int64)
        out = []
        if not len(fid):
            return [(np.zeros(0), fid, ref) for _ in queries]
        dist = pairwise(queries, np.concatenate(vecs), metric)
        for row in dist:
            order = np.lexsort((fid, row))
            out.append(self._first_per_user(row[order], fid[order], ref[order], k))
        return out

    # -- the flat API of faceprint 0.1 (group "default" unless told) ------------------
    def add_person(self, name: str, metadata: dict[str, object] | None = None, *,
                   group: str = DEFAULT_GROUP) -> Person:
        return _person(self.store.add_user(group, name, metadata))

    def add_faces(self, name: str, embedder: str, vectors: np.ndarray, *,
                  sources: Sequence[str | None] | None = None,
                  boxes: Sequence[Box | None] | None = None,
                  metadata: dict[str, object] | None = None, group: str = DEFAULT_GROUP,
                  qualities: Sequence[float | None] | None = None) -> list[int]:
        """Store faces for ``name`` (created if new, its metadata replaced when given) in
        one transaction; returns the new faces' ids (``faces()`` has their tokens)."""
        return [r.id for r in self.add_face_records(
            name, embedder, vectors, group=group, sources=sources, boxes=boxes,
            qualities=qualities, create=True, user_info=metadata)]

    def people(self, group: str = DEFAULT_GROUP) -> list[Person]:
        return [_person(u) for u in self.store.users(group)]

    def person(self, name: str, group: str = DEFAULT_GROUP) -> Person:
        return _person(self.store.user(group, name))

    def faces(self, name: str, group: str = DEFAULT_GROUP) -> list[StoredFace]:
        ref = self.store.user(group, name).ref
        return [_stored(f, ref) for f in self.store.faces(group, name)]

    def rename(self, old: str, new: str, group: str = DEFAULT_GROUP) -> Person:
        return _person(self.store.update_user(group, old, new_user_id=new))

    def set_metadata(self, name: str, metadata: dict[str, object],
                     group: str = DEFAULT_GROUP) -> Person:
        return _person(self.store.update_user(group, name, user_info=metadata))

    def remove_person(self, name: str, group: str = DEFAULT_GROUP) -> int:
        return self.delete_user(name, group=group)

    def remove_face(self, face_id: int | str) -> None:
        self.delete_face(face_id)

    # -- life cycle --------------------------------------------------------------------
    def save_index(self) -> None:
        if self.index is not None:
            self.index.sync()
            self.index.save()

    def close(self) -> None:
        try:
            if self.index is not None:
                self.index.close()
        finally:
            self.store.close()

    def __enter__(self) -> Any:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
