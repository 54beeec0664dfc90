"""What a booking system or a person does to reminders, through Temporal (SPEC §5).

Every function checks its input at the edge (bad input starts or changes nothing) and talks to the
workflows only by their contract names. `starter.py` is the command line on top of these.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime
from typing import Any

import structlog
from pydantic import BaseModel
from temporalio.api.common.v1 import WorkflowExecution
from temporalio.api.workflowservice.v1 import DescribeWorkflowExecutionRequest
from temporalio.client import Client, WorkflowExecutionStatus, WorkflowHandle, WorkflowUpdateFailedError
from temporalio.common import TypedSearchAttributes, WorkflowIDConflictPolicy, WorkflowIDReusePolicy
from temporalio.exceptions import ApplicationError, WorkflowAlreadyStartedError
from temporalio.service import RPCError, RPCStatusCode

from domain.booking import Cancellation, GroupBooking, Reschedule, SmsFlagChange, VisitBooking
from domain.directory import Clinic
from domain.invitation import (
    CareInvitation,
    Contact,
    Conversion,
    InvitationBooking,
    InvitationStatus,
    RequestChange,
    WorkList,
    check_new_window,
    initial_state,
    work_list,
)
from domain.status import GroupStatus, ReminderState, ReminderStatus
from domain.timing import local_date, plan_sms_send
from services.directory import Directory
from workflows import search
from workflows.care_invitation import CareInvitationWorkflow
from workflows.group_booking import GroupBookingWorkflow
from workflows.ids import (
    INVITATION_PREFIX,
    booking_reminder_id,
    group_booking_id,
    invitation_id,
    reminder_id,
    team_reminder_id,
)
from workflows.sms_reminder import SEND_SMS, SmsReminderWorkflow

log = structlog.get_logger(__name__)


Status = ReminderStatus | GroupStatus | InvitationStatus


class InputError(ValueError):
    """Input refused at the edge; the message says what is wrong and never repeats patient data."""


def check_visit_place(directory: Directory, clinic_id: str, reception_id: str) -> Clinic:
    clinic = directory.clinic(clinic_id)
    if clinic is None:
        raise InputError(f"unknown clinic '{clinic_id}'")
    if clinic.reception(reception_id) is None:
        raise InputError(f"clinic '{clinic_id}' has no reception '{reception_id}'")
    return clinic


def check_future(start: datetime, now: datetime | None = None) -> None:
    if start <= (now or datetime.now(UTC)):
        raise InputError("the visit start time has already passed")


def check_patient(directory: Directory, patient_id: str, what: str = "the patient") -> None:
    if directory.patient(patient_id) is None:
        raise InputError(f"{what} is not in the directory (load it with `starter.py directory load`)")


def check_booking(directory: Directory, booking: VisitBooking) -> Clinic:
    """Edge checks of a booked visit; returns its clinic."""
    clinic = check_visit_place(directory, booking.clinic_id, booking.reception_id)
    check_future(booking.start)
    check_patient(directory, booking.patient_id)
    return clinic


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
    clinic = check_booking(directory, booking)
    workflow_id = reminder_id(booking)
    summary = f"SMS reminder {workflow_id} at {booking.clinic_id}/{booking.reception_id}"
    # A team visit's booking joins its reminder by signal-with-start (S11); any other starts it once.
    options: dict[str, Any] = (
        {
            "start_signal": "join",
            "start_signal_args": [booking],
            "id_reuse_policy": WorkflowIDReusePolicy.REJECT_DUPLICATE,
        }
        if booking.team_visit_id
        else _START_OPTIONS
    )
    try:
        await client.start_workflow(
            SmsReminderWorkflow.run,
            booking,
            id=workflow_id,
            task_queue=task_queue,
            static_summary=summary,
            search_attributes=_reminder_attributes(clinic, booking),
            **options,
        )
    except WorkflowAlreadyStartedError:
        log.info("reminder_already_closed", workflow_id=workflow_id)  # booked twice: nothing to start
    return workflow_id


def _reminder_attributes(clinic: Clinic, booking: VisitBooking) -> TypedSearchAttributes:
    """The reminder's search attributes at start, with the S6 send moment the workflow will plan, so
    that its first task need not upsert them (it upserts only what differs)."""
    updates = [
        *search.visit_place(booking.clinic_id, booking.reception_id, booking.channel.value),
        search.STATE.value_set(ReminderState.SCHEDULED.value),
    ]
    now = datetime.now(UTC)
    plan = plan_sms_send(booking.start, now, clinic)
    if plan.at is not None and plan.at > now:
        updates += [search.NEXT_ACTION.value_set(SEND_SMS), search.NEXT_ACTION_AT.value_set(plan.at)]
    return search.at_start(updates)


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


def check_request(directory: Directory, request: CareInvitation) -> None:
    """Edge checks of a new booking request or invitation (V1 and V2 are checked by the model)."""
    check_visit_place(directory, request.clinic_id, request.reception_id)
    try:
        check_new_window(request.window, local_date(datetime.now(UTC)))
    except ValueError as err:
        raise InputError(str(err)) from None
    check_patient(directory, request.patient_id)


async def create_request(
    client: Client, task_queue: str, directory: Directory, request: CareInvitation
) -> str:
    """Start a care invitation, or a plain booking request when `invitation` is false (V11, V12).

    Creating the same request twice creates no second workflow and is not an error.
    """
    check_request(directory, request)
    workflow_id = invitation_id(request.request_id)
    kind = "Care invitation" if request.invitation else "Booking request"
    try:
        await client.start_workflow(
            CareInvitationWorkflow.run,
            request,
            id=workflow_id,
            task_queue=task_queue,
            static_summary=f"{kind} {workflow_id} at {request.clinic_id}/{request.reception_id}",
            search_attributes=_request_attributes(request),
            **_START_OPTIONS,
        )
    except WorkflowAlreadyStartedError:
        log.info("request_already_closed", workflow_id=workflow_id)
    return workflow_id


def _request_attributes(request: CareInvitation) -> TypedSearchAttributes:
    """The request's search attributes at start (its place, state and work list, V12), so that its
    first task need not upsert them."""
    state = initial_state(request)
    return search.at_start(
        [
            *search.request_place(request.clinic_id, request.reception_id),
            search.STATE.value_set(state.value),
            search.WORK_LIST.value_set(work_list(state).value),
        ]
    )


async def convert_request(client: Client, request_id: str, conversion: Conversion) -> Status:
    """V11: "Ändra begäran – vårdinbjudan"."""
    return await _update(client, invitation_id(request_id), "convert", conversion)


async def change_request(client: Client, request_id: str, change: RequestChange) -> Status:
    """V10: staff change the window or the limits of an open request."""
    return await _update(client, invitation_id(request_id), "change_request", change)


async def book_invitation(client: Client, request_id: str, booking: InvitationBooking) -> Status:
    """V7–V9: the invitation is booked by the patient (checked against V8) or by staff."""
    check_future(booking.start)
    return await _update(client, invitation_id(request_id), "book", booking)


async def record_contact(client: Client, request_id: str, contact: Contact) -> None:
    """V7: the patient contacted the clinic."""
    await _signal(client, invitation_id(request_id), "contacted", contact)


class WorkListItem(BaseModel):
    request_id: str
    workflow_id: str
    reception_id: str | None
    state: str | None
    next_action: str | None
    next_action_at: datetime | None


class WorkLists(BaseModel):
    """V12, V13: the staff lists of one clinic ("Mitt arbetsflöde")."""

    clinic_id: str
    vardinbjudan: list[WorkListItem]
    bokningsbegaran: list[WorkListItem]
    uppfoljning: list[WorkListItem]


async def work_lists(client: Client, clinic_id: str) -> WorkLists:
    """Read the lists from Temporal's visibility (search attributes), not from a side database."""
    if not re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9._-]{0,63}", clinic_id):
        raise InputError("a clinic id has letters, digits, '.', '_' and '-' only")
    lists: dict[str, list[WorkListItem]] = {w.value: [] for w in WorkList if w is not WorkList.NONE}
    query = (
        f"WorkflowType = 'CareInvitationWorkflow' AND ExecutionStatus = 'Running' "
        f"AND {search.CLINIC.name} = '{clinic_id}'"
    )
    async for execution in client.list_workflows(query):
        attributes = execution.typed_search_attributes
        work_list = attributes.get(search.WORK_LIST)
        if work_list not in lists:
            continue
        lists[work_list].append(
            WorkListItem(
                request_id=execution.id.removeprefix(INVITATION_PREFIX),
                workflow_id=execution.id,
                reception_id=attributes.get(search.RECEPTION),
                state=attributes.get(search.STATE),
                next_action=attributes.get(search.NEXT_ACTION),
                next_action_at=attributes.get(search.NEXT_ACTION_AT),
            )
        )
    for items in lists.values():
        items.sort(
            key=lambda i: (i.next_action_at is None, i.next_action_at or datetime.max.replace(tzinfo=UTC))
        )
    return WorkLists(clinic_id=clinic_id, **lists)


