"""The baseline service of bench_serve.py: face_recognition's functions the way its
README's web example uses them (load the upload, ``face_locations``, ``face_encodings``,
``face_distance`` against known encodings), on FastAPI."""

from __future__ import annotations

import io
import os

import face_recognition
import numpy as np
from fastapi import FastAPI, Request

app = FastAPI()
KNOWN = np.load(os.environ["BASELINE_VECTORS"]) if os.environ.get("BASELINE_VECTORS") else \
    np.zeros((0, 128))


@app.get("/healthz")
def healthz() -> dict[str, str]:
    return {"status": "ok"}


@app.post("/detect")
async def detect(request: Request) -> dict[str, object]:
    image = face_recognition.load_image_file(io.BytesIO(await request.body()))
    boxes = face_recognition.face_locations(image)
    return {"face_num": len(boxes), "faces": [list(b) for b in boxes]}


@app.post("/search")
async def search(request: Request) -> dict[str, object]:
    image = face_recognition.load_image_file(io.BytesIO(await request.body()))
    encodings = face_recognition.face_encodings(image)
    if not encodings:
        return {"user": None}
    d = face_recognition.face_distance(KNOWN, encodings[0])
    i = int(np.argmin(d))
    return {"user": i, "distance": float(d[i])}
