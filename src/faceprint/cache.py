"""Where faceprint keeps things it can recompute: converted models, embeddings of
evaluation images, faces and chips. ``$FACEPRINT_CACHE_DIR`` overrides the user
cache directory. :class:`NpzCache` keeps a job's results for
:func:`faceprint.batch.map_images`."""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any, Generic, Protocol, TypeVar

import numpy as np

#: environment variable that overrides the cache folder
CACHE_ENV = "FACEPRINT_CACHE_DIR"


def cache_dir(*parts: str, create: bool = True) -> Path:
    """``$FACEPRINT_CACHE_DIR`` (or the user cache dir, ``~/.cache/faceprint`` on
    Linux) joined with ``parts``, created if missing (unless ``create`` is false)."""
    env = os.environ.get(CACHE_ENV)
    if env:
        base = Path(env).expanduser()
    else:
        from platformdirs import user_cache_dir

        base = Path(user_cache_dir("faceprint"))
    path = base.joinpath(*parts)
    if create:
        path.mkdir(parents=True, exist_ok=True)
    return path


def write_atomic(target: Path, data: bytes) -> None:
    """Write ``data`` to ``target`` whole or not at all: into a temporary file beside
    it, synced, then renamed into place (readers in other processes see either no
    file or the complete one). OSError when the folder cannot be written."""
    import tempfile

    target.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{target.stem}-", suffix=".tmp", dir=target.parent)
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


def config_key(config: object) -> str:
    """A short stable hash of a JSON-serialisable configuration."""
    text = json.dumps(config, sort_keys=True, default=str)
    return hashlib.sha256(text.encode()).hexdigest()[:16]


R = TypeVar("R")


class ResultCache(Protocol[R]):
    """Results of a job kept by source key (see :func:`faceprint.batch.map_images`)."""

    def get(self, key: str) -> R | None: ...

    def put(self, key: str, value: R) -> None: ...

    def flush(self) -> None: ...


class NpzCache(Generic[R]):
    """A :class:`ResultCache` in one ``.npz`` file: read whole on first use, written
    whole (to a temporary name, then renamed into place) on :meth:`flush` and every
    ``save_every`` new results. ``encode(keys, values)`` gives the file's arrays
    besides ``paths`` (the keys); ``decode(arrays)`` gives back one value per key. A
    damaged or foreign file is ignored (its results are recomputed)."""

    def __init__(self, path: Path, encode: Callable[[list[str], list[R]], dict[str, Any]],
                 decode: Callable[[Any], Iterable[R]], *, save_every: int | None = None
                 ) -> None:
        self.path = path
        self._encode = encode
        self._decode = decode
        self.save_every = save_every
        self._values: dict[str, R] | None = None
        self._unsaved = 0

    @property
    def values(self) -> dict[str, R]:
        if self._values is None:
            self._values = {}
            if self.path.exists():
                try:
                    with np.load(self.path) as z:
                        keys = [str(p) for p in z["paths"]]
                        self._values = dict(zip(keys, self._decode(z), strict=True))
                except (OSError, ValueError, KeyError):
                    self._values = {}  # a damaged cache is recomputed
        return self._values

    def get(self, key: str) -> R | None:
        return self.values.get(key)

    def put(self, key: str, value: R) -> None:
        self.values[key] = value
        self._unsaved += 1
        if self.save_every and self._unsaved >= self.save_every:
            self.flush()

    def flush(self) -> None:
        if not self._unsaved or self._values is None:
            return
        keys = sorted(self._values)
        tmp = self.path.with_name(f"{self.path.stem}.{os.getpid()}.tmp.npz")
        np.savez(tmp, paths=np.array(keys), **self._encode(keys, [self._values[k] for k in keys]))
        os.replace(tmp, self.path)
        self._unsaved = 0
