"""The two converted dlib networks as models: :class:`OnnxResnet` (the face
descriptor) and :class:`OnnxMmod` (the MMOD detector).

Their sessions come from :mod:`faceprint.runtime` (created on first use, shared per
process; providers, CUDA padding and fall-back warnings are described there).
"""

from __future__ import annotations

import threading
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from ..errors import ImageError, ModelError, UnknownNameError
from ..runtime.onnxrt import default_threads, open_session, resolve_providers, run_batches
from ..weights import weight_path
from .cache import convert_cached

if TYPE_CHECKING:
    from onnxruntime import InferenceSession

    from .reader import DlibNet

__all__ = ["OnnxMmod", "OnnxResnet", "onnx_model_path"]

KEYS = ("dlib-resnet", "dlib-mmod")


def onnx_model_path(key: str) -> Path:
    """The cached ONNX conversion of dlib weight file ``key`` (``"dlib-resnet"`` or
    ``"dlib-mmod"``), converted on first use (see :mod:`faceprint.dlibdnn.cache`)."""
    if key not in KEYS:
        raise UnknownNameError(f"no ONNX conversion for {key!r}; choose one of: "
                               f"{', '.join(KEYS)}")
    return convert_cached(weight_path(key))


class _OnnxModel:
    """Shared lazy session handling."""

    key: str = ""

    def __init__(self, *, intra_op_num_threads: int | None = None,
                 providers: str | Sequence[str] | None = None,
                 model_path: str | Path | None = None) -> None:
        if intra_op_num_threads is not None and intra_op_num_threads < 1:
            raise ValueError("intra_op_num_threads must be at least 1")
        self.intra_op_num_threads = intra_op_num_threads or default_threads()
        self._requested_providers = providers
        self._model_path = Path(model_path) if model_path is not None else None
        self._session: InferenceSession | None = None
        self._providers: list[str] = []
        self._path: Path | None = None
        self._lock = threading.Lock()

    @property
    def session(self) -> InferenceSession:
        """The ``onnxruntime.InferenceSession`` (created on first use)."""
        return self.session_for(None)

    def session_for(self, batch: int | None) -> InferenceSession:
        """The session (``batch`` None), or on CUDA the session for batches of size
        ``batch`` alone (see :func:`run_batches`)."""
        if self._session is None:
            with self._lock:
                if self._session is None:
                    self._providers = resolve_providers(self._requested_providers)
                    path = self._model_path
                    if path is None:
                        path = onnx_model_path(self.key)
                        try:
                            self._session = open_session(path, self.intra_op_num_threads,
                                                         self._providers)
                        except ModelError:
                            # a damaged cache file: convert again once
                            path = convert_cached(weight_path(self.key), refresh=True)
                            self._session = open_session(path, self.intra_op_num_threads,
                                                         self._providers)
                    else:
                        self._session = open_session(path, self.intra_op_num_threads,
                                                     self._providers)
                    self._path = path
        if batch is None:
            return self._session
        assert self._path is not None
        return open_session(self._path, self.intra_op_num_threads, self._providers, batch)

    @property
    def providers(self) -> list[str]:
        """The execution providers the session uses, in priority order."""
        return list(self.session.get_providers())


