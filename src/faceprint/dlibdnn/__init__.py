"""dlib's serialized deep networks, read by faceprint and run with ONNX Runtime.

dlib's prebuilt wheels run the ResNet face descriptor at about 150 ms per face on one
core and the MMOD CNN detector at seconds per image.  This package reads dlib's own
``.dat`` files (:mod:`~faceprint.dlibdnn.reader`), converts them to ONNX
(:mod:`~faceprint.dlibdnn.to_onnx`), caches the result per user
(:mod:`~faceprint.dlibdnn.cache`) and runs the same networks with ONNX Runtime,
giving dlib's numbers:

* :class:`OnnxResnet` -- 128-d descriptors of 150x150 face chips;
* :class:`OnnxMmod` -- MMOD face boxes and confidences (the pyramid, coordinate mapping
  and non-max suppression are in :mod:`~faceprint.dlibdnn.mmod`).

Importing this package loads nothing; models are converted and sessions created on
first use.
"""

from __future__ import annotations

from ..runtime.onnxrt import default_threads, resolve_providers
from .networks import OnnxMmod, OnnxResnet, onnx_model_path

__all__ = ["OnnxMmod", "OnnxResnet", "default_threads", "onnx_model_path", "resolve_providers"]
