"""FHIR R4 for booking systems: `Appointment` books, moves and cancels a visit's SMS reminder;
`Communication` shows the reminder's messages.

    PUT /fhir/Appointment/{id}                       book (201), reschedule, SMS flag, cancel, no-op (200)
    GET /fhir/Appointment/{id}                       the last accepted resource (meta.versionId, lastUpdated)
    GET /fhir/Communication?based-on=Appointment/{id}   the reminder's messages, a searchset Bundle

Bodies are `application/fhir+json` (or `application/json`); answers are `application/fhir+json`, and
every refusal is an `OperationOutcome` (`entrypoints/shared/problems.py`). The mapping of an Appointment
(participants, HSA-id, the channel and SMS-flag extensions) is in `entrypoints/http/fhir_mapping.py`.

What a PUT does to an existing booking (reschedule, SMS flag, cancel, nothing, or 409 for another
patient, reception or channel) is the use case's (`application/fhir_appointments.py`). The caller's
clinic is checked, against the body's reception, before anything starts or changes; every call is
audited.
"""

from __future__ import annotations

import asyncio
import json
from datetime import UTC, datetime
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request, Response, status
from starlette.exceptions import HTTPException

from application import fhir_appointments, targets
from application.fhir_appointments import StoredAppointment, fhir_instant
from domain.types import SYSTEM_ID_PATTERN, SystemId
from entrypoints.http.fhir_mapping import communications, map_appointment, parse_appointment
from entrypoints.http.openapi import refusals
from entrypoints.shared.auth import Caller, caller
from entrypoints.shared.context import RequestContext, caller_context
from entrypoints.shared.problems import FHIR_JSON

router = APIRouter(prefix="/fhir", tags=["FHIR R4"])
Who = Annotated[Caller, Depends(caller)]
With = Annotated[RequestContext, Depends(caller_context)]

ACCEPTED_TYPES = ("application/fhir+json", "application/json")
PUT_ACTION = "fhir.appointment.put"
GET_ACTION = "fhir.appointment.get"
SEARCH_ACTION = "fhir.communication.search"

RESOURCE_BODY = {
    "requestBody": {
        "required": True,
        "description": "a FHIR R4 Appointment (id = the booking id of the URL)",
        "content": {
            t: {"schema": {"type": "object"}} for t in ACCEPTED_TYPES
        },  # the document's `Appointment`
    }
}
VERSION_HEADERS = {
    "ETag": {"required": True, "schema": {"type": "string"}, "description": 'the version, `W/"<n>"`'},
    "Last-Modified": {"required": True, "schema": {"type": "string"}},
}


def _resource(resource_type: str, description: str, **headers: Any) -> dict[str, Any]:
    schema = {
        "type": "object",
        "required": ["resourceType"],
        "properties": {"resourceType": {"const": resource_type}},
    }
    return {"content": {FHIR_JSON: {"schema": schema}}, "description": description, "headers": headers}


APPOINTMENT = _resource("Appointment", "the Appointment as accepted last", **VERSION_HEADERS)
BUNDLE = _resource("Bundle", "a searchset Bundle of the reminder's Communications")
CREATED = _resource(
    "Appointment",
    "booked",
    Location={"required": True, "schema": {"type": "string"}, "description": "its version's URL"},
    **VERSION_HEADERS,
)


def fhir_response(resource: dict[str, Any], status_code: int = 200, **headers: str) -> Response:
    content = json.dumps(resource, ensure_ascii=False, separators=(",", ":"))
    return Response(content, status_code=status_code, media_type=FHIR_JSON, headers=headers or None)


def _stored_response(stored: StoredAppointment, status_code: int = 200) -> Response:
    headers = {"ETag": f'W/"{stored.version}"', "Last-Modified": _http_date(stored.last_updated)}
    if status_code == status.HTTP_201_CREATED:
        headers["Location"] = f"/fhir/Appointment/{stored.resource.get('id')}/_history/{stored.version}"
    return fhir_response(stored.resource, status_code, **headers)


