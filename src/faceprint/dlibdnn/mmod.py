"""The parts of dlib's MMOD detector that are not convolutions, in numpy.

dlib's ``input_rgb_image_pyramid<pyramid_down<N>>`` tiles the image and all its
pyramid levels (each ``(N-1)/N`` the size of the one before, down to 5 rows) into one
image, normalised as ``(pixel - mean) / 256`` with zeros between the tiles; the
fully convolutional network runs once over that; every output position scoring above
0 becomes a detector window mapped back through the layers and the pyramid into the
original image; a greedy non-max suppression with the loss layer's overlap test keeps
the best of overlapping boxes.  The functions here reproduce each step as dlib 19.x/20
does it (``compute_tiled_image_pyramid_details``, ``resize_bilinear`` on the tensor,
``output_tensor_to_input_tensor``, ``tiled_pyramid_to_image``, ``loss_mmod_::to_label``)
and, for ``upsample_num_times > 0``, the ``pyramid_up`` / ``rect_down`` of dlib's Python
``cnn_face_detection_model_v1``.

Boxes are dlib rectangles: ``(left, top, right, bottom)`` integer pixel coordinates,
right and bottom inclusive.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np

from ..errors import ModelError
from .reader import BoxOverlap, Conv, DlibNet, InputLayer, Pool, Skip

__all__ = [
    "Rect",
    "build_tiled_pyramid",
    "detections_from_scores",
    "nms",
    "output_size",
    "output_to_input_map",
    "pyramid_rects",
    "pyramid_up_rgb",
    "rect_down2",
    "resize_rgb_bilinear",
]

Rect = tuple[int, int, int, int]  # left, top, right, bottom (inclusive)


def _round(v: float) -> int:
    """dlib's float -> integer coordinate conversion: ``floor(v + 0.5)``."""
    return math.floor(v + 0.5)


def _down_size(n: int, rate_n: int) -> int:
    """Size of the next level of ``pyramid_down<rate_n>``
    (``find_pyramid_down_output_image_size``)."""
    if rate_n == 1:
        return 0
    if rate_n == 2:
        return (n - 3) // 2
    if rate_n == 3:
        return 2 * (n - 2) // 3
    return math.floor((rate_n - 1.0) / rate_n * n)


def pyramid_rects(rows: int, cols: int, rate_n: int = 6, padding: int = 10,
                  outer_padding: int = 11) -> tuple[list[Rect], int, int]:
    """Where each pyramid level of a ``rows`` x ``cols`` image lies in dlib's tiled
    pyramid image, and that image's ``(rows, cols)``.  Level 0 is the image itself;
    levels stop below 5 rows."""
    if rows * cols == 0:
        return [], 0, 0
    sizes = [(cols, rows)]  # (width, height)
    nr, nc = rows, cols
    while True:
        nr, nc = _down_size(nr, rate_n), _down_size(nc, rate_n)
        if nr * nc == 0 or nr < 5:
            break
        sizes.append((nc, nr))

    total_height = sum(h + padding for _, h in sizes) - 2 * padding
    w0, h0 = sizes[0]
    height = 0
    prev_width = 0
    for w, h in sizes:
        if w <= w0 - prev_width - padding and (height - h0) * 2 >= total_height - h0:
            break
        height += h + padding
        prev_width = w
    height -= padding
    width = w0
    out_rows, out_cols = height + 2 * outer_padding, width + 2 * outer_padding

    rects: list[Rect] = []
    y = outer_padding
    i = 0
    while y < height + outer_padding and i < len(sizes):
        w, h = sizes[i]
        rects.append((outer_padding, y, outer_padding + w - 1, y + h - 1))
        y += h + padding
        i += 1
    y -= padding
    while i < len(sizes):
        w, h = sizes[i]
        right, bottom = outer_padding + width - 1, y - 1
        rect = (right - (w - 1), bottom - (h - 1), right, bottom)
        r0 = rects[0]
        if not (rect[0] > r0[2] or rect[2] < r0[0] or rect[1] > r0[3] or rect[3] < r0[1]):
            break  # would overlap the full-size image
        rects.append(rect)
        y -= h + padding
        i += 1
    return rects, out_rows, out_cols


