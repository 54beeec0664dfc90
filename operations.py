"""What a booking system or a person does to reminders, through Temporal (SPEC §5).

Every function checks its input at the edge (bad input starts or changes nothing) and talks to the
workflows only by their contract names. `starter.py` is the command line on top of these.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import structlog
from temporalio.client import Client, WorkflowHandle, WorkflowUpdateFailedError
from temporalio.common import WorkflowIDConflictPolicy, WorkflowIDReusePolicy
from temporalio.exceptions import ApplicationError, WorkflowAlreadyStartedError
from temporalio.service import RPCError, RPCStatusCode

from domain.booking import Cancellation, GroupBooking, Reschedule, SmsFlagChange, VisitBooking
from domain.status import GroupStatus, ReminderStatus
from services.directory import Directory
from workflows.group_booking import GroupBookingWorkflow
from workflows.ids import booking_reminder_id, group_booking_id, reminder_id, team_reminder_id
from workflows.sms_reminder import SmsReminderWorkflow

log = structlog.get_logger(__name__)


class InputError(ValueError):
    """Input refused at the edge; the message says what is wrong and never repeats patient data."""


def check_visit_place(directory: Directory, clinic_id: str, reception_id: str) -> None:
    clinic = directory.clinic(clinic_id)
    if clinic is None:
        raise InputError(f"unknown clinic '{clinic_id}'")
    if clinic.reception(reception_id) is None:
        raise InputError(f"clinic '{clinic_id}' has no reception '{reception_id}'")


def check_future(start: datetime, now: datetime | None = None) -> None:
    if start <= (now or datetime.now(UTC)):
        raise InputError("the visit start time has already passed")


def check_patient(directory: Directory, patient_id: str, what: str = "the patient") -> None:
    if directory.patient(patient_id) is None:
        raise InputError(f"{what} is not in the directory (load it with `starter.py directory load`)")


def check_booking(directory: Directory, booking: VisitBooking) -> None:
    check_visit_place(directory, booking.clinic_id, booking.reception_id)
    check_future(booking.start)
    check_patient(directory, booking.patient_id)


def check_group(directory: Directory, group: GroupBooking) -> None:
    check_visit_place(directory, group.clinic_id, group.reception_id)
    check_future(group.start)
    for participant in group.participants:
        check_patient(directory, participant.patient_id, f"participant {participant.booking_id}")


_START_OPTIONS: dict[str, Any] = {
    "id_conflict_policy": WorkflowIDConflictPolicy.USE_EXISTING,
    "id_reuse_policy": WorkflowIDReusePolicy.REJECT_DUPLICATE,
}


async def book_visit(client: Client, task_queue: str, directory: Directory, booking: VisitBooking) -> str:
    """Start the reminder of a booked visit; a team visit's bookings join one reminder (S11).

    Booking the same visit twice creates no second workflow and is not an error.
    """
    check_booking(directory, booking)
    workflow_id = reminder_id(booking)
    summary = f"SMS reminder {workflow_id} at {booking.clinic_id}/{booking.reception_id}"
    try:
        if booking.team_visit_id:
            await client.start_workflow(
                SmsReminderWorkflow.run,
                booking,
                id=workflow_id,
                task_queue=task_queue,
                start_signal="join",
                start_signal_args=[booking],
                id_reuse_policy=WorkflowIDReusePolicy.REJECT_DUPLICATE,
                static_summary=summary,
            )
        else:
            await client.start_workflow(
                SmsReminderWorkflow.run,
                booking,
                id=workflow_id,
                task_queue=task_queue,
                static_summary=summary,
                **_START_OPTIONS,
            )
    except WorkflowAlreadyStartedError:
        log.info("reminder_already_closed", workflow_id=workflow_id)  # booked twice: nothing to start
    return workflow_id


async def book_group(client: Client, task_queue: str, directory: Directory, group: GroupBooking) -> str:
    """Start a group booking (S13) with one child reminder per participant."""
    check_group(directory, group)
    workflow_id = group_booking_id(group.group_booking_id)
    try:
        await client.start_workflow(
            GroupBookingWorkflow.run,
            group,
            id=workflow_id,
            task_queue=task_queue,
            static_summary=f"Group booking {workflow_id} at {group.clinic_id}/{group.reception_id}",
            **_START_OPTIONS,
        )
    except WorkflowAlreadyStartedError:
        log.info("group_already_closed", workflow_id=workflow_id)
    return workflow_id


def visit_workflow_id(booking_id: str | None = None, team_visit_id: str | None = None) -> str:
    if team_visit_id:
        return team_reminder_id(team_visit_id)
    if booking_id:
        return booking_reminder_id(booking_id)
    raise InputError("name the visit: a booking id, or a team visit id")


async def reschedule(client: Client, workflow_id: str, start: datetime) -> ReminderStatus | GroupStatus:
    check_future(start)
    handle = _handle(client, workflow_id)
    return await _update(handle, "reschedule", Reschedule(start=start))


async def set_sms_flag(
    client: Client, workflow_id: str, sms_flag: bool, booking_id: str | None = None
) -> ReminderStatus | GroupStatus:
    handle = _handle(client, workflow_id)
    return await _update(handle, "set_sms_flag", SmsFlagChange(sms_flag=sms_flag, booking_id=booking_id))


async def cancel(
    client: Client, workflow_id: str, booking_id: str | None = None, reason: str | None = None
) -> None:
    handle = _handle(client, workflow_id)
    try:
        await handle.signal("cancel", Cancellation(booking_id=booking_id, reason=reason))
    except RPCError as err:
        raise _not_found(err, workflow_id) from None


async def status(client: Client, workflow_id: str) -> ReminderStatus | GroupStatus:
    handle = _handle(client, workflow_id)
    try:
        return await handle.query("status", result_type=_status_type(workflow_id))
    except RPCError as err:
        raise _not_found(err, workflow_id) from None


def _handle(client: Client, workflow_id: str) -> WorkflowHandle[Any, Any]:
    return client.get_workflow_handle(workflow_id)


def _status_type(workflow_id: str) -> type[ReminderStatus] | type[GroupStatus]:
    return GroupStatus if workflow_id.startswith("group-booking-") else ReminderStatus


async def _update(handle: WorkflowHandle[Any, Any], name: str, arg: object) -> ReminderStatus | GroupStatus:
    try:
        return await handle.execute_update(name, arg, result_type=_status_type(handle.id))
    except WorkflowUpdateFailedError as err:
        cause = err.cause
        message = cause.message if isinstance(cause, ApplicationError) else str(cause)
        raise InputError(f"{name} rejected: {message}") from None
    except RPCError as err:
        raise _not_found(err, handle.id) from None


def _not_found(err: RPCError, workflow_id: str) -> Exception:
    if err.status == RPCStatusCode.NOT_FOUND:
        return InputError(f"no open workflow '{workflow_id}'")
    return err
