"""Property-based tests of the schedule of an invitation (hypothesis; V3, V6, V13)."""

from __future__ import annotations

import itertools
from datetime import UTC, date, datetime, time, timedelta

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from domain.invitation import (
    DateWindow,
)
from domain.invitation_schedule import Step, next_step, window_end
from tests.domain.strategies import SE, minutes, sthlm, utc

# --- V3, V6, V13: the schedule of an invitation -----------------------------------------------------


def stockholm_instant(day: date, t: time) -> tuple[datetime, bool]:
    """(the instant of wall clock `t` on `day`, whether `t` is skipped that day)."""
    wall = datetime.combine(day, t, tzinfo=SE)
    skipped = sthlm(wall).replace(tzinfo=None) != wall.replace(tzinfo=None)
    return wall, skipped


def send_instant(day: date, send_time: time) -> datetime:
    """When a message at `send_time` on `day` goes out: a time in the spring-forward gap at 03:00."""
    wall, skipped = stockholm_instant(day, send_time)
    return datetime.combine(day, time(3, 0), tzinfo=SE) if skipped else wall


def assert_at_send_time(at: datetime, day: date, send_time: time) -> None:
    """`at` is on `day` at the send time's wall clock (03:00 when the send time is skipped that day)."""
    expected = sthlm(send_instant(day, send_time))
    assert sthlm(at).replace(tzinfo=None) == expected.replace(tzinfo=None)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    start=st.datetimes(
        min_value=datetime(2026, 1, 1), max_value=datetime(2027, 12, 31), timezones=st.just(UTC)
    ),
    ahead=st.integers(0, 200),
    length=st.integers(0, 120),
    send_minute=st.integers(0, 24 * 60 - 1),
    early=st.lists(st.floats(min_value=0, max_value=1), min_size=4, max_size=4),
)
@example(  # the follow-up falls on the spring-forward night: at 03:00, as every message (found by hypothesis)
    start=datetime(2026, 1, 26, tzinfo=UTC), ahead=62, length=0, send_minute=121, early=[0.0] * 4
)
def test_V3_V6_V13_property_messages_sent_on_time_follow_in_order_14_days_apart_inside_the_window(
    start: datetime, ahead: int, length: int, send_minute: int, early: list[float]
) -> None:
    """A worker that always wakes exactly at `at` and sends. Extends test_invitation_schedule's run
    (late wake-ups) with minute-resolution send times (also in the DST hour), windows up to 200 days
    ahead, exact 14-day spacing, and early re-evaluation (a change wakes the workflow before `at`)."""
    send_time = minutes(send_minute)
    first = sthlm(start).date() + timedelta(days=ahead)
    win = DateWindow(first_date=first, last_date=first + timedelta(days=length))
    end = datetime.combine(win.last_date + timedelta(days=1), time(0, 0), tzinfo=SE)  # local midnight
    assert utc(window_end(win)) == utc(end)

    now = start
    sent: dict[Step, datetime] = {}
    seen: list[Step] = []
    for fraction in early:
        step = next_step(win, send_time, sent, now)
        seen.append(step.step)
        assert utc(step.at) >= utc(now)
        assert step.at.utcoffset() == sthlm(step.at).utcoffset()
        # Asked again earlier than `at` (any moment since `now`), the answer is the same.
        between = utc(now) + (utc(step.at) - utc(now)) * fraction
        assert next_step(win, send_time, sent, between) == step
        if step.step is Step.FOLLOW_UP:
            break
        assert utc(step.at) < utc(end)  # V13: no message from the window's end on
        sent[step.step] = step.at
        now = step.at
    else:
        pytest.fail("no follow_up after three messages")

    messages = [Step.INVITATION, Step.REMINDER_1, Step.REMINDER_2]
    assert seen == [*messages[: len(seen) - 1], Step.FOLLOW_UP]
    assert Step.INVITATION in sent  # the window has not ended when the invitation is created
    nominal_day = first - timedelta(days=42)
    nominal, _ = stockholm_instant(nominal_day, send_time)
    if utc(nominal) >= utc(start) or sthlm(start).date() < nominal_day:
        assert_at_send_time(sent[Step.INVITATION], nominal_day, send_time)  # V3
    else:
        assert sent[Step.INVITATION] == start  # V4: at once
    for before, after in itertools.pairwise(messages):
        if after in sent:  # V6: 14 local calendar days after the previous message, at the send time
            assert_at_send_time(sent[after], sthlm(sent[before]).date() + timedelta(days=14), send_time)
        elif before in sent:  # the next one would fall on or after the window's end (V13)
            due = send_instant(sthlm(sent[before]).date() + timedelta(days=14), send_time)
            assert utc(due) >= utc(end) or sthlm(due).date() > win.last_date
    follow_up = next_step(win, send_time, sent, now)
    assert follow_up.step is Step.FOLLOW_UP
    if Step.REMINDER_2 in sent:
        due = send_instant(sthlm(sent[Step.REMINDER_2]).date() + timedelta(days=14), send_time)
        assert utc(follow_up.at) == max(min(utc(due), utc(end)), utc(now))
    else:
        assert utc(follow_up.at) == utc(end)
