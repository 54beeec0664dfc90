"""Activities of the SMS reminder: read the directory when the SMS is due and send it (S1–S16).

The directory is read at send time, not only at booking (S9: withdrawn consent or a removed number
stops the SMS). The workflow history only ever holds roles and masked numbers: the number itself is
looked up again inside the sending activity.
"""

from __future__ import annotations

from datetime import datetime

import structlog
from pydantic import Field
from temporalio import activity

from domain.directory import Clinic
from domain.phone import mask_mobile
from domain.recipients import booking_blocker, reminder_recipients
from domain.sms_text import reminder_text
from domain.status import BookingView, Outcome, Reason, RecipientRole
from domain.types import ContractModel
from services.directory import Directory
from services.sms import PermanentSmsError, SmsGateway, SmsMessage

log = structlog.get_logger(__name__)


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


class ReminderActivities:
    """Activities bound to the directory and the SMS gateway they use (tests swap the services)."""

    def __init__(self, directory: Directory, sms: SmsGateway, sender: str) -> None:
        self._directory = directory
        self._sms = sms
        self._sender = sender

    @activity.defn
    def load_clinic(self, clinic_id: str) -> Clinic | None:
        """Clinic settings for the send moment (S6); None for an unknown clinic."""
        return self._directory.clinic(clinic_id)

    @activity.defn
    def plan_recipients(self, visit: VisitRef) -> RecipientPlan:
        """Decide at send time who gets the reminder (S1–S5, S7, S9–S11, S13, S14)."""
        clinic = self._directory.clinic(visit.clinic_id)
        blocker = booking_blocker(clinic, visit.reception_id, visit.bookings)
        if blocker is not None or clinic is None:
            return RecipientPlan(blocker=blocker or Reason.UNKNOWN_CLINIC)
        reception = clinic.reception(visit.reception_id)
        assert reception is not None  # booking_blocker refused unknown receptions
        patient = self._directory.patient(visit.patient_id)
        decision = reminder_recipients(patient, visit.clinic_id, reception, visit.start, visit.at)
        return RecipientPlan(
            recipients=[PlannedRecipient(role=r.role, to=mask_mobile(r.mobile)) for r in decision.recipients],
            skipped=[PlannedSkip(role=s.role, reason=s.reason) for s in decision.skipped],
        )

    @activity.defn
    def send_reminder_sms(self, request: SendReminder) -> SendResult:
        """Send one reminder, idempotent per key; a refused number is recorded, not retried (S15, S16)."""
        visit = request.visit
        clinic = self._directory.clinic(visit.clinic_id)
        reception = clinic.reception(visit.reception_id) if clinic else None
        patient = self._directory.patient(visit.patient_id)
        if clinic is None or reception is None or patient is None:
            return SendResult(outcome=Outcome.SKIPPED, reason=Reason.UNKNOWN_PATIENT)
        decision = reminder_recipients(patient, visit.clinic_id, reception, visit.start, visit.at)
        recipient = next((r for r in decision.recipients if r.role == request.role), None)
        if recipient is None:  # number removed or consent withdrawn since the plan
            skip = next((s.reason for s in decision.skipped if s.role == request.role), Reason.NO_MOBILE)
            return SendResult(outcome=Outcome.SKIPPED, reason=skip)
        child = patient.given_name if request.role is not RecipientRole.PATIENT else None
        text = reminder_text(reception.sms_name, visit.start, child_given_name=child)
        masked = mask_mobile(recipient.mobile)
        message = SmsMessage(key=request.key, to=recipient.mobile, text=text, sender=self._sender)
        try:
            receipt = self._sms.send(message)
        except PermanentSmsError as err:
            log.warning("sms_refused", key=request.key, reason=err.reason)
            reason = Reason.INVALID_NUMBER if err.reason == "invalid_number" else Reason.PROVIDER_REFUSED
            return SendResult(outcome=Outcome.FAILED, to=masked, reason=reason)
        log.info("sms_sent", key=request.key, clinic_id=visit.clinic_id, duplicate=receipt.duplicate)
        return SendResult(outcome=Outcome.SENT, to=masked)
