"""Messages to the patient's 1177 inbox ("Inkorgen") behind a small interface, idempotent per key (V3–V6).

The embedded inbox (`SqliteInbox`, `PostgresInbox`) is for local use and tests; `HttpInbox` posts to
a configurable HTTP endpoint with an idempotency key and its ledger (`SqliteInboxLedger`,
`PostgresInboxLedger`); `infrastructure/stores.py` picks them from the settings. Errors are split
into permanent (do not retry; `reason` says why, e.g. the patient is not a 1177 user) and transient
(retry); no exception message or log line here contains a personnummer, a subject or a message body.
"""

from __future__ import annotations

import re
import threading
import uuid
import zlib
from collections.abc import Callable
from contextlib import AbstractContextManager
from datetime import UTC, datetime
from types import TracebackType
from typing import Protocol, runtime_checkable

import httpx
import structlog
from pydantic import AwareDatetime, Field

from adapters.postgres import PostgresTable
from adapters.sql import Connection
from adapters.sqlite import SqliteFile
from domain.types import ContractModel

__all__ = [
    "HttpInbox",
    "Inbox",
    "InboxEntry",
    "InboxLedger",
    "InboxMessage",
    "InboxReceipt",
    "PermanentInboxError",
    "PostgresInbox",
    "PostgresInboxLedger",
    "SqlInbox",
    "SqliteInbox",
    "SqliteInboxLedger",
    "TransientInboxError",
]

log = structlog.get_logger(__name__)

_REASON = re.compile(r"^[a-z][a-z0-9_]{0,63}$")
"""A reason code taken from the endpoint's answer must look like one (never echo free text)."""


class InboxMessage(ContractModel):
    """One message to one patient's inbox. `key` makes delivery idempotent; it must hold no patient data."""

    key: str = Field(min_length=1, max_length=200)
    patient_id: str = Field(min_length=1)
    subject: str = Field(min_length=1)
    body: str = Field(min_length=1)
    booking_url: str | None = None


class InboxReceipt(ContractModel):
    """Proof of delivery. `duplicate` is True when the key had been delivered before (first receipt)."""

    key: str
    message_id: str
    delivered_at: AwareDatetime
    duplicate: bool = False


class InboxEntry(ContractModel):
    """A message stored by the embedded inbox."""

    key: str
    patient_id: str
    subject: str
    body: str
    booking_url: str | None
    delivered_at: AwareDatetime
    message_id: str


class PermanentInboxError(Exception):
    """The inbox refused the message for good (e.g. `not_a_1177_user`, `rejected`): do not retry."""

    def __init__(self, reason: str, message: str | None = None) -> None:
        self.reason = reason
        super().__init__(message or f"1177 inbox refused the message ({reason})")


class TransientInboxError(Exception):
    """The message may go through later: 5xx, 429, timeouts, connection errors, refused credentials."""

    def __init__(self, message: str, reason: str = "inbox_unavailable") -> None:
        self.reason = reason
        super().__init__(message)


@runtime_checkable
class Inbox(Protocol):
    def deliver(self, message: InboxMessage) -> InboxReceipt:
        """Deliver once per `message.key`; a repeated key returns the first receipt with duplicate=True."""
        ...


def _now() -> datetime:
    return datetime.now(UTC)


# --- embedded inbox ---------------------------------------------------------------------------------


class SqlInbox:
    """The embedded inbox: delivering stores the message; a key is stored at most once."""

    _read: Callable[[], AbstractContextManager[Connection]]  # from the backend (adapters/sql.py)
    _write: Callable[[], AbstractContextManager[Connection]]

    SCHEMA = """
        CREATE TABLE IF NOT EXISTS inbox (
            seq INTEGER PRIMARY KEY AUTOINCREMENT,
            key TEXT NOT NULL UNIQUE,
            patient_id TEXT NOT NULL,
            subject TEXT NOT NULL,
            body TEXT NOT NULL,
            booking_url TEXT,
            delivered_at TEXT NOT NULL,
            message_id TEXT NOT NULL
        )
    """

    def deliver(self, message: InboxMessage) -> InboxReceipt:
        with self._write() as conn:
            inserted = conn.execute(
                "INSERT INTO inbox (key, patient_id, subject, body, booking_url, delivered_at, message_id)"
                " VALUES (?, ?, ?, ?, ?, ?, ?) ON CONFLICT (key) DO NOTHING",
                (
                    message.key,
                    message.patient_id,
                    message.subject,
                    message.body,
                    message.booking_url,
                    _now().isoformat(),
                    str(uuid.uuid4()),
                ),
            ).rowcount
            row = conn.execute(
                "SELECT patient_id, subject, body, delivered_at, message_id FROM inbox WHERE key = ?",
                (message.key,),
            ).fetchone()
        duplicate = inserted == 0
        stored = (row["patient_id"], row["subject"], row["body"])
        if duplicate and stored != (message.patient_id, message.subject, message.body):
            log.warning("inbox_key_reused_with_other_content", key=message.key)
        return InboxReceipt(
            key=message.key,
            message_id=row["message_id"],
            delivered_at=row["delivered_at"],
            duplicate=duplicate,
        )

    def messages(self) -> list[InboxEntry]:
        with self._read() as conn:
            rows = conn.execute(
                "SELECT key, patient_id, subject, body, booking_url, delivered_at, message_id"
                " FROM inbox ORDER BY seq"
            ).fetchall()
        return [InboxEntry(**dict(r)) for r in rows]

    def count(self) -> int:
        with self._read() as conn:
            return conn.execute("SELECT count(*) AS n FROM inbox").fetchone()["n"]


