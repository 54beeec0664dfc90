"""Activities of the care invitation: send one message by the channel the patient uses (V3, V5, V6).

The patient and the clinic's routing plan (`domain.invitation_routing`) are read from the directory
when each message is sent (V5): without a plan the 1177 inbox for those who use it, a letter by post
(PDF in the letters folder) for those who do not; with one, its first channel that reaches the
patient, and on each later call (the message unread) the next. Each message is idempotent per
(request, message kind, step of the plan). Each message's outcome, and each state the
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
from adapters.mailbox import DigitalMailbox, MailboxMessage, PermanentMailboxError
from adapters.sms import PermanentSmsError, SmsGateway, SmsMessage
from contracts.activities import (
    InvitationMessageRequest,
    InvitationSendResult,
    InvitationSends,
    InvitationStateChange,
    MessageRead,
    MessageReadQuery,
)
from contracts.events import EventPublisher, NoEvents, invitation_message_event, invitation_state_event
from domain.directory import Clinic, Patient, Reception
from domain.invitation_routing import (
    V5_PLAN,
    Reach,
    RouteChannel,
    RoutingPlan,
    asks_register,
    choose,
    wait_after,
)
from domain.invitation_schedule import message_kind, state_after
from domain.invitation_text import inbox_message, letter_message, mailbox_message
from domain.recipients import has_consent, is_minor
from domain.sms_text import notice_text
from domain.status import MessageChannel, Outcome, Reason
from domain.timing import local_date

log = structlog.get_logger(__name__)


class InvitationActivities(InvitationSends):
    """Activities bound to the directory, the channels (1177 inbox, letters, digital mailbox, SMS for
    the notice) and the event publisher."""

    def __init__(
        self,
        directory: Directory,
        inbox: Inbox,
        letters: LetterService,
        events: EventPublisher | None = None,
        *,
        mailbox: DigitalMailbox,
        sms: SmsGateway,
        sms_sender: str,
    ) -> None:
        self._directory = directory
        self._inbox = inbox
        self._letters = letters
        self._events = events or NoEvents()
        self._mailbox = mailbox
        self._sms = sms
        self._sender = sms_sender

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

    @activity.defn
    def invitation_message_read(self, query: MessageReadQuery) -> MessageRead:
        """When the patient opened the 1177 message of `query.key` (None: not yet); an inbox that
        cannot tell raises (retried)."""
        return MessageRead(read_at=self._inbox.read_at(query.key))

    def _send(self, request: InvitationMessageRequest) -> InvitationSendResult:
        """The message by the first step of the clinic's routing plan from `request.position` that can
        reach the patient (V5 without a plan); a channel that refuses it for good passes it on."""
        invitation = request.request
        kind = message_kind(request.step, changed=request.changed)
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
        plan = clinic.routing or V5_PLAN
        reach = self._reach(request, plan, clinic, reception, patient)
        start = request.position
        while (choice := choose(plan, start, reach)).position is not None:
            position = choice.position
            channel = plan.steps[position].channel
            if self._deliver(channel, request, clinic, reception, patient):
                reads = reach.inbox_message or channel is RouteChannel.INBOX_1177
                return InvitationSendResult(
                    kind=kind,
                    channel=channel.message_channel,
                    outcome=Outcome.SENT,
                    position=position,
                    wait=wait_after(plan, position, reads),
                )
            start = position + 1  # refused for good: the next step stands in for it
        return InvitationSendResult(
            kind=kind,
            channel=plan.steps[-1].channel.message_channel,
            outcome=Outcome.FAILED if request.position == 0 else Outcome.SKIPPED,
            reason=choice.reason,
        )

    def _reach(
        self,
        request: InvitationMessageRequest,
        plan: RoutingPlan,
        clinic: Clinic,
        reception: Reception,
        patient: Patient,
    ) -> Reach:
        """What can reach the patient now; the FaR register is asked only when a mailbox step may be used."""
        reach = Reach(
            uses_1177=patient.uses_1177,
            minor=is_minor(patient, reception, request.at),
            protected_identity=patient.protected_identity,
            sms_allowed=patient.mobile is not None and has_consent(patient, clinic.clinic_id, request.at),
            has_address=patient.postal_address is not None,
            inbox_message=request.position > 0,  # a walk goes on only while its 1177 message is unread
        )
        if asks_register(plan, request.position, reach):
            reach = reach.model_copy(update={"has_mailbox": self._mailbox.has_mailbox(patient.patient_id)})
        return reach

    def _deliver(
        self,
        channel: RouteChannel,
        request: InvitationMessageRequest,
        clinic: Clinic,
        reception: Reception,
        patient: Patient,
    ) -> bool:
        """Send by `channel`, idempotent per key; False when the channel refused it for good (a
        transient failure raises: the activity is retried)."""
        invitation, key, changed = request.request, request.key, request.changed
        name = f"{patient.given_name} {patient.family_name}"
        try:
            if channel is RouteChannel.INBOX_1177:
                text = inbox_message(request.step, invitation, clinic, reception, changed=changed)
                self._inbox.deliver(
                    InboxMessage(key=key, patient_id=patient.patient_id, subject=text.subject, body=text.body)
                )
            elif channel is RouteChannel.SMS_NOTICE:
                assert patient.mobile is not None  # `Reach.sms_allowed`
                self._sms.send(
                    SmsMessage(
                        key=key, to=patient.mobile, text=notice_text(reception.sms_name), sender=self._sender
                    )
                )
            elif channel is RouteChannel.DIGITAL_MAILBOX:
                text = mailbox_message(request.step, invitation, clinic, reception, name, changed=changed)
                self._mailbox.deliver(
                    MailboxMessage(
                        key=key,
                        patient_id=patient.patient_id,
                        sender_name=f"{clinic.name}, {reception.sms_name}",
                        subject=text.subject,
                        body=text.body,
                    )
                )
            else:
                assert patient.postal_address is not None  # `Reach.has_address`
                text = letter_message(request.step, invitation, clinic, reception, name, changed=changed)
                self._letters.send(
                    Letter(
                        key=key,
                        recipient_name=name,
                        address=patient.postal_address,
                        sender_name=f"{clinic.name}, {reception.sms_name}",
                        sender_phone=clinic.phone,
                        subject=text.subject,
                        body=text.body,
                        date=local_date(request.at),
                    )
                )
        except (PermanentInboxError, PermanentSmsError, PermanentMailboxError) as err:
            log.warning("invitation_channel_refused", key=key, channel=channel.value, reason=err.reason)
            return False
        log.info("invitation_message_sent", key=key, channel=channel.value, clinic_id=invitation.clinic_id)
        return True
