"""MTCNN, the multi-task cascaded convolutional networks of Zhang et al. (2016),
"Joint Face Detection and Alignment using Multi-task Cascaded Convolutional
Networks", IEEE Signal Processing Letters 23(10).

Three small networks run in a cascade:

1. **P-Net** (fully convolutional, 12x12 window, stride 2) scans an image
   pyramid (scale factor 0.709 from ``12 / min_face_size`` down to a 12-pixel
   image) and proposes boxes with a face probability (threshold 0.6) and a box
   regression. Proposals are thinned by NMS on each scale (IoU 0.5) and across
   scales (0.7), regressed, and squared.
2. **R-Net** rescores 24x24 crops of the surviving squares (threshold 0.7), NMS
   (0.7) thins them, and their regression moves them; squared again.
3. **O-Net** rescores 48x48 crops (threshold 0.7, or ``options.threshold``),
   places five landmarks and regresses the boxes a last time; a final NMS with
   the overlap measured over the smaller box (0.7) removes nested duplicates.

The weights are those shipped by the ``facenet-pytorch`` package (legacy
PyTorch state dicts, read without torch by :mod:`faceprint._torchfile`); only
the weight files are used. The three networks are built once per process, on
first use, as small ONNX graphs (P-Net with a dynamic height and width) and run
with onnxruntime; R-Net and O-Net take all their crops in batches.

Conventions, found by testing against facenet-pytorch run as a black box:

* The networks were trained in Caffe from MATLAB, which hands images over
  column-major, i.e. transposed. These files' convolution kernels are already
  turned for row-major images, but the fully connected layers of R-Net and
  O-Net expect the last feature map flattened in (x, y, channel) order, so the
  graphs transpose it to ``(N, W, H, C)`` before flattening. Box regressions
  are ``(dx1, dy1, dx2, dy2)`` in box sizes, landmarks five x then five y in box
  sizes, and channel 1 of the softmax is the face probability.
* Box arithmetic follows the original MATLAB code (1-based pixel indices, last
  pixel inclusive; see "Box arithmetic" below), images are resized by adaptive
  average pooling, and P-Net's windows are placed in float32: on faces away from
  the image border the boxes equal facenet-pytorch's to float precision, apart
  from the conversion to faceprint's 0-based (left, top, width, height).
* Where a crop reaches outside the image, this module pads it with mid grey (as
  the MATLAB code pads, there with black); facenet-pytorch instead stretches the
  visible part over the whole crop, which misplaces faces cut by the border.
"""

from __future__ import annotations

import math
import threading
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, ClassVar

import numpy as np

from ..errors import ModelError
from ..types import Box
from ..weights import weight_path
from .base import BaseDetector, RawFace

if TYPE_CHECKING:
    from onnxruntime import InferenceSession

#: pyramid scale step between successive P-Net scales
SCALE_FACTOR = 0.709
#: default face-probability thresholds of P-Net, R-Net and O-Net
THRESHOLDS = (0.6, 0.7, 0.7)
#: IoU above which NMS suppresses: within one scale, across scales (P-Net),
#: after R-Net; and the min-overlap used after O-Net
NMS_PNET_SCALE = 0.5
NMS_PNET_ALL = 0.7
NMS_RNET = 0.7
NMS_ONET = 0.7
#: P-Net's window (pixels of the scaled image) and its stride
PNET_CELL = 12
PNET_STRIDE = 2

#: R-Net / O-Net crops per network call (bounds memory on crowded images)
BATCH = 256
#: boxes per block of the overlap matrix in :func:`nms` (bounds its memory)
_NMS_BLOCK = 512
#: onnxruntime threads per session. One: the graphs are small (P-Net's largest
#: pyramid level is about 0.5 GMAC), a second thread bought nothing measurable on
#: a 2-core machine, and callers that want parallelism run images in threads,
#: sharing the sessions.
INTRA_OP_THREADS = 1

