"""The FastAPI app of ``faceprint serve``: :func:`create_app` builds it around one
:class:`~faceprint.serve.service.Service` (models loaded at start-up; ``/readyz``
answers 200 only after), mounts the two API shapes (``cloud_v3``, ``compreface``),
the operations endpoints and the web console's static files when present."""

from __future__ import annotations

import json
import logging
import secrets
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import anyio.to_thread
from fastapi import FastAPI, Request, Response
from fastapi.exceptions import RequestValidationError
from fastapi.responses import FileResponse, JSONResponse, PlainTextResponse
from fastapi.staticfiles import StaticFiles
from starlette.exceptions import HTTPException as StarletteHTTPException

from .config import ServeConfig
from .limits import BodyLimitMiddleware, RateLimiter
from .metrics import Metrics
from .service import Service

log = logging.getLogger("faceprint.serve")
WEB_DIR = Path(__file__).parent / "web"


def _shape_of(path: str) -> str:
    if path.startswith("/api/v1/"):
        return "compreface"
    if path.startswith("/rest/2.0/") or path.startswith("/oauth/"):
        return "cloud_v3"
    return "plain"


def shaped_error(path: str, status: int, message: str) -> bytes:
    """An error body in the shape of the API ``path`` belongs to."""
    shape = _shape_of(path)
    if shape == "cloud_v3":
        from .cloud_v3.routes import envelope_bytes

        code = {404: 3, 405: 3, 413: 216100}.get(status, 216100)  # 3: unsupported method
        return envelope_bytes(code, message, new_log_id())
    if shape == "compreface":
        return json.dumps({"message": message, "code": status}).encode()
    return json.dumps({"error": message}).encode()


def _too_large(path: str, message: str) -> tuple[int, bytes]:
    return 413, shaped_error(path, 413, message)


def new_log_id() -> int:
    return secrets.randbits(52)


class State:
    """What the endpoints share (``app.state.fp``)."""

    def __init__(self, config: ServeConfig, service: Service | None) -> None:
        self.config = config
        self.service = service
        self.limiter = RateLimiter(config.rate_per_second, config.rate_burst)
        self.metrics = Metrics()


def get_state(request: Request) -> State:
    state: State = request.app.state.fp
    return state


def create_app(config: ServeConfig | None = None, *, service: Service | None = None) -> FastAPI:
    """The app. ``service`` (tests): an already built service; default: one built, with
    its models loaded, when the app starts (once per worker process)."""
    config = config or ServeConfig()
    state = State(config, service)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        if state.service is None:
            state.service = await anyio.to_thread.run_sync(Service, config)
        if not state.service.ready:
            await anyio.to_thread.run_sync(state.service.warm_up)
        log.info("faceprint serve ready: gallery %s, detector %s, embedder %s",
                 config.db, config.detector, config.embedder)
        try:
            yield
        finally:
            if service is None and state.service is not None:
                state.service.close()

    app = FastAPI(title="faceprint serve", version="1",
                  description="A self-hosted face API: the cloud face API v3 shape "
                              "(/rest/2.0/face/v3, /oauth/2.0/token) and CompreFace's REST "
                              "shape (/api/v1), over one service layer. See docs/service.md.",
                  lifespan=lifespan)
    app.state.fp = state

    @app.exception_handler(StarletteHTTPException)
    async def http_error(request: Request, exc: StarletteHTTPException) -> Response:
        message = {404: "Unsupported openapi method: no such endpoint",
                   405: "Unsupported openapi method: method not allowed"}.get(
            exc.status_code, str(exc.detail))
        return Response(shaped_error(request.url.path, exc.status_code, message),
                        status_code=exc.status_code, media_type="application/json",
                        headers=getattr(exc, "headers", None))

    @app.exception_handler(RequestValidationError)
    async def validation_error(request: Request, exc: RequestValidationError) -> Response:
        first = exc.errors()[0] if exc.errors() else {}
        where = ".".join(str(x) for x in first.get("loc", ()))
        return Response(shaped_error(request.url.path, 400,
                                     f"invalid param: {where}: {first.get('msg', '')}"),
                        status_code=400, media_type="application/json")

    @app.middleware("http")
    async def log_and_measure(request: Request,
                              call_next: Callable[[Request], Awaitable[Response]]) -> Response:
        request.state.log_id = new_log_id()
        request.state.key_id = "-"
        start = time.perf_counter()
        response = await call_next(request)
        seconds = time.perf_counter() - start
        route = request.scope.get("route")
        path = getattr(route, "path", "unmatched")
        state.metrics.observe(path, request.method, response.status_code, seconds)
        log.info("log_id=%d %s %s %d %.1fms key=%s", request.state.log_id, request.method,
                 path, response.status_code, seconds * 1000, request.state.key_id)
        return response

    app.add_middleware(BodyLimitMiddleware, limit=config.max_body_bytes,
                       respond=_too_large)

    @app.get("/healthz", tags=["operations"])
    def healthz() -> dict[str, str]:
        """The process is alive."""
        return {"status": "ok"}

    @app.get("/readyz", tags=["operations"], responses={503: {"description": "not ready"}})
    def readyz() -> JSONResponse:
        """200 once the models are loaded and the gallery is open."""
        ready = state.service is not None and state.service.ready
        return JSONResponse({"status": "ready" if ready else "starting"},
                            status_code=200 if ready else 503)

    @app.get("/metrics", tags=["operations"], response_class=PlainTextResponse)
    def metrics() -> PlainTextResponse:
        """Prometheus text format (this worker process's counters)."""
        return PlainTextResponse(state.metrics.render(),
                                 media_type="text/plain; version=0.0.4")

    from .cloud_v3.routes import router as cloud_router
    from .compreface.routes import router as compreface_router

    app.include_router(cloud_router)
    app.include_router(compreface_router)

    index = WEB_DIR / "index.html"

    @app.get("/", include_in_schema=False, response_model=None)
    def root() -> Any:
        if index.is_file():
            return FileResponse(index)
        return JSONResponse({"service": "faceprint serve", "docs": "/docs",
                             "openapi": "/openapi.json"})

    if WEB_DIR.is_dir():
        app.mount("/static", StaticFiles(directory=WEB_DIR), name="static")
    return app


def app_from_env() -> FastAPI:
    """uvicorn's factory for ``faceprint serve`` (each worker process builds its app from
    the settings the command put in ``FACEPRINT_SERVE_CONFIG``)."""
    import os

    raw = os.environ.get("FACEPRINT_SERVE_CONFIG", "{}")
    return create_app(ServeConfig(**json.loads(raw)))
