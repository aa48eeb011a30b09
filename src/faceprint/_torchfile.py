"""A small, safe reader for legacy (non-zip) PyTorch ``torch.save`` files.

faceprint reads a few state dicts written by PyTorch (the MTCNN weights of the
``facenet-pytorch`` package) without needing torch. The legacy format, used by
``torch.save(..., _use_new_zipfile_serialization=False)`` and by every torch
before 1.6, is a sequence of records in one file:

1. a pickled magic number (``0x1950A86A20F9469CFC6C``),
2. a pickled protocol version (``1001``),
3. a pickled dict of system information (endianness, C type sizes),
4. the pickled object itself, whose tensors refer to storages through
   persistent ids ``("storage", StorageType, key, location, numel, view)``,
5. a pickled list of the storage keys, in the order their data follows,
6. the raw storages, each an int64 element count followed by the elements.

Only ``collections.OrderedDict``, ``torch._utils._rebuild_tensor_v2`` and the
``torch.*Storage`` types may be named by the pickle; anything else (and so any
attempt to run code while loading) raises :class:`~faceprint.errors.ModelError`.
"""

from __future__ import annotations

import collections
import io
import pickle
import struct
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

import numpy as np

from .errors import ModelError

MAGIC_NUMBER = 0x1950A86A20F9469CFC6C
PROTOCOL_VERSION = 1001

#: torch storage class name -> numpy dtype (little endian)
_STORAGE_DTYPES: dict[str, np.dtype[Any]] = {
    "DoubleStorage": np.dtype("<f8"),
    "FloatStorage": np.dtype("<f4"),
    "HalfStorage": np.dtype("<f2"),
    "LongStorage": np.dtype("<i8"),
    "IntStorage": np.dtype("<i4"),
    "ShortStorage": np.dtype("<i2"),
    "CharStorage": np.dtype("i1"),
    "ByteStorage": np.dtype("u1"),
    "BoolStorage": np.dtype("?"),
}


@dataclass(frozen=True, slots=True)
class _StorageType:
    """Stands for a ``torch.*Storage`` class named in the pickle."""

    dtype: np.dtype[Any]


@dataclass(frozen=True, slots=True)
class _StorageRef:
    """A storage named by a persistent id; its data follows the pickle."""

    key: str
    dtype: np.dtype[Any]
    numel: int


@dataclass(frozen=True, slots=True)
class _TensorRef:
    """A tensor to rebuild once the storages have been read."""

    storage: _StorageRef
    offset: int
    size: tuple[int, ...]
    stride: tuple[int, ...]


def _rebuild_tensor_v2(storage: object, storage_offset: object, size: object, stride: object,
                       *_rest: object) -> _TensorRef:
    """Stand-in for ``torch._utils._rebuild_tensor_v2``: records the view."""
    if not isinstance(storage, _StorageRef) or not isinstance(storage_offset, int) \
            or not isinstance(size, tuple) or not isinstance(stride, tuple) \
            or len(size) != len(stride) \
            or not all(isinstance(v, int) and v >= 0 for v in (*size, *stride)):
        raise ModelError("malformed tensor record in a PyTorch file")
    return _TensorRef(storage, storage_offset, tuple(size), tuple(stride))


class _RestrictedUnpickler(pickle.Unpickler):
    """An unpickler that knows only the few globals a state dict needs."""

    def find_class(self, module: str, name: str) -> Any:
        if module == "collections" and name == "OrderedDict":
            return collections.OrderedDict
        if module == "torch._utils" and name == "_rebuild_tensor_v2":
            return _rebuild_tensor_v2
        if module == "torch" and name in _STORAGE_DTYPES:
            return _StorageType(_STORAGE_DTYPES[name])
        raise ModelError(f"PyTorch file names a global that is not allowed: {module}.{name}")

    def persistent_load(self, pid: Any) -> _StorageRef:
        if not (isinstance(pid, tuple) and len(pid) == 6 and pid[0] == "storage"):
            raise ModelError(f"unsupported persistent id in a PyTorch file: {pid!r:.80}")
        _, storage_type, key, _location, numel, view = pid
        if not isinstance(storage_type, _StorageType) or not isinstance(key, str) \
                or not isinstance(numel, int) or numel < 0:
            raise ModelError("malformed storage record in a PyTorch file")
        if view is not None:
            raise ModelError("storage views are not supported in legacy PyTorch files")
        return _StorageRef(key, storage_type.dtype, numel)


class _PlainUnpickler(pickle.Unpickler):
    """For the header records: plain data only, no globals at all."""

    def find_class(self, module: str, name: str) -> Any:
        raise ModelError(f"PyTorch file header names a global: {module}.{name}")


