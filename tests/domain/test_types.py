"""The contract's field types: system ids that are never patient ids (S16) and times the calendar
arithmetic of S6 and V3 can move through."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest
from pydantic import ValidationError

from demo import data as fx
from domain.booking import Reschedule, VisitBooking
from domain.types import is_plausible, is_system_id


def booking(**changes: object) -> dict[str, object]:
    return {
        "booking_id": "B1",
        "patient_id": fx.PNR_ADULT_1177,
        "clinic_id": "kir",
        "reception_id": "kir-allm",
        "start": "2027-03-29T10:00:00+02:00",
    } | changes


@pytest.mark.parametrize("patient_id", [fx.PNR_ADULT_1177, fx.PNR_ADULT_1177.replace("-", ""), fx.PNR_CHILD])
def test_S16_a_patient_id_is_refused_as_a_system_id(patient_id: str) -> None:
    assert not is_system_id(patient_id)
    with pytest.raises(ValidationError) as refused:
        VisitBooking.model_validate(booking(booking_id=patient_id))
    assert "must not be a personnummer" in str(refused.value) and patient_id not in str(refused.value)
    assert is_system_id("B-19800101") and is_system_id("demo-adult")


@pytest.mark.parametrize(
    "start", ["9999-12-31T23:59:59+00:00", "0001-01-01T00:00:00+23:59", "2201-01-01T00:00:00+01:00"]
)
def test_S6_a_visit_in_a_year_the_calendar_cannot_move_through_is_refused(start: str) -> None:
    with pytest.raises(ValidationError, match="between the years 1900 and 2200"):
        VisitBooking.model_validate(booking(start=start))
    with pytest.raises(ValidationError, match="between the years 1900 and 2200"):
        Reschedule.model_validate({"start": start})


def test_plausible_times_are_checked_in_their_offset_and_in_utc() -> None:
    assert is_plausible(datetime(2027, 3, 29, 10, tzinfo=UTC))
    assert not is_plausible(datetime(2200, 12, 31, 23, 30, tzinfo=timezone(timedelta(hours=-1))))
    assert not is_plausible(datetime(1900, 1, 1, 0, 30, tzinfo=timezone(timedelta(hours=1))))
