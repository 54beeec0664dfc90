"""The activities that send a reminder's SMS (S9, S15, S16).

The directory is read again at send time (S9: withdrawn consent or a removed number stops the SMS).
The workflow history only ever holds roles and masked numbers: the number itself is looked up here.
Each final outcome (sent, failed for good, skipped with its reason) is told to the clinic's webhooks
as an event (`contracts.events`, docs/webhooks.md) through the publisher the worker gives.
"""

from __future__ import annotations

from datetime import UTC, datetime

import structlog
from temporalio import activity
from temporalio.exceptions import ApplicationError

from activities.send_moment import read_send_moment
from adapters.directory import Directory
from adapters.replies import Replies
from adapters.sms import PermanentSmsError, SmsGateway, SmsMessage
from contracts.activities import (
    SMS_UNAVAILABLE,
    PlannedSkip,
    RecipientResult,
    ReminderDecision,
    ReminderSendout,
    ReminderSends,
    SendReminder,
    SendReminders,
    SendResult,
    VisitRef,
)
from contracts.events import (
    Event,
    EventPublisher,
    EventsNotPublished,
    EventType,
    NoEvents,
    message_event,
    reminder_skipped,
)
from contracts.workflow_ids import parse_sms_key, sms_key
from domain.directory import Patient, Reception
from domain.phone import mask_mobile
from domain.recipients import Recipient, reminder_recipients
from domain.replies import SentReminderSms
from domain.sms_text import reminder_text
from domain.status import Outcome, Reason, RecipientRole

log = structlog.get_logger(__name__)


