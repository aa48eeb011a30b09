"""Albums: a photo collection clustered into people, kept in one output folder.

``OUT/`` holds everything ``faceprint cluster`` makes and needs again:

* ``faces.npz``: the embedding cache: every face of every photo (path, face index,
  box, score, embedding) with each photo's size and modification time, and the
  pipeline that made them. A later run embeds only new or changed photos.
* ``album.json``: the state: which cluster each face is in (ids stay the same
  across incremental runs), the names given, what was enrolled, what failed.
* the outputs, remade on every run: ``clusters.json``, ``clusters.parquet``,
  ``people/<id>[ name]/`` (links to, or copies of, each person's photos;
  ``people/noise/`` for faces that joined nobody), ``thumbs/`` (small JPEGs of the
  faces) and ``index.html`` (the contact sheet: one row per person).
"""

from __future__ import annotations

import contextlib
import html
import json
import os
import shutil
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from .cache import config_key
from .cluster import (
    Clustering,
    FaceRef,
    assign,
    cluster_labels,
    to_clustering,
)
from .errors import DataError, FaceprintError, ImageError, NoFaceError
from .gallery.model import DEFAULT_GROUP
from .types import Box, Metric

if TYPE_CHECKING:
    from .gallery import Gallery

STATE = "album.json"
CACHE = "faces.npz"
VERSION = 1


@dataclass(slots=True)
class AlbumFaces:
    """Every face of an album, one row each, and the photos' bookkeeping."""

    paths: list[str] = field(default_factory=list)  # one per face
    index: list[int] = field(default_factory=list)  # the face's index in its photo
    boxes: list[Box] = field(default_factory=list)
    scores: list[float] = field(default_factory=list)
    vectors: np.ndarray = field(default_factory=lambda: np.empty((0, 0), np.float32))
    #: photo -> (size, mtime_ns, face count) for every photo read without error
    photos: dict[str, tuple[int, int, int]] = field(default_factory=dict)
    failed: dict[str, str] = field(default_factory=dict)  # photo -> error

    def face_keys(self) -> list[str]:
        return [f"{p}#{i}" for p, i in zip(self.paths, self.index)]

    def refs(self) -> list[FaceRef]:
        return [FaceRef(p, b) for p, b in zip(self.paths, self.boxes)]

    def __len__(self) -> int:
        return len(self.paths)


def _stamp(path: str) -> tuple[int, int]:
    st = os.stat(path)
    return st.st_size, st.st_mtime_ns


def pipeline_config(pipe: Any) -> dict[str, Any]:
    """What decides the embeddings (a change invalidates the cache)."""
    from .registry import detector_defaults

    recipe = pipe.recipe()
    return {"detector": pipe.detector_name, "embedder": pipe.embedder_name,
            "detector_options": list(recipe.detector_options) if recipe else [],
            "embedder_options": list(recipe.embedder_options) if recipe else [],
            "flip": pipe.flip, "jitter": pipe.jitter,
            "detector_defaults": detector_defaults(pipe.detector_name)
            if isinstance(pipe.detector_name, str) and recipe else []}


def load_faces(out: Path, key: str) -> AlbumFaces:
    """The cached faces in ``out`` made by pipeline ``key`` (empty when none)."""
    faces = AlbumFaces()
    p = out / CACHE
    if not p.exists():
        return faces
    try:
        with np.load(p, allow_pickle=False) as z:
            if str(z["key"]) != key:
                return faces
            faces.paths = [str(s) for s in z["paths"]]
            faces.index = [int(i) for i in z["face_index"]]
            faces.boxes = [Box(*map(float, b)) for b in z["boxes"]]
            faces.scores = [float(s) for s in z["scores"]]
            faces.vectors = np.asarray(z["embeddings"], np.float32)
            faces.photos = {str(ph): (int(s[0]), int(s[1]), int(s[2]))
                            for ph, s in zip(z["photos"], z["photo_stamps"])}
    except (OSError, ValueError, KeyError):
        return AlbumFaces()  # a damaged cache is recomputed
    return faces


def load_album_faces(out: Path) -> AlbumFaces:
    """The faces cached in an album folder, whatever pipeline made them."""
    p = out / CACHE
    try:
        with np.load(p, allow_pickle=False) as z:
            key = str(z["key"])
    except (OSError, ValueError, KeyError):
        raise DataError(f"{out}: the album's faces ({CACHE}) are missing or damaged; "
                        f"run faceprint cluster DIR... --out {out} again") from None
    return load_faces(out, key)