def build_tiled_pyramid(image: np.ndarray, input_layer: InputLayer, rate_n: int = 6
                        ) -> tuple[np.ndarray, list[Rect]]:
    """The network input for an RGB uint8 ``(rows, cols, 3)`` image: the float32
    ``(3, R, C)`` tiled pyramid, normalised as ``(pixel - mean) / 256``, zero between
    the tiles, each level resized from the one before (dlib resizes the normalised
    tensor); and the level rectangles."""
    rows, cols = image.shape[:2]
    rects, out_rows, out_cols = pyramid_rects(rows, cols, rate_n, input_layer.pyramid_padding,
                                              input_layer.pyramid_outer_padding)
    tiled = np.zeros((3, out_rows, out_cols), np.float32)
    if rects:
        mean = np.asarray(input_layer.mean_rgb, np.float32).reshape(3, 1, 1)
        l0, t0, r0, b0 = rects[0]
        level = tiled[:, t0:b0 + 1, l0:r0 + 1]
        np.subtract(np.moveaxis(image, 2, 0), mean, out=level)
        level *= np.float32(1.0 / 256.0)
        for left, top, right, bottom in rects[1:]:
            level = _dlib_bilinear(level, bottom - top + 1, right - left + 1)
            tiled[:, top:bottom + 1, left:right + 1] = level
    return tiled, rects


def output_to_input_map(net: DlibNet) -> tuple[tuple[float, float], tuple[float, float]]:
    """``((scale_x, offset_x), (scale_y, offset_y))`` such that output-tensor column
    ``c`` maps to input-tensor column ``scale_x * c + offset_x`` (dlib's
    ``output_tensor_to_input_tensor``: ``p*stride - padding + kernel/2`` per conv or
    pool, identity for the rest, following skips)."""
    sx, ox, sy, oy = 1.0, 0.0, 1.0, 0.0
    i = len(net.layers) - 1
    while i >= 0:
        layer = net.layers[i]
        if isinstance(layer, Skip):
            i = layer.target
            continue
        if isinstance(layer, (Conv, Pool)):
            kh, kw = layer.kernel
            (str_y, str_x), (pad_y, pad_x) = layer.stride, layer.padding
            # p_in = p_out*stride - pad + k//2, composed with what is above
            ox = ox * str_x - pad_x + kw // 2
            sx *= str_x
            oy = oy * str_y - pad_y + kh // 2
            sy *= str_y
        i -= 1
    return (sx, ox), (sy, oy)


def output_size(net: DlibNet, rows: int, cols: int) -> tuple[int, int] | None:
    """``(rows, cols)`` of the network output for an input tensor of ``rows`` x ``cols``,
    or None when the input is too small for some convolution or pooling window (dlib
    raises an error there)."""
    for layer in net.layers:
        if isinstance(layer, (Conv, Pool)):
            (kh, kw), (str_y, str_x), (pad_y, pad_x) = layer.kernel, layer.stride, layer.padding
            if kh == 0 and kw == 0:
                rows, cols = 1, 1
                continue
            if rows + 2 * pad_y < kh or cols + 2 * pad_x < kw:
                return None
            rows = 1 + (rows + 2 * pad_y - kh) // str_y
            cols = 1 + (cols + 2 * pad_x - kw) // str_x
    return rows, cols


def _nearest_rect(rects: Sequence[Rect], x: int, y: int) -> int:
    best, best_dist = 0, math.inf
    for i, (left, top, right, bottom) in enumerate(rects):
        if left <= x <= right and top <= y <= bottom:
            return i
        nx = min(max(x, left), right)
        ny = min(max(y, top), bottom)
        dist = math.hypot(nx - x, ny - y)
        if dist < best_dist:
            best, best_dist = i, dist
    return best


def _tensor_to_image(rects: Sequence[Rect], box: tuple[float, float, float, float],
                     rate_n: int) -> tuple[float, float, float, float]:
    """dlib's ``tiled_pyramid_to_image`` for a drectangle."""
    left, top, right, bottom = box
    level = _nearest_rect(rects, _round((left + right) / 2), _round((top + bottom) / 2))
    ox, oy = rects[level][0], rects[level][1]
    left, right, top, bottom = left - ox, right - ox, top - oy, bottom - oy
    ratio = rate_n / (rate_n - 1.0)
    for _ in range(level):
        left, top = left * ratio + 0.3, top * ratio + 0.3
        right, bottom = right * ratio + 0.3, bottom * ratio + 0.3
    return min(left, right), min(top, bottom), max(left, right), max(top, bottom)


