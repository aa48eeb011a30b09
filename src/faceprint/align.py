"""Alignment: a similarity transform from a face's landmarks to an embedder's
template, and the warp that cuts the aligned face chip.

Two conventions exist, and each embedder says which one it needs with a
:class:`ChipSpec`:

``"dlib5"``
    dlib's face chip: dlib's 5-point shape predictor is run on the face box
    (moved onto dlib's HOG box convention), the five points (four eye corners
    and the base of the nose) are mapped by a least-squares similarity
    transform onto dlib's template (padding 0.25 for the ResNet descriptor:
    a 150 x 150 chip). The transform is computed here; the pixels are sampled
    by dlib's own ``extract_image_chip`` so that the chip - and therefore the
    descriptor - is identical to dlib's (its sampler builds an anti-aliasing
    pyramid before the bilinear warp, which OpenCV's warp does not match).

``"parts"``
    a fused embedder's chips (:mod:`faceprint.embedders.fused`): each part's own
    chip, cut by that part's method, packed side by side into one uint8 array
    (:func:`pack`, :func:`unpack`; :func:`mirror` flips each part in place).

``"landmarks5"``
    the five standard landmarks of :class:`faceprint.types.Face` (eye centres,
    nose tip, mouth corners) mapped onto a template given in chip pixels, e.g.
    InsightFace's 112 x 112 ArcFace template; warped with OpenCV.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Literal

import numpy as np

from .errors import UsageError
from .types import Box, Face

# dlib's 5-point template in unit chip coordinates, in the predictor's part
# order (dlib's get_face_chip_details): outer and inner corner of the eye on
# the image's right, outer and inner corner of the eye on the image's left,
# base of the nose.
DLIB5_TEMPLATE = np.array([
    [0.8595674595992, 0.2134981538014],
    [0.6460604764104, 0.2289674387677],
    [0.1205750620789, 0.2137274526848],
    [0.3340850613712, 0.2290642403242],
    [0.4901123135679, 0.6277975316475],
])

# InsightFace's ArcFace template for 112 x 112 chips (eye centres, nose tip,
# mouth corners), in chip pixels.
ARCFACE_112_TEMPLATE = ((38.2946, 51.6963), (73.5318, 51.5014), (56.0252, 71.7366),
                        (41.5493, 92.3655), (70.7299, 92.2041))


@dataclass(frozen=True, slots=True)
class ChipSpec:
    """What chip an embedder takes: a square of ``size`` pixels cut by ``method``.

    ``padding`` (dlib5 only) is dlib's margin around the face, as a fraction of
    the face size; ``template`` (landmarks5 only) is five ``(x, y)`` chip pixels.
    """

    size: int
    method: Literal["dlib5", "landmarks5", "parts"] = "landmarks5"
    padding: float = 0.25
    template: tuple[tuple[float, float], ...] | None = None
    #: ``"parts"`` only: the parts' chips, packed left to right
    parts: tuple[ChipSpec, ...] = ()

    def __post_init__(self) -> None:
        if self.method == "landmarks5" and (self.template is None or len(self.template) != 5):
            raise ValueError("a landmarks5 chip needs a five-point template")
        if self.method == "parts" and (not self.parts or any(p.method == "parts"
                                                             for p in self.parts)):
            raise ValueError("a parts chip needs parts that are plain chips")

    @property
    def shape(self) -> tuple[int, int, int]:
        """``(rows, cols, 3)`` of one chip (packed parts: the tallest part's rows and
        the sum of the parts' widths)."""
        if self.method == "parts":
            return (max(p.size for p in self.parts), sum(p.size for p in self.parts), 3)
        return (self.size, self.size, 3)

    @classmethod
    def of_parts(cls, parts: tuple[ChipSpec, ...]) -> ChipSpec:
        """The packed chip of a fused embedder whose parts take ``parts``."""
        return cls(size=max(p.size for p in parts), method="parts", parts=parts)


def pack(spec: ChipSpec, chips: list[np.ndarray]) -> np.ndarray:
    """Each part's ``(N, s_i, s_i, 3)`` chips packed into ``(N, *spec.shape)``."""
    n = len(chips[0])
    out = np.zeros((n, *spec.shape), dtype=np.uint8)
    col = 0
    for part, c in zip(spec.parts, chips):
        out[:, :part.size, col:col + part.size] = c
        col += part.size
    return out


def unpack(spec: ChipSpec, packed: np.ndarray) -> list[np.ndarray]:
    """The parts' chips of packed chips ``(N, *spec.shape)`` (contiguous copies)."""
    if packed.ndim != 4 or packed.shape[1:] != spec.shape:
        raise ValueError(f"packed chips must have shape (N, {spec.shape}); got {packed.shape}")
    out, col = [], 0
    for part in spec.parts:
        out.append(np.ascontiguousarray(packed[:, :part.size, col:col + part.size]))
        col += part.size
    return out


def mirror(spec: ChipSpec, chips: np.ndarray) -> np.ndarray:
    """Mirror images of chips ``(N, rows, cols, 3)`` (packed parts: each part mirrored
    in its own place)."""
    if spec.method != "parts":
        return np.ascontiguousarray(chips[:, :, ::-1])
    return pack(spec, [c[:, :, ::-1] for c in unpack(spec, chips)])


def similarity_transform(src: np.ndarray, dst: np.ndarray) -> np.ndarray:
    """The 2 x 3 similarity transform (rotation, uniform scale, translation, no
    reflection) that maps ``src`` points onto ``dst`` in the least-squares sense
    (Umeyama 1991). Both are ``(N, 2)`` arrays, N >= 2."""
    src = np.asarray(src, dtype=np.float64)
    dst = np.asarray(dst, dtype=np.float64)
    mu_s, mu_d = src.mean(axis=0), dst.mean(axis=0)
    s_c, d_c = src - mu_s, dst - mu_d
    var_s = (s_c**2).sum() / len(src)
    cov = d_c.T @ s_c / len(src)
    u, sig, vt = np.linalg.svd(cov)
    sign = np.eye(2)
    if np.linalg.det(u) * np.linalg.det(vt) < 0:
        sign[1, 1] = -1.0
    rot = u @ sign @ vt
    scale = float(np.trace(np.diag(sig) @ sign)) / var_s if var_s > 0 else 1.0
    matrix = np.empty((2, 3))
    matrix[:, :2] = scale * rot
    matrix[:, 2] = mu_d - scale * rot @ mu_s
    return matrix


def dlib_chip_rect(points5: np.ndarray, size: int, padding: float
                   ) -> tuple[tuple[float, float, float, float], float]:
    """dlib's chip for five dlib shape points: the rectangle ``(left, top, right,
    bottom)`` in image pixels (before rotation) and the angle in radians.

    The chip-to-image similarity transform maps the padded template onto the
    points; its scale sets the rectangle's size and its rotation the angle.
    """
    template = (padding + DLIB5_TEMPLATE) / (2 * padding + 1) * size
    m = similarity_transform(template, points5)  # chip -> image
    px, py = m[0, 0], m[1, 0]  # the image of the chip's unit x vector
    angle = math.atan2(py, px)
    scale = math.hypot(px, py)
    cx, cy = m @ np.array([size / 2.0, size / 2.0, 1.0])
    # dlib's rectangles count pixels inclusively: a width w spans right - left = w - 1.
    half = (size * scale - 1.0) / 2.0
    return (cx - half, cy - half, cx + half, cy + half), angle


def dlib_chips(image: np.ndarray, boxes: list[Box], size: int = 150,
               padding: float = 0.25) -> np.ndarray:
    """dlib-convention chips ``(N, size, size, 3)`` uint8 for faces in HOG-convention boxes."""
    import dlib

    from ._dlib import shape_points, shape_predictor, to_rectangle

    predictor = shape_predictor("dlib-sp5")
    chips = np.empty((len(boxes), size, size, 3), dtype=np.uint8)
    for i, box in enumerate(boxes):
        points = shape_points(predictor(image, to_rectangle(box)))
        (left, top, right, bottom), angle = dlib_chip_rect(points, size, padding)
        details = dlib.chip_details(dlib.drectangle(left, top, right, bottom),
                                    dlib.chip_dims(size, size), angle)
        chips[i] = dlib.extract_image_chip(image, details)
    return chips


def landmark_chips(image: np.ndarray, landmarks: list[np.ndarray], size: int,
                   template: tuple[tuple[float, float], ...]) -> np.ndarray:
    """Chips ``(N, size, size, 3)`` uint8 warped so that each face's five landmarks
    land on ``template`` (chip pixels). Large reductions are pre-shrunk with
    area averaging to avoid aliasing."""
    import cv2

    dst = np.asarray(template, dtype=np.float64)
    chips = np.empty((len(landmarks), size, size, 3), dtype=np.uint8)
    for i, pts in enumerate(landmarks):
        m = similarity_transform(np.asarray(pts, dtype=np.float64), dst)  # image -> chip
        scale = math.hypot(m[0, 0], m[1, 0])
        src = image
        if scale < 0.5:
            shrink = 1.0 / math.floor(1.0 / scale)
            src = cv2.resize(image, None, fx=shrink, fy=shrink, interpolation=cv2.INTER_AREA)
            m = m @ np.array([[1 / shrink, 0, 0], [0, 1 / shrink, 0], [0, 0, 1]])
        chips[i] = cv2.warpAffine(src, m, (size, size), flags=cv2.INTER_LINEAR,
                                  borderMode=cv2.BORDER_REPLICATE)
    return chips


def align(image: np.ndarray, faces: list[Face], spec: ChipSpec,
          dlib_boxes: list[Box] | None = None) -> np.ndarray:
    """Chips ``(N, spec.size, spec.size, 3)`` uint8 for ``faces`` in ``image``.

    ``dlib_boxes`` (dlib5 only) are the faces' boxes moved onto dlib's HOG
    convention; by default each face's own calibration is applied
    (:meth:`faceprint.types.Face.dlib_box`; unchanged for faces of unknown origin).
    """
    if not faces:
        return np.empty((0, *spec.shape), dtype=np.uint8)
    if spec.method == "parts":
        return pack(spec, [align(image, faces, part, dlib_boxes) for part in spec.parts])
    if spec.method == "dlib5":
        if dlib_boxes is None:
            dlib_boxes = [face.dlib_box() for face in faces]
        return dlib_chips(image, dlib_boxes, spec.size, spec.padding)
    missing = [i for i, f in enumerate(faces) if f.landmarks is None]
    if missing:
        raise UsageError("this embedder aligns on five landmarks; detect with "
                         "landmarks enabled")
    assert spec.template is not None
    return landmark_chips(image, [f.landmarks.as_array() for f in faces if f.landmarks],
                          spec.size, spec.template)


def jitter(chip: np.ndarray, count: int, seed: int = 0) -> np.ndarray:
    """``count`` randomly perturbed copies of ``chip`` (``(count, S, S, 3)`` uint8):
    rotation within +-3 degrees, scale within +-3 %, shift within +-2 % of the
    chip, and a mirror image half of the time - the kind of jitter dlib's
    ``num_jitters`` applies. Seeded: the same chip gives the same copies."""
    import cv2

    rng = np.random.default_rng(seed)
    size = chip.shape[0]
    out = np.empty((count, *chip.shape), dtype=np.uint8)
    for i in range(count):
        angle = rng.uniform(-3.0, 3.0)
        scale = rng.uniform(0.97, 1.03)
        m = cv2.getRotationMatrix2D((size / 2.0, size / 2.0), angle, scale)
        m[:, 2] += rng.uniform(-0.02, 0.02, size=2) * size
        warped = cv2.warpAffine(chip, m, (size, size), flags=cv2.INTER_LINEAR,
                                borderMode=cv2.BORDER_REFLECT)
        out[i] = warped[:, ::-1] if rng.random() < 0.5 else warped
    return out
