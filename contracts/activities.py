"""The activities' contract: their inputs, outputs and signatures, which workflows call by these
typed references and `activities/` implements with the real services.

Each signature is an `activity.defn` whose body only says it is an interface: the worker registers
the implementations (same names), never these.
"""

from __future__ import annotations

from datetime import datetime

from pydantic import Field
from temporalio import activity

from domain.directory import Clinic
from domain.invitation import CareInvitation
from domain.invitation_schedule import Step
from domain.status import BookingView, MessageChannel, MessageKind, Outcome, Reason, RecipientRole
from domain.types import ContractModel

NOT_IMPLEMENTED = "an activity interface: the worker registers the implementation in activities/"


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


class InvitationMessageRequest(ContractModel):
    key: str  # idempotency key: one per (request, message kind)
    step: Step
    request: CareInvitation
    at: datetime  # workflow time of the decision (the letter's date)


class InvitationSendResult(ContractModel):
    kind: MessageKind
    channel: MessageChannel
    outcome: Outcome
    reason: Reason | None = None


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


class ReminderSends:
    """The SMS of a reminder (S15, S16)."""

    @activity.defn
    def send_reminder_sms(self, request: SendReminder) -> SendResult:
        """Send one reminder, idempotent per key; a refused number is recorded, not retried."""
        raise NotImplementedError(NOT_IMPLEMENTED)


class InvitationSends:
    """The messages of a care invitation (V3, V5, V6)."""

    @activity.defn
    def send_invitation_message(self, request: InvitationMessageRequest) -> InvitationSendResult:
        """Send the invitation or a reminder to the 1177 inbox, or as a letter (V5)."""
        raise NotImplementedError(NOT_IMPLEMENTED)
