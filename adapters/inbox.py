"""Messages to the patient's 1177 inbox ("Inkorgen") behind a small interface, idempotent per key (V3–V6),
and whether the patient has read them (issue 27: routing falls back when a message stays unread).

The embedded inbox (`SqliteInbox`, `PostgresInbox`) is for local use and tests (`mark_read` stands in
for the patient opening a message); `HttpInbox` (adapters/inbox_http.py) posts to a configurable HTTP
endpoint with an idempotency key and its ledger (`SqliteInboxLedger`, `PostgresInboxLedger`);
`infrastructure/stores.py` picks them from the settings. Errors are split into permanent (do not
retry; `reason` says why, e.g. the patient is not a 1177 user) and transient (retry); no exception
message or log line here contains a personnummer, a subject or a message body. The message models,
errors and the `Inbox` port are in adapters/inbox_contract.py; import everything from here.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from contextlib import AbstractContextManager
from datetime import datetime
from typing import ClassVar

import structlog

from adapters.inbox_contract import (
    Inbox,
    InboxEntry,
    InboxMessage,
    InboxReceipt,
    PermanentInboxError,
    TransientInboxError,
    as_utc,
    now,
)
from adapters.inbox_http import HttpInbox, InboxLedger, PostgresInboxLedger, SqliteInboxLedger
from adapters.postgres import PostgresTable
from adapters.sql import Connection
from adapters.sqlite import SqliteFile

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
            message_id TEXT NOT NULL,
            read_at TEXT
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
                    now().isoformat(),
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
                "SELECT key, patient_id, subject, body, booking_url, delivered_at, message_id, read_at"
                " FROM inbox ORDER BY seq"
            ).fetchall()
        return [InboxEntry(**dict(r)) for r in rows]

    def read_at(self, key: str) -> datetime | None:
        """When the patient opened the message of `key` (see `mark_read`); None: not yet, or no such key."""
        with self._read() as conn:
            row = conn.execute("SELECT read_at FROM inbox WHERE key = ?", (key,)).fetchone()
        return None if row is None or row["read_at"] is None else as_utc(row["read_at"])

    def mark_read(self, key: str, at: datetime | None = None) -> bool:
        """The patient opened the message of `key` at `at` (aware; default now), as 1177 would report
        it: the first read is kept. True when the key exists."""
        when = now() if at is None else as_utc(at)
        with self._write() as conn:
            found = conn.execute(
                "UPDATE inbox SET read_at = COALESCE(read_at, ?) WHERE key = ?", (when.isoformat(), key)
            ).rowcount
        return found > 0

    def count(self) -> int:
        with self._read() as conn:
            return conn.execute("SELECT count(*) AS n FROM inbox").fetchone()["n"]


class SqliteInbox(SqlInbox, SqliteFile):
    """The embedded inbox in an SQLite file of one host (`inbox-1177.sqlite3`)."""

    ADDED_COLUMNS: ClassVar[dict[str, dict[str, str]]] = {"inbox": {"read_at": "TEXT"}}  # issue 27


class PostgresInbox(SqlInbox, PostgresTable):
    """The embedded inbox in the service's PostgreSQL database (tables from the migrations; `read_at`
    from 0010)."""
