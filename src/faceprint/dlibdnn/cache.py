"""Convert dlib networks to ONNX once and keep the result in the user's cache folder.

The cache lives in ``platformdirs.user_cache_dir("faceprint")/dlibdnn`` unless the
environment variable ``FACEPRINT_CACHE_DIR`` names another folder (then
``$FACEPRINT_CACHE_DIR/dlibdnn``).  Each converted file is named after the source
file's stem, the SHA-256 of its bytes and :data:`CONVERTER_VERSION`, so a changed
weight file or a changed converter gives a new file and an old one is never reused by
mistake.  Files are written to a temporary name in the same folder and renamed into
place, so a reader never sees half a file and two processes converting at once both
end with a complete, identical file.  Nothing converted is ever shipped or committed.
"""

from __future__ import annotations

import threading
from pathlib import Path

from .. import cache as _cache
from ..errors import ModelError
from ..weights import file_sha256

__all__ = [
    "CACHE_ENV",
    "CONVERTER_VERSION",
    "cache_dir",
    "cached_onnx_path",
    "convert_cached",
    "source_sha256",
]

#: bump when the conversion changes in a way that changes the .onnx file
CONVERTER_VERSION = 1
#: environment variable that overrides the cache folder
CACHE_ENV = _cache.CACHE_ENV

_lock = threading.Lock()


def cache_dir() -> Path:
    """The folder converted models are kept in (not created here)."""
    return _cache.cache_dir("dlibdnn", create=False)


def source_sha256(source: Path) -> str:
    """Hex SHA-256 of ``source`` (remembered while its size and mtime do not change)."""
    path = Path(source).resolve()
    try:
        return file_sha256(path)
    except OSError as exc:
        raise ModelError(f"cannot read dlib network file {path}: {exc}") from exc


def cached_onnx_path(source: Path, converter_version: int = CONVERTER_VERSION) -> Path:
    """Where the ONNX conversion of ``source`` is (or will be) cached."""
    digest = source_sha256(source)
    return cache_dir() / f"{Path(source).stem}-{digest[:32]}-c{converter_version}.onnx"


def convert_cached(source: Path, *, converter_version: int = CONVERTER_VERSION,
                   refresh: bool = False) -> Path:
    """The path of the ONNX model converted from dlib network file ``source``,
    converting it first when no cached copy exists (or ``refresh`` is true).

    Raises :class:`~faceprint.errors.ModelError` when the source cannot be read or
    converted, or the cache folder cannot be written.
    """
    source = Path(source)
    if not source.is_file():
        raise ModelError(f"dlib network file {source} does not exist")
    target = cached_onnx_path(source, converter_version)
    if target.is_file() and not refresh:
        return target
    with _lock:  # one conversion at a time per process; other processes may race
        if target.is_file() and not refresh:
            return target
        from .reader import read_dlib_net
        from .to_onnx import to_onnx

        data = to_onnx(read_dlib_net(source)).SerializeToString()
        try:
            _cache.write_atomic(target, data)
        except OSError as exc:
            raise ModelError(f"cannot write the converted model to {target}: {exc}; set "
                             f"{CACHE_ENV} to a writable folder") from exc
    return target
