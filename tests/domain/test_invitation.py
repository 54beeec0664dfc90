"""Care invitation models and rules: V1, V2, V8, V10, V11, V12 (SPEC §4, §5)."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta, timezone
from typing import Any

import pytest
from pydantic import ValidationError

from demo.data import PNR_ADULT_1177, luhn_pnr
from domain.invitation import (
    CONVERSION_REASON,
    OPEN_STATES,
    BookedBy,
    BookedVisit,
    CareInvitation,
    Contact,
    Conversion,
    DateWindow,
    InvitationBooking,
    InvitationState,
    InvitationStatus,
    PatientInfo,
    RequestChange,
    TimeOfDay,
    VisitKind,
    Weekday,
    WorkList,
    apply_change,
    check_booking,
    check_new_window,
    invitation_status,
    is_open,
    work_list,
)
from domain.status import MessageChannel, MessageKind, MessageRecord, NextAction, Outcome, RecipientRole
from domain.timing import at_local
from domain.types import describe_validation_error

CET = timezone(timedelta(hours=1))
CEST = timezone(timedelta(hours=2))
WINDOW = {"first_date": "2027-03-01", "last_date": "2027-04-30"}


def request_data(**overrides: Any) -> dict[str, Any]:
    data: dict[str, Any] = {
        "request_id": "req-1",
        "referral_id": "rem-1",
        "patient_id": PNR_ADULT_1177,
        "clinic_id": "kir",
        "reception_id": "kir-allm",
        "visit_kind": "new",
        "visit_type": "ÖNH LÄK SÄSB nybesök",
        "reason": "Öron",
        "window": dict(WINDOW),
    }
    data.update(overrides)
    return data


def make(**overrides: Any) -> CareInvitation:
    return CareInvitation.model_validate(request_data(**overrides))


def book(start: datetime, by: BookedBy = BookedBy.PATIENT) -> InvitationBooking:
    return InvitationBooking(booking_id="b-1", start=start, by=by)


def local(y: int, mo: int, d: int, h: int = 0, mi: int = 0) -> datetime:
    return at_local(date(y, mo, d), time(h, mi))


# --- V1: a referral is needed -------------------------------------------------------------------


@pytest.mark.parametrize("referral", [None, "", "   "])
def test_V1_invitation_without_referral_is_refused(referral: str | None) -> None:
    data = request_data(referral_id=referral)
    with pytest.raises(ValidationError) as err:
        CareInvitation.model_validate(data)
    assert "a care invitation needs a referral (referral_id) (V1)" in str(err.value)
    assert PNR_ADULT_1177 not in str(err.value)

    missing = request_data()
    del missing["referral_id"]
    with pytest.raises(ValidationError, match=r"\(V1\)"):
        CareInvitation.model_validate(missing)


def test_V1_invitation_with_referral_for_new_or_follow_up_visit() -> None:
    assert make().referral_id == "rem-1"
    assert make(visit_kind="follow_up").visit_kind is VisitKind.FOLLOW_UP
    with pytest.raises(ValidationError):
        make(visit_kind="emergency")


def test_V1_plain_booking_request_may_lack_a_referral() -> None:
    request = make(referral_id=None, invitation=False)
    assert request.invitation is False
    assert request.referral_id is None


def test_V1_errors_never_contain_the_personnummer() -> None:
    pnr = luhn_pnr("19621103", "458")
    bad_pnr = pnr[:-1] + str((int(pnr[-1]) + 1) % 10)
    for data in (
        request_data(patient_id=pnr, referral_id=None),
        request_data(patient_id=bad_pnr),
        request_data(patient_id=pnr, window={"first_date": "2027-05-01", "last_date": "2027-04-01"}),
        request_data(patient_id=pnr, visit_type=""),
    ):
        with pytest.raises(ValidationError) as err:
            CareInvitation.model_validate(data)
        text = str(err.value) + repr(err.value.errors(include_input=False))
        assert pnr not in text
        assert bad_pnr not in text
        assert pnr[:8] not in text


# --- V2: what the booking request carries -------------------------------------------------------


def test_V2_request_carries_window_limits_and_patient_info() -> None:
    request = make(
        weekdays=["wed", "mon"],
        time_of_day="morning",
        patient_info={"visit_length": "45 minuter", "visit_details": " ", "tests_before_visit": "Blodprov"},
    )
    assert request.window == DateWindow(first_date=date(2027, 3, 1), last_date=date(2027, 4, 30))
    assert request.weekdays == [Weekday.MON, Weekday.WED]  # kept in week order
    assert request.time_of_day is TimeOfDay.MORNING
    assert request.patient_info == PatientInfo(visit_length="45 minuter", tests_before_visit="Blodprov")
    assert request.invitation is True
    assert make().time_of_day is TimeOfDay.ANY
    assert make().weekdays is None


def test_V2_window_must_be_ordered() -> None:
    with pytest.raises(ValidationError, match="window first_date is after last_date"):
        make(window={"first_date": "2027-05-01", "last_date": "2027-04-30"})
    one_day = make(window={"first_date": "2027-04-30", "last_date": "2027-04-30"})
    assert one_day.window.first_date == one_day.window.last_date


@pytest.mark.parametrize(
    ("window", "error"),
    [
        ({"first_date": "0001-01-01", "last_date": "2027-01-12"}, "first_date: Input should be greater"),
        ({"first_date": "2027-01-01", "last_date": "9999-12-31"}, "last_date: Input should be less"),
    ],
    ids=["year_1", "year_9999"],
)
def test_V2_window_dates_the_schedule_cannot_reach_are_refused(window: dict[str, str], error: str) -> None:
    """A window on the calendar's edges would overflow V3's 42 days before or V13's day after: a typing
    error, refused with the request rather than failing the workflow's tasks."""
    with pytest.raises(ValidationError) as refused:
        make(window=window)
    assert error in describe_validation_error(refused.value)
    assert make(window={"first_date": "1900-01-01", "last_date": "2999-12-31"}).window.last_date.year == 2999