def visit_workflow_id(booking_id: str | None = None, team_visit_id: str | None = None) -> str:
    if team_visit_id:
        return team_reminder_id(team_visit_id)
    if booking_id:
        return booking_reminder_id(booking_id)
    raise InputError("name the visit: a booking id, or a team visit id")


async def reschedule(client: Client, workflow_id: str, start: datetime) -> Status:
    check_future(start)
    return await _update(client, workflow_id, "reschedule", Reschedule(start=start))


async def set_sms_flag(
    client: Client, workflow_id: str, sms_flag: bool, booking_id: str | None = None
) -> Status:
    change = SmsFlagChange(sms_flag=sms_flag, booking_id=booking_id)
    return await _update(client, workflow_id, "set_sms_flag", change)


async def cancel(
    client: Client, workflow_id: str, booking_id: str | None = None, reason: str | None = None
) -> None:
    await _signal(client, workflow_id, "cancel", Cancellation(booking_id=booking_id, reason=reason))


async def status(client: Client, workflow_id: str) -> Status:
    handle = _handle(client, workflow_id)
    try:
        return await handle.query("status", result_type=_status_type(workflow_id))
    except RPCError as err:
        raise _not_found(err, workflow_id) from None


def _handle(client: Client, workflow_id: str) -> WorkflowHandle[Any, Any]:
    return client.get_workflow_handle(workflow_id)