def save_faces(out: Path, key: str, faces: AlbumFaces) -> None:
    photos = sorted(faces.photos)
    tmp = out / f".{CACHE}.{os.getpid()}.tmp.npz"
    np.savez(tmp, key=np.array(key), paths=np.array(faces.paths, dtype=str),
             face_index=np.array(faces.index, np.int32),
             boxes=np.array([[b.left, b.top, b.width, b.height] for b in faces.boxes],
                            np.float32).reshape(-1, 4),
             scores=np.array(faces.scores, np.float32), embeddings=faces.vectors,
             photos=np.array(photos, dtype=str),
             photo_stamps=np.array([faces.photos[p] for p in photos], np.int64).reshape(-1, 3))
    os.replace(tmp, out / CACHE)


def embed_album(pipe: Any, files: Sequence[Path], out: Path, *, workers: int = 0,
                progress: bool = True) -> tuple[AlbumFaces, int]:
    """Faces of every photo, from the cache where the photo is unchanged, else
    embedded now with :func:`faceprint.batch.embed_many`. Returns the faces (of
    ``files`` and of photos cached before) and how many photos were embedded now."""
    from tqdm import tqdm

    from .batch import embed_many

    key = config_key(pipeline_config(pipe))
    cached = load_faces(out, key)
    wanted = [str(Path(f).resolve()) for f in files]
    todo = []
    for path in dict.fromkeys(wanted):
        try:
            stamp = _stamp(path)
        except OSError as exc:
            cached.failed[path] = f"{path}: {exc.strerror or exc}"
            continue
        if cached.photos.get(path, (-1, -1, -1))[:2] != stamp:
            todo.append(path)
    # drop the stale rows of photos about to be embedded again
    redo = set(todo)
    keep = [i for i, p in enumerate(cached.paths) if p not in redo]
    faces = AlbumFaces([cached.paths[i] for i in keep], [cached.index[i] for i in keep],
                       [cached.boxes[i] for i in keep], [cached.scores[i] for i in keep],
                       cached.vectors[keep] if len(cached) else cached.vectors,
                       {p: s for p, s in cached.photos.items() if p not in redo},
                       {p: e for p, e in cached.failed.items() if p not in redo})
    new_vectors = []
    results = embed_many(pipe, todo, workers=workers)
    for r in tqdm(results, total=len(todo), desc="embed", unit="img",
                  disable=not progress or len(todo) < 5 or None):
        if r.error is not None or r.embeddings is None:
            faces.failed[r.path] = r.error or f"{r.path}: failed"
            continue
        size, mtime = _stamp(r.path)
        faces.photos[r.path] = (size, mtime, len(r.faces))
        for i, (face, vec) in enumerate(zip(r.faces, r.embeddings)):
            faces.paths.append(r.path)
            faces.index.append(i)
            faces.boxes.append(face.box)
            faces.scores.append(float(face.score))
            new_vectors.append(vec)
    if new_vectors:
        stack = np.stack(new_vectors).astype(np.float32)
        faces.vectors = (np.concatenate([faces.vectors, stack])
                         if len(faces.vectors) else stack)
    elif not len(faces):
        faces.vectors = np.empty((0, pipe.embedder.dim), np.float32)
    if todo:
        out.mkdir(parents=True, exist_ok=True)
        save_faces(out, key, faces)
    return faces, len(todo)


# -- the state ---------------------------------------------------------------------
@dataclass(slots=True)
class AlbumState:
    """Cluster ids per face key, names per cluster id, and what was enrolled."""

    method: str
    threshold: float
    metric: Metric
    embedder: str
    detector: str
    labels: dict[str, int] = field(default_factory=dict)  # face key -> id (-1 noise)
    names: dict[int, str] = field(default_factory=dict)
    enrolled: dict[str, str] = field(default_factory=dict)  # face key -> person
    next_id: int = 1

    def to_json(self) -> dict[str, Any]:
        return {"version": VERSION, "method": self.method, "threshold": self.threshold,
                "metric": self.metric, "embedder": self.embedder, "detector": self.detector,
                "next_id": self.next_id, "names": {str(k): v for k, v in self.names.items()},
                "enrolled": self.enrolled, "labels": self.labels}

    @classmethod
    def from_json(cls, d: dict[str, Any]) -> AlbumState:
        return cls(d["method"], float(d["threshold"]), d["metric"], d["embedder"],
                   d["detector"], {k: int(v) for k, v in d["labels"].items()},
                   {int(k): v for k, v in d.get("names", {}).items()},
                   dict(d.get("enrolled", {})), int(d.get("next_id", 1)))