@pytest.mark.parametrize(
    "field",
    [
        {"weekdays": []},
        {"weekdays": ["mon", "mon"]},
        {"weekdays": ["monday"]},
        {"time_of_day": "evening"},
        {"visit_type": ""},
        {"visit_type": "x" * 81},
        {"reason": ""},
        {"reason": "x" * 201},
        {"patient_info": {"visit_details": "x" * 501}},
        {"request_id": "bad id with spaces"},
    ],
)
def test_V2_bad_request_fields_are_refused(field: dict[str, Any]) -> None:
    with pytest.raises(ValidationError):
        make(**field)


def test_V2_contract_field_names_round_trip_as_json() -> None:
    request = make(weekdays=["fri"], time_of_day="afternoon", patient_info={"visit_length": "1 h"})
    data = request.model_dump(mode="json")
    assert set(data) == {
        "request_id",
        "referral_id",
        "patient_id",
        "clinic_id",
        "reception_id",
        "visit_kind",
        "visit_type",
        "reason",
        "window",
        "weekdays",
        "time_of_day",
        "patient_info",
        "invitation",
    }
    assert data["window"] == WINDOW
    assert data["weekdays"] == ["fri"]
    assert set(data["patient_info"]) == {"visit_length", "visit_details", "tests_before_visit"}
    assert CareInvitation.model_validate_json(request.model_dump_json()) == request


def test_weekday_of_date() -> None:
    assert Weekday.of(date(2027, 3, 1)) is Weekday.MON
    assert Weekday.of(date(2027, 3, 7)) is Weekday.SUN
    assert [Weekday.of(date(2027, 3, d)) for d in range(1, 8)] == list(Weekday)


# --- V8: a patient's booking must respect the request --------------------------------------------


def test_V8_patient_booking_outside_window_refused() -> None:
    request = make()
    for start in (local(2027, 2, 28, 10), local(2027, 5, 1, 10)):
        with pytest.raises(ValueError, match=r"the visit must be between 2027-03-01 and 2027-04-30 \(V8\)"):
            check_booking(request, book(start))
    check_booking(request, book(local(2027, 3, 1, 0, 0)))
    check_booking(request, book(local(2027, 4, 30, 23, 59)))


def test_V8_window_uses_the_visits_stockholm_local_date() -> None:
    request = make()
    # 2027-04-30 22:30 UTC is 1 May 00:30 in Stockholm: outside.
    with pytest.raises(ValueError, match=r"\(V8\)"):
        check_booking(request, book(datetime(2027, 4, 30, 22, 30, tzinfo=UTC)))
    # 2027-02-28 23:30 UTC is 1 March 00:30 in Stockholm: inside.
    check_booking(request, book(datetime(2027, 2, 28, 23, 30, tzinfo=UTC)))


