"""The digital mailbox over HTTP (`HttpMailbox`): a FaR-shaped lookup, then delivery to the supplier it
names, with a ledger of accepted keys (`MailboxLedger` on SQLite or PostgreSQL); re-exported by
`adapters.mailbox`.

The real services (Mina meddelanden's FaR `isReachable`, the suppliers' `deliverSecure`) are SOAP;
these endpoints are JSON over HTTP shaped like them (docs/mailbox.md). No exception message or log
line here contains a personnummer, a subject or a message body.
"""

from __future__ import annotations

from collections.abc import Callable
from contextlib import AbstractContextManager
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlsplit

import httpx
import structlog

from adapters.http_answers import REASON, KeyedClient, error_code
from adapters.mailbox_contract import (
    MailboxMessage,
    MailboxReceipt,
    PermanentMailboxError,
    TransientMailboxError,
    canonical,
)
from adapters.postgres import PostgresTable
from adapters.sql import Connection
from adapters.sqlite import SqliteFile

log = structlog.get_logger("adapters.mailbox")

UNKNOWN_ID = "unknown"
"""The message id recorded when the supplier accepted a message but named no id."""


class MailboxLedger:
    """Key → receipt of messages a mailbox supplier accepted; the first receipt for a key is kept."""

    _read: Callable[[], AbstractContextManager[Connection]]  # from the backend (adapters/sql.py)
    _write: Callable[[], AbstractContextManager[Connection]]

    def get(self, key: str) -> MailboxReceipt | None:
        with self._read() as conn:
            row = conn.execute(
                "SELECT message_id, supplier, delivered_at FROM mailbox_delivered WHERE key = ?", (key,)
            ).fetchone()
        return None if row is None else MailboxReceipt(key=key, **dict(row))

    def put(self, receipt: MailboxReceipt) -> None:
        with self._write() as conn:
            conn.execute(
                "INSERT INTO mailbox_delivered (key, message_id, supplier, delivered_at) VALUES (?, ?, ?, ?)"
                " ON CONFLICT (key) DO NOTHING",
                (receipt.key, receipt.message_id, receipt.supplier, receipt.delivered_at.isoformat()),
            )


class SqliteMailboxLedger(MailboxLedger, SqliteFile):
    """The mailbox ledger in an SQLite file of one host (`mailbox-ledger.sqlite3`)."""

    SCHEMA = """
        CREATE TABLE IF NOT EXISTS mailbox_delivered (
            key TEXT PRIMARY KEY,
            message_id TEXT NOT NULL,
            supplier TEXT NOT NULL,
            delivered_at TEXT NOT NULL
        )
    """


class PostgresMailboxLedger(MailboxLedger, PostgresTable):
    """The mailbox ledger in the service's PostgreSQL database, shared by every worker (migration 0010)."""