def load_state(out: Path) -> AlbumState:
    p = out / STATE
    if not p.exists():
        raise DataError(f"{out}: no album here ({STATE} is missing); make one with "
                        f"faceprint cluster DIR... --out {out}")
    try:
        return AlbumState.from_json(json.loads(p.read_text()))
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise DataError(f"{p}: not a faceprint album ({exc})") from None


def save_state(out: Path, state: AlbumState, failed: dict[str, str]) -> None:
    out.mkdir(parents=True, exist_ok=True)
    data = state.to_json()
    data["failed"] = [{"path": p, "error": e} for p, e in sorted(failed.items())]
    tmp = out / f".{STATE}.{os.getpid()}.tmp"
    tmp.write_text(json.dumps(data, indent=1, ensure_ascii=False))
    os.replace(tmp, out / STATE)


def cluster_all(faces: AlbumFaces, state: AlbumState, *, seed: int = 0,
                previous: AlbumState | None = None, **options: Any) -> None:
    """Cluster every face from scratch into ``state`` (ids 1, 2 ... largest first);
    names of ``previous`` carry over to the new cluster that holds most of the
    named cluster's faces."""
    labels = cluster_labels(faces.vectors, state.method, threshold=state.threshold,
                            metric=state.metric, seed=seed, **options)
    ids = np.where(labels >= 0, labels + 1, -1)
    keys = faces.face_keys()
    state.labels = dict(zip(keys, ids.tolist()))
    state.next_id = int(ids.max(initial=0)) + 1
    state.names = {}
    if previous is not None:
        state.enrolled = dict(previous.enrolled)
        for old_id, name in sorted(previous.names.items()):
            votes: dict[int, int] = {}
            for k, cid in previous.labels.items():
                new = state.labels.get(k, -1)
                if cid == old_id and new >= 0:
                    votes[new] = votes.get(new, 0) + 1
            if votes:
                best = max(votes, key=lambda c: (votes[c], -c))
                state.names.setdefault(best, name)


def cluster_incremental(faces: AlbumFaces, state: AlbumState, *, seed: int = 0,
                        **options: Any) -> tuple[int, int]:
    """Faces not yet in ``state`` join existing clusters (:func:`faceprint.cluster.assign`:
    most members within the threshold) or, with the album's noise, form new clusters
    (new ids). Existing clusters keep their ids, members and names. Returns (faces
    that joined a cluster, new clusters)."""
    keys = faces.face_keys()
    known = np.array([k in state.labels for k in keys], dtype=bool)
    if not (~known).any():
        return 0, 0
    old_ids = np.array([state.labels.get(k, -1) for k in keys], dtype=np.int64)
    joined = assign(faces.vectors[known], old_ids[known], faces.vectors[~known],
                    threshold=state.threshold, metric=state.metric)
    new_rows = np.flatnonzero(~known)
    for row, cid in zip(new_rows, joined):
        state.labels[keys[row]] = int(cid)
    # the rest, with the old noise, are clustered among themselves
    rest = np.array([i for i in range(len(keys)) if state.labels[keys[i]] < 0], np.int64)
    created = 0
    if len(rest):
        sub = cluster_labels(faces.vectors[rest], state.method, threshold=state.threshold,
                             metric=state.metric, seed=seed, **options)
        for label in range(int(sub.max(initial=-1)) + 1):
            for row in rest[sub == label]:
                state.labels[keys[row]] = state.next_id
            state.next_id += 1
            created += 1
    return int((joined >= 0).sum()), created


def clustering(faces: AlbumFaces, state: AlbumState) -> Clustering:
    ids = np.array([state.labels.get(k, -1) for k in faces.face_keys()], dtype=np.int64)
    result = to_clustering(ids, faces.refs(), method=state.method, threshold=state.threshold,
                           metric=state.metric, names=state.names)
    return result


