"""A booking system's webhook receiver on 127.0.0.1 for the tests: it verifies each event's signature
with the `standardwebhooks` library (as any receiver would), keeps what it took, and can be down
(nothing listens on its port: connection refused) or answer as scripted (e.g. 503) before it takes.

    with WebhookReceiver() as receiver:      # receiver.url, receiver.secret = "whsec_…"
        receiver.down(); receiver.up(); receiver.scripted = [503, 503]
        receiver.events                      # the verified bodies, in order of arrival
"""

from __future__ import annotations

import json
import threading
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import TracebackType
from typing import Any

from standardwebhooks import Webhook, WebhookVerificationError

from testkit.fake_http import answer
from testkit.processes import HOST, free_port


@dataclass
class Delivery:
    """One request that reached the receiver: its headers, body, whether its signature verified, and
    the status it was answered with."""

    headers: dict[str, str]
    body: str
    verified: bool
    status: int


@dataclass
class WebhookReceiver:
    path: str = "/hooks"
    secret: str | None = None  # set once the webhook is registered (the secret is shown once)
    scripted: list[int] = field(default_factory=list)  # statuses to answer first, in order
    requests: list[Delivery] = field(default_factory=list)
    port: int = field(default_factory=free_port)
    _server: ThreadingHTTPServer | None = None
    _lock: threading.Lock = field(default_factory=threading.Lock)

    @property
    def url(self) -> str:
        return f"http://{HOST}:{self.port}{self.path}"

    @property
    def taken(self) -> list[Delivery]:
        """The requests it verified and answered 2xx."""
        return [r for r in self.requests if r.verified and 200 <= r.status < 300]

    @property
    def events(self) -> list[dict[str, Any]]:
        """The bodies of the events it took, with their `webhook-id` as `id`."""
        return [{"id": r.headers["webhook-id"], **json.loads(r.body)} for r in self.taken]

    def _take(self, headers: dict[str, str], body: str) -> int:
        try:
            verified = self.secret is not None and Webhook(self.secret).verify(body, headers) is not None
        except WebhookVerificationError:
            verified = False
        with self._lock:
            status = (self.scripted.pop(0) if self.scripted else 204) if verified else 401
            self.requests.append(Delivery(headers, body, verified, status))
        return status

    def up(self) -> None:
        """Listen (again) on the receiver's port."""
        if self._server is not None:
            return
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length", 0))).decode()
                headers = {k.lower(): v for k, v in self.headers.items()}
                answer(self, receiver._take(headers, body), "")

            def log_message(self, format: str, *args: object) -> None:
                pass

        self._server = ThreadingHTTPServer((HOST, self.port), Handler)
        threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True
        ).start()

    def down(self) -> None:
        """Stop listening: a delivery now finds its connection refused."""
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None

    def __enter__(self) -> WebhookReceiver:
        self.up()
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.down()
