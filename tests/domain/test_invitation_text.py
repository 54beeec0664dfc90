"""Swedish texts of the care invitation: V2, V3, V5, V6 (never the personnummer)."""

from __future__ import annotations

import re
from datetime import date
from typing import Any

import pytest

from demo.data import CLINIC_CONNECTED, PNR_ADULT_1177, RECEPTION_GENERAL, RECEPTION_HIDDEN, demo_document
from domain.directory import Clinic, Reception
from domain.invitation import CareInvitation, DateWindow
from domain.invitation_schedule import Step
from domain.invitation_text import (
    InvitationMessage,
    inbox_message,
    letter_message,
    limits_text,
    swedish_date,
    window_text,
)


def demo_clinic(**overrides: Any) -> Clinic:
    raw = next(c for c in demo_document()["clinics"] if c["clinic_id"] == CLINIC_CONNECTED)
    raw.update(overrides)
    return Clinic.model_validate(raw)


CLINIC = demo_clinic()
HIDDEN = CLINIC.reception(RECEPTION_HIDDEN)
GENERAL = CLINIC.reception(RECEPTION_GENERAL)
assert HIDDEN is not None and GENERAL is not None


def make(**overrides: Any) -> CareInvitation:
    data: dict[str, Any] = {
        "request_id": "req-1",
        "referral_id": "rem-1",
        "patient_id": PNR_ADULT_1177,
        "clinic_id": CLINIC_CONNECTED,
        "reception_id": RECEPTION_HIDDEN,
        "visit_kind": "new",
        "visit_type": "ÖNH LÄK SÄSB nybesök",
        "reason": "Öron",
        "window": {"first_date": "2027-03-01", "last_date": "2027-04-30"},
        "weekdays": ["wed", "mon"],
        "time_of_day": "morning",
        "patient_info": {
            "visit_length": "Besöket tar cirka 45 minuter.",
            "visit_details": "Ta med dina glasögon.",
            "tests_before_visit": "Lämna blodprov en vecka före besöket.",
        },
    }
    data.update(overrides)
    return CareInvitation.model_validate(data)


def full_text(message: InvitationMessage) -> str:
    return f"{message.subject}\n{message.body}"


def assert_no_patient_id(text: str) -> None:
    assert PNR_ADULT_1177 not in text
    assert PNR_ADULT_1177.replace("-", "") not in text
    assert PNR_ADULT_1177[2:8] not in text  # not even the birth date
    without_phone = text.replace(CLINIC.phone or "", "")
    assert not re.search(r"\d{6}", without_phone.replace(" ", ""))  # no run of digits that could be an id


def test_V2_texts_carry_visit_type_reason_window_and_patient_info() -> None:
    request = make()
    for message in (
        inbox_message(Step.INVITATION, request, CLINIC, HIDDEN),
        letter_message(Step.INVITATION, request, CLINIC, HIDDEN, "Testa Testsson"),
    ):
        body = message.body
        assert "ÖNH LÄK SÄSB nybesök" in body
        assert "Öron" in body
        assert "mellan 1 mars och 30 april 2027" in body
        assert "måndagar och onsdagar" in body
        assert "förmiddag" in body
        assert "Besöket tar cirka 45 minuter." in body
        assert "Ta med dina glasögon." in body
        assert "Lämna blodprov en vecka före besöket." in body
        assert "nybesök" in body


def test_V2_texts_leave_out_absent_limits_and_patient_info() -> None:
    request = make(weekdays=None, time_of_day="any", patient_info=None)
    body = inbox_message(Step.INVITATION, request, CLINIC, HIDDEN).body
    assert "dagar" not in body
    assert "middag" not in body
    assert "Provtagning" not in body
    assert "längd" not in body
    assert limits_text(request) is None
    only_afternoon = make(weekdays=None, time_of_day="afternoon")
    assert limits_text(only_afternoon) == "Besöket kan bokas på eftermiddagen (från kl. 12)."
    only_days = make(weekdays=["fri", "tue", "thu"], time_of_day="any")
    assert limits_text(only_days) == "Besöket kan bokas på tisdagar, torsdagar och fredagar."


def test_V2_follow_up_visit_is_named_aterbesok() -> None:
    body = inbox_message(Step.INVITATION, make(visit_kind="follow_up"), CLINIC, HIDDEN).body
    assert "återbesök" in body


@pytest.mark.parametrize(
    ("first", "last", "expected"),
    [
        (date(2027, 3, 1), date(2027, 4, 30), "mellan 1 mars och 30 april 2027"),
        (date(2027, 12, 1), date(2028, 1, 31), "mellan 1 december 2027 och 31 januari 2028"),
        (date(2027, 5, 3), date(2027, 5, 3), "den 3 maj 2027"),
        (date(2027, 6, 1), date(2027, 11, 30), "mellan 1 juni och 30 november 2027"),
    ],
)
def test_V2_window_in_swedish(first: date, last: date, expected: str) -> None:
    assert window_text(DateWindow(first_date=first, last_date=last)) == expected


