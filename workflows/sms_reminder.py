"""VisitReminder: the SMS reminder of one booked visit, or of one team visit (S1–S16).

Sleep until the send moment of S6 unless the visit is rescheduled or cancelled; at the moment, read
the directory and send one SMS per recipient (S3, S4, S9), each under its own idempotency key
(visit version + recipient, S15). After sending it stays open until the visit starts, so that a
reschedule still moves the reminder; a cancel ends it. While open, the SMS provider's delivery reports
arrive as signal `delivery_report` and show on each message (`delivery`, docs/delivery-reports.md).

Four workflow types run this reminder (docs/changing-workflows.md), each keeping the commands of its
saved histories (`Sends`): `VisitReminderV2`, which a booking starts, reads the recipients and sends
their SMS in one local activity, in the workflow task that wakes it (the SMS gateway keeps the
provider's rate); `VisitReminder`, booked before it, asks two local activities, the recipients' plan,
then the SMS; `SmsReminder` and `SmsReminderWorkflow`, the types of reminders booked before those,
and of those a group booking or an invitation starts, send them as activities. A patch costs every
workflow a marker and a visibility upsert; a new type costs none (issue 13).
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from datetime import datetime, timedelta
from enum import Enum
from functools import partial

from temporalio import workflow
from temporalio.common import RetryPolicy
from temporalio.exceptions import ActivityError

with workflow.unsafe.imports_passed_through():
    from contracts import search_attributes as search
    from contracts.activities import (
        DirectoryReads,
        ReminderSends,
        SendReminder,
        SendReminders,
        SendResult,
        VisitRef,
        last_sendout,
    )
    from contracts.workflow_ids import parse_sms_key, sms_key
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
    from domain.status import (
        SEND_SMS,
        BookingView,
        Delivery,
        DeliveryReport,
        MessageChannel,
        MessageKind,
        MessageRecord,
        NextAction,
        Outcome,
        Reason,
        RecipientRole,
        ReminderState,
        ReminderStatus,
        later_report,
        reminder_details,
        reported_sms,
        state_after_sending,
    )
    from domain.timing import plan_sms_send
    from workflows.mechanics import (
        LOCAL_RETRY_THRESHOLD,
        PUBLISH_DELAY,
        activity_method,
        read_directory,
        record_delivery,
        record_message,
        sleep_unless,
        upsert,
    )

LEAN_HISTORY = "reminder-lean-history"
"""Patch id: directory reads as local activities, search attributes upserted only when they change.
Reminders started before it replay the old path (docs/changing-workflows.md)."""


class Sends(Enum):
    """How a reminder type sends its SMS; each type keeps the commands its saved histories hold."""

    ACTIVITIES = "the recipients' plan, then one activity per SMS"  # SmsReminderWorkflow, SmsReminder
    LOCAL = "the recipients' plan, then one local activity per SMS"  # VisitReminder
    SENDOUT = "one local activity plans and sends them all"  # VisitReminderV2


SENDOUT_TIMEOUT = timedelta(seconds=60)
"""One attempt of `send_reminders`: the directory reads and up to three SMS."""
SEND_RETRY = RetryPolicy(
    initial_interval=timedelta(seconds=2), backoff_coefficient=2.0, maximum_interval=timedelta(minutes=5)
)


@workflow.defn
class VisitReminder:
    @workflow.init
    def __init__(self, booking: ReminderStart) -> None:
        self._visit = booking
        self._start = booking.start
        self._version = 1
        self._planned_version = 0
        self._bookings: dict[str, BookingView] = {}
        self._booked: dict[str, VisitBooking] = {}  # each booking as booked (S11: the same joins once)
        self._confirmed: set[str] = set()  # the bookings a `join_booking` has answered for
        self._add_booking(booking)
        self._messages: list[MessageRecord] = []
        self._state = ReminderState.SCHEDULED
        self._reason: Reason | None = None
        self._next: NextAction | None = None
        self._lean = False
        self._sends = Sends.ACTIVITIES
        self._sending: int | None = None  # the version whose SMS are being sent
        self._unpublished = False  # a state not yet in the search attributes (V2: after a wave)
        self._early_reports: dict[str, DeliveryReport] = {}  # reports that overtook their send's result

    @workflow.run
    async def run(self, booking: ReminderStart) -> ReminderStatus:
        """A booked reminder: its first send moment planned with the clinic's S6 settings that the
        booking read (`sms_timing`), so its first task reads no directory; its SMS sent as local
        activities, so the task that wakes it sends them and the next one is the visit's start."""
        return await self._run(booking, lean=True, booked=booking.sms_timing, sends=Sends.LOCAL)

    async def _run(
        self, booking: ReminderStart, *, lean: bool, booked: SmsTiming | None, sends: Sends
    ) -> ReminderStatus:
        self._lean = lean
        self._sends = sends
        upsert(
            search.visit_place(booking.clinic_id, booking.reception_id, booking.channel.value),
            only_changed=self._lean,
        )
        while not self._cancelled:
            version = self._version
            clinic = booked or await read_directory(
                DirectoryReads.load_clinic, self._visit.clinic_id, local=self._lean
            )
            booked = None  # a changed visit is planned with the clinic as it is then
            if await self._remind(clinic, version):
                continue  # rescheduled or cancelled before the decision
            if await self._publish_after_the_wave(version):
                continue  # rescheduled or cancelled before it showed as sent
            if not await sleep_unless(partial(self._changed, version), until=self._start):
                break  # the visit has started: nothing more to remind
        await workflow.wait_condition(workflow.all_handlers_finished)
        if self._cancelled:
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
                self._skip(Reason.UNKNOWN_CLINIC, version)
                return False
            plan = plan_sms_send(self._start, now, clinic)
            if plan.at is None:
                self._skip(plan.reason or Reason.TOO_LATE, version)
                return False
            if plan.at <= now:
                return await self._send(version, woke)
            self._next = NextAction(kind=SEND_SMS, at=plan.at)
            self._set_state(ReminderState.SCHEDULED)
            self._planned_version = version
            if await sleep_unless(partial(self._changed, version), until=plan.at):
                return True
            woke = True

    async def _send(self, version: int, woke: bool) -> bool:
        visit = VisitRef(
            patient_id=self._visit.patient_id,
            clinic_id=self._visit.clinic_id,
            reception_id=self._visit.reception_id,
            start=self._start,
            bookings=list(self._bookings.values()),
            at=workflow.now(),
        )
        if self._sends is Sends.SENDOUT:
            await self._send_all(visit, version, publish_later=woke)
            return False
        plan = await read_directory(DirectoryReads.plan_recipients, visit, local=self._lean)
        if self._changed(version):
            return True  # S15: never sent for a visit cancelled or moved meanwhile
        if plan.blocker is not None:
            self._skip(plan.blocker, version)
            return False
        for skip in plan.skipped:
            self._record(skip.role, version, Outcome.SKIPPED, reason=skip.reason)
        self._sending = version
        results = await asyncio.gather(*(self._send_one(visit, r.role, version) for r in plan.recipients))
        self._sent(version, results)
        return False

    async def _send_all(self, visit: VisitRef, version: int, *, publish_later: bool) -> None:
        """One local activity reads who gets the reminder now and sends each SMS (S9, S15): the task
        that wakes the reminder sends them all. A visit changed meanwhile is planned anew after."""
        self._sending = version
        request = SendReminders(workflow_id=workflow.info().workflow_id, version=version, visit=visit)
        try:
            sendout = await workflow.execute_local_activity_method(
                ReminderSends.send_reminders,
                request,
                start_to_close_timeout=SENDOUT_TIMEOUT,
                schedule_to_close_timeout=self._until_visit(),
                retry_policy=SEND_RETRY,
                local_retry_threshold=LOCAL_RETRY_THRESHOLD,
            )
        except ActivityError as err:
            workflow.logger.warning("SMS provider unavailable until the visit", extra={"version": version})
            sendout = last_sendout(err)
        if sendout.blocker is not None:
            self._sending = None
            self._skip(sendout.blocker, version)
            return
        for skip in sendout.skipped:
            self._record(skip.role, version, Outcome.SKIPPED, reason=skip.reason)
        for result in sendout.results:
            self._record_result(result.role, version, result)
        self._sent(version, sendout.results, publish_later=publish_later)

    def _sent(self, version: int, results: Sequence[SendResult], *, publish_later: bool = False) -> None:
        self._sending = None
        self._early_reports.clear()
        self._next = None
        state, reason = state_after_sending([(r.outcome, r.reason) for r in results], self._messages, version)
        later = publish_later and state is ReminderState.SENT
        self._set_state(state, reason, later=later)
        self._planned_version = version

    async def _publish_after_the_wave(self, version: int) -> bool:
        """`VisitReminderV2` shows a reminder that woke to send as sent in the lists (search attributes)
        `PUBLISH_DELAY` after it sent, so that the server's time at the send moment, when many
        reminders wake together, goes to their SMS (issue 13). A skip or a failure, which someone may
        act on, and a reminder sent as it was booked (after its moment) show at once; the `status`
        query and the details at once in every case. True if the visit changed first (its new plan
        shows)."""
        if not self._unpublished:
            return False
        if await sleep_unless(partial(self._changed, version), until=workflow.now() + PUBLISH_DELAY):
            return True
        self._publish()
        return False

    async def _send_one(self, visit: VisitRef, role: RecipientRole, version: int) -> SendResult:
        key = sms_key(workflow.info().workflow_id, version, role)
        try:
            result = await activity_method(local=self._sends is Sends.LOCAL)(
                ReminderSends.send_reminder_sms,
                SendReminder(key=key, role=role, visit=visit),
                start_to_close_timeout=timedelta(seconds=30),
                schedule_to_close_timeout=self._until_visit(),
                retry_policy=SEND_RETRY,
            )
        except ActivityError:
            workflow.logger.warning("SMS provider unavailable until the visit", extra={"key": key})
            result = SendResult(outcome=Outcome.FAILED, reason=Reason.PROVIDER_UNAVAILABLE)
        self._record_result(role, version, result)
        return result

    def _until_visit(self) -> timedelta:
        """How long a send keeps retrying: until the visit starts (at least a minute)."""
        return max(self._start - workflow.now(), timedelta(minutes=1))

    def _record_result(self, role: RecipientRole, version: int, result: SendResult) -> None:
        pending = result.outcome is Outcome.SENT and result.delivery_pending
        delivery = Delivery.PENDING if pending else None
        self._record(role, version, result.outcome, to=result.to, reason=result.reason, delivery=delivery)

    # --- the contract: updates, signals, query (SPEC §5) ---

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
        targets = self._targets(change.booking_id)
        if not change.sms_flag and any(b.channel == Channel.SELF_1177 for b in targets):
            raise ValueError(S8_FLAG_LOCKED)

    @workflow.signal
    def cancel(self, cancellation: Cancellation) -> None:
        """S15: a cancelled visit gets no reminder. A team visit ends when all its bookings are cancelled."""
        if cancellation.booking_id is not None and cancellation.booking_id not in self._bookings:
            workflow.logger.warning("cancel for a booking not in this reminder: ignored")
            return
        for booking in self._targets(cancellation.booking_id):
            booking.cancelled = True

    @workflow.update
    def join_booking(self, booking: VisitBooking) -> bool:
        """S11: a HOSP booking of this team visit joins its one reminder (update-with-start, so the
        booking system hears a refusal). True the first time it answers for this booking; the same
        booking again changes nothing."""
        self._add_booking(booking)
        first = booking.booking_id not in self._confirmed
        self._confirmed.add(booking.booking_id)
        return first

    @join_booking.validator
    def _validate_join(self, booking: VisitBooking) -> None:
        earlier = self._booked.get(booking.booking_id)
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
        self._add_booking(booking)
        self._confirmed.add(booking.booking_id)

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
        key = parse_sms_key(report.key)
        if key is None or key.workflow_id != workflow.info().workflow_id:
            workflow.logger.warning(
                "delivery report for another reminder: ignored", extra={"key": report.key}
            )
            return
        sent = reported_sms(self._messages, key.version, key.role)
        if sent is None and key.version == self._sending:
            # The report overtook its send's result (a workflow task handles signals before activity
            # results): keep it for `_record`.
            self._early_reports[report.key] = later_report(self._early_reports.get(report.key), report)
            return
        if not sent:
            workflow.logger.warning("delivery report for no sent SMS: ignored", extra={"key": report.key})
            return
        if any([record_delivery(m, report) for m in sent]):
            workflow.set_current_details(reminder_details(self.status()))

    @workflow.query
    def status(self) -> ReminderStatus:
        return ReminderStatus(
            state=self._state,
            next_action=self._next,
            messages=self._messages,
            start=self._start,
            visit_version=self._version,
            clinic_id=self._visit.clinic_id,
            reception_id=self._visit.reception_id,
            patient=mask_patient_id(self._visit.patient_id),
            bookings=list(self._bookings.values()),
            reason=self._reason,
        )

    # --- state ---

    @property
    def _cancelled(self) -> bool:
        return all(b.cancelled for b in self._bookings.values())

    def _changed(self, version: int) -> bool:
        return self._version != version or self._cancelled

    def _add_booking(self, booking: VisitBooking) -> None:
        self._booked.setdefault(booking.booking_id, booking)
        if booking.booking_id not in self._bookings:
            self._bookings[booking.booking_id] = BookingView(
                booking_id=booking.booking_id, channel=booking.channel.value, sms_flag=booking.sms_flag
            )

    def _move(self, start: datetime) -> None:
        self._start = start
        self._version += 1
        self._reason = None

    def _set_flag(self, booking_id: str | None, sms_flag: bool) -> None:
        for booking in self._targets(booking_id):
            if booking.channel != Channel.SELF_1177 or sms_flag:
                booking.sms_flag = sms_flag
        if sms_flag and self._state is ReminderState.SKIPPED and self._reason is Reason.SMS_FLAG_OFF:
            self._move(self._start)  # turned on again after a skip: plan this visit anew

    def _targets(self, booking_id: str | None) -> list[BookingView]:
        if booking_id is None:
            return list(self._bookings.values())
        if booking_id not in self._bookings:
            raise ValueError(f"booking {booking_id} is not part of this reminder")
        return [self._bookings[booking_id]]

    def _require_open(self) -> None:
        if self._cancelled:
            raise ValueError("the visit is cancelled")

    def _skip(self, reason: Reason, version: int) -> None:
        self._record(RecipientRole.PATIENT, version, Outcome.SKIPPED, reason=reason)
        self._next = None
        self._set_state(ReminderState.SKIPPED, reason)
        self._planned_version = version

    def _record(
        self,
        role: RecipientRole,
        version: int,
        outcome: Outcome,
        to: str | None = None,
        reason: Reason | None = None,
        delivery: Delivery | None = None,
    ) -> None:
        record = MessageRecord(
            kind=MessageKind.SMS_REMINDER,
            channel=MessageChannel.SMS,
            recipient=role,
            to=to,
            at=workflow.now(),
            outcome=outcome,
            reason=reason,
            visit_version=version,
            delivery=delivery,
        )
        record_message(self._messages, record)
        early = self._early_reports.pop(sms_key(workflow.info().workflow_id, version, role), None)
        if early is not None and outcome is Outcome.SENT:
            record_delivery(record, early)

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
        upsert(progress, only_changed=self._lean)


