"""What the digital mailbox adapters share: the message, the receipt, the stored entry, the two
kinds of error and the `DigitalMailbox` port (re-exported by `adapters.mailbox`; import from there).

No exception message here contains a personnummer, a subject or a message body."""

from __future__ import annotations

from typing import Protocol, runtime_checkable

from pydantic import AwareDatetime, Field

from domain.identity import InvalidPatientId, parse_patient_id
from domain.types import ContractModel


class MailboxMessage(ContractModel):
    """One message to one patient's digital mailbox. `key` makes delivery idempotent; it must hold no
    patient data."""

    key: str = Field(min_length=1, max_length=200)
    patient_id: str = Field(min_length=1)
    sender_name: str = Field(min_length=1)
    subject: str = Field(min_length=1)
    body: str = Field(min_length=1)


class MailboxReceipt(ContractModel):
    """Proof of delivery, with the patient's mailbox supplier (e.g. `kivra`). `duplicate` is True when
    the key had been delivered before (the first receipt is returned)."""

    key: str
    message_id: str
    supplier: str
    delivered_at: AwareDatetime
    duplicate: bool = False


class MailboxEntry(ContractModel):
    """A message stored by the embedded mailbox (`patient_id` canonical, `YYYYMMDD-NNNN`)."""

    key: str
    patient_id: str
    supplier: str
    sender_name: str
    subject: str
    body: str
    delivered_at: AwareDatetime
    message_id: str


class PermanentMailboxError(Exception):
    """The mailbox refused the message for good: `no_mailbox` (the patient has no digital mailbox), or
    the supplier's code (`rejected` when it gave none that looks like a code). Do not retry."""

    def __init__(self, reason: str, message: str | None = None) -> None:
        self.reason = reason
        super().__init__(message or f"digital mailbox refused the message ({reason})")


class TransientMailboxError(Exception):
    """It may work later: 5xx, 429, timeouts, connection errors, refused credentials, an answer that
    cannot be read."""

    def __init__(self, message: str, reason: str = "mailbox_unavailable") -> None:
        self.reason = reason
        super().__init__(message)


@runtime_checkable
class DigitalMailbox(Protocol):
    def has_mailbox(self, patient_id: str) -> bool:
        """Whether the patient has a digital mailbox (the FaR lookup); TransientMailboxError if it
        cannot tell."""
        ...

    def deliver(self, message: MailboxMessage) -> MailboxReceipt:
        """Deliver once per `message.key` (a repeated key returns the first receipt with
        duplicate=True); no mailbox → PermanentMailboxError("no_mailbox")."""
        ...


def canonical(patient_id: str) -> str | None:
    """The personnummer or samordningsnummer as stored (`YYYYMMDD-NNNN`, as adapters/directory.py keeps
    ids); None for anything else: a reservnummer has no mailbox (FaR knows only the other two)."""
    try:
        parsed = parse_patient_id(patient_id)
    except InvalidPatientId:
        return None
    return None if parsed.is_reservnummer else parsed.value
