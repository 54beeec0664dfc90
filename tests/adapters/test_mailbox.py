"""The digital mailbox (issue 27): the embedded one on both backends (`backend`: SQLite files,
PostgreSQL), and the HTTP adapter against a fake FaR and supplier on 127.0.0.1."""

from __future__ import annotations

import socket
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from adapters.mailbox import (
    DigitalMailbox,
    HttpMailbox,
    MailboxLedger,
    MailboxMessage,
    PermanentMailboxError,
    SqliteMailboxLedger,
    SqlMailbox,
    TransientMailboxError,
)
from tests.adapters.conftest import Backend
from tests.fake_mailbox import FakeMailbox, mailbox_server_fixture  # noqa: F401  (the `mailbox_server` fixture)

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


# --- HTTP adapter against a fake FaR and supplier on 127.0.0.1 -------------------------------------


@pytest.fixture
def ledger(backend: Backend) -> MailboxLedger:
    return backend.stores().mailbox_ledger


@pytest.fixture
def sqlite_ledger(tmp_path: Path) -> MailboxLedger:
    """For tests of the HTTP error mapping alone (the ledger is not what they check)."""
    return SqliteMailboxLedger(tmp_path / "mailbox-ledger.sqlite3")


def http_mailbox(server: FakeMailbox, ledger: MailboxLedger, timeout: float = 0.3) -> HttpMailbox:
    return HttpMailbox(server.url + "/", "t0k3n", ledger, timeout=timeout)


def test_http_looks_up_far_then_delivers_to_the_supplier_once(
    mailbox_server: FakeMailbox, ledger: MailboxLedger
) -> None:
    mailbox_server.holders[DIGITS] = "kivra"
    with http_mailbox(mailbox_server, ledger) as mailbox:
        assert isinstance(mailbox, DigitalMailbox)
        assert mailbox.has_mailbox(PATIENT_ID) is True
        assert mailbox.has_mailbox(OTHER_PATIENT) is False
        receipt = mailbox.deliver(message())
        again = mailbox.deliver(message())
    assert (receipt.message_id, receipt.supplier, receipt.duplicate) == ("mb-0001", "kivra", False)
    assert again.duplicate is True
    assert (again.message_id, again.supplier, again.delivered_at) == (
        receipt.message_id,
        receipt.supplier,
        receipt.delivered_at,
    )
    far = mailbox_server.far_requests()
    # two lookups, then the one of the delivery; the repeat asked nothing
    expected = [[DIGITS], ["197505152343"], [DIGITS]]
    assert [r["json"] for r in far] == [{"recipients": ids} for ids in expected]
    (sent,) = mailbox_server.supplier_requests()
    assert sent["path"] == "/kivra/messages" and sent["idempotency_key"] == KEY
    assert {r["auth"] for r in mailbox_server.requests} == {"Bearer t0k3n"}
    assert str(sent["content_type"]).startswith("application/json")
    assert sent["json"] == {"recipient": DIGITS, "sender_name": SENDER, "subject": SUBJECT, "body": BODY}
    stored = ledger.get(KEY)
    assert stored is not None and (stored.message_id, stored.supplier) == ("mb-0001", "kivra")


def test_http_no_patient_id_or_a_reservnummer_has_no_mailbox_without_asking(
    mailbox_server: FakeMailbox, sqlite_ledger: MailboxLedger
) -> None:
    with http_mailbox(mailbox_server, sqlite_ledger) as mailbox:
        assert mailbox.has_mailbox(RESERVNUMMER) is False and mailbox.has_mailbox("garbage") is False
        with pytest.raises(PermanentMailboxError, match="no_mailbox"):
            mailbox.deliver(message(patient_id=RESERVNUMMER))
    assert mailbox_server.requests == []


def test_http_unreachable_recipient_is_permanent_no_mailbox(
    mailbox_server: FakeMailbox, ledger: MailboxLedger
) -> None:
    with http_mailbox(mailbox_server, ledger) as mailbox, pytest.raises(PermanentMailboxError) as caught:
        mailbox.deliver(message())
    assert caught.value.reason == "no_mailbox"
    assert_clean(caught.value)
    assert mailbox_server.supplier_requests() == [] and ledger.get(KEY) is None


