"""Video sources: files, cameras and network streams, decoded in their own thread.

:func:`open_source` takes a file path, a camera index (an ``int`` or a string of
digits) or a URL that OpenCV's FFmpeg backend opens (``rtsp://``, ``http://`` ...;
only what the user names is opened, nothing is fetched otherwise). The returned
:class:`VideoSource` decodes in a background thread into a bounded queue:

* a **file** is read completely: when the queue is full the decoder waits, and no
  frame is ever dropped;
* a **live** source (a camera, a stream URL, a FIFO, or ``live=True``) never lets
  lag grow: when the consumer falls behind, the oldest queued frame is dropped and
  counted in :attr:`VideoSource.dropped`.

A stream that ends ends the iteration; a stream that stalls (no frame for
``read_timeout`` seconds) ends it too, with :attr:`VideoSource.end_reason` saying
so. Iteration never hangs: the consumer waits on the queue with that timeout,
whatever FFmpeg does inside its own thread.
"""

from __future__ import annotations

import contextlib
import os
import queue
import stat
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from ..errors import VideoError

#: URL schemes handed to FFmpeg as network streams
STREAM_SCHEMES = ("rtsp://", "rtsps://", "rtmp://", "http://", "https://", "udp://", "tcp://",
                  "srt://")

SourceSpec = str | int | os.PathLike[str]


@dataclass(frozen=True, slots=True)
class Frame:
    """One decoded frame: ``index`` counts decoded frames from 0 (dropped frames leave
    gaps), ``time`` is seconds from the start (the stream's timestamp when it has
    one, else ``index / fps``), ``image`` is RGB ``uint8`` ``(H, W, 3)``."""

    index: int
    time: float
    image: np.ndarray


def _quiet_opencv() -> None:
    import cv2

    # OpenCV's own warnings (e.g. "can't open camera by index") are not ours to print
    with contextlib.suppress(AttributeError):
        cv2.setLogLevel(0)  # type: ignore[attr-defined]


def describe(spec: SourceSpec) -> str:
    if isinstance(spec, int):
        return f"camera {spec}"
    return os.fspath(spec)


def is_stream_url(spec: SourceSpec) -> bool:
    return isinstance(spec, str) and spec.lower().startswith(STREAM_SCHEMES)


class VideoSource:
    """An opened video source; iterate it for :class:`Frame` objects (once).

    Use as a context manager, or call :meth:`close`. ``queue_size`` bounds the
    frames decoded ahead; ``read_timeout`` (seconds) ends a stalled source.
    """

    def __init__(self, cap: Any, spec: SourceSpec, *, live: bool, queue_size: int = 8,
                 read_timeout: float = 10.0) -> None:
        import cv2

        if queue_size < 1:
            raise ValueError("queue_size must be at least 1")
        self._cap = cap
        self.spec = spec
        self.name = describe(spec)
        self.live = live
        self.read_timeout = read_timeout
        fps = float(cap.get(cv2.CAP_PROP_FPS) or 0.0)
        self.fps: float = fps if 0.0 < fps < 1000.0 else 25.0
        count = int(cap.get(cv2.CAP_PROP_FRAME_COUNT) or 0)
        #: frames the container says it holds (None for live sources or when unknown)
        self.frame_count: int | None = count if count > 0 and not live else None
        self.width = int(cap.get(cv2.CAP_PROP_FRAME_WIDTH) or 0)
        self.height = int(cap.get(cv2.CAP_PROP_FRAME_HEIGHT) or 0)
        #: frames decoded, and frames dropped because the consumer fell behind (live only)
        self.decoded = 0
        self.dropped = 0
        #: why the frames ended: "end", "stalled", "closed" or "error: ..."; None while running
        self.end_reason: str | None = None
        self._queue: queue.Queue[Frame | None] = queue.Queue(maxsize=queue_size)
        self._stop = threading.Event()
        self._lock = threading.Lock()
        self._thread: threading.Thread | None = None
        self._decode_error: str | None = None
        self._done = False

    # -- the decoding thread ------------------------------------------------------
    def _put(self, item: Frame | None) -> None:
        if self.live and item is not None:
            while True:
                try:
                    self._queue.put_nowait(item)
                    return
                except queue.Full:
                    try:  # drop the oldest frame rather than let the lag grow
                        self._queue.get_nowait()
                        with self._lock:
                            self.dropped += 1
                    except queue.Empty:
                        pass
        while not self._stop.is_set():
            try:
                self._queue.put(item, timeout=0.1)
                return
            except queue.Full:  # the end marker waits for room: frames queued stay
                continue

    def _decode(self) -> None:
        import cv2

        cap = self._cap
        index = 0
        try:
            while not self._stop.is_set():
                ok, bgr = cap.read()
                if not ok or bgr is None:
                    break
                pos = cap.get(cv2.CAP_PROP_POS_MSEC)
                t = float(pos) / 1000.0 if pos and pos > 0 else index / self.fps
                rgb = cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB)
                with self._lock:
                    self.decoded += 1
                self._put(Frame(index, t, rgb))
                index += 1
        except Exception as exc:  # reported to the consumer, not lost
            self._decode_error = f"{type(exc).__name__}: {exc}"
        finally:
            self._put(None)

    def _start(self) -> None:
        if self._thread is None:
            self._thread = threading.Thread(target=self._decode, name="faceprint-decode",
                                            daemon=True)
            self._thread.start()

    # -- the consumer -------------------------------------------------------------
    def __iter__(self) -> Iterator[Frame]:
        if self._done:
            raise VideoError(f"{self.name}: the source was already read or closed")
        self._start()
        try:
            while True:
                try:
                    item = self._queue.get(timeout=self.read_timeout)
                except queue.Empty:
                    self.end_reason = f"stalled (no frame for {self.read_timeout:g} s)"
                    return
                if item is None:
                    self.end_reason = (f"error: {self._decode_error}" if self._decode_error
                                       else "end")
                    return
                yield item
        finally:
            self._done = True
            self.close()

    @property
    def truncated(self) -> bool:
        """True when a file ended before the frame count its container states."""
        return (self.frame_count is not None and self.end_reason == "end"
                and self.decoded < self.frame_count - 1)

    def close(self) -> None:
        """Stop decoding and release the source. A decoder stuck inside FFmpeg is left
        to its read timeout (its thread is a daemon) rather than waited for."""
        self._stop.set()
        if self.end_reason is None:
            self.end_reason = "closed"
        thread = self._thread
        if thread is not None and thread.is_alive():
            thread.join(timeout=1.0)
        if thread is None or not thread.is_alive():
            with contextlib.suppress(Exception):  # releasing is best effort
                self._cap.release()
        self._done = True

    def __enter__(self) -> VideoSource:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _camera_index(spec: SourceSpec) -> int | None:
    if isinstance(spec, bool):
        return None
    if isinstance(spec, int):
        return spec
    if isinstance(spec, str) and spec.strip().isdigit():
        return int(spec.strip())
    return None


