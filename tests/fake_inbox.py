"""A local HTTP server on 127.0.0.1 that answers like the 1177 inbox endpoint (`POST /messages`)."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest


@dataclass
class FakeInbox:
    """A local HTTP server answering like the inbox endpoint; records every request it gets."""

    url: str = ""
    status: int = 201
    body: str = json.dumps({"id": "msg-0001"})
    delay: float = 0.0
    requests: list[dict[str, object]] = field(default_factory=list)
    scripted: list[tuple[int, str]] = field(default_factory=list)  # answered first, in order


@pytest.fixture(name="inbox_server")
def inbox_server_fixture() -> Iterator[FakeInbox]:
    """A fake inbox endpoint for the test, shut down after it (import this to use `inbox_server`)."""
    fake = FakeInbox()

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            length = int(self.headers.get("Content-Length", 0))
            raw = self.rfile.read(length).decode()
            fake.requests.append(
                {
                    "path": self.path,
                    "auth": self.headers.get("Authorization"),
                    "idempotency_key": self.headers.get("Idempotency-Key"),
                    "content_type": self.headers.get("Content-Type"),
                    "json": json.loads(raw) if raw else None,
                }
            )
            if fake.delay:
                time.sleep(fake.delay)
            status, body = fake.scripted.pop(0) if fake.scripted else (fake.status, fake.body)
            payload = body.encode()
            try:
                self.send_response(status)
                is_json = body.startswith("{")
                self.send_header("Content-Type", "application/json" if is_json else "text/plain")
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
    yield fake
    server.shutdown()
    server.server_close()
