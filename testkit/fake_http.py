"""A local HTTP server on 127.0.0.1 that records each request and answers as the test scripts it
(the base of the fakes in tests/ and of the 46elks-shaped provider, `fake_provider`)."""

from __future__ import annotations

import socket
import struct
import sys
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, TypeVar

Request = dict[str, object]


@dataclass
class FakeEndpoint:
    """What the fake answers (`scripted` first, in order, then `status`/`body`; after
    `scripted_delays`, in order, then `delay`) and what it got (each POST with its `arrived` time,
    `time.monotonic()`; each GET's path, and its `Authorization` header in `get_auth`)."""

    url: str = ""
    status: int = 200
    body: str = ""
    delay: float = 0.0
    requests: list[Request] = field(default_factory=list)
    scripted: list[tuple[int, str]] = field(default_factory=list)
    scripted_delays: list[float] = field(default_factory=list)
    gets: list[str] = field(default_factory=list)
    get_auth: list[str | None] = field(default_factory=list)

    def decide(self, request: Request) -> tuple[int, str, float]:
        """(status, body, delay) for one POST: `scripted` first, then `status`/`body`; a fake provider
        overrides this to decide by its own rules and record what it accepted."""
        status, body = self.scripted.pop(0) if self.scripted else (self.status, self.body)
        delay = self.scripted_delays.pop(0) if self.scripted_delays else self.delay
        return status, body, delay

    def answer_get(self, path: str) -> tuple[int, str]:
        return 404, "Not found"


E = TypeVar("E", bound=FakeEndpoint)

RESET = 0
"""The status of a POST whose connection is reset (TCP RST) instead of answered."""


def answer(handler: BaseHTTPRequestHandler, status: int, body: str) -> None:
    """Send `body` (JSON when it starts with `{`) with `status`; a client that has gone is ignored."""
    payload = body.encode()
    try:
        handler.send_response(status)
        handler.send_header("Content-Type", "application/json" if body.startswith("{") else "text/plain")
        handler.send_header("Content-Length", str(len(payload)))
        handler.end_headers()
        handler.wfile.write(payload)
    except (BrokenPipeError, ConnectionResetError):
        pass


class _Server(ThreadingHTTPServer):
    def handle_error(self, request: Any, client_address: Any) -> None:
        """A client gone mid-request (a worker `kill -9`'d by a benchmark) is no error of the fake."""
        if not isinstance(sys.exc_info()[1], ConnectionError):
            super().handle_error(request, client_address)


def serve(
    fake: E, read: Callable[[BaseHTTPRequestHandler, str], Request], protocol: str = "HTTP/1.0"
) -> Iterator[E]:
    """Run `fake` on a free port until the generator is closed; `read` turns a request into a record.
    `protocol` "HTTP/1.1" keeps connections open between requests (the benchmarks' provider)."""

    class Handler(BaseHTTPRequestHandler):
        protocol_version = protocol

        def do_POST(self) -> None:
            length = int(self.headers.get("Content-Length", 0))
            request = read(self, self.rfile.read(length).decode())
            request["arrived"] = time.monotonic()
            fake.requests.append(request)
            status, body, delay = fake.decide(request)
            if delay:
                time.sleep(delay)
            if status == RESET:  # taken, then the connection reset at once: the answer is lost
                self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
                self.connection.close()
                self.close_connection = True
                return
            answer(self, status, body)

        def do_GET(self) -> None:
            fake.gets.append(self.path)
            fake.get_auth.append(self.headers.get("Authorization"))
            answer(self, *fake.answer_get(self.path))

        def log_message(self, format: str, *args: object) -> None:
            pass

    server = _Server(("127.0.0.1", 0), Handler)
    fake.url = f"http://127.0.0.1:{server.server_address[1]}"
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True)
    thread.start()
    try:
        yield fake
    finally:
        server.shutdown()
        server.server_close()
