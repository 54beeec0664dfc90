"""Care invitations (vårdinbjudan) and plain booking requests (bokningsbegäran): SPEC §4 V1–V14, §5.

The rules the updates of `CareRequest` validate with: a change or conversion applied (V10, V11, with V1
checked again), a booking inside the window and limits (V8), a new window not ended already. This is
the module to import from: it also re-exports what a request is (`domain.invitation_request`: the
input of `CareRequest`, the arguments of its updates and signals) and where it stands
(`domain.invitation_status`: states, work lists, the `status` query result). Pure code: no I/O, no
Temporal.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Protocol

from domain.invitation_request import (
    CONVERSION_REASON,
    NOON,
    V1_NO_REFERRAL,
    WINDOW_DATE,
    BookedBy,
    CareInvitation,
    Contact,
    Conversion,
    DateWindow,
    InvitationBooking,
    InvitationStart,
    PatientInfo,
    PatientText,
    RequestChange,
    TimeOfDay,
    VisitKind,
    VisitReason,
    VisitType,
    Weekday,
    Weekdays,
)
from domain.invitation_status import (
    OPEN_STATES,
    BookedVisit,
    InvitationState,
    InvitationStatus,
    WorkList,
    initial_state,
    invitation_details,
    invitation_status,
    is_open,
    work_list,
)
from domain.timing import local_date, local_time

__all__ = [
    "CONVERSION_REASON",
    "NOON",
    "OPEN_STATES",
    "V1_NO_REFERRAL",
    "WINDOW_DATE",
    "BookedBy",
    "BookedVisit",
    "BookingLimits",
    "CareInvitation",
    "Contact",
    "Conversion",
    "DateWindow",
    "InvitationBooking",
    "InvitationStart",
    "InvitationState",
    "InvitationStatus",
    "PatientInfo",
    "PatientText",
    "RequestChange",
    "TimeOfDay",
    "VisitKind",
    "VisitReason",
    "VisitType",
    "Weekday",
    "Weekdays",
    "WorkList",
    "apply_change",
    "check_booking",
    "check_new_window",
    "initial_state",
    "invitation_details",
    "invitation_status",
    "is_open",
    "v8_refusal",
    "work_list",
]


def apply_change(request: CareInvitation, change: RequestChange | Conversion) -> CareInvitation:
    """A copy of `request` with the fields given in `change` replaced (V10); a `Conversion` also makes
    it an invitation (V11). The result is validated again, so converting a request without a referral
    raises the V1 error (a pydantic `ValidationError`, which is a `ValueError`)."""
    data = request.model_dump()
    if change.window is not None:
        data["window"] = change.window.model_dump()
    if change.weekdays is not None:
        data["weekdays"] = list(change.weekdays) or None
    if change.time_of_day is not None:
        data["time_of_day"] = change.time_of_day
    if isinstance(change, Conversion):
        data["invitation"] = True
        if change.referral_id is not None:
            data["referral_id"] = change.referral_id
    return CareInvitation.model_validate(data)


class BookingLimits(Protocol):
    """What V8 reads of a request: a `CareInvitation` or its `InvitationStatus`."""

    @property
    def window(self) -> DateWindow: ...

    @property
    def weekdays(self) -> list[Weekday] | None: ...

    @property
    def time_of_day(self) -> TimeOfDay: ...


def check_booking(request: CareInvitation, booking: InvitationBooking) -> None:
    """V8: a booking by the patient in 1177 must fall inside the window (on the visit's Stockholm local
    date) and respect the weekday and time-of-day limits; raises `ValueError` otherwise.
    Staff may book any time."""
    if booking.by is BookedBy.STAFF:
        return
    refusal = v8_refusal(request, booking.start)
    if refusal is not None:
        raise ValueError(refusal)


def v8_refusal(request: BookingLimits, start: datetime) -> str | None:
    """V8: why the patient may not book a visit starting at `start` (None when it fits the window, the
    weekdays and the time of day). The one check behind both the refusal and the offer of times."""
    day = local_date(start)
    window = request.window
    if not window.contains(day):
        return f"the visit must be between {window.first_date} and {window.last_date} (V8)"
    if request.weekdays and Weekday.of(day) not in request.weekdays:
        return f"the visit must be on {', '.join(request.weekdays)} (V8)"
    clock = local_time(start)
    if request.time_of_day is TimeOfDay.MORNING and clock >= NOON:
        return "the visit must be in the morning, before 12:00 (V8)"
    if request.time_of_day is TimeOfDay.AFTERNOON and clock < NOON:
        return "the visit must be in the afternoon, at 12:00 or later (V8)"
    return None


def check_new_window(window: DateWindow, today: date) -> None:
    """A new or changed window (V2, V10, V11) must not have ended already: `last_date` >= `today`
    (the Stockholm local date of now)."""
    if window.last_date < today:
        raise ValueError(f"the window has already ended (last_date {window.last_date} is before today)")
