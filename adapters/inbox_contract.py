"""What the 1177 inbox adapters share: the message, the receipt, the stored entry, the two kinds of
error and the `Inbox` port (re-exported by `adapters.inbox`, where callers import them from).

No exception message here contains a personnummer, a subject or a message body."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Protocol, runtime_checkable

from pydantic import AwareDatetime, Field

from domain.types import ContractModel


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
    """A message stored by the embedded inbox; `read_at` is when the patient opened it (None: not yet)."""

    key: str
    patient_id: str
    subject: str
    body: str
    booking_url: str | None
    delivered_at: AwareDatetime
    message_id: str
    read_at: AwareDatetime | None = None


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

    def read_at(self, key: str) -> datetime | None:
        """When the patient opened the message delivered under `key` (aware, UTC); None when not yet
        opened or no such key. Raises `TransientInboxError` when it cannot tell, never a permanent error."""
        ...


def now() -> datetime:
    return datetime.now(UTC)


def as_utc(value: datetime | str) -> datetime:
    """A stored or answered time (ISO text or datetime) as an aware UTC datetime."""
    at = datetime.fromisoformat(value) if isinstance(value, str) else value
    if not isinstance(at, datetime):
        raise TypeError("not a time")
    if at.tzinfo is None:
        raise ValueError("a time without an offset")
    return at.astimezone(UTC)
