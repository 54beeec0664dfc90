"""Booking an offered time (issue 27, V8 the offer): the slot a request was offered is taken for the
booking, then the request is booked at the slot's start (its update validator still checks V8).

Of two bookings of one slot exactly one takes it (`SlotStore.take`, one conditional UPDATE); the other
is refused with `SlotTakenError` (409) and changes nothing. A booking the workflow refuses gives its
slot back (`release`), unless the request stands booked by this very booking (a repeat, or its twin
sent at the same moment), so a refusal never frees a booked time. The taker kept with the slot is
`<request id>/<booking id>`: system ids, no patient data.
"""

from __future__ import annotations

import asyncio

import structlog
from temporalio.client import Client
from temporalio.service import RPCError

from adapters.slots import Take
from application import workflow_calls as calls
from application.checks import check_future
from application.errors import InputError, NotFoundError, RejectedError
from application.offered_times import SlotStore
from application.targets import Target, locate
from domain.invitation import InvitationStatus
from domain.invitation_offer import RequestBooking, Slot, is_for
from workflows.request.process import Request

log = structlog.get_logger(__name__)


class SlotTakenError(RejectedError):
    """The time is no longer free: another booking took it, or the booking system marked it busy."""


def taker(request_id: str, booking_id: str) -> str:
    """Who holds a taken slot: the request and its booking (system ids; `/` is in neither)."""
    return f"{request_id}/{booking_id}"


async def book_slot(
    client: Client, store: SlotStore, target: Target, booking: RequestBooking
) -> InvitationStatus:
    """Take the offered slot `booking.slot_id` for the booking and book the request at its start.

    NotFoundError: no such request, or no such slot at the request's clinic (another clinic's slot is
    unknown); RejectedError: the slot is not of the request's reception and visit type; SlotTakenError:
    it is no longer free; InputError: `start` given and not the slot's, or the slot has begun."""
    assert booking.slot_id is not None
    found = await locate(client, target)
    request = found.status
    if not isinstance(request, InvitationStatus):
        raise NotFoundError(f"no request '{target.issued.value}'")
    slot = await asyncio.to_thread(store.get, request.clinic_id, booking.slot_id)
    if slot is None:
        raise NotFoundError(f"no slot '{booking.slot_id}' at the request's clinic")
    if not is_for(request, slot):
        raise RejectedError(
            f"slot '{slot.slot_id}' is not a time of request '{request.request_id}'"
            " (another reception or visit type)"
        )
    try:
        update = booking.at(slot.start)
    except ValueError as err:
        raise InputError(str(err)) from None
    check_future(slot.start)
    holder = taker(request.request_id, booking.booking_id)
    took = await asyncio.to_thread(store.take, slot.clinic_id, slot.slot_id, holder)
    if took is Take.UNKNOWN:
        raise NotFoundError(f"no slot '{slot.slot_id}' at the request's clinic")
    if took is Take.BUSY:
        raise SlotTakenError(f"the time is no longer free (slot '{slot.slot_id}')")
    log.info(
        "slot_taken",
        clinic_id=slot.clinic_id,
        slot_id=slot.slot_id,
        request_id=request.request_id,
        take=took.value,
    )
    workflow_id = found.workflow_id
    try:
        return await calls.update(client, workflow_id, Request.book, update)
    except InputError:  # refused (V8, not open) or ended: this call booked nothing
        await _give_back(client, store, workflow_id, slot, holder, booking.booking_id)
        raise


async def _give_back(
    client: Client, store: SlotStore, workflow_id: str, slot: Slot, holder: str, booking_id: str
) -> None:
    """Free the slot of a refused booking, unless the request stands booked by this booking at the
    slot's start (a repeat of a booking that succeeded, or its twin that got there first)."""
    try:
        now = await calls.query_status(client, workflow_id)
    except (InputError, RPCError):  # no status: the refusal stands, and this call booked nothing
        now = None
    booked = now.booked if isinstance(now, InvitationStatus) else None
    if booked is not None and booked.booking_id == booking_id and booked.start == slot.start:
        return
    freed = await asyncio.to_thread(store.release, slot.clinic_id, slot.slot_id, holder)
    log.info("slot_released", clinic_id=slot.clinic_id, slot_id=slot.slot_id, freed=freed)
