"""``faceprint cluster`` and ``faceprint figure`` on real faces: every output and
option, incremental runs, naming into a real SQLite gallery, and bad input.

The album: four LFW people, four photos each, copied into a tmp folder with the
dog photo (no face) and a file that is not an image; four more photos (one per
person) arrive later."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from faceprint.cli import main

PEOPLE = ("Colin_Powell", "Laura_Bush", "Serena_Williams", "Tony_Blair")


@pytest.fixture(scope="module")
def photos(lfw_dir: Path, photos_dir: Path, tmp_path_factory: pytest.TempPathFactory
           ) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("album")
    first, later = root / "photos", root / "later"
    first.mkdir()
    later.mkdir()
    for person in PEOPLE:
        for i in range(1, 5):
            name = f"{person}_{i:04d}.jpg"
            shutil.copy(lfw_dir / "images" / person / name, first / name)
        name = f"{person}_0005.jpg"
        shutil.copy(lfw_dir / "images" / person / name, later / name)
    shutil.copy(photos_dir / "dogs.jpg", first / "dogs.jpg")
    (first / "broken.jpg").write_text("not an image")
    (root / "empty").mkdir()
    dogs = root / "dogs"
    dogs.mkdir()
    shutil.copy(photos_dir / "dogs.jpg", dogs / "dogs.jpg")
    return {"root": root, "first": first, "later": later, "empty": root / "empty",
            "dogs": dogs}


def person(path: str) -> str:
    return Path(path).stem.rsplit("_", 1)[0]


@pytest.fixture(scope="module")
def album(photos: dict[str, Path]) -> tuple[Path, dict[str, object], Path]:
    out = photos["root"] / "out"
    json_path = photos["root"] / "clusters.json"
    code = main(["cluster", str(photos["first"]), "--out", str(out), "--json", str(json_path),
                 "--workers", "1"])
    assert code == 0
    return out, json.loads(json_path.read_text()), json_path


def test_json_clusters_people_largest_first(album: tuple[Path, dict[str, object], Path]
                                            ) -> None:
    out, data, _ = album
    clusters = data["clusters"]
    assert isinstance(clusters, list) and isinstance(data["noise"], list)
    sizes = [c["size"] for c in clusters]
    assert sizes == sorted(sizes, reverse=True) and len(clusters) >= 3
    for c in clusters:
        assert c["size"] == len(c["faces"]) >= 2
        assert len({person(f["path"]) for f in c["faces"]}) == 1  # one person each
        for f in c["faces"]:
            assert len(f["box"]) == 4 and f["box"][2] > 40  # (l, t, w, h) of a real face
    faces = sum(sizes) + len(data["noise"])
    assert faces >= 16  # every photo's face (LFW photos may hold more than one)
    assert data["metric"] == "euclidean" and data["method"] == "chinese-whispers"
    assert data["failed"][0]["path"].endswith("broken.jpg")  # recorded, not fatal
    assert json.loads((out / "clusters.json").read_text())["clusters"] == clusters
    # dogs.jpg has no face: in no cluster, not in the noise, not failed
    everything = [f["path"] for c in clusters for f in c["faces"]] + [
        f["path"] for f in data["noise"]]
    assert not any(p.endswith("dogs.jpg") for p in everything)


def test_parquet_says_what_the_json_says(album: tuple[Path, dict[str, object], Path]) -> None:
    import pyarrow.parquet as pq

    out, data, _ = album
    table = pq.read_table(out / "clusters.parquet").to_pylist()
    clusters = data["clusters"]
    assert isinstance(clusters, list)
    want = {(c["id"], f["path"], tuple(f["box"])) for c in clusters for f in c["faces"]}
    got = {(r["cluster"], r["path"], tuple(round(v, 1) for v in r["box"])) for r in table
           if r["cluster"] >= 0}
    assert got == want
    assert sum(r["cluster"] == -1 for r in table) == len(data["noise"])  # type: ignore[arg-type]


def test_folders_of_links_and_contact_sheet(album: tuple[Path, dict[str, object], Path]
                                            ) -> None:
    out, data, _ = album
    clusters = data["clusters"]
    assert isinstance(clusters, list)
    for c in clusters:
        folder = out / "people" / f"{c['id']:04d}"
        links = sorted(folder.iterdir())
        assert len(links) == c["photos"]
        assert all(p.is_symlink() and p.resolve().exists() for p in links)
    page = (out / "index.html").read_text()
    assert page.count("<tr>") == len(clusters)
    thumbs = sorted((out / "thumbs").glob("*.jpg"))
    assert len(thumbs) == sum(c["size"] for c in clusters) + len(data["noise"])  # type: ignore[arg-type]
    for t in thumbs[:5]:
        assert t.name in page
        with Image.open(t) as im:
            assert im.format == "JPEG" and max(im.size) <= 96
    assert "joined nobody" in page


def test_rerun_reuses_the_cache_and_copy_copies(
        album: tuple[Path, dict[str, object], Path], photos: dict[str, Path],
        capsys: pytest.CaptureFixture[str]) -> None:
    out, data, _ = album
    capsys.readouterr()
    assert main(["cluster", str(photos["first"]), "--out", str(out), "--copy",
                 "--workers", "1"]) == 0
    said = capsys.readouterr().out
    assert "(1 files embedded now" in said  # only the broken file is tried again
    files = [p for p in (out / "people").rglob("*.jpg")]
    assert files and not any(p.is_symlink() for p in files)
    again = json.loads((out / "clusters.json").read_text())
    assert again["clusters"] == data["clusters"]


@pytest.mark.parametrize("method", ["agglomerative", "hdbscan"])
def test_other_methods(method: str, photos: dict[str, Path], album: tuple) -> None:
    out = photos["root"] / f"out-{method}"
    out.mkdir()
    shutil.copy(album[0] / "faces.npz", out / "faces.npz")  # the embeddings, not the state
    assert main(["cluster", str(photos["first"]), "--out", str(out), "--method", method,
                 "--workers", "1"]) == 0
    data = json.loads((out / "clusters.json").read_text())
    assert data["method"] == method and len(data["clusters"]) >= 3
    for c in data["clusters"]:
        assert len({person(f["path"]) for f in c["faces"]}) == 1


def test_threshold_option(photos: dict[str, Path], album: tuple) -> None:
    out = photos["root"] / "out-tight"
    out.mkdir()
    shutil.copy(album[0] / "faces.npz", out / "faces.npz")
    assert main(["cluster", str(photos["first"]), "--out", str(out), "--threshold", "0.05",
                 "--workers", "1"]) == 0
    data = json.loads((out / "clusters.json").read_text())
    assert data["threshold"] == 0.05 and data["clusters"] == [] and len(data["noise"]) >= 16


def test_name_enrols_and_incremental_keeps_ids_and_names(
        photos: dict[str, Path], capsys: pytest.CaptureFixture[str]) -> None:
    from faceprint.gallery.sqlite import SqliteGallery

    out = photos["root"] / "out-inc"
    db = photos["root"] / "gallery.db"
    assert main(["cluster", str(photos["first"]), "--out", str(out), "--workers", "1"]) == 0
    before = json.loads((out / "clusters.json").read_text())
    serena = next(c for c in before["clusters"]
                  if person(c["faces"][0]["path"]) == "Serena_Williams")
    assert main(["cluster", "name", str(out), str(serena["id"]), "Serena", "--db", str(db)]) == 0
    with SqliteGallery(db) as g:
        assert g.person("Serena").face_count == serena["size"]
        sources = {f.source for f in g.faces("Serena")}
    assert sources == {f["path"] for f in serena["faces"]}
    capsys.readouterr()
    assert main(["cluster", "--incremental", str(out), str(photos["later"]),
                 "--workers", "1"]) == 0
    said = capsys.readouterr().out
    assert "new faces joined existing people" in said
    after = json.loads((out / "clusters.json").read_text())
    by_id = {c["id"]: c for c in after["clusters"]}
    for c in before["clusters"]:  # every old cluster is still there, with its faces
        old = {(f["path"], tuple(f["box"])) for f in c["faces"]}
        assert old <= {(f["path"], tuple(f["box"])) for f in by_id[c["id"]]["faces"]}
    named = by_id[serena["id"]]
    assert named["name"] == "Serena"
    assert any(f["path"].endswith("Serena_Williams_0005.jpg") for f in named["faces"])
    assert (out / "people" / f"{serena['id']:04d} Serena").is_dir()
    # naming again enrols only the faces that arrived since
    assert main(["cluster", "name", str(out), str(serena["id"]), "Serena", "--db",
                 str(db)]) == 0
    with SqliteGallery(db) as g:
        assert g.person("Serena").face_count == named["size"]
    # a full re-run renumbers but the name follows its faces
    assert main(["cluster", str(photos["first"]), str(photos["later"]), "--out", str(out),
                 "--workers", "1"]) == 0
    rerun = json.loads((out / "clusters.json").read_text())
    again = [c for c in rerun["clusters"] if c.get("name") == "Serena"]
    assert len(again) == 1 and person(again[0]["faces"][0]["path"]) == "Serena_Williams"


def test_map_of_the_album(album: tuple[Path, dict[str, object], Path]) -> None:
    out = album[0]
    assert main(["cluster", "map", str(out), "--perplexity", "5"]) == 0
    with Image.open(out / "map.png") as im:
        assert im.size[0] > 800
        pixels = np.asarray(im.convert("RGB"))
    assert pixels.std() > 20  # a picture, not a blank page


@pytest.mark.parametrize("args,code,message", [
    (["cluster", "{empty}", "--out", "{root}/o1"], 3, "no image files"),
    (["cluster", "{dogs}", "--out", "{root}/o2"], 4, "no face found"),
    (["cluster", "{root}/missing", "--out", "{root}/o3"], 3, "no such file"),
    (["cluster", "{first}", "--out", "{root}/o4", "--method", "kmeans"], 2, "invalid choice"),
    (["cluster", "{first}"], 2, "--out OUT is required"),
    (["cluster", "{first}", "--out", "{root}/o5", "--incremental", "{root}/o5"], 2, "not both"),
    (["cluster", "--incremental", "{root}/not-an-album", "{first}"], 7, "no album here"),
    (["cluster", "name", "{root}/out", "9999", "Nobody", "--db", "{root}/g2.db"], 7,
     "no cluster 9999"),
    (["cluster", "name", "{root}/out", "seven", "Nobody"], 2, "must be a number"),
    (["cluster", "{first}", "--out", "{root}/o6", "--threshold", "-1"], 2, "must be > 0"),
])
def test_bad_input(args: list[str], code: int, message: str, photos: dict[str, Path],
                   album: tuple, capsys: pytest.CaptureFixture[str]) -> None:
    argv = [a.format(**{k: str(v) for k, v in photos.items()}) for a in args]
    if code == 2 and "invalid choice" in message:
        with pytest.raises(SystemExit) as exc:
            main(argv)
        assert exc.value.code == 2
    else:
        assert main(argv) == code
    err = capsys.readouterr().err
    assert message in err and "Traceback" not in err


def test_figures(photos: dict[str, Path], lfw_dir: Path, tmp_path: Path) -> None:
    from faceprint.gallery.sqlite import SqliteGallery

    images = lfw_dir / "images"
    a, b, c = (images / "Serena_Williams" / "Serena_Williams_0001.jpg",
               images / "Serena_Williams" / "Serena_Williams_0002.jpg",
               images / "Tony_Blair" / "Tony_Blair_0001.jpg")
    pairs = tmp_path / "pairs.png"
    assert main(["figure", "pairs", str(a), str(b), str(a), str(c), "--out", str(pairs)]) == 0
    assert main(["figure", "pairs", str(a), "--out", str(pairs)]) == 1  # odd count
    sim = tmp_path / "sim.png"
    assert main(["figure", "similarity", *(str(images / p) for p in PEOPLE), "--per-person",
                 "3", "--out", str(sim)]) == 0
    fmap = tmp_path / "map.png"
    assert main(["figure", "map", *(str(images / p) for p in PEOPLE), "--per-person", "5",
                 "--perplexity", "5", "--out", str(fmap)]) == 0
    db = tmp_path / "g.db"
    assert main(["enroll", "Serena Williams", str(a), str(b), "--db", str(db)]) == 0
    rec = tmp_path / "rec.png"
    assert main(["figure", "recognized", str(images / "Serena_Williams" /
                                             "Serena_Williams_0003.jpg"), str(c),
                 "--db", str(db), "--out", str(tmp_path / "rec")]) == 0
    rec = tmp_path / "rec" / "Serena_Williams_0003.png"
    for p in (pairs, sim, fmap, rec):
        with Image.open(p) as im:
            assert np.asarray(im.convert("RGB")).std() > 20, p
    # the recognized face is drawn green, the stranger red
    with Image.open(tmp_path / "rec" / "Tony_Blair_0001.png") as im:
        px = np.asarray(im.convert("RGB")).reshape(-1, 3)
    assert ((px[:, 0] > 200) & (px[:, 1] < 80) & (px[:, 2] < 80)).sum() > 500
    with SqliteGallery(db) as g:
        assert g.person("Serena Williams").face_count == 2
