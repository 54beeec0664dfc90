"""A local HTTP server on 127.0.0.1 that answers like the 1177 inbox endpoint: `POST /messages`, and
`GET /messages/{id}` with when the patient read it (`read`: id → ISO time or None; an id not in it
is unknown, 404)."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler
from urllib.parse import unquote

import pytest

from testkit.fake_http import FakeEndpoint, Request, serve


@dataclass
class FakeInbox(FakeEndpoint):
    status: int = 201
    body: str = json.dumps({"id": "msg-0001"})
    read: dict[str, str | None] = field(default_factory=dict)
    scripted_gets: list[tuple[int, str]] = field(default_factory=list)
    get_delay: float = 0.0

    def answer_get(self, path: str) -> tuple[int, str]:
        """`scripted_gets` first, in order; then the message's `read_at` from `read`, or 404."""
        if self.get_delay:
            time.sleep(self.get_delay)
        if self.scripted_gets:
            return self.scripted_gets.pop(0)
        prefix = "/messages/"
        message_id = unquote(path.removeprefix(prefix)) if path.startswith(prefix) else None
        if message_id is None or message_id not in self.read:
            return 404, json.dumps({"error": "not_found"})
        return 200, json.dumps({"id": message_id, "read_at": self.read[message_id]})


def _read(handler: BaseHTTPRequestHandler, raw: str) -> Request:
    return {
        "path": handler.path,
        "auth": handler.headers.get("Authorization"),
        "idempotency_key": handler.headers.get("Idempotency-Key"),
        "content_type": handler.headers.get("Content-Type"),
        "json": json.loads(raw) if raw else None,
    }


@pytest.fixture(name="inbox_server")
def inbox_server_fixture() -> Iterator[FakeInbox]:
    """A fake inbox endpoint for the test, shut down after it (import this to use `inbox_server`)."""
    yield from serve(FakeInbox(), _read)
