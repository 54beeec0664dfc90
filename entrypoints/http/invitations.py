"""REST v1: care invitations and plain booking requests (V1–V14), and a clinic's work lists (V12).

A request id is looked up among the ids the caller's clinics issued (`clinic_id` names one when the
caller acts for several): another clinic's id is unknown here (404).
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Query, Response, status

import application
from application import targets
from application.offered_times import MAX_PAGE, OfferedTimes, offered_times
from domain.invitation import (
    CareInvitation,
    Contact,
    Conversion,
    InvitationStatus,
    RequestChange,
)
from domain.invitation_offer import RequestBooking
from domain.types import SystemId
from entrypoints.http.openapi import refusals
from entrypoints.http.strict import strict_body
from entrypoints.http.visits import BOOKED_BEFORE, CHANGE, READ, CancelBody, Scope, Started
from entrypoints.shared.auth import Caller, caller
from entrypoints.shared.context import RequestContext, caller_context

router = APIRouter(prefix="/v1", tags=["care invitations"])
Who = Annotated[Caller, Depends(caller)]
With = Annotated[RequestContext, Depends(caller_context)]
# Strict bodies, as in `entrypoints.http.visits`: unknown fields and non-boolean flags are 422.
RequestBody = Annotated[CareInvitation, strict_body(CareInvitation)]
ConversionBody = Annotated[Conversion, strict_body(Conversion)]
ChangeBody = Annotated[RequestChange, strict_body(RequestChange)]
BookingBody = Annotated[RequestBooking, strict_body(RequestBooking)]
ContactBody = Annotated[Contact, strict_body(Contact)]


@router.post(
    "/requests", response_model=Started, status_code=status.HTTP_201_CREATED, responses=BOOKED_BEFORE
)
async def create_request(request: RequestBody, who: Who, ctx: With, response: Response) -> Started:
    """A care invitation, or a plain booking request with `"invitation": false` (V11). The same
    request again answers 200 with the same workflow; other content under a request id the clinic
    used is 409, naming the fields that differ."""
    workflow_id = application.scoped_workflow_id(request)
    async with ctx.audited(who, "request.create", workflow_id, request.clinic_id) as entry:
        who.require_clinic(request.clinic_id)  # the use case checks the rest before it starts anything
        made = await application.create_request(
            ctx.client, ctx.settings.task_queue, ctx.stores.directory, request
        )
        entry.workflow_id = made.workflow_id
        if not made.new:
            response.status_code = status.HTTP_200_OK
    return Started(workflow_id=made.workflow_id)


@router.get("/requests/{request_id}", response_model=InvitationStatus, responses=READ)
async def request_status(
    request_id: SystemId, who: Who, ctx: With, clinic_id: Scope = None
) -> application.Status:
    async with ctx.on_workflow(who, "request.status", targets.request(request_id), clinic_id) as target:
        return await application.status(ctx.client, target)


@router.get("/requests/{request_id}/offered-times", response_model=OfferedTimes, responses=READ)
async def request_offered_times(
    request_id: SystemId,
    who: Who,
    ctx: With,
    clinic_id: Scope = None,
    visit_minutes: Annotated[int, Query(ge=1, le=480, description="the visit's length in minutes")] = 1,
    offset: Annotated[int, Query(ge=0, le=10_000)] = 0,
    limit: Annotated[int, Query(ge=1, le=MAX_PAGE)] = 20,
) -> OfferedTimes:
    """V8, the offer: the free slots of the request's reception and visit type that fit its window,
    weekdays and time of day and are at least `visit_minutes` long, earliest first (none once the
    request is booked, cancelled or closed)."""
    target = targets.request(request_id)
    async with ctx.on_workflow(who, "request.offered_times", target, clinic_id) as found:
        return await offered_times(
            ctx.client, ctx.stores.slots, found, visit_minutes=visit_minutes, offset=offset, limit=limit
        )


@router.post("/requests/{request_id}/convert", response_model=InvitationStatus, responses=CHANGE)
async def convert_request(
    request_id: SystemId, conversion: ConversionBody, who: Who, ctx: With, clinic_id: Scope = None
) -> InvitationStatus:
    """V11: "Ändra begäran – vårdinbjudan"."""
    async with ctx.on_workflow(who, "request.convert", targets.request(request_id), clinic_id) as target:
        return await application.convert_request(ctx.client, target, conversion)


@router.post("/requests/{request_id}/change", response_model=InvitationStatus, responses=CHANGE)
async def change_request(
    request_id: SystemId, change: ChangeBody, who: Who, ctx: With, clinic_id: Scope = None
) -> InvitationStatus:
    """V10: a new window or new limits; a message already sent is not sent again."""
    async with ctx.on_workflow(who, "request.change", targets.request(request_id), clinic_id) as target:
        return await application.change_request(ctx.client, target, change)


BOOKING_REFUSALS = refusals(
    (404, "no such request, or no such slot at the request's clinic"),
    (409, "the time is no longer free, the slot is not a time of the request, or the workflow refused"),
)


@router.post("/requests/{request_id}/booking", response_model=InvitationStatus, responses=BOOKING_REFUSALS)
async def book_request(
    request_id: SystemId, booking: BookingBody, who: Who, ctx: With, clinic_id: Scope = None
) -> InvitationStatus:
    """V7–V9: booked by the patient (checked against the request, V8) or by staff, at `start` or at an
    offered time (`slot_id`, from `GET …/offered-times`: taken for the booking, so no one else is
    offered it; taken already: 409); starts the visit's SMS reminder."""
    async with ctx.on_workflow(who, "request.book", targets.request(request_id), clinic_id) as target:
        return await application.book_invitation(ctx.client, target, booking, ctx.stores.slots)


@router.post(
    "/requests/{request_id}/contact",
    status_code=status.HTTP_202_ACCEPTED,
    response_model=Started,
    responses=CHANGE,
)
async def record_contact(
    request_id: SystemId, contact: ContactBody, who: Who, ctx: With, clinic_id: Scope = None
) -> Started:
    """V7: the patient contacted the clinic; no more reminders."""
    async with ctx.on_workflow(who, "request.contact", targets.request(request_id), clinic_id) as target:
        workflow_id = await application.record_contact(ctx.client, target, contact)
    return Started(workflow_id=workflow_id)


@router.post(
    "/requests/{request_id}/cancel",
    status_code=status.HTTP_202_ACCEPTED,
    response_model=Started,
    responses=CHANGE,
)
async def cancel_request(
    request_id: SystemId, cancel: CancelBody, who: Who, ctx: With, clinic_id: Scope = None
) -> Started:
    """V14: staff cancel the invitation or request."""
    async with ctx.on_workflow(who, "request.cancel", targets.request(request_id), clinic_id) as target:
        workflow_id = await application.cancel(ctx.client, target, reason=cancel.reason)
    return Started(workflow_id=workflow_id)


@router.get(
    "/clinics/{clinic_id}/work-lists",
    response_model=application.WorkLists,
    tags=["work lists"],
    responses=refusals(403),
)
async def work_lists(clinic_id: SystemId, who: Who, ctx: With) -> application.WorkLists:
    """V12, V13: Vårdinbjudan, Bokningsbegäran, Uppföljning of one clinic."""
    async with ctx.audited(who, "clinic.work_lists", clinic_id=clinic_id):
        who.require_clinic(clinic_id)
        application.check_clinic(ctx.stores.directory, clinic_id)
        return await application.work_lists(ctx.client, clinic_id)
