"""Turn a parsed dlib network (:class:`~faceprint.dlibdnn.reader.DlibNet`) into an ONNX
graph that computes the same numbers.

Two graph interfaces, chosen by the input layer:

* ``input_rgb_image_sized`` (the ResNet face descriptor): input ``"chips"``, uint8
  ``(N, rows, cols, 3)`` RGB; the graph casts, transposes to NCHW and applies dlib's
  normalisation ``(pixel - mean) / 256`` itself.  Output ``"descriptors"``, float32
  ``(N, D)`` for a metric loss.
* ``input_rgb_image_pyramid`` (the MMOD detector): input ``"image"``, float32
  ``(N, 3, rows, cols)``, already normalised and tiled (the pyramid is built outside
  the graph, see :mod:`faceprint.dlibdnn.mmod`).  Output ``"scores"``, float32
  ``(N, windows, out_rows, out_cols)``.

Layer mapping: ``con`` -> ``Conv`` (dlib's explicit zero padding, floor output size),
``affine`` -> folded into the preceding convolution when there is one, else
``Mul``/``Add``; ``relu`` -> ``Relu``; ``max_pool``/``avg_pool`` -> ``MaxPool``/
``AveragePool`` (padding excluded from averages, as dlib's clipped windows do; a zero
kernel is a global pool); ``fc`` -> ``MatMul`` (+ ``Add``) on the flattened NCHW
tensor; ``add_prev`` -> ``Add``, after zero-padding the smaller operand at the end of
each axis where the shapes differ (dlib's ``tt::add`` on tensors of different
sizes; in the ResNet the stride-2 convolution of a downsampling block gives 3x3 or 1x1
where the 2x2 average pool of its input gives 4x4 or 2x2).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

from ..errors import ModelError
from .reader import (
    AddPrev,
    Affine,
    Conv,
    DlibNet,
    Fc,
    LossMetric,
    LossMmod,
    Pool,
    Relu,
    Skip,
    Tag,
)

__all__ = ["OPSET", "count_flops", "to_onnx"]

#: ONNX operator set of the generated graphs (supported by onnxruntime >= 1.10)
OPSET = 13
#: IR version written into the model (readable by onnxruntime >= 1.10)
IR_VERSION = 7

Shape = tuple[int, int, int] | None  # (channels, rows, cols) of one sample, if known


@dataclass
class _Value:
    name: str
    shape: Shape
    flat: bool = False  # (N, features) rather than (N, C, H, W)
    channels: int | None = None  # known even when the spatial size is not

    def __post_init__(self) -> None:
        if self.shape is not None:
            self.channels = self.shape[0]


class _Builder:
    def __init__(self) -> None:
        self.nodes: list[onnx.NodeProto] = []
        self.inits: list[onnx.TensorProto] = []
        self._n = 0

    def name(self, stem: str) -> str:
        self._n += 1
        return f"{stem}_{self._n}"

    def const(self, stem: str, array: np.ndarray) -> str:
        name = self.name(stem)
        self.inits.append(numpy_helper.from_array(np.ascontiguousarray(array), name))
        return name

    def node(self, op: str, inputs: list[str], stem: str, **attrs: Any) -> str:
        out = self.name(stem)
        self.nodes.append(helper.make_node(op, inputs, [out], name=out, **attrs))
        return out


def _conv_out(size: int, kernel: int, stride: int, pad: int) -> int:
    return 1 + (size + 2 * pad - kernel) // stride


def _pad_to(b: _Builder, v: _Value, target: tuple[int, int, int]) -> str:
    """Zero-pad ``v`` at the end of the channel, row and column axes up to ``target``."""
    assert v.shape is not None
    extra = [t - s for t, s in zip(target, v.shape, strict=True)]
    if not any(extra):
        return v.name
    pads = np.array([0, 0, 0, 0, 0, *extra], dtype=np.int64)
    return b.node("Pad", [v.name, b.const("pads", pads)], "pad", mode="constant")


def to_onnx(net: DlibNet, *, fold_affine: bool = True) -> onnx.ModelProto:
    """Build the ONNX model of ``net`` (see the module docstring for its interface).

    ``fold_affine`` folds each affine (batch-norm) layer into the convolution before it
    (``w * gamma``, ``b * gamma + beta``): faster, and equal to dlib's result to float32
    rounding.  Raises :class:`~faceprint.errors.ModelError` for a layout it cannot
    express.
    """
    b = _Builder()
    inp = net.input
    graph_inputs: list[onnx.ValueInfoProto] = []
    if inp.kind == "rgb_image_sized":
        assert inp.size is not None
        rows, cols = inp.size
        graph_inputs.append(helper.make_tensor_value_info(
            "chips", TensorProto.UINT8, ["N", rows, cols, 3]))
        x = b.node("Cast", ["chips"], "cast", to=TensorProto.FLOAT)
        x = b.node("Transpose", [x], "nchw", perm=[0, 3, 1, 2])
        mean = np.asarray(inp.mean_rgb, dtype=np.float32).reshape(1, 3, 1, 1)
        x = b.node("Sub", [x, b.const("mean_rgb", mean)], "centred")
        # dlib divides by 256.0; multiplying by 2**-8 is exact.
        x = b.node("Mul", [x, b.const("inv256", np.array(1.0 / 256.0, np.float32))],
                   "normalised")
        current = _Value(x, (3, rows, cols))
    else:
        graph_inputs.append(helper.make_tensor_value_info(
            "image", TensorProto.FLOAT, ["N", 3, "rows", "cols"]))
        current = _Value("image", None, channels=3)

    outputs: list[_Value] = []  # output value of each layer index
    layers = net.layers
    skip_next = False
    for i, layer in enumerate(layers):
        if skip_next:  # an affine folded into the conv before it
            skip_next = False
            outputs.append(current)
            continue
        if isinstance(layer, Conv):
            w, bias = layer.weight, layer.bias
            nxt = layers[i + 1] if i + 1 < len(layers) else None
            if fold_affine and isinstance(nxt, Affine) and nxt.mode == "conv":
                scale = nxt.gamma.astype(np.float32)
                w = (w * scale[:, None, None, None]).astype(np.float32)
                bias = (bias * scale + nxt.beta).astype(np.float32)
                skip_next = True
            (kh, kw), (sy, sx), (py, px) = layer.kernel, layer.stride, layer.padding
            if current.flat or (current.channels is not None
                                and current.channels != w.shape[1]):
                raise ModelError(f"layer {i}: convolution expects {w.shape[1]} channels, "
                                 f"gets {current.channels}")
            name = b.node("Conv", [current.name, b.const("w", w), b.const("b", bias)],
                          "conv", kernel_shape=[kh, kw], strides=[sy, sx],
                          pads=[py, px, py, px])
            shape: Shape = None
            if current.shape is not None:
                shape = (int(w.shape[0]), _conv_out(current.shape[1], kh, sy, py),
                         _conv_out(current.shape[2], kw, sx, px))
            current = _Value(name, shape, channels=int(w.shape[0]))
        elif isinstance(layer, Affine):
            if layer.mode == "conv" and current.channels not in (None, layer.gamma.shape[0]):
                raise ModelError(f"layer {i}: affine layer for {layer.gamma.shape[0]} channels "
                                 f"gets {current.channels}")
            g: np.ndarray
            be: np.ndarray
            if layer.mode == "conv":
                c = layer.gamma.shape[0]
                g, be = layer.gamma.reshape(1, c, 1, 1), layer.beta.reshape(1, c, 1, 1)
            elif current.flat:
                g, be = layer.gamma.reshape(1, -1), layer.beta.reshape(1, -1)
            else:
                g, be = layer.gamma[None], layer.beta[None]
            name = b.node("Mul", [current.name, b.const("gamma", g)], "scaled")
            name = b.node("Add", [name, b.const("beta", be)], "affine")
            current = _Value(name, current.shape, current.flat, current.channels)
        elif isinstance(layer, Relu):
            current = _Value(b.node("Relu", [current.name], "relu"), current.shape,
                             current.flat, current.channels)
        elif isinstance(layer, Pool):
            current = _pool(b, current, layer, i)
        elif isinstance(layer, Fc):
            x = current.name
            if not current.flat:
                x = b.node("Flatten", [x], "flat", axis=1)
            n_in, n_out = layer.weight.shape
            if current.shape is not None and np.prod(current.shape) != n_in:
                raise ModelError(f"layer {i}: fc expects {n_in} inputs, gets "
                                 f"{int(np.prod(current.shape))}")
            x = b.node("MatMul", [x, b.const("fc_w", layer.weight)], "fc")
            if layer.bias is not None:
                x = b.node("Add", [x, b.const("fc_b", layer.bias)], "fc_bias")
            current = _Value(x, (int(n_out), 1, 1), flat=True)
        elif isinstance(layer, Tag):
            pass  # identity: its output is its input
        elif isinstance(layer, Skip):
            current = outputs[layer.target]
        elif isinstance(layer, AddPrev):
            other = outputs[layer.target]
            if current.flat or other.flat:
                raise ModelError(f"layer {i}: add_prev on fully connected outputs")
            if current.shape != other.shape:
                if current.shape is None or other.shape is None:
                    raise ModelError(f"layer {i}: add_prev of tensors whose shapes are only "
                                     "known at run time")
                target = (max(current.shape[0], other.shape[0]),
                          max(current.shape[1], other.shape[1]),
                          max(current.shape[2], other.shape[2]))
                left, right = _pad_to(b, current, target), _pad_to(b, other, target)
                current = _Value(b.node("Add", [left, right], "residual"), target)
            else:
                current = _Value(b.node("Add", [current.name, other.name], "residual"),
                                 current.shape)
        else:  # pragma: no cover - the reader only produces the types above
            raise ModelError(f"layer {i}: unsupported layer {layer!r}")
        outputs.append(current)

    if isinstance(net.loss, LossMetric):
        final = current.name if current.flat else b.node("Flatten", [current.name], "flat",
                                                          axis=1)
        b.nodes.append(helper.make_node("Identity", [final], ["descriptors"],
                                        name="descriptors"))
        dims = current.shape[0] if current.shape is not None else "D"
        graph_outputs = [helper.make_tensor_value_info("descriptors", TensorProto.FLOAT,
                                                       ["N", dims])]
    elif isinstance(net.loss, LossMmod):
        if current.flat:
            raise ModelError("an MMOD network must end in a convolution")
        b.nodes.append(helper.make_node("Identity", [current.name], ["scores"],
                                        name="scores"))
        graph_outputs = [helper.make_tensor_value_info(
            "scores", TensorProto.FLOAT, ["N", len(net.loss.options.detector_windows),
                                          "out_rows", "out_cols"])]
    else:  # pragma: no cover
        raise ModelError(f"unsupported loss {net.loss!r}")

    graph = helper.make_graph(b.nodes, "dlib_net", graph_inputs, graph_outputs, b.inits)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", OPSET)],
                              producer_name="faceprint.dlibdnn")
    model.ir_version = IR_VERSION
    model.doc_string = f"converted by faceprint.dlibdnn from dlib network {Path(net.source).name}"
    onnx.checker.check_model(model)
    return model


def _pool(b: _Builder, current: _Value, layer: Pool, i: int) -> _Value:
    if current.flat:
        raise ModelError(f"layer {i}: pooling after a fully connected layer")
    (kh, kw), (sy, sx), (py, px) = layer.kernel, layer.stride, layer.padding
    if kh == 0 and kw == 0:
        op = "GlobalMaxPool" if layer.kind == "max" else "GlobalAveragePool"
        shape = None if current.shape is None else (current.shape[0], 1, 1)
        return _Value(b.node(op, [current.name], "gpool"), shape, channels=current.channels)
    if kh == 0 or kw == 0:
        raise ModelError(f"layer {i}: pooling over the whole of only one axis")
    attrs: dict[str, Any] = {"kernel_shape": [kh, kw], "strides": [sy, sx],
                                "pads": [py, px, py, px]}
    if layer.kind == "avg":
        attrs["count_include_pad"] = 0
    op = "MaxPool" if layer.kind == "max" else "AveragePool"
    shape = None
    if current.shape is not None:
        shape = (current.shape[0], _conv_out(current.shape[1], kh, sy, py),
                 _conv_out(current.shape[2], kw, sx, px))
    return _Value(b.node(op, [current.name], "pool", **attrs), shape,
                  channels=current.channels)


def count_flops(model: onnx.ModelProto, input_dims: dict[str, list[int]]) -> int:
    """Floating-point operations of one run of ``model`` with the given input shapes,
    counted from the graph: 2 per multiply-add of every ``Conv``, ``MatMul`` and
    ``Gemm`` (element-wise operations, pooling and padding are left out, as usual).

    ``input_dims`` maps each graph input to its concrete shape, e.g.
    ``{"chips": [1, 150, 150, 3]}``.
    """
    m = onnx.ModelProto()
    m.CopyFrom(model)
    for inp in m.graph.input:
        if inp.name in input_dims:
            dims = inp.type.tensor_type.shape.dim
            for d, value in zip(dims, input_dims[inp.name], strict=True):
                d.ClearField("dim_param")
                d.dim_value = int(value)
    inferred = onnx.shape_inference.infer_shapes(m, strict_mode=True)
    shapes: dict[str, list[int]] = {}
    for vi in [*inferred.graph.value_info, *inferred.graph.input, *inferred.graph.output]:
        shapes[vi.name] = [d.dim_value for d in vi.type.tensor_type.shape.dim]
    for init in inferred.graph.initializer:
        shapes[init.name] = list(init.dims)
    total = 0
    for node in inferred.graph.node:
        if node.op_type == "Conv":
            w = shapes[node.input[1]]
            out = shapes[node.output[0]]
            total += 2 * int(np.prod(out)) * int(np.prod(w[1:]))
        elif node.op_type in ("MatMul", "Gemm"):
            a, out = shapes[node.input[0]], shapes[node.output[0]]
            total += 2 * int(np.prod(out)) * int(a[-1])
    return total
