"""Embedding many images at once, keeping every core busy.

Two ways, chosen by :func:`embed_many`:

* **worker processes** (the default when the pipeline's parts are given by name
  and no GPU runs the embedder): each process holds its own copy of the pipeline
  with single-threaded models and takes chunks of images through the whole job -
  decode, detect, align, embed the chunk's faces in one batch. Nothing is shared,
  so no core waits for Python's GIL or for another thread's share of a network,
  and single-threaded ONNX Runtime kernels waste no time synchronising (about
  7.2 core-ms per dlib-resnet face on two threads, 6.3 on one). The processes
  are started once and kept for later calls with the same pipeline
  (:func:`close_workers` ends them; they end with the program).
* **worker threads** (pipelines built from objects, or a CUDA embedder): decoding,
  detection and alignment in a pool of threads (the detectors' native code
  releases the GIL), while the calling thread gathers the chips into batches for
  the embedder, whose session runs a batch on its own threads.

Results come back in input order either way.
"""

from __future__ import annotations

import atexit
import os
import threading
from collections import deque
from collections.abc import Iterable, Iterator, Sequence
from concurrent.futures import Future, ProcessPoolExecutor, ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from .errors import FaceprintError, ImageError
from .pipeline import Pipeline, PipelineRecipe, largest
from .types import Face

IMAGE_SUFFIXES = frozenset({".jpg", ".jpeg", ".png", ".bmp", ".gif", ".webp", ".pgm", ".ppm",
                            ".pnm", ".tif", ".tiff"})


def image_files(sources: Iterable[str | Path]) -> list[Path]:
    """Files named directly, plus every image file under named folders (recursively,
    sorted). ImageError for a name that does not exist."""
    out: list[Path] = []
    for src in sources:
        p = Path(src)
        if p.is_dir():
            out += sorted(f for f in p.rglob("*")
                          if f.is_file() and f.suffix.lower() in IMAGE_SUFFIXES)
        elif p.exists():
            out.append(p)
        else:
            raise ImageError(f"{p}: no such file or folder")
    return out


_Prepared = tuple[list[Face], "np.ndarray | None", "str | None"]


@dataclass(slots=True)
class ImageResult:
    """The faces of one image with their embeddings (``(N, D)``), or the error that
    stopped it."""

    path: str
    faces: list[Face] = field(default_factory=list)
    embeddings: np.ndarray | None = None
    error: str | None = None


def _prepare(pipe: Pipeline, path: str, largest_only: bool
             ) -> tuple[list[Face], np.ndarray | None, str | None]:
    """In a worker thread: decode, detect and align one image."""
    try:
        image = pipe.load(path)
        faces = pipe.find_faces(image)
        if largest_only and faces:
            faces = [largest(faces)]
        chips = pipe.chips(image, faces) if faces else None
        return faces, chips, None
    except FaceprintError as exc:
        return [], None, str(exc)


def embed_many(pipe: Pipeline, paths: Sequence[str | Path], *, workers: int = 0,
               batch_size: int = 32, largest_only: bool = False,
               processes: bool | None = None) -> Iterator[ImageResult]:
    """Embed the faces of every image, yielding results in input order.

    ``workers``: processes or threads (0: one per core). ``processes``: True for
    worker processes, False for threads, None to choose (processes when there are
    two or more workers, the pipeline can be rebuilt by name - :meth:`Pipeline.recipe`
    - and ONNX Runtime has no CUDA provider). ``batch_size``: faces per embedder
    call in the threads' way; processes embed each chunk of images in one call."""
    workers = workers or (os.cpu_count() or 1)
    recipe = pipe.recipe()
    if processes is None:
        processes = workers > 1 and recipe is not None and not _cuda_available()
    if processes:
        if recipe is None:
            raise FaceprintError("worker processes need a pipeline whose detector and "
                                 "embedder are given by name")
        yield from _embed_in_processes(recipe, paths, workers, largest_only)
        return
    yield from _embed_in_threads(pipe, paths, workers, batch_size, largest_only)


