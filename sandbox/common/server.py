"""Run a sandbox's ASGI app under uvicorn, in a daemon thread (tests, benchmarks) or in the foreground (CLI).

Both paths use :class:`SandboxH11Protocol`, uvicorn's h11 protocol with one addition: every request scope
carries ``scope["extensions"]["sandbox.abort"]``, a callable that tears the TCP connection down with no
answer at all. Plain ASGI has no way to do that, and the fault middleware needs it to emulate a dropped
connection.
"""

from __future__ import annotations

import asyncio
import signal
import socket
import threading
from collections.abc import Callable
from typing import Any

import uvicorn
from uvicorn.protocols.http.h11_impl import H11Protocol

ABORT_EXTENSION = "sandbox.abort"

ASGIApp = Callable[..., Any]


class SandboxH11Protocol(H11Protocol):
    """uvicorn's h11 protocol that hands the app a way to abort the connection (see module docstring)."""

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        inner = self.app

        async def app_with_abort(scope: dict, receive: Callable, send: Callable) -> None:
            scope.setdefault("extensions", {})[ABORT_EXTENSION] = transport.abort
            await inner(scope, receive, send)

        self.app = app_with_abort


def _config(app: ASGIApp, host: str, port: int, log_level: str) -> uvicorn.Config:
    return uvicorn.Config(
        app,
        host=host,
        port=port,
        http=SandboxH11Protocol,
        lifespan="off",
        log_level=log_level,
        access_log=False,
        timeout_keep_alive=30,
        backlog=2048,
    )


class ServerThread:
    """An ASGI app served by uvicorn in a daemon thread; ``port=0`` picks a free port.

    The socket is bound here, before the thread starts, so ``url`` is known at once and a port clash fails
    in the caller's thread with an ordinary ``OSError``.
    """

    def __init__(self, app: ASGIApp, host: str = "127.0.0.1", port: int = 0, log_level: str = "warning"):
        self.app = app
        self.host = host
        self.requested_port = port
        self.log_level = log_level
        self.port: int = port
        self._server: uvicorn.Server | None = None
        self._thread: threading.Thread | None = None
        self._socket: socket.socket | None = None

    @property
    def url(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"http://{host}:{self.port}"

    def start(self, timeout: float = 10.0) -> ServerThread:
        """Start serving; returns once the socket accepts connections."""
        if self._thread is not None:
            raise RuntimeError("server already started")
        # proto must be IPPROTO_TCP explicitly: asyncio only sets TCP_NODELAY on accepted sockets whose proto
        # says TCP, and without it every answer waits ~40 ms for a delayed ACK (Nagle).
        family = socket.AF_INET6 if ":" in self.host else socket.AF_INET
        sock = socket.socket(family, socket.SOCK_STREAM, socket.IPPROTO_TCP)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind((self.host, self.requested_port))
        sock.listen(2048)
        self._socket = sock
        self.port = sock.getsockname()[1]
        self._server = uvicorn.Server(_config(self.app, self.host, self.port, self.log_level))
        self._thread = threading.Thread(
            target=self._server.run, kwargs={"sockets": [sock]}, name=f"sandbox-{self.port}", daemon=True
        )
        self._thread.start()
        waited = 0.0
        while not self._server.started:
            if not self._thread.is_alive():
                raise RuntimeError(f"sandbox server on port {self.port} exited during start-up")
            if waited >= timeout:
                self.stop()
                raise TimeoutError(f"sandbox server on port {self.port} did not start within {timeout}s")
            threading.Event().wait(0.01)
            waited += 0.01
        return self

    def stop(self, timeout: float = 10.0) -> None:
        """Ask uvicorn to exit and wait for the thread; idempotent."""
        if self._server is not None:
            self._server.should_exit = True
        if self._thread is not None:
            self._thread.join(timeout)
        if self._socket is not None:
            self._socket.close()
        self._server = None
        self._thread = None
        self._socket = None

    def __enter__(self) -> ServerThread:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    def __repr__(self) -> str:
        return f"ServerThread(url={self.url!r}, running={self._thread is not None})"


def serve_forever(app: ASGIApp, host: str = "127.0.0.1", port: int = 8080, log_level: str = "info") -> None:
    """Serve in the foreground until SIGINT/SIGTERM, then return normally (the CLI path).

    uvicorn shuts down gracefully on those signals and then re-raises the signal against the handler that was
    installed before it started; with the default handler the process would die there, before the caller could
    save its state. A no-op handler installed here turns that re-raise into a plain return.
    """
    in_main_thread = threading.current_thread() is threading.main_thread()
    previous = {}
    if in_main_thread:
        previous = {sig: signal.signal(sig, lambda *_: None) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        uvicorn.Server(_config(app, host, port, log_level)).run()
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
