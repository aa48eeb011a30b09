"""The service's settings: one frozen dataclass, filled by ``faceprint serve``'s options
(or by a test) and read by every part of the app."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from ..image import DEFAULT_MAX_PIXELS
from ..registry import PRESETS, SERVE_PRESET


@dataclass(frozen=True)
class ServeConfig:
    """Where the data lies and the limits every request is held to.

    db: the gallery URL (see :func:`faceprint.gallery.open_gallery`).
    keys_db: the API keys' SQLite file; default: the gallery's path + ``.keys``.
    max_body_bytes: larger request bodies are refused with 413.
    max_pixels: the image loader's pixel limit (width x height).
    max_faces: the most faces one image may yield (more are dropped, largest kept).
    max_user_faces: the most faces a user may hold (checked by the service; the gallery
        file's own limit, 20 by default, stays the ceiling); 222210 / 400 above.
    rate_per_second / rate_burst: each key's token bucket (per worker process); over it
        a request is refused with 429 and ``Retry-After``.
    request_timeout_s: a request still running after this long is answered with an
        error (503); its work finishes in the background.
    token_ttl_s: lifetime of the cloud shape's access tokens (30 days, as that API).
    detector, embedder, flip: the pipeline; by default the ``fast`` preset
        (:data:`SERVE_PRESET`: yunet + dlib-resnet, LFW 98.95 %), whose detector costs
        about 4 ms on a 640x480 photo against blazeface-onet's 68 ms.
    """

    db: str = "faceprint-gallery.sqlite"
    keys_db: str | None = None
    detector: str = PRESETS[SERVE_PRESET].detector
    embedder: str = PRESETS[SERVE_PRESET].embedder
    flip: bool = PRESETS[SERVE_PRESET].flip
    max_body_bytes: int = 10 * 1024 * 1024
    max_pixels: int = DEFAULT_MAX_PIXELS
    max_faces: int = 20
    max_user_faces: int = 20
    rate_per_second: float = 50.0
    rate_burst: int = 100
    request_timeout_s: float = 30.0
    token_ttl_s: int = 30 * 24 * 3600

    def keys_path(self) -> str:
        if self.keys_db:
            return self.keys_db
        return default_keys_path(self.db)


def default_keys_path(db: str | Path) -> str:
    """The key file beside a gallery: ``PATH.keys`` (``sqlite:PATH`` -> ``PATH.keys``)."""
    text = str(db)
    if text.startswith("sqlite:"):
        text = text[len("sqlite:"):]
    if text == ":memory:":
        raise ValueError("a gallery in memory has no key file: give keys_db")
    return text + ".keys"
