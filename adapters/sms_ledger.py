"""The SMS ledger that makes a gateway without idempotency keys idempotent per key (S15), keeps the
provider's delivery reports and spaces the requests to the provider by its rate: one set of queries
(`SentLedger`, adapters/sql.py) on SQLite or PostgreSQL.

46elks takes no idempotency key: the ledger remembers which keys the provider accepted and which
attempts are unanswered (`ElksSmsGateway` in adapters/sms_elks.py resolves those), and maps the
provider's delivery reports back to message keys (`record_delivery`, docs/delivery-reports.md).
"""

from __future__ import annotations

import fcntl
import threading
import zlib
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import ClassVar

from adapters.postgres import PostgresTable
from adapters.sms import SmsReceipt
from adapters.sql import Connection
from adapters.sqlite import SqliteFile
from domain.status import Delivery
from security.files import private_file

__all__ = [
    "ELKS_DELIVERY",
    "Attempt",
    "DeliveryUpdate",
    "PostgresSentLedger",
    "SentLedger",
    "SqliteSentLedger",
]

ELKS_DELIVERY = {"sent": Delivery.PENDING, "delivered": Delivery.DELIVERED, "failed": Delivery.FAILED}
"""The `status` of 46elks' delivery reports, in the words of `MessageRecord.delivery`."""

_RANK = "CASE {} WHEN 'delivered' THEN 2 WHEN 'failed' THEN 1 ELSE 0 END"
_FORWARD = f"{_RANK.format('excluded.status')} > {_RANK.format('sms_delivery.status')}"
RECORD_DELIVERY = f"""
    INSERT INTO sms_delivery (provider_id, status, delivered_at, updated_at) VALUES (?, ?, ?, ?)
    ON CONFLICT (provider_id) DO UPDATE SET
        status = CASE WHEN {_FORWARD} THEN excluded.status ELSE sms_delivery.status END,
        delivered_at = CASE WHEN {_FORWARD} THEN excluded.delivered_at ELSE sms_delivery.delivered_at END,
        updated_at = CASE WHEN {_FORWARD} THEN excluded.updated_at ELSE sms_delivery.updated_at END
    RETURNING status, delivered_at
"""
"""One upsert that only moves a message's status forward (sent → failed → delivered, as
`domain.status.later_delivery`), decided by the database against the row it locked: two API replicas
answering callbacks of the same message at once cannot regress it, and a repeat changes nothing."""

RESERVE_SLOT = """
    INSERT INTO request_slots (name, next_at) VALUES (?, ?)
    ON CONFLICT (name) DO UPDATE SET
        next_at = CASE WHEN request_slots.next_at > ? THEN request_slots.next_at ELSE ? END + ?
    RETURNING next_at
"""
"""Takes the next free slot of a rate limit in one statement on the row it locks, and moves the next
free slot one interval on: every process sharing the ledger draws from the same sequence."""


@dataclass(frozen=True)
class Attempt:
    """The unanswered attempts of a key: the first (where the history look-up starts) and the latest
    (from which the history is given time to show it, `ElksSmsGateway.history_wait`)."""

    first_at: datetime
    last_at: datetime


