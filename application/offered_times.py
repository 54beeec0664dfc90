"""Offered times (issue 27, V8 the offer): the booking system's slots kept (`put_slot`), and the free
slots that fit an open request's window, weekdays, time of day and visit length (`offered_times`),
earliest first, a page at a time (`offered_times` for REST, `offered_slot_page` for the FHIR Slot
search, `offer_for` for the staff page). The rule is `domain.invitation_offer`; the slots are in
`adapters.slots` (behind the `SlotStore` port)."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from datetime import UTC, datetime, time, timedelta
from typing import Protocol

from pydantic import Field
from temporalio.client import Client

from adapters.slots import Take
from application.errors import NotFoundError
from application.targets import Target, locate
from domain.directory import Clinic
from domain.invitation import InvitationStatus, is_open
from domain.invitation_offer import Slot, offered_slots
from domain.timing import at_local
from domain.types import ContractModel

DEFAULT_VISIT_MINUTES = 1
"""Without `visit_minutes` every slot of the visit type is long enough: the booking system publishes
each visit type's slots at that type's length."""
MAX_PAGE = 100


class SlotStore(Protocol):
    """The clinics' slots (`adapters.slots.ClinicSlots`)."""

    def put(self, slot: Slot) -> bool: ...

    def get(self, clinic_id: str, slot_id: str) -> Slot | None: ...

    def candidates(
        self, clinic_id: str, reception_id: str, visit_type: str, start_from: datetime, start_before: datetime
    ) -> list[Slot]: ...

    def take(self, clinic_id: str, slot_id: str, taken_by: str) -> Take: ...

    def release(self, clinic_id: str, slot_id: str, taken_by: str) -> bool: ...


class ClinicLookup(Protocol):
    """The directory's clinics (`adapters.directory.Directory`), for a reception's HSA-id."""

    def clinic(self, clinic_id: str) -> Clinic | None: ...


@dataclass(frozen=True)
class SlotPage:
    """A page of the slots offered for a request, as the FHIR Slot search answers it: `hsa_id` is the
    request's reception's (None when the directory has none for it)."""

    request_id: str
    hsa_id: str | None
    total: int
    slots: list[Slot]


class OfferedTime(ContractModel):
    """One time the patient may book: the slot's id (to book it) and its start and end."""

    slot_id: str
    start: datetime
    end: datetime


class OfferedTimes(ContractModel):
    """A page of the times offered for a request, earliest first."""

    request_id: str
    visit_minutes: int = Field(description="the visit length every time offered has at least")
    total: int = Field(description="the times that fit, on every page")
    offset: int
    next_offset: int | None = Field(description="the offset of the next page; null on the last")
    times: list[OfferedTime]


async def put_slot(store: SlotStore, slot: Slot) -> bool:
    """Keep `slot` as the booking system states it (its clinic checked by the door); True when new."""
    return await asyncio.to_thread(store.put, slot)


async def offered_times(
    client: Client,
    store: SlotStore,
    target: Target,
    *,
    visit_minutes: int = DEFAULT_VISIT_MINUTES,
    offset: int = 0,
    limit: int = 20,
) -> OfferedTimes:
    """The free slots that fit the request `target` names (NotFoundError: none of its clinics issued
    it); none once it is booked, cancelled or closed."""
    request = await located_request(client, target)
    fitting = await offer_for(store, request, visit_minutes)
    page = fitting[offset : offset + limit]
    return OfferedTimes(
        request_id=request.request_id,
        visit_minutes=visit_minutes,
        total=len(fitting),
        offset=offset,
        next_offset=offset + limit if offset + limit < len(fitting) else None,
        times=[OfferedTime(slot_id=s.slot_id, start=s.start, end=s.end) for s in page],
    )


async def located_request(client: Client, target: Target) -> InvitationStatus:
    """The status of the request `target` names (NotFoundError: none of its clinics issued it)."""
    request = (await locate(client, target)).status
    if not isinstance(request, InvitationStatus):
        raise NotFoundError(f"no request '{target.issued.value}'")
    return request


async def offer_for(
    store: SlotStore, request: InvitationStatus, visit_minutes: int = DEFAULT_VISIT_MINUTES
) -> list[Slot]:
    """Every free slot that fits `request` (its status, as read already), earliest first; none once it
    is booked, cancelled or closed. The REST offer, the FHIR Slot search and the staff page read this."""
    if not is_open(request.state):
        return []
    now = datetime.now(UTC)
    start_from = max(at_local(request.window.first_date, time(0)), now)
    start_before = at_local(request.window.last_date + timedelta(days=1), time(0))
    if start_from >= start_before:
        return []
    candidates = await asyncio.to_thread(
        store.candidates,
        request.clinic_id,
        request.reception_id,
        request.visit_type,
        start_from,
        start_before,
    )
    return offered_slots(request, candidates, timedelta(minutes=visit_minutes), now)


async def offered_slot_page(
    client: Client, store: SlotStore, directory: ClinicLookup, target: Target, *, offset: int, count: int
) -> SlotPage:
    """A page of the slots offered for the request `target` names (the rule and order of
    `offered_times`, at the default visit length), with its reception's HSA-id."""
    request = await located_request(client, target)
    fitting = await offer_for(store, request)
    clinic = await asyncio.to_thread(directory.clinic, request.clinic_id)
    reception = (
        next((r for r in clinic.receptions if r.reception_id == request.reception_id), None)
        if clinic
        else None
    )
    return SlotPage(
        request_id=request.request_id,
        hsa_id=reception.hsa_id if reception else None,
        total=len(fitting),
        slots=fitting[offset : offset + count],
    )
