"""Detector ensembles ``A+B`` (``yunet+blazeface-onet``): every face is aligned twice.

The first detector decides which faces there are (its boxes, scores and landmarks are
the faces'). Each of its faces is matched to the face of highest IoU found by every
other detector (IoU of at least :data:`MATCH_IOU`; the first detector's own face when
the other found none there). The matched faces are kept in :attr:`EnsembleFace.views`,
one per detector, and :class:`faceprint.pipeline.Pipeline` embeds the face once per
view, each view aligned from its own detector's landmarks (or calibrated box), and
averages the views' unit vectors per embedder part (a fused embedder's parts are each
averaged on their own before they are combined). Averaging two alignments in this way
is a test-time augmentation, like averaging with the mirror image (``flip``).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, fields
from typing import Any

import numpy as np

from ..types import Face
from .base import DetectorOptions

#: the IoU at which another detector's face is the same face
MATCH_IOU = 0.3


@dataclass(frozen=True, slots=True)
class EnsembleFace(Face):
    """A face found by the first detector of an ensemble, with its ``views``: the same
    face as each detector of the ensemble found it, in the ensemble's order."""

    views: tuple[Face, ...] = ()


def with_views(face: Face, views: tuple[Face, ...]) -> EnsembleFace:
    """``face`` (any Face) carrying ``views``."""
    values = {f.name: getattr(face, f.name) for f in fields(Face)}
    return EnsembleFace(**values, views=views)


class EnsembleDetector:
    """The ``detectors`` (at least two different ones, built with the same ``options``
    by :func:`faceprint.registry.create_detector`) run on the same image."""

    def __init__(self, detectors: Sequence[Any], options: DetectorOptions | None = None
                 ) -> None:
        self.options = options or DetectorOptions()
        self.detectors = list(detectors)
        self.name = "+".join(d.name for d in self.detectors)

    @property
    def views(self) -> int:
        """How many alignments each face gets."""
        return len(self.detectors)

    def detect(self, image: np.ndarray) -> list[Face]:
        """The first detector's faces (highest score first), each with its views."""
        first, *others = (d.detect(image) for d in self.detectors)
        out: list[Face] = []
        for face in first:
            views = [face]
            for found in others:
                ious = [face.box.iou(f.box) for f in found]
                best = int(np.argmax(ious)) if ious else -1
                views.append(found[best] if best >= 0 and ious[best] >= MATCH_IOU else face)
            out.append(with_views(face, tuple(views)))
        return out

    def __getattr__(self, name: str) -> Any:
        # what callers read from a detector besides detect() (e.g. default_threshold)
        # comes from the first detector
        if name == "detectors":
            raise AttributeError(name)
        return getattr(self.detectors[0], name)
