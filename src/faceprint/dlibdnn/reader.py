"""A reader for dlib's serialized deep networks (``dlib::serialize(net)`` files).

dlib writes a network as one nested object: the loss layer, then every
``add_layer`` / ``add_tag_layer`` / ``add_skip_layer`` from the top of the net down
to the input layer (each writes its version number before its sub-network), then,
on the way back up, each layer's details (``con_4``, ``affine_``, ``relu_`` ...)
and its cached training state.  Numbers use dlib's portable encodings:

* integers: one control byte (low 4 bits: number of bytes that follow, bit 0x80:
  negative), then the magnitude, little-endian;
* ``float``/``double``: a 64-bit integer mantissa and a 16-bit integer exponent,
  both as above (value = mantissa * 2**exponent);
* ``bool``: the character ``'0'`` or ``'1'``;
* strings: the length as an integer, then the bytes;
* tensors (version 2): ``num_samples, k, nr, nc`` as integers, then the values as
  little-endian IEEE float32 (version 1 wrote each value as a portable float).

The result is a :class:`DlibNet`: the input layer (with its per-channel means),
the loss layer (with the MMOD options, for the detector) and a list of
:class:`Layer` objects from the input upwards with their weights as numpy arrays.
Residual connections are explicit: a :class:`Skip` or :class:`AddPrev` carries the
index of the :class:`Tag` it reads.

dlib does not store tag ids in the file (they are C++ template arguments), so the
reader reconstructs them from the nesting, the way dlib's residual idioms build it:
``add_prev1<block<tag1<x>>>`` and
``add_prev2<avg_pool<skip1<tag2<block<tag1<x>>>>>>``.  A tag directly under a
skip is ``tag2``, every other tag is ``tag1``; a skip reads the nearest ``tag1``
below it, an ``add_prev`` the nearest tag below it that no skip has consumed.  A
file whose layout does not fit raises :class:`~faceprint.errors.ModelError`.

Only the formats written by the dlib versions that produced the released models
(``con_4``, ``fc_2``, ``affine_``, ``bn_con2``/``bn_fc2`` (converted to an affine
transform exactly as dlib does when loading a ``bn`` into an ``affine`` net),
``max_pool_2``, ``avg_pool_2``, ``relu_``, ``add_prev_``, ``input_rgb_image_sized``,
``input_rgb_image_pyramid(2)``, ``loss_metric_2``, ``loss_mmod_``) are read.
"""

from __future__ import annotations

import math
import struct
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

import numpy as np

from ..errors import ModelError

__all__ = [
    "AddPrev",
    "Affine",
    "BoxOverlap",
    "Conv",
    "DetectorWindow",
    "DlibNet",
    "Fc",
    "InputLayer",
    "Layer",
    "LossMetric",
    "LossMmod",
    "MmodOptions",
    "Pool",
    "Relu",
    "Skip",
    "Tag",
    "read_dlib_net",
]


# ----------------------------------------------------------------------------------
# the parsed description


@dataclass(frozen=True, slots=True)
class InputLayer:
    """dlib's RGB input layer: each channel becomes ``(pixel - mean) / 256`` (float32).

    ``kind`` is ``"rgb_image_sized"`` (fixed ``size = (rows, cols)``) or
    ``"rgb_image_pyramid"`` (any size; the image and its ``pyramid_down<N>`` levels
    are tiled into one image with ``pyramid_padding`` pixels between levels and
    ``pyramid_outer_padding`` around them).
    """

    kind: Literal["rgb_image_sized", "rgb_image_pyramid"]
    mean_rgb: tuple[float, float, float]
    size: tuple[int, int] | None = None
    pyramid_padding: int = 10
    pyramid_outer_padding: int = 11


@dataclass(frozen=True, slots=True, eq=False)
class Conv:
    """A 2-d convolution (cross-correlation, as in ONNX) with bias.

    ``weight`` is float32 ``(filters, channels, kernel_rows, kernel_cols)``, ``bias``
    float32 ``(filters,)``; ``stride`` and ``padding`` are ``(y, x)`` in pixels (zero
    padding, output size ``1 + (size + 2*pad - kernel) // stride``).
    """

    weight: np.ndarray
    bias: np.ndarray
    stride: tuple[int, int]
    padding: tuple[int, int]

    @property
    def kernel(self) -> tuple[int, int]:
        return int(self.weight.shape[2]), int(self.weight.shape[3])


