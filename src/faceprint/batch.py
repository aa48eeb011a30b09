"""Running a pipeline over many images: :func:`map_images`, the one way faceprint
does it (``faceprint embed``, the evaluations, training's data preparation and the
benchmarks all go through it), and :func:`embed_many`, its use for embeddings.

A *job* says what is done to each image with a pipeline: a picklable top-level
function ``job(pipeline, source) -> result``, or a :class:`Job` object whose
:meth:`Job.prepare` runs per image and :meth:`Job.finish` per chunk of prepared
images (embeddings computed in one batch). Results come back in input order as
:class:`Outcome` values; an image that fails gives an outcome with its
``error``, never a crash of the whole run.

Two ways to run, chosen by :func:`map_images`:

* **worker processes** (the default for two or more workers when the pipeline is
  described by a :class:`~faceprint.pipeline.PipelineRecipe`): started with
  ``spawn`` (never ``fork``: a forked child inherits the parent's OpenCV, ONNX
  Runtime and dlib state - thread pools, locks - and can hang in it, so a script
  that calls :func:`map_images` needs the usual ``if __name__ == "__main__":``
  guard). Each process holds its own copy of the pipeline with single-threaded
  models (its share of the cores) and takes chunks of images through the whole
  job. Nothing is shared, so no core waits for Python's GIL or for another
  thread's share of a network, and single-threaded ONNX Runtime kernels waste no
  time synchronising (about 7.2 core-ms per dlib-resnet face on two threads, 6.3 on
  one). The processes are started once and kept for later calls with the same
  recipe (:func:`close_workers` ends them; they end with the program).
* **worker threads** (pipelines built from objects, a CUDA embedder, or one
  worker): :meth:`Job.prepare` - decoding, detection, alignment - in a pool of
  threads (the detectors' native code releases the GIL), while the calling thread
  hands batches of prepared images to :meth:`Job.finish` (the embedder's session
  runs a batch on its own threads).

An optional cache (:class:`faceprint.cache.ResultCache`) returns the results of
images done before without running the job for them.
"""

from __future__ import annotations

import atexit
import os
import threading
from collections import deque
from collections.abc import Callable, Iterable, Iterator, Sequence
from concurrent.futures import Future, ProcessPoolExecutor, ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Generic, Literal, TypeVar

import numpy as np

from .errors import FaceprintError, ImageError, UsageError
from .pipeline import Pipeline, PipelineRecipe, largest
from .types import Face

if TYPE_CHECKING:
    from .cache import ResultCache

IMAGE_SUFFIXES = frozenset({".jpg", ".jpeg", ".png", ".bmp", ".gif", ".webp", ".pgm", ".ppm",
                            ".pnm", ".tif", ".tiff"})

S = TypeVar("S")
R = TypeVar("R")

Mode = Literal["auto", "processes", "threads"]


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


# -- jobs and outcomes -----------------------------------------------------------------
@dataclass(slots=True)
class Outcome(Generic[R]):
    """What a job gave for one source: its ``value``, or the ``error`` (a one-line
    message) that stopped it; ``cached`` when the value came from the cache."""

    source: Any
    value: R | None = None
    error: str | None = None
    cached: bool = False

    @property
    def ok(self) -> bool:
        return self.error is None


class Job(Generic[S, R]):
    """What :func:`map_images` does to each source with a pipeline.

    Subclasses are small picklable objects (they travel to the worker processes
    with each chunk). :meth:`prepare` runs per source; :meth:`finish` per chunk
    (worker processes) or per batch of about ``batch_size`` :meth:`weight` units
    (worker threads) of prepared sources, in order, and returns one result each.
    """

    #: whether :meth:`finish` gains from batches (else each source is handed out
    #: as soon as it is prepared)
    batched: bool = False

    def warm(self, pipe: Pipeline) -> None:
        """Load the models this job uses (before threads race to load them)."""
        pipe.detector  # noqa: B018

    def prepare(self, pipe: Pipeline, source: S) -> Any:
        raise NotImplementedError

    def weight(self, prepared: Any) -> int:
        """How much of a batch a prepared source fills (e.g. its number of faces)."""
        return 1

    def finish(self, pipe: Pipeline, prepared: list[Any]) -> list[R]:
        return prepared


class FunctionJob(Job[S, R]):
    """A job made of a picklable top-level function ``fn(pipeline, source) -> result``."""

    def __init__(self, fn: Callable[[Pipeline, S], R]) -> None:
        self.fn = fn

    def prepare(self, pipe: Pipeline, source: S) -> R:
        return self.fn(pipe, source)