class OnnxResnet(_OnnxModel):
    """dlib's ResNet face descriptor (``dlib_face_recognition_resnet_model_v1.dat``) run
    by ONNX Runtime.

    ``model(chips)`` takes uint8 RGB face chips ``(N, 150, 150, 3)`` (as
    ``dlib.get_face_chip(img, shape, 150, 0.25)`` makes them) and returns float32
    ``(N, 128)`` descriptors equal (to about 1e-6) to dlib's
    ``face_recognition_model_v1.compute_face_descriptor(chip)`` without jitter.  They
    are not unit length; dlib's threshold is a plain Euclidean distance of 0.6.
    Chips are run ``batch_size`` at a time.
    """

    key = "dlib-resnet"

    def __init__(self, *, intra_op_num_threads: int | None = None,
                 providers: str | Sequence[str] | None = None,
                 model_path: str | Path | None = None, batch_size: int = 32) -> None:
        super().__init__(intra_op_num_threads=intra_op_num_threads, providers=providers,
                         model_path=model_path)
        if batch_size < 1:
            raise ValueError("batch_size must be at least 1")
        self.batch_size = batch_size

    @property
    def chip_size(self) -> tuple[int, int]:
        """``(rows, cols)`` of the chips the network takes."""
        shape = self.session.get_inputs()[0].shape
        return int(shape[1]), int(shape[2])

    @property
    def dim(self) -> int:
        """Length of a descriptor."""
        return int(self.session.get_outputs()[0].shape[1])

    def __call__(self, chips: np.ndarray) -> np.ndarray:
        """Descriptors of uint8 RGB ``chips`` ``(N, rows, cols, 3)`` (a single
        ``(rows, cols, 3)`` chip is taken as ``N = 1``): float32 ``(N, 128)``."""
        chips = np.asarray(chips)
        if chips.ndim == 3:
            chips = chips[None]
        rows, cols = self.chip_size
        if chips.dtype != np.uint8 or chips.ndim != 4 or chips.shape[1:] != (rows, cols, 3):
            raise ImageError(f"face chips must be uint8 RGB arrays of shape (N, {rows}, "
                             f"{cols}, 3); got {chips.dtype} {chips.shape}")
        if len(chips) == 0:
            return np.empty((0, self.dim), np.float32)
        return run_batches(self.session_for, "chips", chips, self.batch_size
                           ).astype(np.float32, copy=False)


Detection = tuple[tuple[float, float, float, float], float]


class OnnxMmod(_OnnxModel):
    """dlib's MMOD CNN face detector (``mmod_human_face_detector.dat``) with its
    convolutions run by ONNX Runtime and dlib's image pyramid, coordinate mapping and
    non-max suppression reproduced in numpy (:mod:`faceprint.dlibdnn.mmod`).

    :meth:`detect` gives the boxes and confidences of
    ``dlib.cnn_face_detection_model_v1(path)(image, upsample)``.
    """

    key = "dlib-mmod"

    def __init__(self, *, intra_op_num_threads: int | None = None,
                 providers: str | Sequence[str] | None = None,
                 model_path: str | Path | None = None,
                 source_path: str | Path | None = None) -> None:
        super().__init__(intra_op_num_threads=intra_op_num_threads, providers=providers,
                         model_path=model_path)
        self._source_path = Path(source_path) if source_path is not None else None
        self._net: DlibNet | None = None

    @property
    def net(self) -> DlibNet:
        """The parsed dlib network (its input layer, geometry and MMOD options)."""
        if self._net is None:
            from .reader import read_dlib_net

            self._net = read_dlib_net(self._source_path or weight_path(self.key))
        return self._net

    def detect(self, image: np.ndarray, upsample: int = 0) -> list[Detection]:
        """Faces in an RGB (or grayscale) uint8 ``image`` of shape ``(rows, cols, 3)``
        (or ``(rows, cols)``), after upsampling it ``upsample`` times by 2 as dlib does.

        Returns ``((left, top, right, bottom), confidence)`` per face, best first: dlib
        rectangles in pixels of ``image`` (integer values, right and bottom inclusive)
        and the MMOD score (kept when above 0).
        """
        from . import mmod

        image = np.asarray(image)
        if image.dtype != np.uint8 or image.ndim not in (2, 3) or (
                image.ndim == 3 and image.shape[2] != 3):
            raise ImageError(f"images must be uint8 RGB (rows, cols, 3) or grayscale "
                             f"(rows, cols) arrays; got {image.dtype} {image.shape}")
        if upsample < 0:
            raise ValueError("upsample must be >= 0")
        if image.ndim == 2:
            image = np.repeat(image[:, :, None], 3, axis=2)
        for _ in range(upsample):
            image = mmod.pyramid_up_rgb(image)
        net = self.net
        tiled, rects = mmod.build_tiled_pyramid(image, net.input)
        if not rects or mmod.output_size(net, tiled.shape[1], tiled.shape[2]) is None:
            return []  # too small to hold a face (dlib raises an error here)
        scores = self.session.run(None, {"image": tiled[None]})[0][0]
        from .reader import LossMmod

        assert isinstance(net.loss, LossMmod)
        candidates = mmod.detections_from_scores(scores, net, rects)
        kept = mmod.nms(candidates, net.loss.options.overlaps_nms)
        result: list[Detection] = []
        for rect, score in kept:
            left, top, right, bottom = mmod.rect_down2(rect, upsample) if upsample else rect
            result.append(((float(left), float(top), float(right), float(bottom)), score))
        return result