def test_http_retry_after_a_lost_answer_does_not_deliver_twice(
    mailbox_server: FakeMailbox, ledger: MailboxLedger, backend: Backend
) -> None:
    """The supplier accepts, the answer is lost (timeout): the retry sends the same Idempotency-Key
    (the supplier drops it); once a receipt is in the ledger, no instance sends the key again."""
    mailbox_server.holders[DIGITS] = "kivra"
    mailbox_server.supplier_delays = [1.0]
    with http_mailbox(mailbox_server, ledger) as mailbox:
        with pytest.raises(TransientMailboxError) as caught:
            mailbox.deliver(message())
        assert caught.value.reason == "timeout" and ledger.get(KEY) is None
        assert len(mailbox_server.delivered) == 1  # it did arrive
        receipt = mailbox.deliver(message())
    assert receipt.message_id == "mb-0001" and receipt.duplicate is False
    with http_mailbox(mailbox_server, backend.stores().mailbox_ledger) as restarted:
        assert restarted.deliver(message()).duplicate is True
    assert [r["idempotency_key"] for r in mailbox_server.supplier_requests()] == [KEY, KEY]
    assert len(mailbox_server.delivered) == 1


@pytest.mark.parametrize(
    ("status", "reason"),
    [
        (503, "mailbox_error"),
        (500, "mailbox_error"),
        (408, "mailbox_error"),
        (429, "rate_limited"),
        (401, "mailbox_auth"),
        (403, "mailbox_auth"),
    ],
)
@pytest.mark.parametrize("where", ["far", "supplier"])
def test_http_server_errors_are_transient(
    mailbox_server: FakeMailbox, sqlite_ledger: MailboxLedger, status: int, reason: str, where: str
) -> None:
    mailbox_server.holders[DIGITS] = "kivra"
    answer = (status, f'{{"error": "no mailbox for {PATIENT_ID}", "detail": "{BODY}"}}')
    if where == "far":
        mailbox_server.far_scripted = [answer, answer]
    else:
        mailbox_server.supplier_scripted = [answer]
    with http_mailbox(mailbox_server, sqlite_ledger) as mailbox:
        if where == "far":
            with pytest.raises(TransientMailboxError) as looked_up:
                mailbox.has_mailbox(PATIENT_ID)
            assert looked_up.value.reason == reason
        with pytest.raises(TransientMailboxError) as caught:
            mailbox.deliver(message())
        assert caught.value.reason == reason and f"HTTP {status}" in str(caught.value)
        assert_clean(caught.value)
        assert sqlite_ledger.get(KEY) is None
        assert mailbox.deliver(message()).duplicate is False  # the retry goes through, once
    assert len(mailbox_server.delivered) == 1


@pytest.mark.parametrize(
    ("body", "reason"),
    [
        ('{"error": "recipient_blocked"}', "recipient_blocked"),
        (f'{{"error": "Recipient {PATIENT_ID} is blocked"}}', "rejected"),  # free text is never echoed
        ("Not found", "rejected"),
    ],
)
def test_http_supplier_refusal_is_permanent_with_its_code(
    mailbox_server: FakeMailbox, sqlite_ledger: MailboxLedger, body: str, reason: str
) -> None:
    mailbox_server.holders[DIGITS] = "kivra"
    mailbox_server.supplier_scripted = [(422, body)]
    with (
        http_mailbox(mailbox_server, sqlite_ledger) as mailbox,
        pytest.raises(PermanentMailboxError) as caught,
    ):
        mailbox.deliver(message())
    assert caught.value.reason == reason
    assert_clean(caught.value)
    assert sqlite_ledger.get(KEY) is None


def test_http_far_refusing_the_question_is_permanent_for_a_delivery_and_unknown_for_a_lookup(
    mailbox_server: FakeMailbox, sqlite_ledger: MailboxLedger
) -> None:
    mailbox_server.far_scripted = [(400, '{"error": "bad_recipient"}')] * 2
    with http_mailbox(mailbox_server, sqlite_ledger) as mailbox:
        with pytest.raises(PermanentMailboxError) as refused:
            mailbox.deliver(message())
        with pytest.raises(TransientMailboxError, match="FAR_URL") as unknown:
            mailbox.has_mailbox(PATIENT_ID)
    assert refused.value.reason == "bad_recipient" and unknown.value.reason == "far_rejected"
    assert_clean(refused.value)
    assert_clean(unknown.value)


