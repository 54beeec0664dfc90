"""Sending SMS behind a small interface, idempotent per key (S15: never twice for the same visit version).

`SmsGateway` is the port; the outbox (`SqliteOutbox`, `PostgresOutbox`) is the embedded gateway for
local use and tests, and `ElksSmsGateway` (in `adapters.sms_elks`, its ledger in `adapters.sms_ledger`)
talks to an HTTP API shaped like 46elks'; `infrastructure/stores.py` picks one from the settings.
Errors are split into permanent (do not retry) and transient (retry); no exception message or log
line here contains a phone number or a message text.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from contextlib import AbstractContextManager
from datetime import UTC, datetime
from typing import Protocol, runtime_checkable

import structlog
from pydantic import AwareDatetime, Field

from adapters.postgres import PostgresTable
from adapters.sql import Connection
from adapters.sqlite import SqliteFile
from domain.types import ContractModel

__all__ = [
    "OutboxEntry",
    "PermanentSmsError",
    "PostgresOutbox",
    "SmsGateway",
    "SmsMessage",
    "SmsReceipt",
    "SqlOutbox",
    "SqliteOutbox",
    "TransientSmsError",
]

log = structlog.get_logger(__name__)

E164 = r"^\+[1-9]\d{6,14}$"
SENDER = r"^(?:[A-Za-z][A-Za-z0-9]{1,10}|\+[1-9]\d{6,14})$"
"""46elks: an alphanumeric sender of 2–11 characters starting with a letter, or an E.164 number."""


class SmsMessage(ContractModel):
    """One SMS to one number. `key` makes sending idempotent; it must hold no patient data."""

    key: str = Field(min_length=1, max_length=200)
    to: str = Field(pattern=E164)
    text: str = Field(min_length=1)
    sender: str = Field(pattern=SENDER)


class SmsReceipt(ContractModel):
    """Proof of sending. `duplicate` is True when the key had been sent before (first receipt returned);
    `delivery_pending` when the provider will report the delivery (a callback was asked for)."""

    key: str
    provider_id: str
    sent_at: AwareDatetime
    duplicate: bool = False
    delivery_pending: bool = False


class OutboxEntry(ContractModel):
    """A message stored by the embedded outbox."""

    key: str
    to: str
    text: str
    sender: str
    sent_at: AwareDatetime
    provider_id: str


class PermanentSmsError(Exception):
    """The provider refused the message for good (retrying will not help). `reason` is a stable code."""

    def __init__(self, reason: str, message: str | None = None) -> None:
        self.reason = reason
        super().__init__(message or f"SMS refused by the provider ({reason})")


class TransientSmsError(Exception):
    """The message may go through later: 5xx, 429, timeouts, connection errors, refused credentials."""

    def __init__(
        self, message: str, reason: str = "provider_unavailable", *, unanswered: bool = False
    ) -> None:
        self.reason = reason
        self.unanswered = unanswered  # the provider may have taken the message: its outcome is unknown
        super().__init__(message)


@runtime_checkable
class SmsGateway(Protocol):
    def send(self, message: SmsMessage) -> SmsReceipt:
        """Send once per `message.key`; a repeated key returns the first receipt with duplicate=True."""
        ...


def _now() -> datetime:
    return datetime.now(UTC)


# --- embedded outbox --------------------------------------------------------------------------------


class SqlOutbox:
    """The embedded gateway: "sending" stores the message; a key is stored at most once."""

    _read: Callable[[], AbstractContextManager[Connection]]  # from the backend (adapters/sql.py)
    _write: Callable[[], AbstractContextManager[Connection]]

    def send(self, message: SmsMessage) -> SmsReceipt:
        with self._write() as conn:
            inserted = conn.execute(
                "INSERT INTO outbox (key, to_number, text, sender, sent_at, provider_id)"
                " VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT (key) DO NOTHING",
                (
                    message.key,
                    message.to,
                    message.text,
                    message.sender,
                    _now().isoformat(),
                    str(uuid.uuid4()),
                ),
            ).rowcount
            row = conn.execute(
                "SELECT to_number, text, sent_at, provider_id FROM outbox WHERE key = ?", (message.key,)
            ).fetchone()
        duplicate = inserted == 0
        if duplicate and (row["to_number"], row["text"]) != (message.to, message.text):
            log.warning("sms_key_reused_with_other_content", key=message.key)
        return SmsReceipt(
            key=message.key, provider_id=row["provider_id"], sent_at=row["sent_at"], duplicate=duplicate
        )

    def messages(self) -> list[OutboxEntry]:
        with self._read() as conn:
            rows = conn.execute(
                "SELECT key, to_number, text, sender, sent_at, provider_id FROM outbox ORDER BY seq"
            ).fetchall()
        return [
            OutboxEntry(
                key=r["key"],
                to=r["to_number"],
                text=r["text"],
                sender=r["sender"],
                sent_at=r["sent_at"],
                provider_id=r["provider_id"],
            )
            for r in rows
        ]

    def count(self) -> int:
        with self._read() as conn:
            return conn.execute("SELECT count(*) AS n FROM outbox").fetchone()["n"]


class SqliteOutbox(SqlOutbox, SqliteFile):
    """The outbox in an SQLite file of one host (`outbox.sqlite3`)."""

    SCHEMA = """
        CREATE TABLE IF NOT EXISTS outbox (
            seq INTEGER PRIMARY KEY AUTOINCREMENT,
            key TEXT NOT NULL UNIQUE,
            to_number TEXT NOT NULL,
            text TEXT NOT NULL,
            sender TEXT NOT NULL,
            sent_at TEXT NOT NULL,
            provider_id TEXT NOT NULL
        )
    """


class PostgresOutbox(SqlOutbox, PostgresTable):
    """The outbox in the service's PostgreSQL database (tables from the migrations)."""
