"""The inference runtimes under every model: ONNX Runtime sessions (providers and
their fall-back warnings, threads, CUDA padding, preloaded CUDA libraries) in
:mod:`~faceprint.runtime.onnxrt`, LiteRT interpreters in
:mod:`~faceprint.runtime.litert`. No other module of faceprint creates an ONNX
Runtime session or a LiteRT interpreter. Importing this package imports neither
runtime."""

from __future__ import annotations

from .litert import litert_available, litert_interpreter
from .onnxrt import (
    CPU,
    CUDA,
    CUDA_BATCH_SIZES,
    CUDA_OPTIONS,
    cpu_session,
    default_threads,
    gpu_present,
    model_metadata,
    open_session,
    resolve_providers,
    run_batches,
)

__all__ = ["CPU", "CUDA", "CUDA_BATCH_SIZES", "CUDA_OPTIONS", "cpu_session",
           "default_threads", "gpu_present", "litert_available", "litert_interpreter",
           "model_metadata", "open_session", "resolve_providers", "run_batches"]
