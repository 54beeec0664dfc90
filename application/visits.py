"""Use cases of visit reminders (S1–S16): book, reschedule, SMS flag, cancel; group bookings. A visit,
team visit or group is named by its issued id (`application.targets.Target`)."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from typing import Any

import structlog
from temporalio.client import Client, WithStartWorkflowOperation
from temporalio.common import TypedSearchAttributes, WorkflowIDConflictPolicy, WorkflowIDReusePolicy
from temporalio.exceptions import WorkflowAlreadyStartedError

from adapters.directory import Directory
from application import workflow_calls as calls
from application.checks import check_future, check_group, check_visit_booking
from application.errors import ConflictError, EndedError, InputError
from application.lookup import own_legacy
from application.starts import Started, issued_by, start_once, workflow_id_for
from application.targets import Target, workflow_of
from contracts import search_attributes as search
from contracts.workflow_ids import GROUP_PREFIX, IdKind, IssuedId
from domain.booking import (
    Cancellation,
    GroupBooking,
    ReminderStart,
    Reschedule,
    SmsFlagChange,
    VisitBooking,
)
from domain.directory import Clinic
from domain.markdown import workflow_summary
from domain.status import SEND_SMS, GroupStatus, ReminderState, ReminderStatus
from domain.timing import plan_sms_send
from workflows.group_booking import GroupBookingWorkflow
from workflows.reminder.generations import VisitReminderV2
from workflows.reminder.process import Reminder

log = structlog.get_logger(__name__)


async def book_visit(client: Client, task_queue: str, directory: Directory, booking: VisitBooking) -> Started:
    """Start the reminder of a booked visit; a team visit's bookings join one reminder (S11).

    The same booking again starts nothing and is not an error (`new` False); a booking id used at the
    clinic with other content is refused (ConflictError), as is a team visit's booking that does not
    share the team's patient, place and time (S11)."""
    clinic = check_visit_booking(directory, booking)
    issued = issued_by(booking)
    workflow_id = await workflow_id_for(client, issued, booking.clinic_id)
    start = ReminderStart(**dict(booking), sms_timing=clinic.sms_timing)
    options: dict[str, Any] = {
        "id": workflow_id,
        "task_queue": task_queue,
        "static_summary": workflow_summary("SMS reminder", workflow_id, booking),
        "search_attributes": reminder_attributes(clinic, booking),
    }
    if booking.team_visit_id:
        return Started(workflow_id, await _join_team(client, booking, start, options))
    return await start_once(client, VisitReminderV2.run, start, request=booking, issued=issued, **options)


async def _join_team(
    client: Client, booking: VisitBooking, start: ReminderStart, options: dict[str, Any]
) -> bool:
    """S11: the booking joins its team visit's one reminder, started with it if it is the first;
    the reminder itself refuses a booking of another patient, place or time (update-with-start)."""
    operation = WithStartWorkflowOperation(
        VisitReminderV2.run,
        start,
        id_conflict_policy=WorkflowIDConflictPolicy.USE_EXISTING,
        id_reuse_policy=WorkflowIDReusePolicy.REJECT_DUPLICATE,
        **options,
    )
    try:
        return await calls.update_with_start(client, Reminder.join_booking, booking, operation)
    except WorkflowAlreadyStartedError:  # the team visit has ended: only a booking it had is harmless
        status = await calls.query_status(client, options["id"])
        bookings = status.bookings if isinstance(status, ReminderStatus) else []
        if booking.booking_id in {b.booking_id for b in bookings}:
            return False
        raise EndedError(f"team visit '{booking.team_visit_id}' has ended: nothing to join") from None


def reminder_attributes(clinic: Clinic, booking: VisitBooking) -> TypedSearchAttributes:
    """The reminder's search attributes at start, with the S6 send moment the workflow will plan, so
    that its first task need not upsert them (it upserts only what differs)."""
    now = datetime.now(UTC)
    plan = plan_sms_send(booking.start, now, clinic)
    planned = plan.at is not None and plan.at > now
    return search.at_start(
        [
            *search.visit_place(booking.clinic_id, booking.reception_id, booking.channel.value),
            *search.progress(ReminderState.SCHEDULED.value, SEND_SMS if planned else None, plan.at),
        ]
    )