class SentLedger:
    """Key → receipt of messages the provider accepted (the first receipt for a key is kept; a
    provider id belongs to one key at most, `unknown` excepted), and key → its unanswered attempts;
    one send of a key at a time.

    Shared by every worker when it lives in PostgreSQL, so a retry on any host resolves an attempt
    made on another (S15). `sms_delivery` keeps the provider's delivery reports, by provider id.
    """

    def get(self, key: str) -> SmsReceipt | None:
        with self._read() as conn:
            row = conn.execute("SELECT provider_id, sent_at FROM sent WHERE key = ?", (key,)).fetchone()
        return SmsReceipt(key=key, provider_id=row["provider_id"], sent_at=row["sent_at"]) if row else None

    def put(self, receipt: SmsReceipt) -> None:
        """Record what the provider answered for `receipt.key` (a key or provider id recorded before
        keeps its first receipt); the key's attempts are answered."""
        self.claim(receipt.key, receipt.provider_id, receipt.sent_at)

    def claim(self, key: str, provider_id: str, at: datetime) -> SmsReceipt | None:
        """Record `provider_id` for `key`, in one statement that the unique provider id decides: a
        message already recorded for another key is not taken. Returns the key's receipt afterwards
        (its earlier one, if it had one), or None when the message is another key's."""
        with self._write() as conn:
            conn.execute(
                "INSERT INTO sent (key, provider_id, sent_at) VALUES (?, ?, ?) ON CONFLICT DO NOTHING",
                (key, provider_id, at.isoformat()),
            )
            row = conn.execute("SELECT provider_id, sent_at FROM sent WHERE key = ?", (key,)).fetchone()
            if row is not None:
                conn.execute("DELETE FROM attempted WHERE key = ?", (key,))
        return SmsReceipt(key=key, provider_id=row["provider_id"], sent_at=row["sent_at"]) if row else None

    def claim_reported(self, key: str, provider_id: str, at: datetime) -> bool:
        """A delivery report of `provider_id` came to the callback of `key` (its token proved it): if
        the key has an unanswered attempt, that attempt reached the provider, so record it (`claim`).
        Whether the key's receipt now has this provider id."""
        with self._read() as conn:
            waiting = conn.execute("SELECT 1 FROM attempted WHERE key = ?", (key,)).fetchone()
        if waiting is None:
            return False
        receipt = self.claim(key, provider_id, at)
        return receipt is not None and receipt.provider_id == provider_id

    def attempt(self, key: str, at: datetime) -> datetime | None:
        """Note that `key` is about to be sent at `at` (the first attempt is kept until a receipt is
        put); returns the latest earlier attempt's moment, for `refused`."""
        with self._write() as conn:
            row = conn.execute("SELECT last_at FROM attempted WHERE key = ?", (key,)).fetchone()
            conn.execute(
                "INSERT INTO attempted (key, first_at, last_at) VALUES (?, ?, ?)"
                " ON CONFLICT (key) DO UPDATE SET last_at = excluded.last_at",
                (key, at.isoformat(), at.isoformat()),
            )
        return datetime.fromisoformat(row["last_at"]) if row and row["last_at"] else None

    def refused(self, key: str, at: datetime, earlier: datetime | None) -> None:
        """The attempt `at` was answered with a refusal, so it sent nothing: forget it (`earlier`, what
        `attempt` returned, becomes the latest attempt again; none: the key has no attempt left)."""
        with self._write() as conn:
            if earlier is None:
                conn.execute("DELETE FROM attempted WHERE key = ? AND first_at = ?", (key, at.isoformat()))
            else:
                conn.execute(
                    "UPDATE attempted SET last_at = ? WHERE key = ? AND last_at = ?",
                    (earlier.isoformat(), key, at.isoformat()),
                )

    def attempted(self, key: str) -> Attempt | None:
        """The unanswered attempts of `key`, if an earlier send may have reached the provider."""
        with self._read() as conn:
            row = conn.execute("SELECT first_at, last_at FROM attempted WHERE key = ?", (key,)).fetchone()
        if row is None:
            return None
        first = datetime.fromisoformat(row["first_at"])
        return Attempt(first, datetime.fromisoformat(row["last_at"]) if row["last_at"] else first)

    def attempted_since(self, key: str) -> datetime | None:
        """The first unanswered attempt for `key`, if an earlier send may have reached the provider."""
        attempt = self.attempted(key)
        return attempt.first_at if attempt else None

    def key_of(self, provider_id: str) -> str | None:
        """The message key the provider's id was recorded for (to map a delivery report)."""
        with self._read() as conn:
            row = conn.execute("SELECT key FROM sent WHERE provider_id = ?", (provider_id,)).fetchone()
        return row["key"] if row else None

    def record_delivery(
        self, provider_id: str, status: str, delivered_at: datetime | None, at: datetime | None = None
    ) -> DeliveryUpdate | None:
        """Keep a delivery report (`status`: 46elks' `sent`, `delivered` or `failed`); the status only
        moves forward (`RECORD_DELIVERY`). Returns the message's key and its resulting delivery, or
        None when no message of ours has this provider id (the report is still kept)."""
        if status not in ELKS_DELIVERY:
            raise ValueError(f"unknown delivery status '{status}'")
        at = (at or datetime.now(UTC)).astimezone(UTC)
        when = (delivered_at or at).astimezone(UTC).isoformat() if status == "delivered" else None
        with self._write() as conn:
            row = conn.execute(RECORD_DELIVERY, (provider_id, status, when, at.isoformat())).fetchone()
            sent = conn.execute(
                "SELECT key FROM sent WHERE provider_id = ? ORDER BY key LIMIT 1", (provider_id,)
            ).fetchone()
        if sent is None or row is None:
            return None
        stored_at = row["delivered_at"]
        return DeliveryUpdate(
            key=sent["key"],
            status=ELKS_DELIVERY[row["status"]],
            delivered_at=datetime.fromisoformat(stored_at) if stored_at else None,
        )

    def delivery(self, provider_id: str) -> str | None:
        """The provider's last recorded status of `provider_id` (`sent`, `delivered`, `failed`)."""
        with self._read() as conn:
            row = conn.execute(
                "SELECT status FROM sms_delivery WHERE provider_id = ?", (provider_id,)
            ).fetchone()
        return row["status"] if row else None

    def reserve_slot(self, name: str, interval: float, now: float) -> float:
        """Reserve the next request slot of the rate limit `name`, one every `interval` seconds across
        every thread and process that shares the ledger; returns when it starts (unix time, `now`
        or later). Slots are never given back: a request that is not made only leaves a gap."""
        with self._write() as conn:
            row = conn.execute(RESERVE_SLOT, (name, now + interval, now, now, interval)).fetchone()
        assert row is not None  # RETURNING of an upsert always yields the row
        return float(row["next_at"]) - interval

    def exclusive(self, key: str) -> AbstractContextManager[None]:
        """While held, no other thread or process (on this host, or any host sharing the ledger) sends
        `key`."""
        raise NotImplementedError

    _read: Callable[[], AbstractContextManager[Connection]]  # from the backend (adapters/sql.py)
    _write: Callable[[], AbstractContextManager[Connection]]


