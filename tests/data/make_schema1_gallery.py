"""Writes tests/data/gallery_schema1.db with faceprint 0.1's own gallery code
(schema 1, commit c6e62b5). Run from the repository root:

    rm -rf /tmp/fp-c6e62b5 && mkdir /tmp/fp-c6e62b5
    git archive c6e62b5 src | tar -x -C /tmp/fp-c6e62b5
    PYTHONPATH=/tmp/fp-c6e62b5/src python tests/data/make_schema1_gallery.py

Three people (16-d vectors, seeded), one with metadata, one face without a box;
one face removed so the face ids have a gap.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

import faceprint
from faceprint.gallery.sqlite import SCHEMA_VERSION, SqliteGallery
from faceprint.types import Box

assert SCHEMA_VERSION == 1, (faceprint.__file__, SCHEMA_VERSION)
out = Path(__file__).with_name("gallery_schema1.db")
out.unlink(missing_ok=True)
rng = np.random.default_rng(2024)
with SqliteGallery(out) as g:
    g.add_person("Ada Lovelace", {"team": "analytics", "badge": 7})
    g.add_faces("Ada Lovelace", "dlib-resnet", rng.normal(size=(3, 16)).astype(np.float32),
                sources=["ada1.jpg", "ada2.jpg", "ada3.jpg"],
                boxes=[Box(10, 20, 30, 40), Box(1, 2, 3, 4), None])
    g.add_faces("Grace Hopper", "dlib-resnet", rng.normal(size=(2, 16)).astype(np.float32),
                sources=["grace1.jpg", "grace2.jpg"])
    g.add_faces("Alan Turing", "dlib-resnet", rng.normal(size=(2, 16)).astype(np.float32))
    g.remove_face(g.faces("Grace Hopper")[0].id)
conn_check = SqliteGallery(out)
print(out, [(p.name, p.face_count) for p in conn_check.people()])
conn_check.close()
for extra in (out.with_name(out.name + "-wal"), out.with_name(out.name + "-shm")):
    extra.unlink(missing_ok=True)