class ReminderActivities(ReminderSends):
    """The SMS sends, bound to the directory and the SMS gateway they use (tests swap the services);
    `replies` remembers the SMS sent from a clinic's virtual number (issue 28: a reply finds them)."""

    def __init__(
        self,
        directory: Directory,
        sms: SmsGateway,
        sender: str,
        events: EventPublisher | None = None,
        replies: Replies | None = None,
    ) -> None:
        self._directory = directory
        self._sms = sms
        self._sender = sender
        self._events = events or NoEvents()
        self._replies = replies

    @activity.defn
    def send_reminder_sms(self, request: SendReminder) -> SendResult:
        """Send one reminder, idempotent per key; a refused number is recorded, not retried (S15, S16)."""
        visit = request.visit
        clinic = self._directory.clinic(visit.clinic_id)
        reception = clinic.reception(visit.reception_id) if clinic else None
        patient = self._directory.patient(visit.patient_id)
        if clinic is None or reception is None or patient is None:
            return self._told(
                request.key, visit, SendResult(outcome=Outcome.SKIPPED, reason=Reason.UNKNOWN_PATIENT)
            )
        decision = reminder_recipients(patient, visit.clinic_id, reception, visit.start, visit.at)
        recipient = next((r for r in decision.recipients if r.role == request.role), None)
        if recipient is None:  # number removed or consent withdrawn since the plan
            skip = next((s.reason for s in decision.skipped if s.role == request.role), Reason.NO_MOBILE)
            return self._told(request.key, visit, SendResult(outcome=Outcome.SKIPPED, reason=skip))
        sent = self._send(request.key, recipient, patient, reception, visit, clinic.reply_number)
        return self._told(request.key, visit, sent)

    @activity.defn
    def send_reminders(self, request: SendReminders) -> ReminderSendout:
        """Decide who gets the reminder now and send each SMS under its own key (S1–S5, S7, S9–S11,
        S13–S16). A send the provider could not take does not stop the others; then the whole is
        raised as `SMS_UNAVAILABLE` with the sendout as its details, and a retry sends again (the
        SMS that went out are duplicates of their keys)."""
        moment = read_send_moment(self._directory, request.visit)
        if moment.blocker is not None or moment.reception is None:
            blocker = moment.blocker or Reason.UNKNOWN_CLINIC
            skipped = reminder_skipped(
                request.workflow_id, request.version, blocker, _now(), clinic_id=request.visit.clinic_id
            )
            sendout = ReminderSendout(blocker=blocker)
            self._publish_or_retry([skipped] if skipped else [], sendout)
            return sendout
        results: list[RecipientResult] = []
        unavailable: Exception | None = None
        for recipient in moment.decision.recipients:
            key = sms_key(request.workflow_id, request.version, recipient.role)
            try:
                result = self._send(
                    key, recipient, moment.patient, moment.reception, request.visit, moment.reply_number
                )
            except Exception as err:  # retried as a whole, once the others are sent
                unavailable = err
                masked = mask_mobile(recipient.mobile)
                result = SendResult(outcome=Outcome.FAILED, to=masked, reason=Reason.PROVIDER_UNAVAILABLE)
            results.append(RecipientResult(role=recipient.role, **dict(result)))
        skipped = [PlannedSkip(role=s.role, reason=s.reason) for s in moment.decision.skipped]
        sendout = ReminderSendout(skipped=skipped, results=results)
        self._publish_or_retry(self._sendout_events(request, sendout), sendout)
        if unavailable is not None:
            raise ApplicationError("SMS provider unavailable", sendout, type=SMS_UNAVAILABLE) from unavailable
        return sendout

    @activity.defn
    def tell_reminder_decision(self, decision: ReminderDecision) -> None:
        """Publish what the reminder decided itself: a version skipped as a whole (`message.skipped`
        without recipient), or SMS given up at the visit (`message.failed` per role)."""
        workflow_id, version, at = decision.workflow_id, decision.version, decision.at
        if not decision.roles:
            skipped = reminder_skipped(
                workflow_id, version, decision.reason, at, clinic_id=decision.clinic_id
            )
            events = [skipped]
        else:
            keys = [sms_key(workflow_id, version, role) for role in decision.roles]
            failed = EventType.MESSAGE_FAILED
            events = [
                message_event(failed, key, at, reason=decision.reason, clinic_id=decision.clinic_id)
                for key in keys
            ]
        self._events.publish([e for e in events if e is not None])

    def _send(
        self,
        key: str,
        recipient: Recipient,
        patient: Patient,
        reception: Reception,
        visit: VisitRef,
        reply_number: str | None = None,
    ) -> SendResult:
        """One SMS to `recipient` through the gateway, idempotent per key; a refused number is a
        result, any other error is raised (retried). A clinic with a `reply_number` (issue 28) sends
        from it, invites the reply words, and the SMS is remembered for the reply that answers it."""
        child = patient.given_name if recipient.role is not RecipientRole.PATIENT else None
        replies = reply_number is not None and self._replies is not None
        text = reminder_text(reception.sms_name, visit.start, child_given_name=child, replies=replies)
        masked = mask_mobile(recipient.mobile)
        sender = reply_number if replies and reply_number else self._sender
        message = SmsMessage(key=key, to=recipient.mobile, text=text, sender=sender)
        try:
            receipt = self._sms.send(message)
        except PermanentSmsError as err:
            log.warning("sms_refused", key=key, reason=err.reason)
            reason = Reason.INVALID_NUMBER if err.reason == "invalid_number" else Reason.PROVIDER_REFUSED
            return SendResult(outcome=Outcome.FAILED, to=masked, reason=reason)
        if replies and self._replies is not None and reply_number:
            self._remember(key, reply_number, recipient.mobile, visit, receipt.sent_at)
        log.info(
            "sms_sent",
            key=key,
            clinic_id=visit.clinic_id,
            provider_id=receipt.provider_id,
            duplicate=receipt.duplicate,
        )
        return SendResult(outcome=Outcome.SENT, to=masked, delivery_pending=receipt.delivery_pending)

    def _remember(self, key: str, reply_number: str, to: str, visit: VisitRef, sent_at: datetime) -> None:
        """Issue 28: remember an SMS sent from the clinic's virtual number, for the reply to find."""
        parts = parse_sms_key(key)
        if self._replies is None or parts is None:
            return
        sms = SentReminderSms(
            workflow_id=parts.workflow_id,
            version=parts.version,
            role=parts.role,
            clinic_id=visit.clinic_id,
            sent_at=sent_at,
            visit_start=visit.start,
        )
        self._replies.record_sent(key, reply_number, to, sms)

    def _told(self, key: str, visit: VisitRef, result: SendResult) -> SendResult:
        """`result`, its event published first (`send_reminder_sms`)."""
        event = outcome_event(key, result, visit.clinic_id)
        self._events.publish([event] if event else [])
        return result

    def _publish_or_retry(self, events: list[Event], sendout: ReminderSendout) -> None:
        """Publish a sendout's events; one not handed on fails the attempt as `SMS_UNAVAILABLE` with the
        sendout as details, so the retry publishes again (its SMS duplicates of their keys), and a
        reminder whose retries run out still records what was sent (`last_sendout`)."""
        try:
            self._events.publish(events)
        except EventsNotPublished as err:
            raise ApplicationError(str(err), sendout, type=SMS_UNAVAILABLE) from None

    def _sendout_events(self, request: SendReminders, sendout: ReminderSendout) -> list[Event]:
        """The events of a sendout: each skipped role and each final result (a send the provider could
        not take is retried, and its outcome told then)."""
        clinic_id, events = request.visit.clinic_id, []
        for skip in sendout.skipped:
            key = sms_key(request.workflow_id, request.version, skip.role)
            events.append(
                outcome_event(key, SendResult(outcome=Outcome.SKIPPED, reason=skip.reason), clinic_id)
            )
        for result in sendout.results:
            events.append(
                outcome_event(sms_key(request.workflow_id, request.version, result.role), result, clinic_id)
            )
        return [e for e in events if e is not None]


OUTCOME_EVENTS = {
    Outcome.SENT: EventType.MESSAGE_SENT,
    Outcome.FAILED: EventType.MESSAGE_FAILED,
    Outcome.SKIPPED: EventType.MESSAGE_SKIPPED,
}


def outcome_event(key: str, result: SendResult, clinic_id: str) -> Event | None:
    """The event of one SMS's outcome (`message.sent`, `.failed` with its reason, `.skipped` with its
    reason); None for a send the provider could not take yet (`provider_unavailable`: retried)."""
    if result.reason is Reason.PROVIDER_UNAVAILABLE:
        return None
    return message_event(
        OUTCOME_EVENTS[result.outcome], key, _now(), reason=result.reason, clinic_id=clinic_id
    )


def _now() -> datetime:
    return datetime.now(UTC)
