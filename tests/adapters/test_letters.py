"""Letters by post (V5): printable PDFs, one per key, written atomically and never twice."""

from __future__ import annotations

import os
import re
import threading
from concurrent.futures import ThreadPoolExecutor
from datetime import date
from pathlib import Path

import pytest

from adapters.letters import (
    Letter,
    LetterService,
    PdfLetterOutbox,
    build_letters,
    letter_file_name,
    swedish_date,
    to_latin1,
)
from demo import data as demo_data
from domain.directory import Clinic, PostalAddress
from domain.invitation import CareInvitation
from domain.invitation_schedule import Step
from domain.invitation_text import letter_message

PATIENT = demo_data.demo_document()["patients"][1]
ADDRESS = PostalAddress.model_validate(PATIENT["postal_address"])
NAME = f"{PATIENT['given_name']} {PATIENT['family_name']}"
SUBJECT = "Välkommen att boka en tid"
KEY = "care-invitation-R1/invitation"


def letter(key: str = KEY, **changes: object) -> Letter:
    fields: dict[str, object] = {
        "key": key,
        "recipient_name": NAME,
        "address": ADDRESS,
        "sender_name": "Kirurgkliniken Demo, Allmänkirurgisk mottagning",
        "sender_phone": "040-628 04 00",
        "subject": SUBJECT,
        "body": "Du har fått en vårdinbjudan.\n\nRing oss för att boka en tid som passar dig.",
        "date": date(2026, 11, 21),
    }
    return Letter.model_validate(fields | changes)


def latin1(text: str) -> bytes:
    return text.encode("latin-1")


_SHOWN_STRING = re.compile(rb"\(((?:\\.|[^\\)])*)\)\s*Tj")


def pdf_text(data: bytes) -> str:
    """The text an uncompressed PDF shows, one line per text-showing operator (`(...) Tj`)."""
    lines = [re.sub(rb"\\([()\\])", rb"\1", m.group(1)) for m in _SHOWN_STRING.finditer(data)]
    return "\n".join(line.decode("latin-1") for line in lines)


def test_V5_letter_pdf_has_the_postal_address(tmp_path: Path) -> None:
    outbox = PdfLetterOutbox(tmp_path / "letters", compress=False)
    assert isinstance(outbox, LetterService)
    receipt = outbox.send(letter())
    assert receipt.duplicate is False and receipt.key == KEY
    path = tmp_path / "letters" / receipt.path
    data = path.read_bytes()
    assert data.startswith(b"%PDF")
    for text in (NAME, ADDRESS.street, ADDRESS.city, SUBJECT, "21 november 2026", "Med vänliga hälsningar"):
        assert latin1(text) in data, text
    assert b"222 23" in data  # the postal code, written the Swedish way ("22223" in the directory)
    assert b"040-628 04 00" in data
    assert outbox.letters() == [path]


def test_V5_invitation_letter_pdf_has_the_greeting_exactly_once(tmp_path: Path) -> None:
    document = demo_data.demo_document()
    clinic = Clinic.model_validate(
        next(c for c in document["clinics"] if c["clinic_id"] == demo_data.CLINIC_CONNECTED)
    )
    reception = clinic.reception(demo_data.RECEPTION_HIDDEN)
    assert reception is not None
    request = CareInvitation.model_validate(
        {
            "request_id": "R1",
            "referral_id": "rem-1",
            "patient_id": PATIENT["patient_id"],
            "clinic_id": clinic.clinic_id,
            "reception_id": reception.reception_id,
            "visit_kind": "new",
            "visit_type": "Nybesök",
            "reason": "Kontroll",
            "window": {"first_date": "2027-03-01", "last_date": "2027-04-30"},
        }
    )
    sender = f"{clinic.name}, {reception.sms_name}"  # as activities/invitations.py signs the letter
    for step in (Step.INVITATION, Step.REMINDER_1, Step.REMINDER_2):
        message = letter_message(step, request, clinic, reception, NAME)
        outbox = PdfLetterOutbox(tmp_path / step.value, compress=False)
        fields = {"sender_name": sender, "subject": message.subject, "body": message.body}
        text = pdf_text((outbox.folder / outbox.send(letter(**fields)).path).read_bytes())
        assert "Ring oss på 040-628 04 00 för att boka din tid." in text  # the extraction reads the body
        assert text.count("Med vänliga hälsningar") == 1, step
        assert text.endswith(f"Med vänliga hälsningar\n{sender}"), step


