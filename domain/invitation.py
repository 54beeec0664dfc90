"""Care invitations (vårdinbjudan) and plain booking requests (bokningsbegäran): SPEC §4 V1–V14, §5.

The input of `CareRequest`, the arguments of its updates and signals, its `status` query
result, and the pure rules the updates validate with (V8, V10, V11, V12). Pure code: no I/O, no Temporal.
Validation errors never echo the input (`ContractModel`), so a personnummer never reaches a message.
"""

from __future__ import annotations

from datetime import date, time
from enum import StrEnum
from typing import Annotated, Any

from pydantic import AfterValidator, Field, StringConstraints, field_validator, model_validator

from domain.identity import mask_patient_id
from domain.markdown import escape_markdown
from domain.status import MessageRecord, NextAction
from domain.timing import local_date, local_time
from domain.types import ClockTime, ContractModel, Moment, PatientIdStr, SystemId


class Weekday(StrEnum):
    MON = "mon"
    TUE = "tue"
    WED = "wed"
    THU = "thu"
    FRI = "fri"
    SAT = "sat"
    SUN = "sun"

    @classmethod
    def of(cls, day: date) -> Weekday:
        """The weekday of a (local) calendar date."""
        return _WEEK[day.weekday()]


_WEEK: tuple[Weekday, ...] = tuple(Weekday)


class TimeOfDay(StrEnum):
    """V2: an optional time-of-day limit; morning is before 12:00 local time, afternoon from 12:00."""

    ANY = "any"
    MORNING = "morning"
    AFTERNOON = "afternoon"


NOON = time(12, 0)


class VisitKind(StrEnum):
    """V1: an invitation is for a new visit (nybesök) or a follow-up visit (återbesök)."""

    NEW = "new"
    FOLLOW_UP = "follow_up"


class BookedBy(StrEnum):
    """V8/V9: the patient in 1177 (channel `1177`) or staff (channel `vas`)."""

    PATIENT = "patient"
    STAFF = "staff"


def _week_order(days: list[Weekday] | None) -> list[Weekday] | None:
    """Weekdays unique and in week order (mon … sun), so texts and errors read naturally."""
    if days is None:
        return None
    if len(days) != len(set(days)):
        raise ValueError("weekdays must not repeat a day")
    return sorted(days, key=_WEEK.index)


def _non_empty(days: list[Weekday] | None) -> list[Weekday] | None:
    if days is not None and not days:
        raise ValueError("weekdays must name at least one day when given (leave it out for any day)")
    return days


Weekdays = Annotated[list[Weekday], AfterValidator(_week_order)]
"""Preferred weekdays: unique, kept in week order."""

VisitType = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=80)]
VisitReason = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=200)]
PatientText = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=500)]


def _blank_to_none(value: Any) -> Any:
    return None if isinstance(value, str) and not value.strip() else value


WINDOW_DATE = Annotated[date, Field(ge=date(1900, 1, 1), le=date(2999, 12, 31))]
"""A window's date: a calendar the schedule's arithmetic (V3: 42 days before, V13: the day after)
can reach; a year 1 or 9999 is a typing error, refused at the edge."""


class DateWindow(ContractModel):
    """V2: the dates (inclusive, Stockholm local calendar) in which the visit should take place."""

    first_date: WINDOW_DATE
    last_date: WINDOW_DATE

    @model_validator(mode="after")
    def _ordered(self) -> DateWindow:
        if self.first_date > self.last_date:
            raise ValueError("window first_date is after last_date")
        return self

    def contains(self, day: date) -> bool:
        return self.first_date <= day <= self.last_date


class PatientInfo(ContractModel):
    """V2: optional texts for the patient, shown in the invitation. Blank texts count as absent."""

    visit_length: PatientText | None = None
    visit_details: PatientText | None = None
    tests_before_visit: PatientText | None = None

    _blank = field_validator("visit_length", "visit_details", "tests_before_visit", mode="before")(
        _blank_to_none
    )


V1_NO_REFERRAL = "a care invitation needs a referral (referral_id) (V1)"