def _materialise(obj: Any, storages: dict[str, np.ndarray]) -> Any:
    """``obj`` with every :class:`_TensorRef` replaced by a numpy array (a copy)."""
    if isinstance(obj, _TensorRef):
        data = storages[obj.storage.key]
        itemsize = data.dtype.itemsize
        if obj.size and any(s == 0 for s in obj.size):
            return np.zeros(obj.size, dtype=data.dtype)
        last = obj.offset + sum((n - 1) * s for n, s in zip(obj.size, obj.stride, strict=True))
        if obj.offset < 0 or last >= data.size:
            raise ModelError("a tensor in a PyTorch file reaches past its storage")
        view = np.lib.stride_tricks.as_strided(
            data[obj.offset:], shape=obj.size, strides=[s * itemsize for s in obj.stride],
            writeable=False)
        return np.array(view, copy=True, order="C")  # ndim kept (0-d too)
    if isinstance(obj, collections.OrderedDict):
        return collections.OrderedDict((k, _materialise(v, storages)) for k, v in obj.items())
    if isinstance(obj, dict):
        return {k: _materialise(v, storages) for k, v in obj.items()}
    if isinstance(obj, list):
        return [_materialise(v, storages) for v in obj]
    if isinstance(obj, tuple):
        return tuple(_materialise(v, storages) for v in obj)
    return obj


def _collect_storages(obj: Any, found: dict[str, _StorageRef]) -> None:
    if isinstance(obj, _TensorRef):
        found.setdefault(obj.storage.key, obj.storage)
    elif isinstance(obj, dict):
        for v in obj.values():
            _collect_storages(v, found)
    elif isinstance(obj, list | tuple):
        for v in obj:
            _collect_storages(v, found)


def _read_legacy(fh: IO[bytes]) -> Any:
    plain = _PlainUnpickler(fh)
    if plain.load() != MAGIC_NUMBER:
        raise ModelError("not a legacy PyTorch file (bad magic number)")
    if _PlainUnpickler(fh).load() != PROTOCOL_VERSION:
        raise ModelError("unsupported PyTorch file protocol version")
    sys_info = _PlainUnpickler(fh).load()
    if not isinstance(sys_info, dict) or sys_info.get("little_endian") is not True:
        raise ModelError("only little-endian PyTorch files are supported")
    obj = _RestrictedUnpickler(fh).load()
    keys = _PlainUnpickler(fh).load()
    if not isinstance(keys, list) or not all(isinstance(k, str) for k in keys):
        raise ModelError("malformed storage key list in a PyTorch file")
    refs: dict[str, _StorageRef] = {}
    _collect_storages(obj, refs)
    storages: dict[str, np.ndarray] = {}
    for key in keys:
        ref = refs.get(key)
        if ref is None:
            raise ModelError(f"PyTorch file stores an unreferenced storage {key!r}")
        head = fh.read(8)
        if len(head) != 8:
            raise ModelError("PyTorch file is truncated (storage header)")
        (numel,) = struct.unpack("<q", head)
        if numel != ref.numel:
            raise ModelError(f"storage {key!r} holds {numel} elements, "
                             f"the pickle says {ref.numel}")
        nbytes = numel * ref.dtype.itemsize
        raw = fh.read(nbytes)
        if len(raw) != nbytes:
            raise ModelError("PyTorch file is truncated (storage data)")
        storages[key] = np.frombuffer(raw, dtype=ref.dtype)
    missing = set(refs) - set(storages)
    if missing:
        raise ModelError(f"PyTorch file lacks the data of storages {sorted(missing)}")
    return _materialise(obj, storages)


def load_state_dict(path: str | Path) -> dict[str, np.ndarray]:
    """Read a legacy PyTorch state dict as ``{name: numpy array}`` (dtype kept).

    Raises :class:`~faceprint.errors.ModelError` if the file is missing, is a
    zip-format file, is malformed or truncated, or holds anything but tensors.
    """
    path = Path(path)
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise ModelError(f"cannot read PyTorch file {path}: {exc}") from exc
    if data[:4] == b"PK\x03\x04":
        raise ModelError(f"{path} is a zip-format PyTorch file; only the legacy format "
                         "is supported")
    try:
        obj = _read_legacy(io.BytesIO(data))
    except ModelError as exc:
        raise ModelError(f"{path}: {exc}") from None
    except Exception as exc:  # any unpickling failure means a malformed file
        raise ModelError(f"{path} is not a readable legacy PyTorch file "
                         f"({type(exc).__name__}: {exc})") from None
    if not isinstance(obj, dict) or not all(
            isinstance(k, str) and isinstance(v, np.ndarray) for k, v in obj.items()):
        raise ModelError(f"{path} does not hold a state dict of tensors")
    return dict(obj)