# -- outputs -------------------------------------------------------------------------
def write_json(result: Clustering, path: Path, failed: dict[str, str]) -> Path:
    data = result.to_dict()
    data["failed"] = [{"path": p, "error": e} for p, e in sorted(failed.items())]
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(data, indent=1, ensure_ascii=False))
    return path


def write_parquet(result: Clustering, path: Path) -> Path:
    """One row per face: cluster id (-1: noise), name, path, box."""
    try:
        import pyarrow as pa
        import pyarrow.parquet as pq
    except ImportError:
        raise FaceprintError("writing clusters.parquet needs pyarrow (pip install "
                             "'faceprint[cluster]')") from None
    ids: list[int] = []
    names: list[str | None] = []
    paths: list[str] = []
    boxes: list[list[float]] = []
    for c in result.clusters:
        for f in c.faces:
            ids.append(c.id)
            names.append(c.name)
            paths.append(f.path)
            boxes.append(f.box.as_list())
    for f in result.noise:
        ids.append(-1)
        names.append(None)
        paths.append(f.path)
        boxes.append(f.box.as_list())
    table = pa.table({"cluster": pa.array(ids, pa.int32()), "name": pa.array(names, pa.string()),
                      "path": pa.array(paths, pa.string()),
                      "box": pa.array(boxes, type=pa.list_(pa.float32(), 4))})
    table = table.replace_schema_metadata({"method": result.method,
                                           "threshold": str(result.threshold),
                                           "metric": result.metric})
    pq.write_table(table, path)
    return path


def _safe(name: str) -> str:
    keep = "".join(ch if ch.isalnum() or ch in " -_." else "_" for ch in name).strip(" .")
    return keep[:60] or "unnamed"


def cluster_folder_name(cluster_id: int, name: str | None) -> str:
    return f"{cluster_id:04d}" + (f" {_safe(name)}" if name else "")


def write_folders(result: Clustering, root: Path, *, copy: bool = False) -> Path:
    """``root/<id>[ name]/`` with a link to (or a copy of) each photo of the cluster,
    ``root/noise/`` for photos of faces that joined nobody. Remade from scratch."""
    if root.exists():
        shutil.rmtree(root)
    groups: list[tuple[str, Iterable[FaceRef]]] = [
        (cluster_folder_name(c.id, c.name), c.faces) for c in result.clusters]
    groups.append(("noise", result.noise))
    for folder, faces in groups:
        d = root / folder
        d.mkdir(parents=True, exist_ok=True)
        used: dict[str, str] = {}
        for f in faces:
            src = Path(f.path)
            if str(src) in used.values():
                continue
            name = src.name
            n = 2
            while name in used:
                name = f"{src.stem}-{n}{src.suffix}"
                n += 1
            used[name] = str(src)
            target = d / name
            try:
                if copy:
                    shutil.copy2(src, target)
                else:
                    target.symlink_to(src.resolve())
            except OSError as exc:
                raise FaceprintError(f"cannot write {target}: {exc.strerror or exc}") from None
    return root


def thumb_name(face: FaceRef) -> str:
    return config_key([face.path, face.box.as_list()]) + ".jpg"


def write_thumbnails(result: Clustering, folder: Path, size: int = 96) -> dict[str, Path]:
    """A ``size``-pixel JPEG of every face (its box with a 20 % margin), kept between
    runs; returns face key -> file."""
    from PIL import Image, ImageOps

    folder.mkdir(parents=True, exist_ok=True)
    out: dict[str, Path] = {}
    by_photo: dict[str, list[FaceRef]] = {}
    for c in result.clusters:
        for f in c.faces:
            by_photo.setdefault(f.path, []).append(f)
    for f in result.noise:
        by_photo.setdefault(f.path, []).append(f)
    for path, faces in by_photo.items():
        missing = [f for f in faces if not (folder / thumb_name(f)).exists()]
        for f in faces:
            out[f"{f.path}|{f.box.as_list()}"] = folder / thumb_name(f)
        if not missing:
            continue
        try:
            with Image.open(path) as opened:
                im = ImageOps.exif_transpose(opened).convert("RGB")
                for f in missing:
                    b = f.box
                    m = 0.2 * max(b.width, b.height)
                    crop = im.crop((round(b.left - m), round(b.top - m), round(b.right + m),
                                    round(b.bottom + m)))
                    crop.thumbnail((size, size))
                    crop.save(folder / thumb_name(f), quality=85)
        except OSError:
            continue  # the photo went away since it was embedded: no thumbnail
    return out


