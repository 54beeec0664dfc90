"""Query results: message records and workflow status (SPEC §5)."""

from __future__ import annotations

from enum import StrEnum

from pydantic import AwareDatetime, Field

from domain.types import ContractModel


class MessageKind(StrEnum):
    SMS_REMINDER = "sms_reminder"
    INVITATION = "invitation"
    REMINDER_1 = "reminder_1"
    REMINDER_2 = "reminder_2"


class MessageChannel(StrEnum):
    SMS = "sms"
    INBOX_1177 = "1177"
    LETTER = "letter"


class RecipientRole(StrEnum):
    PATIENT = "patient"
    GUARDIAN_1 = "guardian_1"
    GUARDIAN_2 = "guardian_2"


class Outcome(StrEnum):
    SENT = "sent"
    SKIPPED = "skipped"
    FAILED = "failed"


class Reason(StrEnum):
    """Stable snake_case codes for skipped and failed messages, each tied to its rule."""

    CLINIC_NOT_CONNECTED = "clinic_not_connected"  # S14
    RECEPTION_NOT_ENABLED = "reception_not_enabled"  # S1
    QUICK_BOOKING = "quick_booking"  # S7
    SMS_FLAG_OFF = "sms_flag_off"  # S10, S11, S13
    MINOR_RESERVNUMMER = "minor_reservnummer"  # S5
    NO_CONSENT = "no_consent"  # S9
    NO_MOBILE = "no_mobile"  # S3
    NO_GUARDIAN_MOBILE = "no_guardian_mobile"  # S4
    DUPLICATE_NUMBER = "duplicate_number"  # S15: one SMS per number and visit version
    TOO_LATE = "too_late"  # S6
    UNKNOWN_PATIENT = "unknown_patient"
    UNKNOWN_CLINIC = "unknown_clinic"
    UNKNOWN_RECEPTION = "unknown_reception"
    INVALID_NUMBER = "invalid_number"  # provider refused the number: not retried
    NO_POSTAL_ADDRESS = "no_postal_address"  # V5: a letter needs an address
    PROVIDER_REFUSED = "provider_refused"  # provider refused the message for another lasting reason
    PROVIDER_UNAVAILABLE = "provider_unavailable"  # retries exhausted before the visit


class MessageRecord(ContractModel):
    """One message decision: sent, skipped (with reason) or failed (with reason)."""

    kind: MessageKind
    channel: MessageChannel
    recipient: RecipientRole
    to: str | None = None  # masked
    at: AwareDatetime
    outcome: Outcome
    reason: Reason | None = None
    visit_version: int | None = None


SEND_SMS = "send_sms_reminder"
"""The reminder's next action (search attribute `NextAction`) while it waits for its S6 moment."""


class NextAction(ContractModel):
    kind: str
    at: AwareDatetime


class ReminderState(StrEnum):
    SCHEDULED = "scheduled"
    SENT = "sent"
    SKIPPED = "skipped"
    CANCELLED = "cancelled"
    FAILED = "failed"


class BookingView(ContractModel):
    """One booking of a reminder workflow as the status shows it (a team visit has several)."""

    booking_id: str
    channel: str
    sms_flag: bool
    cancelled: bool = False


class ReminderStatus(ContractModel):
    """Result of the `status` query of `SmsReminderWorkflow`."""

    state: ReminderState
    next_action: NextAction | None = None
    messages: list[MessageRecord] = Field(default_factory=list)
    start: AwareDatetime
    visit_version: int
    clinic_id: str
    reception_id: str
    patient: str  # masked patient id
    bookings: list[BookingView] = Field(default_factory=list)
    reason: Reason | None = None


class GroupState(StrEnum):
    SCHEDULED = "scheduled"
    DONE = "done"
    CANCELLED = "cancelled"


class GroupStatus(ContractModel):
    """Result of the `status` query of `GroupBookingWorkflow`."""

    state: GroupState
    start: AwareDatetime
    sms_flag: bool
    participants: list[str]  # booking ids
    cancelled: list[str] = Field(default_factory=list)
    reminder_workflow_ids: list[str]
