"""Video: recognise and track faces in files, cameras and streams.

``for event in faceprint.video.watch(source, gallery): print(event)`` yields
recognition events (a track appeared, was named, ended) as they happen. The parts:
:mod:`.source` (files, cameras, streams; decoding in a thread), :mod:`.tracker`
(SORT-style Kalman/IoU tracking), :mod:`.recognize` (adaptive detection, identity
votes, events), :mod:`.embed` (one embedding per track, YouTube-Faces style).
"""

from __future__ import annotations

from .embed import (
                    compare_embeddings,
                    compare_videos,
                    track_embedding,
                    video_embedding,
                    video_embeddings,
)
from .identity import face_quality, lookup, vote
from .recognize import Event, FrameResult, Observation, Track, VideoRecognizer, watch
from .source import Frame, VideoSource, open_source
from .tracker import Tracker

__all__ = [
    "Event", "Frame", "FrameResult", "Observation", "Track", "Tracker", "VideoRecognizer",
    "VideoSource", "compare_embeddings", "compare_videos", "face_quality", "lookup",
    "open_source", "track_embedding", "video_embedding", "video_embeddings", "vote", "watch",
]