def detections_from_scores(scores: np.ndarray, net: DlibNet, rects: Sequence[Rect],
                           threshold: float = 0.0, rate_n: int = 6
                           ) -> list[tuple[tuple[float, float, float, float], float]]:
    """Candidate detections from the network output ``scores`` (float32
    ``(windows, rows, cols)`` for one image), best first: every position scoring above
    ``threshold`` as a box in image coordinates (float, before rounding) and its score."""
    from .reader import LossMmod

    assert isinstance(net.loss, LossMmod)
    if net.loss.options.use_bounding_box_regression:
        raise ModelError("MMOD networks trained with bounding box regression are not "
                         "supported by faceprint.dlibdnn")
    windows = net.loss.options.detector_windows
    if scores.shape[0] != len(windows):
        raise ModelError(f"the network gives {scores.shape[0]} score maps for "
                         f"{len(windows)} detector windows")
    (sx, ox), (sy, oy) = output_to_input_map(net)
    ks, rs, cs = np.nonzero(scores > threshold)
    values = scores[ks, rs, cs].astype(np.float64)
    order = np.argsort(-values, kind="stable")
    dets = []
    for j in order:
        k, r, c = int(ks[j]), int(rs[j]), int(cs[j])
        px, py = sx * c + ox, sy * r + oy
        w, h = windows[k].width - 1.0, windows[k].height - 1.0
        box = (px - w / 2, py - h / 2, px + w / 2, py + h / 2)
        dets.append((_tensor_to_image(rects, box, rate_n), float(values[j])))
    return dets


def _area(r: Rect) -> int:
    if r[0] > r[2] or r[1] > r[3]:
        return 0
    return (r[2] - r[0] + 1) * (r[3] - r[1] + 1)


def overlaps(test: BoxOverlap, a: Rect, b: Rect) -> bool:
    """dlib's ``test_box_overlap``: intersection over the area of the box bounding both
    (not the union), or the fraction of either box covered."""
    inner = _area((max(a[0], b[0]), max(a[1], b[1]), min(a[2], b[2]), min(a[3], b[3])))
    if inner == 0:
        return False
    outer = _area((min(a[0], b[0]), min(a[1], b[1]), max(a[2], b[2]), max(a[3], b[3])))
    return (inner / outer > test.iou_thresh or inner / _area(a) > test.percent_covered_thresh
            or inner / _area(b) > test.percent_covered_thresh)


def nms(dets: Sequence[tuple[tuple[float, float, float, float], float]], test: BoxOverlap
        ) -> list[tuple[Rect, float]]:
    """Greedy non-max suppression over detections sorted best first; boxes are rounded
    to integer rectangles first, as dlib's ``mmod_rect`` does."""
    kept: list[tuple[Rect, float]] = []
    for box, score in dets:
        rect = (_round(box[0]), _round(box[1]), _round(box[2]), _round(box[3]))
        if any(overlaps(test, k, rect) for k, _ in kept):
            continue
        kept.append((rect, score))
    return kept