def _message(exc: BaseException) -> str:
    if isinstance(exc, FaceprintError):
        return str(exc)
    return f"{type(exc).__name__}: {exc}"


def _run(job: Job[S, R], pipe: Pipeline, sources: Sequence[S]) -> list[Outcome[R]]:
    """Prepare each source, then finish the prepared ones in one call."""
    outs: list[Outcome[R]] = [Outcome(s) for s in sources]
    ready: list[tuple[int, Any]] = []
    for i, source in enumerate(sources):
        try:
            ready.append((i, job.prepare(pipe, source)))
        except Exception as exc:  # one image's failure is its outcome
            outs[i].error = _message(exc)
    _finish(job, pipe, ready, outs)
    return outs


def run_job(job: Job[S, R], pipe: Pipeline, sources: Sequence[S]) -> list[Outcome[R]]:
    """The job over a chunk of sources with one pipeline: what each worker of
    :func:`map_images` does (and each Dask worker of :mod:`faceprint.indexing`)."""
    return _run(job, pipe, sources)


def _finish(job: Job[S, R], pipe: Pipeline, ready: list[tuple[int, Any]],
            outs: list[Outcome[R]]) -> None:
    if not ready:
        return
    try:
        values = job.finish(pipe, [p for _, p in ready])
    except Exception as exc:  # every image in the batch failed
        for i, _ in ready:
            outs[i].error = _message(exc)
        return
    for (i, _), value in zip(ready, values, strict=True):
        outs[i].value = value


