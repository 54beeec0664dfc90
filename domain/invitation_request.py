"""Care invitations (vårdinbjudan) and plain booking requests (bokningsbegäran): what a request is.

SPEC §4 V1, V2, V7–V11: the input of `CareRequest` (`CareInvitation`, `InvitationStart`), the arguments of
its updates and signals (`RequestChange`, `Conversion`, `InvitationBooking`, `Contact`) and the value types
they are made of (window, weekdays, time of day, texts for the patient). These models are in workflow
histories: their field names and serialization are a contract. Pure code: no I/O, no Temporal.
Validation errors never echo the input (`ContractModel`), so a personnummer never reaches a message.
Import them from `domain.invitation`, which also holds the rules over them.
"""

from __future__ import annotations

from datetime import date, time
from enum import StrEnum
from typing import Annotated, Any

from pydantic import AfterValidator, ConfigDict, Field, StringConstraints, field_validator, model_validator

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


Weekdays = Annotated[
    list[Weekday], AfterValidator(_week_order), Field(json_schema_extra={"uniqueItems": True})
]
"""Preferred weekdays: unique, kept in week order."""

VisitType = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=80)]
VisitReason = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=200)]
PatientText = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=500)]


def _blank_to_none(value: Any) -> Any:
    return None if isinstance(value, str) and not value.strip() else value


WINDOW_DATE = Annotated[
    date,
    Field(ge=date(1900, 1, 1), le=date(2999, 12, 31), json_schema_extra={"pattern": "^(19|2[0-9])[0-9]{2}-"}),
]
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
    weekdays: Annotated[
        Weekdays | None, AfterValidator(_non_empty), Field(json_schema_extra={"minItems": 1})
    ] = None
    time_of_day: TimeOfDay = TimeOfDay.ANY
    patient_info: PatientInfo | None = None
    invitation: bool = True

    model_config = ConfigDict(
        json_schema_extra={
            "anyOf": [  # V1, as the OpenAPI document states it
                {"properties": {"invitation": {"const": False}}, "required": ["invitation"]},
                {"properties": {"referral_id": {"type": "string"}}, "required": ["referral_id"]},
            ]
        }
    )

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

    model_config = ConfigDict(
        json_schema_extra={
            "anyOf": [  # one change at least, as the document states it
                {"properties": {name: {"not": {"type": "null"}}}, "required": [name]}
                for name in ("window", "weekdays", "time_of_day")
            ]
        }
    )

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
