"""Visit bookings and their changes: the reminder inputs and update arguments of SPEC §5."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from pydantic import ConfigDict, Field, model_validator

from domain.directory import SmsTiming
from domain.types import ContractModel, Moment, PatientIdStr, SystemId, differing_fields


class Channel(StrEnum):
    """How a visit was booked: in VAS, by AN27 quick booking (S7), or by the patient in 1177 (S8)."""

    VAS = "vas"
    AN27_QUICK = "an27_quick"
    SELF_1177 = "1177"


S8_FLAG_LOCKED = "the SMS reminder of a booking made in 1177 cannot be turned off (S8)"


def check_new_start(start: datetime, now: datetime) -> None:
    """S15: a visit can be moved only to a moment still ahead (the update validators' check)."""
    _check_ahead(start, now, "the new start time")


def check_visit_start(start: datetime, now: datetime) -> None:
    """S15, V8: a visit is booked only for a moment still ahead (the edge's and `book`'s check)."""
    _check_ahead(start, now, "the visit start time")


def _check_ahead(start: datetime, now: datetime, what: str) -> None:
    if start <= now:
        raise ValueError(f"{what} has already passed")


class VisitBooking(ContractModel):
    """One booked visit (besök), as a booking system sends it (the reminder's input: `ReminderStart`)."""

    booking_id: SystemId
    patient_id: PatientIdStr
    clinic_id: SystemId
    reception_id: SystemId
    start: Moment
    channel: Channel = Channel.VAS
    sms_flag: bool = True
    team_visit_id: SystemId | None = None
    series_id: SystemId | None = None

    model_config = ConfigDict(
        json_schema_extra={
            "not": {  # S8, as the OpenAPI document states it
                "properties": {"channel": {"const": Channel.SELF_1177.value}, "sms_flag": {"const": False}},
                "required": ["channel", "sms_flag"],
            }
        }
    )

    @model_validator(mode="after")
    def _s8_flag_locked_for_1177(self) -> VisitBooking:
        if self.channel is Channel.SELF_1177 and not self.sms_flag:
            raise ValueError(S8_FLAG_LOCKED)
        return self


def used_id_message(what: str, fields: list[str]) -> str:
    """The refusal of a request under a used id with other content: the fields, never their values."""
    return (
        f"{what} exists with other {', '.join(fields)}: the same id is booked once; a changed visit is a "
        "reschedule or a cancel, another one a new id"
    )


TEAM_SHARED = ("clinic_id", "reception_id", "patient_id", "team_visit_id", "start")


def check_team_join(
    booking: VisitBooking, team: VisitBooking, start: datetime, earlier: VisitBooking | None
) -> None:
    """S11: the bookings of a team visit share its patient, place and (current) time; a booking that
    joined before joins again only as it was booked. Raises ValueError naming what differs."""
    if earlier is not None:
        if fields := differing_fields(booking, earlier):
            raise ValueError(used_id_message(f"booking '{booking.booking_id}'", fields))
        return
    current = team.model_copy(update={"start": start})
    if fields := [f for f in TEAM_SHARED if getattr(booking, f) != getattr(current, f)]:
        raise ValueError(
            f"booking '{booking.booking_id}' differs from its team visit in {', '.join(fields)}: the "
            "bookings of a team visit share one patient, place and time (S11)"
        )


class ReminderStart(VisitBooking):
    """The start input of `SmsReminder` (and `SmsReminderWorkflow`): the booking and, from
    `application.book_visit`, the clinic's S6 settings as the booking read them, so the reminder plans
    its send moment without reading the directory again. None for the reminders a group booking or an
    invitation starts, and for those booked before the field existed: they read the clinic."""

    sms_timing: SmsTiming | None = None


class GroupParticipant(ContractModel):
    booking_id: SystemId
    patient_id: PatientIdStr


class GroupBooking(ContractModel):
    """Gruppbokning (form OW11, S13): one SMS flag for the whole group."""

    group_booking_id: SystemId
    clinic_id: SystemId
    reception_id: SystemId
    start: Moment
    sms_flag: bool = True
    participants: list[GroupParticipant] = Field(min_length=1)

    @model_validator(mode="after")
    def _unique_participants(self) -> GroupBooking:
        ids = [p.booking_id for p in self.participants]
        if len(ids) != len(set(ids)):
            raise ValueError("participants must have different booking_id values")
        return self

    def participant_booking(self, participant: GroupParticipant) -> VisitBooking:
        """The reminder input of one participant: the group's flag, place and time (S13)."""
        return VisitBooking(
            booking_id=participant.booking_id,
            patient_id=participant.patient_id,
            clinic_id=self.clinic_id,
            reception_id=self.reception_id,
            start=self.start,
            sms_flag=self.sms_flag,
        )


class Reschedule(ContractModel):
    """Update `reschedule`: the visit moves to `start` (S15)."""

    start: Moment


class SmsFlagChange(ContractModel):
    """Update `set_sms_flag` (S10). For a team visit, `booking_id` names the HOSP booking."""

    sms_flag: bool
    booking_id: SystemId | None = None


class Cancellation(ContractModel):
    """Signal `cancel` (S15). For a team visit or group, `booking_id` cancels one booking only."""

    booking_id: SystemId | None = None
    reason: str | None = Field(default=None, max_length=200)


class GroupChange(ContractModel):
    """A change of a group booking (S13) passed on to each participant's reminder."""

    start: Moment | None = None
    sms_flag: bool | None = None