def open_source(spec: SourceSpec, *, live: bool | None = None, queue_size: int = 8,
                read_timeout: float = 10.0, open_timeout: float = 10.0) -> VideoSource:
    """Open a file path, a camera index or a stream URL; VideoError (exit status 3)
    when it cannot be opened (a file that is no video, a truncated file
    whose index is lost, a camera that does not exist, a stream that does not answer).

    live: drop frames rather than lag (default: True for cameras, URLs and FIFOs,
    False for files). read_timeout / open_timeout: seconds before a stalled stream
    ends / a stream that does not answer is an error.
    """
    import cv2

    _quiet_opencv()
    camera = _camera_index(spec)
    params = [cv2.CAP_PROP_OPEN_TIMEOUT_MSEC, int(open_timeout * 1000),
              cv2.CAP_PROP_READ_TIMEOUT_MSEC, int(read_timeout * 1000)]
    if camera is not None:
        if camera < 0:
            raise VideoError(f"camera index must be >= 0, got {camera}")
        cap = cv2.VideoCapture(camera)
        if not cap.isOpened():
            cap.release()
            raise VideoError(f"camera {camera} does not exist or cannot be opened")
        is_live = True
    elif is_stream_url(spec):
        url = str(spec)
        cap = _open_with_timeout(url, params, open_timeout)
        is_live = True
    else:
        path = Path(os.fspath(spec)) if not isinstance(spec, int) else Path(str(spec))
        if not path.exists():
            raise VideoError(f"{path}: no such file")
        mode = path.stat().st_mode
        if stat.S_ISDIR(mode):
            raise VideoError(f"{path}: is a folder, not a video")
        is_live = stat.S_ISFIFO(mode)
        if is_live:
            cap = _open_with_timeout(str(path), params, open_timeout)
        else:
            if path.stat().st_size == 0:
                raise VideoError(f"{path}: empty file, not a video")
            cap = cv2.VideoCapture(str(path), cv2.CAP_FFMPEG, params)
            if not cap.isOpened():
                cap.release()
                raise VideoError(f"{path}: not a video OpenCV/FFmpeg can read "
                                 "(not a video file, an unknown format, or truncated)")
    if cap.get(cv2.CAP_PROP_FRAME_WIDTH) <= 0 and camera is None:
        cap.release()
        raise VideoError(f"{describe(spec)}: no video stream in it")
    return VideoSource(cap, spec, live=is_live if live is None else live,
                       queue_size=queue_size, read_timeout=read_timeout)


def _open_with_timeout(target: str, params: list[int], timeout: float) -> Any:
    """cv2.VideoCapture on a stream or FIFO, in a thread so that a peer that never
    answers is an error after ``timeout`` seconds, not a hang."""
    import cv2

    result: list[Any] = []

    def run() -> None:
        result.append(cv2.VideoCapture(target, cv2.CAP_FFMPEG, params))

    thread = threading.Thread(target=run, name="faceprint-open", daemon=True)
    thread.start()
    thread.join(timeout + 1.0)
    if not result:
        raise VideoError(f"{target}: no answer within {timeout:g} s")
    cap = result[0]
    if not cap.isOpened():
        cap.release()
        raise VideoError(f"{target}: cannot open the stream (not reachable, or not a video "
                         "FFmpeg can read)")
    return cap

