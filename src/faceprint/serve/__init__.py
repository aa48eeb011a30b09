"""``faceprint serve``: a self-hosted face API over the library (docs/service.md)."""

from .app import create_app
from .config import ServeConfig
from .service import Service, score_from_distance

__all__ = ["ServeConfig", "Service", "create_app", "score_from_distance"]