def test_V2_swedish_month_names() -> None:
    months = [swedish_date(date(2027, m, 1), with_year=False).split()[1] for m in range(1, 13)]
    assert months == [
        "januari",
        "februari",
        "mars",
        "april",
        "maj",
        "juni",
        "juli",
        "augusti",
        "september",
        "oktober",
        "november",
        "december",
    ]


def test_V3_inbox_invitation_names_the_reception_and_books_in_1177() -> None:
    message = inbox_message(Step.INVITATION, make(), CLINIC, HIDDEN)
    assert message.subject == "Dags att boka besök – Kirurgmottagning 2"
    assert "Kirurgmottagning 2" in message.body
    assert "Obesitas" not in full_text(message)  # S16: the display name hides the speciality
    assert "Boka din tid här i 1177" in message.body
    assert "Påminnelse" not in message.subject


def test_V3_reception_without_display_name_uses_its_name() -> None:
    message = inbox_message(Step.INVITATION, make(reception_id=RECEPTION_GENERAL), CLINIC, GENERAL)
    assert message.subject == "Dags att boka besök – Allmänkirurgisk mottagning"


def test_V6_reminders_are_marked_as_reminders() -> None:
    request = make()
    for step in (Step.REMINDER_1, Step.REMINDER_2):
        inbox = inbox_message(step, request, CLINIC, HIDDEN)
        letter = letter_message(step, request, CLINIC, HIDDEN, "Testa Testsson")
        for message in (inbox, letter):
            assert message.subject == "Påminnelse: Dags att boka besök – Kirurgmottagning 2"
            assert "påminna" in message.body
            assert "mellan 1 mars och 30 april 2027" in message.body
        assert "Boka din tid här i 1177" in inbox.body


def test_V13_follow_up_has_no_patient_message() -> None:
    with pytest.raises(ValueError, match="V13"):
        inbox_message(Step.FOLLOW_UP, make(), CLINIC, HIDDEN)
    with pytest.raises(ValueError, match="V13"):
        letter_message(Step.FOLLOW_UP, make(), CLINIC, HIDDEN, "Testa Testsson")


def test_V5_letter_asks_to_call_the_clinic() -> None:
    letter = letter_message(Step.INVITATION, make(), CLINIC, HIDDEN, "Testa Testsson")
    assert "Ring oss på 040-628 04 00 för att boka din tid." in letter.body
    assert "Boka din tid här i 1177" not in letter.body
    assert "1177" not in letter.body
    assert letter.body.startswith("Hej Testa Testsson!")
    assert letter.subject == "Dags att boka besök – Kirurgmottagning 2"

    no_phone = demo_clinic(phone=None)
    letter = letter_message(Step.REMINDER_1, make(), no_phone, HIDDEN, "Testa Testsson")
    assert "Kontakta mottagningen för att boka din tid." in letter.body
    assert "None" not in letter.body


def test_V5_letter_text_leaves_the_sign_off_to_the_letter() -> None:
    request = make()
    for step in (Step.INVITATION, Step.REMINDER_1, Step.REMINDER_2):
        letter = letter_message(step, request, CLINIC, HIDDEN, "Testa Testsson")
        assert "hälsningar" not in letter.body  # adapters/letters.py renders the sender's sign-off
        assert letter.body.endswith("för att boka din tid." if step is Step.INVITATION else "meddelandet.")
        inbox = inbox_message(step, request, CLINIC, HIDDEN)
        assert inbox.body.count("Med vänliga hälsningar") == 1
        assert inbox.body.endswith("\n\nMed vänliga hälsningar\nKirurgmottagning 2")


def test_V5_inbox_message_also_gives_the_phone_number_as_fallback() -> None:
    assert "040-628 04 00" in inbox_message(Step.INVITATION, make(), CLINIC, HIDDEN).body
    body = inbox_message(Step.INVITATION, make(), demo_clinic(phone=None), HIDDEN).body
    assert "None" not in body
    assert "kontakta mottagningen" in body


def test_V2_texts_never_contain_the_personnummer() -> None:
    request = make()
    for step in (Step.INVITATION, Step.REMINDER_1, Step.REMINDER_2):
        assert_no_patient_id(full_text(inbox_message(step, request, CLINIC, HIDDEN)))
        assert_no_patient_id(full_text(letter_message(step, request, CLINIC, HIDDEN, "Testa Testsson")))


def test_V5_blank_patient_name_greets_without_a_name() -> None:
    assert letter_message(Step.INVITATION, make(), CLINIC, HIDDEN, "  ").body.startswith("Hej!\n")


def test_texts_do_not_depend_on_reception_object_identity() -> None:
    other = Reception(reception_id="x", name="Hemlig mottagning", display_name="Mottagning 7")
    message = inbox_message(Step.INVITATION, make(), CLINIC, other)
    assert "Mottagning 7" in message.subject
    assert "Hemlig" not in full_text(message)
