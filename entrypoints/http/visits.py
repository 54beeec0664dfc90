"""REST v1: the SMS reminders of booked visits, team visits and group bookings (S1–S16).

The clinic of a booking is checked against the caller's before anything starts or changes: from the
body when booking. An id is then looked up among the ids the caller's clinics issued (`clinic_id`
names one when the caller acts for several): another clinic's id is unknown here (404).
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Query, Response, status

import application
from application import targets
from domain.booking import GroupBooking, VisitBooking
from domain.status import GroupStatus, ReminderStatus
from domain.types import ContractModel, Moment, SystemId
from entrypoints.http.openapi import refusals
from entrypoints.http.strict import strict_body
from entrypoints.shared.auth import Caller, caller
from entrypoints.shared.context import RequestContext, caller_context

router = APIRouter(prefix="/v1", tags=["visits"])
Who = Annotated[Caller, Depends(caller)]
With = Annotated[RequestContext, Depends(caller_context)]
Scope = Annotated[
    SystemId | None,
    Query(description="the clinic that issued the id; needed only when the caller acts for several that did"),
]


class Started(ContractModel):
    workflow_id: str


BOOKED_BEFORE = {
    200: {"model": Started, "description": "the same booking was booked before: nothing changed"},
    **refusals(403, (409, "the id is used at the clinic with other content (the fields are named)")),
}
READ = refusals(404)
CHANGE = refusals(404, 409)


class StartChange(ContractModel):
    start: Moment


class FlagChange(ContractModel):
    sms_flag: bool


class CancelRequest(ContractModel):
    reason: str | None = None


class GroupCancel(CancelRequest):
    booking_id: SystemId | None = None  # one participant only


# Bodies are the strict variants of their models (`entrypoints.http.strict`): an unknown field or a
# flag that is no JSON boolean is 422 naming the field; the routes get the models themselves.
BookingBody = Annotated[VisitBooking, strict_body(VisitBooking)]
GroupBody = Annotated[GroupBooking, strict_body(GroupBooking)]
StartBody = Annotated[StartChange, strict_body(StartChange)]
FlagBody = Annotated[FlagChange, strict_body(FlagChange)]
CancelBody = Annotated[CancelRequest, strict_body(CancelRequest)]
GroupCancelBody = Annotated[GroupCancel, strict_body(GroupCancel)]


# --- single and team visits ---


@router.post("/visits", response_model=Started, status_code=status.HTTP_201_CREATED, responses=BOOKED_BEFORE)
async def book_visit(booking: BookingBody, who: Who, ctx: With, response: Response) -> Started:
    """Book a visit: starts its SMS reminder; a team visit's HOSP booking joins the team's (S11).
    The same booking again answers 200 with the same workflow; other content under a booking id the
    clinic used, or a team booking of another patient, place or time, is 409 naming the fields."""
    async with ctx.audited(
        who, "visit.book", application.scoped_workflow_id(booking), booking.clinic_id
    ) as entry:
        who.require_clinic(booking.clinic_id)  # the use case checks the rest before it starts anything
        booked = await application.book_visit(
            ctx.client, ctx.settings.task_queue, ctx.stores.directory, booking
        )
        entry.workflow_id = booked.workflow_id
        if not booked.new:
            response.status_code = status.HTTP_200_OK
    return Started(workflow_id=booked.workflow_id)


@router.get("/visits/{booking_id}", response_model=ReminderStatus, responses=READ)
async def visit_status(
    booking_id: SystemId, who: Who, ctx: With, clinic_id: Scope = None
) -> application.Status:
    async with ctx.on_workflow(who, "visit.status", targets.visit(booking_id), clinic_id) as target:
        return await application.status(ctx.client, target)


@router.post("/visits/{booking_id}/reschedule", response_model=ReminderStatus, responses=CHANGE)
async def reschedule_visit(
    booking_id: SystemId, change: StartBody, who: Who, ctx: With, clinic_id: Scope = None
) -> application.Status:
    """S15: the reminder moves with the visit."""
    async with ctx.on_workflow(who, "visit.reschedule", targets.visit(booking_id), clinic_id) as target:
        return await application.reschedule(ctx.client, target, change.start)


@router.put("/visits/{booking_id}/sms-flag", response_model=ReminderStatus, responses=CHANGE)
async def visit_sms_flag(
    booking_id: SystemId, change: FlagBody, who: Who, ctx: With, clinic_id: Scope = None
) -> application.Status:
    """S10: staff turn the SMS off or on again; S8: not off for a booking made in 1177 (409)."""
    async with ctx.on_workflow(who, "visit.sms_flag", targets.visit(booking_id), clinic_id) as target:
        return await application.set_sms_flag(ctx.client, target, change.sms_flag)


@router.post("/visits/{booking_id}/reply-handled", response_model=ReminderStatus, responses=CHANGE)
async def visit_reply_handled(
    booking_id: SystemId, who: Who, ctx: With, clinic_id: Scope = None
) -> application.Status:
    """Issue 28: the clinic has handled the patient's SMS replies (AVBOKA, or one it could not read):
    the reminder leaves the Uppföljning work list. 409 when the patient has not replied; the same
    call again is harmless. No body."""
    async with ctx.on_workflow(who, "visit.reply_handled", targets.visit(booking_id), clinic_id) as target:
        return await application.reply_handled(ctx.client, target)


@router.post(
    "/visits/{booking_id}/cancel",
    status_code=status.HTTP_202_ACCEPTED,
    response_model=Started,
    responses=CHANGE,
)
async def cancel_visit(
    booking_id: SystemId, cancel: CancelBody, who: Who, ctx: With, clinic_id: Scope = None
) -> Started:
    """S15: a cancelled visit gets no reminder."""
    async with ctx.on_workflow(who, "visit.cancel", targets.visit(booking_id), clinic_id) as target:
        workflow_id = await application.cancel(ctx.client, target, reason=cancel.reason)
    return Started(workflow_id=workflow_id)


@router.get("/team-visits/{team_visit_id}", response_model=ReminderStatus, responses=READ)
async def team_visit_status(
    team_visit_id: SystemId, who: Who, ctx: With, clinic_id: Scope = None
) -> application.Status:
    async with ctx.on_workflow(
        who, "team_visit.status", targets.team_visit(team_visit_id), clinic_id
    ) as target:
        return await application.status(ctx.client, target)


@router.post("/team-visits/{team_visit_id}/reschedule", response_model=ReminderStatus, responses=CHANGE)
async def reschedule_team_visit(
    team_visit_id: SystemId, change: StartBody, who: Who, ctx: With, clinic_id: Scope = None
) -> application.Status:
    """S11, S15: a reschedule moves the whole team visit."""
    async with ctx.on_workflow(
        who, "team_visit.reschedule", targets.team_visit(team_visit_id), clinic_id
    ) as target:
        return await application.reschedule(ctx.client, target, change.start)


@router.put(
    "/team-visits/{team_visit_id}/bookings/{booking_id}/sms-flag",
    response_model=ReminderStatus,
    responses=CHANGE,
)
async def team_booking_sms_flag(
    team_visit_id: SystemId,
    booking_id: SystemId,
    change: FlagBody,
    who: Who,
    ctx: With,
    clinic_id: Scope = None,
) -> application.Status:
    """S11: the flag of one HOSP booking of the team visit."""
    async with ctx.on_workflow(
        who, "team_visit.sms_flag", targets.team_visit(team_visit_id), clinic_id
    ) as target:
        return await application.set_sms_flag(ctx.client, target, change.sms_flag, booking_id)


@router.post(
    "/team-visits/{team_visit_id}/bookings/{booking_id}/cancel",
    status_code=status.HTTP_202_ACCEPTED,
    response_model=Started,
    responses=CHANGE,
)
async def cancel_team_booking(
    team_visit_id: SystemId,
    booking_id: SystemId,
    cancel: CancelBody,
    who: Who,
    ctx: With,
    clinic_id: Scope = None,
) -> Started:
    """S11, S15: one HOSP booking cancelled; the reminder is cancelled when all are."""
    async with ctx.on_workflow(
        who, "team_visit.cancel", targets.team_visit(team_visit_id), clinic_id
    ) as target:
        workflow_id = await application.cancel(ctx.client, target, booking_id, cancel.reason)
    return Started(workflow_id=workflow_id)


# --- group bookings (S13) ---


@router.post("/groups", response_model=Started, status_code=status.HTTP_201_CREATED, responses=BOOKED_BEFORE)
async def book_group(group: GroupBody, who: Who, ctx: With, response: Response) -> Started:
    """Book a group (form OW11): one child reminder per participant, one SMS flag for the group. The
    same group again answers 200; other content under a used group id, or a participant whose
    booking id already has a reminder at the clinic, is 409."""
    workflow_id = application.scoped_workflow_id(group)
    async with ctx.audited(who, "group.book", workflow_id, group.clinic_id) as entry:
        who.require_clinic(group.clinic_id)  # the use case checks the rest before it starts anything
        booked = await application.book_group(
            ctx.client, ctx.settings.task_queue, ctx.stores.directory, group
        )
        entry.workflow_id = booked.workflow_id
        if not booked.new:
            response.status_code = status.HTTP_200_OK
    return Started(workflow_id=booked.workflow_id)


@router.get("/groups/{group_booking_id}", response_model=GroupStatus, responses=READ)
async def group_status(
    group_booking_id: SystemId, who: Who, ctx: With, clinic_id: Scope = None
) -> application.Status:
    async with ctx.on_workflow(who, "group.status", targets.group(group_booking_id), clinic_id) as target:
        return await application.status(ctx.client, target)


@router.post("/groups/{group_booking_id}/reschedule", response_model=GroupStatus, responses=CHANGE)
async def reschedule_group(
    group_booking_id: SystemId, change: StartBody, who: Who, ctx: With, clinic_id: Scope = None
) -> application.Status:
    async with ctx.on_workflow(who, "group.reschedule", targets.group(group_booking_id), clinic_id) as target:
        return await application.reschedule(ctx.client, target, change.start)


@router.put("/groups/{group_booking_id}/sms-flag", response_model=GroupStatus, responses=CHANGE)
async def group_sms_flag(
    group_booking_id: SystemId, change: FlagBody, who: Who, ctx: With, clinic_id: Scope = None
) -> application.Status:
    async with ctx.on_workflow(who, "group.sms_flag", targets.group(group_booking_id), clinic_id) as target:
        return await application.set_sms_flag(ctx.client, target, change.sms_flag)


@router.post(
    "/groups/{group_booking_id}/cancel",
    status_code=status.HTTP_202_ACCEPTED,
    response_model=Started,
    responses=CHANGE,
)
async def cancel_group(
    group_booking_id: SystemId, cancel: GroupCancelBody, who: Who, ctx: With, clinic_id: Scope = None
) -> Started:
    async with ctx.on_workflow(who, "group.cancel", targets.group(group_booking_id), clinic_id) as target:
        workflow_id = await application.cancel(ctx.client, target, cancel.booking_id, cancel.reason)
    return Started(workflow_id=workflow_id)
