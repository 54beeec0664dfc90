"""When the next message of a care invitation goes out (V3, V4, V6, V10, V13).

Pure functions: no I/O. The workflow calls `next_step` whenever something changed (start, a message
sent, a timer fired, a changed window) with the steps already sent, and sleeps until `at`.
Days are counted in calendar days on Stockholm local dates and turned into instants with
`timing.at_local`, so a step keeps the clinic's wall-clock send time across daylight-saving changes;
returned datetimes carry a fixed UTC offset (see `domain.timing`).
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime, time, timedelta
from enum import StrEnum

from pydantic import AwareDatetime

from domain.invitation import DateWindow, InvitationState
from domain.status import MessageKind
from domain.timing import at_local, local_date, to_local
from domain.types import ContractModel

INVITATION_LEAD_DAYS = 42
"""V3: the first message goes out six weeks before the window's first date."""
REMINDER_INTERVAL_DAYS = 14
"""V6: reminders 14 calendar days after the previous message."""
FOLLOW_UP_AFTER_DAYS = 14
"""V13: an invitation still unanswered this many days after the second reminder goes to follow-up."""


class Step(StrEnum):
    INVITATION = "invitation"
    REMINDER_1 = "reminder_1"
    REMINDER_2 = "reminder_2"
    FOLLOW_UP = "follow_up"  # no message: the invitation moves to the staff follow-up list (V13)


MESSAGE_STEPS = (Step.INVITATION, Step.REMINDER_1, Step.REMINDER_2)
"""The steps that send a message, in order."""


def message_kind(step: Step, *, changed: bool = False) -> MessageKind:
    """The `MessageRecord.kind` of a message step (`changed`: the invitation sent again after a change
    of the request, V10); `follow_up` sends nothing (ValueError)."""
    if step is Step.FOLLOW_UP:
        raise ValueError("follow_up sends no message (V13)")
    return MessageKind.INVITATION_CHANGED if changed else MessageKind(step.value)


_STATE_AFTER = {
    Step.INVITATION: InvitationState.INVITED,
    Step.REMINDER_1: InvitationState.REMINDED_1,
    Step.REMINDER_2: InvitationState.REMINDED_2,
    Step.FOLLOW_UP: InvitationState.FOLLOW_UP,
}


def state_after(step: Step) -> InvitationState:
    """The invitation state once `step` is done."""
    return _STATE_AFTER[step]


class NextStep(ContractModel):
    """The next step and the moment it is due (never before the `now` it was computed at)."""

    step: Step
    at: AwareDatetime


def window_end(window: DateWindow) -> datetime:
    """Local midnight after the window's last date: from then on nothing is sent (V13)."""
    return at_local(window.last_date + timedelta(days=1), time(0, 0))


def _days_after(sent_at: datetime, days: int, send_time: time) -> datetime:
    """`days` calendar days after the local date of `sent_at`, at the clinic's send time (V6)."""
    return at_local(local_date(sent_at) + timedelta(days=days), send_time)


def next_step(window: DateWindow, send_time: time, sent: Mapping[Step, datetime], now: datetime) -> NextStep:
    """The next step of an open invitation, given the message steps already `sent` (step → when).

    - Nothing sent: the invitation, `INVITATION_LEAD_DAYS` before `first_date` at `send_time` (V3),
      or at once when that moment has passed (V4).
    - Then reminder_1 and reminder_2, each `REMINDER_INTERVAL_DAYS` calendar days after the local
      date of the previous message, at `send_time` (V6).
    - After reminder_2: follow_up `FOLLOW_UP_AFTER_DAYS` after it, or at the window's end if that
      is earlier (V13).
    - No message after the window's last date (V13): a reminder that would fall after it becomes
      follow_up at `window_end`, and once the window has ended the next step is always follow_up.
    - A moment already past (the worker was down, the window moved) is due at once: `at = now`.

    After a change of the window (V10) call it again with the new window and the same `sent`:
    a message already sent is never due again.
    """
    current = to_local(now)
    end = window_end(window)

    def due(step: Step, candidate: datetime) -> NextStep:
        if step is not Step.FOLLOW_UP and (current >= end or candidate >= end):
            step, candidate = Step.FOLLOW_UP, end
        if step is Step.FOLLOW_UP:
            candidate = min(candidate, end)
        return NextStep(step=step, at=max(candidate, current))

    if Step.REMINDER_2 in sent:
        return due(Step.FOLLOW_UP, _days_after(sent[Step.REMINDER_2], FOLLOW_UP_AFTER_DAYS, send_time))
    if Step.REMINDER_1 in sent:
        return due(Step.REMINDER_2, _days_after(sent[Step.REMINDER_1], REMINDER_INTERVAL_DAYS, send_time))
    if Step.INVITATION in sent:
        return due(Step.REMINDER_1, _days_after(sent[Step.INVITATION], REMINDER_INTERVAL_DAYS, send_time))
    first = at_local(window.first_date - timedelta(days=INVITATION_LEAD_DAYS), send_time)
    return due(Step.INVITATION, first)
