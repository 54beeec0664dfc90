"""A local HTTP server on 127.0.0.1 that answers like 46elks' SMS API (`POST /a1/sms`)."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs

import pytest


@dataclass
class FakeElks:
    """A local HTTP server answering like 46elks; records every request it gets."""

    url: str = ""
    status: int = 200
    body: str = json.dumps({"id": "s0a1b2c3d4", "status": "created", "direction": "outgoing"})
    delay: float = 0.0
    requests: list[dict[str, object]] = field(default_factory=list)
    scripted: list[tuple[int, str]] = field(default_factory=list)  # answered first, in order


@pytest.fixture
def elks() -> Iterator[FakeElks]:
    """A fake 46elks server for the test, shut down after it."""
    fake = FakeElks()

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            length = int(self.headers.get("Content-Length", 0))
            form = parse_qs(self.rfile.read(length).decode())
            fake.requests.append(
                {
                    "path": self.path,
                    "auth": self.headers.get("Authorization"),
                    "content_type": self.headers.get("Content-Type"),
                    "form": {k: v[0] for k, v in form.items()},
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
