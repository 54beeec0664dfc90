"""FHIR R4 for booking systems: `Appointment` books, moves and cancels a visit's SMS reminder;
`Communication` shows the reminder's messages.

    PUT /fhir/Appointment/{id}                       book (201), reschedule, SMS flag, cancel, no-op (200)
    GET /fhir/Appointment/{id}                       the last accepted resource (meta.versionId, lastUpdated)
    GET /fhir/Communication?based-on=Appointment/{id}   the reminder's messages, a searchset Bundle

Bodies are `application/fhir+json` (or `application/json`); answers are `application/fhir+json`, and
every refusal is an `OperationOutcome` (`entrypoints/http/problems.py`). The mapping of an Appointment
(participants, HSA-id, the channel and SMS-flag extensions) is in `entrypoints/http/fhir_mapping.py`.

A PUT on an existing booking compares with the reminder's status: a new `start` reschedules (S15), a
new SMS flag sets it (S10; S8: never off for 1177), a cancelling status cancels (S15), the same
booking again changes nothing. The patient, the reception and the channel of a booking cannot change
(409: cancel it and book anew under another id). The caller's clinic is checked, against the body's
reception and the existing booking, before anything starts or changes; every call is audited.
"""

from __future__ import annotations

import asyncio
import json
from datetime import UTC, datetime
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request, Response, status
from starlette.exceptions import HTTPException

import application as app
from adapters.fhir_appointments import StoredAppointment, fhir_instant
from contracts.workflow_ids import SCOPE, IdKind, IssuedId
from domain.identity import mask_patient_id, parse_patient_id
from domain.status import BookingView, ReminderState, ReminderStatus
from domain.types import SYSTEM_ID_PATTERN, SystemId
from entrypoints.http.auth import Caller, caller
from entrypoints.http.fhir_mapping import (
    PATIENT_SYSTEMS,
    AppointmentPut,
    communications,
    map_appointment,
    parse_appointment,
)
from entrypoints.http.problems import FHIR_JSON
from entrypoints.http.service import Service, service

router = APIRouter(prefix="/fhir", tags=["FHIR R4"])
Who = Annotated[Caller, Depends(caller)]
With = Annotated[Service, Depends(service)]

ACCEPTED_TYPES = ("application/fhir+json", "application/json")
PUT_ACTION = "fhir.appointment.put"
GET_ACTION = "fhir.appointment.get"
SEARCH_ACTION = "fhir.communication.search"

RESOURCE_BODY = {
    "requestBody": {
        "required": True,
        "description": "a FHIR R4 Appointment (id = the booking id of the URL)",
        "content": {t: {"schema": {"type": "object"}} for t in ACCEPTED_TYPES},
    }
}
FHIR_ANSWER: dict[int | str, dict[str, Any]] = {
    200: {"content": {FHIR_JSON: {}}, "description": "the resource"}
}


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


def _check_content_type(request: Request) -> None:
    media_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if media_type not in ACCEPTED_TYPES:
        raise HTTPException(415, f"send the resource as {' or '.join(ACCEPTED_TYPES)}")


async def _reminder(svc: Service, workflow_id: str) -> ReminderStatus | None:
    try:
        found = await app.status(svc.client, workflow_id)
    except app.NotFoundError:
        return None
    if not isinstance(found, ReminderStatus):
        raise app.RejectedError(f"'{workflow_id}' is not the reminder of one booking")
    return found


def _booking_of(reminder: ReminderStatus, booking_id: str) -> BookingView:
    view = next((b for b in reminder.bookings if b.booking_id == booking_id), None)
    if view is None or len(reminder.bookings) != 1:
        raise app.RejectedError(f"booking '{booking_id}' is part of a team visit: change it through /v1")
    return view


def _same_patient(put: AppointmentPut, reminder: ReminderStatus, stored: StoredAppointment | None) -> bool:
    if stored is None:  # booked through another door: the status shows the masked id only
        return mask_patient_id(put.patient_id) == reminder.patient
    return _stored_patient(stored) == put.patient_id


def _stored_patient(stored: StoredAppointment) -> str | None:
    for participant in stored.resource.get("participant", []):
        identifier = (participant.get("actor") or {}).get("identifier") or {}
        if identifier.get("system") in PATIENT_SYSTEMS and identifier.get("value"):
            return parse_patient_id(identifier["value"]).value
    return None


async def _change(
    svc: Service,
    put: AppointmentPut,
    workflow_id: str,
    booking_id: str,
    reminder: ReminderStatus,
    stored: StoredAppointment | None,
) -> None:
    """An existing booking: cancel, or reschedule and/or set the SMS flag, or nothing."""
    view = _booking_of(reminder, booking_id)
    already_cancelled = view.cancelled or reminder.state is ReminderState.CANCELLED
    if put.cancels:
        if not already_cancelled:
            await app.cancel(svc.client, workflow_id, reason=put.status)
        return
    if (put.clinic_id, put.reception_id) != (reminder.clinic_id, reminder.reception_id):
        raise app.RejectedError(
            f"booking '{booking_id}' is at {reminder.clinic_id}/{reminder.reception_id}: a booking cannot "
            "move to another reception (cancel it and book anew under another id)"
        )
    if not _same_patient(put, reminder, stored):
        raise app.RejectedError(
            f"booking '{booking_id}' is another patient's: cancel it and book anew under another id"
        )
    if put.channel.value != view.channel:
        raise app.RejectedError(
            f"booking '{booking_id}' was booked with channel {view.channel}: the channel cannot change"
        )
    if already_cancelled:
        raise app.EndedError(f"booking '{booking_id}' is cancelled: book anew under another id")
    booking = put.booking(booking_id)  # S8 and the other rules of a booking
    moved = booking.start != reminder.start
    if moved:
        app.check_future(booking.start)  # before any change: all of the PUT or nothing
        await app.reschedule(svc.client, workflow_id, booking.start)
    if booking.sms_flag != view.sms_flag:
        await app.set_sms_flag(svc.client, workflow_id, booking.sms_flag)


