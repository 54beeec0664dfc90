"""The events a booking system's webhook receives (docs/webhooks.md), Standard Webhooks style: a body
`{"type", "timestamp", "data"}` and an id of its own (the `webhook-id` header), pure and without I/O.

One change, one event id: the id is a hash of what changed (the SMS idempotency key of S15,
`<workflow id>/v<visit version>/<role>`, or the reminder's `<workflow id>/v<visit version>` when
nobody gets an SMS) and the event's type, so the same outcome reported twice (an activity retried,
a delivery report repeated) is one event, delivered once (`workflows.events.EventDelivery`, whose
workflow id is `webhook-event:<event id>`).

`data` holds only what the booking system already has: its clinic, the id it issued (booking, team
visit, group booking or request id), the recipient's role, the visit version and the reason code;
never a personnummer, a name or a phone number.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence
from datetime import UTC, datetime
from enum import StrEnum
from typing import Protocol

from pydantic import AwareDatetime, Field

from contracts.workflow_ids import IdKind, parse_sms_key, parse_workflow_id
from domain.invitation_status import InvitationState
from domain.status import Delivery, MessageChannel, MessageKind, Outcome, Reason, RecipientRole
from domain.types import ContractModel

EVENT_ID_PREFIX = "evt_"
EVENT_WORKFLOW_PREFIX = "webhook-event:"


class EventType(StrEnum):
    """What happened to a message, or to a care invitation (issue 26, item 3)."""

    MESSAGE_SENT = "message.sent"  # handed to the SMS provider
    MESSAGE_FAILED = "message.failed"  # refused for good (invalid number, provider refused)
    MESSAGE_SKIPPED = "message.skipped"  # not sent, by a rule (the reason code says which)
    MESSAGE_DELIVERED = "message.delivered"  # the provider's delivery report: on the handset
    MESSAGE_UNDELIVERED = "message.undelivered"  # the provider's delivery report: not delivered
    INVITATION_INVITED = "invitation.invited"  # the invitation went to the patient's 1177 inbox (V3)
    INVITATION_REMINDED = "invitation.reminded"  # a reminder went to the 1177 inbox (V6)
    INVITATION_LETTER = "invitation.letter"  # the invitation or a reminder went by post (V5)
    INVITATION_CHANGED = "invitation.changed"  # the invitation again, the request changed (V10)
    INVITATION_NOTICE = "invitation.notice"  # an SMS told the patient a message waits in 1177 (issue 27)
    INVITATION_MAILBOX = "invitation.mailbox"  # the message went to the patient's digital mailbox
    INVITATION_BOOKED = "invitation.booked"  # booked by the patient or staff (V7)
    INVITATION_CONTACTED = "invitation.contacted"  # the patient contacted the clinic (V7)
    INVITATION_CANCELLED = "invitation.cancelled"  # staff cancelled it, or the plain request (V14)
    INVITATION_EXPIRED = "invitation.expired"  # unanswered, moved to the follow-up list (V13)
    REMINDER_CANCEL_REQUESTED = "reminder.cancel_requested"  # the patient answered AVBOKA (issue 28)


ISSUED_FIELD = {
    IdKind.VISIT: "booking_id",
    IdKind.TEAM_VISIT: "team_visit_id",
    IdKind.GROUP: "group_booking_id",
    IdKind.REQUEST: "request_id",
}
"""The field of `data` that holds the id the clinic issued, by what it names."""


class EventData(ContractModel):
    """What an event is about, in the booking system's own ids; exactly one issued id is set."""

    clinic_id: str
    booking_id: str | None = None
    team_visit_id: str | None = None
    group_booking_id: str | None = None
    request_id: str | None = None
    state: InvitationState | None = None  # an invitation's state after the change
    message: MessageKind | None = None  # the message the event is about; None for a state change
    channel: MessageChannel | None = None
    recipient: RecipientRole | None = None  # None: no SMS went to anyone (a reminder skipped as a whole)
    visit_version: int | None = None
    reason: Reason | None = None


class Event(ContractModel):
    """One event: `id` travels as the `webhook-id` header, the rest is the body (`body()`)."""

    id: str = Field(pattern=r"^evt_[0-9a-f]{32}$")
    type: EventType
    timestamp: AwareDatetime
    data: EventData

    @property
    def clinic_id(self) -> str:
        return self.data.clinic_id

    def body(self) -> str:
        """The JSON body as signed and sent: `type`, `timestamp` (UTC, ISO 8601), `data` without the
        fields that do not apply."""
        payload = {
            "type": self.type.value,
            "timestamp": self.timestamp.astimezone(UTC)
            .isoformat(timespec="milliseconds")
            .replace("+00:00", "Z"),
            "data": self.data.model_dump(mode="json", exclude_none=True),
        }
        return json.dumps(payload, separators=(",", ":"), ensure_ascii=False)


