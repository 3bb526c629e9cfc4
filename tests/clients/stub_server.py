"""A tiny real HTTP server on loopback whose answers each test scripts.

Used for the cases the sandboxes do not script exactly (an error body that echoes a token, a
dropped connection mid-body, a response slower than the client's timeout). Real sockets, real
httpx; nothing in the client is replaced.
"""

from __future__ import annotations

import contextlib
import json
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


@dataclass
class Recorded:
    method: str
    path: str  # raw request target, percent-encoding untouched
    headers: dict[str, str]
    body: bytes

    def json(self) -> Any:
        return json.loads(self.body) if self.body else None


@dataclass
class Reply:
    status: int = 200
    body: Any = None
    headers: dict[str, str] = field(default_factory=dict)
    drop_after_headers: bool = False  # send headers and half a body, then close the socket
    delay: float = 0.0

    def encoded(self) -> bytes:
        if self.body is None:
            return b""
        if isinstance(self.body, bytes):
            return self.body
        if isinstance(self.body, str):
            return self.body.encode()
        return json.dumps(self.body).encode()


Handler = Callable[[Recorded], Reply]


class StubServer:
    def __init__(self) -> None:
        self.routes: dict[tuple[str, str], Handler] = {}
        self.requests: list[Recorded] = []
        stub = self

        class _Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"
            wbufsize = 1 << 16  # one write per response: no Nagle/delayed-ACK stall between header and body

            def log_message(self, *args: Any) -> None:  # keep test output quiet
                pass

            def _serve(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                recorded = Recorded(
                    self.command, self.path, dict(self.headers.items()), self.rfile.read(length)
                )
                stub.requests.append(recorded)
                route = stub.routes.get((self.command, self.path.split("?")[0]))
                reply = route(recorded) if route else Reply(404, {"message": "no stub route"})
                if reply.delay:
                    time.sleep(reply.delay)
                body = reply.encoded()
                self.send_response(reply.status)
                if body:
                    self.send_header("Content-Type", "application/json")
                for name, value in reply.headers.items():
                    self.send_header(name, value)
                self.send_header("Content-Length", str(len(body) if not reply.drop_after_headers else 1000))
                self.end_headers()
                if reply.drop_after_headers:
                    self.wfile.write(b'{"half": ')
                    self.wfile.flush()
                    self.close_connection = True
                    return
                self.wfile.write(body)

            def _serve_quietly(self) -> None:
                # the client may give up first (the timeout tests): then there is no one to answer
                with contextlib.suppress(BrokenPipeError, ConnectionResetError):
                    self._serve()

            do_GET = do_POST = do_PUT = do_DELETE = _serve_quietly

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
        self._server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self._server.server_address[1]}"
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True
        )

    def route(self, method: str, path: str, reply: Reply | Handler) -> None:
        self.routes[(method, path)] = reply if callable(reply) else (lambda _req, r=reply: r)

    def start(self) -> StubServer:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()


def running_stub() -> Iterator[StubServer]:
    server = StubServer().start()
    try:
        yield server
    finally:
        server.stop()
