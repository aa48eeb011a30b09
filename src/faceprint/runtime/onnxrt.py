"""ONNX Runtime: the one place faceprint creates sessions.

Sessions of model files are created on first use and shared per process (one per
file, thread count, provider list and, on CUDA, batch size). Execution providers are
chosen automatically: CUDA when ``onnxruntime-gpu`` is installed and a device
answers, else the CPU; a warning (:func:`warnings.warn`, ``RuntimeWarning``) says so
when CUDA was asked for, or was expected because ``onnxruntime-gpu`` is installed,
but could not be used, and when an NVIDIA GPU is present but the installed
``onnxruntime`` has no CUDA provider.

On CUDA, the libraries that ``pip install onnxruntime-gpu[cuda,cudnn]`` brings are
loaded first (``onnxruntime.preload_dlls``), and TensorFloat-32 is switched off
(:data:`CUDA_OPTIONS`) so that the GPU's results match the CPU's to float32 precision
rather than to TF32's ten-bit mantissa; cuDNN picks convolution algorithms by its
heuristics instead of timing them anew for every batch size, and every session sees
one batch size only (:func:`run_batches`).

Small graphs built in memory (MTCNN's networks) get CPU sessions of their own from
:func:`cpu_session`; :func:`model_metadata` reads a model file's metadata.
Importing this module does not import onnxruntime.
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

from ..errors import ModelError

if TYPE_CHECKING:
    from onnxruntime import InferenceSession, SessionOptions

__all__ = ["CPU", "CUDA", "CUDA_BATCH_SIZES", "CUDA_OPTIONS", "cpu_session",
           "default_threads", "gpu_present", "model_metadata", "open_session",
           "resolve_providers", "run_batches"]

CUDA = "CUDAExecutionProvider"
CPU = "CPUExecutionProvider"
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

_sessions: dict[tuple[str, int, tuple[str, ...], int | None], InferenceSession] = {}
_sessions_lock = threading.Lock()


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


def _options(threads: int, spinning: bool = True) -> SessionOptions:
    """Session options: ``threads`` intra-op threads, sequential execution, every graph
    optimisation, only errors logged; ``spinning=False`` lets idle threads sleep."""
    import onnxruntime as ort

    options = ort.SessionOptions()
    options.intra_op_num_threads = threads
    options.inter_op_num_threads = 1
    options.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
    options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    if not spinning:
        options.add_session_config_entry("session.intra_op.allow_spinning", "0")
    options.log_severity_level = 3
    return options


def open_session(path: Path, threads: int, providers: list[str],
                 batch: int | None = None) -> InferenceSession:
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

        options = _options(threads)
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


def cpu_session(model: bytes | str | Path, threads: int = 1, *, spinning: bool = False,
                initializers: dict[str, np.ndarray] | None = None) -> InferenceSession:
    """A new CPU session of a serialised ONNX model (``bytes``) or a model file, with
    ``threads`` intra-op threads (idle threads sleep unless ``spinning``). Not shared:
    the caller keeps it. ``initializers`` replace the model's initializers of those
    names with the caller's arrays, not copied into the model (the session keeps a
    reference to them). Errors are onnxruntime's own (the caller words them)."""
    import onnxruntime as ort

    options = _options(threads, spinning)
    values = {name: ort.OrtValue.ortvalue_from_numpy(np.ascontiguousarray(array))
              for name, array in (initializers or {}).items()}
    for name, value in values.items():
        options.add_initializer(name, value)
    source = model if isinstance(model, bytes) else str(model)
    session = ort.InferenceSession(source, sess_options=options, providers=[CPU])
    session._faceprint_initializers = values  # keep them alive
    return session


def model_metadata(path: str | Path) -> dict[str, str]:
    """The ``metadata_props`` of an ONNX model file (ModelError when it cannot be read)."""
    p = Path(path)
    if not p.is_file():
        raise ModelError(f"{p}: ONNX model file not found")
    try:
        session = cpu_session(p)
    except Exception as exc:  # onnxruntime raises its own exception types
        raise ModelError(f"{p}: not a readable ONNX model ({exc})") from None
    return dict(session.get_modelmeta().custom_metadata_map)


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