@dataclass(frozen=True, slots=True, eq=False)
class Affine:
    """``y = x * gamma + beta``: per channel (``mode="conv"``, shapes ``(C,)``) or per
    element (``mode="fc"``, shapes ``(C, rows, cols)``); float32."""

    gamma: np.ndarray
    beta: np.ndarray
    mode: Literal["conv", "fc"]


@dataclass(frozen=True, slots=True, eq=False)
class Fc:
    """A fully connected layer over the flattened ``(k, rows, cols)`` input:
    ``y = x @ weight (+ bias)``; ``weight`` float32 ``(inputs, outputs)``."""

    weight: np.ndarray
    bias: np.ndarray | None


@dataclass(frozen=True, slots=True)
class Relu:
    """``max(x, 0)``."""


@dataclass(frozen=True, slots=True)
class Pool:
    """Max or average pooling; ``kernel == (0, 0)`` pools the whole plane (dlib's
    ``*_pool_everything``).  Padding is excluded from averages and maxima, as in dlib."""

    kind: Literal["max", "avg"]
    kernel: tuple[int, int]
    stride: tuple[int, int]
    padding: tuple[int, int]


@dataclass(frozen=True, slots=True)
class Tag:
    """Marks the output of the layer below it so that a later :class:`Skip` or
    :class:`AddPrev` can read it (an identity)."""

    tag_id: int


@dataclass(frozen=True, slots=True)
class Skip:
    """Outputs the tensor marked by layer ``target`` (an index into
    :attr:`DlibNet.layers`), ignoring the layer below."""

    tag_id: int
    target: int


@dataclass(frozen=True, slots=True)
class AddPrev:
    """Adds the output of the layer below and that of tag ``target``.  When their shapes
    differ, dlib zero-pads both to the larger size along every axis (the data sit at
    the start of each axis)."""

    tag_id: int
    target: int


Layer = Conv | Affine | Fc | Relu | Pool | Tag | Skip | AddPrev


@dataclass(frozen=True, slots=True)
class LossMetric:
    """dlib's ``loss_metric``: the network output is the descriptor itself."""

    margin: float
    distance_threshold: float


@dataclass(frozen=True, slots=True)
class DetectorWindow:
    """One MMOD sliding window: ``width`` x ``height`` pixels in network-input space."""

    width: int
    height: int
    label: str = ""


@dataclass(frozen=True, slots=True)
class BoxOverlap:
    """dlib's ``test_box_overlap``: two boxes overlap when the intersection area over the
    area of their *bounding box* exceeds ``iou_thresh``, or the intersection covers more
    than ``percent_covered_thresh`` of either box (integer boxes, inclusive corners)."""

    iou_thresh: float
    percent_covered_thresh: float


@dataclass(frozen=True, slots=True)
class MmodOptions:
    """The options of dlib's MMOD loss that matter at inference."""

    detector_windows: tuple[DetectorWindow, ...]
    loss_per_false_alarm: float
    loss_per_missed_target: float
    truth_match_iou_threshold: float
    overlaps_nms: BoxOverlap
    overlaps_ignore: BoxOverlap
    assume_image_pyramid: bool = True
    use_bounding_box_regression: bool = False
    bbr_lambda: float = 100.0


@dataclass(frozen=True, slots=True)
class LossMmod:
    """dlib's ``loss_mmod`` (max-margin object detection)."""

    options: MmodOptions


@dataclass(frozen=True, slots=True, eq=False)
class DlibNet:
    """A parsed dlib network: ``layers[0]`` reads the input layer's output,
    ``layers[-1]`` feeds the loss."""

    input: InputLayer
    layers: tuple[Layer, ...]
    loss: LossMetric | LossMmod
    source: str = field(default="")

    def summary(self) -> str:
        """One line per layer, from the input up (for debugging and the docs)."""
        lines = [f"input {self.input.kind} mean_rgb={self.input.mean_rgb}"]
        for i, layer in enumerate(self.layers):
            if isinstance(layer, Conv):
                f, c, kh, kw = layer.weight.shape
                text = (f"con {c}->{f} {kh}x{kw} stride={layer.stride} "
                        f"pad={layer.padding}")
            elif isinstance(layer, Fc):
                text = (f"fc {layer.weight.shape[0]}->{layer.weight.shape[1]}"
                        f"{'' if layer.bias is not None else ' (no bias)'}")
            elif isinstance(layer, Affine):
                text = f"affine_{layer.mode} {layer.gamma.shape}"
            else:
                text = repr(layer)
            lines.append(f"{i:3d} {text}")
        lines.append(f"loss {self.loss!r}")
        return "\n".join(lines)