def map_images(recipe: PipelineRecipe | Pipeline, sources: Sequence[S],
               job: Job[S, R] | Callable[[Pipeline, S], R], *, workers: int = 0,
               chunk_size: int = 8, mode: Mode = "auto", batch_size: int = 32,
               threads_per_worker: int | None = None,
               cache: ResultCache[R] | None = None, key: Callable[[S], str] = str,
               progress: bool = False, desc: str = "") -> Iterator[Outcome[R]]:
    """Run ``job`` over ``sources`` (image paths, or any picklable items the job
    reads), yielding one :class:`Outcome` per source in input order.

    ``recipe``: the pipeline, as a recipe (rebuilt in each worker process) or as a
    :class:`Pipeline` (its :meth:`~Pipeline.recipe` is used for processes; one
    built from objects runs in threads). ``workers``: processes or threads (0: one
    per core). ``mode``: ``"processes"``, ``"threads"`` or ``"auto"`` (processes
    for two or more workers when there is a recipe, else threads). ``chunk_size``:
    sources per task sent to a worker process. ``batch_size``: the weight of a batch
    handed to a batched job's :meth:`Job.finish` in the threads' way.
    ``threads_per_worker``: model threads in each worker process (default: the cores
    shared between the workers). ``cache``: results kept by ``key(source)``; cached
    sources are not run again, new results are stored. ``progress``: a tqdm bar
    labelled ``desc``.
    """
    from tqdm import tqdm

    the_job: Job[S, R] = job if isinstance(job, Job) else FunctionJob(job)
    items = list(sources)
    done: dict[int, Outcome[R]] = {}
    if cache is not None:
        for i, source in enumerate(items):
            value = cache.get(key(source))
            if value is not None:
                done[i] = Outcome(source, value, cached=True)
    todo = [s for i, s in enumerate(items) if i not in done]
    workers = workers or (os.cpu_count() or 1)
    pipe = recipe if isinstance(recipe, Pipeline) else None
    the_recipe = recipe.recipe() if isinstance(recipe, Pipeline) else recipe
    if mode == "auto":
        mode = "processes" if workers > 1 and the_recipe is not None else "threads"
    if mode == "processes" and the_recipe is None:
        raise UsageError("worker processes need a pipeline whose detector and "
                             "embedder are given by name")
    computed: Iterator[Outcome[R]] = iter(())
    if todo:
        if mode == "processes":
            assert the_recipe is not None
            threads = threads_per_worker or max(1, (os.cpu_count() or 1) // workers)
            computed = _in_processes(the_recipe, todo, the_job, workers, threads, chunk_size)
        else:
            if pipe is None:
                assert the_recipe is not None
                pipe = the_recipe.build()
            computed = _in_threads(pipe, todo, the_job, workers, batch_size)
    bar = tqdm(total=len(todo), disable=not progress or not todo, desc=desc or None,
               unit="img")
    try:
        for i, source in enumerate(items):
            if i in done:
                yield done.pop(i)
                continue
            out = next(computed)
            bar.update(1)
            if cache is not None and out.ok and out.value is not None:
                cache.put(key(source), out.value)
            yield out
    finally:
        bar.close()
        if cache is not None:
            cache.flush()


# -- worker processes ------------------------------------------------------------------
#: images per task sent to a worker process by :func:`embed_many` (their faces are
#: embedded in one batch)
CHUNK = 8
_pool_lock = threading.Lock()
_pool: tuple[tuple[PipelineRecipe, int, int], ProcessPoolExecutor] | None = None
_worker_pipe: Pipeline | None = None


def _init_process(recipe: PipelineRecipe, threads: int) -> None:
    """In a new worker process: the cores' share of model threads, then the pipeline
    (its models load on first use)."""
    global _worker_pipe
    os.environ["FACEPRINT_THREADS"] = str(threads)
    os.environ["OMP_NUM_THREADS"] = str(threads)
    import cv2

    cv2.setNumThreads(threads)
    _worker_pipe = recipe.build()


def _run_chunk(job: Job[S, R], sources: list[S]) -> list[Outcome[R]]:
    """In a worker process: the job over a chunk of sources."""
    pipe = _worker_pipe
    assert pipe is not None, "worker process not initialised"
    return _run(job, pipe, sources)


def _process_pool(recipe: PipelineRecipe, workers: int, threads: int) -> ProcessPoolExecutor:
    """The worker processes for ``recipe`` (started on first use, then kept; a
    different recipe or count replaces them)."""
    global _pool
    with _pool_lock:
        if _pool is not None and _pool[0] == (recipe, workers, threads):
            return _pool[1]
        if _pool is not None:
            _pool[1].shutdown(cancel_futures=True)
        import multiprocessing

        executor = ProcessPoolExecutor(max_workers=workers, initializer=_init_process,
                                       initargs=(recipe, threads),
                                       mp_context=multiprocessing.get_context("spawn"))
        _pool = ((recipe, workers, threads), executor)
        return executor


def close_workers() -> None:
    """Stop the worker processes that :func:`map_images` keeps (if any)."""
    global _pool
    with _pool_lock:
        if _pool is not None:
            _pool[1].shutdown(cancel_futures=True)
            _pool = None


atexit.register(close_workers)


def worker_pids() -> list[int]:
    """Process ids of the kept worker processes (for measuring their memory)."""
    with _pool_lock:
        if _pool is None:
            return []
        return [p.pid for p in getattr(_pool[1], "_processes", {}).values()
                if p.pid is not None]


def _in_processes(recipe: PipelineRecipe, sources: Sequence[S], job: Job[S, R], workers: int,
                  threads: int, chunk_size: int) -> Iterator[Outcome[R]]:
    from concurrent.futures.process import BrokenProcessPool

    pool = _process_pool(recipe, workers, threads)
    chunks = (list(sources[i:i + chunk_size]) for i in range(0, len(sources), chunk_size))
    queue: deque[Future[list[Outcome[R]]]] = deque()
    try:
        for chunk in chunks:
            queue.append(pool.submit(_run_chunk, job, chunk))
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
def _prepare_one(job: Job[S, R], pipe: Pipeline, source: S) -> tuple[Any, str | None]:
    try:
        return job.prepare(pipe, source), None
    except Exception as exc:  # one image's failure is its outcome
        return None, _message(exc)


def _in_threads(pipe: Pipeline, sources: Sequence[S], job: Job[S, R], workers: int,
                batch_size: int) -> Iterator[Outcome[R]]:
    job.warm(pipe)  # load the models here, once, not in racing threads
    ahead = max(2 * workers, batch_size if job.batched else 0)  # sources being prepared
    names = iter(sources)
    with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="faceprint") as pool:
        queue: deque[tuple[S, Future[tuple[Any, str | None]]]] = deque()

        def submit_next() -> None:
            for source in names:
                queue.append((source, pool.submit(_prepare_one, job, pipe, source)))
                return

        for _ in range(ahead):
            submit_next()
        outs: list[Outcome[R]] = []
        ready: list[tuple[int, Any]] = []
        weight = 0
        while queue:
            source, future = queue.popleft()
            submit_next()
            prepared, error = future.result()
            outs.append(Outcome(source, error=error))
            if error is None:
                ready.append((len(outs) - 1, prepared))
                weight += job.weight(prepared)
            if not job.batched or weight >= batch_size or not queue:
                _finish(job, pipe, ready, outs)
                yield from outs
                outs, ready, weight = [], [], 0


