"""``faceprint embed`` run as a real process: a folder of real photos (one of them
not an image) to .npz and .parquet."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from cli_process import fails, ok, run


def test_embed_folder_to_npz(lfw_people: dict[str, list[Path]], photos_dir: Path,
                             tmp_path: Path) -> None:
    folder = tmp_path / "album"
    folder.mkdir()
    for p in lfw_people["Colin_Powell"][:3]:
        (folder / p.name).write_bytes(p.read_bytes())
    (folder / "group.jpg").write_bytes((photos_dir / "multiface.jpg").read_bytes())
    (folder / "broken.jpg").write_text("not an image")
    out = tmp_path / "emb.npz"
    proc = ok(run("embed", folder, "--out", out, "--workers", "2"))
    assert "5 images, 9 faces (0 images without a face, 1 unreadable)" in proc.stdout
    z = np.load(out)
    assert z["embeddings"].shape == (9, 128) and z["boxes"].shape == (9, 4)
    assert [Path(str(p)).name for p in z["failed_paths"]] == ["broken.jpg"]
    # the three photos of one man are near each other, far from the group
    names = np.array([Path(str(p)).name for p in z["paths"]])
    powell = z["embeddings"][np.char.startswith(names, "Colin")]
    assert len(powell) == 3
    assert np.linalg.norm(powell[0] - powell[1]) < 0.6
    largest = tmp_path / "largest.parquet"
    ok(run("embed", folder, "--out", largest, "--largest", "--threads"))
    import pyarrow.parquet as pq

    table = pq.read_table(largest)
    assert table.num_rows == 4 and len(table.column("embedding")[0]) == 128
    assert table.schema.metadata[b"embedder"] == b"dlib-resnet"
    fails(run("embed", folder, "--out", tmp_path / "emb.csv"), 2, "must end in .npz or .parquet")
