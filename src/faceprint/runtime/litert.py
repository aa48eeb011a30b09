"""LiteRT (formerly TensorFlow Lite, package ``ai-edge-litert``): interpreters for
``.tflite`` networks. Importing this module does not import LiteRT."""

from __future__ import annotations

import contextlib
import os
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

__all__ = ["litert_available", "litert_interpreter", "thread_interpreter"]


def litert_available() -> bool:
    """Whether ai-edge-litert (LiteRT, formerly TensorFlow Lite) can be imported."""
    try:
        from ai_edge_litert.interpreter import Interpreter  # noqa: F401
    except ImportError:
        return False
    return True


@contextlib.contextmanager
def _native_stderr_silenced() -> Iterator[None]:
    """File descriptor 2 points to /dev/null inside the block (native libraries
    write there directly, past ``sys.stderr``)."""
    try:
        saved = os.dup(2)
    except OSError:  # no stderr at all
        yield
        return
    try:
        with open(os.devnull, "wb") as null:
            os.dup2(null.fileno(), 2)
        yield
    finally:
        os.dup2(saved, 2)
        os.close(saved)


def litert_interpreter(path: str | Path, threads: int = 1) -> Any:
    """A LiteRT ``Interpreter`` of the ``.tflite`` file ``path`` with its tensors
    allocated (LiteRT's INFO line on stderr silenced). One interpreter runs one
    call at a time; the caller gives each thread its own. (``Any``: ai-edge-litert
    ships no type information.)"""
    from ai_edge_litert.interpreter import Interpreter

    with _native_stderr_silenced():  # LiteRT prints an INFO line on stderr
        net = Interpreter(model_path=str(path), num_threads=threads)
        net.allocate_tensors()
    return net


_per_thread = threading.local()


def thread_interpreter(path: str | Path) -> Any:
    """This thread's own LiteRT interpreter of ``path`` (made on first use, then kept:
    one interpreter runs one call at a time)."""
    nets: dict[str, Any] | None = getattr(_per_thread, "nets", None)
    if nets is None:
        nets = _per_thread.nets = {}
    key = str(path)
    if key not in nets:
        nets[key] = litert_interpreter(path)
    return nets[key]