#: how the last feature map of R-Net / O-Net is ordered before flattening:
#: (batch, x, y, channel), the Caffe-from-MATLAB layout (see the module docstring)
_FLATTEN_PERM = (0, 3, 2, 1)
_ONNX_OPSET = 13


# --------------------------------------------------------------------------------------
# Networks


@dataclass(frozen=True, slots=True)
class _Nets:
    """The three networks as onnxruntime sessions (thread-safe, shared)."""

    pnet: InferenceSession
    rnet: InferenceSession
    onet: InferenceSession


_NETS: _Nets | None = None
_NETS_LOCK = threading.Lock()


class _GraphBuilder:
    """Collects ONNX nodes and initialisers for one of the three networks."""

    def __init__(self, state: dict[str, np.ndarray], native_prelu: bool = False) -> None:
        self.state = state
        self.native_prelu = native_prelu  # ONNX's PRelu op (for comparison only)
        self.nodes: list[Any] = []
        self.inits: list[Any] = []

    def _weight(self, key: str, shape: Sequence[int] | None = None) -> str:
        from onnx import numpy_helper

        try:
            arr = self.state[key]
        except KeyError:
            raise ModelError(f"MTCNN weight file lacks tensor {key!r}") from None
        arr = np.ascontiguousarray(arr, dtype=np.float32)
        if shape is not None:
            arr = arr.reshape(shape)
        self.inits.append(numpy_helper.from_array(arr, key))
        return key

    def node(self, op: str, inputs: list[str], output: str, **attrs: Any) -> str:
        from onnx import helper

        self.nodes.append(helper.make_node(op, inputs, [output], name=output, **attrs))
        return output

    def conv(self, layer: str, x: str) -> str:
        return self.node("Conv", [x, self._weight(f"{layer}.weight"),
                                  self._weight(f"{layer}.bias")], layer)

    def prelu(self, layer: str, x: str, spatial: bool = True) -> str:
        """PReLU written as ``relu(x) + slope * min(x, 0)``: the same numbers bit for
        bit, and 15-35 % faster per network on ONNX Runtime's CPU provider, whose PRelu
        kernel makes every convolution's output leave its blocked-channel layout
        (``benchmarks/bench_mtcnn.py``). The slopes include negative ones, so the
        shorter ``max(x, slope * x)`` would not be exact."""
        from onnx import numpy_helper

        slope = self.state.get(f"{layer}.weight")
        if slope is None:
            raise ModelError(f"MTCNN weight file lacks tensor {layer + '.weight'!r}")
        shape = (slope.size, 1, 1) if spatial else (slope.size,)
        if self.native_prelu:
            return self.node("PRelu", [x, self._weight(f"{layer}.weight", shape)], layer)
        if "zero" not in (i.name for i in self.inits):
            self.inits.append(numpy_helper.from_array(np.zeros((), np.float32), "zero"))
        negative = self.node("Min", [x, "zero"], f"{layer}_negative")
        scaled = self.node("Mul", [negative, self._weight(f"{layer}.weight", shape)],
                           f"{layer}_scaled")
        return self.node("Add", [self.node("Relu", [x], f"{layer}_positive"), scaled], layer)

    def pool(self, name: str, x: str, kernel: int, stride: int) -> str:
        # Caffe rounds pooled sizes up
        return self.node("MaxPool", [x], name, kernel_shape=[kernel, kernel],
                         strides=[stride, stride], ceil_mode=1)

    def dense(self, layer: str, x: str) -> str:
        return self.node("Gemm", [x, self._weight(f"{layer}.weight"),
                                  self._weight(f"{layer}.bias")], layer, transB=1)

    def softmax(self, name: str, x: str) -> str:
        return self.node("Softmax", [x], name, axis=1)

    def flatten(self, x: str) -> str:
        """``(N, C, H, W)`` -> ``(N, W*H*C)`` in the order the dense layers expect."""
        x = self.node("Transpose", [x], "transposed", perm=list(_FLATTEN_PERM))
        return self.node("Flatten", [x], "flat", axis=1)

    def model(self, name: str, size: int | None, outputs: list[tuple[str, int]]) -> bytes:
        from onnx import TensorProto, checker, helper

        if size is None:
            in_shape: list[Any] = [1, 3, "height", "width"]
            out_shapes: list[list[Any]] = [[1, c, "rows", "cols"] for _, c in outputs]
        else:
            in_shape = ["batch", 3, size, size]
            out_shapes = [["batch", c] for _, c in outputs]
        graph = helper.make_graph(
            self.nodes, name,
            [helper.make_tensor_value_info("image", TensorProto.FLOAT, in_shape)],
            [helper.make_tensor_value_info(n, TensorProto.FLOAT, s)
             for (n, _), s in zip(outputs, out_shapes, strict=True)],
            self.inits)
        model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", _ONNX_OPSET)],
                                  producer_name="faceprint")
        model.ir_version = min(model.ir_version, 8)
        checker.check_model(model)
        data: bytes = model.SerializeToString()
        return data