async def _signal(client: Client, workflow_id: str, name: str, arg: object) -> None:
    try:
        await _handle(client, workflow_id).signal(name, arg)
    except RPCError as err:
        raise await _ended_or_missing(err, client, workflow_id) from None


def _status_type(workflow_id: str) -> type[Status]:
    if workflow_id.startswith(INVITATION_PREFIX):
        return InvitationStatus
    return GroupStatus if workflow_id.startswith("group-booking-") else ReminderStatus


async def _update(client: Client, workflow_id: str, name: str, arg: object) -> Status:
    handle = _handle(client, workflow_id)
    try:
        return await handle.execute_update(name, arg, result_type=_status_type(workflow_id))
    except WorkflowUpdateFailedError as err:
        cause = err.cause
        message = cause.message if isinstance(cause, ApplicationError) else str(cause)
        raise InputError(f"{name} rejected: {message}") from None
    except RPCError as err:
        raise await _ended_or_missing(err, client, workflow_id) from None


def _not_found(err: RPCError, workflow_id: str) -> Exception:
    if err.status == RPCStatusCode.NOT_FOUND:
        return InputError(f"no workflow '{workflow_id}'")
    return err


async def _ended_or_missing(err: RPCError, client: Client, workflow_id: str) -> Exception:
    """A signal or update that found no running workflow: say whether it has ended or never was."""
    if err.status != RPCStatusCode.NOT_FOUND:
        return err
    request = DescribeWorkflowExecutionRequest(
        namespace=client.namespace, execution=WorkflowExecution(workflow_id=workflow_id)
    )
    try:  # the raw call: its status is all that is needed here
        described = await client.workflow_service.describe_workflow_execution(request)
    except RPCError as missing:
        return _not_found(missing, workflow_id)
    status = WorkflowExecutionStatus(described.workflow_execution_info.status).name.lower()
    return InputError(f"workflow '{workflow_id}' has ended: nothing to change ({status})")