class EventsNotPublished(Exception):
    """An event could not be handed on (Temporal or the webhooks store unreachable): the caller fails,
    so that its retry (an activity's, the provider's) publishes it again, under the same id."""


class EventPublisher(Protocol):
    """Where an activity or a use case hands its events: each delivered durably to the webhooks of its
    clinic, once per event id, and nothing at all for a clinic without a webhook. Called from a
    thread (an activity, or `asyncio.to_thread`), never on an event loop; it waits for the hand-over
    and raises `EventsNotPublished` when it could not make it."""

    def publish(self, events: Sequence[Event]) -> None: ...


class NoEvents:
    """The publisher where no events leave (a worker of the tests or the benchmarks without webhooks)."""

    def publish(self, events: Sequence[Event]) -> None:
        return None


def event_id(subject: str, event_type: EventType) -> str:
    """The id of the event of `event_type` about `subject` (an SMS key, or a reminder's version): the
    same change always has the same id."""
    digest = hashlib.sha256(f"{event_type.value}\n{subject}".encode()).hexdigest()
    return f"{EVENT_ID_PREFIX}{digest[:32]}"


def event_workflow_id(event: Event) -> str:
    """The id of the workflow that delivers `event` (`EventDelivery`), one per event id."""
    return f"{EVENT_WORKFLOW_PREFIX}{event.id}"


def _about(workflow_id: str, clinic_id: str | None) -> dict[str, str] | None:
    """The clinic and issued id of a workflow id as `data` fields; None when the clinic is unknown (a
    workflow id from before ids were scoped, and no clinic given) or it is no reminder's or request's."""
    parsed = parse_workflow_id(workflow_id)
    if parsed is None:
        return None
    clinic = parsed.clinic_id or clinic_id
    if not clinic:
        return None
    return {"clinic_id": clinic, ISSUED_FIELD[parsed.issued.kind]: parsed.issued.value}


def message_event(
    event_type: EventType,
    key: str,
    at: datetime,
    *,
    reason: Reason | None = None,
    clinic_id: str | None = None,
) -> Event | None:
    """The event of `event_type` about the SMS of `key` (`sms_key`); None for a key that names no
    reminder's SMS, or whose clinic is unknown (`clinic_id` gives it for an unscoped workflow id)."""
    parsed = parse_sms_key(key)
    about = _about(parsed.workflow_id, clinic_id) if parsed else None
    if parsed is None or about is None:
        return None
    data = EventData(
        **about,
        message=MessageKind.SMS_REMINDER,
        channel=MessageChannel.SMS,
        recipient=parsed.role,
        visit_version=parsed.version,
        reason=reason,
    )
    return Event(id=event_id(key, event_type), type=event_type, timestamp=at, data=data)


def reminder_skipped(
    workflow_id: str, version: int, reason: Reason, at: datetime, *, clinic_id: str | None = None
) -> Event | None:
    """`message.skipped` for a reminder version nobody gets an SMS for (S1, S7, S10, S14: `reason`),
    without a recipient."""
    about = _about(workflow_id, clinic_id)
    if about is None:
        return None
    subject = f"{workflow_id}/v{version}"
    data = EventData(
        **about,
        message=MessageKind.SMS_REMINDER,
        channel=MessageChannel.SMS,
        visit_version=version,
        reason=reason,
    )
    event_type = EventType.MESSAGE_SKIPPED
    return Event(id=event_id(subject, event_type), type=event_type, timestamp=at, data=data)


DELIVERY_EVENTS = {
    Delivery.DELIVERED: EventType.MESSAGE_DELIVERED,
    Delivery.FAILED: EventType.MESSAGE_UNDELIVERED,
}
"""The delivery states that make an event (`pending` makes none)."""


def delivery_event(key: str, status: Delivery, at: datetime) -> Event | None:
    """`message.delivered` or `message.undelivered` for a delivery report on the SMS of `key`; None for
    `pending`, or a key whose clinic the key does not name."""
    event_type = DELIVERY_EVENTS.get(status)
    return message_event(event_type, key, at) if event_type else None


