"""A local SMS provider shaped like 46elks (`POST /a1/sms`, form fields `from`, `to`, `message`) on 127.0.0.1.

It can limit the rate (token bucket: more than `rate` requests within a second get 429), fail a share
of requests with 5xx, not answer a share within the client's timeout, and refuse chosen numbers with
400 "Invalid to number" — always, before any random fault, so that each such number should see
exactly one request. It counts requests and deliveries by `to` number (46elks has no idempotency
key, so a number reached twice is an SMS sent twice), and answers `GET /a1/sms?to=…&end=…` with the
messages it delivered to that number, like 46elks' history. A message sent with `whendelivered` gets
its delivery report(s) POSTed to that URL shortly after, like 46elks does (`call_back`).
"""

from __future__ import annotations

import json
import random
import threading
import time
import uuid
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit, urlunsplit

import httpx

from testkit.fake_http import answer

DELIVERED_TIME = "%Y-%m-%d %H:%M:%S.%f"
"""The `delivered` field of 46elks' delivery reports: UTC without an offset."""


def call_back(
    url: str,
    provider_id: str,
    statuses: tuple[str, ...] = ("delivered",),
    delay: float = 0.2,
    attempts: int = 3,
    retry_delay: float = 0.2,
    answered: Callable[[dict[str, str], int | None], None] | None = None,
) -> threading.Thread:
    """POST 46elks' delivery reports for `provider_id` to its `whendelivered` URL, in a background
    thread, `delay` s from now: a form (`id`, `status`, and `delivered` when delivered) with the
    URL's user and password as HTTP Basic credentials, each report tried again (up to `attempts`)
    unless answered 200–204. `answered(form, status)` sees every try (status None: no answer)."""
    parts = urlsplit(url)
    target = urlunsplit(parts._replace(netloc=parts.hostname + (f":{parts.port}" if parts.port else "")))
    auth = (unquote(parts.username or ""), unquote(parts.password or "")) if parts.username else None

    def run() -> None:
        time.sleep(delay)
        with httpx.Client(auth=auth, timeout=5.0) as client:
            for status in statuses:
                form = {"id": provider_id, "status": status}
                if status == "delivered":
                    form["delivered"] = datetime.now(UTC).strftime(DELIVERED_TIME)
                for attempt in range(attempts):
                    try:
                        code: int | None = client.post(target, data=form).status_code
                    except httpx.HTTPError:
                        code = None
                    if answered is not None:
                        answered(form, code)
                    if code is not None and 200 <= code <= 204:
                        break
                    if attempt + 1 < attempts:
                        time.sleep(retry_delay)

    thread = threading.Thread(target=run, name="fake-46elks-callback", daemon=True)
    thread.start()
    return thread


@dataclass
class ProviderConfig:
    rate: float | None = None  # requests per second (bucket of `rate` tokens); None: no limit
    fail_5xx: float = 0.0  # share of requests answered 503
    timeout: float = 0.0  # share of requests not answered within `timeout_s`
    timeout_s: float = 12.0  # longer than the gateway's 10 s client timeout
    timeout_delivers: bool = False  # a request that times out was still delivered (the answer was lost)
    invalid: set[str] = field(default_factory=set)  # E.164 numbers refused with 400 "Invalid to number"
    seed: int = 1
    delivery_reports: bool = True  # call back a message sent with `whendelivered` (the gateway's choice)
    report_sent_first: bool = False  # report `sent` before `delivered`, as 46elks may
    report_delay_s: float = 0.5  # from accepting to the first report


@dataclass
class ProviderStats:
    requests: int = 0
    delivered: int = 0
    rejected_429: int = 0
    failed_5xx: int = 0
    timeouts: int = 0
    invalid_400: int = 0
    requests_by_to: Counter[str] = field(default_factory=Counter)
    delivered_by_to: Counter[str] = field(default_factory=Counter)
    history_requests: int = 0
    reports: int = 0  # delivery-report POSTs answered 200–204
    reports_refused: int = 0  # ... answered otherwise, or not at all (tried again)
    first_request: float | None = None
    last_delivery: float | None = None

    def as_dict(self) -> dict[str, Any]:
        return {
            "requests": self.requests,
            "delivered": self.delivered,
            "distinct_numbers_delivered": len(self.delivered_by_to),
            "numbers_delivered_twice_or_more": sum(1 for n in self.delivered_by_to.values() if n > 1),
            "rejected_429": self.rejected_429,
            "failed_5xx": self.failed_5xx,
            "timeouts": self.timeouts,
            "invalid_400": self.invalid_400,
            "history_requests": self.history_requests,
            "delivery_reports": self.reports,
            "delivery_reports_refused": self.reports_refused,
        }


