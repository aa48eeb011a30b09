"""One hierarchy of errors: every failure faceprint reports is a FaceprintError.

The command line and the REST service turn these into a clear message and a
documented exit code (or HTTP status); nothing else should reach the user as a
traceback.
"""

from __future__ import annotations


class FaceprintError(Exception):
    """Base class of every error faceprint raises on purpose."""

    #: exit status of the ``faceprint`` command for this kind of error
    exit_code: int = 1


class ImageError(FaceprintError):
    """A file or buffer could not be read as an image (missing, truncated, not an image,
    too many pixels)."""

    exit_code = 3


class NoFaceError(FaceprintError):
    """An image held no face where one was needed."""

    exit_code = 4


class ModelError(FaceprintError):
    """A model's weights are missing or unreadable, or a model name is unknown."""

    exit_code = 5


class UnknownNameError(ModelError):
    """A detector, embedder or other registered name does not exist."""


class GalleryError(FaceprintError):
    """The face gallery could not be read or written, or a request on it is invalid."""

    exit_code = 6


class PersonNotFoundError(GalleryError):
    """No person of that name is enrolled."""


class EmptyGalleryError(GalleryError):
    """The gallery holds no faces for the embedder in use."""


class DataError(FaceprintError):
    """An evaluation or training data set is missing or malformed."""

    exit_code = 7


class AttributeNameError(FaceprintError):
    """An attribute name that faceprint does not offer (bad usage of the request:
    exit status 2, like the command line's own usage errors)."""

    exit_code = 2


class QualityError(FaceprintError):
    """A face was refused because its quality verdict is poor (``enroll --min-quality``);
    the message names every limit it missed."""

    exit_code = 8
