"""CompreFace's REST shape: request/response translation only (see routes.py)."""
