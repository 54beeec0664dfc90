"""A local HTTP server on 127.0.0.1 that answers like the FaR register (`POST /reachability`) and the
mailbox suppliers it names (`POST /{supplier}/messages`, on the same server), JSON-shaped as
docs/mailbox.md describes them.

`holders` (12-digit id → supplier) decides reachability; a supplier drops a resend of an
`Idempotency-Key` it has accepted (answers 200 with the first id), as a real one would. `far_scripted`
and `supplier_scripted` answer first, in order; `supplier_delays` delay the supplier's answers in
order (after it has accepted the message: a lost answer)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler

import pytest

from testkit.fake_http import FakeEndpoint, Request, serve


@dataclass
class FakeMailbox(FakeEndpoint):
    holders: dict[str, str] = field(default_factory=dict)
    delivered: dict[str, dict[str, object]] = field(default_factory=dict)  # Idempotency-Key → message
    far_scripted: list[tuple[int, str]] = field(default_factory=list)
    supplier_scripted: list[tuple[int, str]] = field(default_factory=list)
    supplier_delays: list[float] = field(default_factory=list)

    def supplier_requests(self) -> list[Request]:
        return [r for r in self.requests if r["path"] != "/reachability"]

    def far_requests(self) -> list[Request]:
        return [r for r in self.requests if r["path"] == "/reachability"]

    def decide(self, request: Request) -> tuple[int, str, float]:
        body = request["json"] if isinstance(request["json"], dict) else {}
        if request["path"] == "/reachability":
            if self.far_scripted:
                return (*self.far_scripted.pop(0), 0.0)
            answers = [self._reachability(str(r)) for r in body.get("recipients", [])]
            return 200, json.dumps({"recipients": answers}), 0.0
        delay = self.supplier_delays.pop(0) if self.supplier_delays else 0.0
        if self.supplier_scripted:
            return (*self.supplier_scripted.pop(0), delay)
        key = str(request["idempotency_key"])
        if key in self.delivered:
            return 200, json.dumps({"id": self.delivered[key]["id"]}), delay
        message_id = f"mb-{len(self.delivered) + 1:04d}"
        self.delivered[key] = {"id": message_id, "path": request["path"], **body}
        return 201, json.dumps({"id": message_id}), delay

    def _reachability(self, recipient: str) -> dict[str, object]:
        supplier = self.holders.get(recipient)
        if supplier is None:
            return {"id": recipient, "reachable": False, "supplier": None}
        return {
            "id": recipient,
            "reachable": True,
            "supplier": {"id": supplier, "delivery_url": f"{self.url}/{supplier}"},
        }


def _read(handler: BaseHTTPRequestHandler, raw: str) -> Request:
    return {
        "path": handler.path,
        "auth": handler.headers.get("Authorization"),
        "idempotency_key": handler.headers.get("Idempotency-Key"),
        "content_type": handler.headers.get("Content-Type"),
        "json": json.loads(raw) if raw else None,
    }


@pytest.fixture(name="mailbox_server")
def mailbox_server_fixture() -> Iterator[FakeMailbox]:
    """A fake FaR and supplier for the test, shut down after it (import this to use `mailbox_server`)."""
    yield from serve(FakeMailbox(), _read)
