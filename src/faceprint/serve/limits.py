"""Limits every request is held to: body size (413), per-key rate (429 with
Retry-After), per-request timeout. Image pixels are the loader's limit
(``ServeConfig.max_pixels``, ImageError) and faces per image ``max_faces``."""

from __future__ import annotations

import asyncio
import functools
import json
import threading
import time
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

import anyio.to_thread

from ..errors import FaceprintError

T = TypeVar("T")


class BodyTooLarge(FaceprintError):
    http_status = 413


class RateLimited(FaceprintError):
    http_status = 429

    def __init__(self, retry_after: float) -> None:
        super().__init__(f"rate limit reached: retry after {retry_after:.1f} s")
        self.retry_after = retry_after


class RequestTimeout(FaceprintError):
    http_status = 503


class BadRequest(FaceprintError):
    """Malformed request (bad JSON, missing parameter); ``param`` names the field."""

    http_status = 400

    def __init__(self, message: str, param: str | None = None, code: int | None = None) -> None:
        super().__init__(message)
        self.param = param
        self.code = code


def parse_json(raw: bytes, code: int, prefix: str = "",
               not_json: str = "the body is not JSON") -> Any:
    """A request body parsed as JSON, or BadRequest (with the calling API's ``code``
    and ``prefix`` to its message) for text that is not JSON (``not_json`` says so),
    JSON nested too deeply, or strings that are not valid Unicode."""
    try:
        body = json.loads(raw)
    except RecursionError:
        raise BadRequest(f"{prefix}JSON nested too deeply", code=code) from None
    except (ValueError, UnicodeDecodeError):
        raise BadRequest(prefix + not_json, code=code) from None
    check_text(body)
    return body


def check_text(body: Any) -> None:
    """Refuse JSON whose strings are not valid Unicode (lone surrogates from escapes)."""
    try:
        json.dumps(body, ensure_ascii=False).encode("utf-8")
    except UnicodeEncodeError:
        raise BadRequest("invalid param: the body holds invalid Unicode (a lone surrogate)",
                         code=216100) from None


class RateLimiter:
    """A token bucket per key (in this worker process)."""

    def __init__(self, per_second: float, burst: int) -> None:
        self.rate = float(per_second)
        self.burst = float(burst)
        self._buckets: dict[str, tuple[float, float]] = {}
        self._lock = threading.Lock()

    def check(self, key_id: str) -> None:
        if self.rate <= 0:
            return
        now = time.monotonic()
        with self._lock:
            tokens, last = self._buckets.get(key_id, (self.burst, now))
            tokens = min(self.burst, tokens + (now - last) * self.rate)
            if tokens < 1.0:
                self._buckets[key_id] = (tokens, now)
                raise RateLimited((1.0 - tokens) / self.rate)
            self._buckets[key_id] = (tokens - 1.0, now)


async def read_body(receive_body: Callable[[], Awaitable[bytes]], limit: int) -> bytes:
    body = await receive_body()
    if len(body) > limit:
        raise BodyTooLarge(f"request body over the limit of {limit} bytes")
    return body


async def run_limited(timeout_s: float, fn: Callable[..., T], *args: Any, **kw: Any) -> T:
    """``fn`` in a worker thread; RequestTimeout after ``timeout_s`` (the thread runs on)."""
    call = functools.partial(fn, *args, **kw)
    try:
        return await asyncio.wait_for(anyio.to_thread.run_sync(call), timeout_s)
    except TimeoutError:
        raise RequestTimeout(f"the request took longer than {timeout_s:g} s") from None


class BodyLimitMiddleware:
    """ASGI middleware: refuses a body over ``limit`` bytes (by Content-Length, or while
    reading a chunked body) with 413 before the endpoint reads it all."""

    def __init__(self, app: Any, limit: int,
                 respond: Callable[[str, str], tuple[int, bytes]]) -> None:
        self.app = app
        self.limit = limit
        self.respond = respond  # (path, message) -> (status, JSON body)

    async def _reply(self, scope: Any, send: Any, message: str) -> None:
        status, body = self.respond(scope.get("path", ""), message)
        await send({"type": "http.response.start", "status": status,
                    "headers": [(b"content-type", b"application/json"),
                                (b"connection", b"close")]})
        await send({"type": "http.response.body", "body": body})

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        for name, value in scope.get("headers", []):
            if name == b"content-length":
                try:
                    size = int(value)
                except ValueError:
                    size = -1
                if size > self.limit or size < 0:
                    await self._reply(scope, send, f"request body over the limit of "
                                                   f"{self.limit} bytes")
                    return
        seen = 0
        started = False

        async def limited_receive() -> Any:
            nonlocal seen
            message = await receive()
            if message["type"] == "http.request":
                seen += len(message.get("body", b""))
                if seen > self.limit:
                    raise BodyTooLarge(f"request body over the limit of {self.limit} bytes")
            return message

        async def tracking_send(message: Any) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
            await send(message)

        try:
            await self.app(scope, limited_receive, tracking_send)
        except BodyTooLarge as exc:
            if not started:
                await self._reply(scope, send, str(exc))
