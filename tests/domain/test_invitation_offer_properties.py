"""Property-based tests of the times offered to the patient (hypothesis; V8 the offer, issue 27).

Expectations come from the independent V8 oracle of `test_invitation_properties` (Stockholm local time
via `zoneinfo`) and from `check_booking` itself: the offer and the refusal must never disagree.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pydantic import ValidationError

from domain.invitation import BookedBy, CareInvitation, InvitationBooking, check_booking
from domain.invitation_offer import Slot, fits, offered_slots
from tests.domain import test_invitation_properties as v8
from tests.domain.strategies import DST_AUTUMN, DST_SPRING, SE, ZONES, sthlm

SETTINGS = settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
NOW = datetime(2025, 6, 1, 12, 0, tzinfo=UTC)


def booking_passes_v8(request: CareInvitation, start: datetime) -> bool:
    try:
        check_booking(request, InvitationBooking(booking_id="b1", start=start, by=BookedBy.PATIENT))
    except ValueError:
        return False
    return True


@st.composite
def slots_for(draw: st.DrawFn, request: CareInvitation, start: datetime) -> Slot:
    """A slot at `start`, of the request's clinic, reception and visit type or of another one."""
    return Slot(
        slot_id=draw(st.sampled_from(["s1", "s2", "s3"])),
        clinic_id=draw(st.sampled_from([request.clinic_id, "kl2"])),
        reception_id=draw(st.sampled_from([request.reception_id, "rec2"])),
        visit_type=draw(st.sampled_from([request.visit_type, "Återbesök"])),
        start=start,
        end=start.astimezone(UTC) + timedelta(minutes=draw(st.integers(1, 120))),
        free=draw(st.booleans()),
    )


@st.composite
def offer_cases(draw: st.DrawFn) -> tuple[CareInvitation, Slot, timedelta, datetime]:
    request, start = draw(v8.invitations_and_starts())
    slot = draw(slots_for(request, start))
    visit_length = timedelta(minutes=draw(st.integers(1, 120)))
    now = draw(st.sampled_from([NOW, start - timedelta(seconds=1), start, start + timedelta(hours=1)]))
    return request, slot, visit_length, now


@SETTINGS
@given(case=offer_cases())
def test_V8_offer_property_slot_offered_iff_V8_passes_at_its_start_and_free_long_enough_of_the_request(
    case: tuple[CareInvitation, Slot, timedelta, datetime],
) -> None:
    request, slot, visit_length, now = case
    expected = (
        v8.v8_allows(request, slot.start)
        and slot.free
        and (slot.clinic_id, slot.reception_id, slot.visit_type)
        == (request.clinic_id, request.reception_id, request.visit_type)
        and slot.end.astimezone(UTC) - slot.start.astimezone(UTC) >= visit_length
        and slot.start.astimezone(UTC) > now.astimezone(UTC)
    )
    assert fits(request, slot, visit_length, now) is expected
    assert (offered_slots(request, [slot], visit_length, now) == [slot]) is expected
    if expected:  # the offer never proposes a time the booking check refuses
        assert booking_passes_v8(request, slot.start)


@st.composite
def many_slots(draw: st.DrawFn) -> tuple[CareInvitation, list[Slot]]:
    request, _ = draw(v8.invitations_and_starts())
    slots = []
    for index in range(draw(st.integers(0, 12))):
        day = request.window.first_date + timedelta(days=draw(st.integers(-2, 10)))
        wall = datetime.combine(day, time(0, 0), tzinfo=SE) + timedelta(minutes=draw(st.integers(0, 1439)))
        start = wall.astimezone(draw(st.sampled_from(ZONES)))
        slots.append(
            Slot(
                slot_id=f"s{index}",
                clinic_id=request.clinic_id,
                reception_id=request.reception_id,
                visit_type=request.visit_type,
                start=start,
                end=start.astimezone(UTC) + timedelta(minutes=draw(st.sampled_from([15, 30, 45]))),
                free=draw(st.booleans()),
            )
        )
    return request, slots


@SETTINGS
@given(case=many_slots())
def test_V8_offer_property_earliest_first_and_exactly_the_fitting_slots(
    case: tuple[CareInvitation, list[Slot]],
) -> None:
    request, slots = case
    length = timedelta(minutes=30)
    offer = offered_slots(request, slots, length, NOW)
    assert {slot.slot_id for slot in offer} == {s.slot_id for s in slots if fits(request, s, length, NOW)}
    starts = [slot.start.astimezone(UTC) for slot in offer]
    assert starts == sorted(starts)
    assert all(booking_passes_v8(request, slot.start) for slot in offer)


# --- weekdays and time of day at the daylight-saving changes (Europe/Stockholm) ------------------------


