"""Edge checks of the use cases: bad input is refused before anything starts or changes."""

from __future__ import annotations

from datetime import UTC, datetime

from adapters.directory import Directory
from application.errors import InputError
from contracts.workflow_ids import SCOPE
from domain.booking import GroupBooking, VisitBooking, check_visit_start
from domain.directory import Clinic
from domain.invitation import CareInvitation, DateWindow, check_new_window
from domain.timing import local_date
from domain.types import SYSTEM_ID_RULE, is_system_id


def check_system_id(value: str, what: str) -> str:
    """A request, booking or clinic id as given by `what`: refused unless it is a system id (never
    patient data), since it ends up in workflow ids and search attributes."""
    if not is_system_id(value):
        raise InputError(f"{what} must be a system id: {SYSTEM_ID_RULE}")
    return value


def check_workflow_id(value: str, what: str) -> str:
    """A workflow id as this service makes them (`<kind>:<clinic>:<id>`, or an id from before ids were
    scoped): system ids joined by `:`, never patient data."""
    parts = value.split(SCOPE)
    if len(parts) not in (1, 3) or not all(is_system_id(part) for part in parts):
        raise InputError(f"{what} must be a workflow id: <kind>:<clinic>:<id>, each part {SYSTEM_ID_RULE}")
    return value


def check_clinic(directory: Directory, clinic_id: str) -> Clinic:
    clinic = directory.clinic(clinic_id)
    if clinic is None:
        raise InputError(f"unknown clinic '{clinic_id}'")
    return clinic


def check_visit_place(directory: Directory, clinic_id: str, reception_id: str) -> Clinic:
    clinic = check_clinic(directory, clinic_id)
    if clinic.reception(reception_id) is None:
        raise InputError(f"clinic '{clinic_id}' has no reception '{reception_id}'")
    return clinic


def check_future(start: datetime, now: datetime | None = None) -> None:
    """A visit is booked or moved only to a moment still ahead (S15, V8)."""
    try:
        check_visit_start(start, now or datetime.now(UTC))
    except ValueError as err:
        raise InputError(str(err)) from None


def check_window(window: DateWindow) -> None:
    """A new window must not have ended (V10)."""
    try:
        check_new_window(window, local_date(datetime.now(UTC)))
    except ValueError as err:
        raise InputError(str(err)) from None


def check_patient(directory: Directory, patient_id: str, what: str = "the patient") -> None:
    if not directory.has_patient(patient_id):
        raise InputError(f"{what} is not in the directory (load it with `starter.py directory load`)")


def check_visit_booking(directory: Directory, booking: VisitBooking) -> Clinic:
    """Edge checks of a booked visit; returns its clinic."""
    clinic = check_visit_place(directory, booking.clinic_id, booking.reception_id)
    check_future(booking.start)
    check_patient(directory, booking.patient_id)
    return clinic


def check_group(directory: Directory, group: GroupBooking) -> None:
    check_visit_place(directory, group.clinic_id, group.reception_id)
    check_future(group.start)
    for participant in group.participants:
        check_patient(directory, participant.patient_id, f"participant {participant.booking_id}")


def check_request(directory: Directory, request: CareInvitation) -> Clinic:
    """Edge checks of a new booking request or invitation (V1 and V2 are checked by the model);
    returns its clinic."""
    clinic = check_visit_place(directory, request.clinic_id, request.reception_id)
    check_window(request.window)
    check_patient(directory, request.patient_id)
    return clinic
