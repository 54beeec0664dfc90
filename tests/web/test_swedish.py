"""The staff page's refusals in Swedish: each message the validators and edge checks really raise
(produced here by the domain's own functions) becomes one Swedish sentence with the rule id kept."""

from __future__ import annotations

from datetime import UTC, date, datetime, time

import pytest
from pydantic import ValidationError

import application as app
from demo import data as fx
from domain.booking import S8_FLAG_LOCKED, check_visit_start
from domain.invitation import (
    CareInvitation,
    DateWindow,
    InvitationBooking,
    RequestChange,
    check_booking,
    check_new_window,
)
from domain.timing import at_local
from domain.types import describe_validation_error
from entrypoints.shared.auth import Forbidden
from entrypoints.web.swedish import refusal, translate

WINDOW = DateWindow(first_date=date(2027, 3, 1), last_date=date(2027, 3, 31))


def _request(**limits: object) -> CareInvitation:
    return CareInvitation.model_validate(
        {
            "request_id": "R1",
            "referral_id": "ref",
            "patient_id": fx.PNR_ADULT_1177,
            "clinic_id": "kir",
            "reception_id": "kir-allm",
            "visit_kind": "new",
            "visit_type": "KIR",
            "reason": "Bråck",
            "window": WINDOW,
            **limits,
        }
    )


def _raised(call: object) -> str:
    try:
        call()  # type: ignore[operator]
    except ValidationError as err:
        return describe_validation_error(err)
    except ValueError as err:
        return str(err)
    raise AssertionError("nothing was refused")


def _patient_books(day: date, at: time, **limits: object) -> str:
    booking = InvitationBooking(booking_id="B1", start=at_local(day, at), by="patient")
    return _raised(lambda: check_booking(_request(**limits), booking))


@pytest.mark.parametrize(
    ("message", "swedish"),
    [
        (
            S8_FLAG_LOCKED,
            "SMS-påminnelsen för en bokning som patienten gjort i 1177 kan inte stängas av (S8).",
        ),
        (
            _patient_books(date(2027, 4, 2), time(9)),
            "Besöket måste ligga mellan 2027-03-01 och 2027-03-31 (V8).",
        ),
        (
            _patient_books(date(2027, 3, 2), time(9), weekdays=["mon", "thu"]),
            "Besöket måste ligga på mån, tor (V8).",
        ),
        (_patient_books(date(2027, 3, 1), time(13), time_of_day="morning"), "före 12:00 (V8)"),
        (_patient_books(date(2027, 3, 1), time(9), time_of_day="afternoon"), "från 12:00 (V8)"),
        (
            _raised(lambda: check_new_window(WINDOW, date(2027, 4, 1))),
            "Tidsramen har redan passerat (sista dag 2027-03-31).",
        ),
        (
            _raised(lambda: DateWindow(first_date=date(2027, 3, 2), last_date=date(2027, 3, 1))),
            "Första dagen ligger efter sista dagen.",
        ),
        (_raised(lambda: RequestChange()), "Ange minst en ändring"),
        (_raised(lambda: RequestChange(weekdays=["mon", "mon"])), None),
        (
            _raised(lambda: check_visit_start(datetime(2020, 1, 1, tzinfo=UTC), datetime.now(UTC))),
            "Tiden har redan passerat",
        ),
        (
            "book rejected: not possible in state contacted",
            "Det går inte när ärendet har status Patienten har hört av sig.",
        ),
        (
            "workflow 'care-invitation-R1' has ended: nothing to change (completed)",
            "Ärendet är redan avslutat: inget ändrades.",
        ),
        ("set_sms_flag rejected: the visit is cancelled", "Besöket är redan avbokat."),
    ],
)
def test_V8_V10_S8_refusals_are_one_swedish_sentence(message: str, swedish: str | None) -> None:
    if swedish is None:  # not translated yet: a Swedish lead and the English reason, never nothing
        assert refusal(app.InputError(message), message) == f"Uppgiften kunde inte tas emot: {message}"
        return
    assert swedish in (translate(message) or "")
    assert swedish in refusal(app.RejectedError(message), message)


def test_a_refusal_for_another_clinic_names_no_one() -> None:
    said = refusal(Forbidden("client 'staff:demo-olle' may not act for clinic 'kir'"), "")
    assert said == "Du har inte behörighet till den här kliniken. Inget ändrades."
