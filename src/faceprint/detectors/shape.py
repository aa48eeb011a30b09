"""Five landmarks from dlib's shape predictors, for detectors that find none.

dlib's 5-point model marks eye corners and the base of the nose, but no mouth,
so the five standard landmarks (eye centres, nose tip, mouth corners) are
read from its 68-point iBUG 300-W model: eye centres are the means of the six
points around each eye (36-41, 42-47), the nose tip is point 30 and the mouth
corners are points 48 and 54.
"""

from __future__ import annotations

import numpy as np

from .._dlib import shape_points, shape_predictor, to_rectangle
from ..types import Box


def shape68(image: np.ndarray, boxes: list[Box]) -> list[np.ndarray]:
    """dlib's 68 points per box, as ``(68, 2)`` arrays (boxes in dlib's HOG box
    convention, see ``BaseDetector.dlib_box_calibration``)."""
    predictor = shape_predictor("dlib-sp68")
    return [shape_points(predictor(image, to_rectangle(box))) for box in boxes]


def five_from_68(pts: np.ndarray) -> np.ndarray:
    """The five standard landmarks (``(5, 2)``) read from 68 points."""
    return np.stack([
        pts[36:42].mean(axis=0),  # eye on the image's left (subject's right)
        pts[42:48].mean(axis=0),
        pts[30],
        pts[48],
        pts[54],
    ])


def landmarks_from_shape(image: np.ndarray, boxes: list[Box]) -> list[np.ndarray]:
    """Five ``(x, y)`` landmarks per box, as ``(5, 2)`` arrays.

    ``boxes`` must follow dlib's HOG box convention (see
    ``BaseDetector.dlib_box_calibration``).
    """
    predictor = shape_predictor("dlib-sp68")
    out = []
    for box in boxes:
        pts = shape_points(predictor(image, to_rectangle(box)))
        out.append(np.stack([
            pts[36:42].mean(axis=0),  # eye on the image's left (subject's right)
            pts[42:48].mean(axis=0),
            pts[30],
            pts[48],
            pts[54],
        ]))
    return out
