"""CompreFace's REST shape (``/api/v1/...``). Filled in below."""

from __future__ import annotations

from fastapi import APIRouter

router = APIRouter(tags=["CompreFace"])
