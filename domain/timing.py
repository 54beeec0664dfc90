"""When an SMS reminder goes out (S6), in Europe/Stockholm local time with its daylight-saving changes.

Pure functions: no I/O and no global mutable state, so workflow code may import this module
(through `workflow.unsafe.imports_passed_through()`). `STOCKHOLM` is created at import time because
the workflow sandbox must not load time-zone data while a workflow runs.

Arithmetic on instants is done in UTC: Python adds and compares two datetimes that share one
`ZoneInfo` by wall clock, which is wrong across a daylight-saving change, and a `ZoneInfo` datetime
in the repeated autumn hour never compares equal to a datetime of another zone (PEP 495). So the
datetimes returned here carry a fixed UTC offset: the Stockholm offset in force at that instant
(`+01:00` or `+02:00`). They print as Stockholm local time and compare and subtract by real time.
"Days before" is counted in calendar days on local dates, never as multiples of 24 hours.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta, timezone
from zoneinfo import ZoneInfo

from pydantic import AwareDatetime, model_validator

from domain.directory import SmsTiming
from domain.status import Reason
from domain.types import ContractModel

STOCKHOLM = ZoneInfo("Europe/Stockholm")
MIN_LEAD = timedelta(hours=2)
"""S6: a reminder is only sent while the visit is at least this far away."""


def _require_aware(dt: datetime, name: str) -> None:
    if dt.tzinfo is None or dt.utcoffset() is None:
        raise ValueError(f"{name} must be timezone-aware")


def _utc(dt: datetime, name: str) -> datetime:
    _require_aware(dt, name)
    return dt.astimezone(UTC)


def to_local(dt: datetime) -> datetime:
    """The same instant with the fixed Stockholm offset in force then (`+01:00` or `+02:00`)."""
    zoned = _utc(dt, "dt").astimezone(STOCKHOLM)
    return zoned.replace(tzinfo=timezone(zoned.utcoffset() or timedelta(0)), fold=0)


def local_date(dt: datetime) -> date:
    """The Stockholm calendar date of an aware instant (S2: age is counted on this date)."""
    return _utc(dt, "dt").astimezone(STOCKHOLM).date()


def local_time(dt: datetime) -> time:
    """The Stockholm wall-clock time (naive `time`) of an aware instant."""
    return _utc(dt, "dt").astimezone(STOCKHOLM).time()


def at_local(day: date, t: time) -> datetime:
    """The instant of Stockholm wall-clock time `t` on `day`, with its fixed offset (see `to_local`).

    - A time in the spring-forward gap (e.g. 02:30 on 2027-03-28) does not exist: the result is the
      first valid instant after the gap (03:00+02:00).
    - An ambiguous time in the autumn (e.g. 02:30 on 2027-10-31) is taken at its first occurrence
      (fold=0, still summer time, +02:00).

    Any tzinfo on `t` is ignored: clinic times are Stockholm wall-clock times.
    """
    naive = datetime.combine(day, t.replace(tzinfo=None, fold=0))
    first = naive.replace(tzinfo=STOCKHOLM)  # fold=0: first occurrence of an ambiguous time
    if first.astimezone(UTC).astimezone(STOCKHOLM).replace(tzinfo=None) == naive:
        return to_local(first)
    # In a gap. With fold=0 zoneinfo uses the offset from before the change, which maps to an
    # instant after the change; with fold=1 the offset from after it, an instant before the change.
    # The first valid instant is the change itself: the earliest instant whose wall time is at or past
    # `naive`. Search it to the microsecond between the two.
    lo = naive.replace(tzinfo=STOCKHOLM, fold=1).astimezone(UTC)
    hi = first.astimezone(UTC)
    while hi - lo > timedelta(microseconds=1):
        mid = lo + (hi - lo) / 2
        if mid.astimezone(STOCKHOLM).replace(tzinfo=None) >= naive:
            hi = mid
        else:
            lo = mid
    return to_local(hi)


class SendPlan(ContractModel):
    """S6 decision: send at `at`, or not at all for `reason` (exactly one is set)."""

    at: AwareDatetime | None = None
    reason: Reason | None = None

    @model_validator(mode="after")
    def _exactly_one(self) -> SendPlan:
        if (self.at is None) == (self.reason is None):
            raise ValueError("a send plan has exactly one of `at` and `reason`")
        return self


def nominal_send_moment(visit_start: datetime, clinic: SmsTiming) -> datetime:
    """S6: `clinic.sms_days_before` calendar days before the visit's local date, at the send time."""
    day = local_date(visit_start) - timedelta(days=clinic.sms_days_before)
    return at_local(day, clinic.sms_send_time)


def _in_window(dt: datetime, clinic: SmsTiming) -> bool:
    return clinic.sms_window_start <= local_time(dt) < clinic.sms_window_end


def _window_opening_from(candidate: datetime, clinic: SmsTiming) -> datetime:
    """`candidate` if it is inside the window, else the next time the window opens (never earlier than
    `candidate`; an opening in a daylight-saving gap is skipped, one in the repeated autumn hour is
    tried at both of its occurrences)."""
    if _in_window(candidate, clinic):
        return to_local(candidate)
    day = local_date(candidate)
    for offset in range(3):  # two days in a row never both lose the window to a clock change
        wall = datetime.combine(day + timedelta(days=offset), clinic.sms_window_start, tzinfo=STOCKHOLM)
        for fold in (0, 1):
            opening = to_local(wall.replace(fold=fold))
            if opening >= candidate and _in_window(opening, clinic):
                return opening
    raise AssertionError("the sending window never opens")


def plan_sms_send(visit_start: datetime, now: datetime, clinic: SmsTiming) -> SendPlan:
    """S6: when to send the reminder of a visit at `visit_start`, seen at `now`.

    1. The nominal moment (`nominal_send_moment`); if the clinic's send time lies outside its
       sending window [sms_window_start, sms_window_end), the window opening of that same day.
       If that moment is not yet past and still at least `MIN_LEAD` before the visit, send then.
       If it lies ahead but too close to the visit, the window opening of that day is used when it
       is still ahead and early enough.
    2. Otherwise the moment has passed: send at once if the local time is inside the window, else
       when the window next opens; if that is later than visit_start - MIN_LEAD (or the visit has
       begun), no SMS: `Reason.TOO_LATE`.

    The result is never after visit_start - MIN_LEAD, never outside the window and never before
    `now`. The workflow calls this again when its timer fires, so a late wake-up still sends at once
    when allowed. `at` carries the Stockholm offset of that instant (see `to_local`).
    """
    visit = _utc(visit_start, "visit_start")
    current = _utc(now, "now")
    deadline = visit - MIN_LEAD
    if current >= visit:
        return SendPlan(reason=Reason.TOO_LATE)

    nominal = nominal_send_moment(visit, clinic)
    nominal_day = local_date(nominal)
    opening = at_local(nominal_day, clinic.sms_window_start)
    if not _in_window(nominal, clinic):
        nominal = opening
    for moment in (nominal, opening):
        if current <= moment.astimezone(UTC) <= deadline and _in_window(moment, clinic):
            return SendPlan(at=moment)

    candidate = _window_opening_from(current, clinic)
    if candidate.astimezone(UTC) > deadline:
        return SendPlan(reason=Reason.TOO_LATE)
    return SendPlan(at=candidate)
