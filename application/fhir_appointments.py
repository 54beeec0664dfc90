"""FHIR Appointments of booking systems: a PUT books, moves, flags or cancels a visit's SMS reminder,
and the accepted resource is kept (sealed, `adapters/fhir_appointments.py`) as the Appointment's last
version; a GET answers it, at the caller's clinics only.

A PUT on an existing booking compares with the reminder's status: a new `start` reschedules (S15), a
new SMS flag sets it (S10; S8: never off for 1177), a cancelling status cancels (S15), the same
booking again changes nothing. The patient, the reception and the channel of a booking cannot change
(RejectedError: cancel it and book anew under another id). The door maps the FHIR JSON to an
`AppointmentPut` (`entrypoints/http/fhir_mapping.py`) and checks the caller's clinic first.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol

from pydantic import ValidationError
from temporalio.client import Client

from adapters.directory import Directory
from adapters.fhir_appointments import StoredAppointment, fhir_instant
from application.checks import check_future
from application.errors import EndedError, InputError, NotFoundError, RejectedError
from application.lookup import Found, own_legacy
from application.targets import Finding, Target, locate
from application.visits import book_visit, cancel, reschedule, set_sms_flag
from application.workflow_calls import query_status
from contracts.workflow_ids import SCOPE, IdKind, IssuedId
from domain.booking import Channel, VisitBooking
from domain.identity import IdKind as PatientIdKind
from domain.identity import mask_patient_id, parse_patient_id
from domain.status import BookingView, ReminderState, ReminderStatus
from domain.types import describe_validation_error

__all__ = [
    "CANCELLING",
    "PATIENT_SYSTEMS",
    "PERSONNUMMER",
    "SAMORDNINGSNUMMER",
    "AppointmentPut",
    "Upserted",
    "appointment_reminder",
    "fhir_instant",
    "put_appointment",
    "stored_appointment",
]

PERSONNUMMER = "http://electronichealth.se/identifier/personnummer"
SAMORDNINGSNUMMER = "http://electronichealth.se/identifier/samordningsnummer"
PATIENT_SYSTEMS = {
    PERSONNUMMER: PatientIdKind.PERSONNUMMER,
    SAMORDNINGSNUMMER: PatientIdKind.SAMORDNINGSNUMMER,
}
"""The identifier systems of a patient participant (HL7 Sweden base profiles)."""
CANCELLING = ("cancelled", "noshow", "entered-in-error")
"""The Appointment statuses that cancel (the status is the reason)."""


@dataclass(frozen=True)
class AppointmentPut:
    """What a PUT asks for: the validated resource and the booking it names."""

    resource: dict[str, Any]  # the FHIR JSON as accepted (without `meta.versionId`/`lastUpdated`)
    status: str
    patient_id: str  # canonical YYYYMMDD-NNNN
    clinic_id: str
    reception_id: str
    start: datetime | None
    channel: Channel
    sms_flag: bool

    @property
    def cancels(self) -> bool:
        return self.status in CANCELLING

    def booking(self, booking_id: str) -> VisitBooking:
        """The visit booking (S8 checked by the model: a 1177 booking's flag stays on)."""
        if self.start is None:
            raise InputError("a booked Appointment needs its start")
        try:
            return VisitBooking(
                booking_id=booking_id,
                patient_id=self.patient_id,
                clinic_id=self.clinic_id,
                reception_id=self.reception_id,
                start=self.start,
                channel=self.channel,
                sms_flag=self.sms_flag,
            )
        except ValidationError as err:
            raise InputError(f"invalid Appointment: {describe_validation_error(err)}") from None


class Appointments(Protocol):
    """The store of accepted Appointments (`adapters.fhir_appointments.FhirAppointments`)."""

    def get(self, appointment_id: str) -> StoredAppointment | None: ...

    def save(self, appointment_id: str, clinic_id: str, resource: dict[str, Any]) -> StoredAppointment: ...


@dataclass(frozen=True)
class Upserted:
    stored: StoredAppointment
    created: bool  # a new booking (else a change, or none)


async def put_appointment(
    client: Client,
    task_queue: str,
    directory: Directory,
    store: Appointments,
    appointment_id: str,
    put: AppointmentPut,
    seen: Finding | None = None,
) -> Upserted:
    """Book, reschedule, set the SMS flag of or cancel the visit `appointment_id` of `put.clinic_id`
    (the caller's, checked by the door), then keep the resource as its next version. All of the PUT
    or nothing: every check runs before the first change."""
    issued = IssuedId(IdKind.VISIT, appointment_id)
    legacy = await own_legacy(client, issued, put.clinic_id)
    workflow_id = legacy or issued.at(put.clinic_id)
    if seen is not None:
        seen.found(workflow_id, put.clinic_id)
    key = appointment_id if legacy else _store_key(put.clinic_id, appointment_id)
    stored = await asyncio.to_thread(store.get, key)
    reminder = await _reminder(client, workflow_id)
    if reminder is not None:
        booked = Target(issued, (put.clinic_id,), found=Found(workflow_id, reminder))
        await _change(client, put, booked, reminder, stored)
    elif put.cancels:
        raise NotFoundError(f"no booked visit '{appointment_id}' to cancel")
    else:
        await book_visit(client, task_queue, directory, put.booking(appointment_id))
    saved = await asyncio.to_thread(store.save, key, put.clinic_id, put.resource)
    return Upserted(saved, created=reminder is None)


async def stored_appointment(
    store: Appointments, appointment_id: str, clinics: list[str], seen: Finding | None = None
) -> StoredAppointment:
    """The last Appointment accepted for `appointment_id` at one of `clinics` (NotFoundError if none
    was, whatever another clinic stored under that id)."""
    stored = await asyncio.to_thread(_stored, store, clinics, appointment_id)
    if stored is None:
        raise NotFoundError(f"no Appointment '{appointment_id}'")
    if seen is not None:
        seen.found(IssuedId(IdKind.VISIT, appointment_id).at(stored.clinic_id), stored.clinic_id)
    return stored


async def appointment_reminder(client: Client, target: Target) -> ReminderStatus:
    """The reminder of the Appointment (booking) `target` names, with its messages."""
    found = await locate(client, target)
    if not isinstance(found.status, ReminderStatus):
        raise NotFoundError(f"no reminder of Appointment '{target.issued.value}'")
    return found.status


def _store_key(clinic_id: str, appointment_id: str) -> str:
    """An Appointment is stored under its clinic and id (ids are scoped by the clinic that issued
    them); those stored before ids were scoped keep their id alone as key."""
    return f"{clinic_id}{SCOPE}{appointment_id}"


def _stored(store: Appointments, clinics: list[str], appointment_id: str) -> StoredAppointment | None:
    found = [s for c in clinics if (s := store.get(_store_key(c, appointment_id))) is not None]
    if len(found) > 1:
        raise InputError(f"Appointment '{appointment_id}' was stored by several of your clinics")
    if found:
        return found[0]
    legacy = store.get(appointment_id)
    return legacy if legacy is not None and legacy.clinic_id in clinics else None


async def _reminder(client: Client, workflow_id: str) -> ReminderStatus | None:
    try:
        found = await query_status(client, workflow_id)
    except NotFoundError:
        return None
    if not isinstance(found, ReminderStatus):
        raise RejectedError(f"'{workflow_id}' is not the reminder of one booking")
    return found


def _booking_of(reminder: ReminderStatus, booking_id: str) -> BookingView:
    view = next((b for b in reminder.bookings if b.booking_id == booking_id), None)
    if view is None or len(reminder.bookings) != 1:
        raise RejectedError(f"booking '{booking_id}' is part of a team visit: change it through /v1")
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
    client: Client,
    put: AppointmentPut,
    booked: Target,
    reminder: ReminderStatus,
    stored: StoredAppointment | None,
) -> None:
    """An existing booking (`booked`, found): cancel, or reschedule and/or set the SMS flag, or nothing."""
    booking_id = booked.issued.value
    view = _booking_of(reminder, booking_id)
    already_cancelled = view.cancelled or reminder.state is ReminderState.CANCELLED
    if put.cancels:
        if not already_cancelled:
            await cancel(client, booked, reason=put.status)
        return
    if (put.clinic_id, put.reception_id) != (reminder.clinic_id, reminder.reception_id):
        raise RejectedError(
            f"booking '{booking_id}' is at {reminder.clinic_id}/{reminder.reception_id}: a booking cannot "
            "move to another reception (cancel it and book anew under another id)"
        )
    if not _same_patient(put, reminder, stored):
        raise RejectedError(
            f"booking '{booking_id}' is another patient's: cancel it and book anew under another id"
        )
    if put.channel.value != view.channel:
        raise RejectedError(
            f"booking '{booking_id}' was booked with channel {view.channel}: the channel cannot change"
        )
    if already_cancelled:
        raise EndedError(f"booking '{booking_id}' is cancelled: book anew under another id")
    booking = put.booking(booking_id)  # S8 and the other rules of a booking
    if booking.start != reminder.start:
        check_future(booking.start)  # before any change: all of the PUT or nothing
        await reschedule(client, booked, booking.start)
    if booking.sms_flag != view.sms_flag:
        await set_sms_flag(client, booked, booking.sms_flag)
