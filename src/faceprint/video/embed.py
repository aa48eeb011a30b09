"""The ``video`` embedder mode, for YouTube-Faces-style verification: one embedding
per track, the mean of its best faces' embeddings, comparable like a photo's."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

import numpy as np

from ..errors import NoFaceError
from ..types import Comparison
from .recognize import Track, VideoRecognizer

if TYPE_CHECKING:
    from ..pipeline import Pipeline
    from .source import SourceSpec


def track_embedding(track: Track, *, normalized: bool, top: int = 5) -> np.ndarray:
    """The mean of the embeddings of the track's ``top`` best-quality faces,
    re-normalised to unit length when the embedder's vectors are (``normalized``;
    dlib's ResNet vectors are compared by plain L2 as they are, so their mean is
    left as it is). NoFaceError when the track holds no embedding."""
    if not track.evidence:
        raise NoFaceError(f"track {track.id} has no embedded face")
    best = sorted(track.evidence, key=lambda e: e.quality, reverse=True)[:max(top, 1)]
    mean = np.mean(np.stack([e.vector for e in best]), axis=0).astype(np.float32)
    if normalized:
        mean /= max(float(np.linalg.norm(mean)), 1e-12)
    return mean


def video_embeddings(source: SourceSpec, pipeline: Pipeline | None = None, *, top: int = 5,
                     every: int | None = None) -> list[tuple[Track, np.ndarray]]:
    """Every track of a video file with its :func:`track_embedding`, longest first."""
    from ..pipeline import Pipeline
    from .source import open_source

    pipe = pipeline or Pipeline()
    rec = VideoRecognizer(pipe, None, embed=True, every=every)
    with open_source(source) as src:
        for _ in rec.run(src):
            pass
    tracks = sorted((t for t in rec.all_tracks() if t.evidence),
                    key=lambda t: (-len(t.detections), t.id))
    normalized = bool(pipe.embedder.normalized)
    return [(t, track_embedding(t, normalized=normalized, top=top)) for t in tracks]


def video_embedding(source: SourceSpec, pipeline: Pipeline | None = None, *,
                    top: int = 5) -> np.ndarray:
    """The embedding of a video's main person (its longest track), as for a photo."""
    found = video_embeddings(source, pipeline, top=top)
    if not found:
        raise NoFaceError(f"{source}: no face tracked in the video")
    return found[0][1]


def compare_embeddings(a: np.ndarray, b: np.ndarray, pipeline: Pipeline) -> Comparison:
    """Verify two embeddings (a video's or a photo's) with the pipeline's threshold."""
    return Comparison(pipeline.distance(a, b), pipeline.threshold, pipeline.metric)


def compare_videos(a: SourceSpec, b: SourceSpec, pipeline: Pipeline | None = None,
                   *, top: int = 5) -> Comparison:
    """YouTube-Faces-style verification: are the main people of two videos the same?"""
    from ..pipeline import Pipeline

    pipe = pipeline or Pipeline()
    return compare_embeddings(video_embedding(a, pipe, top=top),
                              video_embedding(b, pipe, top=top), pipe)


__all__: Sequence[str] = ["compare_embeddings", "compare_videos", "track_embedding",
                          "video_embedding", "video_embeddings"]