@dataclass(frozen=True)
class DeliveryUpdate:
    """A delivery report mapped to our message: its key and its delivery after the report."""

    key: str
    status: Delivery
    delivered_at: datetime | None


class SqliteSentLedger(SentLedger, SqliteFile):
    """The ledger in an SQLite file of one host (`sms-ledger.sqlite3`): exclusive per key across the
    threads and processes of this host, through stripes of a lock file."""

    SCHEMA = """
        CREATE TABLE IF NOT EXISTS sent (
            key TEXT PRIMARY KEY,
            provider_id TEXT NOT NULL,
            sent_at TEXT NOT NULL
        );
        CREATE INDEX IF NOT EXISTS sent_provider_id ON sent (provider_id);
        UPDATE sent SET provider_id = 'unknown' WHERE provider_id <> 'unknown' AND EXISTS (
            SELECT 1 FROM sent AS first WHERE first.provider_id = sent.provider_id
            AND (first.sent_at < sent.sent_at OR (first.sent_at = sent.sent_at AND first.key < sent.key))
        ) AND NOT EXISTS (SELECT 1 FROM sqlite_master WHERE name = 'sent_provider_id_once');
        CREATE UNIQUE INDEX IF NOT EXISTS sent_provider_id_once ON sent (provider_id)
            WHERE provider_id <> 'unknown';
        CREATE TABLE IF NOT EXISTS attempted (
            key TEXT PRIMARY KEY,
            first_at TEXT NOT NULL,
            last_at TEXT
        );
        CREATE TABLE IF NOT EXISTS sms_delivery (
            provider_id TEXT PRIMARY KEY,
            status TEXT NOT NULL,
            delivered_at TEXT,
            updated_at TEXT NOT NULL
        );
        CREATE TABLE IF NOT EXISTS request_slots (
            name TEXT PRIMARY KEY,
            next_at REAL NOT NULL
        );
    """
    ADDED_COLUMNS: ClassVar[dict[str, dict[str, str]]] = {"attempted": {"last_at": "TEXT"}}
    """`last_at` (issue 29): a file of an earlier release measures its wait from the first attempt."""
    _STRIPES = 64

    def __init__(self, path: Path | str, **options: float) -> None:
        super().__init__(path, **options)
        self._locks = [threading.Lock() for _ in range(self._STRIPES)]

    @contextmanager
    def exclusive(self, key: str) -> Iterator[None]:
        stripe = zlib.crc32(key.encode()) % self._STRIPES
        lock_path = private_file(self.path.with_suffix(".lock"))  # 0600, as the ledger itself
        with self._locks[stripe], open(lock_path, "a+b") as lock_file:
            fcntl.lockf(lock_file, fcntl.LOCK_EX, 1, stripe)  # released when the file closes
            yield


class PostgresSentLedger(SentLedger, PostgresTable):
    """The ledger in the service's PostgreSQL database, shared by every worker on every host."""

    def exclusive(self, key: str) -> AbstractContextManager[None]:
        return self.database.exclusive(f"sms-key:{key}")