def _dlib_bilinear(src: np.ndarray, out_rows: int, out_cols: int) -> np.ndarray:
    """dlib's SIMD bilinear ``resize_image`` (corners aligned) of float32 planes
    ``(channels, rows, cols)``, reproduced to float32 rounding: row positions
    accumulated in double, column positions in four float32 SIMD lanes, float32 weights
    ``(1-ty)(1-tx)``, ``(1-ty)tx``, ``ty(1-tx)``, ``ty*tx`` summed in that order; the
    last few columns (where the right neighbour would leave the image) are computed in
    double precision as dlib's scalar tail does."""
    channels, rows, cols = src.shape
    out = np.empty((channels, out_rows, out_cols), np.float32)
    if out.size == 0 or rows == 0 or cols == 0:
        out[...] = 0
        return out
    xs = (cols - 1) / max(out_cols - 1, 1)
    ys = (rows - 1) / max(out_rows - 1, 1)
    y = np.cumsum(np.concatenate([[-ys], np.full(out_rows, ys)]))[1:]
    top = np.floor(y).astype(np.intp)
    bottom = np.minimum(top + 1, rows - 1)
    tb = y - top

    blocks = out_cols // 4 + 1
    lanes = np.empty((blocks, 4), np.float32)
    step = np.float32(4 * xs)
    for j in range(4):
        seq = np.full(blocks + 1, step, np.float32)
        seq[0] = np.float32(-4 * xs + j * xs)
        lanes[:, j] = np.cumsum(seq, dtype=np.float32)[1:]
    lane_left = np.floor(lanes).astype(np.intp)
    stop = np.nonzero(lane_left[:, 3] + 1 >= cols)[0]
    n_simd = min(4 * (int(stop[0]) if stop.size else blocks), out_cols)

    rows_t = src[:, top]  # (channels, out_rows, cols)
    rows_b = src[:, bottom]
    if n_simd:
        xf = lanes.reshape(-1)[:n_simd]
        left = lane_left.reshape(-1)[:n_simd]
        right = left + 1
        lr = xf - left.astype(np.float32)
        inv_lr = np.float32(1) - lr
        tbf = tb.astype(np.float32)[:, None]
        inv_tbf = (1 - tb).astype(np.float32)[:, None]
        weights = (inv_tbf * inv_lr, inv_tbf * lr, tbf * inv_lr, tbf * lr)
        acc = np.empty((channels, out_rows, n_simd), np.float32)
        tmp = np.empty_like(acc)
        np.take(rows_t, left, axis=2, out=acc)
        acc *= weights[0]
        for rows_x, cols_x, weight in ((rows_t, right, weights[1]), (rows_b, left, weights[2]),
                                       (rows_b, right, weights[3])):
            np.take(rows_x, cols_x, axis=2, out=tmp)
            tmp *= weight
            acc += tmp
        out[:, :, :n_simd] = acc
    if n_simd < out_cols:
        seq = np.full(out_cols - n_simd + 1, xs)
        seq[0] = -xs + n_simd * xs
        x = np.cumsum(seq)[1:]  # x += x_scale, column after column
        left = np.floor(x).astype(np.intp)
        right = np.minimum(left + 1, cols - 1)
        lr64 = (x - left)[None, None, :]
        tb64 = tb[None, :, None]
        tl, tr = rows_t[:, :, left].astype(np.float64), rows_t[:, :, right].astype(np.float64)
        bl, br = rows_b[:, :, left].astype(np.float64), rows_b[:, :, right].astype(np.float64)
        out[:, :, n_simd:] = ((1 - tb64) * ((1 - lr64) * tl + lr64 * tr)
                              + tb64 * ((1 - lr64) * bl + lr64 * br))
    return out


def resize_rgb_bilinear(image: np.ndarray, out_rows: int, out_cols: int) -> np.ndarray:
    """dlib's ``resize_image(in, out, interpolate_bilinear())`` for RGB uint8
    ``(rows, cols, 3)`` images (:func:`_dlib_bilinear`, truncated to uint8 as dlib's
    conversion does)."""
    planes = np.moveaxis(image, 2, 0).astype(np.float32)
    out = _dlib_bilinear(planes, out_rows, out_cols)
    return np.ascontiguousarray(np.moveaxis(np.clip(out, 0, 255).astype(np.uint8), 0, 2))


def pyramid_up_rgb(image: np.ndarray) -> np.ndarray:
    """dlib's ``pyramid_up(img, pyramid_down<2>)`` of an RGB uint8 image: the output is
    ``(2*rows + 1, 2*cols + 2)`` (the rounded ``rect_up`` of the image rectangle) and is
    filled by :func:`resize_rgb_bilinear`."""
    rows, cols = image.shape[:2]
    # rect_up of (0, 0, cols-1, rows-1): p -> (p + (1.25, 0.75)) * 2, then rounded
    out_cols = _round((cols - 1 + 1.25) * 2) + 1
    out_rows = _round((rows - 1 + 0.75) * 2) + 1
    return resize_rgb_bilinear(image, out_rows, out_cols)


def rect_down2(rect: Rect, levels: int) -> Rect:
    """dlib's ``pyramid_down<2>::rect_down(rect, levels)``, rounded back to integers:
    each level maps ``p -> p/2 - (1.25, 0.75)``."""
    left, top, right, bottom = (float(v) for v in rect)
    for _ in range(levels):
        left, right = left / 2.0 - 1.25, right / 2.0 - 1.25
        top, bottom = top / 2.0 - 0.75, bottom / 2.0 - 0.75
    return _round(left), _round(top), _round(right), _round(bottom)
