"""When the messages of a care invitation go out: V3, V4, V6, V10, V13 (also across DST 2027)."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta, timezone

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from domain.invitation import DateWindow, InvitationState
from domain.invitation_schedule import (
    FOLLOW_UP_AFTER_DAYS,
    INVITATION_LEAD_DAYS,
    REMINDER_INTERVAL_DAYS,
    NextStep,
    Step,
    message_kind,
    next_step,
    state_after,
    window_end,
)
from domain.status import MessageKind
from domain.timing import at_local, local_date, local_time

CET = timezone(timedelta(hours=1))
CEST = timezone(timedelta(hours=2))
EIGHT = time(8, 0)


def local(y: int, mo: int, d: int, h: int = 0, mi: int = 0) -> datetime:
    return at_local(date(y, mo, d), time(h, mi))


def window(first: date, last: date) -> DateWindow:
    return DateWindow(first_date=first, last_date=last)


MAY_JUNE = window(date(2027, 5, 3), date(2027, 6, 30))


def test_constants() -> None:
    assert (INVITATION_LEAD_DAYS, REMINDER_INTERVAL_DAYS, FOLLOW_UP_AFTER_DAYS) == (42, 14, 14)


# --- V3 / V4: the first message ------------------------------------------------------------------


def test_V3_first_message_42_days_before_at_send_time() -> None:
    now = local(2027, 1, 10, 14)
    step = next_step(MAY_JUNE, EIGHT, {}, now)
    assert step == NextStep(step=Step.INVITATION, at=local(2027, 3, 22, 8))
    assert step.at == datetime(2027, 3, 22, 8, 0, tzinfo=CET)
    assert step.at.utcoffset() == timedelta(hours=1)
    assert local_date(step.at) == MAY_JUNE.first_date - timedelta(days=42)
    # Another clinic send time.
    assert next_step(MAY_JUNE, time(7, 15), {}, now).at == datetime(2027, 3, 22, 7, 15, tzinfo=CET)


def test_V3_first_message_exactly_at_its_moment_and_one_minute_before() -> None:
    due = local(2027, 3, 22, 8)
    assert next_step(MAY_JUNE, EIGHT, {}, due - timedelta(minutes=1)).at == due
    assert next_step(MAY_JUNE, EIGHT, {}, due).at == due


def test_V4_window_within_six_weeks_sends_at_once() -> None:
    now = datetime(2027, 4, 1, 13, 37, 12, tzinfo=UTC)  # 15:37 in Stockholm
    step = next_step(MAY_JUNE, EIGHT, {}, now)
    assert step.step is Step.INVITATION
    assert step.at == now
    assert step.at.utcoffset() == timedelta(hours=2)  # returned as Stockholm time
    # Created the day before the 42-day moment: not yet.
    assert next_step(MAY_JUNE, EIGHT, {}, local(2027, 3, 21, 9)).at == local(2027, 3, 22, 8)
    # Created on the 42-day date after the send time: at once.
    late = local(2027, 3, 22, 8, 1)
    assert next_step(MAY_JUNE, EIGHT, {}, late).at == late


def test_V4_window_already_started_sends_at_once() -> None:
    now = local(2027, 5, 20, 10)
    assert next_step(MAY_JUNE, EIGHT, {}, now) == NextStep(step=Step.INVITATION, at=now)


def test_V13_window_ended_before_invitation_goes_to_follow_up() -> None:
    now = local(2027, 7, 1, 0, 0)
    assert next_step(MAY_JUNE, EIGHT, {}, now) == NextStep(step=Step.FOLLOW_UP, at=now)
    last_evening = local(2027, 6, 30, 23, 59)
    assert next_step(MAY_JUNE, EIGHT, {}, last_evening).step is Step.INVITATION


# --- V6: the two reminders -----------------------------------------------------------------------


def test_V6_reminders_14_calendar_days_apart_at_send_time() -> None:
    sent_invitation = local(2027, 4, 1, 15, 37)  # sent at once (V4), in the afternoon
    sent: dict[Step, datetime] = {Step.INVITATION: sent_invitation}
    first = next_step(MAY_JUNE, EIGHT, sent, sent_invitation)
    assert first == NextStep(step=Step.REMINDER_1, at=local(2027, 4, 15, 8))

    sent[Step.REMINDER_1] = first.at
    second = next_step(MAY_JUNE, EIGHT, sent, first.at)
    assert second == NextStep(step=Step.REMINDER_2, at=local(2027, 4, 29, 8))

    sent[Step.REMINDER_2] = second.at
    follow = next_step(MAY_JUNE, EIGHT, sent, second.at)
    assert follow == NextStep(step=Step.FOLLOW_UP, at=local(2027, 5, 13, 8))


def test_V6_reminder_counts_from_the_local_date_the_message_was_sent() -> None:
    # 23:30 UTC on 31 March is 01:30 on 1 April in Stockholm: the reminder is 14 days after 1 April.
    sent_at = datetime(2027, 3, 31, 23, 30, tzinfo=UTC)
    step = next_step(MAY_JUNE, EIGHT, {Step.INVITATION: sent_at}, sent_at)
    assert step.at == local(2027, 4, 15, 8)


def test_V6_late_worker_sends_the_due_reminder_at_once() -> None:
    sent = {Step.INVITATION: local(2027, 3, 22, 8)}
    late = local(2027, 4, 10, 11)  # reminder_1 was due on 5 April
    assert next_step(MAY_JUNE, EIGHT, sent, late) == NextStep(step=Step.REMINDER_1, at=late)


def test_V6_across_dst_2027() -> None:
    spring_window = window(date(2027, 5, 10), date(2027, 8, 31))
    # Invitation on Monday 22 March (CET); reminder 1 on 5 April (CEST), still 08:00 local.
    sent = {Step.INVITATION: datetime(2027, 3, 22, 8, 0, tzinfo=CET)}
    first = next_step(spring_window, EIGHT, sent, sent[Step.INVITATION])
    assert first.at == datetime(2027, 4, 5, 8, 0, tzinfo=CEST)
    assert first.at.utcoffset() == timedelta(hours=2)
    assert first.at - sent[Step.INVITATION] == timedelta(days=14, hours=-1)  # 14 calendar days, 335 h

    # Autumn: reminder 2 on 25 October (CEST) → follow-up on 8 November 08:00 (CET).
    autumn_window = window(date(2027, 10, 1), date(2027, 12, 31))
    sent = {
        Step.INVITATION: datetime(2027, 9, 27, 8, 0, tzinfo=CEST),
        Step.REMINDER_1: datetime(2027, 10, 11, 8, 0, tzinfo=CEST),
        Step.REMINDER_2: datetime(2027, 10, 25, 8, 0, tzinfo=CEST),
    }
    follow = next_step(autumn_window, EIGHT, sent, sent[Step.REMINDER_2])
    assert follow.at == datetime(2027, 11, 8, 8, 0, tzinfo=CET)
    reminder_1 = datetime(2027, 10, 20, 9, 0, tzinfo=CEST)
    reminder_2 = next_step(
        autumn_window,
        EIGHT,
        {Step.INVITATION: sent[Step.INVITATION], Step.REMINDER_1: reminder_1},
        reminder_1,
    )
    assert reminder_2 == NextStep(step=Step.REMINDER_2, at=datetime(2027, 11, 3, 8, 0, tzinfo=CET))

    # First message 42 days before a window opening after the spring change: computed on local dates.
    assert next_step(window(date(2027, 5, 1), date(2027, 5, 31)), EIGHT, {}, local(2027, 1, 1)).at == (
        datetime(2027, 3, 20, 8, 0, tzinfo=CET)
    )
    assert next_step(window(date(2027, 5, 9), date(2027, 5, 31)), EIGHT, {}, local(2027, 1, 1)).at == (
        datetime(2027, 3, 28, 8, 0, tzinfo=CEST)  # the day of the change itself
    )


def test_V6_send_time_in_the_spring_gap_moves_to_the_first_valid_instant() -> None:
    # A (strange) send time of 02:30 on 28 March 2027 does not exist: 03:00+02:00.
    step = next_step(window(date(2027, 5, 9), date(2027, 5, 31)), time(2, 30), {}, local(2027, 1, 1))
    assert step.at == datetime(2027, 3, 28, 3, 0, tzinfo=CEST)


# --- V13: nothing after the window, follow-up ---------------------------------------------------


def test_V13_no_reminder_after_last_date_goes_to_follow_up() -> None:
    short = window(date(2027, 4, 20), date(2027, 4, 25))
    sent = {Step.INVITATION: local(2027, 4, 12, 10)}  # reminder 1 would be 26 April: after last_date
    step = next_step(short, EIGHT, sent, sent[Step.INVITATION])
    assert step == NextStep(step=Step.FOLLOW_UP, at=window_end(short))
    assert step.at == local(2027, 4, 26, 0, 0)

    # Reminder on the last date itself is still sent.
    on_last = window(date(2027, 4, 20), date(2027, 4, 26))
    assert next_step(on_last, EIGHT, sent, sent[Step.INVITATION]) == NextStep(
        step=Step.REMINDER_1, at=local(2027, 4, 26, 8)
    )

    # Second reminder too.
    sent2 = {Step.INVITATION: local(2027, 4, 1, 8), Step.REMINDER_1: local(2027, 4, 15, 8)}
    assert next_step(short, EIGHT, sent2, sent2[Step.REMINDER_1]) == NextStep(
        step=Step.FOLLOW_UP, at=local(2027, 4, 26, 0, 0)
    )


def test_V13_late_worker_after_the_window_goes_to_follow_up_not_a_reminder() -> None:
    sent = {Step.INVITATION: local(2027, 5, 3, 8)}  # reminder 1 due 17 May, window ends 1 July
    late = local(2027, 7, 2, 9)
    assert next_step(MAY_JUNE, EIGHT, sent, late) == NextStep(step=Step.FOLLOW_UP, at=late)


def test_V13_unanswered_14_days_after_reminder_2_follow_up() -> None:
    sent = {
        Step.INVITATION: local(2027, 3, 22, 8),
        Step.REMINDER_1: local(2027, 4, 5, 8),
        Step.REMINDER_2: local(2027, 4, 19, 8, 0),
    }
    step = next_step(MAY_JUNE, EIGHT, sent, sent[Step.REMINDER_2])
    assert step == NextStep(step=Step.FOLLOW_UP, at=local(2027, 5, 3, 8))
    # The window ending earlier brings the follow-up forward to the window's end.
    early_end = window(date(2027, 4, 20), date(2027, 4, 27))
    assert next_step(early_end, EIGHT, sent, sent[Step.REMINDER_2]).at == local(2027, 4, 28, 0, 0)
    # Past due: at once.
    late = local(2027, 5, 20, 12)
    assert next_step(MAY_JUNE, EIGHT, sent, late) == NextStep(step=Step.FOLLOW_UP, at=late)


def test_V13_window_end_is_local_midnight_after_last_date() -> None:
    assert window_end(MAY_JUNE) == datetime(2027, 7, 1, 0, 0, tzinfo=CEST)
    assert window_end(window(date(2027, 1, 1), date(2027, 3, 27))) == datetime(2027, 3, 28, 0, 0, tzinfo=CET)
    assert window_end(window(date(2027, 1, 1), date(2027, 10, 31))) == datetime(2027, 11, 1, 0, 0, tzinfo=CET)


# --- V10: a changed window ---------------------------------------------------------------------


def test_V10_changed_window_moves_unsent_invitation_and_never_resends() -> None:
    now = local(2027, 1, 10, 9)
    assert next_step(MAY_JUNE, EIGHT, {}, now).at == local(2027, 3, 22, 8)
    later = window(date(2027, 9, 6), date(2027, 10, 29))
    assert next_step(later, EIGHT, {}, now) == NextStep(step=Step.INVITATION, at=local(2027, 7, 26, 8))
    earlier = window(date(2027, 2, 1), date(2027, 2, 26))
    assert next_step(earlier, EIGHT, {}, now) == NextStep(step=Step.INVITATION, at=now)

    # After the invitation was sent, a new window never brings it back: the next step is a reminder.
    sent = {Step.INVITATION: local(2027, 3, 22, 8)}
    for new_window in (later, earlier, MAY_JUNE):
        step = next_step(new_window, EIGHT, sent, local(2027, 3, 25, 9))
        assert step.step is not Step.INVITATION
    assert next_step(later, EIGHT, sent, local(2027, 3, 25, 9)) == NextStep(
        step=Step.REMINDER_1, at=local(2027, 4, 5, 8)
    )
    # Moved to a window that has ended: follow-up, no more messages.
    ended = window(date(2027, 3, 1), date(2027, 3, 24))
    assert next_step(ended, EIGHT, sent, local(2027, 3, 25, 9)).step is Step.FOLLOW_UP


def test_step_helpers() -> None:
    assert message_kind(Step.INVITATION) is MessageKind.INVITATION
    assert message_kind(Step.REMINDER_1) is MessageKind.REMINDER_1
    assert message_kind(Step.REMINDER_2) is MessageKind.REMINDER_2
    with pytest.raises(ValueError):
        message_kind(Step.FOLLOW_UP)
    assert [state_after(s) for s in Step] == [
        InvitationState.INVITED,
        InvitationState.REMINDED_1,
        InvitationState.REMINDED_2,
        InvitationState.FOLLOW_UP,
    ]


def test_next_step_refuses_naive_now() -> None:
    with pytest.raises(ValueError):
        next_step(MAY_JUNE, EIGHT, {}, datetime(2027, 1, 1, 8))


# --- property: a whole run, with a worker that may wake late --------------------------------------


@settings(max_examples=300, deadline=None)
@given(
    created=st.dates(min_value=date(2026, 10, 1), max_value=date(2027, 12, 31)),
    lead=st.integers(min_value=-30, max_value=120),
    length=st.integers(min_value=0, max_value=120),
    send_hour=st.integers(min_value=6, max_value=18),
    delays=st.lists(st.integers(min_value=0, max_value=60 * 24 * 5), min_size=5, max_size=5),
)
def test_V3_V6_V13_a_whole_run_never_sends_after_the_window_and_never_twice(
    created: date, lead: int, length: int, send_hour: int, delays: list[int]
) -> None:
    """Simulate a workflow: sleep until `at`, wake (maybe late), ask again, send if still due."""
    first = created + timedelta(days=lead)
    win = window(first, first + timedelta(days=length))
    send_time = time(send_hour, 0)
    end = window_end(win)
    now = at_local(created, time(10, 17))
    sent: dict[Step, datetime] = {}
    for delay in delays:
        step = next_step(win, send_time, sent, now)
        assert step.at >= now
        assert step.step not in sent
        assert step.at.utcoffset() in (timedelta(hours=1), timedelta(hours=2))
        if step.step is Step.FOLLOW_UP:
            assert step.at <= max(end, now)
            break
        assert step.at < end
        if step.at > now:
            assert local_time(step.at) == send_time
        wake = step.at + timedelta(minutes=delay)
        again = next_step(win, send_time, sent, wake)
        if again.step is Step.FOLLOW_UP:
            assert wake >= end
        else:
            assert again == NextStep(step=step.step, at=wake)
            sent[step.step] = wake
        now = wake
    else:
        pytest.fail("the run did not reach follow-up")
    assert list(sent) == [Step.INVITATION, Step.REMINDER_1, Step.REMINDER_2][: len(sent)]
    assert all(local_date(at) <= win.last_date for at in sent.values())
    if len(sent) == 3 and delays[1] == 0 and delays[2] == 0:
        assert local_date(sent[Step.REMINDER_2]) - local_date(sent[Step.REMINDER_1]) == timedelta(days=14)
