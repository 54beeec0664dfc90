"""Activities of the care invitation: send one message by the channel the patient uses (V3, V5, V6).

Whether the patient uses 1177 is read from the directory when each message is sent (V5): the 1177
inbox for those who do, a letter by post (PDF in the letters folder) for those who do not.
Each message is idempotent per (request, message kind). Each message's outcome, and each state the
workflow reports (`tell_invitation_state`), is told to the clinic's webhooks as an event
(`contracts.events`, docs/webhooks.md); an event not handed on fails the activity, whose retry sends
nothing twice (the inbox and the letters are idempotent per key) and repeats the event's id.
"""

from __future__ import annotations

import structlog
from temporalio import activity

from adapters.directory import Directory
from adapters.inbox import Inbox, InboxMessage, PermanentInboxError
from adapters.letters import Letter, LetterService
from contracts.activities import (
    InvitationMessageRequest,
    InvitationSendResult,
    InvitationSends,
    InvitationStateChange,
)
from contracts.events import EventPublisher, NoEvents, invitation_message_event, invitation_state_event
from domain.invitation_schedule import message_kind, state_after
from domain.invitation_text import inbox_message, letter_message
from domain.status import MessageChannel, Outcome, Reason
from domain.timing import local_date

log = structlog.get_logger(__name__)


class InvitationActivities(InvitationSends):
    """Activities bound to the directory, the 1177 inbox, the letter service and the event publisher."""

    def __init__(
        self, directory: Directory, inbox: Inbox, letters: LetterService, events: EventPublisher | None = None
    ) -> None:
        self._directory = directory
        self._inbox = inbox
        self._letters = letters
        self._events = events or NoEvents()

    @activity.defn
    def send_invitation_message(self, request: InvitationMessageRequest) -> InvitationSendResult:
        """Send the invitation or a reminder to the 1177 inbox, or as a letter (V5), and tell it."""
        result = self._send(request)
        event = invitation_message_event(
            request.key,
            result.kind,
            result.channel,
            result.outcome,
            state_after(request.step),
            request.at,
            clinic_id=request.request.clinic_id,
            reason=result.reason,
        )
        self._events.publish([event] if event else [])
        return result

    @activity.defn
    def tell_invitation_state(self, change: InvitationStateChange) -> None:
        """Publish the event of a state the request reached (booked, contacted, cancelled, follow-up)."""
        event = invitation_state_event(
            change.workflow_id, change.state, change.at, clinic_id=change.clinic_id
        )
        self._events.publish([event] if event else [])

    def _send(self, request: InvitationMessageRequest) -> InvitationSendResult:
        invitation = request.request
        kind = message_kind(request.step)
        clinic = self._directory.clinic(invitation.clinic_id)
        reception = clinic.reception(invitation.reception_id) if clinic else None
        patient = self._directory.patient(invitation.patient_id)
        if clinic is None or reception is None:
            return InvitationSendResult(
                kind=kind, channel=MessageChannel.LETTER, outcome=Outcome.FAILED, reason=Reason.UNKNOWN_CLINIC
            )
        if patient is None:
            return InvitationSendResult(
                kind=kind,
                channel=MessageChannel.LETTER,
                outcome=Outcome.FAILED,
                reason=Reason.UNKNOWN_PATIENT,
            )
        if patient.uses_1177:
            message = inbox_message(request.step, invitation, clinic, reception)
            try:
                self._inbox.deliver(
                    InboxMessage(
                        key=request.key,
                        patient_id=patient.patient_id,
                        subject=message.subject,
                        body=message.body,
                    )
                )
            except PermanentInboxError as err:  # not reachable in 1177 after all: a letter instead
                log.warning("inbox_refused", key=request.key, reason=err.reason)
            else:
                log.info("inbox_message_sent", key=request.key, clinic_id=invitation.clinic_id)
                return InvitationSendResult(
                    kind=kind, channel=MessageChannel.INBOX_1177, outcome=Outcome.SENT
                )
        if patient.postal_address is None:
            return InvitationSendResult(
                kind=kind,
                channel=MessageChannel.LETTER,
                outcome=Outcome.FAILED,
                reason=Reason.NO_POSTAL_ADDRESS,
            )
        name = f"{patient.given_name} {patient.family_name}"
        message = letter_message(request.step, invitation, clinic, reception, name)
        self._letters.send(
            Letter(
                key=request.key,
                recipient_name=name,
                address=patient.postal_address,
                sender_name=f"{clinic.name}, {reception.sms_name}",
                sender_phone=clinic.phone,
                subject=message.subject,
                body=message.body,
                date=local_date(request.at),
            )
        )
        log.info("letter_created", key=request.key, clinic_id=invitation.clinic_id)
        return InvitationSendResult(kind=kind, channel=MessageChannel.LETTER, outcome=Outcome.SENT)
