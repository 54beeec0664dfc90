"""The times offered to the patient (issue 27, V8 the offer): the clinic's free slots that fit a request.

A slot is offered iff the patient could book a visit at its start (the V8 check of `domain.invitation`,
so the offer and the refusal can never disagree), it is free, it is the request's clinic, reception and
visit type, it is long enough for the visit and it starts after `now`. Pure code: no I/O, no Temporal.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime, timedelta
from typing import Protocol

from pydantic import ConfigDict, field_validator, model_validator

from domain.invitation import BookedBy, BookingLimits, InvitationBooking, VisitType, v8_refusal
from domain.timing import to_local
from domain.types import ContractModel, Moment, SystemId


class OfferFor(BookingLimits, Protocol):
    """What the offer reads of a request (a `CareInvitation` or its `InvitationStatus`): V8's limits
    and the clinic, reception and visit type its slots must be of."""

    @property
    def clinic_id(self) -> str: ...

    @property
    def reception_id(self) -> str: ...

    @property
    def visit_type(self) -> str: ...


class Slot(ContractModel):
    """One bookable time of a clinic's reception for one visit type, as the booking system publishes
    it (FHIR `Slot`); `free` is false once booked (FHIR status `busy`)."""

    slot_id: SystemId
    clinic_id: SystemId
    reception_id: SystemId
    visit_type: VisitType
    start: Moment
    end: Moment
    free: bool = True

    _fixed_offset = field_validator("start", "end")(to_local)
    """Kept with the fixed Stockholm offset (`domain.timing.to_local`): they compare and subtract by
    real time, also in the repeated autumn hour."""

    @model_validator(mode="after")
    def _ordered(self) -> Slot:
        if self.end <= self.start:
            raise ValueError("a slot's end must be after its start")
        return self

    @property
    def length(self) -> timedelta:
        """The slot's real duration (instants subtract by real time, also across a DST change)."""
        return self.end - self.start


def is_for(request: OfferFor, slot: Slot) -> bool:
    """True iff `slot` is of the request's clinic, reception and visit type (free or not)."""
    return (slot.clinic_id, slot.reception_id, slot.visit_type) == (
        request.clinic_id,
        request.reception_id,
        request.visit_type,
    )


def fits(request: OfferFor, slot: Slot, visit_length: timedelta, now: datetime) -> bool:
    """True iff `slot` may be offered for `request`: free, of its clinic, reception and visit type, at
    least `visit_length` long, starting after `now` (S15) and passing V8 at its start."""
    return (
        slot.free
        and is_for(request, slot)
        and slot.length >= visit_length
        and slot.start > to_local(now)
        and v8_refusal(request, slot.start) is None
    )


def offered_slots(
    request: OfferFor, slots: Iterable[Slot], visit_length: timedelta, now: datetime
) -> list[Slot]:
    """The slots that fit `request` (see `fits`), earliest first (ties by slot id, so pages are stable)."""
    if visit_length <= timedelta(0):
        raise ValueError("a visit's length must be positive")
    chosen = [slot for slot in slots if fits(request, slot, visit_length, now)]
    return sorted(chosen, key=lambda slot: (slot.start, slot.slot_id))


SLOT_AND_START_DIFFER = "slot_id and start name different times: give one, or the slot's start"


class RequestBooking(ContractModel):
    """The body of `POST /v1/requests/{id}/booking`: the booking of an invitation (V7–V9) at a `start`,
    or at an offered time named by its `slot_id` (the slot is taken for the booking); both given must
    name the same time."""

    booking_id: SystemId
    start: Moment | None = None
    slot_id: SystemId | None = None
    by: BookedBy

    model_config = ConfigDict(
        json_schema_extra={
            "anyOf": [  # a time: a start or an offered slot, as the document states it
                {"properties": {name: {"not": {"type": "null"}}}, "required": [name]}
                for name in ("start", "slot_id")
            ]
        }
    )

    @model_validator(mode="after")
    def _a_time(self) -> RequestBooking:
        if self.start is None and self.slot_id is None:
            raise ValueError("a booking needs start or slot_id (one of the request's offered times)")
        return self

    def at(self, start: datetime) -> InvitationBooking:
        """The update `book` at `start` (the slot's start when a slot is named)."""
        if self.start is not None and self.start != start:
            raise ValueError(SLOT_AND_START_DIFFER)
        return InvitationBooking(booking_id=self.booking_id, start=start, by=self.by)
