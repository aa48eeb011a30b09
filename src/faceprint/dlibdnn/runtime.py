"""ONNX Runtime sessions for the converted dlib networks, and the two model classes.

Sessions are created on first use and shared per process (one per model file, thread
count and provider list).  Execution providers are chosen automatically: CUDA when
``onnxruntime-gpu`` is installed and a device answers, else the CPU; a warning
(:func:`warnings.warn`, ``RuntimeWarning``) says so when CUDA was asked for, or was
expected because ``onnxruntime-gpu`` is installed, but could not be used.
"""

from __future__ import annotations

import os
import threading
import warnings
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from ..errors import ImageError, ModelError, UnknownNameError

if TYPE_CHECKING:
    from .reader import DlibNet

__all__ = ["OnnxMmod", "OnnxResnet", "default_threads", "onnx_model_path", "resolve_providers"]

CUDA = "CUDAExecutionProvider"
CPU = "CPUExecutionProvider"
KEYS = ("dlib-resnet", "dlib-mmod")

_sessions: dict[tuple[str, int, tuple[str, ...]], Any] = {}
_sessions_lock = threading.Lock()


def onnx_model_path(key: str) -> Path:
    """The cached ONNX conversion of dlib weight file ``key`` (``"dlib-resnet"`` or
    ``"dlib-mmod"``), converted on first use (see :mod:`faceprint.dlibdnn.cache`)."""
    if key not in KEYS:
        raise UnknownNameError(f"no ONNX conversion for {key!r}; choose one of: "
                               f"{', '.join(KEYS)}")
    from ..models import weight_path
    from .cache import convert_cached

    return convert_cached(weight_path(key))


def default_threads() -> int:
    """``$FACEPRINT_THREADS`` if set (worker processes set it to share the cores), else
    the number of CPU cores this process may run on."""
    env = os.environ.get("FACEPRINT_THREADS", "")
    if env.isdigit() and int(env) > 0:
        return int(env)
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except (AttributeError, OSError):
        return max(1, os.cpu_count() or 1)


def resolve_providers(requested: str | Sequence[str] | None) -> list[str]:
    """ONNX Runtime execution providers for ``requested``: ``None`` or ``"auto"`` (CUDA
    if available, else CPU), ``"cpu"``, ``"cuda"``, or a list of provider names.
    Providers that are not available are dropped with a warning; the CPU provider is
    always last."""
    import onnxruntime as ort

    available = ort.get_available_providers()
    if requested is None or requested == "auto":
        wanted = [CUDA, CPU] if CUDA in available else [CPU]
    elif requested == "cpu":
        wanted = [CPU]
    elif requested == "cuda":
        wanted = [CUDA, CPU]
    elif isinstance(requested, str):
        wanted = [requested]
    else:
        wanted = list(requested)
    chosen = []
    for name in wanted:
        if name in available:
            if name not in chosen:
                chosen.append(name)
        else:
            warnings.warn(f"ONNX Runtime execution provider {name} was requested but is not "
                          f"available (available: {', '.join(available)}); "
                          + ("install onnxruntime-gpu and a CUDA runtime to use the GPU; "
                             if name == CUDA else "")
                          + "running on the CPU instead", RuntimeWarning, stacklevel=3)
    if CPU in chosen:
        chosen.remove(CPU)
    chosen.append(CPU)
    return chosen


def _session(path: Path, threads: int, providers: list[str]) -> Any:
    key = (str(path), threads, tuple(providers))
    with _sessions_lock:
        session = _sessions.get(key)
        if session is not None:
            return session
        import onnxruntime as ort

        options = ort.SessionOptions()
        options.intra_op_num_threads = threads
        options.inter_op_num_threads = 1
        options.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
        options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
        options.log_severity_level = 3
        try:
            session = ort.InferenceSession(str(path), options, providers=providers)
        except Exception as exc:  # onnxruntime raises its own exception types
            raise ModelError(f"ONNX Runtime cannot load {path}: {exc}") from exc
        if CUDA in providers and CUDA not in session.get_providers():
            warnings.warn("CUDA was expected (onnxruntime-gpu is installed) but no CUDA "
                          "device could be used; running on the CPU", RuntimeWarning,
                          stacklevel=3)
        _sessions[key] = session
        return session


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
        self._session: Any = None
        self._lock = threading.Lock()

    @property
    def session(self) -> Any:
        """The ``onnxruntime.InferenceSession`` (created on first use)."""
        if self._session is None:
            with self._lock:
                if self._session is None:
                    providers = resolve_providers(self._requested_providers)
                    path = self._model_path
                    if path is None:
                        path = onnx_model_path(self.key)
                        try:
                            self._session = _session(path, self.intra_op_num_threads,
                                                     providers)
                        except ModelError:
                            # a damaged cache file: convert again once
                            from ..models import weight_path
                            from .cache import convert_cached

                            path = convert_cached(weight_path(self.key), refresh=True)
                            self._session = _session(path, self.intra_op_num_threads,
                                                     providers)
                    else:
                        self._session = _session(path, self.intra_op_num_threads, providers)
        return self._session

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
        out = np.empty((chips.shape[0], self.dim), np.float32)
        session = self.session
        for start in range(0, chips.shape[0], self.batch_size):
            batch = np.ascontiguousarray(chips[start:start + self.batch_size])
            out[start:start + len(batch)] = session.run(None, {"chips": batch})[0]
        return out


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
            from ..models import weight_path
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
