"""The activities' contract: their inputs, outputs and signatures, which workflows call by these
typed references and `activities/` implements with the real services.

Each signature is an `activity.defn` whose body only says it is an interface: the worker registers
the implementations (same names), never these.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from pydantic import Field
from temporalio import activity
from temporalio.exceptions import ActivityError, ApplicationError

from contracts.events import Event
from domain.directory import Clinic
from domain.invitation import CareInvitation, InvitationState
from domain.invitation_schedule import Step
from domain.status import BookingView, MessageChannel, MessageKind, Outcome, Reason, RecipientRole
from domain.types import ContractModel

NOT_IMPLEMENTED = "an activity interface: the worker registers the implementation in activities/"
SMS_UNAVAILABLE = "SmsUnavailable"
"""The type of `send_reminders`' error when the provider could not take an SMS (retried)."""


class VisitRef(ContractModel):
    """The visit a reminder is about, as the workflow knows it at send time."""

    patient_id: str
    clinic_id: str
    reception_id: str
    start: datetime
    bookings: list[BookingView]
    at: datetime  # workflow time of the decision, for consent (S9)


class PlannedRecipient(ContractModel):
    role: RecipientRole
    to: str  # masked


class PlannedSkip(ContractModel):
    role: RecipientRole
    reason: Reason


class RecipientPlan(ContractModel):
    """Who gets the reminder now; `blocker` set when nobody may get one (S1, S7, S10, S14)."""

    blocker: Reason | None = None
    recipients: list[PlannedRecipient] = Field(default_factory=list)
    skipped: list[PlannedSkip] = Field(default_factory=list)


class SendReminder(ContractModel):
    key: str  # idempotency key: one per (visit version, recipient)
    role: RecipientRole
    visit: VisitRef


class SendResult(ContractModel):
    outcome: Outcome
    to: str | None = None  # masked
    reason: Reason | None = None
    delivery_pending: bool = False  # sent through a gateway that will report the delivery


class SendReminders(ContractModel):
    """Every SMS of one visit version: its recipients decided at the send moment (S9) and each sent
    under its own key, `sms_key(workflow_id, version, role)` (S15)."""

    workflow_id: str
    version: int
    visit: VisitRef


class RecipientResult(SendResult):
    role: RecipientRole


class ReminderSendout(ContractModel):
    """What `send_reminders` did: nothing when `blocker` is set (S1, S7, S10, S14); else the roles skipped
    and one result per recipient, in the order patient, guardian 1, guardian 2."""

    blocker: Reason | None = None
    skipped: list[PlannedSkip] = Field(default_factory=list)
    results: list[RecipientResult] = Field(default_factory=list)


def last_sendout(error: ActivityError) -> ReminderSendout:
    """What `send_reminders` had sent when it gave up (its last attempt's details); without them (the
    directory could not be read), one failed message for the patient."""
    cause = error.cause
    if isinstance(cause, ApplicationError) and cause.type == SMS_UNAVAILABLE and cause.details:
        return ReminderSendout.model_validate(cause.details[0])
    failed = RecipientResult(
        role=RecipientRole.PATIENT, outcome=Outcome.FAILED, reason=Reason.PROVIDER_UNAVAILABLE
    )
    return ReminderSendout(results=[failed])


class InvitationMessageRequest(ContractModel):
    key: str  # idempotency key: one per (request, message kind, step of its routing plan)
    step: Step
    request: CareInvitation
    at: datetime  # workflow time of the decision (the letter's date)
    position: int = Field(default=0, ge=0)  # the routing plan's step to start from (issue 27)
    changed: bool = False  # the invitation again, as the request changed (V10)


class InvitationSendResult(ContractModel):
    kind: MessageKind
    channel: MessageChannel
    outcome: Outcome
    reason: Reason | None = None
    position: int | None = None  # the routing plan's step used (None: no plan step could be used)
    wait: timedelta | None = None  # unread this long, the plan's next step follows; None: the walk ends


class MessageReadQuery(ContractModel):
    """Whether the patient has opened the 1177 message sent under `key`."""

    key: str


class MessageRead(ContractModel):
    read_at: datetime | None = None


