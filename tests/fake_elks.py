"""A local HTTP server on 127.0.0.1 that answers like 46elks' SMS API.

`POST /a1/sms` sends (as scripted); `GET /a1/sms?to=…&end=…` answers from `history`, the messages the
fake accepted (2xx), newest first, like 46elks' "Fetch SMS history". A message accepted with
`whendelivered` is reported to that URL shortly after, like 46elks does (`reports`: the statuses, in
order; `callbacks`: each report tried and the status it got).
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest

from testkit.fake_http import FakeEndpoint, Request, serve
from testkit.fake_provider import call_back

ELKS_TIME = "%Y-%m-%dT%H:%M:%S.%f"


@dataclass
class FakeElks(FakeEndpoint):
    status: int = 200
    body: str = json.dumps({"id": "s0a1b2c3d4", "status": "created", "direction": "outgoing"})
    history: list[dict[str, Any]] = field(default_factory=list)
    history_status: int = 200
    reports: tuple[str, ...] = ("delivered",)  # () : no delivery reports at all
    report_delay: float = 0.1
    callbacks: list[tuple[dict[str, str], int | None]] = field(default_factory=list)

    def answered(self, request: Request, status: int, body: str) -> None:
        if 200 <= status < 300:
            form = request["form"]
            assert isinstance(form, dict)
            provider_id = json.loads(body)["id"]
            self.history.insert(0, self.entry(provider_id, form["to"], form["message"], form["from"]))
            if form.get("whendelivered") and self.reports:
                call_back(
                    form["whendelivered"],
                    provider_id,
                    self.reports,
                    delay=self.report_delay,
                    answered=lambda f, s: self.callbacks.append((f, s)),
                )

    @staticmethod
    def entry(id: str, to: str, message: str, sender: str, created: datetime | None = None) -> dict[str, Any]:
        created = created or datetime.now(UTC)
        return {
            "id": id,
            "created": created.strftime(ELKS_TIME),
            "direction": "outgoing",
            "from": sender,
            "to": to,
            "message": message,
            "status": "delivered",
        }

    def answer_get(self, path: str) -> tuple[int, str]:
        url = urlsplit(path)
        if url.path != "/a1/sms":
            return 404, "Not found"
        if self.history_status != 200:
            return self.history_status, "error"
        query = {k: v[0] for k, v in parse_qs(url.query).items()}
        data = [
            m
            for m in self.history
            if m["to"] == query.get("to", m["to"]) and m["created"] > query.get("end", "")
        ]
        return 200, json.dumps({"data": data[: int(query.get("limit", 100))]})


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
