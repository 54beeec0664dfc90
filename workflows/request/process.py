"""One booking request or care invitation (vårdinbjudan), V1–V14, as one process.

A plain booking request waits, sending nothing, until it is converted, booked or cancelled (V11,
V12). An invitation sleeps until six weeks before the window at the clinic's send time (V3, or at
once, V4), sends the invitation and two reminders 14 days apart (V6) by the channel the patient
uses (V5), unless it is booked, the patient contacts the clinic (V7) or staff cancel it (V14).
Unanswered, or when the window has ended, it moves to the staff follow-up list (V13) and waits for
staff. A booking starts the visit's SMS reminder, which outlives the invitation (V9).

The types it runs as (`generations.py`) differ only in how they start and how they send a message;
each declares its two strategies (`mechanics.Start`, `sending.MessageSender`).
"""

from __future__ import annotations

from datetime import datetime, time, timedelta

from pydantic import ValidationError
from temporalio import workflow
from temporalio.common import WorkflowIDReusePolicy
from temporalio.exceptions import ActivityError, WorkflowAlreadyStartedError
from temporalio.workflow import ParentClosePolicy

with workflow.unsafe.imports_passed_through():
    from contracts import search_attributes as search
    from contracts.activities import (
        DirectoryReads,
        InvitationMessageRequest,
        InvitationSendResult,
        InvitationStateChange,
    )
    from domain.booking import Cancellation, Channel, VisitBooking, check_visit_start
    from domain.invitation import (
        BookedBy,
        BookedVisit,
        CareInvitation,
        Contact,
        Conversion,
        InvitationBooking,
        InvitationStart,
        InvitationState,
        InvitationStatus,
        RequestChange,
        apply_change,
        check_booking,
        check_new_window,
        initial_state,
        invitation_details,
        invitation_status,
        work_list,
    )
    from domain.invitation_schedule import MESSAGE_STEPS, Step, message_kind, next_step, state_after
    from domain.markdown import escape_markdown
    from domain.status import (
        MessageChannel,
        MessageRecord,
        NextAction,
        Outcome,
        Reason,
        RecipientRole,
        mark_read,
    )
    from domain.timing import local_date
    from domain.types import describe_validation_error
    from workflows.mechanics import (
        PUBLISH_DELAY,
        Start,
        publish,
        read_directory,
        record_message,
        sleep_unless,
        upsert,
    )

from workflows.reminder.children import child_reminder_id, child_reminder_type
from workflows.request.routing import REISSUE, ROUTING, Walk, read_at
from workflows.request.sending import EVENTS, TOLD, MessageSender, tell_state

DEFAULT_SEND_TIME = time(8, 0)
WAITING = (InvitationState.REQUEST, InvitationState.FOLLOW_UP)
SENDING = (
    InvitationState.SCHEDULED,
    InvitationState.INVITED,
    InvitationState.REMINDED_1,
    InvitationState.REMINDED_2,
)
INVITED = SENDING[1:]  # the invitation is out: a change of its limits sends it again (V10)