def test_letter_with_care_of_has_a_c_o_line(tmp_path: Path) -> None:
    address = ADDRESS.model_copy(update={"care_of": "Förälder Ett Exempelsson"})
    outbox = PdfLetterOutbox(tmp_path, compress=False)
    data = (tmp_path / outbox.send(letter(address=address)).path).read_bytes()
    assert latin1("c/o Förälder Ett Exempelsson") in data


def test_compressed_letter_is_a_pdf_without_readable_patient_data(tmp_path: Path) -> None:
    outbox = PdfLetterOutbox(tmp_path)
    data = (tmp_path / outbox.send(letter()).path).read_bytes()
    assert data.startswith(b"%PDF") and data.rstrip().endswith(b"%%EOF")
    assert latin1(ADDRESS.street) not in data


def test_second_send_is_a_duplicate_and_does_not_rewrite(tmp_path: Path) -> None:
    outbox = PdfLetterOutbox(tmp_path)
    first = outbox.send(letter())
    path = tmp_path / first.path
    os.utime(path, (1_700_000_000, 1_700_000_000))  # an old mtime makes a rewrite visible
    before = (path.stat().st_mtime_ns, path.read_bytes())
    second = outbox.send(letter(subject="Något annat"))
    assert second.duplicate is True and second.path == first.path
    assert (path.stat().st_mtime_ns, path.read_bytes()) == before
    assert outbox.letters() == [path]


def test_same_key_from_8_threads_writes_one_letter(tmp_path: Path) -> None:
    outboxes = [PdfLetterOutbox(tmp_path) for _ in range(2)]
    barrier = threading.Barrier(8)

    def send(i: int) -> bool:
        barrier.wait()
        return outboxes[i % 2].send(letter()).duplicate

    with ThreadPoolExecutor(max_workers=8) as pool:
        duplicates = list(pool.map(send, range(8)))
    assert sorted(duplicates) == [False] + [True] * 7
    assert [p.name for p in tmp_path.iterdir()] == ["care-invitation-R1__invitation.pdf"]  # no temp files


def test_file_name_comes_from_the_key_only(tmp_path: Path) -> None:
    outbox = PdfLetterOutbox(tmp_path)
    receipt = outbox.send(letter())
    assert receipt.path == "care-invitation-R1__invitation.pdf"
    patient_data = [NAME, PATIENT["given_name"], PATIENT["family_name"], PATIENT["patient_id"]]
    patient_data += [ADDRESS.street, ADDRESS.postal_code, ADDRESS.city]
    for text in patient_data:
        assert text.lower() not in receipt.path.lower()
    assert str(tmp_path) not in receipt.path


@pytest.mark.parametrize(
    ("key", "name"),
    [
        ("care-invitation-R1/invitation", "care-invitation-R1__invitation.pdf"),
        ("care-invitation-R1/reminder-2", "care-invitation-R1__reminder-2.pdf"),
        ("a.b_c-1", "a.b_c-1.pdf"),
    ],
)
def test_plain_keys_map_to_readable_names(key: str, name: str) -> None:
    assert letter_file_name(key) == name


def test_unsafe_or_ambiguous_keys_get_distinct_safe_names() -> None:
    keys = [
        "a/b",
        "a__b",
        "a/_b",
        "a_/b",
        "a:b",
        "a_b",
        "../../etc/passwd",
        "..",
        ".hidden",
        "x" * 400,
        "å/ö",
    ]
    names = [letter_file_name(k) for k in keys]
    assert len(set(names)) == len(keys)
    for name in names:
        assert all(c.isascii() and (c.isalnum() or c in "._-") for c in name), name
        assert not name.startswith(".") and name.endswith(".pdf") and len(name) < 200


def test_text_outside_latin1_does_not_crash(tmp_path: Path) -> None:
    outbox = PdfLetterOutbox(tmp_path, compress=False)
    text = "Välkommen – ring oss ’idag’ eller “i morgon” … ✓ 東京"
    receipt = outbox.send(letter(subject=text, body=text, sender_name="Klinik – Mottagning’s"))
    data = (tmp_path / receipt.path).read_bytes()
    assert latin1("Välkommen - ring oss 'idag' eller \"i morgon\" ...") in data
    assert to_latin1("Ångström — ‘x’ ﬁ") == "Ångström - 'x' fi"


def test_swedish_date() -> None:
    assert swedish_date(date(2026, 11, 21)) == "21 november 2026"
    assert swedish_date(date(2027, 1, 5)) == "5 januari 2027"


def test_build_letters(tmp_path: Path) -> None:
    outbox = build_letters(tmp_path / "data")
    assert outbox.folder == tmp_path / "data" / "letters"
    assert outbox.letters() == []
    outbox.send(letter())
    assert [p.name for p in outbox.letters()] == ["care-invitation-R1__invitation.pdf"]
