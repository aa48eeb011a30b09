"""The Pipeline: one detector, the alignment its embedder needs, one embedder.

Models are created on first use, never at construction or import. A pipeline
is safe to share between threads for reading; the dlib and ONNX Runtime models
it wraps release the GIL while they compute.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

from . import align as _align
from .distance import paired, pairwise
from .errors import NoFaceError
from .image import DEFAULT_MAX_PIXELS, ImageInput, load_image
from .models import (
    DEFAULT_DETECTOR,
    DEFAULT_EMBEDDER,
    check_detector_name,
    check_embedder_name,
    create_detector,
    create_embedder,
)
from .types import Comparison, Face, FaceEmbedding, Identification, Metric

if TYPE_CHECKING:
    from .detectors.base import Detector
    from .embedders.base import Embedder
    from .gallery.base import Gallery


def _describe(source: ImageInput) -> str:
    """How to name an image input in messages and records."""
    if isinstance(source, (str, os.PathLike)):
        return os.fspath(source)
    return "the image"


def whole_image_face(image: np.ndarray) -> Face:
    """The whole of ``image`` as one face (``whole_image=True``): box ``(0, 0, w, h)``,
    score 1, landmarks from dlib's 68-point predictor run on that box, head pose."""
    from .detectors.pose import estimate_pose
    from .detectors.shape import landmarks_from_shape
    from .types import Box, Landmarks

    h, w = image.shape[:2]
    box = Box(0.0, 0.0, float(w), float(h))
    points = landmarks_from_shape(image, [box])[0]
    return Face(box, 1.0, Landmarks.from_array(points), estimate_pose(points), "whole-image")


def largest(faces: Sequence[Face]) -> Face:
    """The face with the largest box (the usual subject of a portrait)."""
    return max(faces, key=lambda f: f.box.area)


@dataclass(frozen=True, slots=True)
class PipelineRecipe:
    """Everything that rebuilds a pipeline whose detector and embedder were given by
    name: picklable, so that worker processes can each build their own copy."""

    detector: str
    embedder: str
    detector_options: tuple[tuple[str, Any], ...] = ()
    embedder_options: tuple[tuple[str, Any], ...] = ()
    threshold: float | None = None
    flip: bool = False
    jitter: int = 0
    max_pixels: int = DEFAULT_MAX_PIXELS
    whole_image: bool = False

    def build(self) -> Pipeline:
        return Pipeline(self.detector, self.embedder,
                        detector_options=dict(self.detector_options),
                        embedder_options=dict(self.embedder_options),
                        threshold=self.threshold, flip=self.flip, jitter=self.jitter,
                        max_pixels=self.max_pixels, whole_image=self.whole_image)


