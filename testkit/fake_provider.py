"""The fake 46elks that the tests and the benchmarks share: `POST /a1/sms` (form fields `from`, `to`,
`message`, optional `whendelivered`) and `GET /a1/sms?to=…&end=…` on 127.0.0.1.

A test scripts it (`testkit.fake_http.FakeEndpoint`: `scripted` answers and delays first, then
`status`/`body`/`delay`) and reads what it got (`requests`, `gets`). A benchmark configures it
(`ProviderConfig`): a rate (token bucket: more than `rate` requests within a second get 429), a share
of requests failed with 5xx or not answered within the client's timeout, and numbers refused with 400
"Invalid to number" — always, before any random fault, so that each such number should see exactly one
request; it counts requests and deliveries by `to` number (`stats`; 46elks has no idempotency key, so a
number reached twice is an SMS sent twice).

`config.reset` is a share of messages taken and then lost at once (the connection reset, no answer);
`config.history_lag` delays when a taken message shows in the history (46elks' history may lag);
`clock_skew` moves the provider's clock and `stored_text` restyles the text the history shows.

Every message accepted (2xx) goes into `history`, newest first, which `GET /a1/sms` answers from like
46elks' "Fetch SMS history" (`history_status` other than 200: that status instead). A message accepted
with `whendelivered` gets its delivery reports (`reports`, in order; () for none) POSTed to that URL
`report_delay` s later, like 46elks does (`call_back`; `callbacks`: each try and the status it got).
"""

from __future__ import annotations

import json
import random
import threading
import time
import uuid
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler
from typing import Any, Literal
from urllib.parse import parse_qs, unquote, urlsplit, urlunsplit

import httpx

from testkit.fake_http import RESET, FakeEndpoint, Request, serve

ELKS_TIME = "%Y-%m-%dT%H:%M:%S.%f"
"""The `created` field of 46elks' messages."""
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
    reset: float = 0.0  # share of requests taken, then their connection reset at once (the answer lost)
    history_lag: float = 0.0  # s after it was taken that a message shows in the history
    invalid: set[str] = field(default_factory=set)  # E.164 numbers refused with 400 "Invalid to number"
    seed: int = 1


LostMode = Literal["timeout", "reset", "both"]
"""How a lost answer is lost: answered after the client's timeout, the connection reset at once, or
half of each (the benchmarks' `--lost-mode`)."""


def lost_answers(share: float, mode: LostMode) -> dict[str, float]:
    """The `ProviderConfig` fields of `share` answers lost after accepting, the `mode` way."""
    timeouts = {"timeout": share, "reset": 0.0, "both": share / 2}[mode]
    return {"timeout": timeouts, "reset": share - timeouts}


@dataclass
class ProviderStats:
    requests: int = 0
    delivered: int = 0
    rejected_429: int = 0
    failed_5xx: int = 0
    timeouts: int = 0
    resets: int = 0
    invalid_400: int = 0
    dryruns: int = 0  # `dryrun=yes`: validated and answered, never sent (46elks' test flag)
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
            "resets": self.resets,
            "invalid_400": self.invalid_400,
            "history_requests": self.history_requests,
            "delivery_reports": self.reports,
            "delivery_reports_refused": self.reports_refused,
        }


def read_form(handler: BaseHTTPRequestHandler, raw: str) -> Request:
    """A POST to the fake as the tests read it: path, credentials, content type and the form."""
    return {
        "path": handler.path,
        "auth": handler.headers.get("Authorization"),
        "content_type": handler.headers.get("Content-Type"),
        "form": {k: v[0] for k, v in parse_qs(raw).items()},
    }


