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
from .errors import NoFaceError, QualityError
from .image import DEFAULT_MAX_PIXELS, ImageInput, load_image
from .registry import (
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
    from .eval.degrade import Degradation
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
    name: picklable, so that worker processes can each build their own copy (see
    :func:`faceprint.batch.map_images`), and hashable, so that kept workers are
    reused for the same recipe.

    ``degrade``: a :class:`faceprint.eval.degrade.Degradation` applied to every image
    the pipeline loads (robustness sweeps); ``detector_options`` may hold
    ``("landmarks", False)`` for jobs that only need boxes."""

    detector: str = DEFAULT_DETECTOR
    embedder: str = DEFAULT_EMBEDDER
    detector_options: tuple[tuple[str, Any], ...] = ()
    embedder_options: tuple[tuple[str, Any], ...] = ()
    threshold: float | None = None
    flip: bool = False
    jitter: int = 0
    max_pixels: int = DEFAULT_MAX_PIXELS
    degrade: Degradation | None = None
    whole_image: bool = False

    def build(self) -> Pipeline:
        return Pipeline(self.detector, self.embedder,
                        detector_options=dict(self.detector_options),
                        embedder_options=dict(self.embedder_options),
                        threshold=self.threshold, flip=self.flip, jitter=self.jitter,
                        max_pixels=self.max_pixels, degrade=self.degrade,
                        whole_image=self.whole_image)

    @property
    def label(self) -> str:
        """``embedder`` plus its flip, jitter and degradation, for tables and legends."""
        extra = " +flip" if self.flip else ""
        extra += f" +jitter {self.jitter}" if self.jitter else ""
        extra += f" ({self.degrade.label})" if self.degrade else ""
        return f"{self.embedder}{extra}"


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
    degrade: a :class:`faceprint.eval.degrade.Degradation` that :meth:`load` applies
        to every image (robustness sweeps).
    whole_image: treat every image as one already-cropped face (a face chip, an ID
        photo crop): no detection; the face's box is the whole image and its five
        landmarks come from dlib's 68-point shape predictor on that box.
    """

    def __init__(self, detector: str | Detector = DEFAULT_DETECTOR,
                 embedder: str | Embedder = DEFAULT_EMBEDDER, *,
                 detector_options: dict[str, Any] | None = None,
                 embedder_options: dict[str, Any] | None = None,
                 threshold: float | None = None, flip: bool = False, jitter: int = 0,
                 max_pixels: int = DEFAULT_MAX_PIXELS,
                 degrade: Degradation | None = None, whole_image: bool = False) -> None:
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
        self.degrade = degrade
        self.whole_image = whole_image

    @classmethod
    def from_preset(cls, name: str, **kwargs: Any) -> Pipeline:
        """The pipeline of preset ``name`` (:data:`faceprint.registry.PRESETS`:
        ``"accurate"``, ``"fast"``); ``kwargs`` go to the constructor."""
        from .registry import preset

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
                              self.degrade, self.whole_image)

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
        """The image as this pipeline sees it: decoded, then degraded when asked."""
        image = load_image(source, max_pixels=self.max_pixels)
        return self.degrade.apply(image) if self.degrade is not None else image

    def detect(self, source: ImageInput, attributes: str | Sequence[str] | None = None
               ) -> list[Face]:
        """Faces in an image (any input :func:`faceprint.load_image` takes), with the
        ``attributes`` asked for (names of :data:`faceprint.attributes.ATTRIBUTE_NAMES`,
        e.g. ``("age", "gender")`` or ``"age,gender"``; none by default)."""
        if attributes:
            from .attributes import parse_attributes

            attributes = parse_attributes(attributes)  # a bad name fails before any work
        image = self.load(source)
        faces = self.find_faces(image)
        return self.attributes(image, faces, attributes) if attributes else faces

    def attributes(self, image: np.ndarray, faces: Sequence[Face],
                   names: str | Sequence[str]) -> list[Face]:
        """``faces`` of ``image`` with the attributes ``names`` computed (batched over
        the faces; see :mod:`faceprint.attributes`); faces found without their pose
        (``find_faces(image, pose=False)``) get it first (:meth:`with_pose`), since
        the quality attribute reads it."""
        from .attributes import compute_attributes

        return compute_attributes(image, self.with_pose(image, faces), names)

    def find_faces(self, image: np.ndarray, *, pose: bool = True) -> list[Face]:
        """The detector's faces of a loaded image, or with ``whole_image`` the image
        itself as one face.

        ``pose=False`` (the embedding paths: :meth:`analyze`, :meth:`identify`,
        :meth:`embed_largest`, batch embedding) skips dlib's 68 points and the head
        pose for detectors that give five landmarks of their own (``Face.pose`` and
        ``Face.landmarks68`` are then None; the boxes, five landmarks, chips and
        embeddings are the same); :meth:`with_pose` adds them later."""
        if self.whole_image:
            return [whole_image_face(image)]
        from .detectors.base import BaseDetector

        detector = self.detector
        if not pose and isinstance(detector, BaseDetector):
            return detector.detect(image, pose=False)
        return detector.detect(image)

    def with_pose(self, image: np.ndarray, faces: Sequence[Face]) -> list[Face]:
        """``faces`` with the 68 points and head pose that ``find_faces(image,
        pose=False)`` left out, equal to those of ``find_faces(image)``
        (:func:`faceprint.detectors.base.add_pose`)."""
        from .detectors.base import add_pose

        return add_pose(image, faces)

    @property
    def views(self) -> int:
        """How many alignments each face gets: one per detector of an ensemble
        (``yunet+blazeface-onet``, :mod:`faceprint.detectors.ensemble`), else 1."""
        spec = self._detector_spec
        if isinstance(spec, str):
            return spec.count("+") + 1
        return int(getattr(spec, "views", 1))

    def chips(self, image: np.ndarray, faces: Sequence[Face]) -> np.ndarray:
        """Aligned chips for ``faces``, as the embedder wants them (a detector
        ensemble's views of each face stacked along the rows)."""
        if self.views == 1:
            return _align.align(image, list(faces), self.embedder.chip)
        per_face = [getattr(f, "views", ()) or (f,) * self.views for f in faces]
        return np.concatenate([_align.align(image, [v[k] for v in per_face], self.embedder.chip)
                               for k in range(self.views)], axis=1)

    def embed_chips(self, chips: np.ndarray) -> np.ndarray:
        """Embeddings of chips, with the pipeline's flip/jitter averaging (and the
        average over a detector ensemble's views)."""
        views = ([np.ascontiguousarray(c) for c in np.split(chips, self.views, axis=1)]
                 if self.views > 1 else [chips])
        return self._averaged(self.embedder, views)

    def _averaged(self, embedder: Embedder, views: list[np.ndarray]) -> np.ndarray:
        """``embedder``'s embeddings of the chips of each view with flip/jitter
        averaging, averaged over the views (made unit vectors again for normalised
        embedders); a fused embedder's parts are each averaged on their own chips,
        then combined."""
        parts = getattr(embedder, "parts", None)
        if parts:
            split = [_align.unpack(embedder.chip, v) for v in views]
            combined: np.ndarray = embedder.combine(  # type: ignore[attr-defined]
                [self._averaged(p, [s[i] for s in split]) for i, p in enumerate(parts)])
            return combined
        vectors = [self._flip_jitter(embedder, v) for v in views]
        if len(vectors) == 1:
            return vectors[0]
        mean = np.mean(np.stack(vectors).astype(np.float64), axis=0).astype(np.float32)
        if embedder.normalized:
            mean /= np.maximum(np.linalg.norm(mean, axis=1, keepdims=True), 1e-12)
        return mean

    def _flip_jitter(self, embedder: Embedder, chips: np.ndarray) -> np.ndarray:
        """``embedder``'s embeddings of ``chips`` with flip/jitter averaging."""
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
        """Every face of an image with its embedding, highest detection score first
        (without the head pose and 68 points: see :meth:`find_faces`)."""
        image = self.load(source)
        faces = self.find_faces(image, pose=False)
        vectors = self.embed_faces(image, faces)
        return [FaceEmbedding(f, v, self.embedder_name) for f, v in zip(faces, vectors)]

    def _largest_face(self, source: ImageInput) -> tuple[np.ndarray, Face]:
        """An image and its largest face (without its pose, see :meth:`find_faces`);
        NoFaceError if there is none."""
        image = self.load(source)
        faces = self.find_faces(image, pose=False)
        if not faces:
            raise NoFaceError(f"{_describe(source)}: no face found "
                              f"(detector {self.detector_name})")
        return image, largest(faces)

    def embed_largest(self, source: ImageInput) -> FaceEmbedding:
        """The largest face of an image and its embedding; NoFaceError if there is none."""
        image, face = self._largest_face(source)
        return FaceEmbedding(face, self.embed_faces(image, [face])[0], self.embedder_name)

    def _enrollable(self, source: ImageInput) -> FaceEmbedding:
        """The largest face of an image and its embedding, if its quality is good."""
        image, face = self._largest_face(source)
        face = self.attributes(image, [face], ("quality",))[0]
        quality = face.attributes.quality if face.attributes else None
        if quality is None or not quality.good:
            reasons = "; ".join(quality.reasons) if quality else "not measured"
            raise QualityError(f"{_describe(source)}: face quality is poor ({reasons}); "
                               f"nothing was enrolled")
        return FaceEmbedding(face, self.embed_faces(image, [face])[0], self.embedder_name)

    # -- uses ---------------------------------------------------------------------
    def distance(self, a: np.ndarray, b: np.ndarray) -> float:
        """Distance between two embeddings in the embedder's metric."""
        return float(paired(a[None], b[None], self.metric)[0])

    def compare(self, a: ImageInput, b: ImageInput) -> Comparison:
        """Verify that the largest faces of two images are the same person."""
        ea, eb = self.embed_largest(a), self.embed_largest(b)
        return Comparison(self.distance(ea.embedding, eb.embedding), self.threshold, self.metric)

    def identify(self, source: ImageInput, gallery: Gallery, k: int = 1,
                 groups: str | Sequence[str] | None = None) -> list[Identification]:
        """Every face of an image searched in ``gallery``: the ``k`` nearest people each
        (in ``groups``, default the group ``default``)."""
        found = self.analyze(source)
        if not found:
            return []
        vectors = np.stack([f.embedding for f in found])
        if groups is None:
            results = gallery.search(self.embedder_name, vectors, self.metric, k=k)
        else:
            results = gallery.search(self.embedder_name, vectors, self.metric, k=k,
                                     groups=groups)  # type: ignore[call-arg]
        return [Identification(f.face, tuple(matches), self.threshold, self.metric)
                for f, matches in zip(found, results)]

    def enroll(self, gallery: Gallery, name: str, sources: Sequence[ImageInput],
               metadata: dict[str, object] | None = None, group: str | None = None,
               min_quality: bool = False) -> list[int]:
        """Add the largest face of each image to ``name`` in ``gallery`` (creating the
        person if needed; in ``group``, default ``default``), all in one transaction;
        NoFaceError names an image without a face, and then nothing is stored. With
        ``min_quality``, a face whose quality verdict is poor
        (:mod:`faceprint.attributes.quality`) is refused the same way (QualityError,
        naming the image and every limit it missed)."""
        found = [self._enrollable(s) if min_quality else self.embed_largest(s)
                 for s in sources]
        extra = {} if group is None else {"group": group}
        return gallery.add_faces(
            name, self.embedder_name, np.stack([f.embedding for f in found]),
            sources=[_describe(s) for s in sources], boxes=[f.face.box for f in found],
            metadata=metadata, **extra)

    def distance_matrix(self, a: np.ndarray, b: np.ndarray) -> np.ndarray:
        return pairwise(a, b, self.metric)
