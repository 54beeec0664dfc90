"""Use cases of visit reminders (S1–S16): book, reschedule, SMS flag, cancel, status; group bookings."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import structlog
from temporalio.client import Client
from temporalio.common import TypedSearchAttributes, WorkflowIDConflictPolicy, WorkflowIDReusePolicy
from temporalio.exceptions import WorkflowAlreadyStartedError

from adapters.directory import Directory
from application import workflow_calls as calls
from application.checks import check_future, check_group, check_visit_booking
from application.errors import InputError
from contracts import search_attributes as search
from contracts.workflow_ids import (
    GROUP_PREFIX,
    booking_reminder_id,
    group_booking_id,
    reminder_id,
    team_reminder_id,
)
from domain.booking import (
    Cancellation,
    GroupBooking,
    ReminderStart,
    Reschedule,
    SmsFlagChange,
    VisitBooking,
)
from domain.directory import Clinic
from domain.status import SEND_SMS, GroupStatus, ReminderState, ReminderStatus
from domain.timing import plan_sms_send
from workflows.group_booking import GroupBookingWorkflow
from workflows.sms_reminder import VisitReminder, VisitReminderV2

log = structlog.get_logger(__name__)

START_ONCE: dict[str, Any] = {
    "id_conflict_policy": WorkflowIDConflictPolicy.FAIL,
    "id_reuse_policy": WorkflowIDReusePolicy.REJECT_DUPLICATE,
}
"""Starting the same booking, group or request twice creates no second workflow and is not an error:
the server refuses the second start (running or closed), which the use case answers as "exists"."""


async def book_visit(client: Client, task_queue: str, directory: Directory, booking: VisitBooking) -> str:
    """Start the reminder of a booked visit; a team visit's bookings join one reminder (S11).

    Booking the same visit twice creates no second workflow and is not an error.
    """
    workflow_id, _ = await start_visit_reminder(client, task_queue, directory, booking)
    return workflow_id


async def start_visit_reminder(
    client: Client, task_queue: str, directory: Directory, booking: VisitBooking
) -> tuple[str, bool]:
    """`book_visit`, telling also whether this call started the reminder (False: it existed; a team
    visit's booking joins its reminder either way, True)."""
    clinic = check_visit_booking(directory, booking)
    workflow_id = reminder_id(booking)
    summary = f"SMS reminder {workflow_id} at {booking.clinic_id}/{booking.reception_id}"
    # A team visit's booking joins its reminder by signal-with-start (S11); any other starts it once.
    options: dict[str, Any] = (
        {
            "start_signal": VisitReminder.join.__name__,
            "start_signal_args": [booking],
            "id_reuse_policy": WorkflowIDReusePolicy.REJECT_DUPLICATE,
        }
        if booking.team_visit_id
        else START_ONCE
    )
    try:
        await client.start_workflow(
            VisitReminderV2.run,
            ReminderStart(**dict(booking), sms_timing=clinic.sms_timing),
            id=workflow_id,
            task_queue=task_queue,
            static_summary=summary,
            search_attributes=reminder_attributes(clinic, booking),
            **options,
        )
    except WorkflowAlreadyStartedError:
        log.info("reminder_already_booked", workflow_id=workflow_id)  # booked twice: nothing to start
        return workflow_id, False
    return workflow_id, True


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


async def book_group(client: Client, task_queue: str, directory: Directory, group: GroupBooking) -> str:
    """Start a group booking (S13) with one child reminder per participant."""
    workflow_id, _ = await start_group(client, task_queue, directory, group)
    return workflow_id


async def start_group(
    client: Client, task_queue: str, directory: Directory, group: GroupBooking
) -> tuple[str, bool]:
    """`book_group`, telling also whether this call started it (False: it existed)."""
    check_group(directory, group)
    workflow_id = group_booking_id(group.group_booking_id)
    try:
        await client.start_workflow(
            GroupBookingWorkflow.run,
            group,
            id=workflow_id,
            task_queue=task_queue,
            static_summary=f"Group booking {workflow_id} at {group.clinic_id}/{group.reception_id}",
            **START_ONCE,
        )
    except WorkflowAlreadyStartedError:
        log.info("group_already_booked", workflow_id=workflow_id)
        return workflow_id, False
    return workflow_id, True


def visit_workflow_id(booking_id: str | None = None, team_visit_id: str | None = None) -> str:
    if team_visit_id:
        return team_reminder_id(team_visit_id)
    if booking_id:
        return booking_reminder_id(booking_id)
    raise InputError("name the visit: a booking id, or a team visit id")


def _is_group(workflow_id: str) -> bool:
    return workflow_id.startswith(GROUP_PREFIX)


async def reschedule(client: Client, workflow_id: str, start: datetime) -> ReminderStatus | GroupStatus:
    """S15: move a visit (or a whole group, S13) and its reminder."""
    check_future(start)
    change = Reschedule(start=start)
    if _is_group(workflow_id):
        return await calls.update(client, workflow_id, GroupBookingWorkflow.reschedule, change)
    return await calls.update(client, workflow_id, VisitReminder.reschedule, change)


async def set_sms_flag(
    client: Client, workflow_id: str, sms_flag: bool, booking_id: str | None = None
) -> ReminderStatus | GroupStatus:
    """S10: turn the SMS off or on again (S8: not off for a 1177 booking; S13: one flag per group)."""
    change = SmsFlagChange(sms_flag=sms_flag, booking_id=booking_id)
    if _is_group(workflow_id):
        return await calls.update(client, workflow_id, GroupBookingWorkflow.set_sms_flag, change)
    return await calls.update(client, workflow_id, VisitReminder.set_sms_flag, change)


async def cancel(
    client: Client, workflow_id: str, booking_id: str | None = None, reason: str | None = None
) -> None:
    """S15, V14: a cancelled visit gets no reminder and a cancelled invitation no more messages; a
    booking id cancels one booking of a team visit or one group participant only."""
    workflow = calls.kind_of(workflow_id).workflow  # every kind has the signal `cancel`
    await calls.signal(
        client, workflow_id, workflow.cancel, Cancellation(booking_id=booking_id, reason=reason)
    )
