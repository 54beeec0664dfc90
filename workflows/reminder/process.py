"""The SMS reminder of one booked visit, or of one team visit (S1–S16), as one process.

Sleep until the send moment of S6 unless the visit is rescheduled or cancelled; at the moment, send
one SMS per recipient (S3, S4, S9), each under its own idempotency key (visit version + recipient,
S15). After sending it stays open until the visit starts, so that a reschedule still moves the
reminder; a cancel ends it. While open, the SMS provider's delivery reports arrive as signal
`delivery_report` and show on each message (`delivery`, docs/delivery-reports.md).

The types it runs as (`generations.py`) differ only in how they start and how they send; each
declares its two strategies (`mechanics.Start`, `sending.Sender`).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta
from functools import partial

from temporalio import workflow

with workflow.unsafe.imports_passed_through():
    from contracts import search_attributes as search
    from contracts.activities import DirectoryReads, PlannedSkip, ReminderDecision, SendResult, VisitRef
    from domain.booking import (
        S8_FLAG_LOCKED,
        Cancellation,
        Channel,
        GroupChange,
        ReminderStart,
        Reschedule,
        SmsFlagChange,
        VisitBooking,
        check_new_start,
        check_team_join,
    )
    from domain.directory import SmsTiming
    from domain.identity import mask_patient_id
    from domain.replies import PatientReply
    from domain.status import (
        SEND_SMS,
        DeliveryReport,
        NextAction,
        Outcome,
        Reason,
        RecipientRole,
        ReminderState,
        ReminderStatus,
        reminder_details,
        state_after_sending,
    )
    from domain.timing import plan_sms_send
    from workflows.mechanics import (
        PUBLISH_DELAY,
        Start,
        read_directory,
        sleep_unless,
        upsert,
    )

from workflows.reminder.bookings import Bookings
from workflows.reminder.messages import SmsMessages
from workflows.reminder.replies import Replied, Replies
from workflows.reminder.sending import Sender, tell_decision


class Reminder:
    """The reminder's process and its contract (SPEC §5); `generations.py` registers it as types."""

    @workflow.init
    def __init__(self, booking: ReminderStart) -> None:
        self._visit = booking
        self._start = booking.start
        self._version = 1
        self._planned_version = 0
        self._bookings = Bookings(booking)
        self._messages = SmsMessages()
        self._state = ReminderState.SCHEDULED
        self._reason: Reason | None = None
        self._next: NextAction | None = None
        self.lean = False
        self._unpublished = False  # a state not yet in the search attributes (after a wave)
        self._replies = Replies()

    async def _run(self, booking: ReminderStart, start: Start, sender: Sender) -> ReminderStatus:
        self.lean = start.lean()
        self._sender = sender
        upsert(
            search.visit_place(booking.clinic_id, booking.reception_id, booking.channel.value),
            only_changed=self.lean,
        )
        booked = booking.sms_timing if start.carries_clinic else None
        while not self._bookings.cancelled:
            version = self._version
            clinic = booked or await read_directory(
                DirectoryReads.load_clinic, self._visit.clinic_id, local=self.lean
            )
            booked = None  # a changed visit is planned with the clinic as it is then
            if await self._remind(clinic, version):
                continue  # rescheduled or cancelled before the decision
            if await self._publish_after_the_wave(version):
                continue  # rescheduled or cancelled before it showed as sent
            if not await sleep_unless(partial(self.changed, version), until=self._start):
                break  # the visit has started: nothing more to remind
        await workflow.wait_condition(workflow.all_handlers_finished)
        if self._bookings.cancelled:
            self._set_state(ReminderState.CANCELLED)
        self._next = None
        self._planned_version = self._version
        return self.status()

    async def _remind(self, clinic: SmsTiming | None, version: int) -> bool:
        """Wait for the send moment of S6 and send; True if the visit changed first."""
        woke = False  # sending at a moment it slept until, as a wave of reminders may (not at booking)
        while True:
            now = workflow.now()
            if clinic is None:
                self.skip(Reason.UNKNOWN_CLINIC, version)
                await self.tell(version, Reason.UNKNOWN_CLINIC)
                return False
            plan = plan_sms_send(self._start, now, clinic)
            if plan.at is None:
                self.skip(plan.reason or Reason.TOO_LATE, version)
                await self.tell(version, plan.reason or Reason.TOO_LATE)
                return False
            if plan.at <= now:
                return await self._sender.send(self, self._visit_ref(), version, woke=woke)
            self._next = NextAction(kind=SEND_SMS, at=plan.at)
            self._set_state(ReminderState.SCHEDULED)
            self._planned_version = version
            if await sleep_unless(partial(self.changed, version), until=plan.at):
                return True
            woke = True

    def _visit_ref(self) -> VisitRef:
        return VisitRef(
            patient_id=self._visit.patient_id,
            clinic_id=self._visit.clinic_id,
            reception_id=self._visit.reception_id,
            start=self._start,
            bookings=self._bookings.views(),
            at=workflow.now(),
        )

    async def _publish_after_the_wave(self, version: int) -> bool:
        """A reminder that woke to send shows as sent in the lists (search attributes) `PUBLISH_DELAY`
        after it sent (`SendOut`), so that the server's time at the send moment, when many reminders
        wake together, goes to their SMS (issue 13). A skip or a failure, which someone may act on,
        and a reminder sent as it was booked (after its moment) show at once; the `status` query and
        the details at once in every case. True if the visit changed first (its new plan shows)."""
        if not self._unpublished:
            return False
        if await sleep_unless(partial(self.changed, version), until=workflow.now() + PUBLISH_DELAY):
            return True
        self._publish()
        return False

    # --- what a sending strategy reads and records (`sending.Sending`) ---

    def changed(self, version: int) -> bool:
        return self._version != version or self._bookings.cancelled

    def until_visit(self) -> timedelta:
        """How long a send keeps retrying: until the visit starts (at least a minute)."""
        return max(self._start - workflow.now(), timedelta(minutes=1))

    def begin_sending(self, version: int) -> None:
        self._messages.sending(version)

    def skip(self, reason: Reason, version: int) -> None:
        self._messages.sending(None)
        self._messages.record(RecipientRole.PATIENT, version, Outcome.SKIPPED, reason=reason)
        self._next = None
        self._set_state(ReminderState.SKIPPED, reason)
        self._planned_version = version

    async def tell(self, version: int, reason: Reason, roles: Sequence[RecipientRole] = ()) -> None:
        """What the reminder decided itself, told to the clinic's webhooks (`sending.tell_decision`)."""
        decision = ReminderDecision(
            workflow_id=workflow.info().workflow_id,
            clinic_id=self._visit.clinic_id,
            version=version,
            reason=reason,
            roles=list(roles),
            at=workflow.now(),
        )
        await tell_decision(decision)

    def record_skips(self, skipped: Sequence[PlannedSkip], version: int) -> None:
        for skip in skipped:
            self._messages.record(skip.role, version, Outcome.SKIPPED, reason=skip.reason)

    def record_result(self, role: RecipientRole, version: int, result: SendResult) -> None:
        self._messages.record_result(role, version, result)

    def sent(self, version: int, results: Sequence[SendResult], *, publish_later: bool) -> None:
        self._messages.sending(None)
        self._next = None
        outcomes = [(r.outcome, r.reason) for r in results]
        state, reason = state_after_sending(outcomes, self._messages.records, version)
        self._set_state(state, reason, later=publish_later and state is ReminderState.SENT)
        self._planned_version = version

    # --- the contract: updates, signals, query (SPEC §5) ---

    @workflow.signal
    async def patient_reply(self, reply: PatientReply) -> None:
        """Issue 28: the patient's (or a guardian's) answer to the reminder SMS (`replies.Replies`)."""
        await self._replies.take(self._replied(), reply)

    @workflow.update
    def reply_handled(self) -> ReminderStatus:
        """Issue 28: staff handled the replies waiting; off the Uppföljning list. A repeat is harmless."""
        self._replies.handle(self._replied())
        return self.status()

    @reply_handled.validator
    def _validate_reply_handled(self) -> None:
        if not self._replies.views:
            raise ValueError("the patient has not replied to this reminder")

    @workflow.update
    async def reschedule(self, change: Reschedule) -> ReminderStatus:
        """S15: the reminder moves with the visit; the old moment sends nothing."""
        self._move(change.start)
        await workflow.wait_condition(lambda: self._planned_version >= self._version)
        return self.status()

    @reschedule.validator
    def _validate_reschedule(self, change: Reschedule) -> None:
        self._require_open()
        check_new_start(change.start, workflow.now())

    @workflow.update
    def set_sms_flag(self, change: SmsFlagChange) -> ReminderStatus:
        """S10: staff may turn the SMS off (or on again) for one visit; S8: not for 1177 bookings."""
        self._set_flag(change.booking_id, change.sms_flag)
        return self.status()

    @set_sms_flag.validator
    def _validate_sms_flag(self, change: SmsFlagChange) -> None:
        self._require_open()
        targets = self._bookings.targets(change.booking_id)
        if not change.sms_flag and any(b.channel == Channel.SELF_1177 for b in targets):
            raise ValueError(S8_FLAG_LOCKED)

    @workflow.signal
    def cancel(self, cancellation: Cancellation) -> None:
        """S15: a cancelled visit gets no reminder. A team visit ends when all its bookings are cancelled."""
        if cancellation.booking_id is not None and cancellation.booking_id not in self._bookings:
            workflow.logger.warning("cancel for a booking not in this reminder: ignored")
            return
        for booking in self._bookings.targets(cancellation.booking_id):
            booking.cancelled = True

    @workflow.update
    def join_booking(self, booking: VisitBooking) -> bool:
        """S11: a HOSP booking of this team visit joins its one reminder (update-with-start, so the
        booking system hears a refusal). True the first time it answers for this booking; the same
        booking again changes nothing."""
        self._bookings.add(booking)
        return self._bookings.confirm(booking.booking_id)

    @join_booking.validator
    def _validate_join(self, booking: VisitBooking) -> None:
        earlier = self._bookings.as_booked(booking.booking_id)
        check_team_join(booking, self._visit, self._start, earlier)
        if earlier is None:
            self._require_open()

    @workflow.signal
    def join(self, booking: VisitBooking) -> None:
        """S11: a HOSP booking of the same team visit joins its one reminder (the signal-with-start of
        the bookings made before `join_booking`; kept for their histories)."""
        if booking.patient_id != self._visit.patient_id or booking.team_visit_id != self._visit.team_visit_id:
            workflow.logger.warning(
                "booking does not belong to this team visit: ignored",
                extra={"booking_id": booking.booking_id},
            )
            return
        self._bookings.add(booking)
        self._bookings.confirm(booking.booking_id)

    @workflow.signal
    def apply_group_change(self, change: GroupChange) -> None:
        """S13: the group booking passes its reschedule or SMS flag on to each participant."""
        if change.start is not None and change.start != self._start:
            self._move(change.start)
        if change.sms_flag is not None:
            self._set_flag(None, change.sms_flag)

    @workflow.signal
    def delivery_report(self, report: DeliveryReport) -> None:
        """The SMS provider's delivery report on one of this reminder's SMS (by its `sms_key`), as the
        SMS ledger resolved it: moves the message's `delivery` forward only (`later_delivery`). A report
        for another workflow, or a version and role without a sent SMS, changes nothing."""
        if self._messages.report(report):
            workflow.set_current_details(reminder_details(self.status()))

    @workflow.query
    def status(self) -> ReminderStatus:
        return ReminderStatus(
            state=self._state,
            next_action=self._next,
            messages=self._messages.records,
            start=self._start,
            visit_version=self._version,
            clinic_id=self._visit.clinic_id,
            reception_id=self._visit.reception_id,
            patient=mask_patient_id(self._visit.patient_id),
            bookings=self._bookings.views(),
            reason=self._reason,
            replies=list(self._replies.views),
        )

    # --- state ---

    def _replied(self) -> Replied:
        return Replied(self._visit, self._start, self._version, self._bookings.cancelled, self.lean)

    def _move(self, start: datetime) -> None:
        self._start = start
        self._version += 1
        self._reason = None

    def _set_flag(self, booking_id: str | None, sms_flag: bool) -> None:
        self._bookings.set_flag(booking_id, sms_flag)
        if sms_flag and self._state is ReminderState.SKIPPED and self._reason is Reason.SMS_FLAG_OFF:
            self._move(self._start)  # turned on again after a skip: plan this visit anew

    def _require_open(self) -> None:
        if self._bookings.cancelled:
            raise ValueError("the visit is cancelled")

    def _set_state(self, state: ReminderState, reason: Reason | None = None, *, later: bool = False) -> None:
        """The reminder's state: the `status` query and the Web UI's details (a query too) show it at
        once; the search attributes now, or `later` (`_publish_after_the_wave`)."""
        self._state = state
        self._reason = reason
        workflow.set_current_details(reminder_details(self.status()))
        self._unpublished = later
        if not later:
            self._publish()

    def _publish(self) -> None:
        """Upsert the state's search attributes (those that changed) for the lists."""
        self._unpublished = False
        next_at = self._next.at if self._next else None
        progress = search.progress(self._state.value, self._next and self._next.kind, next_at)
        upsert(progress, only_changed=self.lean)