class SqliteInbox(SqlInbox, SqliteFile):
    """The embedded inbox in an SQLite file of one host (`inbox-1177.sqlite3`)."""


class PostgresInbox(SqlInbox, PostgresTable):
    """The embedded inbox in the service's PostgreSQL database (tables from the migrations)."""


# --- ledger + HTTP adapter --------------------------------------------------------------------------


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


class HttpInbox:
    """An adapter for an inbox endpoint: `POST {base_url}/messages` with JSON, a bearer token and an
    `Idempotency-Key` header.

    Idempotent through the `InboxLedger`: a key already accepted is not sent again (and the endpoint
    gets the key, so it can drop a resend of its own). Deliveries of one key from several threads of
    this process are serialised; between the endpoint's answer and the ledger write there remains a
    small window (a crash there means one resend, with the same `Idempotency-Key`).
    """

    _STRIPES = 64

    def __init__(self, base_url: str, token: str, ledger: InboxLedger, timeout: float = 10.0) -> None:
        self._url = base_url.rstrip("/") + "/messages"
        self._ledger = ledger
        self._client = httpx.Client(
            headers={"Authorization": f"Bearer {token}", "Accept": "application/json"},
            timeout=httpx.Timeout(timeout),
        )
        self._locks = [threading.Lock() for _ in range(self._STRIPES)]

    def close(self) -> None:
        self._client.close()

    def __enter__(self) -> HttpInbox:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()

    def deliver(self, message: InboxMessage) -> InboxReceipt:
        with self._locks[zlib.crc32(message.key.encode()) % self._STRIPES]:
            if (earlier := self._ledger.get(message.key)) is not None:
                return earlier.model_copy(update={"duplicate": True})
            message_id = self._post(message)
            receipt = InboxReceipt(key=message.key, message_id=message_id, delivered_at=_now())
            self._ledger.put(receipt)
            # Another process may have recorded this key first: the first receipt is the one that counts.
            receipt = self._ledger.get(message.key) or receipt
            log.info("inbox_delivered", key=message.key, message_id=message_id)
            return receipt

    def _post(self, message: InboxMessage) -> str:
        """POST the message; return the endpoint's id or raise a Permanent/TransientInboxError."""
        payload = {
            "patient_id": message.patient_id,
            "subject": message.subject,
            "body": message.body,
            "booking_url": message.booking_url,
        }
        try:
            response = self._client.post(self._url, json=payload, headers={"Idempotency-Key": message.key})
        except httpx.TimeoutException:
            raise TransientInboxError("1177 inbox did not answer in time", reason="timeout") from None
        except httpx.TransportError as e:
            raise TransientInboxError(
                f"could not reach the 1177 inbox ({type(e).__name__})", reason="connection"
            ) from None
        status = response.status_code
        if 200 <= status < 300:
            try:
                message_id = str(response.json()["id"])
            except (ValueError, KeyError, TypeError):
                # Accepted, so it is probably delivered: record it rather than risk delivering it twice.
                log.warning("inbox_answer_without_id", key=message.key, status=status)
                message_id = "unknown"
            return message_id
        if status in (401, 403):
            raise TransientInboxError(
                f"1177 inbox refused the credentials (HTTP {status})", reason="inbox_auth"
            )
        if status == 429:
            raise TransientInboxError("1177 inbox is rate limiting (HTTP 429)", reason="rate_limited")
        if status == 408 or status >= 500:
            raise TransientInboxError(f"1177 inbox failed (HTTP {status})", reason="inbox_error")
        if 400 <= status < 500:
            reason = _error_code(response)
            raise PermanentInboxError(reason, f"1177 inbox refused the message (HTTP {status}, {reason})")
        raise TransientInboxError(
            f"unexpected answer from the 1177 inbox (HTTP {status}); check the inbox URL",
            reason="inbox_error",
        )


def _error_code(response: httpx.Response) -> str:
    """The `error` code of a JSON error answer when it looks like a code, else "rejected"."""
    try:
        code = response.json().get("error")
    except (ValueError, AttributeError):
        return "rejected"
    return code if isinstance(code, str) and _REASON.match(code) else "rejected"


# --- configuration ----------------------------------------------------------------------------------
