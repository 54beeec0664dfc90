"""A digital mailbox ("digital brevlåda": Kivra, Min myndighetspost, …) behind a small interface: whether
a patient has one (the FaR register of Mina meddelanden) and delivery to it, idempotent per key
(issue 27: a channel to fall back on when a 1177 message stays unread).

The embedded mailbox (`SqliteMailbox`, `PostgresMailbox`) is for local use and tests: a table of
mailbox holders (`register`, `unregister`) and one of delivered messages. `HttpMailbox`
(adapters/mailbox_http.py) asks a FaR-shaped endpoint and delivers to the supplier it names, with a
ledger of accepted keys (`SqliteMailboxLedger`, `PostgresMailboxLedger`); `infrastructure/stores.py`
picks them from the settings. The models, errors and the port are in adapters/mailbox_contract.py;
import everything from here. No exception message or log line contains a personnummer, a subject
or a message body.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Callable
from contextlib import AbstractContextManager
from datetime import UTC, datetime

import structlog

from adapters.mailbox_contract import (
    DigitalMailbox,
    MailboxEntry,
    MailboxMessage,
    MailboxReceipt,
    PermanentMailboxError,
    TransientMailboxError,
    canonical,
)
from adapters.mailbox_http import HttpMailbox, MailboxLedger, PostgresMailboxLedger, SqliteMailboxLedger
from adapters.postgres import PostgresTable
from adapters.sql import Connection
from adapters.sqlite import SqliteFile

__all__ = [
    "DigitalMailbox",
    "HttpMailbox",
    "MailboxEntry",
    "MailboxLedger",
    "MailboxMessage",
    "MailboxReceipt",
    "PermanentMailboxError",
    "PostgresMailbox",
    "PostgresMailboxLedger",
    "SqlMailbox",
    "SqliteMailbox",
    "SqliteMailboxLedger",
    "TransientMailboxError",
]

log = structlog.get_logger(__name__)

SUPPLIER = re.compile(r"^[a-z][a-z0-9_-]{0,63}$")
"""A supplier code (`kivra`, `minmyndighetspost`, …)."""


def _now() -> datetime:
    return datetime.now(UTC)


class SqlMailbox:
    """The embedded digital mailbox: who has one (and with which supplier), and the messages delivered
    to them; a key is stored at most once. Patient ids are stored canonically (`YYYYMMDD-NNNN`)."""

    _read: Callable[[], AbstractContextManager[Connection]]  # from the backend (adapters/sql.py)
    _write: Callable[[], AbstractContextManager[Connection]]

    def register(self, patient_id: str, supplier: str = "kivra") -> None:
        """The patient has a mailbox with `supplier` (a later call changes the supplier)."""
        key = _holder(patient_id)
        if not SUPPLIER.match(supplier):
            raise ValueError("a mailbox supplier is a short code such as `kivra` or `minmyndighetspost`")
        with self._write() as conn:
            conn.execute(
                "INSERT INTO mailbox_holders (patient_id, supplier, registered_at) VALUES (?, ?, ?)"
                " ON CONFLICT (patient_id) DO UPDATE SET supplier = excluded.supplier",
                (key, supplier, _now().isoformat()),
            )

    def unregister(self, patient_id: str) -> bool:
        """The patient closed their mailbox; True when they had one. Delivered messages stay."""
        key = _holder(patient_id)
        with self._write() as conn:
            return conn.execute("DELETE FROM mailbox_holders WHERE patient_id = ?", (key,)).rowcount > 0

    def has_mailbox(self, patient_id: str) -> bool:
        return self._supplier(patient_id) is not None

    def deliver(self, message: MailboxMessage) -> MailboxReceipt:
        """Store the message once per key; a repeated key returns the first receipt (duplicate=True),
        even if the patient has closed the mailbox since. No mailbox → PermanentMailboxError."""
        if (earlier := self._receipt(message.key)) is not None:
            return earlier.model_copy(update={"duplicate": True})
        patient = canonical(message.patient_id)
        supplier = self._supplier(message.patient_id)
        if patient is None or supplier is None:
            raise PermanentMailboxError("no_mailbox", "the patient has no digital mailbox (no_mailbox)")
        with self._write() as conn:
            inserted = conn.execute(
                "INSERT INTO mailbox_messages (key, patient_id, supplier, sender_name, subject, body,"
                " delivered_at, message_id) VALUES (?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (key) DO NOTHING",
                (
                    message.key,
                    patient,
                    supplier,
                    message.sender_name,
                    message.subject,
                    message.body,
                    _now().isoformat(),
                    str(uuid.uuid4()),
                ),
            ).rowcount
        receipt = self._receipt(message.key)
        assert receipt is not None  # inserted, or inserted by another process first
        if inserted == 0:
            log.info("mailbox_key_delivered_by_another", key=message.key)
            return receipt.model_copy(update={"duplicate": True})
        log.info("mailbox_delivered", key=message.key, message_id=receipt.message_id, supplier=supplier)
        return receipt

    def messages(self) -> list[MailboxEntry]:
        """Every delivered message, in delivery order (for tests and the demo)."""
        with self._read() as conn:
            rows = conn.execute(
                "SELECT key, patient_id, supplier, sender_name, subject, body, delivered_at, message_id"
                " FROM mailbox_messages ORDER BY seq"
            ).fetchall()
        return [MailboxEntry(**dict(r)) for r in rows]

    def count(self) -> int:
        with self._read() as conn:
            return conn.execute("SELECT count(*) AS n FROM mailbox_messages").fetchone()["n"]

    def _supplier(self, patient_id: str) -> str | None:
        if (key := canonical(patient_id)) is None:
            return None
        with self._read() as conn:
            row = conn.execute("SELECT supplier FROM mailbox_holders WHERE patient_id = ?", (key,)).fetchone()
        return None if row is None else row["supplier"]

    def _receipt(self, key: str) -> MailboxReceipt | None:
        with self._read() as conn:
            row = conn.execute(
                "SELECT message_id, supplier, delivered_at FROM mailbox_messages WHERE key = ?", (key,)
            ).fetchone()
        return None if row is None else MailboxReceipt(key=key, **dict(row))


def _holder(patient_id: str) -> str:
    if (key := canonical(patient_id)) is None:
        raise ValueError("a mailbox holder needs a valid personnummer or samordningsnummer")
    return key


class SqliteMailbox(SqlMailbox, SqliteFile):
    """The embedded mailbox in an SQLite file of one host (`mailbox.sqlite3`)."""

    SCHEMA = """
        CREATE TABLE IF NOT EXISTS mailbox_holders (
            patient_id TEXT PRIMARY KEY,
            supplier TEXT NOT NULL,
            registered_at TEXT NOT NULL
        );
        CREATE TABLE IF NOT EXISTS mailbox_messages (
            seq INTEGER PRIMARY KEY AUTOINCREMENT,
            key TEXT NOT NULL UNIQUE,
            patient_id TEXT NOT NULL,
            supplier TEXT NOT NULL,
            sender_name TEXT NOT NULL,
            subject TEXT NOT NULL,
            body TEXT NOT NULL,
            delivered_at TEXT NOT NULL,
            message_id TEXT NOT NULL
        )
    """


class PostgresMailbox(SqlMailbox, PostgresTable):
    """The embedded mailbox in the service's PostgreSQL database (migration 0010)."""
