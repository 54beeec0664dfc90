"""Property-based tests of the send moment with random clinic windows (hypothesis; S6)."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta

from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from domain.directory import Clinic
from domain.status import Reason
from domain.timing import plan_sms_send
from tests.domain.strategies import DST_AUTUMN, DST_SPRING, FAST, SE, ZONES, minutes, sthlm, utc

# --- S6: send moment with random clinic windows ------------------------------------------------------


@st.composite
def local_instants(draw: st.DrawFn, first: date, last: date) -> datetime:
    """An aware instant from a Stockholm wall clock (often near a DST change), shown in any zone."""
    if draw(st.booleans()):
        day = draw(st.sampled_from(DST_SPRING + DST_AUTUMN)) + timedelta(days=draw(st.integers(-3, 3)))
    else:
        day = draw(st.dates(min_value=first, max_value=last))
    wall = datetime.combine(day, minutes(draw(st.integers(0, 24 * 60 - 1))), tzinfo=SE)
    wall = wall.replace(fold=draw(st.integers(0, 1)))
    return wall.astimezone(draw(st.sampled_from(ZONES)))


@st.composite
def clinic_settings(draw: st.DrawFn) -> Clinic:
    start = draw(st.integers(0, 24 * 60 - 2))
    end = draw(st.integers(start + 1, 24 * 60 - 1))
    return Clinic(
        clinic_id="kl1",
        name="Klinik",
        sms_connected=True,
        sms_days_before=draw(st.integers(0, 7)),
        sms_send_time=minutes(draw(st.integers(0, 24 * 60 - 1))),
        sms_window_start=minutes(start),
        sms_window_end=minutes(end),
    )


leads = st.one_of(
    st.timedeltas(min_value=timedelta(0), max_value=timedelta(hours=30)),
    st.timedeltas(min_value=timedelta(0), max_value=timedelta(days=10)),
    st.integers(0, 10 * 24 * 60).map(lambda m: timedelta(minutes=m)),
)


def first_valid_moment(clinic: Clinic, now: datetime, deadline: datetime) -> datetime | None:
    """Brute force: the first instant in [now, deadline] whose Stockholm wall clock is inside the
    window (window bounds are whole minutes, so checking `now` and each minute boundary suffices)."""
    t = now
    while t <= deadline:
        if clinic.sms_window_start <= sthlm(t).time() < clinic.sms_window_end:
            return t
        t = (t + timedelta(minutes=1)).replace(second=0, microsecond=0)
    return None


def assert_s6_plan(visit: datetime, now: datetime, clinic: Clinic) -> None:
    plan = plan_sms_send(visit, now, clinic)
    deadline = utc(visit) - timedelta(hours=2)  # S6: at least 2 hours before the visit
    if plan.at is None:
        assert plan.reason is Reason.TOO_LATE
        # A late reminder is better than none: TOO_LATE only when no moment in [now, visit - 2 h]
        # lies inside the window (a window occurs every day, so the span must be short).
        if deadline >= utc(now):
            assert deadline - utc(now) <= timedelta(hours=26)
            assert first_valid_moment(clinic, utc(now), deadline) is None
        return
    at = utc(plan.at)
    assert utc(now) <= at <= deadline
    assert clinic.sms_window_start <= sthlm(at).time() < clinic.sms_window_end
    assert plan.at.utcoffset() == sthlm(at).utcoffset()  # carries the Stockholm offset of that instant
    # The workflow re-plans when its timer fires on time: same moment.
    assert plan_sms_send(visit, plan.at, clinic).at == plan.at


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    visit=local_instants(date(2026, 1, 1), date(2028, 12, 31)),
    lead=leads,
    clinic=clinic_settings(),
)
def test_S6_property_random_clinic_window_in_any_zone_is_respected_and_too_late_only_when_impossible(
    visit: datetime, lead: timedelta, clinic: Clinic
) -> None:
    """Extends test_timing's property (whole hours, UTC visits, lead ≤ 16 days) to minute-resolution
    send times and windows, visits given in any zone around DST changes, and checks TOO_LATE is only
    given when no moment inside the window remains before visit - 2 h."""
    now = utc(visit) - lead
    assert_s6_plan(visit, now, clinic)


@st.composite
def dst_hour_case(draw: st.DrawFn, days: list[date]) -> tuple[datetime, datetime, Clinic]:
    day = draw(st.sampled_from(days))
    start = draw(st.integers(120, 179))
    end = draw(st.integers(start + 1, 180 if days is DST_SPRING else 24 * 60 - 1))
    clinic = Clinic(
        clinic_id="kl1",
        name="Klinik",
        sms_days_before=draw(st.integers(0, 2)),
        sms_send_time=minutes(start),
        sms_window_start=minutes(start),
        sms_window_end=minutes(end),
    )
    now = datetime.combine(day, time(0, 0), tzinfo=SE).astimezone(UTC) + timedelta(
        minutes=draw(st.integers(0, 240))
    )
    visit = now + timedelta(hours=draw(st.integers(3, 30)))
    return visit, now, clinic


@FAST
@given(case=dst_hour_case(DST_SPRING))
@example(
    case=(
        datetime(2027, 3, 28, 10, 0, tzinfo=UTC),
        datetime(2027, 3, 27, 23, 0, tzinfo=UTC),
        Clinic(
            clinic_id="kl1",
            name="Klinik",
            sms_days_before=0,
            sms_send_time=time(2, 0),
            sms_window_start=time(2, 0),
            sms_window_end=time(2, 45),
        ),
    )
)
def test_S6_property_window_in_the_skipped_spring_hour_is_never_used(
    case: tuple[datetime, datetime, Clinic],
) -> None:
    assert_s6_plan(*case)


@FAST
@given(case=dst_hour_case(DST_AUTUMN))
@example(
    case=(
        datetime(2027, 10, 31, 12, 0, tzinfo=UTC),
        datetime(2027, 10, 31, 1, 30, tzinfo=UTC),
        Clinic(
            clinic_id="kl1",
            name="Klinik",
            sms_days_before=0,
            sms_send_time=time(2, 45),
            sms_window_start=time(2, 45),
            sms_window_end=time(20, 0),
        ),
    )
)
def test_S6_property_window_opening_in_the_repeated_autumn_hour_is_never_before_now(
    case: tuple[datetime, datetime, Clinic],
) -> None:
    assert_s6_plan(*case)
