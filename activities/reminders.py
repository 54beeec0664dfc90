"""The activities that send a reminder's SMS (S9, S15, S16).

The directory is read again at send time (S9: withdrawn consent or a removed number stops the SMS).
The workflow history only ever holds roles and masked numbers: the number itself is looked up here.
"""

from __future__ import annotations

import structlog
from temporalio import activity
from temporalio.exceptions import ApplicationError

from activities.send_moment import read_send_moment
from adapters.directory import Directory
from adapters.sms import PermanentSmsError, SmsGateway, SmsMessage
from contracts.activities import (
    SMS_UNAVAILABLE,
    PlannedSkip,
    RecipientResult,
    ReminderSendout,
    ReminderSends,
    SendReminder,
    SendReminders,
    SendResult,
    VisitRef,
)
from contracts.events import EventPublisher, NoEvents
from contracts.workflow_ids import sms_key
from domain.directory import Patient, Reception
from domain.phone import mask_mobile
from domain.recipients import Recipient, reminder_recipients
from domain.sms_text import reminder_text
from domain.status import Outcome, Reason, RecipientRole

log = structlog.get_logger(__name__)


class ReminderActivities(ReminderSends):
    """The SMS sends, bound to the directory and the SMS gateway they use (tests swap the services)."""

    def __init__(
        self, directory: Directory, sms: SmsGateway, sender: str, events: EventPublisher | None = None
    ) -> None:
        self._directory = directory
        self._sms = sms
        self._sender = sender
        self._events = events or NoEvents()

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
        return self._send(request.key, recipient, patient, reception, visit)

    @activity.defn
    def send_reminders(self, request: SendReminders) -> ReminderSendout:
        """Decide who gets the reminder now and send each SMS under its own key (S1–S5, S7, S9–S11,
        S13–S16). A send the provider could not take does not stop the others; then the whole is
        raised as `SMS_UNAVAILABLE` with the sendout as its details, and a retry sends again (the
        SMS that went out are duplicates of their keys)."""
        moment = read_send_moment(self._directory, request.visit)
        if moment.blocker is not None or moment.reception is None:
            return ReminderSendout(blocker=moment.blocker or Reason.UNKNOWN_CLINIC)
        results: list[RecipientResult] = []
        unavailable: Exception | None = None
        for recipient in moment.decision.recipients:
            key = sms_key(request.workflow_id, request.version, recipient.role)
            try:
                result = self._send(key, recipient, moment.patient, moment.reception, request.visit)
            except Exception as err:  # retried as a whole, once the others are sent
                unavailable = err
                masked = mask_mobile(recipient.mobile)
                result = SendResult(outcome=Outcome.FAILED, to=masked, reason=Reason.PROVIDER_UNAVAILABLE)
            results.append(RecipientResult(role=recipient.role, **dict(result)))
        skipped = [PlannedSkip(role=s.role, reason=s.reason) for s in moment.decision.skipped]
        sendout = ReminderSendout(skipped=skipped, results=results)
        if unavailable is not None:
            raise ApplicationError("SMS provider unavailable", sendout, type=SMS_UNAVAILABLE) from unavailable
        return sendout

    def _send(
        self, key: str, recipient: Recipient, patient: Patient, reception: Reception, visit: VisitRef
    ) -> SendResult:
        """One SMS to `recipient` through the gateway, idempotent per key; a refused number is a
        result, any other error is raised (retried)."""
        child = patient.given_name if recipient.role is not RecipientRole.PATIENT else None
        text = reminder_text(reception.sms_name, visit.start, child_given_name=child)
        masked = mask_mobile(recipient.mobile)
        message = SmsMessage(key=key, to=recipient.mobile, text=text, sender=self._sender)
        try:
            receipt = self._sms.send(message)
        except PermanentSmsError as err:
            log.warning("sms_refused", key=key, reason=err.reason)
            reason = Reason.INVALID_NUMBER if err.reason == "invalid_number" else Reason.PROVIDER_REFUSED
            return SendResult(outcome=Outcome.FAILED, to=masked, reason=reason)
        log.info(
            "sms_sent",
            key=key,
            clinic_id=visit.clinic_id,
            provider_id=receipt.provider_id,
            duplicate=receipt.duplicate,
        )
        return SendResult(outcome=Outcome.SENT, to=masked, delivery_pending=receipt.delivery_pending)