@workflow.defn
class VisitReminderV2(VisitReminder):
    """The type `application.book_visit` starts: `VisitReminder` whose woken task asks one local
    activity to read the recipients and send their SMS (`send_reminders`), where `VisitReminder` asks
    two, one after the other (issue 13: a quarter less worker CPU per woken reminder)."""

    @workflow.run
    async def run(self, booking: ReminderStart) -> ReminderStatus:
        return await self._run(booking, lean=True, booked=booking.sms_timing, sends=Sends.SENDOUT)


@workflow.defn
class SmsReminder(VisitReminder):
    """The reminders booked between issue 13's first cut and `VisitReminder`: the same reminder, its
    SMS sent as activities (the task that wakes it schedules them, the next one records them)."""

    @workflow.run
    async def run(self, booking: ReminderStart) -> ReminderStatus:
        return await self._run(booking, lean=True, booked=booking.sms_timing, sends=Sends.ACTIVITIES)


@workflow.defn
class SmsReminderWorkflow(VisitReminder):
    """The reminders booked before `SmsReminder` existed, and those that a group booking (S13) or an
    invitation (V9) starts: the same reminder, reading the clinic in its first task, with the patch
    its older histories need, its SMS sent as activities."""

    @workflow.run
    async def run(self, booking: ReminderStart) -> ReminderStatus:
        lean = workflow.patched(LEAN_HISTORY)
        return await self._run(booking, lean=lean, booked=None, sends=Sends.ACTIVITIES)
