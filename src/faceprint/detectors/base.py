"""What every detector shares: options, the Detector protocol, and the finishing
steps (size filter, ordering, landmarks, head pose) applied to raw detections."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace
from typing import ClassVar, Protocol, runtime_checkable

import numpy as np

from ..errors import ImageError
from ..types import Box, Face, Landmarks
from .pose import pose_from_68

#: the padded second search (``DetectorOptions.pad``) keeps faces at least this
#: fraction of the image's shorter side wide
PAD_MIN_FACE = 0.4


@dataclass(frozen=True, slots=True)
class DetectorOptions:
    """Options common to all detectors.

    min_face_size: faces narrower than this many pixels (in the original image)
        are dropped; detectors that can (MTCNN) also skip searching for them.
    upsample: how many times the image is doubled before searching (dlib's
        HOG/CNN convention; finds smaller faces, costs time). None = detector default.
    threshold: score threshold in the detector's own units. None = its default.
    max_faces: keep only the highest-scoring faces. None = all.
    landmarks: compute five landmarks, dlib's 68 landmarks and the head pose (a 3-D
        face fitted to the 68) for every face (``detect(image, pose=False)`` leaves
        the 68 points and the pose out where the detector has five points of its
        own; :func:`add_pose` adds them later, to the same values).
    engine: for detectors with several implementations (cnn: ``"onnx"``, the
        default, or ``"dlib"``; blazeface: ``"litert"``, ``"opencv"`` or ``"auto"``,
        the default). None = the detector's default.
    pad: when nothing is found, search again in the image framed by a black border
        this fraction of its longer side wide on every side (faces that fill or
        overflow the frame, e.g. tight 92 x 112 crops, have no context around them
        and most detectors miss them), keeping only faces at least
        :data:`PAD_MIN_FACE` of the image's shorter side wide (what the second
        search is for; smaller finds there were false positives on dogs.jpg); boxes
        stay in pixels of the original image and may reach beyond it. 0 = never.
    """

    min_face_size: int = 20
    upsample: int | None = None
    threshold: float | None = None
    max_faces: int | None = None
    landmarks: bool = True
    engine: str | None = None
    pad: float = 0.5

    def __post_init__(self) -> None:
        if not 0 <= self.pad <= 2:
            raise ValueError("pad must be between 0 and 2 (a fraction of the image side)")
        if self.min_face_size < 1:
            raise ValueError("min_face_size must be at least 1 pixel")
        if self.upsample is not None and not 0 <= self.upsample <= 4:
            raise ValueError("upsample must be between 0 and 4")
        if self.max_faces is not None and self.max_faces < 1:
            raise ValueError("max_faces must be at least 1")


@dataclass(slots=True)
class RawFace:
    """A detection before finishing: box, score, and five landmarks if the detector
    has them (``(5, 2)`` array in :data:`faceprint.types.LANDMARK_NAMES` order)."""

    box: Box
    score: float
    landmarks: np.ndarray | None = None


@runtime_checkable
class Detector(Protocol):
    """Finds faces in an RGB ``uint8`` image of shape ``(H, W, 3)``."""

    name: str
    options: DetectorOptions

    def detect(self, image: np.ndarray) -> list[Face]:
        """Faces, highest score first."""
        ...


class BaseDetector:
    """Base class: subclasses implement :meth:`_detect` and set ``name``.

    ``dlib_box_calibration`` maps this detector's boxes onto the boxes dlib's
    HOG detector draws around the same face, in box-relative units
    ``(dx, dy, sx, sy)``: ``left' = left + dx*w``, ``top' = top + dy*h``,
    ``w' = sx*w``, ``h' = sy*h``. dlib's shape predictors were trained on HOG
    boxes, so the aligner applies this before running them.
    """

    name: ClassVar[str] = ""
    dlib_box_calibration: ClassVar[tuple[float, float, float, float]] = (0.0, 0.0, 1.0, 1.0)
    #: score threshold used when ``options.threshold`` is None
    default_threshold: ClassVar[float] = 0.0
    default_upsample: ClassVar[int] = 0

    def __init__(self, options: DetectorOptions | None = None) -> None:
        self.options = options or DetectorOptions()

    @property
    def threshold(self) -> float:
        t = self.options.threshold
        return self.default_threshold if t is None else t

    @property
    def upsample(self) -> int:
        u = self.options.upsample
        return self.default_upsample if u is None else u

    def _detect(self, image: np.ndarray) -> list[RawFace]:
        raise NotImplementedError

    def detect(self, image: np.ndarray, *, pose: bool = True) -> list[Face]:
        """Faces in ``image``, highest score first, with landmarks and pose.

        ``pose=False``: dlib's 68 points and the head pose are left out (None) for the
        faces whose five landmarks come from the detector itself, which skips the
        shape predictor and ``solvePnP`` when only boxes, landmarks and embeddings
        are wanted; faces without the detector's own landmarks still get the 68
        points (their five come from them), without the pose. :func:`add_pose`
        completes such faces with exactly what ``pose=True`` gives."""
        _check_image(image)
        raw = self._detect(image)
        if not raw and self.options.pad > 0:
            raw = self._detect_padded(image, self.options.pad)
        raw = [r for r in raw if r.box.width >= self.options.min_face_size]
        raw.sort(key=lambda r: r.score, reverse=True)
        if self.options.max_faces is not None:
            raw = raw[: self.options.max_faces]
        shapes: list[np.ndarray | None] = [None] * len(raw)
        if self.options.landmarks and raw:
            from .shape import five_from_68, shape68

            wanted = [i for i, r in enumerate(raw) if pose or r.landmarks is None]
            if wanted:
                found = shape68(image, [self.to_dlib_box(raw[i].box) for i in wanted])
                for i, points in zip(wanted, found):
                    shapes[i] = points
            for r, shape in zip(raw, shapes):
                if r.landmarks is None and shape is not None:
                    r.landmarks = five_from_68(shape)
        height, width = image.shape[:2]
        faces = []
        for r, shape in zip(raw, shapes):
            landmarks = face_pose = landmarks68 = None
            if self.options.landmarks and r.landmarks is not None:
                landmarks = Landmarks.from_array(r.landmarks)
                if shape is not None:
                    landmarks68 = Landmarks.from_array(shape)
                    if pose:
                        face_pose = pose_from_68(shape, width, height)
            faces.append(Face(r.box, float(r.score), landmarks, face_pose, self.name,
                              self.dlib_box_calibration, landmarks68))
        return faces

    def _detect_padded(self, image: np.ndarray, pad: float) -> list[RawFace]:
        """Raw faces of ``image`` framed by a black border ``pad`` times its longer
        side wide, moved back to ``image``'s pixels."""
        import cv2

        p = max(1, round(pad * max(image.shape[:2])))
        framed = cv2.copyMakeBorder(image, p, p, p, p, cv2.BORDER_CONSTANT, value=(0, 0, 0))
        least = PAD_MIN_FACE * min(image.shape[:2])
        found = [r for r in self._detect(framed) if r.box.width >= least]
        for r in found:
            r.box = Box(r.box.left - p, r.box.top - p, r.box.width, r.box.height)
            if r.landmarks is not None:
                r.landmarks = np.asarray(r.landmarks, dtype=np.float64) - p
        return found

    def to_dlib_box(self, box: Box) -> Box:
        """``box`` moved onto dlib's HOG box convention (see the class docstring)."""
        return box.calibrated(self.dlib_box_calibration)


