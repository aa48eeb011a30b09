"""uvicorn's settings for ``faceprint serve --workers N`` (N > 1), whose shared listening
socket sets TCP_NODELAY.

uvicorn binds that socket itself with protocol 0 (``socket.socket(family=...)``), so
asyncio does not recognise the connections it accepts as TCP and leaves Nagle's
algorithm on (it sets TCP_NODELAY only for sockets whose protocol is IPPROTO_TCP). Each
response's headers and body go out as two writes, and the body then waits for the
client's delayed ACK: about 40 ms added to every request on loopback (measured:
``/healthz`` 44 ms with 2 workers, 1 ms with 1). Connections accepted from a listening
socket with TCP_NODELAY inherit it (Linux). With one worker uvicorn lets asyncio make
the socket, which already sets it.
"""

from __future__ import annotations

import socket

import uvicorn


class NoDelayConfig(uvicorn.Config):
    """:class:`uvicorn.Config` whose :meth:`bind_socket` sets TCP_NODELAY (a module-level
    class, so that the worker processes can unpickle it)."""

    def bind_socket(self) -> socket.socket:
        sock = super().bind_socket()
        if sock.family in (socket.AF_INET, socket.AF_INET6):
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        return sock