def request_for(day: date, **limits: object) -> CareInvitation:
    return CareInvitation.model_validate(
        {
            "request_id": "req1",
            "referral_id": "ref1",
            "patient_id": "19121212-1212",
            "clinic_id": "kl1",
            "reception_id": "rec1",
            "visit_kind": "new",
            "visit_type": "Nybesök",
            "reason": "Kontroll",
            "window": {"first_date": day, "last_date": day},
            **limits,
        }
    )


def slot_at(start: datetime, minutes: int = 30) -> Slot:
    return Slot(
        slot_id="s1",
        clinic_id="kl1",
        reception_id="rec1",
        visit_type="Nybesök",
        start=start,
        end=start.astimezone(UTC) + timedelta(minutes=minutes),  # real time, not wall clock
    )


@SETTINGS
@given(
    day=st.sampled_from(DST_SPRING + DST_AUTUMN),
    minute=st.integers(0, 24 * 60 - 1),
    time_of_day=st.sampled_from(["any", "morning", "afternoon"]),
    zone=st.sampled_from(ZONES),
)
def test_V8_offer_property_time_of_day_and_weekday_on_the_DST_change_days_follow_the_Stockholm_wall_clock(
    day: date, minute: int, time_of_day: str, zone: object
) -> None:
    start = datetime.combine(day, time(0, 0), tzinfo=UTC) + timedelta(minutes=minute) - timedelta(hours=2)
    start = start.astimezone(zone)  # type: ignore[arg-type]
    local = sthlm(start)
    request = request_for(day, weekdays=["sun"], time_of_day=time_of_day)
    expected = (
        local.date() == day
        and {
            "any": True,
            "morning": local.time() < time(12, 0),
            "afternoon": local.time() >= time(12, 0),
        }[time_of_day]
    )
    # the DST changes fall on Sundays
    assert fits(request, slot_at(start), timedelta(minutes=30), NOW) is expected


@pytest.mark.parametrize(
    ("local", "offset", "time_of_day", "offered"),
    [
        ("2027-03-28T11:59", "+02:00", "morning", True),
        ("2027-03-28T12:00", "+02:00", "morning", False),
        ("2027-03-28T12:00", "+02:00", "afternoon", True),
        ("2027-03-28T01:59", "+01:00", "morning", True),  # just before the clock jumps to 03:00
        ("2027-10-31T02:30", "+02:00", "morning", True),  # the repeated hour, first time round
        ("2027-10-31T02:30", "+01:00", "morning", True),  # the repeated hour, second time round
        ("2027-10-31T23:59", "+01:00", "afternoon", True),
        ("2027-10-31T23:59", "+00:00", "afternoon", False),  # 00:59 on Monday in Stockholm
    ],
)
def test_V8_offer_time_of_day_and_weekday_at_the_DST_boundaries(
    local: str, offset: str, time_of_day: str, offered: bool
) -> None:
    start = datetime.fromisoformat(local + offset)
    request = request_for(start.date(), weekdays=["sun"], time_of_day=time_of_day)
    assert fits(request, slot_at(start), timedelta(minutes=30), NOW) is offered
    assert booking_passes_v8(request, start) is offered


def test_V8_offer_slot_length_is_real_time_across_the_spring_change() -> None:
    """01:30–03:30 on the spring change day is one real hour: too short for a 90-minute visit."""
    start = datetime(2027, 3, 28, 1, 30, tzinfo=SE)
    slot = Slot(
        slot_id="s1",
        clinic_id="kl1",
        reception_id="rec1",
        visit_type="Nybesök",
        start=start,
        end=datetime(2027, 3, 28, 3, 30, tzinfo=SE),
    )
    request = request_for(start.date())
    assert slot.length == timedelta(hours=1)
    assert fits(request, slot, timedelta(hours=1), NOW)
    assert not fits(request, slot, timedelta(minutes=90), NOW)


def test_V8_offer_refuses_a_slot_ending_before_it_starts_and_a_visit_without_length() -> None:
    start = datetime(2027, 10, 31, 2, 30, tzinfo=SE)  # fold 0: +02:00
    with pytest.raises(ValidationError, match="end must be after its start"):
        slot_at(start, minutes=0)
    with pytest.raises(ValueError, match="length must be positive"):
        offered_slots(request_for(start.date()), [slot_at(start)], timedelta(0), NOW)


def test_V8_offer_never_offers_a_slot_that_has_started() -> None:
    start = datetime(2027, 5, 3, 9, 0, tzinfo=SE)
    request = request_for(start.date())
    assert offered_slots(request, [slot_at(start)], timedelta(minutes=30), start - timedelta(minutes=1))
    assert not offered_slots(request, [slot_at(start)], timedelta(minutes=30), start)
