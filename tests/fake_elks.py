"""A local HTTP server on 127.0.0.1 that answers like 46elks' SMS API (`POST /a1/sms`)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler
from urllib.parse import parse_qs

import pytest

from tests.fake_http import FakeEndpoint, Request, serve


@dataclass
class FakeElks(FakeEndpoint):
    status: int = 200
    body: str = json.dumps({"id": "s0a1b2c3d4", "status": "created", "direction": "outgoing"})


def _read(handler: BaseHTTPRequestHandler, raw: str) -> Request:
    return {
        "path": handler.path,
        "auth": handler.headers.get("Authorization"),
        "content_type": handler.headers.get("Content-Type"),
        "form": {k: v[0] for k, v in parse_qs(raw).items()},
    }


@pytest.fixture
def elks() -> Iterator[FakeElks]:
    """A fake 46elks server for the test, shut down after it."""
    yield from serve(FakeElks(), _read)