def _cuda_available() -> bool:
    try:
        import onnxruntime as ort
    except ImportError:
        return False
    return "CUDAExecutionProvider" in ort.get_available_providers()


# -- worker processes ------------------------------------------------------------------
#: images per task sent to a worker process (their faces are embedded in one batch)
CHUNK = 8
_pool_lock = threading.Lock()
_pool: tuple[PipelineRecipe, int, ProcessPoolExecutor] | None = None
_worker_pipe: Pipeline | None = None


def _init_process(recipe: PipelineRecipe) -> None:
    """In a new worker process: one thread per model, then build the pipeline and
    load its models before the first task."""
    global _worker_pipe
    os.environ["FACEPRINT_THREADS"] = "1"
    os.environ["OMP_NUM_THREADS"] = "1"
    import cv2

    cv2.setNumThreads(1)
    _worker_pipe = recipe.build()
    _worker_pipe.detector  # noqa: B018
    _worker_pipe.embedder  # noqa: B018


def _embed_chunk(paths: list[str], largest_only: bool) -> list[ImageResult]:
    """In a worker process: decode, detect, align and embed a chunk of images."""
    pipe = _worker_pipe
    assert pipe is not None, "worker process not initialised"
    ready = []
    for path in paths:
        faces, chips, error = _prepare(pipe, path, largest_only)
        ready.append((ImageResult(path, faces, None, error), chips))
    return list(_embed_ready(pipe, ready))


def _process_pool(recipe: PipelineRecipe, workers: int) -> ProcessPoolExecutor:
    """The worker processes for ``recipe`` (started on first use, then kept; a
    different recipe or count replaces them)."""
    global _pool
    with _pool_lock:
        if _pool is not None and _pool[:2] == (recipe, workers):
            return _pool[2]
        if _pool is not None:
            _pool[2].shutdown(cancel_futures=True)
        import multiprocessing

        # spawn, not fork: a forked child inherits the parent's OpenCV, ONNX Runtime
        # and dlib state (thread pools, locks) and can hang in it. A script that calls
        # embed_many therefore needs the usual ``if __name__ == "__main__":`` guard.
        executor = ProcessPoolExecutor(max_workers=workers, initializer=_init_process,
                                       initargs=(recipe,),
                                       mp_context=multiprocessing.get_context("spawn"))
        _pool = (recipe, workers, executor)
        return executor


def close_workers() -> None:
    """Stop the worker processes that :func:`embed_many` keeps (if any)."""
    global _pool
    with _pool_lock:
        if _pool is not None:
            _pool[2].shutdown(cancel_futures=True)
            _pool = None


atexit.register(close_workers)


def worker_pids() -> list[int]:
    """Process ids of the kept worker processes (for measuring their memory)."""
    with _pool_lock:
        if _pool is None:
            return []
        return [p.pid for p in getattr(_pool[2], "_processes", {}).values()
                if p.pid is not None]


def _embed_in_processes(recipe: PipelineRecipe, paths: Sequence[str | Path], workers: int,
                        largest_only: bool) -> Iterator[ImageResult]:
    from concurrent.futures.process import BrokenProcessPool

    pool = _process_pool(recipe, workers)
    chunks = (list(map(str, paths[i:i + CHUNK])) for i in range(0, len(paths), CHUNK))
    queue: deque[Future[list[ImageResult]]] = deque()
    try:
        for chunk in chunks:
            queue.append(pool.submit(_embed_chunk, chunk, largest_only))
            if len(queue) > 2 * workers:
                yield from queue.popleft().result()
        while queue:
            yield from queue.popleft().result()
    except BrokenProcessPool:
        close_workers()
        raise FaceprintError("a worker process died (out of memory?); run again with "
                             "--workers 1") from None
    finally:
        for future in queue:
            future.cancel()