class Request:
    """The request's process and its contract (SPEC §5); `generations.py` registers it as types."""

    @workflow.init
    def __init__(self, request: InvitationStart) -> None:
        self._request = request
        self._state = initial_state(request)
        self._sent: dict[Step, datetime] = {}
        self._messages: list[MessageRecord] = []
        self._next: NextAction | None = None
        self._booked: BookedVisit | None = None
        self._revision = 0  # bumped by every change of the request (V10, V11)
        self._planned_revision = -1
        self._lean = False
        self._unpublished = False
        self._walk: Walk | None = None  # the last message's routing plan, while it may go on (issue 27)
        self._reissue = False  # the request's limits changed after the invitation went out (V10)

    async def _run(self, request: InvitationStart, start: Start, sender: MessageSender) -> InvitationStatus:
        self._lean = start.lean()
        self._sender = sender
        upsert(search.request_place(request.clinic_id, request.reception_id), only_changed=self._lean)
        if not (sender.planned_at_start and self._state in SENDING):
            self._publish()  # else the plan publishes it, with the first message the start carries
        booked = request.invitation_send_time if start.carries_clinic else None  # V3, read at creation
        if self._state not in SENDING:
            booked = None  # a plain request converted later (V11) reads the clinic then
        await workflow.wait_condition(lambda: self._state is not InvitationState.REQUEST)
        if self._state in SENDING:
            await self._invite(booked or await self._send_time())
        if self._state is InvitationState.FOLLOW_UP:
            self._publish()
            await self._tell_state()
            await workflow.wait_condition(lambda: self._state is not InvitationState.FOLLOW_UP)
        await workflow.wait_condition(workflow.all_handlers_finished)
        await self._tell_state()
        self._next = None
        self._publish()
        return self.status()

    async def _send_time(self) -> time:
        """V3: the clinic's invitation send time, read now."""
        clinic = await read_directory(DirectoryReads.load_clinic, self._request.clinic_id, local=self._lean)
        return clinic.invitation_send_time if clinic else DEFAULT_SEND_TIME

    async def _invite(self, send_time: time) -> None:
        """V3–V6, V13: each message at its moment unless the invitation is answered first."""
        woke = False  # sending at a moment it slept until, as a wave of invitations may
        while self._state in SENDING:
            revision = self._revision
            if self._reissue:
                self._reissue = False
                await self._send(self._last_sent(), changed=True)
                continue
            now = workflow.now()
            step = next_step(self._request.window, send_time, self._sent, now)
            if step.at > now:
                self._next = NextAction(kind=step.step.value, at=step.at)
                self._planned_revision = revision
                if await self._publish_after_the_wave(revision):
                    continue  # re-plan: the request changed, or it was answered
                self._publish()
                walk = self._walk if self._walk and self._walk.at < step.at else None
                woke = await self._wait_for_change(revision, until=walk.at if walk else step.at)
                if woke and walk is not None:
                    woke = False
                    await self._walk_on(walk)
                continue  # re-plan: the moment came, the request changed, or it was answered
            if step.step is Step.FOLLOW_UP:
                self._state = InvitationState.FOLLOW_UP
                break
            await self._send(step.step)
            self._unpublished = self._sender.publishes_later and woke
            woke = False
            self._planned_revision = revision
        self._next = None

    async def _publish_after_the_wave(self, revision: int) -> bool:
        """A sender that `publishes_later` upserts the state a message sent at the moment they slept until led
        to `PUBLISH_DELAY` after it, so that the server's time at the send moment, when many
        invitations wake together, goes to their messages (issue 13); one sent at once (V4) shows at
        once, and the details and the `status` query in every case. True if the request changed or
        was answered first (then that shows)."""
        if not self._unpublished:
            return False
        self._unpublished = False
        workflow.set_current_details(self._details())
        return not await self._wait_for_change(revision, until=workflow.now() + PUBLISH_DELAY)

    async def _wait_for_change(self, revision: int, until: datetime) -> bool:
        """Sleep until `until` unless the request changes or the invitation is answered; True if the
        moment came."""
        return not await sleep_unless(lambda: self._revision != revision or self._state not in SENDING, until)

    async def _walk_on(self, walk: Walk) -> None:
        """Issue 27: the routing plan's next step is due; unless the 1177 message was read, take it."""
        self._walk = None
        read = await read_at(walk.key)
        if read is not None:
            mark_read(self._messages, message_kind(walk.step, changed=walk.changed), read)
        else:
            await self._send(walk.step, walk=walk)

    async def _send(self, step: Step, *, changed: bool = False, walk: Walk | None = None) -> None:
        """The message of `step` (or, `changed`, the invitation again, V10) by the routing plan's first
        step that reaches the patient, or with `walk` by its next step (issue 27)."""
        workflow_id = workflow.info().workflow_id
        if walk is not None:
            key, position, changed = walk.next_key(), walk.position + 1, walk.changed
        else:
            key = f"{workflow_id}/changed.{self._revision}" if changed else f"{workflow_id}/{step.value}"
            position = 0
        message = InvitationMessageRequest(
            key=key, step=step, request=self._request, at=workflow.now(), position=position, changed=changed
        )
        try:
            result = await self._sender.send(message)
        except ActivityError:
            workflow.logger.warning("message channel unavailable", extra={"key": key})
            result = InvitationSendResult(
                kind=message_kind(step, changed=changed),
                channel=MessageChannel.INBOX_1177,
                outcome=Outcome.FAILED,
                reason=Reason.PROVIDER_UNAVAILABLE,
            )
        if walk is None and not changed:
            self._sent[step] = workflow.now()  # counts as done: the next reminder follows 14 days on (V6)
        if walk is None:
            self._walk = None  # a new message: the last one's plan ends
        if result.wait is not None and result.position is not None and workflow.patched(ROUTING):
            base = walk.key if walk else key
            self._walk = Walk(step, changed, base, result.position, workflow.now() + result.wait)
        record = MessageRecord(
            kind=result.kind,
            channel=result.channel,
            recipient=RecipientRole.PATIENT,
            at=workflow.now(),
            outcome=result.outcome,
            reason=result.reason,
        )
        record_message(self._messages, record)
        if walk is None and not changed and self._state in SENDING:  # a booking or contact during
            self._state = state_after(step)  # the send keeps its state (V7)

    def _last_sent(self) -> Step:
        return [s for s in MESSAGE_STEPS if s in self._sent][-1]

    async def _tell_state(self) -> None:
        """The state reached, told to the clinic's webhooks behind `EVENTS` (`sending.tell_state`)."""
        if self._state in TOLD and workflow.patched(EVENTS):
            await tell_state(
                InvitationStateChange(
                    workflow_id=workflow.info().workflow_id,
                    clinic_id=self._request.clinic_id,
                    state=self._state,
                    at=workflow.now(),
                )
            )

    # --- the contract: updates, signals, query (SPEC §5) ---

    @workflow.update
    async def book(self, booking: InvitationBooking) -> InvitationStatus:
        """V7: a booking ends the reminders at once; V9: the visit gets its SMS reminder."""
        self._state = InvitationState.BOOKED
        self._next = None
        reminder_id = child_reminder_id(self._request.clinic_id, booking.booking_id)
        visit = VisitBooking(
            booking_id=booking.booking_id,
            patient_id=self._request.patient_id,
            clinic_id=self._request.clinic_id,
            reception_id=self._request.reception_id,
            start=booking.start,
            channel=Channel.SELF_1177 if booking.by is BookedBy.PATIENT else Channel.VAS,
        )
        try:
            await workflow.start_child_workflow(
                child_reminder_type().run,
                visit,
                id=reminder_id,
                parent_close_policy=ParentClosePolicy.ABANDON,
                id_reuse_policy=WorkflowIDReusePolicy.REJECT_DUPLICATE,
                static_summary=(
                    f"SMS reminder {escape_markdown(reminder_id)} "
                    f"(booked from {escape_markdown(workflow.info().workflow_id)})"
                ),
            )
        except WorkflowAlreadyStartedError:
            workflow.logger.info("the booking system already started the reminder", extra={"id": reminder_id})
        self._booked = BookedVisit(
            booking_id=booking.booking_id,
            start=booking.start,
            by=booking.by,
            reminder_workflow_id=reminder_id,
        )
        return self.status()

    @book.validator
    def _validate_book(self, booking: InvitationBooking) -> None:
        self._require(InvitationState.REQUEST, *SENDING, InvitationState.FOLLOW_UP)
        check_visit_start(booking.start, workflow.now())
        check_booking(self._request, booking)

    @workflow.signal
    def contacted(self, contact: Contact) -> None:
        """V7: the patient contacted the clinic; nothing more is sent."""
        if self._state in SENDING or self._state in WAITING:
            self._state = InvitationState.CONTACTED

    @workflow.signal
    def cancel(self, cancellation: Cancellation) -> None:
        """V14: staff cancel (for example the referral was withdrawn); nothing more is sent."""
        if self._state in SENDING or self._state in WAITING:
            self._state = InvitationState.CANCELLED

    @workflow.update
    async def change_request(self, change: RequestChange) -> InvitationStatus:
        """V10: the schedule follows the new request; a message already sent is not sent again, but an
        invitation already out goes once more with its new limits (issue 27: the patient's offer)."""
        before = self._request
        self._request = apply_change(self._request, change)
        if self._state in INVITED and _limits(before) != _limits(self._request) and workflow.patched(REISSUE):
            self._reissue = True
        return await self._replanned()

    @change_request.validator
    def _validate_change(self, change: RequestChange) -> None:
        self._require(InvitationState.REQUEST, *SENDING)
        if change.window is not None:
            check_new_window(change.window, local_date(workflow.now()))
        self._check_applies(change)

    @workflow.update
    async def convert(self, conversion: Conversion) -> InvitationStatus:
        """V11: a plain booking request becomes a care invitation ("Ändra begäran – vårdinbjudan")."""
        self._request = apply_change(self._request, conversion)
        self._state = InvitationState.SCHEDULED
        return await self._replanned()

    @convert.validator
    def _validate_convert(self, conversion: Conversion) -> None:
        self._require(InvitationState.REQUEST)
        if conversion.window is not None:
            check_new_window(conversion.window, local_date(workflow.now()))
        self._check_applies(conversion)

    @workflow.query
    def status(self) -> InvitationStatus:
        return invitation_status(
            self._request, self._state, next_action=self._next, messages=self._messages, booked=self._booked
        )

    # --- state ---

    async def _replanned(self) -> InvitationStatus:
        """Wait until the run loop has planned the changed request, so the result shows the new plan."""
        self._revision += 1
        revision = self._revision
        await workflow.wait_condition(
            lambda: self._planned_revision >= revision or self._state not in SENDING,
            timeout=timedelta(seconds=30),
        )
        self._publish()
        return self.status()

    def _check_applies(self, change: RequestChange | Conversion) -> None:
        """The changed request must be valid (e.g. V1 when converting): one clear line, no input."""
        try:
            apply_change(self._request, change)
        except ValidationError as err:
            raise ValueError(describe_validation_error(err)) from None

    def _require(self, *states: InvitationState) -> None:
        if self._state not in states:
            raise ValueError(f"not possible in state {self._state.value}")

    def _publish(self) -> None:
        """Search attributes and current details for the Web UI and the work lists (V12, V13)."""
        self._unpublished = False
        kind, at = (self._next.kind, self._next.at) if self._next else (None, None)
        updates = [
            *search.progress(self._state.value, kind, at),
            search.WORK_LIST.value_set(work_list(self._state).value),
        ]
        publish(updates, self._details(), only_changed=self._lean)

    def _details(self) -> str:
        """The Web UI's current details (`invitation_details`: the caller's text escaped for Markdown)."""
        return invitation_details(self._state, self._request, self._next)


def _limits(request: CareInvitation) -> tuple[object, ...]:
    """What the patient's offer follows (V8): the window, the weekdays and the time of day."""
    return (request.window, request.weekdays, request.time_of_day)