def _http_date(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%a, %d %b %Y %H:%M:%S GMT")


def check_content_type(request: Request) -> None:
    media_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if media_type not in ACCEPTED_TYPES:
        raise HTTPException(415, f"send the resource as {' or '.join(ACCEPTED_TYPES)}")


@router.put(
    "/Appointment/{appointment_id}",
    status_code=status.HTTP_200_OK,
    openapi_extra=RESOURCE_BODY,
    responses={
        200: APPOINTMENT,
        201: CREATED,
        **refusals(
            403, (404, "no booked visit to cancel"), (409, "another patient, reception or channel"), 415
        ),
    },
)
async def put_appointment(appointment_id: SystemId, request: Request, who: Who, ctx: With) -> Response:
    """Book (201), reschedule, change the SMS flag or cancel (200) the visit `appointment_id`."""
    try:
        check_content_type(request)
        appointment = parse_appointment(await request.body(), appointment_id)
        put = await asyncio.to_thread(map_appointment, appointment, ctx.stores.directory)
    except Exception:
        asked = targets.asked_for(targets.visit(appointment_id), await ctx.clinics_of(who))
        async with ctx.audited(who, PUT_ACTION, *asked):  # the refusal is audited too
            raise
    async with ctx.audited(who, PUT_ACTION, clinic_id=put.clinic_id) as entry:
        who.require_clinic(put.clinic_id)
        done = await fhir_appointments.put_appointment(
            ctx.client,
            ctx.settings.task_queue,
            ctx.stores.directory,
            ctx.stores.fhir_appointments,
            appointment_id,
            put,
            seen=entry,
        )
    return _stored_response(done.stored, status.HTTP_201_CREATED if done.created else status.HTTP_200_OK)


@router.get(
    "/Appointment/{appointment_id}",
    responses={
        200: APPOINTMENT,
        **refusals((404, "no Appointment accepted under the id at the caller's clinics")),
    },
    response_class=Response,
)
async def get_appointment(appointment_id: SystemId, who: Who, ctx: With) -> Response:
    """The last Appointment accepted for `appointment_id` at the caller's clinics (404 if none was,
    whatever another clinic stored under that id)."""
    clinics = await ctx.clinics_of(who)
    asked = targets.asked_for(targets.visit(appointment_id), clinics)
    async with ctx.audited(who, GET_ACTION, *asked) as entry:
        stored = await fhir_appointments.stored_appointment(
            ctx.stores.fhir_appointments, appointment_id, clinics, seen=entry
        )
    return _stored_response(stored)


@router.get(
    "/Communication",
    responses={200: BUNDLE, **refusals((404, "no reminder of the Appointment at the caller's clinics"))},
    response_class=Response,
)
async def search_communications(
    request: Request,
    who: Who,
    ctx: With,
    based_on: Annotated[
        str,
        Query(alias="based-on", pattern=f"^Appointment/{SYSTEM_ID_PATTERN}$", description="Appointment/<id>"),
    ],
) -> Response:
    """The reminder's messages (sent, skipped with the reason, failed) as a searchset Bundle of
    Communications, numbers masked."""
    booking_id = based_on.removeprefix("Appointment/")
    async with ctx.on_workflow(who, SEARCH_ACTION, targets.visit(booking_id)) as target:
        reminder = await fhir_appointments.appointment_reminder(ctx.client, target)
    base = f"{request.base_url}fhir/Communication/"
    entries = [
        {**({"fullUrl": f"{base}{c['id']}"} if "id" in c else {}), "resource": c, "search": {"mode": "match"}}
        for c in communications(booking_id, reminder.messages)
    ]
    bundle = {
        "resourceType": "Bundle",
        "type": "searchset",
        "timestamp": fhir_instant(datetime.now(UTC)),
        "total": len(entries),
        "entry": entries,
    }
    return fhir_response(bundle)