# -- worker threads --------------------------------------------------------------------
def _embed_in_threads(pipe: Pipeline, paths: Sequence[str | Path], workers: int,
                      batch_size: int, largest_only: bool) -> Iterator[ImageResult]:
    pipe.detector  # noqa: B018  (load the models here, once, not in racing threads)
    pipe.embedder  # noqa: B018
    ahead = max(2 * workers, batch_size)  # images being prepared
    names = iter(paths)
    with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="faceprint") as pool:
        queue: deque[tuple[str, Future[_Prepared]]] = deque()

        def submit_next() -> None:
            path = next(names, None)
            if path is not None:
                queue.append((str(path), pool.submit(_prepare, pipe, str(path), largest_only)))

        for _ in range(ahead):
            submit_next()
        ready: list[tuple[ImageResult, np.ndarray | None]] = []
        chips_ready = 0
        while queue:
            path, future = queue.popleft()
            submit_next()
            faces, chips, error = future.result()
            ready.append((ImageResult(path, faces, None, error), chips))
            chips_ready += 0 if chips is None else len(chips)
            if chips_ready >= batch_size or not queue:
                yield from _embed_ready(pipe, ready)
                ready, chips_ready = [], 0


def _embed_ready(pipe: Pipeline, ready: list[tuple[ImageResult, np.ndarray | None]]
                 ) -> Iterator[ImageResult]:
    """Embed the chips of prepared images in one batch and hand the images out."""
    stacks = [chips for _, chips in ready if chips is not None and len(chips)]
    vectors = pipe.embed_chips(np.concatenate(stacks)) if stacks else None
    start = 0
    for result, chips in ready:
        if result.error is None:
            count = 0 if chips is None else len(chips)
            if count and vectors is not None:
                result.embeddings = vectors[start:start + count]
            else:
                result.embeddings = np.empty((0, pipe.embedder.dim), np.float32)
            start += count
        yield result


def save_embeddings(results: Sequence[ImageResult], out: str | Path, *, embedder: str,
                    detector: str, metric: str) -> Path:
    """Write results as ``.npz`` (arrays) or ``.parquet`` (one row per face; needs
    pyarrow): path, face index, box, score, embedding; plus the images that failed."""
    p = Path(out)
    rows_path, rows_face, rows_box, rows_score, vectors = [], [], [], [], []
    for r in results:
        if r.embeddings is None:
            continue
        for i, (face, vec) in enumerate(zip(r.faces, r.embeddings)):
            rows_path.append(r.path)
            rows_face.append(i)
            rows_box.append([face.box.left, face.box.top, face.box.width, face.box.height])
            rows_score.append(face.score)
            vectors.append(vec)
    dim = len(vectors[0]) if vectors else 0
    emb = np.stack(vectors).astype(np.float32) if vectors else np.empty((0, dim), np.float32)
    failed = [(r.path, r.error or "") for r in results if r.error]
    p.parent.mkdir(parents=True, exist_ok=True)
    if p.suffix == ".npz":
        np.savez_compressed(
            p, paths=np.array(rows_path, dtype=str), face_index=np.array(rows_face, np.int32),
            boxes=np.array(rows_box, np.float32).reshape(-1, 4),
            scores=np.array(rows_score, np.float32), embeddings=emb,
            failed_paths=np.array([f[0] for f in failed], dtype=str),
            failed_errors=np.array([f[1] for f in failed], dtype=str),
            embedder=np.array(embedder), detector=np.array(detector), metric=np.array(metric))
    elif p.suffix == ".parquet":
        try:
            import pyarrow as pa
            import pyarrow.parquet as pq
        except ImportError:
            raise FaceprintError("writing .parquet needs pyarrow (pip install pyarrow); "
                                 "or write .npz") from None
        table = pa.table({
            "path": rows_path, "face_index": rows_face,
            "box": pa.array(rows_box, type=pa.list_(pa.float32(), 4)),
            "score": pa.array(rows_score, type=pa.float32()),
            "embedding": pa.array([v.tolist() for v in emb], type=pa.list_(pa.float32(), dim)),
        })
        table = table.replace_schema_metadata({"embedder": embedder, "detector": detector,
                                               "metric": metric})
        pq.write_table(table, p)
    else:
        raise FaceprintError(f"{p}: the output must end in .npz or .parquet")
    return p