# ----------------------------------------------------------------------------------
# the byte stream


class _Stream:
    """Reads dlib's portable encodings from a byte buffer."""

    def __init__(self, data: bytes, name: str) -> None:
        self.data = data
        self.pos = 0
        self.name = name

    def fail(self, what: str) -> ModelError:
        return ModelError(f"{self.name}: not a dlib network file this reader understands "
                          f"({what}, at byte {self.pos} of {len(self.data)})")

    def _take(self, n: int) -> bytes:
        if n < 0 or self.pos + n > len(self.data):
            raise self.fail("unexpected end of file")
        chunk = self.data[self.pos:self.pos + n]
        self.pos += n
        return chunk

    def integer(self) -> int:
        """A signed or unsigned integer (dlib's ``pack_int``)."""
        if self.pos >= len(self.data):
            raise self.fail("unexpected end of file")
        control = self.data[self.pos]
        if control & 0x70:
            raise self.fail(f"bad integer control byte 0x{control:02x}")
        size = control & 0x0F
        if size > 8:
            raise self.fail(f"integer of {size} bytes")
        self.pos += 1
        value = int.from_bytes(self._take(size), "little") if size else 0
        return -value if control & 0x80 else value

    def unsigned(self) -> int:
        value = self.integer()
        if value < 0:
            raise self.fail("negative value where a size was expected")
        return value

    def real(self) -> float:
        """A ``float`` or ``double`` in dlib's portable (mantissa, exponent) form."""
        if self.pos < len(self.data) and self.data[self.pos] & 0x70:
            raise self.fail("floating point number in dlib's old ASCII format")
        mantissa = self.integer()
        exponent = self.integer()
        if exponent == 32000:
            return math.inf
        if exponent == 32001:
            return -math.inf
        if exponent == 32002:
            return math.nan
        try:
            return math.ldexp(mantissa, exponent)
        except OverflowError:
            raise self.fail("floating point number out of range") from None

    def boolean(self) -> bool:
        ch = self._take(1)
        if ch not in (b"0", b"1"):
            raise self.fail(f"bad bool {ch!r}")
        return ch == b"1"

    def string(self, max_len: int = 1 << 16) -> str:
        n = self.unsigned()
        if n > max_len:
            raise self.fail(f"string of {n} bytes")
        raw = self._take(n)
        try:
            return raw.decode("ascii")
        except UnicodeDecodeError:
            raise self.fail("non-ASCII name") from None

    def peek_string(self) -> str | None:
        """The string at the current position, if one plausibly starts there (the
        position is left unchanged)."""
        pos = self.pos
        try:
            n = self.integer()
            if not 0 < n <= 64 or self.pos + n > len(self.data):
                return None
            raw = self.data[self.pos:self.pos + n]
            return raw.decode("ascii") if raw.isascii() else None
        except ModelError:
            return None
        finally:
            self.pos = pos

    def tensor(self) -> np.ndarray:
        """A ``resizable_tensor`` as float32 ``(num_samples, k, nr, nc)``."""
        version = self.integer()
        if version not in (1, 2):
            raise self.fail(f"tensor version {version}")
        dims = tuple(self.integer() for _ in range(4))
        if any(d < 0 for d in dims):
            raise self.fail(f"negative tensor shape {dims}")
        count = math.prod(dims)
        if version == 2:
            if count * 4 > len(self.data) - self.pos:
                raise self.fail(f"tensor of shape {dims} does not fit in the file")
            values = np.frombuffer(self._take(4 * count), dtype="<f4").astype(np.float32)
        else:
            if count > len(self.data) - self.pos:
                raise self.fail(f"tensor of shape {dims} does not fit in the file")
            values = np.array([self.real() for _ in range(count)], dtype=np.float32)
        return values.reshape(dims)

    def alias_tensor(self) -> tuple[int, int, int, int]:
        """An ``alias_tensor`` (only its shape is stored)."""
        version = self.integer()
        if version != 1:
            raise self.fail(f"alias_tensor version {version}")
        dims = (self.integer(), self.integer(), self.integer(), self.integer())
        if any(d < 0 for d in dims):
            raise self.fail(f"negative alias_tensor shape {dims}")
        return dims


