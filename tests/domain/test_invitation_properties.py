"""Property-based tests of which bookings the patient may make (hypothesis; V8)."""

from __future__ import annotations

from datetime import date, datetime, time, timedelta

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from domain.invitation import (
    BookedBy,
    CareInvitation,
    InvitationBooking,
    check_booking,
)
from tests.domain.strategies import DST_AUTUMN, DST_SPRING, SE, ZONES, sthlm, tod

# --- V8: which bookings the patient may make --------------------------------------------------------

WEEKDAY_NAMES = ["mon", "tue", "wed", "thu", "fri", "sat", "sun"]


@st.composite
def invitations_and_starts(draw: st.DrawFn) -> tuple[CareInvitation, datetime]:
    first = draw(st.sampled_from(DST_SPRING + DST_AUTUMN + [date(2027, 1, 1)])) + timedelta(
        days=draw(st.integers(-40, 40))
    )
    if draw(st.booleans()):
        first = draw(st.dates(min_value=date(2026, 1, 1), max_value=date(2028, 12, 31)))
    last = first + timedelta(days=draw(st.integers(0, 120)))
    weekdays = draw(
        st.one_of(st.none(), st.lists(st.sampled_from(WEEKDAY_NAMES), min_size=1, max_size=7, unique=True))
    )
    request = CareInvitation(
        request_id="req1",
        referral_id="ref1",
        patient_id="19121212-1212",
        clinic_id="kl1",
        reception_id="rec1",
        visit_kind="new",
        visit_type="Nybesök",
        reason="Kontroll",
        window={"first_date": first, "last_date": last},
        weekdays=weekdays,
        time_of_day=draw(tod),
    )
    # A start near the window's edges, midnight or noon, given in any zone.
    day = draw(st.sampled_from([first, last])) + timedelta(days=draw(st.integers(-2, 2)))
    if draw(st.booleans()):
        day = draw(st.dates(min_value=first - timedelta(days=3), max_value=last + timedelta(days=3)))
    around = draw(st.sampled_from([0, 12 * 60, 24 * 60]))
    minute = draw(st.one_of(st.integers(around - 3, around + 2), st.integers(0, 24 * 60 - 1)))
    wall = datetime.combine(day, time(0, 0), tzinfo=SE) + timedelta(minutes=minute)  # wall clock arithmetic
    second = draw(st.integers(0, 59))
    start = (wall + timedelta(seconds=second)).astimezone(draw(st.sampled_from(ZONES)))
    return request, start


def v8_allows(request: CareInvitation, start: datetime) -> bool:
    local = sthlm(start)
    weekdays = request.weekdays
    in_window = request.window.first_date <= local.date() <= request.window.last_date
    on_weekday = not weekdays or WEEKDAY_NAMES[local.weekday()] in weekdays
    clock = local.time()
    in_time = {"any": True, "morning": clock < time(12, 0), "afternoon": clock >= time(12, 0)}[
        request.time_of_day
    ]
    return in_window and on_weekday and in_time


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(case=invitations_and_starts())
def test_V8_property_patient_booking_accepted_exactly_inside_window_weekdays_and_time_of_day(
    case: tuple[CareInvitation, datetime],
) -> None:
    request, start = case
    booking = InvitationBooking(booking_id="b1", start=start, by=BookedBy.PATIENT)
    if v8_allows(request, start):
        check_booking(request, booking)
    else:
        with pytest.raises(ValueError, match=r"\(V8\)"):
            check_booking(request, booking)
    check_booking(request, booking.model_copy(update={"by": BookedBy.STAFF}))  # V9: staff always
