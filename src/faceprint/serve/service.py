"""The one service layer of ``faceprint serve``: every endpoint of both API shapes calls
these methods, and they call the library's public API (a :class:`Pipeline` and a
:class:`Gallery` from :func:`open_gallery`). Recognition logic lives here or in the
library, never in an adapter; every method takes the caller's key and checks its
scopes and groups first (tenancy is enforced here, for both shapes alike).

Scores: the API shapes speak of similarity in 0-100 (cloud shape) or 0-1
(CompreFace). :func:`score_from_distance` is the one map: piecewise linear in the
distance ``d`` with the embedder's calibrated threshold ``t`` (in its metric):
100 at ``d = 0``, exactly 80 at ``d = t``, 0 at ``d >= 2t``; strictly decreasing
in between. 80 is the score the cloud API recommends as its match threshold, so
"score >= 80" means "distance <= the calibrated threshold".
"""

from __future__ import annotations

import io
import secrets
import threading
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from ..errors import FaceLimitError, FaceNotFoundError, GalleryError, NoFaceError
from ..gallery import Gallery, open_gallery
from ..gallery.model import check_group_id
from ..pipeline import Pipeline
from ..types import Face, FaceRecord, Group, Match, User
from .config import ServeConfig
from .keys import ALL_GROUPS, SCOPES, ApiKey, KeyStore, NewKey, PermissionDenied, parse_list


def score_from_distance(distance: float, threshold: float) -> float:
    """Similarity 0-100 from a distance: 80 exactly at ``threshold``, monotone
    decreasing (see the module's docstring)."""
    d = max(0.0, float(distance))
    t = float(threshold)
    if not np.isfinite(d):
        return 0.0
    if d <= t:
        return 100.0 - 20.0 * d / t
    return max(0.0, 80.0 - 80.0 * (d - t) / t)


@dataclass(frozen=True)
class Found:
    """A face found in a request's image (with its embedding when asked)."""

    face: Face
    embedding: np.ndarray | None
    token: str
    image_size: tuple[int, int]  # (width, height)
    landmarks68: np.ndarray | None = None
    thumbnail: bytes | None = None  # a small JPEG of the face (enrolment only)


@dataclass(frozen=True)
class Similarity:
    """How close two faces are: the score and what it is made of."""

    score: float  # 0-100 (score_from_distance)
    distance: float  # in the embedder's own metric
    threshold: float  # the embedder's calibrated threshold, same metric
    metric: str

    def fields(self) -> dict[str, object]:
        """The extra fields both API shapes add beside their own score."""
        return {"distance": round(self.distance, 6), "threshold": round(self.threshold, 6),
                "metric": self.metric}


#: the longest side of a stored face thumbnail, in pixels
THUMBNAIL_SIZE = 96


def face_thumbnail(image: np.ndarray, face: Face, size: int = THUMBNAIL_SIZE) -> bytes | None:
    """A small JPEG of a face: the square around its box with a fifth of margin,
    clipped to the image, at most ``size`` pixels a side (a few KB)."""
    from PIL import Image

    b = face.box
    side = max(b.width, b.height) * 1.4
    cx, cy = b.left + b.width / 2.0, b.top + b.height / 2.0
    h, w = image.shape[:2]
    x0, y0 = max(0, int(cx - side / 2)), max(0, int(cy - side / 2))
    x1, y1 = min(w, int(cx + side / 2) + 1), min(h, int(cy + side / 2) + 1)
    if x1 <= x0 or y1 <= y0:
        return None  # a box outside the image: no picture
    crop = Image.fromarray(np.ascontiguousarray(image[y0:y1, x0:x1]))
    crop.thumbnail((size, size))
    out = io.BytesIO()
    crop.convert("RGB").save(out, format="JPEG", quality=80)
    return out.getvalue()


