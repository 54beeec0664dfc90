"""The activities of a patient's reply to a reminder (issue 28): the one SMS that answers it, the SMS
consent withdrawn by "STOPP" (S9, source `sms`), and `reminder.cancel_requested` for "AVBOKA".

The answer goes to the number of the role that replied as the directory has it now (a guardian's
reply is answered on the guardian's number); the history holds roles and masked numbers only.
"""

from __future__ import annotations

import structlog
from temporalio import activity
from temporalio.exceptions import ApplicationError

from adapters.directory import ConsentRecords, Directory, UnknownPatientError
from adapters.sms import PermanentSmsError, SmsGateway, SmsMessage
from contracts.activities import SendResult
from contracts.events import EventPublisher, NoEvents, cancel_requested
from contracts.reply_activities import CancelRequest, ConsentStop, ReplyActions, ReplyAnswer
from domain.directory import Patient, SmsConsent
from domain.phone import mask_mobile
from domain.reply_texts import reply_text
from domain.status import Outcome, Reason, RecipientRole

log = structlog.get_logger(__name__)


def mobile_of(patient: Patient, role: RecipientRole) -> str | None:
    """The number of `role`: the patient's own, or guardian 1's or 2's (S3, S4)."""
    if role is RecipientRole.PATIENT:
        return patient.mobile
    guardian = patient.guardian(1 if role is RecipientRole.GUARDIAN_1 else 2)
    return guardian.mobile if guardian else None


class ReplyActivities(ReplyActions):
    """The reply's activities, bound to the directory, the consent store, the SMS gateway and its
    sender, and the event publisher they use (tests swap the services)."""

    def __init__(
        self,
        directory: Directory,
        consents: ConsentRecords,
        sms: SmsGateway,
        sender: str,
        events: EventPublisher | None = None,
    ) -> None:
        self._directory = directory
        self._consents = consents
        self._sms = sms
        self._sender = sender
        self._events = events or NoEvents()

    @activity.defn
    def answer_reply(self, answer: ReplyAnswer) -> SendResult:
        """Send the answer to the reply under its key; a refused number is a result, not retried."""
        clinic = self._directory.clinic(answer.clinic_id)
        reception = clinic.reception(answer.reception_id) if clinic else None
        patient = self._directory.patient(answer.patient_id)
        if clinic is None or reception is None or patient is None:
            return SendResult(outcome=Outcome.SKIPPED, reason=Reason.UNKNOWN_PATIENT)
        mobile = mobile_of(patient, answer.role)
        if mobile is None:  # the number was removed since the reply
            return SendResult(outcome=Outcome.SKIPPED, reason=Reason.NO_MOBILE)
        text = reply_text(answer.word, reception.sms_name, answer.start)
        sender = clinic.reply_number or self._sender  # from the number the patient answered (issue 28)
        message = SmsMessage(key=answer.key, to=mobile, text=text, sender=sender)
        try:
            receipt = self._sms.send(message)
        except PermanentSmsError as err:
            log.warning("reply_answer_refused", key=answer.key, reason=err.reason)
            reason = Reason.INVALID_NUMBER if err.reason == "invalid_number" else Reason.PROVIDER_REFUSED
            return SendResult(outcome=Outcome.FAILED, to=mask_mobile(mobile), reason=reason)
        log.info("reply_answered", key=answer.key, word=answer.word.value, duplicate=receipt.duplicate)
        return SendResult(outcome=Outcome.SENT, to=mask_mobile(mobile))

    @activity.defn
    def stop_sms_consent(self, stop: ConsentStop) -> bool:
        """Record the withdrawal by SMS (given and withdrawn at the reply: `has_consent` stops every
        earlier consent for the clinic with it); a patient no longer in the directory records nothing."""
        consent = SmsConsent(source="sms", clinic_id=stop.clinic_id, given_at=stop.at, withdrawn_at=stop.at)
        try:
            added = self._consents.record_consent(stop.patient_id, consent)
        except UnknownPatientError:
            log.warning("reply_stop_for_unknown_patient", clinic_id=stop.clinic_id)
            return False
        log.info("sms_consent_stopped_by_reply", clinic_id=stop.clinic_id, new=added)
        return added

    @activity.defn
    def tell_cancel_request(self, request: CancelRequest) -> None:
        """Publish `reminder.cancel_requested`; an event not handed on fails the attempt (retried)."""
        event = cancel_requested(
            request.workflow_id,
            request.inbound_id,
            request.version,
            request.role,
            request.at,
            clinic_id=request.clinic_id,
        )
        if event is None:
            raise ApplicationError("not a reminder's workflow id", non_retryable=True)
        self._events.publish([event])