# -- embeddings ------------------------------------------------------------------------
@dataclass(slots=True)
class ImageResult:
    """The faces of one image with their embeddings (``(N, D)``), or the error that
    stopped it."""

    path: str
    faces: list[Face] = field(default_factory=list)
    embeddings: np.ndarray | None = None
    error: str | None = None


class EmbedJob(Job[str, tuple[list[Face], np.ndarray]]):
    """Every face of an image (or only the largest) and its embedding: decoding,
    detection and alignment per image, the embeddings of a batch of images' faces in
    one embedder call."""

    batched = True

    def __init__(self, largest_only: bool = False) -> None:
        self.largest_only = largest_only

    def warm(self, pipe: Pipeline) -> None:
        pipe.detector  # noqa: B018
        pipe.embedder  # noqa: B018

    def prepare(self, pipe: Pipeline, source: str) -> tuple[list[Face], np.ndarray | None]:
        image = pipe.load(source)
        faces = pipe.find_faces(image, pose=False)  # the embeddings need no head pose
        if self.largest_only and faces:
            faces = [largest(faces)]
        return faces, (pipe.chips(image, faces) if faces else None)

    def weight(self, prepared: tuple[list[Face], np.ndarray | None]) -> int:
        return 0 if prepared[1] is None else len(prepared[1])

    def finish(self, pipe: Pipeline, prepared: list[tuple[list[Face], np.ndarray | None]]
               ) -> list[tuple[list[Face], np.ndarray]]:
        stacks = [chips for _, chips in prepared if chips is not None and len(chips)]
        vectors = pipe.embed_chips(np.concatenate(stacks)) if stacks else None
        out = []
        start = 0
        for faces, chips in prepared:
            count = 0 if chips is None else len(chips)
            if count and vectors is not None:
                out.append((faces, vectors[start:start + count]))
            else:
                out.append((faces, np.empty((0, pipe.embedder.dim), np.float32)))
            start += count
        return out


def embed_many(pipe: Pipeline, paths: Sequence[str | Path], *, workers: int = 0,
               batch_size: int = 32, largest_only: bool = False,
               processes: bool | None = None) -> Iterator[ImageResult]:
    """Embed the faces of every image, yielding results in input order
    (:func:`map_images` with :class:`EmbedJob`).

    ``workers``: processes or threads (0: one per core). ``processes``: True for
    worker processes, False for threads, None to choose (processes when there are
    two or more workers, the pipeline can be rebuilt by name - :meth:`Pipeline.recipe`
    - and ONNX Runtime has no CUDA provider). ``batch_size``: faces per embedder
    call in the threads' way; processes embed each chunk of images in one call."""
    workers = workers or (os.cpu_count() or 1)
    if processes is None:
        processes = workers > 1 and pipe.recipe() is not None and not _cuda_available()
    for out in map_images(pipe, [str(p) for p in paths], EmbedJob(largest_only),
                          workers=workers, chunk_size=CHUNK, batch_size=batch_size,
                          mode="processes" if processes else "threads",
                          threads_per_worker=1):
        if out.value is None:
            yield ImageResult(out.source, error=out.error or "failed")
        else:
            yield ImageResult(out.source, out.value[0], out.value[1])


def _cuda_available() -> bool:
    try:
        import onnxruntime as ort
    except ImportError:
        return False
    return "CUDAExecutionProvider" in ort.get_available_providers()


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
        check_output(p)
        import pyarrow as pa
        import pyarrow.parquet as pq

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
        check_output(p)
    return p


def check_output(path: str | Path) -> None:
    """Raise (before any work is done) unless :func:`save_embeddings` can write
    ``path``: it must end in ``.npz`` or ``.parquet``, and ``.parquet`` needs pyarrow."""
    p = Path(path)
    if p.suffix == ".parquet":
        try:
            import pyarrow
            import pyarrow.parquet  # noqa: F401
        except ImportError:
            raise FaceprintError("writing .parquet needs pyarrow (pip install pyarrow); "
                                 "or write .npz") from None
    elif p.suffix != ".npz":
        raise UsageError(f"{p}: the output must end in .npz or .parquet")