async def book_group(client: Client, task_queue: str, directory: Directory, group: GroupBooking) -> Started:
    """Start a group booking (S13) with one child reminder per participant. The same group again
    starts nothing (`new` False); a group id used at the clinic with other content, or a participant
    whose booking id already has a reminder at the clinic, is refused (ConflictError)."""
    check_group(directory, group)
    issued = issued_by(group)
    workflow_id = await workflow_id_for(client, issued, group.clinic_id)
    if not await calls.exists(client, workflow_id):
        await _check_new_participants(client, group)
    return await start_once(
        client,
        GroupBookingWorkflow.run,
        group,
        request=group,
        issued=issued,
        id=workflow_id,
        task_queue=task_queue,
        static_summary=workflow_summary("Group booking", workflow_id, group),
    )


async def _check_new_participants(client: Client, group: GroupBooking) -> None:
    """S13: each participant is a new booking of the clinic; one whose booking id already has a
    reminder there belongs to that booking, not to the group."""
    issued = [IssuedId(IdKind.VISIT, p.booking_id) for p in group.participants]
    taken = await asyncio.gather(
        *(calls.exists(client, i.at(group.clinic_id)) for i in issued),
        *(own_legacy(client, i, group.clinic_id) for i in issued),
    )
    n = len(issued)
    for i, participant in enumerate(issued):
        if taken[i] or taken[n + i]:
            raise ConflictError(
                f"participant {participant} already has a reminder at the clinic: a group's participants "
                "are new bookings (S13)"
            )


def _is_group(workflow_id: str) -> bool:
    return workflow_id.startswith(GROUP_PREFIX)


async def reschedule(client: Client, target: Target, start: datetime) -> ReminderStatus | GroupStatus:
    """S15: move a visit (or a whole group, S13) and its reminder."""
    workflow_id = await workflow_of(client, target)
    check_future(start)
    change = Reschedule(start=start)
    if _is_group(workflow_id):
        return await calls.update(client, workflow_id, GroupBookingWorkflow.reschedule, change)
    return await calls.update(client, workflow_id, Reminder.reschedule, change)


async def set_sms_flag(
    client: Client, target: Target, sms_flag: bool, booking_id: str | None = None
) -> ReminderStatus | GroupStatus:
    """S10: turn the SMS off or on again (S8: not off for a 1177 booking; S13: one flag per group); a
    booking id names one HOSP booking of a team visit."""
    workflow_id = await workflow_of(client, target)
    change = SmsFlagChange(sms_flag=sms_flag, booking_id=booking_id)
    if _is_group(workflow_id):
        return await calls.update(client, workflow_id, GroupBookingWorkflow.set_sms_flag, change)
    return await calls.update(client, workflow_id, Reminder.set_sms_flag, change)


async def cancel(
    client: Client, target: Target, booking_id: str | None = None, reason: str | None = None
) -> str:
    """S15, V14: a cancelled visit gets no reminder and a cancelled invitation no more messages; a
    booking id cancels one booking of a team visit or one group participant only. Returns the
    workflow it was sent to."""
    workflow_id = await workflow_of(client, target)
    workflow = calls.kind_of(workflow_id).workflow  # every kind has the signal `cancel`
    await calls.signal(
        client, workflow_id, workflow.cancel, Cancellation(booking_id=booking_id, reason=reason)
    )
    return workflow_id


async def reply_handled(client: Client, target: Target) -> ReminderStatus:
    """Issue 28: staff have handled the patient's replies to the visit's reminder (AVBOKA, unreadable):
    it leaves the Uppföljning list. Refused when the patient has not replied; a repeat is harmless."""
    workflow_id = await workflow_of(client, target)
    if _is_group(workflow_id):
        raise InputError("a group booking gets no replies: name the participant's booking")
    status: ReminderStatus = await calls.update(client, workflow_id, Reminder.reply_handled)
    return status