def _pnet_graph(state: dict[str, np.ndarray], native_prelu: bool = False) -> bytes:
    g = _GraphBuilder(state, native_prelu)
    x = g.pool("pool1", g.prelu("prelu1", g.conv("conv1", "image")), 2, 2)
    x = g.prelu("prelu2", g.conv("conv2", x))
    x = g.prelu("prelu3", g.conv("conv3", x))
    g.softmax("prob", g.conv("conv4_1", x))
    g.node("Identity", [g.conv("conv4_2", x)], "reg")
    return g.model("mtcnn_pnet", None, [("prob", 2), ("reg", 4)])


def _rnet_graph(state: dict[str, np.ndarray], native_prelu: bool = False) -> bytes:
    g = _GraphBuilder(state, native_prelu)
    x = g.pool("pool1", g.prelu("prelu1", g.conv("conv1", "image")), 3, 2)
    x = g.pool("pool2", g.prelu("prelu2", g.conv("conv2", x)), 3, 2)
    x = g.prelu("prelu3", g.conv("conv3", x))
    x = g.prelu("prelu4", g.dense("dense4", g.flatten(x)), spatial=False)
    g.softmax("prob", g.dense("dense5_1", x))
    g.node("Identity", [g.dense("dense5_2", x)], "reg")
    return g.model("mtcnn_rnet", 24, [("prob", 2), ("reg", 4)])


def _onet_graph(state: dict[str, np.ndarray], native_prelu: bool = False) -> bytes:
    g = _GraphBuilder(state, native_prelu)
    x = g.pool("pool1", g.prelu("prelu1", g.conv("conv1", "image")), 3, 2)
    x = g.pool("pool2", g.prelu("prelu2", g.conv("conv2", x)), 3, 2)
    x = g.pool("pool3", g.prelu("prelu3", g.conv("conv3", x)), 2, 2)
    x = g.prelu("prelu4", g.conv("conv4", x))
    x = g.prelu("prelu5", g.dense("dense5", g.flatten(x)), spatial=False)
    g.softmax("prob", g.dense("dense6_1", x))
    g.node("Identity", [g.dense("dense6_2", x)], "reg")
    g.node("Identity", [g.dense("dense6_3", x)], "points")
    return g.model("mtcnn_onet", 48, [("prob", 2), ("reg", 4), ("points", 10)])


def _session(model: bytes) -> InferenceSession:
    """An onnxruntime CPU session for a serialised ONNX model (idle threads sleep)."""
    from ..runtime.onnxrt import cpu_session

    return cpu_session(model, INTRA_OP_THREADS, spinning=False)


