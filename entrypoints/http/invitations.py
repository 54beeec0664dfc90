"""REST v1: care invitations and plain booking requests (V1–V14), and a clinic's work lists (V12).

A request id is looked up among the ids the caller's clinics issued (`clinic_id` names one when the
caller acts for several): another clinic's id is unknown here (404).
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Response, status

import application as app
from contracts.workflow_ids import IdKind, IssuedId, invitation_id
from domain.invitation import (
    CareInvitation,
    Contact,
    Conversion,
    InvitationBooking,
    InvitationStatus,
    RequestChange,
)
from domain.types import SystemId
from entrypoints.http.auth import Caller, caller
from entrypoints.http.service import Service, service
from entrypoints.http.strict import strict_body
from entrypoints.http.visits import BOOKED_BEFORE, CancelBody, Scope, Started

router = APIRouter(prefix="/v1", tags=["care invitations"])
Who = Annotated[Caller, Depends(caller)]
With = Annotated[Service, Depends(service)]
# Strict bodies, as in `entrypoints.http.visits`: unknown fields and non-boolean flags are 422.
RequestBody = Annotated[CareInvitation, strict_body(CareInvitation)]
ConversionBody = Annotated[Conversion, strict_body(Conversion)]
ChangeBody = Annotated[RequestChange, strict_body(RequestChange)]
BookingBody = Annotated[InvitationBooking, strict_body(InvitationBooking)]
ContactBody = Annotated[Contact, strict_body(Contact)]


def _request(request_id: str) -> IssuedId:
    return IssuedId(IdKind.REQUEST, request_id)


@router.post(
    "/requests", response_model=Started, status_code=status.HTTP_201_CREATED, responses=BOOKED_BEFORE
)
async def create_request(request: RequestBody, who: Who, svc: With, response: Response) -> Started:
    """A care invitation, or a plain booking request with `"invitation": false` (V11). The same
    request again answers 200 with the same workflow; other content under a request id the clinic
    used is 409, naming the fields that differ."""
    workflow_id = invitation_id(request.clinic_id, request.request_id)
    async with svc.audited(who, "request.create", workflow_id, request.clinic_id) as entry:
        who.require_clinic(request.clinic_id)  # the use case checks the rest before it starts anything
        made = await app.create_request(svc.client, svc.settings.task_queue, svc.stores.directory, request)
        entry.workflow_id = made.workflow_id
        if not made.new:
            response.status_code = status.HTTP_200_OK
    return Started(workflow_id=made.workflow_id)


@router.get("/requests/{request_id}", response_model=InvitationStatus)
async def request_status(request_id: SystemId, who: Who, svc: With, clinic_id: Scope = None) -> app.Status:
    async with svc.on_workflow(who, "request.status", _request(request_id), clinic_id) as found:
        return found.status


@router.post("/requests/{request_id}/convert", response_model=InvitationStatus)
async def convert_request(
    request_id: SystemId, conversion: ConversionBody, who: Who, svc: With, clinic_id: Scope = None
) -> InvitationStatus:
    """V11: "Ändra begäran – vårdinbjudan"."""
    async with svc.on_workflow(who, "request.convert", _request(request_id), clinic_id) as found:
        return await app.convert_request(svc.client, found.workflow_id, conversion)


@router.post("/requests/{request_id}/change", response_model=InvitationStatus)
async def change_request(
    request_id: SystemId, change: ChangeBody, who: Who, svc: With, clinic_id: Scope = None
) -> InvitationStatus:
    """V10: a new window or new limits; a message already sent is not sent again."""
    async with svc.on_workflow(who, "request.change", _request(request_id), clinic_id) as found:
        return await app.change_request(svc.client, found.workflow_id, change)


@router.post("/requests/{request_id}/booking", response_model=InvitationStatus)
async def book_request(
    request_id: SystemId, booking: BookingBody, who: Who, svc: With, clinic_id: Scope = None
) -> InvitationStatus:
    """V7–V9: booked by the patient (checked against the request, V8) or by staff; starts the visit's
    SMS reminder."""
    async with svc.on_workflow(who, "request.book", _request(request_id), clinic_id) as found:
        return await app.book_invitation(svc.client, found.workflow_id, booking)


@router.post("/requests/{request_id}/contact", status_code=status.HTTP_202_ACCEPTED, response_model=Started)
async def record_contact(
    request_id: SystemId, contact: ContactBody, who: Who, svc: With, clinic_id: Scope = None
) -> Started:
    """V7: the patient contacted the clinic; no more reminders."""
    async with svc.on_workflow(who, "request.contact", _request(request_id), clinic_id) as found:
        await app.record_contact(svc.client, found.workflow_id, contact)
    return Started(workflow_id=found.workflow_id)


@router.post("/requests/{request_id}/cancel", status_code=status.HTTP_202_ACCEPTED, response_model=Started)
async def cancel_request(
    request_id: SystemId, cancel: CancelBody, who: Who, svc: With, clinic_id: Scope = None
) -> Started:
    """V14: staff cancel the invitation or request."""
    async with svc.on_workflow(who, "request.cancel", _request(request_id), clinic_id) as found:
        await app.cancel(svc.client, found.workflow_id, reason=cancel.reason)
    return Started(workflow_id=found.workflow_id)


@router.get("/clinics/{clinic_id}/work-lists", response_model=app.WorkLists, tags=["work lists"])
async def work_lists(clinic_id: SystemId, who: Who, svc: With) -> app.WorkLists:
    """V12, V13: Vårdinbjudan, Bokningsbegäran, Uppföljning of one clinic."""
    async with svc.audited(who, "clinic.work_lists", clinic_id=clinic_id):
        who.require_clinic(clinic_id)
        app.check_clinic(svc.stores.directory, clinic_id)
        return await app.work_lists(svc.client, clinic_id)