class Service:
    """Models loaded once (:meth:`warm_up`), one gallery, one key store."""

    def __init__(self, config: ServeConfig) -> None:
        self.config = config
        self.pipeline = Pipeline(config.detector, config.embedder,
                                 detector_options={"max_faces": config.max_faces},
                                 max_pixels=config.max_pixels, flip=config.flip)
        self.gallery: Gallery = open_gallery(config.db)
        self.keys = KeyStore(config.keys_path())
        self.ready = False
        self._write_lock = threading.Lock()

    def warm_up(self) -> None:
        """Load the models (the first detect and embed) so that /readyz is honest."""
        _ = self.pipeline.detector, self.pipeline.embedder
        blank = np.zeros((64, 64, 3), dtype=np.uint8)
        self.pipeline.detector.detect(blank)
        self.pipeline.embed_chips(np.zeros((1, *self._chip_shape()), dtype=np.uint8))
        self.ready = True

    def _chip_shape(self) -> tuple[int, int, int]:
        size = self.pipeline.embedder.chip.size
        return (size, size, 3)

    def close(self) -> None:
        self.gallery.close()
        self.keys.close()

    # -- facts ------------------------------------------------------------------------
    @property
    def threshold(self) -> float:
        return self.pipeline.threshold

    @property
    def metric(self) -> str:
        return self.pipeline.metric

    @property
    def embedder(self) -> str:
        return self.pipeline.embedder_name

    def score(self, distance: float) -> float:
        return score_from_distance(distance, self.threshold)

    def similarity(self, distance: float) -> Similarity:
        """The score of a distance with the distance, threshold and metric behind it
        (what both API shapes return beside their own score)."""
        return Similarity(self.score(distance), float(distance), float(self.threshold),
                          str(self.metric))

    # -- detection -------------------------------------------------------------------
    def find_faces(self, key: ApiKey, image: bytes, *, max_faces: int = 1, embed: bool = False,
                   landmarks68: bool = False, remember: bool = False,
                   scope: str = "detect", attributes: Sequence[str] = (),
                   thumbnails: bool | None = None, pose: bool = True) -> list[Found]:
        """Faces of an image, largest first, at most ``max_faces``; with embeddings when
        ``embed``; with the ``attributes`` asked for (:mod:`faceprint.attributes`
        names) in each ``Face.attributes``; ``remember`` keeps the embeddings under
        fresh face tokens for a day (the cloud shape's detect tokens, usable as
        FACE_TOKEN by the same key); ``thumbnails`` (by default: for the ``manage``
        scope, i.e. enrolment, in both API shapes) adds each face's small JPEG
        (:func:`face_thumbnail`), which enrolment stores beside the face.
        ``pose=False``: the head pose and 68 points may be left out (None) unless an
        attribute needs them; the kept faces' pose is computed after the ``max_faces``
        cut, with the same values."""
        key.require(scope)
        pipe = self.pipeline
        array = pipe.load(image)
        faces = pipe.find_faces(array, pose=False)
        faces = sorted(faces, key=lambda f: -f.box.area)[:max(1, min(max_faces,
                                                                      self.config.max_faces))]
        if pose or landmarks68:
            faces = pipe.with_pose(array, faces)
        if attributes and faces:
            faces = pipe.attributes(array, faces, tuple(attributes))
        vectors = pipe.embed_faces(array, faces) if (embed or remember) and faces else None
        tokens = [secrets.token_hex(16) for _ in faces]
        if remember and vectors is not None:
            self.keys.remember_faces(key, self.embedder, tokens,
                                     [np.asarray(v, np.float32).tobytes() for v in vectors])
        shapes: list[np.ndarray | None] = [
            f.landmarks68.as_array() if landmarks68 and f.landmarks68 is not None else None
            for f in faces]
        h, w = array.shape[:2]
        if thumbnails is None:
            thumbnails = scope == "manage"
        return [Found(f, None if vectors is None else vectors[i], tokens[i], (w, h), shapes[i],
                      face_thumbnail(array, f) if thumbnails else None)
                for i, f in enumerate(faces)]

    def largest_face(self, key: ApiKey, image: bytes, scope: str,
                     quality: bool = False) -> Found:
        """The largest face of an image with its embedding; with ``quality``, its
        quality attribute too (:mod:`faceprint.attributes.quality`)."""
        found = self.find_faces(key, image, max_faces=1, embed=True, scope=scope,
                                attributes=("quality",) if quality else (), pose=False)
        if not found:
            raise NoFaceError("no face in the image")
        return found[0]

    def token_vector(self, key: ApiKey, token: str) -> np.ndarray:
        """The embedding behind a face token: a gallery face of one of the key's groups,
        or a face this key's detect returned within the last day."""
        if not isinstance(token, str) or not token or len(token) > 64:
            raise FaceNotFoundError("bad face token")
        try:
            record = self.gallery.get_face(token)
        except FaceNotFoundError:
            raw = self.keys.detected_face(key, token, self.embedder)
            if raw is None:
                raise
            return np.frombuffer(raw, dtype=np.float32).copy()
        if not key.sees(record.group_id):
            raise FaceNotFoundError(f"no face {token!r} in the gallery")
        for _ids, _refs, _groups, vecs in self.gallery.store.vectors(self.embedder, [record.id]):
            return np.asarray(vecs[0], dtype=np.float32)
        raise FaceNotFoundError(f"face {token!r} was embedded with another embedder")

    # -- search / verification ---------------------------------------------------------
    def search(self, key: ApiKey, vector: np.ndarray, groups: list[str], k: int = 1
               ) -> list[Match]:
        key.require("search", groups)
        if self.gallery.store.embedder_dim(self.embedder) is None:
            for g in groups:
                self.gallery.store.require_group(g)
            return []
        return self.gallery.search(self.embedder, vector[None], self.pipeline.metric, k=k,
                                   groups=groups)[0]

    def distance(self, a: np.ndarray, b: np.ndarray) -> float:
        return self.pipeline.distance(a, b)

    # -- groups --------------------------------------------------------------------------
    def visible_groups(self, key: ApiKey) -> list[Group]:
        key.require("search")
        return [g for g in self.gallery.groups() if key.sees(g.group_id)]

    def add_group(self, key: ApiKey, group_id: str) -> Group:
        key.require("manage", [group_id])
        return self.gallery.add_group(group_id)

    def ensure_group(self, key: ApiKey, group_id: str) -> None:
        key.require("manage", [group_id])
        try:
            self.gallery.group(group_id)
        except GalleryError:
            with self._write_lock:
                try:
                    self.gallery.add_group(group_id)
                except GalleryError:
                    self.gallery.group(group_id)  # made meanwhile by someone else

    def delete_group(self, key: ApiKey, group_id: str) -> int:
        key.require("manage", [group_id])
        return self.gallery.delete_group(group_id)

    def group_users(self, key: ApiKey, group_id: str) -> list[User]:
        key.require("search", [group_id])
        return self.gallery.users(group_id)

    # -- users and faces -------------------------------------------------------------------
    def add_faces(self, key: ApiKey, group_id: str, user_id: str, vectors: np.ndarray, *,
                  boxes: list[Face] | None = None, user_info: dict[str, object] | None = None,
                  create: bool = True, replace: bool = False, source: str | None = None,
                  thumbnails: Sequence[bytes | None] | None = None) -> list[FaceRecord]:
        """Store faces of a user (one transaction, committed before this returns);
        ``replace`` first removes the user's other faces (same transaction is not
        possible across the store's API: the new faces are added first, then the old
        ones removed, so a crash leaves the user with too many faces, never none)."""
        key.require("manage", [group_id])
        old = []
        try:
            old = self.gallery.list_faces(user_id, group=group_id)
        except GalleryError:
            old = []
        # the service's own per-user limit (the gallery file's limit stays the ceiling;
        # checked here, so two workers adding at once may pass it by one)
        if not replace and len(old) + len(vectors) > self.config.max_user_faces:
            raise FaceLimitError(f"{user_id!r} would hold more than "
                                 f"{self.config.max_user_faces} faces")
        if not replace:
            old = []
        records = self.gallery.add_face_records(
            user_id, self.embedder, vectors, group=group_id, create=create,
            boxes=[f.box for f in boxes] if boxes else None,
            sources=[source] * len(vectors) if source else None, user_info=user_info,
            thumbnails=thumbnails)
        for r in old:
            self.gallery.delete_face(r.face_token)
        return records

    def get_user(self, key: ApiKey, group_id: str, user_id: str) -> User:
        key.require("search", [group_id])
        return self.gallery.get_user(user_id, group=group_id)

    def add_user(self, key: ApiKey, group_id: str, user_id: str,
                 user_info: dict[str, object] | None = None) -> User:
        key.require("manage", [group_id])
        return self.gallery.add_user(user_id, user_info, group=group_id)

    def update_user(self, key: ApiKey, group_id: str, user_id: str, *,
                    user_info: dict[str, object] | None = None,
                    new_user_id: str | None = None) -> User:
        key.require("manage", [group_id])
        return self.gallery.update_user(user_id, group=group_id, user_info=user_info,
                                        new_user_id=new_user_id)

    def rename_user(self, key: ApiKey, group_id: str, user_id: str, new_user_id: str | None,
                    user_info: dict[str, object] | None = None) -> User:
        """A new user id and/or user_info for a user, faces and tokens kept: one store
        transaction, so a failure (the new id taken) leaves the user as it was."""
        key.require("manage", [group_id])
        return self.gallery.update_user(user_id, group=group_id, user_info=user_info,
                                        new_user_id=new_user_id)

    def users_of(self, key: ApiKey, group_id: str) -> list[User]:
        key.require("search", [group_id])
        return self.gallery.users(group_id)

    def copy_user(self, key: ApiKey, user_id: str, src: str, dst: str) -> User:
        key.require("manage", [src, dst])
        return self.gallery.copy_user(user_id, src, dst)

    def delete_user(self, key: ApiKey, group_id: str, user_id: str) -> int:
        key.require("manage", [group_id])
        return self.gallery.delete_user(user_id, group=group_id)

    def list_faces(self, key: ApiKey, group_id: str, user_id: str) -> list[FaceRecord]:
        key.require("search", [group_id])
        return self.gallery.list_faces(user_id, group=group_id)

    def thumbnails(self, key: ApiKey, records: Sequence[FaceRecord]) -> dict[int, bytes]:
        """The stored JPEG thumbnails of faces the key may see, by face id (a store
        that keeps none, such as Milvus, gives none)."""
        key.require("search", sorted({r.group_id for r in records}))
        return self.gallery.thumbnails([r.id for r in records])

    # -- API keys of the caller's groups ---------------------------------------------------
    @staticmethod
    def _manages(key: ApiKey, other: ApiKey) -> bool:
        """Whether ``key`` manages ``other``: every group of ``other`` is one of its own
        (every group, "*", only for a key of every group)."""
        return all(key.sees(g) for g in other.groups) and (
            ALL_GROUPS not in other.groups or ALL_GROUPS in key.groups)

    def list_keys(self, key: ApiKey) -> list[ApiKey]:
        """The keys (never their secrets) whose groups are all the caller's own."""
        key.require("manage")
        return [k for k in self.keys.list_keys() if self._manages(key, k)]

    def create_key(self, key: ApiKey, groups: Sequence[str], scopes: Sequence[str],
                   name: str = "") -> NewKey:
        """A new key of some of the caller's groups with some of its scopes (never
        more than its own); the secret is in the answer only."""
        key.require("manage")
        group_t = parse_list(list(groups), "group")
        scope_t = parse_list(list(scopes), "scope", SCOPES)
        for g in group_t:
            if g != ALL_GROUPS:
                check_group_id(g)
        probe = ApiKey("", group_t, scope_t)
        if not self._manages(key, probe):
            raise PermissionDenied("a key may only be made for the signed-in key's own "
                                   "groups")
        extra = [s for s in scope_t if not key.can(s)]
        if extra:
            raise PermissionDenied(f"a key may not be given scopes the signed-in key lacks "
                                   f"({', '.join(extra)})")
        return self.keys.create(group_t, scope_t, name)

    def revoke_key(self, key: ApiKey, key_id: str) -> ApiKey:
        key.require("manage")
        for k in self.keys.list_keys():
            if k.key_id == key_id and self._manages(key, k):
                return self.keys.revoke(key_id)
        raise PermissionDenied(f"no key {key_id!r} of this key's groups")

    def face(self, key: ApiKey, token: str) -> FaceRecord:
        key.require("search")
        record = self.gallery.get_face(token)
        if not key.sees(record.group_id):
            raise FaceNotFoundError(f"no face {token!r} in the gallery")
        return record

    def delete_face(self, key: ApiKey, token: str, group_id: str | None = None,
                    user_id: str | None = None) -> FaceRecord:
        record = self.gallery.get_face(token)
        if not key.sees(record.group_id):
            raise FaceNotFoundError(f"no face {token!r} in the gallery")
        key.require("manage", [record.group_id])
        if (group_id is not None and record.group_id != group_id) or (
                user_id is not None and record.user_id != user_id):
            raise FaceNotFoundError(f"no face {token!r} for that user")
        return self.gallery.delete_face(token)


__all__ = ["Found", "PermissionDenied", "Service", "score_from_distance"]
