"""Convert dlib networks to ONNX once and keep the result in the user's cache folder.

The cache lives in :func:`faceprint.cache.cache_dir` ``("dlibdnn")``:
``platformdirs.user_cache_dir("faceprint")/dlibdnn`` unless the environment
variable ``FACEPRINT_CACHE_DIR`` names another folder (then
``$FACEPRINT_CACHE_DIR/dlibdnn``).  Each converted file is named after the source
file's stem, the SHA-256 of its bytes and :data:`CONVERTER_VERSION`, so a changed
weight file or a changed converter gives a new file and an old one is never reused by
mistake.  Files are written to a temporary name in the same folder and renamed into
place, so a reader never sees half a file and two processes converting at once both
end with a complete, identical file.  Nothing converted is ever shipped or committed.
"""

from __future__ import annotations

import os
import tempfile
import threading
from pathlib import Path

from ..cache import CACHE_ENV, cache_dir
from ..errors import ModelError

__all__ = [
    "CACHE_ENV",
    "CONVERTER_VERSION",
    "cached_onnx_path",
    "convert_cached",
    "source_sha256",
]

#: bump when the conversion changes in a way that changes the .onnx file
CONVERTER_VERSION = 1
_lock = threading.Lock()


def source_sha256(source: Path) -> str:
    """Hex SHA-256 of ``source`` (remembered while its size and mtime do not change)."""
    from ..models import file_sha256

    path = Path(source).resolve()
    try:
        return file_sha256(path)
    except OSError as exc:
        raise ModelError(f"cannot read dlib network file {path}: {exc}") from exc


def cached_onnx_path(source: Path, converter_version: int = CONVERTER_VERSION) -> Path:
    """Where the ONNX conversion of ``source`` is (or will be) cached."""
    digest = source_sha256(source)
    name = f"{Path(source).stem}-{digest[:32]}-c{converter_version}.onnx"
    return cache_dir("dlibdnn", create=False) / name


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
            target.parent.mkdir(parents=True, exist_ok=True)
            fd, tmp = tempfile.mkstemp(prefix=f".{target.stem}-", suffix=".tmp",
                                       dir=target.parent)
            try:
                with os.fdopen(fd, "wb") as fh:
                    fh.write(data)
                    fh.flush()
                    os.fsync(fh.fileno())
                os.chmod(tmp, 0o644)  # mkstemp makes it private; it holds no secrets
                os.replace(tmp, target)
            except BaseException:
                Path(tmp).unlink(missing_ok=True)
                raise
        except OSError as exc:
            raise ModelError(f"cannot write the converted model to {target}: {exc}; set "
                             f"{CACHE_ENV} to a writable folder") from exc
    return target
