"""Recognition over a video: detection every K frames (adaptive by default), the
tracker in between, identity by a quality-weighted vote over each track's
embeddings, and events as they happen.

Adaptive detection (``every=None``) runs the detector on frame 0 and then after an
interval that is:

* **1**, once, after a detection that started a tentative track (a detection that
  matched no track: a new face, to confirm or reject at once); the interval itself
  is kept, so a detection that flickers costs one extra detection, not the schedule;
* **halved** when a confirmed track found no detection (a face leaving, hidden, or
  lost by the tracker);
* at most **2** while a track's box lies within 5 % of the image border (faces enter
  and leave there) or a track still lacks the ``min_votes`` embeddings its name
  needs;
* otherwise **doubled** after each uneventful detection, up to ``max_every``
  (default 10): a still scene costs one detection in ten frames.

``every=K`` detects on every K-th frame instead (K = 1: every frame).
"""

from __future__ import annotations

import time as _time
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Literal

import numpy as np

from ..errors import EmptyGalleryError, UsageError
from ..types import Box, Face
from .flow import flow_boxes
from .flow import gray as flow_gray
from .identity import Evidence, face_quality, lookup, vote
from .source import Frame
from .tracker import Tracker, TrackState, suppress_duplicates

if TYPE_CHECKING:
    from ..gallery import Gallery
    from ..pipeline import Pipeline

EventKind = Literal["appeared", "named", "ended"]


@dataclass(frozen=True, slots=True)
class Observation:
    """Where a track was on one frame: ``detected`` when the detector found it there,
    else the tracker's prediction (``score`` None)."""

    frame: int
    box: Box
    score: float | None
    detected: bool


@dataclass(eq=False)
class Track:
    """One person on screen, from appearing to leaving."""

    id: int
    first_frame: int
    last_frame: int
    name: str | None = None
    distance: float | None = None
    observations: list[Observation] = field(default_factory=list)
    evidence: list[Evidence] = field(default_factory=list)
    #: RGB crop of the best-quality face seen, and its quality and frame
    thumbnail: np.ndarray | None = None
    best_quality: float = 0.0
    best_frame: int | None = None
    ended: bool = False

    @property
    def detections(self) -> list[Observation]:
        return [o for o in self.observations if o.detected]

    def to_dict(self) -> dict[str, object]:
        """The JSON shape of ``faceprint video --json``."""
        return {
            "id": self.id, "name": self.name,
            "distance": None if self.distance is None else round(self.distance, 4),
            "first_frame": self.first_frame, "last_frame": self.last_frame,
            "best_frame": self.best_frame, "embeddings": len(self.evidence),
            "detections": [{"frame": o.frame, "box": o.box.as_list(),
                            "score": None if o.score is None else round(o.score, 4),
                            "detected": o.detected} for o in self.observations],
        }


@dataclass(frozen=True, slots=True)
class Event:
    """Something that happened: a track ``appeared``, was ``named`` (its name changed,
    possibly back to None), or ``ended``. ``name`` and ``distance`` are the track's
    at that moment (``track`` itself goes on changing)."""

    kind: EventKind
    frame: int
    time: float
    track: Track
    name: str | None = None
    distance: float | None = None

    @classmethod
    def of(cls, kind: EventKind, frame: int, time: float, track: Track) -> Event:
        return cls(kind, frame, time, track, track.name, track.distance)

    def __str__(self) -> str:
        who = self.name or "unknown"
        dist = f" (distance {self.distance:.3f})" if (
            self.kind == "named" and self.distance is not None and self.name) else ""
        return f"{self.time:8.2f}s frame {self.frame:6d}  track {self.track.id:3d} " \
               f"{self.kind:8s} {who}{dist}"

    def to_dict(self) -> dict[str, object]:
        return {"event": self.kind, "frame": self.frame, "time": round(self.time, 3),
                "track": self.track.id, "name": self.name,
                "distance": None if self.distance is None else round(self.distance, 4)}


