"""A local HTTP server on 127.0.0.1 that answers like the 1177 inbox endpoint (`POST /messages`)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler

import pytest

from testkit.fake_http import FakeEndpoint, Request, serve


@dataclass
class FakeInbox(FakeEndpoint):
    status: int = 201
    body: str = json.dumps({"id": "msg-0001"})


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
