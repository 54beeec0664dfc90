"""The digital mailbox (issue 27): the embedded one on both backends (`backend`: SQLite files,
PostgreSQL), and the HTTP adapter against a fake FaR and supplier on 127.0.0.1."""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor

import pytest

from adapters.mailbox import (
    DigitalMailbox,
    MailboxMessage,
    PermanentMailboxError,
    SqlMailbox,
)
from tests.adapters.conftest import Backend

PATIENT_ID = "19800101-1231"
DIGITS = PATIENT_ID.replace("-", "")
OTHER_PATIENT = "19750515-2343"
RESERVNUMMER = "20160301-R001"
SENDER = "Kirurgkliniken Demo"
SUBJECT = "Välkommen att boka en tid"
BODY = "Du har fått en vårdinbjudan från Kirurgkliniken Demo. Ring oss för att boka en tid."
KEY = "care-invitation-R1/invitation/mailbox"


def message(key: str = KEY, patient_id: str = PATIENT_ID) -> MailboxMessage:
    return MailboxMessage(key=key, patient_id=patient_id, sender_name=SENDER, subject=SUBJECT, body=BODY)


def assert_clean(error: BaseException) -> None:
    """No personnummer (in any form), subject or body in an error."""
    for text in (str(error), repr(error)):
        for secret in (PATIENT_ID, DIGITS, DIGITS[2:], SUBJECT, BODY, "vårdinbjudan"):
            assert secret not in text


def embedded(backend: Backend) -> SqlMailbox:
    return backend.stores().embedded_mailbox


# --- embedded mailbox -------------------------------------------------------------------------------


def test_embedded_holders_are_stored_canonically(backend: Backend) -> None:
    mailbox = embedded(backend)
    assert isinstance(mailbox, DigitalMailbox)
    assert mailbox.has_mailbox(PATIENT_ID) is False
    mailbox.register(DIGITS)  # 12 digits, no separator: the same person
    assert mailbox.has_mailbox(PATIENT_ID) and mailbox.has_mailbox(f" {DIGITS} ")
    assert embedded(backend).has_mailbox(PATIENT_ID)  # another process sees it
    assert mailbox.has_mailbox(OTHER_PATIENT) is False
    assert mailbox.has_mailbox("not a patient id") is False
    assert mailbox.unregister(PATIENT_ID) is True and mailbox.unregister(PATIENT_ID) is False
    assert mailbox.has_mailbox(DIGITS) is False


def test_embedded_register_refuses_bad_input_without_echoing_it(backend: Backend) -> None:
    mailbox = embedded(backend)
    for bad in ("19800101-1232", RESERVNUMMER, ""):  # bad check digit; FaR knows no reservnummer
        with pytest.raises(ValueError, match="personnummer or samordningsnummer") as caught:
            mailbox.register(bad)
        assert bad == "" or bad not in str(caught.value)
    with pytest.raises(ValueError, match="supplier"):
        mailbox.register(PATIENT_ID, supplier="Kivra AB; DROP TABLE")
    assert mailbox.has_mailbox(RESERVNUMMER) is False
    assert mailbox.has_mailbox(PATIENT_ID) is False


def test_embedded_deliver_without_a_mailbox_is_permanent_no_mailbox(backend: Backend) -> None:
    mailbox = embedded(backend)
    for patient_id in (PATIENT_ID, RESERVNUMMER, "garbage"):
        with pytest.raises(PermanentMailboxError) as caught:
            mailbox.deliver(message(patient_id=patient_id))
        assert caught.value.reason == "no_mailbox"
        assert_clean(caught.value)
    assert mailbox.count() == 0 and mailbox.messages() == []


def test_embedded_deliver_is_idempotent_per_key(backend: Backend) -> None:
    mailbox = embedded(backend)
    mailbox.register(PATIENT_ID, supplier="minmyndighetspost")
    first = mailbox.deliver(message(patient_id=DIGITS))
    again = embedded(backend).deliver(message())
    assert (first.duplicate, again.duplicate) == (False, True)
    assert first.supplier == "minmyndighetspost" and first.key == KEY
    assert (again.message_id, again.supplier, again.delivered_at) == (
        first.message_id,
        first.supplier,
        first.delivered_at,
    )
    (entry,) = mailbox.messages()
    assert (entry.key, entry.patient_id, entry.supplier) == (KEY, PATIENT_ID, "minmyndighetspost")
    assert (entry.sender_name, entry.subject, entry.body) == (SENDER, SUBJECT, BODY)
    assert (entry.message_id, entry.delivered_at) == (first.message_id, first.delivered_at)
    # The patient closes the mailbox: the delivered key still answers with its receipt, a new one fails.
    mailbox.unregister(PATIENT_ID)
    assert mailbox.deliver(message()).message_id == first.message_id
    with pytest.raises(PermanentMailboxError, match="no_mailbox"):
        mailbox.deliver(message("care-invitation-R1/reminder-1/mailbox"))
    assert mailbox.count() == 1


def test_embedded_register_again_changes_the_supplier(backend: Backend) -> None:
    mailbox = embedded(backend)
    mailbox.register(PATIENT_ID)
    assert mailbox.deliver(message()).supplier == "kivra"
    mailbox.register(PATIENT_ID, supplier="billo")
    assert mailbox.deliver(message("k2")).supplier == "billo"
    assert [e.supplier for e in mailbox.messages()] == ["kivra", "billo"]


def test_embedded_same_key_from_8_threads_stores_exactly_one_row(backend: Backend) -> None:
    boxes = [embedded(backend) for _ in range(2)]  # two instances, as two processes would have
    boxes[0].register(PATIENT_ID)
    barrier = threading.Barrier(8)

    def deliver(i: int) -> tuple[str, bool]:
        barrier.wait()
        receipt = boxes[i % 2].deliver(message())
        return receipt.message_id, receipt.duplicate

    with ThreadPoolExecutor(max_workers=8) as pool:
        results = list(pool.map(deliver, range(8)))
    assert len({message_id for message_id, _ in results}) == 1
    assert sorted(duplicate for _, duplicate in results) == [False] + [True] * 7
    assert boxes[0].count() == 1


def test_embedded_same_key_from_3_processes_stores_one_row(backend: Backend) -> None:
    embedded(backend).register(PATIENT_ID)
    script = """
        from adapters.mailbox import MailboxMessage
        mailbox = stores.embedded_mailbox
        mailbox.count()  # open the store before the start
        ready()
        receipt = mailbox.deliver(MailboxMessage.model_validate_json(sys.argv[1]))
        done([receipt.message_id, receipt.duplicate])
    """
    results = backend.run_together(script, 3, message().model_dump_json())
    assert len({message_id for message_id, _ in results}) == 1
    assert sorted(duplicate for _, duplicate in results) == [False, True, True]
    (entry,) = embedded(backend).messages()
    assert (entry.key, entry.message_id, entry.patient_id) == (KEY, results[0][0], PATIENT_ID)
