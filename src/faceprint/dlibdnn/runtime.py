"""ONNX Runtime sessions for the converted dlib networks, and the two model classes.

Sessions are created on first use and shared per process (one per model file, thread
count and provider list).  Execution providers are chosen automatically: CUDA when
``onnxruntime-gpu`` is installed and a device answers, else the CPU; a warning
(:func:`warnings.warn`, ``RuntimeWarning``) says so when CUDA was asked for, or was
expected because ``onnxruntime-gpu`` is installed, but could not be used, and when an
NVIDIA GPU is present but the installed ``onnxruntime`` has no CUDA provider.

On CUDA, the libraries that ``pip install onnxruntime-gpu[cuda,cudnn]`` brings are
loaded first (``onnxruntime.preload_dlls``), and TensorFloat-32 is switched off
(:data:`CUDA_OPTIONS`) so that the GPU's results match the CPU's to float32 precision
rather than to TF32's ten-bit mantissa; cuDNN picks convolution algorithms by its
heuristics instead of timing them anew for every batch size, and every session sees one
batch size only (:func:`run_batches`).
"""

from __future__ import annotations

import contextlib
import io
import os
import threading
import warnings
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from ..errors import ImageError, ModelError, UnknownNameError

if TYPE_CHECKING:
    from .reader import DlibNet

__all__ = ["CUDA_BATCH_SIZES", "CUDA_OPTIONS", "OnnxMmod", "OnnxResnet", "default_threads",
           "gpu_present", "onnx_model_path", "open_session", "resolve_providers",
           "run_batches"]

CUDA = "CUDAExecutionProvider"
CPU = "CPUExecutionProvider"
KEYS = ("dlib-resnet", "dlib-mmod")
#: options of ONNX Runtime's CUDA provider: plain float32 arithmetic (no TF32), and
#: cuDNN's heuristic choice of convolution algorithm: the default exhaustive search
#: ran again whenever the batch size changed (0.3-1.2 s each time on an H200), which
#: made a stream of varying batches slower on the GPU than on the CPU
CUDA_OPTIONS = {"use_tf32": "0", "cudnn_conv_algo_search": "HEURISTIC"}
#: on CUDA, batches are padded to one of these sizes (or to the batch size), each size
#: run by a session of its own: the CUDA provider sets its convolutions up again at
#: every change of input shape (50-250 ms a time on an H200, even with heuristics), so
#: a stream of batches of varying sizes through one session ran slower than the CPU
CUDA_BATCH_SIZES = (1, 4, 16, 64)

_sessions: dict[tuple[str, int, tuple[str, ...], int | None], Any] = {}
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


def gpu_present() -> bool:
    """Whether this machine shows an NVIDIA GPU (its driver's device file or ``/proc``
    entry) that ``CUDA_VISIBLE_DEVICES`` does not hide."""
    visible = os.environ.get("CUDA_VISIBLE_DEVICES")
    if visible is not None and visible.strip() in ("", "-1"):
        return False
    gpus = Path("/proc/driver/nvidia/gpus")
    return Path("/dev/nvidia0").exists() or (gpus.is_dir() and any(gpus.iterdir()))


def resolve_providers(requested: str | Sequence[str] | None) -> list[str]:
    """ONNX Runtime execution providers for ``requested``: ``None`` or ``"auto"`` (CUDA
    if available, else CPU), ``"cpu"``, ``"cuda"``, or a list of provider names.
    Providers that are not available are dropped with a warning; the CPU provider is
    always last."""
    import onnxruntime as ort

    available = ort.get_available_providers()
    if requested is None or requested == "auto":
        wanted = [CUDA, CPU] if CUDA in available else [CPU]
        if CUDA not in available and gpu_present():
            warnings.warn("an NVIDIA GPU is present but this onnxruntime has no CUDA "
                          "provider (install onnxruntime-gpu[cuda,cudnn] in place of "
                          "onnxruntime to use it); running on the CPU", RuntimeWarning,
                          stacklevel=3)
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


_preloaded = False


def _preload_cuda(ort: Any) -> None:
    """Load the CUDA and cuDNN libraries of the ``nvidia-*`` pip packages, once, so
    that the CUDA provider finds them without ``LD_LIBRARY_PATH`` (onnxruntime 1.21+;
    a failure here shows up as the CPU fallback warning of :func:`open_session`)."""
    global _preloaded
    if _preloaded:
        return
    _preloaded = True
    preload = getattr(ort, "preload_dlls", None)
    if preload is not None:
        with contextlib.suppress(Exception), contextlib.redirect_stdout(io.StringIO()):
            preload()


def open_session(path: Path, threads: int, providers: list[str],
                 batch: int | None = None) -> Any:
    """The process-wide ONNX Runtime session of ``path`` for this thread count and
    provider list (and, on CUDA, for batches of size ``batch`` alone: see
    :func:`run_batches`); created once; ModelError when the file cannot be loaded.
    Warns when CUDA was among ``providers`` but the session could not use it."""
    key = (str(Path(path).resolve()), threads, tuple(providers), batch)
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
        with_options: list[Any] = [(name, CUDA_OPTIONS) if name == CUDA else name
                                   for name in providers]
        if CUDA in providers:
            _preload_cuda(ort)
        try:
            session = ort.InferenceSession(str(path), options, providers=with_options)
        except Exception as exc:  # onnxruntime raises its own exception types
            raise ModelError(f"ONNX Runtime cannot load {path}: {exc}") from exc
        if CUDA in providers and CUDA not in session.get_providers():
            warnings.warn("CUDA was expected (onnxruntime-gpu is installed) but no CUDA "
                          "device could be used; running on the CPU", RuntimeWarning,
                          stacklevel=3)
        _sessions[key] = session
        return session


def run_batches(session_for: Callable[[int | None], Any], feed: str, x: np.ndarray,
                batch_size: int, prepare: Callable[[np.ndarray], np.ndarray] | None = None
                ) -> np.ndarray:
    """The network's first output for the rows of ``x``, run ``batch_size`` rows at a
    time (each batch passed through ``prepare`` first, when given).

    ``session_for(None)`` is the model's session. When it runs on CUDA, each batch is
    padded with zeros to the next of :data:`CUDA_BATCH_SIZES` (or to ``batch_size``)
    and run by ``session_for(size)``, that size's own session, and the padding's rows
    are dropped. Rows do not affect one another, so the padding changes no result.
    """
    on_cuda = session_for(None).get_providers()[0] == CUDA
    sizes = sorted({b for b in CUDA_BATCH_SIZES if b < batch_size} | {batch_size})
    outs = []
    for start in range(0, len(x), batch_size):
        part = x[start:start + batch_size]
        part = np.ascontiguousarray(prepare(part) if prepare is not None else part)
        if on_cuda:
            size = next(b for b in sizes if b >= len(part))
            padded = np.zeros((size, *part.shape[1:]), part.dtype)
            padded[:len(part)] = part
            outs.append(session_for(size).run(None, {feed: padded})[0][:len(part)])
        else:
            outs.append(session_for(None).run(None, {feed: part})[0])
    return np.concatenate(outs) if outs else np.empty((0,), np.float32)


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
        self._providers: list[str] = []
        self._path: Path | None = None
        self._lock = threading.Lock()

    @property
    def session(self) -> Any:
        """The ``onnxruntime.InferenceSession`` (created on first use)."""
        return self.session_for(None)

    def session_for(self, batch: int | None) -> Any:
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
                            from ..models import weight_path
                            from .cache import convert_cached

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