class CareInvitation(ContractModel):
    """Input of `CareRequest`: a care invitation, or a plain booking request when
    `invitation` is false (V11, V12 list "Bokningsbegäran"; it sends nothing until converted).

    V1: an invitation needs `referral_id`. A plain request may lack one; converting it (V11) then
    needs one, given in `Conversion.referral_id`.
    """

    request_id: SystemId
    referral_id: SystemId | None = None
    patient_id: PatientIdStr
    clinic_id: SystemId
    reception_id: SystemId
    visit_kind: VisitKind
    visit_type: VisitType
    reason: VisitReason
    window: DateWindow
    weekdays: Annotated[Weekdays | None, AfterValidator(_non_empty)] = None
    time_of_day: TimeOfDay = TimeOfDay.ANY
    patient_info: PatientInfo | None = None
    invitation: bool = True

    _blank_referral = field_validator("referral_id", mode="before")(_blank_to_none)

    @model_validator(mode="after")
    def _v1_needs_referral(self) -> CareInvitation:
        if self.invitation and self.referral_id is None:
            raise ValueError(V1_NO_REFERRAL)
        return self


class InvitationStart(CareInvitation):
    """The start input of `CareRequest`: the request and, when it was created through
    `application.create_request`, the clinic's V3 send time as the creation read it (an invitation plans
    its first message without reading the directory). None for requests created before the field
    existed; a plain request converted later (V11) reads the clinic at the conversion."""

    invitation_send_time: ClockTime | None = None


class RequestChange(ContractModel):
    """Update `change_request` (V10): new window and/or limits of an open invitation or request.

    Fields left out (null) keep their value. `weekdays: []` removes the weekday limit and
    `time_of_day: any` the time-of-day limit.
    """

    window: DateWindow | None = None
    weekdays: Weekdays | None = None
    time_of_day: TimeOfDay | None = None

    @model_validator(mode="after")
    def _something_changes(self) -> RequestChange:
        if self.window is None and self.weekdays is None and self.time_of_day is None:
            raise ValueError("a change needs at least one of window, weekdays and time_of_day (V10)")
        return self


CONVERSION_REASON = "Ändra begäran – vårdinbjudan"


class Conversion(ContractModel):
    """Update `convert` (V11): a plain booking request becomes a care invitation, optionally with a
    new window and limits (same meaning as in `RequestChange`). `referral_id` supplies the
    referral when the request has none (V1)."""

    window: DateWindow | None = None
    weekdays: Weekdays | None = None
    time_of_day: TimeOfDay | None = None
    reason: VisitReason = CONVERSION_REASON
    referral_id: SystemId | None = None

    _blank_referral = field_validator("referral_id", mode="before")(_blank_to_none)


class InvitationBooking(ContractModel):
    """Update `book`: the invitation was booked, by the patient in 1177 or by staff (V7, V8, V9)."""

    booking_id: SystemId
    start: Moment
    by: BookedBy


class Contact(ContractModel):
    """Signal `contacted` (V7): the patient contacted the clinic; reminders end."""

    note: str | None = Field(default=None, max_length=200)


class InvitationState(StrEnum):
    REQUEST = "request"  # plain booking request: sends nothing (V11, V12)
    SCHEDULED = "scheduled"  # invitation waiting for its first message (V3)
    INVITED = "invited"
    REMINDED_1 = "reminded_1"
    REMINDED_2 = "reminded_2"
    BOOKED = "booked"  # V7
    CONTACTED = "contacted"  # V7
    CANCELLED = "cancelled"  # V14
    FOLLOW_UP = "follow_up"  # V13


OPEN_STATES = frozenset(
    {
        InvitationState.REQUEST,
        InvitationState.SCHEDULED,
        InvitationState.INVITED,
        InvitationState.REMINDED_1,
        InvitationState.REMINDED_2,
    }
)
"""States in which the request may be changed (V10), booked, contacted or cancelled."""


def is_open(state: InvitationState) -> bool:
    return state in OPEN_STATES


class WorkList(StrEnum):
    """V12/V13: the staff list ("Mitt arbetsflöde") a request is shown in."""

    VARDINBJUDAN = "vardinbjudan"  # open invitations
    BOKNINGSBEGARAN = "bokningsbegaran"  # plain requests (state `request`)
    UPPFOLJNING = "uppfoljning"  # V13: unanswered or window ended
    NONE = "none"  # closed: booked, contacted, cancelled


