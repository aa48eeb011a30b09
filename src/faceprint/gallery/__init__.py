"""Galleries: persistent stores of enrolled people and their face embeddings.

:class:`SqliteGallery` (one SQLite file) is the embedded default.
"""

from .base import Gallery, default_db_path
from .sqlite import SqliteGallery

__all__ = ["Gallery", "SqliteGallery", "default_db_path"]