def _nets() -> _Nets:
    """The three networks, built from the weight files on first use and shared by
    the whole process (onnxruntime sessions are safe to call from several threads)."""
    global _NETS
    if _NETS is None:
        with _NETS_LOCK:
            if _NETS is None:
                from .._torchfile import load_state_dict

                builders = {"pnet": _pnet_graph, "rnet": _rnet_graph, "onet": _onet_graph}
                sessions = {}
                for key, build in builders.items():
                    state = load_state_dict(weight_path(f"mtcnn-{key}"))
                    try:
                        sessions[key] = _session(build(state))
                    except ModelError:
                        raise
                    except Exception as exc:  # wrong shapes: onnx or onnxruntime refused it
                        raise ModelError(f"cannot build the MTCNN {key} network from its "
                                         f"weights: {exc}") from exc
                _NETS = _Nets(**sessions)
    return _NETS


def _forward(session: InferenceSession, x: np.ndarray, outputs: Sequence[str]) -> list[np.ndarray]:
    """Run a network on the ``(N, 3, H, W)`` float32 batch ``x``; named outputs in order."""
    result: list[np.ndarray] = session.run(list(outputs), {"image": x})
    return result


# --------------------------------------------------------------------------------------
# Box arithmetic.
#
# Inside the cascade, boxes follow the original MATLAB code (and facenet-pytorch,
# which this module matches to the pixel on faces away from the image border):
# rows x1, y1, x2, y2 where (x1, y1) is the 1-based index of the first pixel and
# (x2, y2) the 1-based index of the last pixel, floats once regressed; crops
# take the pixels of the box truncated to integers. In faceprint's convention
# that box is left = x1 - 1, top = y1 - 1, right = x2, bottom = y2 (0-based,
# right/bottom exclusive); MtcnnDetector._detect converts at the edge.


def nms(boxes: np.ndarray, scores: np.ndarray, threshold: float,
        mode: str = "union") -> np.ndarray:
    """Greedy non-maximum suppression.

    ``boxes``: ``(N, 4)`` corners ``x1, y1, x2, y2`` in pixels; ``scores``: ``(N,)``.
    A box is dropped when its overlap with a kept, higher-scoring box exceeds
    ``threshold``; overlap is intersection over union (``mode="union"``) or
    intersection over the smaller area (``mode="min"``), areas measured as
    ``(x2 - x1) * (y2 - y1)``. Returns the indices kept, highest score first.
    """
    n = len(boxes)
    if n == 0:
        return np.zeros(0, dtype=np.intp)
    order = np.argsort(-scores, kind="stable")
    x1, y1, x2, y2 = (boxes[order, i].astype(np.float64) for i in range(4))
    area = np.maximum(x2 - x1, 0.0) * np.maximum(y2 - y1, 0.0)
    suppressed = np.zeros(n, dtype=bool)
    keep: list[int] = []
    for start in range(0, n, _NMS_BLOCK):
        rows = slice(start, min(start + _NMS_BLOCK, n))
        iw = np.minimum(x2[rows, None], x2[None, :]) - np.maximum(x1[rows, None], x1[None, :])
        ih = np.minimum(y2[rows, None], y2[None, :]) - np.maximum(y1[rows, None], y1[None, :])
        inter = np.maximum(iw, 0.0) * np.maximum(ih, 0.0)
        if mode == "min":
            denom = np.minimum(area[rows, None], area[None, :])
        else:
            denom = area[rows, None] + area[None, :] - inter
        overlap = np.divide(inter, denom, out=np.zeros_like(inter), where=denom > 0)
        over = overlap > threshold
        for i in range(rows.start, rows.stop):
            if not suppressed[i]:
                keep.append(i)
                suppressed[i + 1:] |= over[i - start, i + 1:]
    return order[np.asarray(keep, dtype=np.intp)]


def _regress(boxes: np.ndarray, reg: np.ndarray, inclusive: bool) -> np.ndarray:
    """Boxes moved by regression offsets ``(dx1, dy1, dx2, dy2)`` in box sizes;
    the size counts both end pixels when ``inclusive`` (R-Net, O-Net) and is
    ``x2 - x1`` otherwise (P-Net), as in the original code."""
    one = 1.0 if inclusive else 0.0
    w = boxes[:, 2] - boxes[:, 0] + one
    h = boxes[:, 3] - boxes[:, 1] + one
    return boxes[:, :4] + reg * np.stack([w, h, w, h], axis=1)