def add_pose(image: np.ndarray, faces: Sequence[Face]) -> list[Face]:
    """``faces`` of ``image`` with dlib's 68 points and the head pose filled in where a
    detector's ``detect(image, pose=False)`` left them out: the same shape predictor
    on the same box (:meth:`Face.dlib_box`) and the same ``solvePnP`` fit, so the
    values equal those of ``detect(image, pose=True)``. Faces that have a pose, or
    have no landmarks or no detector calibration (faces of unknown origin), are
    returned as they are."""
    todo = [i for i, f in enumerate(faces) if f.pose is None and f.landmarks is not None
            and f.dlib_box_calibration is not None]
    out = list(faces)
    if not todo:
        return out
    from .shape import shape68

    height, width = image.shape[:2]
    missing = [i for i in todo if faces[i].landmarks68 is None]
    shapes = dict(zip(missing, shape68(image, [faces[i].dlib_box() for i in missing])))
    for i in todo:
        f = faces[i]
        pts = shapes[i] if i in shapes else f.landmarks68.as_array()  # type: ignore[union-attr]
        out[i] = replace(f, pose=pose_from_68(pts, width, height),
                         landmarks68=f.landmarks68 or Landmarks.from_array(pts))
    return out


def _check_image(image: np.ndarray) -> None:
    if not isinstance(image, np.ndarray) or image.dtype != np.uint8 or image.ndim != 3 \
            or image.shape[2] != 3:
        raise ImageError("detectors take an RGB uint8 array of shape (H, W, 3); "
                         "use faceprint.load_image to make one")