class Pipeline:
    """Detect, align and embed faces.

    detector, embedder: registry names or ready objects.
    detector_options: :class:`faceprint.detectors.DetectorOptions` fields
        (``min_face_size``, ``upsample``, ``threshold``, ``max_faces``).
    embedder_options: keyword arguments for the embedder (e.g. ``engine``).
    threshold: overrides the embedder's calibrated threshold (``metric`` units).
    flip: average each face's embedding with that of its mirror image.
    jitter: also average over this many randomly perturbed chips (dlib's
        ``num_jitters``; costs ``jitter`` extra embeddings per face).
    whole_image: treat every image as one already-cropped face (a face chip, an ID
        photo crop): no detection; the face's box is the whole image and its five
        landmarks come from dlib's 68-point shape predictor on that box.
    """

    def __init__(self, detector: str | Detector = DEFAULT_DETECTOR,
                 embedder: str | Embedder = DEFAULT_EMBEDDER, *,
                 detector_options: dict[str, Any] | None = None,
                 embedder_options: dict[str, Any] | None = None,
                 threshold: float | None = None, flip: bool = False, jitter: int = 0,
                 max_pixels: int = DEFAULT_MAX_PIXELS, whole_image: bool = False) -> None:
        if jitter < 0:
            raise ValueError("jitter must be >= 0")
        self._detector_spec = detector
        self._embedder_spec = embedder
        self._detector_options = dict(detector_options or {})
        self._embedder_options = dict(embedder_options or {})
        self._detector: Detector | None = None if isinstance(detector, str) else detector
        self._embedder: Embedder | None = None if isinstance(embedder, str) else embedder
        if isinstance(detector, str):
            check_detector_name(detector)
        if isinstance(embedder, str):
            check_embedder_name(embedder)
        self._threshold = threshold
        self.flip = flip
        self.jitter = jitter
        self.max_pixels = max_pixels
        self.whole_image = whole_image

    @classmethod
    def from_preset(cls, name: str, **kwargs: Any) -> Pipeline:
        """The pipeline of preset ``name`` (:data:`faceprint.models.PRESETS`:
        ``"accurate"``, ``"fast"``); ``kwargs`` go to the constructor."""
        from .models import preset

        chosen = preset(name)
        kwargs.setdefault("flip", chosen.flip)
        return cls(chosen.detector, chosen.embedder, **kwargs)

    def recipe(self) -> PipelineRecipe | None:
        """How to rebuild this pipeline elsewhere; None when its detector or embedder
        was given as an object (which another process cannot rebuild)."""
        if not isinstance(self._detector_spec, str) or not isinstance(self._embedder_spec, str):
            return None
        return PipelineRecipe(self._detector_spec, self._embedder_spec,
                              tuple(sorted(self._detector_options.items())),
                              tuple(sorted(self._embedder_options.items())),
                              self._threshold, self.flip, self.jitter, self.max_pixels,
                              self.whole_image)

    # -- the parts, created on first use ---------------------------------------------
    @property
    def detector(self) -> Detector:
        if self._detector is None:
            assert isinstance(self._detector_spec, str)
            self._detector = create_detector(self._detector_spec, **self._detector_options)
        return self._detector

    @property
    def embedder(self) -> Embedder:
        if self._embedder is None:
            assert isinstance(self._embedder_spec, str)
            self._embedder = create_embedder(self._embedder_spec, **self._embedder_options)
        return self._embedder

    @property
    def detector_name(self) -> str:
        spec = self._detector_spec
        return spec if isinstance(spec, str) else spec.name

    @property
    def embedder_name(self) -> str:
        spec = self._embedder_spec
        return spec if isinstance(spec, str) else spec.name

    @property
    def threshold(self) -> float:
        return self.embedder.threshold if self._threshold is None else self._threshold

    @property
    def metric(self) -> Metric:
        return self.embedder.metric

    # -- stages -------------------------------------------------------------------
    def load(self, source: ImageInput) -> np.ndarray:
        return load_image(source, max_pixels=self.max_pixels)

    def detect(self, source: ImageInput) -> list[Face]:
        """Faces in an image (any input :func:`faceprint.load_image` takes)."""
        return self.find_faces(self.load(source))

    def find_faces(self, image: np.ndarray) -> list[Face]:
        """The detector's faces of a loaded image, or with ``whole_image`` the image
        itself as one face."""
        if self.whole_image:
            return [whole_image_face(image)]
        return self.detector.detect(image)

    def chips(self, image: np.ndarray, faces: Sequence[Face]) -> np.ndarray:
        """Aligned chips for ``faces``, as the embedder wants them."""
        return _align.align(image, list(faces), self.embedder.chip)

    def embed_chips(self, chips: np.ndarray) -> np.ndarray:
        """Embeddings of chips, with the pipeline's flip/jitter averaging."""
        return self._averaged(self.embedder, chips)

    def _averaged(self, embedder: Embedder, chips: np.ndarray) -> np.ndarray:
        """``embedder``'s embeddings of ``chips`` with flip/jitter averaging; a fused
        embedder's parts are each averaged on their own chips, then combined."""
        parts = getattr(embedder, "parts", None)
        if parts:
            split = _align.unpack(embedder.chip, chips)
            combined: np.ndarray = embedder.combine(  # type: ignore[attr-defined]
                [self._averaged(p, c) for p, c in zip(parts, split)])
            return combined
        if not self.flip and not self.jitter:
            return embedder.embed_chips(chips)
        out = np.empty((len(chips), embedder.dim), dtype=np.float32)
        for i, chip in enumerate(chips):
            variants = [chip[None]]
            if self.flip:
                variants.append(_align.mirror(embedder.chip, chip[None]))
            if self.jitter:
                variants.append(_align.jitter(chip, self.jitter, seed=i))
            vectors = embedder.embed_chips(np.ascontiguousarray(np.concatenate(variants)))
            mean = vectors.mean(axis=0)
            if embedder.normalized:
                mean /= max(float(np.linalg.norm(mean)), 1e-12)
            out[i] = mean
        return out

    def embed_faces(self, image: np.ndarray, faces: Sequence[Face]) -> np.ndarray:
        """``(N, dim)`` embeddings of the given faces of ``image``."""
        if not faces:
            return np.empty((0, self.embedder.dim), dtype=np.float32)
        return self.embed_chips(self.chips(image, faces))

    def analyze(self, source: ImageInput) -> list[FaceEmbedding]:
        """Every face of an image with its embedding, highest detection score first."""
        image = self.load(source)
        faces = self.find_faces(image)
        vectors = self.embed_faces(image, faces)
        return [FaceEmbedding(f, v, self.embedder_name) for f, v in zip(faces, vectors)]

    def embed_largest(self, source: ImageInput) -> FaceEmbedding:
        """The largest face of an image and its embedding; NoFaceError if there is none."""
        image = self.load(source)
        faces = self.find_faces(image)
        if not faces:
            raise NoFaceError(f"{_describe(source)}: no face found "
                              f"(detector {self.detector_name})")
        face = largest(faces)
        return FaceEmbedding(face, self.embed_faces(image, [face])[0], self.embedder_name)

    # -- uses ---------------------------------------------------------------------
    def distance(self, a: np.ndarray, b: np.ndarray) -> float:
        """Distance between two embeddings in the embedder's metric."""
        return float(paired(a[None], b[None], self.metric)[0])

    def compare(self, a: ImageInput, b: ImageInput) -> Comparison:
        """Verify that the largest faces of two images are the same person."""
        ea, eb = self.embed_largest(a), self.embed_largest(b)
        return Comparison(self.distance(ea.embedding, eb.embedding), self.threshold, self.metric)

    def identify(self, source: ImageInput, gallery: Gallery, k: int = 1
                 ) -> list[Identification]:
        """Every face of an image searched in ``gallery``: the ``k`` nearest people each."""
        found = self.analyze(source)
        if not found:
            return []
        vectors = np.stack([f.embedding for f in found])
        results = gallery.search(self.embedder_name, vectors, self.metric, k=k)
        return [Identification(f.face, tuple(matches), self.threshold, self.metric)
                for f, matches in zip(found, results)]

    def enroll(self, gallery: Gallery, name: str, sources: Sequence[ImageInput],
               metadata: dict[str, object] | None = None) -> list[int]:
        """Add the largest face of each image to ``name`` in ``gallery`` (creating the
        person if needed), all in one transaction; NoFaceError names an image without a
        face, and then nothing is stored."""
        found = [self.embed_largest(s) for s in sources]
        return gallery.add_faces(
            name, self.embedder_name, np.stack([f.embedding for f in found]),
            sources=[_describe(s) for s in sources], boxes=[f.face.box for f in found],
            metadata=metadata)

    def distance_matrix(self, a: np.ndarray, b: np.ndarray) -> np.ndarray:
        return pairwise(a, b, self.metric)