INVITATION_MESSAGE = "invitation.message"
"""What an invitation message's event id is hashed with, whatever its type: one message, one event
(a retry that found the inbox gone and sent a letter still repeats the first event's id)."""


_BY_OUTCOME = {Outcome.FAILED: EventType.MESSAGE_FAILED, Outcome.SKIPPED: EventType.MESSAGE_SKIPPED}
_BY_CHANNEL = {
    MessageChannel.LETTER: EventType.INVITATION_LETTER,
    MessageChannel.SMS: EventType.INVITATION_NOTICE,
    MessageChannel.DIGITAL_MAILBOX: EventType.INVITATION_MAILBOX,
}
_BY_KIND = {
    MessageKind.INVITATION: EventType.INVITATION_INVITED,
    MessageKind.INVITATION_CHANGED: EventType.INVITATION_CHANGED,
    MessageKind.REMINDER_1: EventType.INVITATION_REMINDED,
    MessageKind.REMINDER_2: EventType.INVITATION_REMINDED,
}
"""An invitation message's event type: not sent, else by its channel, else (1177) by its kind."""


def invitation_message_event(
    key: str,
    kind: MessageKind,
    channel: MessageChannel,
    outcome: Outcome,
    state: InvitationState,
    at: datetime,
    *,
    clinic_id: str,
    reason: Reason | None = None,
) -> Event | None:
    """The event of one invitation message (`key`: `<workflow id>/<step>[.<plan step>]`, V3, V5, V6,
    V10, issue 27): sent to the 1177 inbox `invitation.invited`, `.reminded` or `.changed`, by post
    `invitation.letter`, as an SMS notice `invitation.notice`, to the digital mailbox
    `invitation.mailbox`, not sent `message.failed` or (a later step of the plan) `message.skipped`
    with its reason; `state` is the invitation's once the message is sent. None for a
    key that names no request."""
    workflow_id = key.rpartition("/")[0]
    about = _about(workflow_id, clinic_id)
    if about is None or "request_id" not in about:
        return None
    event_type = _BY_OUTCOME.get(outcome) or _BY_CHANNEL.get(channel) or _BY_KIND[kind]
    data = EventData(**about, state=state, message=kind, channel=channel, reason=reason)
    digest = hashlib.sha256(f"{INVITATION_MESSAGE}\n{key}".encode()).hexdigest()
    return Event(id=f"{EVENT_ID_PREFIX}{digest[:32]}", type=event_type, timestamp=at, data=data)


STATE_EVENTS = {
    InvitationState.BOOKED: EventType.INVITATION_BOOKED,
    InvitationState.CONTACTED: EventType.INVITATION_CONTACTED,
    InvitationState.CANCELLED: EventType.INVITATION_CANCELLED,
    InvitationState.FOLLOW_UP: EventType.INVITATION_EXPIRED,
}
"""The invitation states an event tells when the request reaches them (each at most once per request)."""


def invitation_state_event(
    workflow_id: str, state: InvitationState, at: datetime, *, clinic_id: str
) -> Event | None:
    """`invitation.booked`, `.contacted`, `.cancelled` or `.expired` (follow-up, V13) of the request
    `workflow_id`; its id is a hash of the request and the state, reached once. None for another
    state, or an id of no request."""
    event_type = STATE_EVENTS.get(state)
    about = _about(workflow_id, clinic_id)
    if event_type is None or about is None or "request_id" not in about:
        return None
    data = EventData(**about, state=state)
    subject = f"{workflow_id}/{state.value}"
    return Event(id=event_id(subject, event_type), type=event_type, timestamp=at, data=data)


def cancel_requested(
    workflow_id: str, inbound_id: str, version: int, role: RecipientRole, at: datetime, *, clinic_id: str
) -> Event | None:
    """`reminder.cancel_requested`: the patient (or a minor's guardian, `role`) answered the reminder
    of visit version `version` with AVBOKA at `at`; the booking is the booking system's to cancel. Its
    id is a hash of the reminder and the provider's id of the reply, so a repeat is the same event.
    None for an id of no reminder."""
    about = _about(workflow_id, clinic_id)
    if about is None or "request_id" in about:
        return None
    event_type = EventType.REMINDER_CANCEL_REQUESTED
    data = EventData(
        **about,
        message=MessageKind.SMS_REMINDER,
        channel=MessageChannel.SMS,
        recipient=role,
        visit_version=version,
    )
    subject = f"{workflow_id}/reply/{inbound_id}"
    return Event(id=event_id(subject, event_type), type=event_type, timestamp=at, data=data)