def test_V8_weekday_and_time_of_day() -> None:
    request = make(weekdays=["wed", "mon"], time_of_day="morning")
    check_booking(request, book(local(2027, 3, 1, 9)))  # Monday morning
    check_booking(request, book(local(2027, 3, 3, 11, 59)))  # Wednesday morning
    with pytest.raises(ValueError, match=r"the visit must be on mon, wed \(V8\)"):
        check_booking(request, book(local(2027, 3, 2, 9)))  # Tuesday
    with pytest.raises(ValueError, match=r"morning.*\(V8\)"):
        check_booking(request, book(local(2027, 3, 1, 12, 0)))
    afternoon = make(time_of_day="afternoon")
    check_booking(afternoon, book(local(2027, 3, 2, 12, 0)))
    with pytest.raises(ValueError, match=r"afternoon.*\(V8\)"):
        check_booking(afternoon, book(local(2027, 3, 2, 11, 59)))
    # Local time, not UTC: 11:30 UTC on 1 April is 13:30 in Stockholm (summer time): afternoon.
    check_booking(afternoon, book(datetime(2027, 4, 1, 11, 30, tzinfo=UTC)))
    with pytest.raises(ValueError, match=r"afternoon"):
        check_booking(afternoon, book(datetime(2027, 4, 1, 9, 30, tzinfo=UTC)))


def test_V8_staff_may_book_any_time() -> None:
    request = make(weekdays=["mon"], time_of_day="morning")
    for start in (local(2027, 1, 5, 15), local(2027, 3, 2, 16), local(2027, 6, 1, 8)):
        check_booking(request, book(start, BookedBy.STAFF))
        with pytest.raises(ValueError, match=r"\(V8\)"):
            check_booking(request, book(start, BookedBy.PATIENT))


def test_V8_booking_needs_an_aware_start_and_known_booker() -> None:
    with pytest.raises(ValidationError):
        InvitationBooking(booking_id="b-1", start=datetime(2027, 3, 1, 9), by=BookedBy.PATIENT)
    with pytest.raises(ValidationError):
        InvitationBooking.model_validate(
            {"booking_id": "b-1", "start": "2027-03-01T09:00+01:00", "by": "robot"}
        )


def test_V8_errors_never_contain_the_personnummer() -> None:
    request = make(weekdays=["mon"], time_of_day="afternoon")
    for start in (local(2027, 5, 3, 13), local(2027, 3, 2, 13), local(2027, 3, 1, 9)):
        with pytest.raises(ValueError) as err:
            check_booking(request, book(start))
        assert PNR_ADULT_1177 not in str(err.value)
        assert PNR_ADULT_1177[:8] not in str(err.value)


# --- V10: changing the request --------------------------------------------------------------------


def test_V10_change_replaces_only_given_fields() -> None:
    request = make(weekdays=["mon"], time_of_day="morning", patient_info={"visit_length": "1 h"})
    new_window = DateWindow(first_date=date(2027, 5, 1), last_date=date(2027, 5, 31))
    changed = apply_change(request, RequestChange(window=new_window))
    assert changed.window == new_window
    assert changed.weekdays == [Weekday.MON]
    assert changed.time_of_day is TimeOfDay.MORNING
    assert changed.patient_info == request.patient_info
    assert request.window.first_date == date(2027, 3, 1)  # the original is untouched

    cleared = apply_change(request, RequestChange(weekdays=[], time_of_day=TimeOfDay.ANY))
    assert cleared.weekdays is None
    assert cleared.time_of_day is TimeOfDay.ANY
    assert cleared.window == request.window


def test_V10_change_needs_something_to_change() -> None:
    with pytest.raises(ValidationError, match="at least one of window, weekdays and time_of_day"):
        RequestChange()
    with pytest.raises(ValidationError):
        RequestChange.model_validate({"window": {"first_date": "2027-06-01", "last_date": "2027-05-01"}})
    with pytest.raises(ValidationError):
        RequestChange(weekdays=[Weekday.MON, Weekday.MON])


def test_V10_new_window_must_not_have_ended() -> None:
    window = DateWindow(first_date=date(2027, 3, 1), last_date=date(2027, 4, 30))
    check_new_window(window, date(2027, 4, 30))
    check_new_window(window, date(2026, 1, 1))
    with pytest.raises(ValueError, match="the window has already ended"):
        check_new_window(window, date(2027, 5, 1))


# --- V11: converting a request into an invitation ------------------------------------------------