def _square(boxes: np.ndarray) -> np.ndarray:
    """Squares on the same centres with the longer side of each box."""
    w = boxes[:, 2] - boxes[:, 0]
    h = boxes[:, 3] - boxes[:, 1]
    side = np.maximum(w, h)
    x1 = boxes[:, 0] + w * 0.5 - side * 0.5
    y1 = boxes[:, 1] + h * 0.5 - side * 0.5
    return np.stack([x1, y1, x1 + side, y1 + side], axis=1)


# --------------------------------------------------------------------------------------
# Resampling. All resizing (pyramid levels and crops) is adaptive average pooling,
# as the reference does: output cell i of n averages input pixels
# [floor(i*L/n), ceil((i+1)*L/n)) of a span of L pixels. A summed-area table of
# the image, built once per image, makes every level and every crop a gather.

#: pixel value of the padding outside the image (mid grey: 0 after normalising;
#: on faces cut by the border it places landmarks better than black or than
#: stretching the visible part)
_PAD_VALUE = 127.5


def _summed_area(image: np.ndarray) -> np.ndarray:
    """Summed-area table ``(H + 1, W + 1, 3)`` of an RGB uint8 image.

    uint32 arithmetic that may wrap: differences of four entries are still exact
    for any region of fewer than 2**32 / 255 pixels. OpenCV's ``integral`` in 32-bit
    integers gives the same table as numpy's cumulative sums in uint32 (wrapping
    alike; a test checks both on an image whose sums wrap) about 30 times faster.
    """
    import cv2

    table: np.ndarray = cv2.integral(image, sdepth=cv2.CV_32S).view(np.uint32)
    return table