_WORK_LISTS: dict[InvitationState, WorkList] = {
    InvitationState.REQUEST: WorkList.BOKNINGSBEGARAN,
    InvitationState.SCHEDULED: WorkList.VARDINBJUDAN,
    InvitationState.INVITED: WorkList.VARDINBJUDAN,
    InvitationState.REMINDED_1: WorkList.VARDINBJUDAN,
    InvitationState.REMINDED_2: WorkList.VARDINBJUDAN,
    InvitationState.FOLLOW_UP: WorkList.UPPFOLJNING,
    InvitationState.BOOKED: WorkList.NONE,
    InvitationState.CONTACTED: WorkList.NONE,
    InvitationState.CANCELLED: WorkList.NONE,
}


def initial_state(request: CareInvitation) -> InvitationState:
    """V11, V12: an invitation is scheduled from the start, a plain booking request waits as a request."""
    return InvitationState.SCHEDULED if request.invitation else InvitationState.REQUEST


def work_list(state: InvitationState) -> WorkList:
    """V12/V13: the staff work list of a request in `state`."""
    return _WORK_LISTS[state]


class BookedVisit(ContractModel):
    """The booked visit of an invitation and the id of its SMS reminder workflow (V9)."""

    booking_id: str
    start: Moment
    by: BookedBy
    reminder_workflow_id: str


class InvitationStatus(ContractModel):
    """Result of the `status` query of `CareRequest` (SPEC §5)."""

    state: InvitationState
    next_action: NextAction | None = None
    messages: list[MessageRecord] = Field(default_factory=list)
    request_id: str
    clinic_id: str
    reception_id: str
    patient: str  # masked patient id
    window: DateWindow
    weekdays: list[Weekday] | None = None
    time_of_day: TimeOfDay = TimeOfDay.ANY
    visit_type: str
    patient_info: PatientInfo | None = None  # the clinic's texts for the patient
    booked: BookedVisit | None = None
    work_list: WorkList


def invitation_status(
    request: CareInvitation,
    state: InvitationState,
    *,
    next_action: NextAction | None = None,
    messages: list[MessageRecord] | None = None,
    booked: BookedVisit | None = None,
) -> InvitationStatus:
    """The `status` result of `request` in `state`: the patient id masked, the work list derived (V12)."""
    return InvitationStatus(
        state=state,
        next_action=next_action,
        messages=list(messages or []),
        request_id=request.request_id,
        clinic_id=request.clinic_id,
        reception_id=request.reception_id,
        patient=mask_patient_id(request.patient_id),
        window=request.window,
        weekdays=request.weekdays,
        time_of_day=request.time_of_day,
        visit_type=request.visit_type,
        patient_info=request.patient_info,
        booked=booked,
        work_list=work_list(state),
    )


def invitation_details(
    state: InvitationState, request: CareInvitation, next_action: NextAction | None
) -> str:
    """The Web UI's current details of a request: state, visit type, place, window and next message.
    The Web UI renders them as Markdown: the caller's visit type and ids are escaped
    (`escape_markdown`), the rest are the service's own words, dates and times."""
    when = f", next {next_action.kind} at {next_action.at.isoformat()}" if next_action else ""
    window = request.window
    return (
        f"{state.value}: {escape_markdown(request.visit_type)} at {escape_markdown(request.clinic_id)}/"
        f"{escape_markdown(request.reception_id)}, window {window.first_date}–{window.last_date}{when}"
    )


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


def check_booking(request: CareInvitation, booking: InvitationBooking) -> None:
    """V8: a booking by the patient in 1177 must fall inside the window (on the visit's Stockholm local
    date) and respect the weekday and time-of-day limits; raises `ValueError` otherwise.
    Staff may book any time."""
    if booking.by is BookedBy.STAFF:
        return
    day = local_date(booking.start)
    window = request.window
    if not window.contains(day):
        raise ValueError(f"the visit must be between {window.first_date} and {window.last_date} (V8)")
    if request.weekdays and Weekday.of(day) not in request.weekdays:
        raise ValueError(f"the visit must be on {', '.join(request.weekdays)} (V8)")
    clock = local_time(booking.start)
    if request.time_of_day is TimeOfDay.MORNING and clock >= NOON:
        raise ValueError("the visit must be in the morning, before 12:00 (V8)")
    if request.time_of_day is TimeOfDay.AFTERNOON and clock < NOON:
        raise ValueError("the visit must be in the afternoon, at 12:00 or later (V8)")


def check_new_window(window: DateWindow, today: date) -> None:
    """A new or changed window (V2, V10, V11) must not have ended already: `last_date` >= `today`
    (the Stockholm local date of now)."""
    if window.last_date < today:
        raise ValueError(f"the window has already ended (last_date {window.last_date} is before today)")
