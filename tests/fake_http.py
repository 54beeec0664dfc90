"""A local HTTP server on 127.0.0.1 that records each POST and answers as the test scripts it."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import TypeVar

Request = dict[str, object]


@dataclass
class FakeEndpoint:
    """What the fake answers (`scripted` first, in order, then `status`/`body`) and what it got."""

    url: str = ""
    status: int = 200
    body: str = ""
    delay: float = 0.0
    requests: list[Request] = field(default_factory=list)
    scripted: list[tuple[int, str]] = field(default_factory=list)


E = TypeVar("E", bound=FakeEndpoint)


def serve(fake: E, read: Callable[[BaseHTTPRequestHandler, str], Request]) -> Iterator[E]:
    """Run `fake` on a free port until the generator is closed; `read` turns a request into a record."""

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            length = int(self.headers.get("Content-Length", 0))
            fake.requests.append(read(self, self.rfile.read(length).decode()))
            if fake.delay:
                time.sleep(fake.delay)
            status, body = fake.scripted.pop(0) if fake.scripted else (fake.status, fake.body)
            payload = body.encode()
            try:
                self.send_response(status)
                self.send_header("Content-Type", "application/json" if body.startswith("{") else "text/plain")
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)
            except (BrokenPipeError, ConnectionResetError):
                pass

        def log_message(self, format: str, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    fake.url = f"http://127.0.0.1:{server.server_address[1]}"
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True)
    thread.start()
    try:
        yield fake
    finally:
        server.shutdown()
        server.server_close()
