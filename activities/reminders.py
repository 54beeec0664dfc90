"""The activity that sends a reminder's SMS (S15, S16).

The directory is read again at send time (S9: withdrawn consent or a removed number stops the SMS).
The workflow history only ever holds roles and masked numbers: the number itself is looked up here.
"""

from __future__ import annotations

import structlog
from temporalio import activity

from adapters.directory import Directory
from adapters.sms import PermanentSmsError, SmsGateway, SmsMessage
from contracts.activities import ReminderSends, SendReminder, SendResult
from domain.phone import mask_mobile
from domain.recipients import reminder_recipients
from domain.sms_text import reminder_text
from domain.status import Outcome, Reason, RecipientRole

log = structlog.get_logger(__name__)


class ReminderActivities(ReminderSends):
    """The SMS send, bound to the directory and the SMS gateway it uses (tests swap the services)."""

    def __init__(self, directory: Directory, sms: SmsGateway, sender: str) -> None:
        self._directory = directory
        self._sms = sms
        self._sender = sender

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
        return SendResult(outcome=Outcome.SENT, to=masked, delivery_pending=receipt.delivery_pending)
