"""FHIR R4 `Slot` from the booking system (issue 27, V8 the offer): a PUT states one bookable time of a
reception, free or busy; the free ones that fit a request are its offered times
(`GET /v1/requests/{id}/offered-times`).

    PUT /fhir/Slot/{id}      new (201) or replaced (200); the answer is the resource as accepted
    GET /fhir/Slot?request={request id}&_count=&_offset=
                             the request's offered times, a searchset Bundle of free Slots (paged)

The body is validated with `fhir.resources.R4B.slot.Slot`, then mapped:

- `id`: the slot id (it must equal the id of the URL); ids are scoped by the clinic.
- `schedule.identifier`: the reception's HSA-id (system `urn:oid:1.2.752.29.4.19`) in the directory,
  which also names the clinic: the reception's schedule is named by the reception.
- `serviceType`: one, whose `text` is the visit type, as the requests name it (`visit_type`).
- `status`: `free` is offered; `busy`, `busy-unavailable`, `busy-tentative` and `entered-in-error`
  are not. `start` and `end` (instants with an offset), the end after the start.

The search answers the same slots as `GET /v1/requests/{id}/offered-times` (same rule and order, any
visit length), built and validated with `fhir.resources.R4B`; `request` is a custom search parameter
(R4 Slot has none that names a request), `_count` (1–100, default 20) and `_offset` page it, and the
Bundle's `next` link names the next page. Another clinic's request id is unknown (404).

A Slot holds no patient data; messages still name elements and rules, not values.
"""

from __future__ import annotations

import asyncio
import json
import re
from datetime import UTC, datetime
from typing import Annotated, Any
from urllib.parse import urlencode

from fastapi import APIRouter, Depends, Query, Request, Response, status
from fhir.resources.R4B.bundle import Bundle
from fhir.resources.R4B.slot import Slot as FhirSlot
from pydantic import ValidationError

from application import InputError, targets
from application.fhir_appointments import fhir_instant
from application.offered_times import MAX_PAGE, SlotPage, offered_slot_page, put_slot
from domain.directory import HSA_ID_PATTERN
from domain.invitation_offer import Slot
from domain.types import SystemId, describe_validation_error
from entrypoints.http.fhir import ACCEPTED_TYPES, check_content_type, fhir_response
from entrypoints.http.fhir_mapping import HSA_ID, ReceptionLookup, describe_fhir_error, json_body
from entrypoints.http.openapi import refusals
from entrypoints.http.schemas import SLOT_STATUSES
from entrypoints.shared.auth import Caller, caller
from entrypoints.shared.context import RequestContext, caller_context

router = APIRouter(prefix="/fhir", tags=["FHIR R4"])
Who = Annotated[Caller, Depends(caller)]
With = Annotated[RequestContext, Depends(caller_context)]

PUT_ACTION = "fhir.slot.put"
SEARCH_ACTION = "fhir.slot.search"
FREE = "free"
SLOT_BODY = {
    "requestBody": {
        "required": True,
        "description": "a FHIR R4 Slot (id = the slot id of the URL)",
        "content": {t: {"schema": {"type": "object"}} for t in ACCEPTED_TYPES},  # the document's `Slot`
    }
}
_SLOT_SCHEMA = {
    "type": "object",
    "required": ["resourceType"],
    "properties": {"resourceType": {"const": "Slot"}},
}
SLOT_ANSWER = {"content": {"application/fhir+json": {"schema": _SLOT_SCHEMA}}, "description": "replaced"}
_BUNDLE_SCHEMA = {
    "type": "object",
    "required": ["resourceType", "type", "total"],
    "properties": {"resourceType": {"const": "Bundle"}, "type": {"const": "searchset"}},
}
BUNDLE_ANSWER = {
    "content": {"application/fhir+json": {"schema": _BUNDLE_SCHEMA}},
    "description": "a searchset Bundle of the request's offered Slots, earliest first (a `next` link "
    "while more follow)",
}


def parse_slot(body: bytes, slot_id: str) -> FhirSlot:
    """The body as a validated R4 Slot whose id is the URL's (422 otherwise)."""
    data = json_body(body)
    if not isinstance(data, dict) or data.get("resourceType") != "Slot":
        raise InputError("the body must be a FHIR Slot resource (resourceType 'Slot')")
    try:
        slot = FhirSlot.model_validate(data)
    except ValidationError as err:
        raise InputError(f"invalid Slot: {describe_fhir_error(err)}") from None
    for element in ("start", "end"):  # FHIR's JSON: an instant is a string (the model reads numbers too)
        if not isinstance(data.get(element), str):
            raise InputError(
                f"invalid Slot: {element}: an instant (a JSON string with an offset) is required"
            )
    if slot.id != slot_id:
        raise InputError("the Slot's id must equal the id of the URL")
    return slot


