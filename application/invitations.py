"""Use cases of care invitations and plain booking requests (V1–V14): create, convert, change, book,
record a contact. An open request is named by its request id (`application.targets.Target`)."""

from __future__ import annotations

from datetime import UTC, datetime, time

import structlog
from temporalio.client import Client
from temporalio.common import TypedSearchAttributes

from adapters.directory import Directory
from application import workflow_calls as calls
from application.checks import check_future, check_request, check_window
from application.errors import InputError
from application.offered_times import SlotStore
from application.slot_booking import book_slot
from application.starts import Started, issued_by, start_once, workflow_id_for
from application.targets import Target, workflow_of
from contracts import search_attributes as search
from domain.invitation import (
    CareInvitation,
    Contact,
    Conversion,
    InvitationBooking,
    InvitationStart,
    InvitationState,
    InvitationStatus,
    RequestChange,
    initial_state,
    work_list,
)
from domain.invitation_offer import RequestBooking
from domain.invitation_schedule import next_step
from domain.markdown import workflow_summary
from workflows.request.generations import CareRequestV3
from workflows.request.process import Request

log = structlog.get_logger(__name__)


async def create_request(
    client: Client, task_queue: str, directory: Directory, request: CareInvitation
) -> Started:
    """Start a care invitation, or a plain booking request when `invitation` is false (V11, V12).

    The same request again starts nothing and is not an error (`new` False); a request id used at the
    clinic with other content is refused (ConflictError)."""
    clinic = check_request(directory, request)
    issued = issued_by(request)
    workflow_id = await workflow_id_for(client, issued, request.clinic_id)
    kind = "Care invitation" if request.invitation else "Booking request"
    return await start_once(
        client,
        CareRequestV3.run,
        InvitationStart(**dict(request), invitation_send_time=clinic.invitation_send_time),
        request=request,
        issued=issued,
        id=workflow_id,
        task_queue=task_queue,
        static_summary=workflow_summary(kind, workflow_id, request),
        search_attributes=_request_attributes(request, clinic.invitation_send_time),
    )


def _request_attributes(request: CareInvitation, send_time: time) -> TypedSearchAttributes:
    """The request's search attributes at start (its place, state and work list, V12, and an
    invitation's first message as the workflow will plan it, V3), so that its first task need not
    upsert them (it upserts only what differs: a message due at once, V4, is sent first)."""
    state = initial_state(request)
    now = datetime.now(UTC)
    first = next_step(request.window, send_time, {}, now)
    planned = state is InvitationState.SCHEDULED and first.at > now
    return search.at_start(
        [
            *search.request_place(request.clinic_id, request.reception_id),
            *search.progress(state.value, first.step.value if planned else None, first.at),
            search.WORK_LIST.value_set(work_list(state).value),
        ]
    )


async def convert_request(client: Client, target: Target, conversion: Conversion) -> InvitationStatus:
    """V11: "Ändra begäran – vårdinbjudan" (a new window must not have ended)."""
    workflow_id = await workflow_of(client, target)
    if conversion.window is not None:
        check_window(conversion.window)
    return await calls.update(client, workflow_id, Request.convert, conversion)


async def change_request(client: Client, target: Target, change: RequestChange) -> InvitationStatus:
    """V10: staff change the window or the limits of an open request (a new window must not have ended)."""
    workflow_id = await workflow_of(client, target)
    if change.window is not None:
        check_window(change.window)
    return await calls.update(client, workflow_id, Request.change_request, change)


async def book_invitation(
    client: Client,
    target: Target,
    booking: InvitationBooking | RequestBooking,
    slots: SlotStore | None = None,
) -> InvitationStatus:
    """V7–V9: the invitation is booked by the patient (checked against V8) or by staff, at a start or
    at one of its offered times (`RequestBooking.slot_id`: the slot is taken, `application.slot_booking`)."""
    if isinstance(booking, RequestBooking):
        if booking.slot_id is not None:
            if slots is None:
                raise InputError("booking by slot_id needs the clinics' slots")
            return await book_slot(client, slots, target, booking)
        assert booking.start is not None  # the model requires a start or a slot
        booking = booking.at(booking.start)
    workflow_id = await workflow_of(client, target)
    check_future(booking.start)
    return await calls.update(client, workflow_id, Request.book, booking)


async def record_contact(client: Client, target: Target, contact: Contact) -> str:
    """V7: the patient contacted the clinic; returns the workflow it was recorded in."""
    workflow_id = await workflow_of(client, target)
    await calls.signal(client, workflow_id, Request.contacted, contact)
    return workflow_id
