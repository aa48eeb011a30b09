"""A third-party ONNX network, rewritten once for ONNX Runtime (see
:mod:`faceprint.onnx_rewrite`) and run through faceprint's shared sessions."""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any

import numpy as np


class RewrittenNet:
    """Weight file ``key`` (:data:`faceprint.weights.WEIGHTS`) rewritten by ``rewrite``
    (cached under ``tag``) and run by ONNX Runtime on ``threads`` threads (default
    ``$FACEPRINT_THREADS`` or every core) with ``providers`` (``"auto"``, ``"cpu"``,
    ``"cuda"``)."""

    def __init__(self, key: str, tag: str, rewrite: Callable[[Any], Any], *,
                 threads: int | None = None, providers: str | None = None) -> None:
        self.key, self.tag, self.rewrite = key, tag, rewrite
        self.threads = threads
        self.requested_providers = providers
        self._session: Any = None
        self._lock = threading.Lock()

    @property
    def session(self) -> Any:
        if self._session is None:
            with self._lock:
                if self._session is None:
                    from ..onnx_rewrite import rewritten_path
                    from ..runtime import default_threads, open_session, resolve_providers
                    from ..weights import weight_path

                    path = rewritten_path(weight_path(self.key), self.tag, self.rewrite)
                    self._session = open_session(path, self.threads or default_threads(),
                                                 resolve_providers(self.requested_providers))
        return self._session

    @property
    def providers(self) -> list[str]:
        return list(self.session.get_providers())

    def run(self, feed: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        """All outputs by name."""
        session = self.session
        names = [o.name for o in session.get_outputs()]
        return dict(zip(names, session.run(names, feed)))


def nms(boxes: np.ndarray, scores: np.ndarray, iou: float) -> list[int]:
    """Greedy non-maximum suppression of ``(N, 4)`` ``(left, top, width, height)``
    boxes: indices kept, best score first (OpenCV's ``dnn.NMSBoxes``)."""
    import cv2

    if len(boxes) == 0:
        return []
    keep = cv2.dnn.NMSBoxes(boxes.astype(np.float64).tolist(), scores.astype(float).tolist(),
                            0.0, iou)
    return [int(i) for i in np.asarray(keep).reshape(-1)]


def fit_scale(height: int, width: int, max_side: int, upsample: int) -> float:
    """The scale an image is resized by before detection: ``2**upsample``, reduced so
    that the longer side stays within ``max_side`` pixels (never enlarged by it)."""
    scale = float(2 ** upsample)
    longest = max(height, width) * scale
    if longest > max_side:
        scale *= max_side / longest
    return scale
