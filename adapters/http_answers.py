"""What the HTTP adapters that deliver once per key share (1177 inbox, digital mailbox): the client with
its bearer token and the per-key locks (`KeyedClient`), and the reading of their endpoints' answers: a
reason code is taken from an answer only when it looks like one, so free text (which may name a
patient) is never echoed into an exception or a log line."""

from __future__ import annotations

import re
import threading
import zlib
from types import TracebackType
from typing import Self

import httpx

REASON = re.compile(r"^[a-z][a-z0-9_]{0,63}$")
"""What a reason code taken from an endpoint's answer must look like."""


def error_code(response: httpx.Response, default: str = "rejected") -> str:
    """The `error` code of a JSON error answer when it looks like a code, else `default`."""
    try:
        code = response.json().get("error")
    except (ValueError, AttributeError):
        return default
    return code if isinstance(code, str) and REASON.match(code) else default


class KeyedClient:
    """An HTTP client with a bearer token, and a lock per key (striped): deliveries of one key from
    several threads of this process are serialised around their ledger."""

    _STRIPES = 64

    def __init__(self, token: str, timeout: float) -> None:
        self._client = httpx.Client(
            headers={"Authorization": f"Bearer {token}", "Accept": "application/json"},
            timeout=httpx.Timeout(timeout),
        )
        self._locks = [threading.Lock() for _ in range(self._STRIPES)]

    def _lock(self, key: str) -> threading.Lock:
        return self._locks[zlib.crc32(key.encode()) % self._STRIPES]

    def close(self) -> None:
        self._client.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()