@dataclass
class FakeProvider(FakeEndpoint):
    """`body` "" answers each accepted message with a new id (as 46elks); a body sets the answer."""

    config: ProviderConfig = field(default_factory=ProviderConfig)
    stats: ProviderStats = field(default_factory=ProviderStats)
    history: list[dict[str, Any]] = field(default_factory=list)
    history_status: int = 200
    reports: tuple[str, ...] = ("delivered",)
    report_delay: float = 0.5
    callbacks: list[tuple[dict[str, str], int | None]] = field(default_factory=list)
    clock_skew: float = 0.0  # s the provider's clock is ahead of ours (negative: behind): its `created`
    stored_text: Callable[[str], str] = str  # the text as the history shows it (46elks may restyle it)

    def __post_init__(self) -> None:
        self._lock = threading.Lock()
        self._random = random.Random(self.config.seed)
        self._tokens = self.config.rate or 0.0
        self._last = time.monotonic()
        self._serving: Iterator[FakeProvider] | None = None

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

    def decide(self, request: Request) -> tuple[int, str, float]:
        """(status, body, delay) for one POST: a wrong path or no credentials 404; then the scripted
        answer, the rate, the refused numbers, the random faults, and `status`/`body`; the counters."""
        form = request["form"]
        assert isinstance(form, dict)
        to = form.get("to", "")
        if urlsplit(str(request["path"])).path != "/a1/sms" or not request["auth"]:
            return 404, "Not found", 0.0
        with self._lock:
            s = self.stats
            s.requests += 1
            s.requests_by_to[to] += 1
            s.first_request = s.first_request or time.time()
            if self.scripted:
                status, body = self.scripted.pop(0)
            elif form.get("dryrun") == "yes" and to not in self.config.invalid:
                s.dryruns += 1  # as 46elks: validated, an answer with an id, nothing sent nor reported
                return 200, json.dumps({"id": "dry" + uuid.uuid4().hex, "status": "created"}), 0.0
            elif not self._take_token():
                s.rejected_429 += 1
                return 429, "Too many requests", 0.0
            elif to in self.config.invalid:
                s.invalid_400 += 1
                return 400, "Invalid to number", 0.0
            else:
                draw = self._random.random()
                if draw < self.config.fail_5xx:
                    s.failed_5xx += 1
                    return 503, "Service unavailable", 0.0
                if draw < self.config.fail_5xx + self.config.timeout:
                    s.timeouts += 1
                    if not self.config.timeout_delivers:
                        return 200, json.dumps({"id": "s" + uuid.uuid4().hex}), self.config.timeout_s
                    return 200, self._accept(form, ""), self.config.timeout_s
                if draw < self.config.fail_5xx + self.config.timeout + self.config.reset:
                    s.resets += 1
                    return RESET, self._accept(form, ""), 0.0
                status, body = self.status, self.body
            delay = self.scripted_delays.pop(0) if self.scripted_delays else self.delay
            if 200 <= status < 300 or status == RESET:
                body = self._accept(form, body)
            return status, body, delay

    def _accept(self, form: dict[str, str], body: str) -> str:
        """Record an accepted message (history, counters, delivery reports); the answer's body."""
        now = time.time()
        sent = self.entry(
            json.loads(body)["id"] if body else "s" + uuid.uuid4().hex,
            form["to"],
            self.stored_text(form["message"]),
            form["from"],
            created=datetime.fromtimestamp(now + self.clock_skew, UTC),
        )
        self.history.insert(0, {**sent, "_shown_at": now + self.config.history_lag})
        self.stats.delivered += 1
        self.stats.delivered_by_to[sent["to"]] += 1
        self.stats.last_delivery = time.time()
        if form.get("whendelivered") and self.reports:
            call_back(
                form["whendelivered"],
                sent["id"],
                self.reports,
                delay=self.report_delay,
                answered=self._reported,
            )
        return body or json.dumps({k: sent[k] for k in ("id", "created", "direction", "from", "to")})

    def _reported(self, form: dict[str, str], status: int | None) -> None:
        with self._lock:
            self.callbacks.append((form, status))
            if status is not None and 200 <= status <= 204:
                self.stats.reports += 1
            else:
                self.stats.reports_refused += 1

    @staticmethod
    def entry(id: str, to: str, message: str, sender: str, created: datetime | None = None) -> dict[str, Any]:
        """A message as 46elks' history shows it."""
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
        """46elks' history: the messages to `to` created after `end`, newest first (one page)."""
        url = urlsplit(path)
        if url.path != "/a1/sms":
            return 404, "Not found"
        with self._lock:
            self.stats.history_requests += 1
            if self.history_status != 200:
                return self.history_status, "error"
            query = {k: v[0] for k, v in parse_qs(url.query).items()}
            now = time.time()
            data = [
                {k: v for k, v in m.items() if k != "_shown_at"}
                for m in self.history
                if m["to"] == query.get("to", m["to"])
                and m["created"] > query.get("end", "")
                and m.get("_shown_at", 0) <= now
            ]
        return 200, json.dumps({"data": data[: int(query.get("limit", 100))]})

    def start(self) -> str:
        """Serve until `stop` (the benchmarks; a test uses the `elks` fixture); the base URL."""
        self._serving = serve(self, read_form, protocol="HTTP/1.1")
        next(self._serving)
        return self.url

    def stop(self) -> None:
        if self._serving is not None:
            self._serving.close()
            self._serving = None