class HttpMailbox(KeyedClient):
    """`POST {far_url}/reachability` asks whether the patient has a mailbox and with which supplier;
    delivery is `POST {delivery_url}/messages` to that supplier with the same bearer token and an
    `Idempotency-Key` header.

    Idempotent through the `MailboxLedger`: a key already accepted is neither looked up nor sent
    again; deliveries of one key from several threads of this process are serialised. A lost answer
    (the supplier accepted, we timed out) means one resend with the same `Idempotency-Key`, for the
    supplier to drop.
    """

    def __init__(self, far_url: str, token: str, ledger: MailboxLedger, timeout: float = 10.0) -> None:
        super().__init__(token, timeout)
        self._far = far_url.rstrip("/") + "/reachability"
        self._ledger = ledger

    def has_mailbox(self, patient_id: str) -> bool:
        """FaR's answer; False without asking for a reservnummer or a value that is no patient id."""
        if (recipient := _recipient(patient_id)) is None:
            return False
        try:
            return self._lookup(recipient) is not None
        except PermanentMailboxError as e:  # FaR refused the question: we cannot tell
            raise TransientMailboxError(
                f"FaR refused the lookup ({e.reason}); check FAR_URL", reason="far_rejected"
            ) from None

    def deliver(self, message: MailboxMessage) -> MailboxReceipt:
        with self._lock(message.key):
            if (earlier := self._ledger.get(message.key)) is not None:
                return earlier.model_copy(update={"duplicate": True})
            recipient = _recipient(message.patient_id)
            found = None if recipient is None else self._lookup(recipient)
            if recipient is None or found is None:
                raise PermanentMailboxError("no_mailbox", "the patient has no digital mailbox (no_mailbox)")
            supplier, delivery_url = found
            message_id = self._post(delivery_url, recipient, message)
            receipt = MailboxReceipt(
                key=message.key, message_id=message_id, supplier=supplier, delivered_at=datetime.now(UTC)
            )
            self._ledger.put(receipt)
            # Another process may have recorded this key first: the first receipt is the one that counts.
            receipt = self._ledger.get(message.key) or receipt
            log.info("mailbox_delivered", key=message.key, message_id=message_id, supplier=supplier)
            return receipt

    def _lookup(self, recipient: str) -> tuple[str, str] | None:
        """(supplier id, delivery URL) of the recipient's mailbox, or None when FaR says unreachable."""
        response = self._call("FaR", lambda: self._client.post(self._far, json={"recipients": [recipient]}))
        _raise_for("FaR", response)
        try:
            entries = response.json()["recipients"]
            (entry,) = [e for e in entries if canonical(str(e["id"])) == canonical(recipient)]
            if entry["reachable"] is not True:
                if entry["reachable"] is False:
                    return None
                raise TypeError
            supplier, url = entry["supplier"]["id"], entry["supplier"]["delivery_url"]
        except (ValueError, KeyError, TypeError, IndexError):
            raise TransientMailboxError(
                "FaR answered without a readable `recipients` entry for the recipient", reason="far_answer"
            ) from None
        if (
            not isinstance(supplier, str)
            or not REASON.match(supplier.replace("-", "_"))
            or not _http_url(url)
        ):
            raise TransientMailboxError(
                "FaR named a mailbox without a supplier code and an http(s) delivery_url", reason="far_answer"
            )
        return supplier, url

    def _post(self, delivery_url: str, recipient: str, message: MailboxMessage) -> str:
        """POST the message to the supplier; its id, or a Permanent/TransientMailboxError."""
        payload = {
            "recipient": recipient,
            "sender_name": message.sender_name,
            "subject": message.subject,
            "body": message.body,
        }
        url = delivery_url.rstrip("/") + "/messages"
        response = self._call(
            "the mailbox supplier",
            lambda: self._client.post(url, json=payload, headers={"Idempotency-Key": message.key}),
        )
        _raise_for("the mailbox supplier", response)
        try:
            return str(response.json()["id"])
        except (ValueError, KeyError, TypeError):
            # Accepted, so it is probably delivered: record it rather than risk delivering it twice.
            log.warning("mailbox_answer_without_id", key=message.key, status=response.status_code)
            return UNKNOWN_ID

    @staticmethod
    def _call(who: str, request: Callable[[], httpx.Response]) -> httpx.Response:
        """The answer; a timeout or a connection error as a TransientMailboxError."""
        try:
            return request()
        except httpx.TimeoutException:
            raise TransientMailboxError(f"{who} did not answer in time", reason="timeout") from None
        except httpx.TransportError as e:
            raise TransientMailboxError(
                f"could not reach {who} ({type(e).__name__})", reason="connection"
            ) from None


def _raise_for(who: str, response: httpx.Response) -> None:
    """Nothing for a 2xx; else the error of the answer, as the 1177 inbox maps them."""
    status = response.status_code
    if 200 <= status < 300:
        return
    if status in (401, 403):
        raise TransientMailboxError(f"{who} refused the credentials (HTTP {status})", reason="mailbox_auth")
    if status == 429:
        raise TransientMailboxError(f"{who} is rate limiting (HTTP 429)", reason="rate_limited")
    if status == 408 or status >= 500:
        raise TransientMailboxError(f"{who} failed (HTTP {status})", reason="mailbox_error")
    if 400 <= status < 500:
        reason = error_code(response)
        raise PermanentMailboxError(reason, f"{who} refused the message (HTTP {status}, {reason})")
    raise TransientMailboxError(
        f"unexpected answer from {who} (HTTP {status}); check FAR_URL", reason="mailbox_error"
    )


def _recipient(patient_id: str) -> str | None:
    """The id as FaR takes it (12 digits, no separator); None for a reservnummer or no patient id."""
    key = canonical(patient_id)
    return None if key is None else key.replace("-", "")


def _http_url(url: Any) -> bool:
    if not isinstance(url, str):
        return False
    parts = urlsplit(url)
    return parts.scheme in ("http", "https") and bool(parts.hostname)
