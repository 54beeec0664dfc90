"""Sending SMS behind a small interface, idempotent per key (S15: never twice for the same visit version).

`SmsGateway` is the port; `SqliteOutbox` is the embedded gateway for local use and tests, and
`ElksSmsGateway` (in `adapters.sms_elks`, with its ledger) talks to an HTTP API shaped like 46elks'.
`build_sms_gateway` picks one from `SmsSettings`. Errors are split into permanent (do not retry) and
transient (retry); no exception message or log line here contains a phone number or a message text.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from pathlib import Path
from typing import Literal, Protocol, runtime_checkable

import structlog
from pydantic import AwareDatetime, BaseModel, Field

from adapters.sqlite import SqliteFile
from domain.types import ContractModel

__all__ = [
    "OutboxEntry",
    "PermanentSmsError",
    "SmsGateway",
    "SmsMessage",
    "SmsReceipt",
    "SmsSettings",
    "SqliteOutbox",
    "TransientSmsError",
    "build_sms_gateway",
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
    """Proof of sending. `duplicate` is True when the key had been sent before (first receipt returned)."""

    key: str
    provider_id: str
    sent_at: AwareDatetime
    duplicate: bool = False


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

    def __init__(self, message: str, reason: str = "provider_unavailable") -> None:
        self.reason = reason
        super().__init__(message)


@runtime_checkable
class SmsGateway(Protocol):
    def send(self, message: SmsMessage) -> SmsReceipt:
        """Send once per `message.key`; a repeated key returns the first receipt with duplicate=True."""
        ...


def _now() -> datetime:
    return datetime.now(UTC)


# --- embedded outbox --------------------------------------------------------------------------------


class SqliteOutbox(SqliteFile):
    """The embedded gateway: "sending" stores the message; a key is stored at most once."""

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
            return conn.execute("SELECT count(*) FROM outbox").fetchone()[0]


# --- configuration ----------------------------------------------------------------------------------


class SmsSettings(BaseModel):
    """Which gateway to use and where its embedded stores live."""

    gateway: Literal["outbox", "46elks"] = "outbox"
    data_dir: Path
    elks_url: str = "https://api.46elks.com"
    elks_username: str | None = None
    elks_password: str | None = Field(default=None, repr=False)
    elks_timeout: float = Field(default=10.0, gt=0)


def build_sms_gateway(settings: SmsSettings) -> SmsGateway:
    """The outbox at `data_dir/outbox.sqlite3`, or 46elks with its ledger at `data_dir/sms-ledger.sqlite3`."""
    if settings.gateway == "outbox":
        return SqliteOutbox(settings.data_dir / "outbox.sqlite3")
    # Imported here: `adapters.sms_elks` builds on this module's messages and errors (and on httpx).
    from adapters.sms_elks import ElksSmsGateway, SentLedger

    if not settings.elks_username or not settings.elks_password:
        raise ValueError(
            "the 46elks SMS gateway needs a username and a password (elks_username, elks_password)"
        )
    return ElksSmsGateway(
        settings.elks_url,
        settings.elks_username,
        settings.elks_password,
        SentLedger(settings.data_dir / "sms-ledger.sqlite3"),
        timeout=settings.elks_timeout,
    )
