"""Query results: message records and workflow status (SPEC §5)."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from pydantic import AwareDatetime, Field

from domain.markdown import escape_markdown
from domain.types import ContractModel


class MessageKind(StrEnum):
    SMS_REMINDER = "sms_reminder"
    INVITATION = "invitation"
    REMINDER_1 = "reminder_1"
    REMINDER_2 = "reminder_2"
    INVITATION_CHANGED = "invitation_changed"  # the invitation again after a change of the request (V10)


class MessageChannel(StrEnum):
    SMS = "sms"
    INBOX_1177 = "1177"
    LETTER = "letter"
    DIGITAL_MAILBOX = "digital_mailbox"


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
    NOT_1177_USER = "not_1177_user"  # V5: the patient does not use 1177
    NO_MAILBOX = "no_mailbox"  # no digital mailbox in the FaR register
    SHIELDED = "shielded"  # a minor or a protected identity: not by SMS notice or digital mailbox


class Delivery(StrEnum):
    """What the SMS provider reported about a sent message (NHS / GOV.UK Notify's lifecycle): handed
    to the network and not yet confirmed, delivered to the handset, or failed."""

    PENDING = "pending"
    DELIVERED = "delivered"
    FAILED = "failed"


_DELIVERY_RANK = {Delivery.PENDING: 0, Delivery.FAILED: 1, Delivery.DELIVERED: 2}


def later_delivery(current: Delivery | None, reported: Delivery) -> Delivery:
    """Reports may repeat and arrive out of order: the state only moves forward, pending → failed →
    delivered. `delivered` is final (nothing overwrites it); `failed` is final against a late
    `pending`, but a later `delivered` wins (the handset confirmed it). The SMS ledger's upsert
    (`SentLedger.record_delivery`) applies the same order."""
    if current is None or _DELIVERY_RANK[reported] > _DELIVERY_RANK[current]:
        return reported
    return current


class DeliveryReport(ContractModel):
    """Signal `delivery_report` of `SmsReminderWorkflow`: the provider's report on the SMS of `key`
    (`<workflow id>/v<visit version>/<recipient role>`), as the SMS ledger resolved it."""

    key: str = Field(min_length=1, max_length=200)
    status: Delivery
    at: AwareDatetime  # delivered: the provider's delivery time; else when the report arrived


class MessageRecord(ContractModel):
    """One message decision: sent, skipped (with reason) or failed (with reason); for an SMS sent
    through a gateway that reports deliveries, also what the provider reported (`delivery`)."""

    kind: MessageKind
    channel: MessageChannel
    recipient: RecipientRole
    to: str | None = None  # masked
    at: AwareDatetime
    outcome: Outcome
    reason: Reason | None = None
    visit_version: int | None = None
    delivery: Delivery | None = None  # None: not reported (the gateway gives no delivery reports)
    delivery_at: AwareDatetime | None = None  # the moment of the last delivery change
    read_at: AwareDatetime | None = None  # a 1177 message: when the patient opened it, as last checked


def mark_read(messages: list[MessageRecord], kind: MessageKind, at: datetime) -> None:
    """Issue 27: the last 1177 message of `kind` sent was read at `at` (the first reading kept)."""
    for index in range(len(messages) - 1, -1, -1):
        record = messages[index]
        if (
            record.kind is kind
            and record.channel is MessageChannel.INBOX_1177
            and record.outcome is Outcome.SENT
        ):
            if record.read_at is None:
                messages[index] = record.model_copy(update={"read_at": at})
            return


def reported_sms(
    messages: list[MessageRecord], version: int, role: RecipientRole
) -> list[MessageRecord] | None:
    """The sent SMS a delivery report on the message of `version` and `role` is about ([] when that
    message was not sent); None when no message of theirs is recorded yet."""
    records = [m for m in messages if m.visit_version == version and m.recipient is role]
    if not records:
        return None
    return [m for m in records if m.outcome is Outcome.SENT and m.channel is MessageChannel.SMS]


def later_report(kept: DeliveryReport | None, report: DeliveryReport) -> DeliveryReport:
    """Of two reports on one SMS, the one to keep: the later in `later_delivery`'s order (on a tie the
    one kept)."""
    if kept is None or later_delivery(kept.status, report.status) is not kept.status:
        return report
    return kept


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


def state_after_sending(
    sends: list[tuple[Outcome, Reason | None]], messages: list[MessageRecord], version: int
) -> tuple[ReminderState, Reason | None]:
    """A reminder's state once the SMS of `version` are sent (`sends`: each send's outcome and reason):
    sent if one went out, else failed (the first reason given), else skipped (the first reason recorded
    for `version`)."""
    outcomes = {outcome for outcome, _ in sends}
    if Outcome.SENT in outcomes:
        return ReminderState.SENT, None
    if Outcome.FAILED in outcomes:
        return ReminderState.FAILED, next(reason for _, reason in sends if reason)
    return ReminderState.SKIPPED, next((m.reason for m in messages if m.visit_version == version), None)


class BookingView(ContractModel):
    """One booking of a reminder workflow as the status shows it (a team visit has several)."""

    booking_id: str
    channel: str
    sms_flag: bool
    cancelled: bool = False


class ReplyView(ContractModel):
    """A patient's reply to the reminder (issue 28, signal `patient_reply`) as the status shows it:
    the word it was read as (`avboka`, `stopp`, `other`), who answered, when, the visit version the
    answered SMS was of, and whether staff have handled it (`stopp` needs nobody: handled at once)."""

    word: str
    role: RecipientRole
    at: AwareDatetime
    visit_version: int
    handled: bool = False


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
    replies: list[ReplyView] = Field(default_factory=list)  # issue 28, oldest first


def reminder_details(status: ReminderStatus) -> str:
    """The Web UI's current details of a reminder: state, visit, next action, and the SMS deliveries
    reported for the current visit version. The Web UI renders them as Markdown: the caller's ids are
    escaped (`escape_markdown`), the rest are the service's own words and times."""
    state, reason, next_action = status.state, status.reason, status.next_action
    when = f", next {next_action.kind} at {next_action.at.isoformat()}" if next_action else ""
    deliveries = ", ".join(
        f"{m.recipient.value} {m.delivery.value}"
        for m in status.messages
        if m.delivery is not None and m.visit_version == status.visit_version
    )
    return (
        f"{state.value}{f' ({reason.value})' if reason else ''}: visit {status.start.isoformat()} "
        f"at {escape_markdown(status.clinic_id)}/{escape_markdown(status.reception_id)}, "
        f"version {status.visit_version}{when}"
        f"{f'; SMS {deliveries}' if deliveries else ''}"
    )


class GroupState(StrEnum):
    SCHEDULED = "scheduled"
    DONE = "done"
    CANCELLED = "cancelled"


class GroupStatus(ContractModel):
    """Result of the `status` query of `GroupBookingWorkflow`."""

    state: GroupState
    start: AwareDatetime
    sms_flag: bool
    clinic_id: str | None = None  # None only in the answer of a query served by an older worker
    participants: list[str]  # booking ids
    cancelled: list[str] = Field(default_factory=list)
    reminder_workflow_ids: list[str]