class FakeProvider:
    def __init__(self, config: ProviderConfig) -> None:
        self.config = config
        self.stats = ProviderStats()
        self._lock = threading.Lock()
        self._random = random.Random(config.seed)
        self._tokens = config.rate or 0.0
        self._last = time.monotonic()
        self._history: dict[str, list[dict[str, str]]] = {}  # to → delivered messages, oldest first
        self._server: ThreadingHTTPServer | None = None
        self.url = ""

    def _take_token(self) -> bool:
        if self.config.rate is None:
            return True
        now = time.monotonic()
        self._tokens = min(self.config.rate, self._tokens + (now - self._last) * self.config.rate)
        self._last = now
        if self._tokens >= 1:
            self._tokens -= 1
            return True
        return False

    def decide(self, form: dict[str, str]) -> tuple[int, str, float]:
        """(status, body, delay) for one request; updates the counters."""
        to = form.get("to", "")
        with self._lock:
            s = self.stats
            s.requests += 1
            s.requests_by_to[to] += 1
            s.first_request = s.first_request or time.time()
            if not self._take_token():
                s.rejected_429 += 1
                return 429, "Too many requests", 0.0
            if to in self.config.invalid:
                s.invalid_400 += 1
                return 400, "Invalid to number", 0.0
            draw = self._random.random()
            if draw < self.config.fail_5xx:
                s.failed_5xx += 1
                return 503, "Service unavailable", 0.0
            if draw < self.config.fail_5xx + self.config.timeout:
                s.timeouts += 1
                if not self.config.timeout_delivers:
                    return 200, json.dumps({"id": "s" + uuid.uuid4().hex}), self.config.timeout_s
                return 200, self._deliver(form), self.config.timeout_s
            return 200, self._deliver(form), 0.0

    def _deliver(self, form: dict[str, str]) -> str:
        to = form.get("to", "")
        self.stats.delivered += 1
        self.stats.delivered_by_to[to] += 1
        self.stats.last_delivery = time.time()
        sent = {
            "id": "s" + uuid.uuid4().hex,
            "created": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.%f"),
            "direction": "outgoing",
            "from": form.get("from", ""),
            "to": to,
            "message": form.get("message", ""),
            "status": "delivered",
        }
        self._history.setdefault(to, []).append(sent)
        if form.get("whendelivered") and self.config.delivery_reports:
            statuses = ("sent", "delivered") if self.config.report_sent_first else ("delivered",)
            call_back(
                form["whendelivered"],
                sent["id"],
                statuses,
                delay=self.config.report_delay_s,
                answered=self._count_report,
            )
        return json.dumps({k: sent[k] for k in ("id", "created", "direction", "from", "to")})

    def _count_report(self, form: dict[str, str], status: int | None) -> None:
        with self._lock:
            if status is not None and 200 <= status <= 204:
                self.stats.reports += 1
            else:
                self.stats.reports_refused += 1

    def history(self, query: dict[str, str]) -> str:
        """46elks' history for one number: messages created after `end`, newest first (one page)."""
        with self._lock:
            self.stats.history_requests += 1
            sent = self._history.get(query.get("to", ""), [])
            data = [m for m in reversed(sent) if m["created"] > query.get("end", "")]
        return json.dumps({"data": data[:100]})

    def start(self) -> str:
        provider = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length", 0))
                form = {k: v[0] for k, v in parse_qs(self.rfile.read(length).decode()).items()}
                if self.path != "/a1/sms" or not self.headers.get("Authorization"):
                    status, body, delay = 404, "Not found", 0.0
                else:
                    status, body, delay = provider.decide(form)
                if delay:
                    time.sleep(delay)
                answer(self, status, body)

            def do_GET(self) -> None:
                url = urlsplit(self.path)
                if url.path != "/a1/sms" or not self.headers.get("Authorization"):
                    answer(self, 404, "Not found")
                else:
                    answer(self, 200, provider.history({k: v[0] for k, v in parse_qs(url.query).items()}))

            def log_message(self, format: str, *args: object) -> None:
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self._server.server_address[1]}"
        threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        ).start()
        return self.url

    def stop(self) -> None:
        if self._server:
            self._server.shutdown()
            self._server.server_close()