def test_V11_conversion_makes_a_request_an_invitation() -> None:
    request = make(invitation=False, weekdays=["tue"])
    conversion = Conversion(
        window=DateWindow(first_date=date(2027, 6, 1), last_date=date(2027, 6, 30)),
        time_of_day=TimeOfDay.AFTERNOON,
    )
    assert conversion.reason == CONVERSION_REASON == "Ändra begäran – vårdinbjudan"
    invitation = apply_change(request, conversion)
    assert invitation.invitation is True
    assert invitation.window.first_date == date(2027, 6, 1)
    assert invitation.time_of_day is TimeOfDay.AFTERNOON
    assert invitation.weekdays == [Weekday.TUE]
    assert invitation.request_id == request.request_id
    assert invitation.patient_id == request.patient_id
    # Without new limits the request keeps its own.
    assert apply_change(request, Conversion()).window == request.window
    assert apply_change(request, Conversion()).invitation is True


def test_V11_conversion_of_a_request_without_referral_needs_one() -> None:
    request = make(invitation=False, referral_id=None)
    with pytest.raises(ValueError, match=r"\(V1\)") as err:
        apply_change(request, Conversion())
    assert PNR_ADULT_1177 not in str(err.value)
    converted = apply_change(request, Conversion(referral_id="rem-9"))
    assert converted.invitation is True
    assert converted.referral_id == "rem-9"


def test_V11_a_change_keeps_a_plain_request_plain() -> None:
    request = make(invitation=False)
    assert apply_change(request, RequestChange(time_of_day=TimeOfDay.MORNING)).invitation is False


# --- V12/V13: states and work lists ----------------------------------------------------------------


def test_V12_work_list_of_each_state() -> None:
    expected = {
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
    assert {state: work_list(state) for state in InvitationState} == expected
    assert [s.value for s in InvitationState] == [
        "request",
        "scheduled",
        "invited",
        "reminded_1",
        "reminded_2",
        "booked",
        "contacted",
        "cancelled",
        "follow_up",
    ]


def test_V10_open_states_are_request_and_the_unanswered_invitation() -> None:
    assert {
        InvitationState.REQUEST,
        InvitationState.SCHEDULED,
        InvitationState.INVITED,
        InvitationState.REMINDED_1,
        InvitationState.REMINDED_2,
    } == OPEN_STATES
    for state in InvitationState:
        assert is_open(state) == (state in OPEN_STATES)
    assert not is_open(InvitationState.FOLLOW_UP)


def test_V12_status_masks_the_patient_and_names_the_work_list() -> None:
    request = make(weekdays=["thu"])
    record = MessageRecord(
        kind=MessageKind.INVITATION,
        channel=MessageChannel.INBOX_1177,
        recipient=RecipientRole.PATIENT,
        at=local(2027, 1, 18, 8),
        outcome=Outcome.SENT,
    )
    booked = BookedVisit(
        booking_id="b-1",
        start=local(2027, 3, 4, 9),
        by=BookedBy.PATIENT,
        reminder_workflow_id="sms-reminder-b-1",
    )
    status = invitation_status(
        request,
        InvitationState.BOOKED,
        next_action=NextAction(kind="none", at=local(2027, 3, 4, 9)),
        messages=[record],
        booked=booked,
    )
    assert status.patient == "19800101-****"
    assert PNR_ADULT_1177 not in status.model_dump_json()
    assert status.work_list is WorkList.NONE
    assert status.request_id == "req-1"
    assert status.weekdays == [Weekday.THU]
    assert status.booked == booked
    data = status.model_dump(mode="json")
    for key in ("state", "next_action", "messages", "request_id", "clinic_id", "reception_id", "patient"):
        assert key in data
    assert data["state"] == "booked"
    assert data["messages"][0]["kind"] == "invitation"
    assert InvitationStatus.model_validate_json(status.model_dump_json()) == status
    assert invitation_status(request, InvitationState.SCHEDULED).work_list is WorkList.VARDINBJUDAN


def test_V7_contact_note_is_optional_and_short() -> None:
    assert Contact().note is None
    assert Contact(note="Ringde och bokade om").note == "Ringde och bokade om"
    with pytest.raises(ValidationError):
        Contact(note="x" * 201)


def test_V8_booking_in_winter_and_summer_time() -> None:
    request = make(time_of_day="morning")
    check_booking(request, book(datetime(2027, 3, 1, 11, 59, tzinfo=CET)))
    with pytest.raises(ValueError):
        check_booking(request, book(datetime(2027, 4, 1, 12, 0, tzinfo=CEST)))