@pytest.mark.parametrize(
    "body",
    [
        "not json",
        "{}",
        '{"recipients": []}',
        '{"recipients": [{"id": "197505152343", "reachable": true}]}',  # another recipient
        f'{{"recipients": [{{"id": "{DIGITS}", "reachable": "yes"}}]}}',
        f'{{"recipients": [{{"id": "{DIGITS}", "reachable": true}}]}}',  # no supplier
        f'{{"recipients": [{{"id": "{DIGITS}", "reachable": true, "supplier": {{"id": "kivra"}}}}]}}',
        f'{{"recipients": [{{"id": "{DIGITS}", "reachable": true,'
        f' "supplier": {{"id": "kivra", "delivery_url": "ftp://kivra.example"}}}}]}}',
        f'{{"recipients": [{{"id": "{DIGITS}", "reachable": true,'
        f' "supplier": {{"id": "Kivra AB", "delivery_url": "https://kivra.example"}}}}]}}',
    ],
)
def test_http_far_answer_that_cannot_be_read_is_transient(
    mailbox_server: FakeMailbox, sqlite_ledger: MailboxLedger, body: str
) -> None:
    mailbox_server.far_scripted = [(200, body)]
    with (
        http_mailbox(mailbox_server, sqlite_ledger) as mailbox,
        pytest.raises(TransientMailboxError) as caught,
    ):
        mailbox.deliver(message())
    assert caught.value.reason == "far_answer"
    assert_clean(caught.value)
    assert mailbox_server.supplier_requests() == []


def test_http_far_answer_may_write_the_id_with_a_separator(
    mailbox_server: FakeMailbox, sqlite_ledger: MailboxLedger
) -> None:
    delivery_url = f"{mailbox_server.url}/minmyndighetspost"
    mailbox_server.far_scripted = [
        (
            200,
            f'{{"recipients": [{{"id": "{PATIENT_ID}", "reachable": true,'
            f' "supplier": {{"id": "minmyndighetspost", "delivery_url": "{delivery_url}"}}}}]}}',
        )
    ]
    with http_mailbox(mailbox_server, sqlite_ledger) as mailbox:
        assert mailbox.deliver(message()).supplier == "minmyndighetspost"
    (sent,) = mailbox_server.supplier_requests()
    assert sent["path"] == "/minmyndighetspost/messages"


def test_http_supplier_answer_without_an_id_is_recorded(
    mailbox_server: FakeMailbox, sqlite_ledger: MailboxLedger
) -> None:
    mailbox_server.holders[DIGITS] = "kivra"
    mailbox_server.supplier_scripted = [(202, "{}")]
    with http_mailbox(mailbox_server, sqlite_ledger) as mailbox:
        assert mailbox.deliver(message()).message_id == "unknown"
        assert mailbox.deliver(message()).duplicate is True
    assert len(mailbox_server.supplier_requests()) == 1


def test_http_slow_far_and_connection_refused_are_transient(
    mailbox_server: FakeMailbox, sqlite_ledger: MailboxLedger
) -> None:
    mailbox_server.holders[DIGITS] = "kivra"
    mailbox_server.supplier_delays = [1.0]
    started = time.monotonic()
    slow = http_mailbox(mailbox_server, sqlite_ledger, timeout=0.3)
    with slow, pytest.raises(TransientMailboxError) as caught:
        slow.deliver(message())
    assert time.monotonic() - started < 0.95 and caught.value.reason == "timeout"
    assert_clean(caught.value)
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    gone = HttpMailbox(f"http://127.0.0.1:{port}", "t", sqlite_ledger, timeout=0.5)
    with gone, pytest.raises(TransientMailboxError) as refused:
        gone.has_mailbox(PATIENT_ID)
    assert refused.value.reason == "connection"
    assert_clean(refused.value)


def test_http_same_key_from_8_threads_is_sent_once(
    mailbox_server: FakeMailbox, ledger: MailboxLedger
) -> None:
    mailbox_server.holders[DIGITS] = "kivra"
    mailbox_server.supplier_delays = [0.05] * 8
    barrier = threading.Barrier(8)
    with http_mailbox(mailbox_server, ledger, timeout=2.0) as mailbox:

        def deliver(_: int) -> bool:
            barrier.wait()
            return mailbox.deliver(message()).duplicate

        with ThreadPoolExecutor(max_workers=8) as pool:
            duplicates = list(pool.map(deliver, range(8)))
    assert sorted(duplicates) == [False] + [True] * 7
    assert len(mailbox_server.supplier_requests()) == 1


def test_http_logs_carry_no_patient_data(
    mailbox_server: FakeMailbox, sqlite_ledger: MailboxLedger, capsys: pytest.CaptureFixture[str]
) -> None:
    mailbox_server.holders[DIGITS] = "kivra"
    mailbox_server.supplier_scripted = [(201, "{}")]  # also logs the answer without an id
    with http_mailbox(mailbox_server, sqlite_ledger) as mailbox:
        mailbox.deliver(message())
    logged = capsys.readouterr()
    text = logged.out + logged.err
    assert "mailbox_delivered" in text and "mailbox_answer_without_id" in text
    for secret in (PATIENT_ID, DIGITS, SUBJECT, BODY):
        assert secret not in text
