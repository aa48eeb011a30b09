"""faceprint.video: sources, the tracker, recognition over real video, the CLI.

The clips are real: the shared 1080p clip (``../shared/data/video/video.mp4``) and
short clips written here with cv2.VideoWriter from LFW photos moved across a frame,
whose ground truth (who is where on which frame) is known by construction.
"""

from __future__ import annotations

import csv
import http.server
import json
import os
import socketserver
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import cv2
import numpy as np
import pytest

from conftest import require_data
from faceprint.cli import main
from faceprint.errors import VideoError
from faceprint.gallery.sqlite import SqliteGallery
from faceprint.image import load_image
from faceprint.pipeline import Pipeline
from faceprint.types import Box
from faceprint.video import (
    Tracker,
    VideoRecognizer,
    compare_embeddings,
    open_source,
    video_embeddings,
    watch,
)

W, H, FPS = 640, 480, 10
SIZE = 170  # the LFW photo's side on the clip
A_NAME, B_NAME = "Colin_Powell", "Tony_Blair"
A_FRAMES, B_FRAMES = range(0, 30), range(10, 40)


def _a_pos(i: int) -> tuple[int, int]:
    return 10 + 12 * i, 20  # top row, moving right


def _b_pos(i: int) -> tuple[int, int]:
    return W - SIZE - 10 - 12 * (i - 10), H - SIZE - 20  # bottom row, moving left


def _photo(lfw: Path, name: str, n: int) -> np.ndarray:
    img = load_image(lfw / "images" / name / f"{name}_{n:04d}.jpg")
    return cv2.resize(img[30:220, 30:220], (SIZE, SIZE), interpolation=cv2.INTER_AREA)


def write_clip(path: Path, frames: list[np.ndarray], fps: float = FPS,
               fourcc: str = "mp4v") -> Path:
    h, w = frames[0].shape[:2]
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter.fourcc(*fourcc), fps, (w, h))
    assert writer.isOpened()
    for f in frames:
        writer.write(cv2.cvtColor(f, cv2.COLOR_RGB2BGR))
    writer.release()
    return path


def lfw_frames(lfw: Path) -> list[np.ndarray]:
    """40 frames: A (photo 1) crosses the top row on frames 0-29, B (photo 1) the
    bottom row on frames 10-39, over a fixed textured background."""
    rng = np.random.default_rng(0)
    background = cv2.GaussianBlur(rng.integers(60, 200, (H, W, 3), dtype=np.uint8), (9, 9), 3)
    a, b = _photo(lfw, A_NAME, 1), _photo(lfw, B_NAME, 1)
    frames = []
    for i in range(40):
        f = background.copy()
        if i in A_FRAMES:
            x, y = _a_pos(i)
            f[y:y + SIZE, x:x + SIZE] = a
        if i in B_FRAMES:
            x, y = _b_pos(i)
            f[y:y + SIZE, x:x + SIZE] = b
        frames.append(f)
    return frames


@pytest.fixture(scope="module")
def lfw() -> Path:
    return require_data("lfw")


