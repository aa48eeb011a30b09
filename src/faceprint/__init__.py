"""faceprint: offline face detection, alignment, embedding, verification and
identification.

    >>> import faceprint
    >>> faces = faceprint.detect("group.jpg")           # boxes, landmarks, pose
    >>> faceprint.compare("a.jpg", "b.jpg").same          # 1:1 verification
    >>> with faceprint.Gallery("people.db") as g:         # 1:N identification
    ...     pipe = faceprint.Pipeline()
    ...     pipe.enroll(g, "Ada", ["ada1.jpg", "ada2.jpg"])
    ...     [i.name for i in pipe.identify("door.jpg", g)]

Nothing heavy is imported here: models load on first use.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from .errors import (
    FaceprintError,
    GalleryError,
    ImageError,
    ModelError,
    NoFaceError,
    UnknownNameError,
)
from .image import load_image
from .types import Box, Comparison, Face, Identification, Landmarks, Match, Person, Pose

__version__ = "0.1.0"

__all__ = [
    "Box", "Comparison", "Face", "FaceprintError", "Gallery", "GalleryError", "Identification",
    "ImageError", "Landmarks", "Match", "ModelError", "NoFaceError", "Person", "Pipeline",
    "Pose", "UnknownNameError", "compare", "detect", "embed", "load_image",
]

if TYPE_CHECKING:
    from .api import compare, detect, embed
    from .gallery.sqlite import SqliteGallery as Gallery
    from .pipeline import Pipeline

_LAZY = {
    "compare": ("faceprint.api", "compare"),
    "detect": ("faceprint.api", "detect"),
    "embed": ("faceprint.api", "embed"),
    "Pipeline": ("faceprint.pipeline", "Pipeline"),
    "Gallery": ("faceprint.gallery.sqlite", "SqliteGallery"),
}


def __getattr__(name: str) -> Any:
    """Re-export the heavier parts on first access (keeps ``import faceprint`` fast)."""
    if name == "video":  # the subpackage, imported on first use
        import importlib

        return importlib.import_module(".video", __name__)
    if name in _LAZY:
        import importlib

        module, attr = _LAZY[name]
        value = getattr(importlib.import_module(module), attr)
        globals()[name] = value
        return value
    raise AttributeError(f"module 'faceprint' has no attribute {name!r}")
