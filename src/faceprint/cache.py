"""Where faceprint keeps things it can recompute: converted models, embeddings of
evaluation images. ``$FACEPRINT_CACHE_DIR`` overrides the user cache directory."""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path

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


def config_key(config: object) -> str:
    """A short stable hash of a JSON-serialisable configuration."""
    text = json.dumps(config, sort_keys=True, default=str)
    return hashlib.sha256(text.encode()).hexdigest()[:16]
