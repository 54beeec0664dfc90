"""The 1177 inbox over HTTP (`HttpInbox`) and its ledger of accepted keys (`InboxLedger` on SQLite or
PostgreSQL), re-exported by `adapters.inbox`.

No exception message or log line here contains a personnummer, a subject or a message body.
"""

from __future__ import annotations

from collections.abc import Callable
from contextlib import AbstractContextManager
from datetime import datetime
from urllib.parse import quote

import httpx
import structlog

from adapters.http_answers import KeyedClient, error_code
from adapters.inbox_contract import (
    InboxMessage,
    InboxReceipt,
    PermanentInboxError,
    TransientInboxError,
    as_utc,
    now,
)
from adapters.postgres import PostgresTable
from adapters.sql import Connection
from adapters.sqlite import SqliteFile

log = structlog.get_logger("adapters.inbox")

UNKNOWN_ID = "unknown"
"""The message id recorded when the endpoint accepted a message but named no id."""


class InboxLedger:
    """Key → receipt of messages the inbox endpoint accepted; the first receipt for a key is kept.

    The same shape as `adapters.sms_ledger.SentLedger`, with the inbox's receipt fields.
    """

    _read: Callable[[], AbstractContextManager[Connection]]  # from the backend (adapters/sql.py)
    _write: Callable[[], AbstractContextManager[Connection]]

    def get(self, key: str) -> InboxReceipt | None:
        with self._read() as conn:
            row = conn.execute(
                "SELECT message_id, delivered_at FROM delivered WHERE key = ?", (key,)
            ).fetchone()
        if row is None:
            return None
        return InboxReceipt(key=key, message_id=row["message_id"], delivered_at=row["delivered_at"])

    def put(self, receipt: InboxReceipt) -> None:
        with self._write() as conn:
            conn.execute(
                "INSERT INTO delivered (key, message_id, delivered_at) VALUES (?, ?, ?)"
                " ON CONFLICT (key) DO NOTHING",
                (receipt.key, receipt.message_id, receipt.delivered_at.isoformat()),
            )


class SqliteInboxLedger(InboxLedger, SqliteFile):
    """The inbox ledger in an SQLite file of one host (`inbox-ledger.sqlite3`)."""

    SCHEMA = """
        CREATE TABLE IF NOT EXISTS delivered (
            key TEXT PRIMARY KEY,
            message_id TEXT NOT NULL,
            delivered_at TEXT NOT NULL
        )
    """


class PostgresInboxLedger(InboxLedger, PostgresTable):
    """The inbox ledger in the service's PostgreSQL database, shared by every worker."""


class HttpInbox(KeyedClient):
    """An adapter for an inbox endpoint: `POST {base_url}/messages` with JSON, a bearer token and an
    `Idempotency-Key` header; `GET {base_url}/messages/{id}` tells whether the patient has read one.

    Idempotent through the `InboxLedger`: a key already accepted is not sent again (and the endpoint
    gets the key, so it can drop a resend of its own). Deliveries of one key from several threads of
    this process are serialised; between the endpoint's answer and the ledger write there remains a
    small window (a crash there means one resend, with the same `Idempotency-Key`).
    """

    def __init__(self, base_url: str, token: str, ledger: InboxLedger, timeout: float = 10.0) -> None:
        super().__init__(token, timeout)
        self._url = base_url.rstrip("/") + "/messages"
        self._ledger = ledger

    def deliver(self, message: InboxMessage) -> InboxReceipt:
        with self._lock(message.key):
            if (earlier := self._ledger.get(message.key)) is not None:
                return earlier.model_copy(update={"duplicate": True})
            message_id = self._post(message)
            receipt = InboxReceipt(key=message.key, message_id=message_id, delivered_at=now())
            self._ledger.put(receipt)
            # Another process may have recorded this key first: the first receipt is the one that counts.
            receipt = self._ledger.get(message.key) or receipt
            log.info("inbox_delivered", key=message.key, message_id=message_id)
            return receipt

    def read_at(self, key: str) -> datetime | None:
        """When the patient opened the message of `key`, from `GET {base_url}/messages/{id}` with the id
        the ledger holds; None when the key was never delivered here (no call), or the endpoint knows
        no such message (404). A message accepted without an id cannot be asked about: None, logged."""
        receipt = self._ledger.get(key)
        if receipt is None:
            return None
        if receipt.message_id == UNKNOWN_ID:
            log.warning("inbox_read_unknown_message_id", key=key)
            return None
        url = f"{self._url}/{quote(receipt.message_id, safe='')}"
        response = self._call(lambda: self._client.get(url))
        status = response.status_code
        if status == 404:
            return None
        if not 200 <= status < 300:
            raise _transient(status) or TransientInboxError(
                f"1177 inbox could not say whether the message was read (HTTP {status})", reason="inbox_error"
            )
        try:
            answered = response.json()["read_at"]
            return None if answered is None else as_utc(answered)
        except (ValueError, KeyError, TypeError):
            raise TransientInboxError(
                "1177 inbox answered without a readable `read_at` (an ISO 8601 time with an offset, or null)",
                reason="inbox_answer",
            ) from None

    def _post(self, message: InboxMessage) -> str:
        """POST the message; return the endpoint's id or raise a Permanent/TransientInboxError."""
        payload = {
            "patient_id": message.patient_id,
            "subject": message.subject,
            "body": message.body,
            "booking_url": message.booking_url,
        }
        response = self._call(
            lambda: self._client.post(self._url, json=payload, headers={"Idempotency-Key": message.key})
        )
        status = response.status_code
        if 200 <= status < 300:
            try:
                message_id = str(response.json()["id"])
            except (ValueError, KeyError, TypeError):
                # Accepted, so it is probably delivered: record it rather than risk delivering it twice.
                log.warning("inbox_answer_without_id", key=message.key, status=status)
                message_id = UNKNOWN_ID
            return message_id
        if (transient := _transient(status)) is not None:
            raise transient
        if 400 <= status < 500:
            reason = error_code(response)
            raise PermanentInboxError(reason, f"1177 inbox refused the message (HTTP {status}, {reason})")
        raise TransientInboxError(
            f"unexpected answer from the 1177 inbox (HTTP {status}); check the inbox URL",
            reason="inbox_error",
        )

    @staticmethod
    def _call(request: Callable[[], httpx.Response]) -> httpx.Response:
        """The endpoint's answer; a timeout or a connection error as a TransientInboxError."""
        try:
            return request()
        except httpx.TimeoutException:
            raise TransientInboxError("1177 inbox did not answer in time", reason="timeout") from None
        except httpx.TransportError as e:
            raise TransientInboxError(
                f"could not reach the 1177 inbox ({type(e).__name__})", reason="connection"
            ) from None


def _transient(status: int) -> TransientInboxError | None:
    """The error of an answer that retrying may cure (refused credentials, rate limit, 408, 5xx)."""
    if status in (401, 403):
        return TransientInboxError(f"1177 inbox refused the credentials (HTTP {status})", reason="inbox_auth")
    if status == 429:
        return TransientInboxError("1177 inbox is rate limiting (HTTP 429)", reason="rate_limited")
    if status == 408 or status >= 500:
        return TransientInboxError(f"1177 inbox failed (HTTP {status})", reason="inbox_error")
    return None
