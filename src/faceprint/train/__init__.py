"""Training face-embedding networks (FaceNet's triplet loss with online mining,
ArcFace, distillation from a teacher embedder) and exporting them to ONNX.

Needs PyTorch (the ``train`` extra: ``pip install -c constraints.txt
'faceprint[train]'``). Only the commands' parsers (:mod:`faceprint.cli.train`),
:mod:`faceprint.train.data` and :mod:`faceprint.train.sampler` import without it;
the rest of faceprint never imports this package.
"""

TORCH_HINT = "pip install -c constraints.txt 'faceprint[train]'"