# ----------------------------------------------------------------------------------
# layer details


def _params_slice(s: _Stream, params: np.ndarray, offset: int,
                  shape: tuple[int, ...]) -> np.ndarray:
    n = math.prod(shape)
    flat = params.reshape(-1)
    if offset + n > flat.size:
        raise s.fail(f"parameter tensor of {flat.size} values is too small for {shape}")
    return flat[offset:offset + n].reshape(shape).copy()


def _read_con(s: _Stream) -> Conv:
    params = s.tensor()
    num_filters = s.integer()
    nr, nc = s.integer(), s.integer()
    stride_y, stride_x = s.integer(), s.integer()
    pad_y, pad_x = s.integer(), s.integer()
    filters = s.alias_tensor()
    biases = s.alias_tensor()
    for _ in range(4):  # learning-rate and weight-decay multipliers
        s.real()
    if filters[0] != num_filters or filters[2:] != (nr, nc):
        raise s.fail(f"con_ filter shape {filters} does not match {num_filters}x{nr}x{nc}")
    if min(nr, nc, stride_y, stride_x) <= 0 or min(pad_y, pad_x) < 0:
        raise s.fail("con_ with a non-positive size or stride")
    weight = _params_slice(s, params, 0, filters)
    nfil = math.prod(filters)
    if math.prod(biases) != num_filters:
        raise s.fail(f"con_ bias shape {biases}")
    bias = _params_slice(s, params, nfil, (num_filters,))
    if params.size != nfil + num_filters:
        raise s.fail(f"con_ holds {params.size} parameters, expected {nfil + num_filters}")
    return Conv(weight, bias, (stride_y, stride_x), (pad_y, pad_x))


def _read_fc(s: _Stream) -> Fc:
    num_outputs = s.unsigned()
    num_inputs = s.unsigned()
    params = s.tensor()
    weights = s.alias_tensor()
    biases = s.alias_tensor()
    bias_mode = s.integer()
    for _ in range(4):
        s.real()
    if weights[:2] != (num_inputs, num_outputs) or bias_mode not in (0, 1):
        raise s.fail(f"fc_ shape {weights} / bias mode {bias_mode}")
    weight = _params_slice(s, params, 0, (num_inputs, num_outputs))
    bias = None
    if bias_mode == 0:  # FC_HAS_BIAS
        bias = _params_slice(s, params, num_inputs * num_outputs, (num_outputs,))
    del biases
    return Fc(weight, bias)


def _gamma_shape(dims: tuple[int, int, int, int], mode: str) -> tuple[int, ...]:
    return (dims[1],) if mode == "conv" else dims[1:]


def _read_affine(s: _Stream) -> Affine:
    params = s.tensor()
    gamma = s.alias_tensor()
    s.alias_tensor()  # beta has gamma's shape
    mode_id = s.integer()
    if mode_id not in (0, 1):
        raise s.fail(f"affine_ mode {mode_id}")
    mode: Literal["conv", "fc"] = "conv" if mode_id == 0 else "fc"
    n = math.prod(gamma)
    if params.size != 2 * n:
        raise s.fail(f"affine_ holds {params.size} parameters, expected {2 * n}")
    shape = _gamma_shape(gamma, mode)
    return Affine(_params_slice(s, params, 0, shape), _params_slice(s, params, n, shape), mode)


def _read_bn(s: _Stream, mode: Literal["conv", "fc"]) -> Affine:
    """A batch-norm layer, turned into the affine layer dlib makes of it at load time:
    ``gamma' = gamma / sqrt(running_var + eps)``, ``beta' = beta - gamma' * running_mean``,
    computed in float32 as dlib does."""
    params = s.tensor()
    gamma = s.alias_tensor()
    s.alias_tensor()  # beta
    s.tensor()  # means (of the last training batch)
    s.tensor()  # invstds
    running_means = s.tensor()
    running_variances = s.tensor()
    s.unsigned()  # num_updates
    s.unsigned()  # running_stats_window_size
    for _ in range(4):
        s.real()
    eps = s.real()
    n = math.prod(gamma)
    if params.size != 2 * n or running_means.size != n or running_variances.size != n:
        raise s.fail("bn_ parameter sizes do not agree")
    shape = _gamma_shape(gamma, mode)
    g = _params_slice(s, params, 0, shape)
    b = _params_slice(s, params, n, shape)
    inv = np.float32(1.0) / np.sqrt(running_variances.reshape(shape) + np.float32(eps))
    g2 = (g * inv).astype(np.float32)
    b2 = (b - g2 * running_means.reshape(shape)).astype(np.float32)
    return Affine(g2, b2, mode)