@pytest.fixture(scope="module")
def clip(lfw: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_clip(tmp_path_factory.mktemp("clip") / "lfw.mp4", lfw_frames(lfw))


@pytest.fixture(scope="module")
def pipe() -> Pipeline:
    return Pipeline()


@pytest.fixture(scope="module")
def gallery_a(lfw: Path, pipe: Pipeline, tmp_path_factory: pytest.TempPathFactory
              ) -> Iterator[Path]:
    """A gallery holding A from a photo that is not on the clip."""
    db = tmp_path_factory.mktemp("gallery") / "g.db"
    with SqliteGallery(db) as g:
        pipe.enroll(g, A_NAME, [lfw / "images" / A_NAME / f"{A_NAME}_0002.jpg"])
    yield db


# -- the tracker alone --------------------------------------------------------------
def test_tracker_ids_are_stable_born_after_min_hits_and_removed_after_max_age() -> None:
    tr = Tracker(min_hits=2, max_age=5)
    a = [Box(10 + 5 * i, 10, 40, 40) for i in range(20)]
    b = [Box(300 - 5 * i, 200, 50, 50) for i in range(20)]
    ids_a, ids_b = set(), set()
    for i in range(12):
        tracks = tr.step(i, [a[i], b[i]])
        if i == 0:
            assert not tr.born and all(not t.confirmed for t in tracks)
        for t in tracks:
            if t.confirmed and t.matched == 0:
                ids_a.add(t.id)
            if t.confirmed and t.matched == 1:
                ids_b.add(t.id)
    assert ids_a == {1} and ids_b == {2}
    # b leaves: its track lives max_age frames unseen, then ends
    for i in range(12, 12 + 5):
        tr.step(i, [a[i]])
        assert not tr.ended
    tr.step(17, [a[17]])
    assert [t.id for t in tr.ended] == [2]
    # a false detection seen once never becomes a track
    tr.step(18, [a[18], Box(500, 400, 30, 30)])
    tr.step(19, [a[19]])
    assert {t.id for t in tr.tracks} == {1}


def test_tracker_matches_a_face_that_moved_between_sparse_detections() -> None:
    tr = Tracker(min_hits=2, max_age=30)
    for i in range(3):
        tr.step(i, [Box(100 + 4 * i, 100, 40, 40)])
    # ten frames without detection, then the face is 40 px further: still track 1
    for i in range(3, 13):
        tr.step(i, None)
    tr.step(13, [Box(100 + 4 * 13, 100, 40, 40)])
    assert [(t.id, t.matched) for t in tr.tracks] == [(1, 0)]


# -- recognition on the LFW clip (known ground truth) --------------------------------
def _truth(i: int, box: Box) -> str | None:
    """Which person's square contains the centre of ``box`` on frame ``i``."""
    cx, cy = box.center
    for name, frames, pos in ((A_NAME, A_FRAMES, _a_pos), (B_NAME, B_FRAMES, _b_pos)):
        if i in frames:
            x, y = pos(i)
            if x <= cx <= x + SIZE and y <= cy <= y + SIZE:
                return name
    return None


@pytest.mark.parametrize("every", [None, 1, 5])
def test_lfw_clip_two_tracks_right_frames_and_names(clip: Path, gallery_a: Path,
                                                    pipe: Pipeline, every: int | None) -> None:
    with SqliteGallery(gallery_a) as g, open_source(clip) as src:
        rec = VideoRecognizer(pipe, g, every=every)
        results = list(rec.run(src))
    assert len(results) == 41 and results[-1].final
    tracks = rec.all_tracks()
    assert [t.id for t in tracks] == [1, 2]
    a, b = tracks
    # every box of a track lies on its own person: no id switch
    for track, who in ((a, A_NAME), (b, B_NAME)):
        assert all(_truth(o.frame, o.box) == who for o in track.observations)
    assert a.first_frame <= 2 and a.last_frame >= 25
    # B appears (in mid-frame) on frame 10: found by the next detection
    assert 10 <= b.first_frame <= 10 + (every or rec.max_every) + 1 and b.last_frame >= 35
    assert a.name == A_NAME and a.distance is not None and a.distance <= pipe.threshold
    assert b.name is None  # B is not enrolled
    assert a.thumbnail is not None and a.thumbnail.shape[2] == 3
    if every == 5:
        assert rec.detection_frames <= 12


def test_watch_yields_events_as_they_happen(clip: Path, gallery_a: Path) -> None:
    with SqliteGallery(gallery_a) as g:
        events = [(e.kind, e.track.id, e.name, e.frame) for e in watch(clip, g)]
    kinds = [(k, t) for k, t, _, _ in events]
    assert kinds.index(("appeared", 1)) < kinds.index(("named", 1)) < kinds.index(("ended", 1))
    assert ("appeared", 2) in kinds and ("ended", 2) in kinds and ("named", 2) not in kinds
    named = [e for e in events if e[0] == "named"]
    assert named[0][2] == A_NAME and named[0][3] <= 10
    ended_a = next(e for e in events if e[0] == "ended" and e[1] == 1)
    assert 29 <= ended_a[3] <= 40  # ends once A has left (frame 30), before the clip ends


def test_video_embedding_compares_like_a_photo(clip: Path, lfw: Path, pipe: Pipeline) -> None:
    found = video_embeddings(clip, pipe)
    assert len(found) == 2
    by_name = {_truth(t.detections[0].frame, t.detections[0].box): v for t, v in found}
    photo_a = pipe.embed_largest(lfw / "images" / A_NAME / f"{A_NAME}_0003.jpg").embedding
    photo_b = pipe.embed_largest(lfw / "images" / B_NAME / f"{B_NAME}_0002.jpg").embedding
    assert compare_embeddings(by_name[A_NAME], photo_a, pipe).same
    assert compare_embeddings(by_name[B_NAME], photo_b, pipe).same
    assert not compare_embeddings(by_name[A_NAME], photo_b, pipe).same
    between = compare_embeddings(by_name[A_NAME], by_name[B_NAME], pipe).distance
    assert compare_embeddings(by_name[A_NAME], photo_a, pipe).distance < between
    assert compare_embeddings(by_name[B_NAME], photo_b, pipe).distance < between


# -- the shared 1080p clip -------------------------------------------------------------
#: frame 60 of the shared clip, the man in the blue hoodie (track 3 in docs/video.md),
#: found by `faceprint video ../shared/data/video/video.mp4 --json tracks.json`
ENROL_FRAME, ENROL_AT = 60, (952.0, 740.0)


@pytest.mark.slow
def test_shared_clip_enrolled_face_is_named_on_its_track_and_nobody_else(
        pipe: Pipeline, tmp_path: Path) -> None:
    path = require_data("video", "video.mp4")
    with open_source(path) as src:
        frames = {f.index: f.image for f in src if f.index == ENROL_FRAME}
    image = frames[ENROL_FRAME]
    faces = pipe.detector.detect(image)
    face = min(faces, key=lambda f: np.hypot(f.box.center[0] - ENROL_AT[0],
                                             f.box.center[1] - ENROL_AT[1]))
    assert face.box.iou(Box(912, 684, 81, 112)) > 0.5
    with SqliteGallery(tmp_path / "g.db") as g:
        g.add_faces("Hoodie", pipe.embedder_name, pipe.embed_faces(image, [face]))
        with open_source(path) as src:
            rec = VideoRecognizer(pipe, g)
            results = list(rec.run(src))
    assert len(results) == 106
    tracks = rec.all_tracks()
    named = [t for t in tracks if t.name is not None]
    assert [t.name for t in named] == ["Hoodie"]
    mine = named[0]
    assert any(o.frame == ENROL_FRAME and o.box.iou(face.box) > 0.5 for o in mine.observations)
    assert mine.first_frame <= 2 and mine.last_frame >= 100  # on screen throughout
    assert 6 <= len(tracks) <= 20


# -- sources: bad input and streams ---------------------------------------------------
def _cli(args: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    code = main(args)
    out = capsys.readouterr()
    return code, out.out, out.err


def test_camera_that_does_not_exist_is_a_clear_error(capsys: pytest.CaptureFixture[str]
                                                     ) -> None:
    with pytest.raises(VideoError, match="camera 37 does not exist"):
        open_source(37)
    code, _, err = _cli(["video", "--camera", "37"], capsys)
    assert code == 3 and err.strip().splitlines() == [
        "faceprint: camera 37 does not exist or cannot be opened"]


def test_files_that_are_not_videos_are_clear_errors(tmp_path: Path,
                                                    capsys: pytest.CaptureFixture[str]) -> None:
    text = tmp_path / "notes.mp4"
    text.write_text("this is not a video\n" * 50)
    empty = tmp_path / "empty.mp4"
    empty.write_bytes(b"")
    for path, message in ((text, "not a video"), (empty, "empty file"),
                          (tmp_path / "missing.mp4", "no such file"),
                          (tmp_path, "is a folder")):
        with pytest.raises(VideoError, match=message):
            open_source(path)
        code, _, err = _cli(["video", str(path)], capsys)
        assert code == 3 and len(err.strip().splitlines()) == 1 and message in err


def test_truncated_mp4_is_a_clear_error(tmp_path: Path, capsys: pytest.CaptureFixture[str]
                                        ) -> None:
    real = require_data("video", "video.mp4").read_bytes()
    cut = tmp_path / "cut.mp4"
    cut.write_bytes(real[: len(real) * 6 // 10])  # the index (moov) is at the end: lost
    code, _, err = _cli(["video", str(cut)], capsys)
    assert code == 3 and "truncated" in err and len(err.strip().splitlines()) == 1


class _Server(socketserver.ThreadingMixIn, http.server.HTTPServer):
    daemon_threads = True


def _serve(payload: bytes, stall: threading.Event) -> _Server:
    """An HTTP server on 127.0.0.1 that sends ``payload`` then, if ``stall`` is not set,
    closes; if it is set, keeps the connection open and sends nothing more."""

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            self.send_response(200)
            self.send_header("Content-Type", "video/x-msvideo")
            self.end_headers()
            self.wfile.write(payload)
            self.wfile.flush()
            while stall.is_set():
                time.sleep(0.05)

        def log_message(self, *args: object) -> None:
            pass

    server = _Server(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server


@pytest.fixture(scope="module")
def avi(lfw: Path, tmp_path_factory: pytest.TempPathFactory) -> bytes:
    """The LFW clip as an MJPG AVI (readable from the start without an index)."""
    path = write_clip(tmp_path_factory.mktemp("avi") / "clip.avi", lfw_frames(lfw),
                      fourcc="MJPG")
    return path.read_bytes()


@pytest.mark.timeout(60)
def test_stream_that_stalls_ends_cleanly_not_a_hang(avi: bytes) -> None:
    stall = threading.Event()
    stall.set()
    server = _serve(avi[: len(avi) // 2], stall)
    try:
        url = f"http://127.0.0.1:{server.server_address[1]}/clip.avi"
        start = time.monotonic()
        with open_source(url, read_timeout=2.0, open_timeout=5.0) as src:
            assert src.live
            n = sum(1 for _ in src)
        elapsed = time.monotonic() - start
        assert 5 <= n < 40
        assert src.end_reason is not None and src.end_reason != "closed"
        assert elapsed < 30
    finally:
        stall.clear()
        server.shutdown()


@pytest.mark.timeout(60)
def test_stream_that_ends_ends_cleanly_and_cli_exits_0(avi: bytes, tmp_path: Path,
                                                       capsys: pytest.CaptureFixture[str]
                                                       ) -> None:
    server = _serve(avi, threading.Event())
    try:
        url = f"http://127.0.0.1:{server.server_address[1]}/clip.avi"
        code, out, err = _cli(["video", url, "--live", "--read-timeout", "3", "--json",
                               str(tmp_path / "t.json")], capsys)
        assert code == 0, err
        assert "appeared" in out and "ended" in out
        report = json.loads((tmp_path / "t.json").read_text())
        # live: frames the recogniser could not keep up with were dropped and counted
        assert report["decoded"] == 40
        assert report["frames"] + report["dropped"] == report["decoded"]
        assert report["end"] == "end" and len(report["tracks"]) >= 1
    finally:
        server.shutdown()


@pytest.mark.timeout(60)
def test_fifo_that_stalls_ends_cleanly(avi: bytes, tmp_path: Path) -> None:
    fifo = tmp_path / "live.avi"
    os.mkfifo(fifo)
    done = threading.Event()

    def feed() -> None:
        with open(fifo, "wb") as fh:
            fh.write(avi[: len(avi) // 2])
            fh.flush()
            done.wait(30)  # keeps the pipe open and silent: a stalled live source

    threading.Thread(target=feed, daemon=True).start()
    try:
        start = time.monotonic()
        with open_source(fifo, read_timeout=2.0, open_timeout=5.0) as src:
            assert src.live
            n = sum(1 for _ in src)
        assert n >= 5 and src.end_reason is not None
        assert time.monotonic() - start < 30
    finally:
        done.set()


# -- the command line -------------------------------------------------------------------
def test_cli_writes_annotated_video_json_and_csv(clip: Path, gallery_a: Path, tmp_path: Path,
                                                 capsys: pytest.CaptureFixture[str]) -> None:
    out, js, cs = tmp_path / "a.mp4", tmp_path / "t.json", tmp_path / "d.csv"
    code, stdout, err = _cli(["video", str(clip), "--db", str(gallery_a), "--out", str(out),
                              "--json", str(js), "--csv", str(cs), "--every", "3",
                              "--thumbs", str(tmp_path / "thumbs")], capsys)
    assert code == 0, err
    report = json.loads(js.read_text())
    assert report["source"] == str(clip) and report["fps"] == pytest.approx(FPS)
    assert report["frames"] == 40
    assert [(t["id"], t["name"]) for t in report["tracks"]] == [(1, A_NAME), (2, None)]
    t1 = report["tracks"][0]
    assert {"id", "name", "distance", "first_frame", "last_frame", "detections"} <= set(t1)
    assert all(set(d) >= {"frame", "box"} and len(d["box"]) == 4 for d in t1["detections"])
    assert Path(t1["thumbnail"]).exists()
    rows = list(csv.DictReader(cs.open()))
    assert len(rows) == sum(len(t["detections"]) for t in report["tracks"])
    assert {r["name"] for r in rows} == {A_NAME, ""}
    cap = cv2.VideoCapture(str(out))
    assert int(cap.get(cv2.CAP_PROP_FRAME_COUNT)) == 40
    assert int(cap.get(cv2.CAP_PROP_FRAME_WIDTH)) == W
    cap.release()
    assert "track 1: frames 0-" in stdout and A_NAME in stdout


def test_cli_bad_usage(clip: Path, gallery_a: Path, tmp_path: Path,
                       capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = _cli(["video"], capsys)
    assert code == 2 and "give a SOURCE" in err
    code, _, err = _cli(["video", str(clip), "--every", "0"], capsys)
    assert code == 2 and "--every must be at least 1" in err
    code, _, err = _cli(["video", str(clip), "--group", "staff"], capsys)
    assert code == 2 and "--group needs a gallery" in err
    # a group the gallery does not have: a clear gallery error (6), not a silent ignore
    code, _, err = _cli(["video", str(clip), "--db", str(gallery_a), "--group", "staff"],
                        capsys)
    assert code == 6 and "staff" in err
    code, _, err = _cli(["video", str(clip), "--db", str(tmp_path / "empty.db")], capsys)
    assert code == 6 and "enroll someone first" in err