@router.put(
    "/Appointment/{appointment_id}",
    status_code=status.HTTP_200_OK,
    openapi_extra=RESOURCE_BODY,
    responses={**FHIR_ANSWER, 201: {"content": {FHIR_JSON: {}}, "description": "booked"}},
)
async def put_appointment(appointment_id: SystemId, request: Request, who: Who, svc: With) -> Response:
    """Book (201), reschedule, change the SMS flag or cancel (200) the visit `appointment_id`."""
    try:
        _check_content_type(request)
        appointment = parse_appointment(await request.body(), appointment_id)
        put = await asyncio.to_thread(map_appointment, appointment, svc.stores.directory)
    except Exception:
        asked = svc.asked_for(IssuedId(IdKind.VISIT, appointment_id), await svc.clinics_of(who))
        async with svc.audited(who, PUT_ACTION, *asked):  # the refusal is audited too
            raise
    async with svc.audited(who, PUT_ACTION, clinic_id=put.clinic_id) as entry:
        who.require_clinic(put.clinic_id)
        issued = IssuedId(IdKind.VISIT, appointment_id)
        legacy = await app.own_legacy(svc.client, issued, put.clinic_id)
        workflow_id = entry.workflow_id = legacy or issued.at(put.clinic_id)
        store = svc.stores.fhir_appointments
        key = appointment_id if legacy else _store_key(put.clinic_id, appointment_id)
        stored = await asyncio.to_thread(store.get, key)
        reminder = await _reminder(svc, workflow_id)
        if reminder is not None:
            await _change(svc, put, workflow_id, appointment_id, reminder, stored)
        elif put.cancels:
            raise app.NotFoundError(f"no booked visit '{appointment_id}' to cancel")
        else:
            booking = put.booking(appointment_id)
            await app.book_visit(svc.client, svc.settings.task_queue, svc.stores.directory, booking)
        saved = await asyncio.to_thread(store.save, key, put.clinic_id, put.resource)
    created = reminder is None
    return _stored_response(saved, status.HTTP_201_CREATED if created else status.HTTP_200_OK)


def _store_key(clinic_id: str, appointment_id: str) -> str:
    """An Appointment is stored under its clinic and id (ids are scoped by the clinic that issued
    them); those stored before ids were scoped keep their id alone as key."""
    return f"{clinic_id}{SCOPE}{appointment_id}"


@router.get("/Appointment/{appointment_id}", responses=FHIR_ANSWER, response_class=Response)
async def get_appointment(appointment_id: SystemId, who: Who, svc: With) -> Response:
    """The last Appointment accepted for `appointment_id` at the caller's clinics (404 if none was,
    whatever another clinic stored under that id)."""
    clinics = await svc.clinics_of(who)
    async with svc.audited(
        who, GET_ACTION, *svc.asked_for(IssuedId(IdKind.VISIT, appointment_id), clinics)
    ) as entry:
        stored = await asyncio.to_thread(_stored, svc, clinics, appointment_id)
        if stored is None:
            raise app.NotFoundError(f"no Appointment '{appointment_id}'")
        entry.clinic_id = stored.clinic_id
        entry.workflow_id = IssuedId(IdKind.VISIT, appointment_id).at(stored.clinic_id)
    return _stored_response(stored)


def _stored(svc: Service, clinics: list[str], appointment_id: str) -> StoredAppointment | None:
    store = svc.stores.fhir_appointments
    found = [s for c in clinics if (s := store.get(_store_key(c, appointment_id))) is not None]
    if len(found) > 1:
        raise app.InputError(f"Appointment '{appointment_id}' was stored by several of your clinics")
    if found:
        return found[0]
    legacy = store.get(appointment_id)
    return legacy if legacy is not None and legacy.clinic_id in clinics else None


@router.get("/Communication", responses=FHIR_ANSWER, response_class=Response)
async def search_communications(
    request: Request,
    who: Who,
    svc: With,
    based_on: Annotated[
        str,
        Query(alias="based-on", pattern=f"^Appointment/{SYSTEM_ID_PATTERN}$", description="Appointment/<id>"),
    ],
) -> Response:
    """The reminder's messages (sent, skipped with the reason, failed) as a searchset Bundle of
    Communications, numbers masked."""
    booking_id = based_on.removeprefix("Appointment/")
    async with svc.on_workflow(who, SEARCH_ACTION, IssuedId(IdKind.VISIT, booking_id)) as found:
        reminder = found.status
        if not isinstance(reminder, ReminderStatus):
            raise app.NotFoundError(f"no reminder of Appointment '{booking_id}'")
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