def _read_pool(s: _Stream, kind: Literal["max", "avg"]) -> Pool:
    nr, nc = s.integer(), s.integer()
    stride_y, stride_x = s.integer(), s.integer()
    pad_y, pad_x = s.integer(), s.integer()
    if min(nr, nc, pad_y, pad_x) < 0 or min(stride_y, stride_x) <= 0:
        raise s.fail(f"{kind}_pool with bad geometry")
    return Pool(kind, (nr, nc), (stride_y, stride_x), (pad_y, pad_x))


def _read_details(s: _Stream) -> Layer:
    name = s.string(64)
    if name == "con_4":
        return _read_con(s)
    if name == "fc_2":
        return _read_fc(s)
    if name == "affine_":
        return _read_affine(s)
    if name == "bn_con2":
        return _read_bn(s, "conv")
    if name == "bn_fc2":
        return _read_bn(s, "fc")
    if name == "relu_":
        return Relu()
    if name == "max_pool_2":
        return _read_pool(s, "max")
    if name == "avg_pool_2":
        return _read_pool(s, "avg")
    if name == "add_prev_":
        return AddPrev(0, -1)  # tag id and target resolved later
    raise s.fail(f"unsupported layer type {name!r}")


def _read_input(s: _Stream) -> InputLayer:
    name = s.string(64)
    if name == "input_rgb_image_sized":
        mean = (s.real(), s.real(), s.real())
        nr, nc = s.unsigned(), s.unsigned()
        return InputLayer("rgb_image_sized", _f32_triplet(mean), (nr, nc))
    if name in ("input_rgb_image_pyramid", "input_rgb_image_pyramid2"):
        mean = (s.real(), s.real(), s.real())
        padding, outer = 10, 11  # dlib's defaults for files without them
        if name == "input_rgb_image_pyramid2":
            padding, outer = s.unsigned(), s.unsigned()
        return InputLayer("rgb_image_pyramid", _f32_triplet(mean), None, padding, outer)
    raise s.fail(f"unsupported input layer {name!r}")


def _f32_triplet(v: tuple[float, float, float]) -> tuple[float, float, float]:
    a = np.asarray(v, dtype=np.float32)
    return float(a[0]), float(a[1]), float(a[2])


def _read_overlap(s: _Stream) -> BoxOverlap:
    return BoxOverlap(s.real(), s.real())


def _read_loss(s: _Stream) -> LossMetric | LossMmod:
    name = s.string(64)
    if name == "loss_metric_2":
        return LossMetric(s.real(), s.real())
    if name == "loss_mmod_":
        version = s.integer()
        if not 1 <= version <= 4:
            raise s.fail(f"mmod_options version {version}")
        if version == 1:
            windows: tuple[DetectorWindow, ...] = (DetectorWindow(s.unsigned(), s.unsigned()),)
        else:
            count = s.unsigned()
            if count > 10_000:
                raise s.fail(f"{count} detector windows")
            items = []
            for _ in range(count):
                wversion = s.integer()
                if wversion not in (1, 2):
                    raise s.fail(f"detector window version {wversion}")
                w, h = s.unsigned(), s.unsigned()
                label = s.string() if wversion == 2 else ""
                items.append(DetectorWindow(w, h, label))
            windows = tuple(items)
        lfa, lmt, iou = s.real(), s.real(), s.real()
        nms, ignore = _read_overlap(s), _read_overlap(s)
        pyramid = True
        if version >= 3:
            pyramid = s._take(1) != b"\x00"
        bbr, bbr_lambda = False, 100.0
        if version >= 4:
            bbr, bbr_lambda = s.boolean(), s.real()
        if not windows or any(w.width <= 0 or w.height <= 0 for w in windows):
            raise s.fail("MMOD options without usable detector windows")
        return LossMmod(MmodOptions(windows, lfa, lmt, iou, nms, ignore, pyramid, bbr,
                                    bbr_lambda))
    raise s.fail(f"unsupported loss layer {name!r}")