@dataclass(frozen=True, slots=True)
class FrameResult:
    """One processed frame: the tracks on it (with their box there), whether the
    detector ran, and the events it caused."""

    frame: Frame
    tracks: list[tuple[Track, Observation]]
    detected: bool
    events: list[Event]
    #: True for the one result after the last frame, which only ends the tracks
    final: bool = False


class VideoRecognizer:
    """Tracks and names the faces of a stream of frames.

    pipeline: the detector, alignment and embedder (a :class:`faceprint.Pipeline`).
    gallery: who may be named (None: tracks stay unnamed). groups: restrict the
        gallery search to these groups (see :func:`identity.lookup`).
    every: detect every K frames; None (default) adapts it, up to ``max_every``.
    embed: embed the tracks' faces (default: when there is a gallery);
        :func:`faceprint.video.video_embeddings` turns it on without a gallery.
    min_hits, max_age: the tracker's (see :class:`Tracker`).
    min_votes: embeddings that must agree before a name is given.
    max_evidence: embeddings kept per track (the best-quality ones).
    min_quality: faces below this :func:`face_quality` are not embedded.
    detect_width: run the detector on a copy of each frame resized to this width
        (when narrower than the frame); boxes and landmarks are scaled back, and
        faces are aligned and embedded from the full frame. None: the full frame.
    flow: follow each face by optical flow between frames (:mod:`.flow`), a
        measurement for its Kalman filter; False: SORT's constant velocity alone.
    """

    def __init__(self, pipeline: Pipeline, gallery: Gallery | None = None, *,
                 groups: Sequence[str] | None = None, every: int | None = None,
                 max_every: int = 10, embed: bool | None = None, min_hits: int = 2,
                 max_age: int = 25, min_votes: int = 2, max_evidence: int = 12,
                 min_quality: float = 0.1, thumbnail_size: int = 112,
                 detect_width: int | None = None, flow: bool = True) -> None:
        if every is not None and every < 1:
            raise ValueError("every must be at least 1 frame")
        if max_every < 1:
            raise ValueError("max_every must be at least 1 frame")
        self.pipeline = pipeline
        self.gallery = gallery
        self.groups = list(groups or [])
        if self.groups and gallery is None:
            raise UsageError("--group needs a gallery (--db)")
        if gallery is not None and gallery.count_faces(pipeline.embedder_name) == 0:
            raise EmptyGalleryError(f"the gallery has no faces embedded with "
                                    f"{pipeline.embedder_name!r}; enroll someone first")
        self.every = every
        self.max_every = max_every
        self.embed = (gallery is not None) if embed is None else embed
        self.min_votes = min_votes
        self.max_evidence = max_evidence
        self.min_quality = min_quality
        self.thumbnail_size = thumbnail_size
        self.detect_width = detect_width
        self.flow = flow
        self._prev_gray: tuple[np.ndarray, float] | None = None
        self.tracker = Tracker(min_hits=min_hits, max_age=max(max_age, 2 * (every or max_every)))
        self.tracks: dict[int, Track] = {}  #: every confirmed track so far, by id
        self.frames = 0
        self.detection_frames = 0
        self.embeddings = 0
        self._interval = 1
        self._confirm_next = False
        self._last_detect: int | None = None

    # -- the schedule -------------------------------------------------------------
    def _should_detect(self, index: int) -> bool:
        if self._last_detect is None:
            return True
        if self.every is not None:
            return index - self._last_detect >= self.every
        if self._confirm_next:
            return True
        return index - self._last_detect >= self._interval

    def _next_interval(self, image_size: tuple[int, int]) -> None:
        if self.every is not None:
            return
        t = self.tracker
        # a new face: look again on the next frame, keeping the interval as it was
        self._confirm_next = any(not s.confirmed for s in t.tracks)
        if self._confirm_next:
            return
        if t.missed_tracks:
            self._interval = max(1, self._interval // 2)
            return
        w, h = image_size
        margin_x, margin_y = 0.05 * w, 0.05 * h
        near_border = any(s.box.left < margin_x or s.box.top < margin_y
                          or s.box.right > w - margin_x or s.box.bottom > h - margin_y
                          for s in t.tracks)
        hungry = self.embed and any(
            len(self._record(s).evidence) < self.min_votes and self._record(s).name is None
            for s in t.tracks)
        doubled = min(self._interval * 2, self.max_every)
        self._interval = min(doubled, 2) if near_border or hungry else doubled

    # -- records ------------------------------------------------------------------
    def _record(self, state: TrackState) -> Track:
        rec = state.record
        if rec is None:
            rec = state.record = Track(state.id, state.first_frame, state.last_seen)
        if state.confirmed and rec.id == 0:
            rec.id = state.id
            self.tracks[state.id] = rec
        return rec

    def _thumbnail(self, image: np.ndarray, box: Box) -> np.ndarray:
        import cv2

        h, w = image.shape[:2]
        pad = 0.2
        b = Box(box.left - pad * box.width, box.top - pad * box.height,
                box.width * (1 + 2 * pad), box.height * (1 + 2 * pad)).clip(w, h)
        crop = image[int(b.top):int(np.ceil(b.bottom)), int(b.left):int(np.ceil(b.right))]
        if crop.size == 0:
            return np.zeros((1, 1, 3), np.uint8)
        scale = self.thumbnail_size / max(crop.shape[:2])
        if scale < 1:
            crop = cv2.resize(crop, (max(1, round(crop.shape[1] * scale)),
                                     max(1, round(crop.shape[0] * scale))),
                              interpolation=cv2.INTER_AREA)
        return np.ascontiguousarray(crop)

    # -- one frame ----------------------------------------------------------------
    def step(self, frame: Frame) -> FrameResult:
        image = frame.image
        h, w = image.shape[:2]
        index = frame.index
        self.frames += 1
        detect = self._should_detect(index)
        faces: list[Face] = []
        if detect:
            faces = self._detect(image)
            keep = suppress_duplicates([f.box for f in faces], [f.score for f in faces])
            faces = [faces[i] for i in sorted(keep)]
            self._last_detect = index
            self.detection_frames += 1
        motion = None
        if self.flow:
            cur = flow_gray(image)
            if self._prev_gray is not None and self.tracker.tracks:
                motion = flow_boxes(self._prev_gray[0], cur[0],
                                    [s.box for s in self.tracker.tracks], cur[1])
            self._prev_gray = cur
        states = self.tracker.step(index, [f.box for f in faces] if detect else None, (w, h),
                                   motion)
        events: list[Event] = []
        for s in self.tracker.ended:
            rec = self._record(s)
            rec.ended = True
            events.append(Event.of("ended", index, frame.time, rec))
        for s in self.tracker.born:
            rec = self._record(s)
            events.append(Event.of("appeared", index, frame.time, rec))
        on_frame: list[tuple[Track, Observation]] = []
        to_embed: list[tuple[Track, Face, float]] = []
        for s in states:
            rec = self._record(s)
            face = faces[s.matched] if s.matched is not None else None
            if detect and face is None and rec.observations:
                # the detector says the face is not there: what the tracker predicted
                # since the track's last detection was not the face either
                while rec.observations and not rec.observations[-1].detected:
                    rec.observations.pop()
            if face is None and s.last_seen < (self._last_detect or 0):
                continue  # missed by the last detection: coasting, not shown or recorded
            obs = Observation(index, s.box, None if face is None else float(face.score),
                              face is not None)
            rec.observations.append(obs)
            rec.last_frame = index if face is not None else rec.last_frame
            if face is None:
                if s.confirmed:
                    on_frame.append((rec, obs))
                continue
            q = face_quality(face)
            if q > rec.best_quality:
                rec.best_quality, rec.best_frame = q, index
                rec.thumbnail = self._thumbnail(image, face.box)
            if (self.embed and q >= self.min_quality and face.landmarks is not None
                    and (len(rec.evidence) < self.max_evidence
                         or q > min(e.quality for e in rec.evidence))):
                to_embed.append((rec, face, q))
            if s.confirmed:
                on_frame.append((rec, obs))
        if to_embed:
            events += self._add_evidence(image, index, frame.time, to_embed)
        if detect:
            self._next_interval((w, h))
        return FrameResult(frame, on_frame, detect, events)

    def _detect(self, image: np.ndarray) -> list[Face]:
        h, w = image.shape[:2]
        if self.detect_width is None or self.detect_width >= w:
            return self.pipeline.detector.detect(image)
        import cv2

        factor = self.detect_width / w
        small = cv2.resize(image, (self.detect_width, max(1, round(h * factor))),
                           interpolation=cv2.INTER_AREA)
        back = 1.0 / factor
        return [replace(f, box=f.box.scaled(back),
                        landmarks=None if f.landmarks is None else f.landmarks.scaled(back))
                for f in self.pipeline.detector.detect(small)]

    def _add_evidence(self, image: np.ndarray, index: int, t: float,
                      items: list[tuple[Track, Face, float]]) -> list[Event]:
        pipe = self.pipeline
        vectors = pipe.embed_faces(image, [f for _, f, _ in items])
        self.embeddings += len(items)
        matches = lookup(self.gallery, pipe.embedder_name, vectors, pipe.metric, self.groups)
        events = []
        for (rec, _face, q), vec, match in zip(items, vectors, matches):
            rec.evidence.append(Evidence(index, vec, q, match))
            if len(rec.evidence) > self.max_evidence:
                rec.evidence.remove(min(rec.evidence, key=lambda e: e.quality))
            if self.gallery is None:
                continue
            verdict = vote(rec.evidence, pipe.threshold, min_votes=self.min_votes)
            changed = verdict.name != rec.name
            rec.name, rec.distance = verdict.name, verdict.distance
            if changed and rec.id > 0:
                events.append(Event.of("named", index, t, rec))
        return events

    def finish(self, frame: int, t: float) -> list[Event]:
        """End every track (the source ended)."""
        events = []
        for s in self.tracker.finish():
            rec = self._record(s)
            rec.ended = True
            events.append(Event.of("ended", frame, t, rec))
        return events

    def run(self, frames: Iterable[Frame]) -> Iterator[FrameResult]:
        """Process frames as they come; the last result carries the final 'ended'
        events (its ``tracks`` empty)."""
        last: Frame | None = None
        for frame in frames:
            last = frame
            result = self.step(frame)
            # a track named while tentative: report the name when it appears
            for e in list(result.events):
                if e.kind == "appeared" and e.track.name is not None:
                    result.events.append(Event.of("named", e.frame, e.time, e.track))
            yield result
        if last is not None:
            yield FrameResult(last, [], False, self.finish(last.index, last.time), final=True)

    def all_tracks(self) -> list[Track]:
        return [self.tracks[k] for k in sorted(self.tracks)]


def watch(source: object, gallery: Gallery | None = None, *,
          pipeline: Pipeline | None = None, groups: Sequence[str] | None = None,
          every: int | None = None, live: bool | None = None,
          **options: object) -> Iterator[Event]:
    """Recognition events of a video source as they happen:
    ``for event in faceprint.video.watch("door.mp4", gallery): print(event)``.

    source: a path, a camera index, a stream URL (see :func:`open_source`) or an
    opened :class:`VideoSource`. pipeline: default ``Pipeline()``. Other options go
    to :class:`VideoRecognizer`.
    """
    from ..pipeline import Pipeline
    from .source import VideoSource, open_source

    src = source if isinstance(source, VideoSource) else open_source(
        source, live=live)  # type: ignore[arg-type]
    rec = VideoRecognizer(pipeline or Pipeline(), gallery, groups=groups, every=every,
                          **options)  # type: ignore[arg-type]
    with src:
        for result in rec.run(src):
            yield from result.events


def process_speed(recognizer: VideoRecognizer, frames: Iterable[Frame]) -> float:
    """Frames per second of ``recognizer`` over ``frames`` (for benchmarks)."""
    start = _time.perf_counter()
    n = sum(1 for _ in recognizer.run(frames))
    return max(n - 1, 0) / max(_time.perf_counter() - start, 1e-9)
