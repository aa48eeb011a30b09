"""The inference runtimes under every model: ONNX Runtime sessions (providers and
their fall-back warnings, threads, CUDA padding, preloaded CUDA libraries) in
:mod:`~faceprint.runtime.onnxrt`, LiteRT interpreters in
:mod:`~faceprint.runtime.litert`, OpenCV DNN networks in
:mod:`~faceprint.runtime.opencv`. No other module of faceprint creates an ONNX
Runtime session, a LiteRT interpreter or an OpenCV DNN network. Importing this
package imports none of the three."""

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
from .opencv import opencv_tflite_net

__all__ = ["CPU", "CUDA", "CUDA_BATCH_SIZES", "CUDA_OPTIONS", "cpu_session",
           "default_threads", "gpu_present", "litert_available", "litert_interpreter",
           "model_metadata", "open_session", "opencv_tflite_net", "resolve_providers",
           "run_batches"]