def _skip_layer_state(s: _Stream, tensors: int) -> None:
    """The training state dlib stores after each layer's details: three flags and
    ``tensors`` cached tensors (gradients, outputs)."""
    s.boolean()  # this_layer_setup_called
    s.boolean()  # gradient_input_is_stale
    s.boolean()  # get_output_and_gradient_input_disabled
    for _ in range(tensors):
        s.tensor()


# ----------------------------------------------------------------------------------
# the network


def _resolve_residuals(s: _Stream, layers: list[Layer]) -> list[Layer]:
    """Give tags, skips and add_prevs their ids and targets (see the module docstring)."""
    out: list[Layer] = []
    open_tags: list[int] = []  # indices into ``out`` of tags not yet consumed
    for i, layer in enumerate(layers):
        if isinstance(layer, Tag):
            under_skip = i + 1 < len(layers) and isinstance(layers[i + 1], Skip)
            out.append(Tag(2 if under_skip else 1))
            open_tags.append(i)
        elif isinstance(layer, Skip):
            if len(open_tags) < 2:
                raise s.fail("a skip layer without the two tags dlib's residual_down uses")
            target = open_tags.pop(-2)
            out.append(Skip(1, target))
        elif isinstance(layer, AddPrev):
            if not open_tags:
                raise s.fail("an add_prev layer without a tag below it")
            target = open_tags.pop()
            tag = out[target]
            assert isinstance(tag, Tag)
            out.append(AddPrev(tag.tag_id, target))
        else:
            out.append(layer)
    if open_tags:
        raise s.fail(f"{len(open_tags)} tag layer(s) that nothing reads")
    return out


def _parse(s: _Stream) -> DlibNet:
    if s.integer() != 1:
        raise s.fail("add_loss_layer version is not 1")
    loss = _read_loss(s)

    # Down the nesting: each node writes its version before its sub-network, until
    # the input layer's name appears.
    versions: list[int] = []
    while True:
        name = s.peek_string()
        if name is not None and name.startswith("input"):
            break
        versions.append(s.integer())
        if len(versions) > 100_000:
            raise s.fail("no input layer found")
    if not versions or versions[-1] not in (2, 3):
        raise s.fail("the layer over the input layer has an unsupported version")
    has_v2 = any(v == 2 for v in versions[:-1])
    if versions[:-1] and not has_v2:
        raise s.fail("written by a dlib older than the add_layer version 2 format")
    if any(v not in (1, 2) for v in versions[:-1]):
        raise s.fail(f"unsupported layer versions {sorted(set(versions[:-1]))}")

    input_layer = _read_input(s)
    layers: list[Layer] = [_read_details(s)]
    _skip_layer_state(s, 3)  # x_grad, cached_output, grad_final
    if versions[-1] == 3:
        s.unsigned()  # _sample_expansion_factor

    # Back up the nesting: version 2 nodes are add_layers (details and state follow),
    # version 1 nodes are tags or skips (nothing follows).  A version-1 node directly
    # above another one is the skip of dlib's residual_down (skip1<tag2<...>>).
    upper = versions[:-1][::-1]  # bottom-up
    for j, version in enumerate(upper):
        if version == 2:
            layers.append(_read_details(s))
            _skip_layer_state(s, 3)  # x_grad, cached_output, params_grad
        else:
            below_is_v1 = j > 0 and upper[j - 1] == 1
            above_is_v1 = j + 1 < len(upper) and upper[j + 1] == 1
            if below_is_v1 and above_is_v1:
                raise s.fail("three tag/skip layers in a row")
            layers.append(Skip(1, -1) if below_is_v1 else Tag(1))
    if s.pos != len(s.data):
        raise s.fail(f"{len(s.data) - s.pos} unread bytes after the network")
    return DlibNet(input_layer, tuple(_resolve_residuals(s, layers)), loss, s.name)


def read_dlib_net(path: str | Path) -> DlibNet:
    """Parse a dlib network file (``.dat``) into a :class:`DlibNet`.

    Raises :class:`~faceprint.errors.ModelError` when the file is missing, truncated,
    garbled or of a layout this reader does not know.
    """
    path = Path(path)
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise ModelError(f"cannot read dlib network file {path}: {exc}") from exc
    stream = _Stream(data, str(path))
    try:
        return _parse(stream)
    except ModelError:
        raise
    except (ValueError, IndexError, struct.error, OverflowError, MemoryError) as exc:
        raise stream.fail(f"{type(exc).__name__}: {exc}") from exc
