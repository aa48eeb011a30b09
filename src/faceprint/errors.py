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
    #: the HTTP status a service answers with for this kind of error
    http_status: int = 500


class UsageError(FaceprintError):
    """The command or function was called wrongly: a missing or malformed option, a
    value out of range, options that do not go together."""

    exit_code = 2


class ImageError(FaceprintError):
    """A file or buffer could not be read as an image (missing, truncated, not an image,
    too many pixels)."""

    exit_code = 3


class VideoError(ImageError):
    """A video source could not be opened or read (missing file, not a video, a
    truncated file, a camera index that does not exist, a stream that fails)."""


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
    http_status = 400


class PersonNotFoundError(GalleryError):
    """No person of that name is enrolled."""

    http_status = 404


class UserNotFoundError(PersonNotFoundError):
    """No user of that id in the group."""


class GroupNotFoundError(GalleryError):
    """No group of that id in the gallery."""

    http_status = 404


class FaceNotFoundError(GalleryError):
    """No face with that face token (or id) in the gallery."""

    http_status = 404


class DuplicateError(GalleryError):
    """A group or a user of that id exists already."""

    http_status = 409


class FaceLimitError(GalleryError):
    """A user would hold more faces than the gallery allows (20 by default)."""


class DimensionError(GalleryError):
    """Embeddings whose dimension differs from what the gallery holds for that embedder."""


class BackendError(GalleryError):
    """The storage or search backend cannot be reached or gave an unusable answer."""

    http_status = 503


class EmptyGalleryError(GalleryError):
    """The gallery holds no faces for the embedder in use."""


class DataError(FaceprintError):
    """An evaluation or training data set is missing or malformed."""

    exit_code = 7


class AttributeNameError(UsageError):
    """An attribute name that faceprint does not offer (a usage mistake: exit 2)."""


class QualityError(FaceprintError):
    """A face was refused because its quality verdict is poor (``enroll --min-quality``);
    the message names every limit it missed."""

    exit_code = 8
    http_status = 400
