"""S6: the send moment of an SMS reminder, in Stockholm local time across daylight-saving changes."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta, timezone

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from pydantic import ValidationError

from domain.directory import Clinic, SmsTiming
from domain.status import Reason
from domain.timing import (
    MIN_LEAD,
    SendPlan,
    at_local,
    local_date,
    local_time,
    nominal_send_moment,
    plan_sms_send,
    to_local,
)

CET = timezone(timedelta(hours=1))
CEST = timezone(timedelta(hours=2))
EARLY = datetime(2027, 1, 1, 12, 0, tzinfo=UTC)  # long before every visit below


def clinic(**kwargs: object) -> Clinic:
    return Clinic(clinic_id="kl1", name="Klinik", sms_connected=True, **kwargs)


def local(y: int, mo: int, d: int, h: int = 0, mi: int = 0) -> datetime:
    return at_local(date(y, mo, d), time(h, mi))


# --- local date and time helpers ---------------------------------------------------------------


def test_S6_settings_alone_refuse_an_unordered_window() -> None:
    with pytest.raises(ValidationError, match="sms_window_start must be before sms_window_end"):
        SmsTiming(sms_window_start=time(20, 0), sms_window_end=time(8, 0))


def test_S6_local_date_and_time_are_stockholm_not_utc() -> None:
    instant = datetime(2027, 6, 14, 22, 30, tzinfo=UTC)  # 00:30 on 15 June in Stockholm (CEST)
    assert local_date(instant) == date(2027, 6, 15)
    assert local_time(instant) == time(0, 30)
    winter = datetime(2027, 1, 14, 23, 30, tzinfo=UTC)  # 00:30 on 15 January (CET)
    assert local_date(winter) == date(2027, 1, 15)


def test_S6_local_helpers_refuse_naive_datetimes() -> None:
    with pytest.raises(ValueError):
        local_date(datetime(2027, 1, 1, 12, 0))
    with pytest.raises(ValueError):
        plan_sms_send(datetime(2027, 1, 2, 12, 0), EARLY, clinic())


def test_S6_at_local_uses_winter_and_summer_offsets() -> None:
    assert at_local(date(2027, 1, 12), time(9, 0)) == datetime(2027, 1, 12, 9, 0, tzinfo=CET)
    assert at_local(date(2027, 7, 12), time(9, 0)) == datetime(2027, 7, 12, 9, 0, tzinfo=CEST)
    assert at_local(date(2027, 7, 12), time(9, 0)).isoformat() == "2027-07-12T09:00:00+02:00"


def test_S6_at_local_in_spring_gap_moves_to_first_valid_instant() -> None:
    # 2027-03-28 02:00 CET jumps to 03:00 CEST: 02:30 does not exist.
    result = at_local(date(2027, 3, 28), time(2, 30))
    assert result == datetime(2027, 3, 28, 3, 0, tzinfo=CEST)
    assert result.astimezone(UTC) == datetime(2027, 3, 28, 1, 0, tzinfo=UTC)


def test_S6_at_local_in_autumn_fold_takes_first_occurrence() -> None:
    # 2027-10-31 03:00 CEST goes back to 02:00 CET: 02:30 happens twice.
    result = at_local(date(2027, 10, 31), time(2, 30))
    assert result.astimezone(UTC) == datetime(2027, 10, 31, 0, 30, tzinfo=UTC)  # +02:00


def test_S6_results_in_repeated_autumn_hour_compare_equal_to_utc() -> None:
    # A ZoneInfo datetime in the repeated hour never equals a UTC one (PEP 495); ours do.
    instant = datetime(2027, 10, 31, 0, 15, tzinfo=UTC)
    assert to_local(instant) == instant
    assert to_local(instant).isoformat() == "2027-10-31T02:15:00+02:00"
    assert to_local(instant + timedelta(hours=1)).isoformat() == "2027-10-31T02:15:00+01:00"


def test_S6_at_local_ignores_a_tzinfo_on_the_time() -> None:
    assert at_local(date(2027, 1, 12), time(9, 0, tzinfo=UTC)) == datetime(2027, 1, 12, 9, 0, tzinfo=CET)


# --- nominal moment ----------------------------------------------------------------------------


def test_S6_reminder_one_day_before_at_clinic_send_time() -> None:
    visit = datetime(2027, 1, 12, 9, 30, tzinfo=CET)
    plan = plan_sms_send(visit, EARLY, clinic())
    assert plan == SendPlan(at=datetime(2027, 1, 11, 9, 0, tzinfo=CET))
    assert plan.reason is None


def test_S6_clinic_days_before_3() -> None:
    visit = datetime(2027, 1, 14, 13, 0, tzinfo=CET)
    plan = plan_sms_send(visit, EARLY, clinic(sms_days_before=3))
    assert plan.at == datetime(2027, 1, 11, 9, 0, tzinfo=CET)


def test_S6_clinic_send_time_17() -> None:
    visit = datetime(2027, 1, 12, 9, 30, tzinfo=CET)
    plan = plan_sms_send(visit, EARLY, clinic(sms_send_time=time(17, 0)))
    assert plan.at == datetime(2027, 1, 11, 17, 0, tzinfo=CET)


def test_S6_days_before_is_per_clinic_not_per_reception() -> None:
    visit = datetime(2027, 1, 14, 13, 0, tzinfo=CET)
    assert nominal_send_moment(visit, clinic(sms_days_before=2)) == datetime(2027, 1, 12, 9, 0, tzinfo=CET)
    assert nominal_send_moment(visit, clinic()) == datetime(2027, 1, 13, 9, 0, tzinfo=CET)


def test_S6_visit_given_in_utc_uses_its_stockholm_date() -> None:
    visit = datetime(2027, 6, 14, 22, 30, tzinfo=UTC)  # Tue 15 June 00:30 in Stockholm
    assert nominal_send_moment(visit, clinic()) == datetime(2027, 6, 14, 9, 0, tzinfo=CEST)


# --- daylight saving 2027 ----------------------------------------------------------------------


def test_S6_dst_spring_visit_after_change_reminder_on_change_day_in_summer_time() -> None:
    visit = datetime(2027, 3, 29, 10, 0, tzinfo=CEST)  # Monday after the change
    plan = plan_sms_send(visit, EARLY, clinic())
    assert plan.at == datetime(2027, 3, 28, 9, 0, tzinfo=CEST)
    assert plan.at.astimezone(UTC) == datetime(2027, 3, 28, 7, 0, tzinfo=UTC)


def test_S6_dst_spring_visit_on_change_day_reminder_the_day_before_in_winter_time() -> None:
    visit = datetime(2027, 3, 28, 10, 0, tzinfo=CEST)
    plan = plan_sms_send(visit, EARLY, clinic())
    assert plan.at == datetime(2027, 3, 27, 9, 0, tzinfo=CET)
    assert plan.at.astimezone(UTC) == datetime(2027, 3, 27, 8, 0, tzinfo=UTC)


def test_S6_dst_spring_three_days_before_counts_calendar_days_not_72_hours() -> None:
    visit = datetime(2027, 3, 30, 9, 0, tzinfo=CEST)
    plan = plan_sms_send(visit, EARLY, clinic(sms_days_before=3))
    assert plan.at == datetime(2027, 3, 27, 9, 0, tzinfo=CET)
    assert visit - plan.at == timedelta(hours=71)  # not 72: the night of the change is one hour short


def test_S6_dst_autumn_visit_after_change_reminder_on_change_day_in_winter_time() -> None:
    visit = datetime(2027, 11, 1, 10, 0, tzinfo=CET)
    plan = plan_sms_send(visit, EARLY, clinic())
    assert plan.at == datetime(2027, 10, 31, 9, 0, tzinfo=CET)
    assert plan.at.astimezone(UTC) == datetime(2027, 10, 31, 8, 0, tzinfo=UTC)


def test_S6_dst_autumn_visit_on_change_day_reminder_the_day_before_in_summer_time() -> None:
    visit = datetime(2027, 10, 31, 10, 0, tzinfo=CET)
    plan = plan_sms_send(visit, EARLY, clinic())
    assert plan.at == datetime(2027, 10, 30, 9, 0, tzinfo=CEST)
    assert plan.at.astimezone(UTC) == datetime(2027, 10, 30, 7, 0, tzinfo=UTC)


def test_S6_dst_autumn_three_days_before_counts_calendar_days_not_72_hours() -> None:
    visit = datetime(2027, 11, 2, 9, 0, tzinfo=CET)
    plan = plan_sms_send(visit, EARLY, clinic(sms_days_before=3))
    assert plan.at == datetime(2027, 10, 30, 9, 0, tzinfo=CEST)
    assert visit - plan.at == timedelta(hours=73)


def test_S6_dst_spring_two_hour_lead_is_real_time_not_wall_clock() -> None:
    night = clinic(sms_window_start=time(0, 0), sms_window_end=time(23, 59))
    visit = at_local(date(2027, 3, 28), time(4, 0))  # 04:00 CEST = 02:00 UTC, after the jump
    # 01:30 CET is 1.5 real hours before (wall-clock arithmetic would see 2.5 hours).
    assert plan_sms_send(visit, datetime(2027, 3, 28, 0, 30, tzinfo=UTC), night).reason is Reason.TOO_LATE
    now = datetime(2027, 3, 27, 23, 50, tzinfo=UTC)  # 2h10 real time before
    assert plan_sms_send(visit, now, night).at == now


def test_S6_dst_autumn_two_hour_lead_is_real_time_not_wall_clock() -> None:
    night = clinic(sms_window_start=time(0, 0), sms_window_end=time(23, 59))
    visit = at_local(date(2027, 10, 31), time(3, 30))  # 03:30 CET = 02:30 UTC, after the fall-back
    now = datetime(2027, 10, 31, 0, 0, tzinfo=UTC)  # 02:00 CEST: 2.5 real hours before (wall: 1.5)
    assert plan_sms_send(visit, now, night).at == now
    assert plan_sms_send(visit, datetime(2027, 10, 31, 0, 31, tzinfo=UTC), night).reason is Reason.TOO_LATE


# --- booked after the nominal moment -----------------------------------------------------------


def test_S6_booked_after_send_moment_inside_window_sends_at_once() -> None:
    now = datetime(2027, 1, 11, 14, 0, tzinfo=CET)
    visit = datetime(2027, 1, 12, 10, 0, tzinfo=CET)
    plan = plan_sms_send(visit, now, clinic())
    assert plan.at == now


def test_S6_booked_same_day_at_least_two_hours_ahead_sends_at_once() -> None:
    now = datetime(2027, 1, 12, 10, 0, tzinfo=CET)
    visit = datetime(2027, 1, 12, 12, 0, tzinfo=CET)  # exactly 2 hours away: allowed
    assert plan_sms_send(visit, now, clinic()).at == now


def test_S6_visit_less_than_two_hours_away_is_too_late() -> None:
    now = datetime(2027, 1, 12, 10, 1, tzinfo=CET)
    visit = datetime(2027, 1, 12, 12, 0, tzinfo=CET)
    plan = plan_sms_send(visit, now, clinic())
    assert plan == SendPlan(reason=Reason.TOO_LATE)
    assert plan.at is None


def test_S6_visit_already_started_is_too_late() -> None:
    visit = datetime(2027, 1, 12, 12, 0, tzinfo=CET)
    assert plan_sms_send(visit, visit, clinic()).reason is Reason.TOO_LATE
    assert plan_sms_send(visit, visit + timedelta(hours=1), clinic()).reason is Reason.TOO_LATE


def test_S6_booked_at_2130_waits_for_window_next_morning() -> None:
    now = datetime(2027, 1, 11, 21, 30, tzinfo=CET)
    visit = datetime(2027, 1, 12, 12, 0, tzinfo=CET)
    assert plan_sms_send(visit, now, clinic()).at == datetime(2027, 1, 12, 8, 0, tzinfo=CET)


def test_S6_booked_at_2130_for_visit_at_10_next_day_sends_at_window_opening() -> None:
    now = datetime(2027, 1, 11, 21, 30, tzinfo=CET)
    visit = datetime(2027, 1, 12, 10, 0, tzinfo=CET)  # 08:00 is exactly 2 hours before
    assert plan_sms_send(visit, now, clinic()).at == datetime(2027, 1, 12, 8, 0, tzinfo=CET)


def test_S6_booked_at_2130_for_visit_at_09_next_day_is_too_late() -> None:
    now = datetime(2027, 1, 11, 21, 30, tzinfo=CET)
    visit = datetime(2027, 1, 12, 9, 0, tzinfo=CET)  # 07:00 would be needed, window opens 08:00
    assert plan_sms_send(visit, now, clinic()).reason is Reason.TOO_LATE


def test_S6_booked_before_window_opens_on_visit_day_waits_for_opening() -> None:
    now = datetime(2027, 1, 12, 6, 15, tzinfo=CET)
    visit = datetime(2027, 1, 12, 13, 0, tzinfo=CET)
    assert plan_sms_send(visit, now, clinic()).at == datetime(2027, 1, 12, 8, 0, tzinfo=CET)


def test_S6_window_end_is_exclusive() -> None:
    visit = datetime(2027, 1, 13, 12, 0, tzinfo=CET)
    at_end = datetime(2027, 1, 12, 20, 0, tzinfo=CET)
    assert plan_sms_send(visit, at_end, clinic()).at == datetime(2027, 1, 13, 8, 0, tzinfo=CET)
    before_end = datetime(2027, 1, 12, 19, 59, tzinfo=CET)
    assert plan_sms_send(visit, before_end, clinic()).at == before_end


def test_S6_custom_window_of_the_clinic_is_used() -> None:
    c = clinic(sms_window_start=time(10, 0), sms_window_end=time(18, 0))
    now = datetime(2027, 1, 11, 18, 30, tzinfo=CET)
    visit = datetime(2027, 1, 12, 15, 0, tzinfo=CET)
    assert plan_sms_send(visit, now, c).at == datetime(2027, 1, 12, 10, 0, tzinfo=CET)


def test_S6_send_time_before_window_moves_to_window_opening() -> None:
    c = clinic(sms_send_time=time(7, 0))
    visit = datetime(2027, 1, 12, 9, 30, tzinfo=CET)
    assert plan_sms_send(visit, EARLY, c).at == datetime(2027, 1, 11, 8, 0, tzinfo=CET)


def test_S6_send_time_after_window_moves_to_window_opening_same_day() -> None:
    c = clinic(sms_send_time=time(21, 0))
    visit = datetime(2027, 1, 12, 9, 30, tzinfo=CET)
    assert plan_sms_send(visit, EARLY, c).at == datetime(2027, 1, 11, 8, 0, tzinfo=CET)


def test_S6_same_day_reminder_too_close_uses_window_opening_that_day() -> None:
    c = clinic(sms_days_before=0, sms_send_time=time(12, 0))
    visit = datetime(2027, 1, 12, 13, 0, tzinfo=CET)  # 12:00 is less than 2 hours before
    assert plan_sms_send(visit, EARLY, c).at == datetime(2027, 1, 12, 8, 0, tzinfo=CET)


def test_S6_same_day_reminder_before_window_for_early_visit_sends_at_once() -> None:
    c = clinic(sms_days_before=0)
    visit = datetime(2027, 1, 12, 9, 0, tzinfo=CET)  # 07:00 would be needed, window opens 08:00
    now = datetime(2027, 1, 5, 12, 0, tzinfo=CET)
    assert plan_sms_send(visit, now, c).at == now


# --- re-planning when the timer fires ----------------------------------------------------------


def test_S6_timer_fires_on_time_sends_at_nominal_moment() -> None:
    visit = datetime(2027, 1, 12, 9, 30, tzinfo=CET)
    nominal = datetime(2027, 1, 11, 9, 0, tzinfo=CET)
    assert plan_sms_send(visit, nominal, clinic()).at == nominal


def test_S6_late_wake_inside_window_sends_now() -> None:
    visit = datetime(2027, 1, 12, 9, 30, tzinfo=CET)
    late = datetime(2027, 1, 11, 15, 45, tzinfo=CET)
    assert plan_sms_send(visit, late, clinic()).at == late


def test_S6_late_wake_after_window_waits_or_gives_up() -> None:
    late = datetime(2027, 1, 11, 22, 0, tzinfo=CET)
    assert plan_sms_send(datetime(2027, 1, 12, 11, 0, tzinfo=CET), late, clinic()).at == datetime(
        2027, 1, 12, 8, 0, tzinfo=CET
    )
    assert plan_sms_send(datetime(2027, 1, 12, 9, 30, tzinfo=CET), late, clinic()).reason is Reason.TOO_LATE


def test_S6_send_plan_has_exactly_one_of_at_and_reason() -> None:
    with pytest.raises(ValidationError):
        SendPlan()
    with pytest.raises(ValidationError):
        SendPlan(at=EARLY, reason=Reason.TOO_LATE)


# --- properties ----------------------------------------------------------------------------------

_instants = st.datetimes(
    min_value=datetime(2026, 12, 1), max_value=datetime(2028, 2, 1), timezones=st.just(UTC)
).map(lambda d: d.replace(microsecond=0))


@settings(max_examples=400, deadline=None)
@given(
    visit=_instants,
    lead=st.timedeltas(min_value=timedelta(0), max_value=timedelta(days=16)),
    days_before=st.integers(min_value=0, max_value=14),
    send_hour=st.integers(min_value=0, max_value=23),
    window=st.tuples(st.integers(0, 22), st.integers(1, 23)).filter(lambda w: w[0] < w[1]),
)
def test_S6_property_plan_is_in_window_not_before_now_and_two_hours_ahead(
    visit: datetime, lead: timedelta, days_before: int, send_hour: int, window: tuple[int, int]
) -> None:
    c = clinic(
        sms_days_before=days_before,
        sms_send_time=time(send_hour, 0),
        sms_window_start=time(window[0], 0),
        sms_window_end=time(window[1], 0),
    )
    now = visit - lead
    plan = plan_sms_send(visit, now, c)
    assert plan_sms_send(visit, now, c.sms_timing) == plan  # the settings a booking hands its reminder
    if plan.at is None:
        assert plan.reason is Reason.TOO_LATE
        return
    assert now <= plan.at <= visit - MIN_LEAD
    assert c.sms_window_start <= local_time(plan.at) < c.sms_window_end
    # Re-planning at the chosen moment (the timer fires on time) keeps the same moment.
    assert plan_sms_send(visit, plan.at, c).at == plan.at


@settings(max_examples=300, deadline=None)
@given(visit=_instants)
def test_S6_property_default_clinic_booked_early_sends_day_before_at_0900_local(visit: datetime) -> None:
    plan = plan_sms_send(visit, visit - timedelta(days=30), clinic())
    assert plan.at is not None
    assert local_date(plan.at) == local_date(visit) - timedelta(days=1)
    assert local_time(plan.at) == time(9, 0)
