"""Face embedders: aligned chips in, fixed-length vectors out.

Create them by name with :func:`faceprint.registry.create_embedder`; :mod:`.base`
defines the protocol every embedder follows.
"""

from .base import Embedder, l2_normalize

__all__ = ["Embedder", "l2_normalize"]