def write_html(result: Clustering, out: Path, thumbs: dict[str, Path], *,
               per_row: int = 40, title: str = "faceprint album") -> Path:
    """The contact sheet: one row per person (largest first) with its faces, face and
    photo counts; the faces that joined nobody apart at the end."""

    def img(f: FaceRef) -> str:
        t = thumbs.get(f"{f.path}|{f.box.as_list()}")
        if t is None:
            return ""
        rel = os.path.relpath(t, out)
        tip = html.escape(f"{f.path} {f.box.as_list()}")
        return f'<img src="{html.escape(rel)}" title="{tip}" loading="lazy">'

    rows = []
    for c in result.clusters:
        label = html.escape(c.name) if c.name else f"person {c.id}"
        more = f'<span class="more">+{c.size - per_row} more</span>' if c.size > per_row else ""
        rows.append(f'<tr><th><div class="id">#{c.id}</div><div class="name">{label}</div>'
                    f'<div class="count">{c.size} face{"s" if c.size != 1 else ""}, '
                    f'{c.photos} photo{"s" if c.photos != 1 else ""}</div></th>'
                    f'<td>{"".join(img(f) for f in c.faces[:per_row])}{more}</td></tr>')
    noise = "".join(img(f) for f in result.noise)
    doc = f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>{html.escape(title)}</title>
<style>
body {{ font-family: system-ui, sans-serif; margin: 1.5em; color: #222; }}
table {{ border-collapse: collapse; }}
th {{ text-align: left; vertical-align: top; padding: .5em 1em .5em 0; width: 11em;
      font-weight: normal; }}
td {{ padding: .4em 0; border-top: 1px solid #ddd; }}
th {{ border-top: 1px solid #ddd; }}
.id {{ color: #888; font-size: .85em; }} .name {{ font-weight: bold; font-size: 1.1em; }}
.count {{ color: #555; font-size: .85em; }} .more {{ color: #777; margin-left: .5em; }}
img {{ width: 64px; height: 64px; object-fit: cover; margin: 1px; border-radius: 3px; }}
</style></head><body>
<h1>{html.escape(title)}</h1>
<p>{len(result.clusters)} people in {sum(c.size for c in result.clusters)} faces;
{len(result.noise)} faces joined nobody. Method {html.escape(result.method)},
threshold {result.threshold:.4f} ({html.escape(result.metric)} distance).</p>
<table>
{chr(10).join(rows)}
</table>
<h2>Faces that joined nobody ({len(result.noise)})</h2>
<div class="noise">{noise}</div>
</body></html>
"""
    page = out / "index.html"
    page.write_text(doc, encoding="utf-8")
    return page


def write_outputs(result: Clustering, out: Path, failed: dict[str, str], *,
                  copy: bool = False, json_path: Path | None = None) -> dict[str, Path]:
    """Every output of an album run (see the module docstring)."""
    written = {"json": write_json(result, out / "clusters.json", failed)}
    if json_path is not None:
        written["json_copy"] = write_json(result, json_path, failed)
    with contextlib.suppress(FaceprintError):  # no pyarrow: the JSON says the same
        written["parquet"] = write_parquet(result, out / "clusters.parquet")
    written["folders"] = write_folders(result, out / "people", copy=copy)
    thumbs = write_thumbnails(result, out / "thumbs")
    written["html"] = write_html(result, out, thumbs)
    return written


def check_found(faces: AlbumFaces, files: Sequence[Path]) -> None:
    """Errors for an album with nothing to cluster."""
    if not files:
        raise ImageError("no image files found")
    if not faces.photos and faces.failed:
        raise ImageError(f"none of the {len(files)} files could be read as an image "
                         f"(first: {next(iter(faces.failed.values()))})")
    if not len(faces):
        raise NoFaceError(f"no face found in any of the {len(faces.photos)} photos")


def enroll_cluster(gallery: Gallery, person: str, embedder: str, vectors: np.ndarray,
                   faces: Sequence[FaceRef], group: str = DEFAULT_GROUP) -> list[int]:
    """Enrol a named cluster's faces as user ``person`` of ``group`` in ``gallery``
    (created if new), in one transaction."""
    return list(gallery.add_faces(person, embedder, np.asarray(vectors, np.float32),
                                  sources=[f.path for f in faces],
                                  boxes=[f.box for f in faces], group=group))