def _bins(start: np.ndarray, length: np.ndarray, size: int) -> tuple[np.ndarray, np.ndarray]:
    """Pooling bins ``[lo, hi)`` (each ``(N, size)``, absolute pixel indices) for
    spans ``[start, start + length)`` resized to ``size`` cells."""
    i = np.arange(size, dtype=np.int64)
    lo = (i[None, :] * length[:, None]) // size
    hi = -((-(i[None, :] + 1) * length[:, None]) // size)
    return start[:, None] + lo, start[:, None] + hi


def _normalised_mean(table: np.ndarray, r0: np.ndarray, r1: np.ndarray, c0: np.ndarray,
                     c1: np.ndarray) -> np.ndarray:
    """Mean pixel of regions ``rows [r0, r1) x cols [c0, c1)`` scaled to MTCNN's input
    range, ``(x - 127.5) / 128``; padding outside the image reads as
    :data:`_PAD_VALUE`.

    ``r0, r1``: ``(N, h)``, ``c0, c1``: ``(N, w)`` integer bin edges. Returns
    ``(N, 3, h, w)`` float32.
    """
    height, width, channels = table.shape[0] - 1, table.shape[1] - 1, table.shape[2]
    flat = table.reshape(-1, channels)
    r0c, r1c = np.clip(r0, 0, height), np.clip(r1, 0, height)
    c0c, c1c = np.clip(c0, 0, width), np.clip(c1, 0, width)
    row0 = (r0c * (width + 1))[:, :, None]
    row1 = (r1c * (width + 1))[:, :, None]
    col0, col1 = c0c[:, None, :], c1c[:, None, :]
    total = (flat.take(row1 + col1, axis=0) - flat.take(row0 + col1, axis=0)
             - flat.take(row1 + col0, axis=0) + flat.take(row0 + col0, axis=0))
    count = ((r1 - r0)[:, :, None] * (c1 - c0)[:, None, :]).astype(np.float32)
    mean = total.astype(np.float32)
    outside = count - ((r1c - r0c)[:, :, None] * (c1c - c0c)[:, None, :])
    if outside.any():
        mean += np.float32(_PAD_VALUE) * outside[..., None]
    mean /= count[..., None]
    mean -= np.float32(127.5)
    mean *= np.float32(0.0078125)
    return np.ascontiguousarray(mean.transpose(0, 3, 1, 2))


def _pyramid_level(table: np.ndarray, hs: int, ws: int) -> np.ndarray:
    """The whole image resized to ``hs`` x ``ws`` by adaptive average pooling and
    normalised, ``(1, 3, hs, ws)`` float32 (separable takes: rows, then columns)."""
    height, width = table.shape[0] - 1, table.shape[1] - 1
    r0, r1 = _bins(np.zeros(1, np.int64), np.array([height]), hs)
    c0, c1 = _bins(np.zeros(1, np.int64), np.array([width]), ws)
    rows = table.take(r1[0], axis=0) - table.take(r0[0], axis=0)
    total = rows.take(c1[0], axis=1) - rows.take(c0[0], axis=1)
    count = ((r1[0] - r0[0])[:, None] * (c1[0] - c0[0])[None, :]).astype(np.float32)
    mean = total.astype(np.float32)
    mean /= count[..., None]
    mean -= np.float32(127.5)
    mean *= np.float32(0.0078125)
    return np.ascontiguousarray(mean.transpose(2, 0, 1)[None])


def _crops(table: np.ndarray, boxes: np.ndarray, size: int) -> np.ndarray:
    """Network input for MATLAB boxes: pixels ``fix(x1)..fix(x2)`` x
    ``fix(y1)..fix(y2)`` (1-based, inclusive) resized to ``size`` x ``size``,
    ``(N, 3, size, size)`` float32; outside the image reads as mid grey."""
    ibox = np.fix(boxes[:, :4]).astype(np.int64)
    left, top = ibox[:, 0] - 1, ibox[:, 1] - 1
    r0, r1 = _bins(top, np.maximum(ibox[:, 3] - top, 1), size)
    c0, c1 = _bins(left, np.maximum(ibox[:, 2] - left, 1), size)
    return _normalised_mean(table, r0, r1, c0, c1)


def pyramid_scales(height: int, width: int, min_face_size: float,
                   factor: float = SCALE_FACTOR) -> list[float]:
    """The scales at which P-Net scans an image of ``height`` x ``width`` pixels.

    The first scale maps a face of ``min_face_size`` pixels onto P-Net's 12-pixel
    window; scale ``k`` is ``factor**k`` times the first, while the shorter side
    of the scaled image is at least 12 pixels. Scales are rounded to float32, so
    that pyramid sizes and box positions agree with the reference implementation
    to the pixel.
    """
    first = PNET_CELL / float(min_face_size)
    side = min(height, width) * first
    scales = []
    k = 0
    while side >= PNET_CELL:
        scales.append(float(np.float32(first * factor**k)))
        side *= factor
        k += 1
    return scales


# --------------------------------------------------------------------------------------
# The cascade


def _stage_pnet(nets: _Nets, table: np.ndarray, min_face_size: float,
                threshold: float) -> np.ndarray:
    """P-Net proposals: ``(N, 9)`` rows of x1, y1, x2, y2, score, dx1, dy1, dx2, dy2
    (MATLAB boxes in the image's pixels), thinned by NMS within each scale."""
    height, width = table.shape[0] - 1, table.shape[1] - 1
    found = []
    for scale in pyramid_scales(height, width, min_face_size):
        hs, ws = math.ceil(height * scale), math.ceil(width * scale)
        prob, reg = _forward(nets.pnet, _pyramid_level(table, hs, ws), ("prob", "reg"))
        face = prob[0, 1]
        ys, xs = np.nonzero(face >= threshold)
        if ys.size == 0:
            continue
        # the 12x12 window of each output cell, in float32 as the reference does
        s32 = np.float32(scale)
        x0 = (PNET_STRIDE * xs).astype(np.float32)
        y0 = (PNET_STRIDE * ys).astype(np.float32)
        boxes = np.column_stack([
            np.fix((x0 + 1) / s32), np.fix((y0 + 1) / s32),
            np.fix((x0 + PNET_CELL) / s32), np.fix((y0 + PNET_CELL) / s32),
            face[ys, xs], reg[0][:, ys, xs].T]).astype(np.float64)
        found.append(boxes[nms(boxes[:, :4], boxes[:, 4], NMS_PNET_SCALE)])
    if not found:
        return np.zeros((0, 9))
    return np.concatenate(found)


def _run_batched(net: Any, outputs: Sequence[str], table: np.ndarray, boxes: np.ndarray,
                 size: int) -> list[np.ndarray]:
    """A refining network on the crops of ``boxes``, :data:`BATCH` crops per call."""
    parts = [_forward(net, _crops(table, boxes[i:i + BATCH], size), outputs)
             for i in range(0, len(boxes), BATCH)]
    return [np.concatenate(out) for out in zip(*parts, strict=True)]


def _cascade(image: np.ndarray, min_face_size: float,
             thresholds: tuple[float, float, float]) -> tuple[np.ndarray, np.ndarray,
                                                               np.ndarray]:
    """Run the three stages on an RGB uint8 image.

    Returns MATLAB boxes ``(N, 4)`` (x1, y1, x2, y2; see above) in pixels of
    ``image``, O-Net face probabilities ``(N,)`` and landmarks ``(N, 5, 2)``
    (0-based x, y in pixels), best score first.
    """
    nets = _nets()
    empty = (np.zeros((0, 4)), np.zeros(0), np.zeros((0, 5, 2)))
    table = _summed_area(image)

    # Stage 1: proposals over the pyramid
    cand = _stage_pnet(nets, table, min_face_size, thresholds[0])
    if len(cand) == 0:
        return empty
    cand = cand[nms(cand[:, :4], cand[:, 4], NMS_PNET_ALL)]
    boxes = _square(_regress(cand[:, :4], cand[:, 5:9], inclusive=False))

    # Stage 2: R-Net on 24x24 crops
    prob, reg = _run_batched(nets.rnet, ("prob", "reg"), table, boxes, 24)
    keep = prob[:, 1] > thresholds[1]
    if not keep.any():
        return empty
    boxes, score, reg = boxes[keep], prob[keep, 1], reg[keep]
    keep = nms(boxes, score, NMS_RNET)
    boxes = _square(_regress(boxes[keep], reg[keep], inclusive=True))

    # Stage 3: O-Net on 48x48 crops: scores, boxes, landmarks
    boxes, score, landmarks = _stage_onet(nets, table, boxes, thresholds[2])
    keep = nms(boxes, score, NMS_ONET, mode="min")
    return boxes[keep], score[keep], landmarks[keep]


def _stage_onet(nets: _Nets, table: np.ndarray, boxes: np.ndarray, threshold: float
                ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """O-Net on the 48x48 crops of square MATLAB ``boxes``: the boxes it scores above
    ``threshold``, regressed, with their scores and landmarks ``(N, 5, 2)``."""
    prob, reg, points = _run_batched(nets.onet, ("prob", "reg", "points"), table, boxes, 48)
    keep = prob[:, 1] > threshold
    boxes, score, reg, points = boxes[keep], prob[keep, 1], reg[keep], points[keep]
    w = (boxes[:, 2] - boxes[:, 0] + 1)[:, None]
    h = (boxes[:, 3] - boxes[:, 1] + 1)[:, None]
    landmarks = np.stack([boxes[:, 0:1] - 1 + w * points[:, 0:5],
                          boxes[:, 1:2] - 1 + h * points[:, 5:10]], axis=2)
    return _regress(boxes, reg, inclusive=True), score.astype(np.float64), landmarks


def refine_boxes(image: np.ndarray, boxes: np.ndarray, passes: int = 2,
                 threshold: float = 0.0) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """MTCNN's last stage on boxes found by another detector: each box is squared,
    cropped and given to O-Net, whose regression moves it onto the box MTCNN
    itself would draw, ``passes`` times (the second pass starts from a box already
    framed as O-Net expects). ``boxes``: ``(N, 4)`` ``(left, top, right, bottom)``
    in pixels of the RGB uint8 ``image`` (0-based, right/bottom exclusive).

    Returns the refined boxes (same convention), O-Net's face probabilities of
    the last pass and its landmarks ``(N, 5, 2)``; boxes whose probability is not
    above ``threshold`` at some pass are dropped (default 0: none), so the result
    may be shorter, in the same order."""
    empty = (np.zeros((0, 4)), np.zeros(0), np.zeros((0, 5, 2)))
    if len(boxes) == 0:
        return empty
    nets = _nets()
    table = _summed_area(np.ascontiguousarray(image))
    work = np.asarray(boxes, np.float64)[:, :4] + np.array([1.0, 1.0, 0.0, 0.0])
    score = np.zeros(0)
    landmarks = np.zeros((0, 5, 2))
    for _ in range(max(1, passes)):
        work, score, landmarks = _stage_onet(nets, table, _square(work), threshold)
        if not len(work):
            return empty
    return work - np.array([1.0, 1.0, 0.0, 0.0]), score, landmarks


class MtcnnDetector(BaseDetector):
    """MTCNN (Zhang et al. 2016): faces from ``min_face_size`` pixels up (default
    20), each with five landmarks.

    Scores are O-Net's face probabilities (0 to 1); ``threshold`` replaces O-Net's
    threshold (default 0.7; P-Net's 0.6 and R-Net's 0.7 stay). ``upsample``
    doubles the image that many times (bilinear) before the cascade runs
    (default 0). The smallest face searched stays ``min_face_size`` pixels of the
    original image either way (the base class drops narrower boxes), so
    upsampling changes little: the pyramid pools the enlarged image instead of
    the original, which matters only when ``min_face_size`` is below P-Net's
    12-pixel window (the pyramid then enlarges by repeating pixels). To find
    smaller faces, lower ``min_face_size``. Boxes are taller than wide (brow to
    chin) and enclose the landmarks.
    """

    name: ClassVar[str] = "mtcnn"
    default_threshold: ClassVar[float] = THRESHOLDS[2]
    default_upsample: ClassVar[int] = 0
    #: medians over 523 faces matched with HOG on 500 LFW peopleDevTrain images
    #: (mean IoU with HOG 0.713 -> 0.807), from
    #: ``python benchmarks/calibrate_boxes.py --detector mtcnn`` (seed 0, 500 images)
    dlib_box_calibration: ClassVar[tuple[float, float, float, float]] = (
        -0.0661, 0.1360, 1.1289, 0.8428)

    def _detect(self, image: np.ndarray) -> list[RawFace]:
        factor = 2 ** self.upsample
        work = image
        if factor > 1:
            import cv2

            work = cv2.resize(image, (image.shape[1] * factor, image.shape[0] * factor),
                              interpolation=cv2.INTER_LINEAR)
        thresholds = (THRESHOLDS[0], THRESHOLDS[1], float(self.threshold))
        boxes, scores, landmarks = _cascade(np.ascontiguousarray(work),
                                            float(self.options.min_face_size * factor),
                                            thresholds)
        # MATLAB boxes (1-based, last pixel inclusive) -> 0-based, right/bottom exclusive
        boxes = (boxes - np.array([1.0, 1.0, 0.0, 0.0])) / factor
        landmarks = landmarks / factor
        return [RawFace(Box.from_ltrb(*b), float(s), lm.astype(np.float64))
                for b, s, lm in zip(boxes, scores, landmarks, strict=True)]