class InvitationStateChange(ContractModel):
    """A state a request reached that its clinic's webhooks hear of (booked, contacted, cancelled,
    follow-up: `contracts.events.invitation_state_event`), at the workflow's time of the change."""

    workflow_id: str
    clinic_id: str
    state: InvitationState
    at: datetime


class DirectoryReads:
    """The directory reads of both workflows, run as local activities (S6, S9, V3)."""

    @activity.defn
    def load_clinic(self, clinic_id: str) -> Clinic | None:
        """Clinic settings for the send moment (S6, V3); None for an unknown clinic."""
        raise NotImplementedError(NOT_IMPLEMENTED)

    @activity.defn
    def plan_recipients(self, visit: VisitRef) -> RecipientPlan:
        """Decide at send time who gets the reminder (S1–S5, S7, S9–S11, S13, S14)."""
        raise NotImplementedError(NOT_IMPLEMENTED)


class ReminderDecision(ContractModel):
    """What a reminder decided without an activity, for its clinic's webhooks: a version skipped as a
    whole (`too_late`, `unknown_clinic`: no `roles`), or the SMS of `roles` given up at the visit
    (`provider_unavailable`)."""

    workflow_id: str
    clinic_id: str
    version: int
    reason: Reason
    roles: list[RecipientRole] = Field(default_factory=list)
    at: datetime


class ReminderSends:
    """The SMS of a reminder (S15, S16)."""

    @activity.defn
    def send_reminder_sms(self, request: SendReminder) -> SendResult:
        """Send one reminder, idempotent per key; a refused number is recorded, not retried."""
        raise NotImplementedError(NOT_IMPLEMENTED)

    @activity.defn
    def send_reminders(self, request: SendReminders) -> ReminderSendout:
        """Decide who gets the reminder now and send each SMS (S1–S5, S7, S9–S11, S13–S16). If the
        provider could not take one, raise `ApplicationError` (type `SMS_UNAVAILABLE`) with the
        sendout so far as its details: a retry sends again under the same keys (those sent are
        duplicates), and the last attempt's details say what went out."""
        raise NotImplementedError(NOT_IMPLEMENTED)

    @activity.defn
    def tell_reminder_decision(self, decision: ReminderDecision) -> None:
        """Publish the events of what the reminder decided itself (docs/webhooks.md)."""
        raise NotImplementedError(NOT_IMPLEMENTED)


class InvitationSends:
    """The messages of a care invitation (V3, V5, V6)."""

    @activity.defn
    def send_invitation_message(self, request: InvitationMessageRequest) -> InvitationSendResult:
        """Send the invitation or a reminder to the 1177 inbox, or as a letter (V5)."""
        raise NotImplementedError(NOT_IMPLEMENTED)

    @activity.defn
    def tell_invitation_state(self, change: InvitationStateChange) -> None:
        """Publish the event of a state the request reached (docs/webhooks.md)."""
        raise NotImplementedError(NOT_IMPLEMENTED)

    @activity.defn
    def invitation_message_read(self, query: MessageReadQuery) -> MessageRead:
        """When the patient opened the 1177 message (issue 27: the routing plan's fallback on unread)."""
        raise NotImplementedError(NOT_IMPLEMENTED)


class EventToWebhook(ContractModel):
    """One event for the webhook of one API client at the event's clinic (the URL and the secret are
    read by the activity: never in the history)."""

    event: Event
    client_id: str


class EventDeliveries:
    """The delivery of an event to the webhooks of its clinic (docs/webhooks.md)."""

    @activity.defn
    def webhooks_at_clinic(self, clinic_id: str) -> list[str]:
        """The API clients with a webhook at the clinic."""
        raise NotImplementedError(NOT_IMPLEMENTED)

    @activity.defn
    def deliver_event(self, request: EventToWebhook) -> bool:
        """Post the signed event and record the attempt: True when the receiver took it, False when the
        webhook is gone (recorded as failed); raises unless the receiver answered 2xx (retried)."""
        raise NotImplementedError(NOT_IMPLEMENTED)

    @activity.defn
    def give_up_delivery(self, request: EventToWebhook) -> None:
        """Record that the event was not delivered in time (`failed`)."""
        raise NotImplementedError(NOT_IMPLEMENTED)