def map_slot(resource: FhirSlot, directory: ReceptionLookup) -> Slot:
    """The slot a validated FHIR Slot states (422 for anything this service cannot map)."""
    if resource.status not in SLOT_STATUSES:
        raise InputError(f"Slot status must be one of {', '.join(SLOT_STATUSES)}")
    if resource.modifierExtension:
        raise InputError("modifierExtension is not supported")
    identifier = resource.schedule.identifier if resource.schedule is not None else None
    if identifier is None or identifier.system != HSA_ID or not identifier.value:
        raise InputError(f"the Slot's schedule.identifier must be the reception's HSA-id (system {HSA_ID})")
    found = (
        directory.receptions_by_hsa_id(identifier.value)
        if re.fullmatch(HSA_ID_PATTERN, identifier.value)
        else []
    )
    if len(found) != 1:
        raise InputError("the Slot's schedule.identifier names no single reception of the directory")
    clinic, reception = found[0]
    texts = [s.text for s in resource.serviceType or []]
    if len(texts) != 1 or not texts[0] or not texts[0].strip():
        raise InputError("the Slot needs one serviceType whose text is the visit type")
    try:
        return Slot(
            slot_id=resource.id,
            clinic_id=clinic.clinic_id,
            reception_id=reception.reception_id,
            visit_type=texts[0],
            start=resource.start,
            end=resource.end,
            free=resource.status == FREE,
        )
    except ValidationError as err:
        raise InputError(f"invalid Slot: {describe_validation_error(err)}") from None


@router.put(
    "/Slot/{slot_id}",
    status_code=status.HTTP_200_OK,
    openapi_extra=SLOT_BODY,
    responses={200: SLOT_ANSWER, 201: {**SLOT_ANSWER, "description": "new"}, **refusals(403, 415)},
    response_class=Response,
)
async def put_fhir_slot(slot_id: SystemId, request: Request, who: Who, ctx: With) -> Response:
    """A reception's bookable time, free (offered to fitting requests) or busy: new (201) or replaced
    (200). The same Slot again changes nothing."""
    async with ctx.audited(who, PUT_ACTION) as entry:
        check_content_type(request)
        resource = parse_slot(await request.body(), slot_id)
        slot = await asyncio.to_thread(map_slot, resource, ctx.stores.directory)
        entry.clinic_id = slot.clinic_id
        who.require_clinic(slot.clinic_id)
        created = await put_slot(ctx.stores.slots, slot)
    accepted = json.loads(resource.model_dump_json())
    return fhir_response(accepted, status.HTTP_201_CREATED if created else status.HTTP_200_OK)


@router.get(
    "/Slot",
    responses={200: BUNDLE_ANSWER, **refusals((404, "no request of the id at the caller's clinics"))},
    response_class=Response,
)
async def search_slots(
    request: Request,
    who: Who,
    ctx: With,
    for_request: Annotated[
        SystemId, Query(alias="request", description="the request id (custom search parameter)")
    ],
    count: Annotated[int, Query(alias="_count", ge=1, le=MAX_PAGE, description="Slots per page")] = 20,
    offset: Annotated[int, Query(alias="_offset", ge=0, le=10_000, description="Slots skipped")] = 0,
) -> Response:
    """V8, the offer: the free Slots that fit the request's window, weekdays and time of day, earliest
    first, as a searchset Bundle (none once the request is booked, cancelled or closed)."""
    async with ctx.on_workflow(who, SEARCH_ACTION, targets.request(for_request)) as target:
        page = await offered_slot_page(
            ctx.client, ctx.stores.slots, ctx.stores.directory, target, offset=offset, count=count
        )
    return fhir_response(searchset(page, str(request.base_url), count, offset))


def searchset(page: SlotPage, base_url: str, count: int, offset: int) -> dict[str, Any]:
    """The page as an R4 searchset Bundle (validated by `fhir.resources`), with `self` and `next` links."""

    def link(relation: str, at: int) -> dict[str, str]:
        query = urlencode({"request": page.request_id, "_count": count, "_offset": at})
        return {"relation": relation, "url": f"{base_url}fhir/Slot?{query}"}

    links = [link("self", offset)]
    if offset + count < page.total:
        links.append(link("next", offset + count))
    bundle = {
        "resourceType": "Bundle",
        "type": "searchset",
        "timestamp": fhir_instant(datetime.now(UTC)),
        "total": page.total,
        "link": links,
        "entry": [
            {
                "fullUrl": f"{base_url}fhir/Slot/{slot.slot_id}",
                "resource": fhir_slot(slot, page.hsa_id),
                "search": {"mode": "match"},
            }
            for slot in page.slots
        ],
    }
    return json.loads(Bundle.model_validate(bundle).model_dump_json())


def fhir_slot(slot: Slot, hsa_id: str | None) -> dict[str, Any]:
    """An offered slot as the R4 Slot the booking system sent (its reception by HSA-id)."""
    schedule = (
        {"identifier": {"system": HSA_ID, "value": hsa_id}}
        if hsa_id
        else {"display": f"reception {slot.reception_id}"}
    )
    return {
        "resourceType": "Slot",
        "id": slot.slot_id,
        "schedule": schedule,
        "serviceType": [{"text": slot.visit_type}],
        "status": FREE if slot.free else "busy",
        "start": slot.start.isoformat(),
        "end": slot.end.isoformat(),
    }
