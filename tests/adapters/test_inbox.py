"""1177 inbox: the embedded store and the HTTP adapter against a real local server.

The embedded inbox and the inbox ledger run on both backends (`backend`: SQLite files, PostgreSQL),
with processes racing on the same key; tests of the HTTP error mapping alone use a SQLite ledger."""

from __future__ import annotations

import socket
import sqlite3
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path

import pytest

from adapters.inbox import (
    HttpInbox,
    Inbox,
    InboxLedger,
    InboxMessage,
    PermanentInboxError,
    SqliteInbox,
    SqliteInboxLedger,
    TransientInboxError,
)
from demo import data as demo_data
from tests.adapters.conftest import Backend
from tests.fake_inbox import FakeInbox, inbox_server_fixture  # noqa: F401  (the `inbox_server` fixture)

PATIENT_ID = demo_data.demo_document()["patients"][0]["patient_id"]
SUBJECT = "Välkommen att boka en tid"
BODY = "Du har fått en vårdinbjudan från Kirurgkliniken Demo. Boka en tid som passar dig."
BOOKING_URL = "https://e-tjanster.1177.se/boka/R1"
KEY = "care-invitation-R1/invitation"


def message(key: str = KEY, booking_url: str | None = BOOKING_URL) -> InboxMessage:
    return InboxMessage(key=key, patient_id=PATIENT_ID, subject=SUBJECT, body=BODY, booking_url=booking_url)


def assert_clean(error: BaseException) -> None:
    digits = PATIENT_ID.replace("-", "")
    for text in (str(error), repr(error)):
        assert PATIENT_ID not in text and digits not in text and digits[2:] not in text
        assert BODY not in text and "vårdinbjudan" not in text and SUBJECT not in text


# --- embedded inbox ---------------------------------------------------------------------------------


def test_embedded_inbox_is_idempotent_per_key(backend: Backend) -> None:
    inbox = backend.stores().embedded_inbox
    assert isinstance(inbox, Inbox)
    first = inbox.deliver(message())
    second = inbox.deliver(message())
    assert first.duplicate is False and second.duplicate is True
    assert (second.message_id, second.delivered_at) == (first.message_id, first.delivered_at)
    assert inbox.count() == 1
    inbox.deliver(message("care-invitation-R1/reminder-1", booking_url=None))
    entries = inbox.messages()
    assert [(e.key, e.booking_url) for e in entries] == [
        (KEY, BOOKING_URL),
        ("care-invitation-R1/reminder-1", None),
    ]
    entry = entries[0]
    assert (entry.patient_id, entry.subject, entry.body) == (PATIENT_ID, SUBJECT, BODY)
    assert entry.message_id == first.message_id and entry.delivered_at == first.delivered_at


def test_embedded_inbox_same_key_from_8_threads_stores_exactly_one_row(backend: Backend) -> None:
    # Two instances, as two processes would have.
    inboxes = [backend.stores().embedded_inbox for _ in range(2)]
    barrier = threading.Barrier(8)

    def deliver(i: int) -> tuple[str, bool]:
        barrier.wait()
        receipt = inboxes[i % 2].deliver(message())
        return receipt.message_id, receipt.duplicate

    with ThreadPoolExecutor(max_workers=8) as pool:
        results = list(pool.map(deliver, range(8)))
    assert len({message_id for message_id, _ in results}) == 1
    assert sorted(duplicate for _, duplicate in results) == [False] + [True] * 7
    assert inboxes[0].count() == 1


def test_embedded_inbox_shared_by_two_processes(backend: Backend) -> None:
    script = """
        from adapters.inbox import InboxMessage
        box = stores.embedded_inbox
        ready()
        for i in range(20):
            box.deliver(InboxMessage(key=f"k{i}", patient_id="p", subject="s", body="b"))
        done(None)
    """
    assert backend.run_together(script, 2) == [None, None]
    inbox = backend.stores().embedded_inbox
    assert inbox.count() == 20
    assert sorted(e.key for e in inbox.messages()) == sorted(f"k{i}" for i in range(20))


def test_embedded_inbox_same_key_from_3_processes_stores_one_row(backend: Backend) -> None:
    script = """
        from adapters.inbox import InboxMessage
        inbox = stores.embedded_inbox
        inbox.count()  # open the store before the start
        ready()
        receipt = inbox.deliver(InboxMessage.model_validate_json(sys.argv[1]))
        done([receipt.message_id, receipt.duplicate])
    """
    results = backend.run_together(script, 3, message().model_dump_json())
    assert len({message_id for message_id, _ in results}) == 1
    assert sorted(duplicate for _, duplicate in results) == [False, True, True]
    (entry,) = backend.stores().embedded_inbox.messages()
    assert (entry.key, entry.message_id) == (KEY, results[0][0])
    assert (entry.patient_id, entry.subject, entry.body, entry.booking_url) == (
        PATIENT_ID,
        SUBJECT,
        BODY,
        BOOKING_URL,
    )


def test_embedded_inbox_read_at_is_none_until_read_and_the_first_read_is_kept(backend: Backend) -> None:
    """Issue 27: `read_at` says when the patient opened a message; `mark_read` stands in for 1177."""
    inbox, other_process = backend.stores().embedded_inbox, backend.stores().embedded_inbox
    assert inbox.read_at(KEY) is None  # no such key
    assert inbox.mark_read(KEY) is False
    inbox.deliver(message())
    assert inbox.read_at(KEY) is None  # delivered, not opened
    first = datetime(2027, 3, 1, 9, 30, tzinfo=timezone(timedelta(hours=1)))
    assert inbox.mark_read(KEY, at=first) is True
    assert other_process.read_at(KEY) == first and other_process.read_at(KEY).tzinfo is UTC  # type: ignore[union-attr]
    assert other_process.mark_read(KEY, at=first + timedelta(days=2)) is True
    assert inbox.read_at(KEY) == first  # the first read counts
    (entry,) = inbox.messages()
    assert entry.read_at == first
    assert inbox.read_at("care-invitation-R1/reminder-1") is None


def test_embedded_inbox_mark_read_defaults_to_now_and_refuses_a_time_without_offset(backend: Backend) -> None:
    inbox = backend.stores().embedded_inbox
    inbox.deliver(message())
    with pytest.raises(ValueError, match="offset"):
        inbox.mark_read(KEY, at=datetime(2027, 3, 1, 9, 30))
    assert inbox.read_at(KEY) is None
    before = datetime.now(UTC)
    assert inbox.mark_read(KEY) is True
    read = inbox.read_at(KEY)
    assert read is not None and before <= read <= datetime.now(UTC)


def test_sqlite_inbox_of_an_earlier_release_gains_read_at(tmp_path: Path) -> None:
    """A file written before issue 27 (no `read_at` column) is upgraded on first use, rows kept."""
    path = tmp_path / "inbox-1177.sqlite3"
    with sqlite3.connect(path) as conn:
        conn.execute(
            "CREATE TABLE inbox (seq INTEGER PRIMARY KEY AUTOINCREMENT, key TEXT NOT NULL UNIQUE,"
            " patient_id TEXT NOT NULL, subject TEXT NOT NULL, body TEXT NOT NULL, booking_url TEXT,"
            " delivered_at TEXT NOT NULL, message_id TEXT NOT NULL)"
        )
        conn.execute(
            "INSERT INTO inbox (key, patient_id, subject, body, delivered_at, message_id)"
            " VALUES (?, ?, ?, ?, ?, ?)",
            (KEY, PATIENT_ID, SUBJECT, BODY, "2027-01-01T08:00:00+00:00", "m-1"),
        )
    conn.close()
    inbox = SqliteInbox(path)
    try:
        assert inbox.read_at(KEY) is None
        assert inbox.mark_read(KEY, at=datetime(2027, 1, 2, tzinfo=UTC)) is True
        (entry,) = inbox.messages()
        assert (entry.message_id, entry.read_at) == ("m-1", datetime(2027, 1, 2, tzinfo=UTC))
    finally:
        inbox.close()


# --- HTTP adapter against a local server ------------------------------------------------------------


@pytest.fixture
def ledger(backend: Backend) -> InboxLedger:
    return backend.stores().inbox_ledger


@pytest.fixture
def sqlite_ledger(tmp_path: Path) -> InboxLedger:
    """For tests of the HTTP error mapping alone (the ledger is not what they check)."""
    return SqliteInboxLedger(tmp_path / "inbox-ledger.sqlite3")


def http_inbox(server: FakeInbox, ledger: InboxLedger, timeout: float = 0.3) -> HttpInbox:
    return HttpInbox(server.url + "/", "t0k3n", ledger, timeout=timeout)


def test_http_posts_json_with_token_and_idempotency_key(inbox_server: FakeInbox, ledger: InboxLedger) -> None:
    with http_inbox(inbox_server, ledger) as inbox:
        assert isinstance(inbox, Inbox)
        receipt = inbox.deliver(message())
        again = inbox.deliver(message())
    assert receipt.message_id == "msg-0001" and receipt.duplicate is False
    assert again.duplicate is True and again.message_id == receipt.message_id
    assert again.delivered_at == receipt.delivered_at
    (request,) = inbox_server.requests  # the second delivery did not reach the server
    assert request["path"] == "/messages"
    assert request["auth"] == "Bearer t0k3n"
    assert request["idempotency_key"] == KEY
    assert str(request["content_type"]).startswith("application/json")
    assert request["json"] == {
        "patient_id": PATIENT_ID,
        "subject": SUBJECT,
        "body": BODY,
        "booking_url": BOOKING_URL,
    }
    stored = ledger.get(KEY)
    assert stored is not None and stored.message_id == "msg-0001" and stored.duplicate is False


def test_http_200_is_accepted_and_null_booking_url_is_sent(
    inbox_server: FakeInbox, sqlite_ledger: InboxLedger
) -> None:
    inbox_server.status, inbox_server.body = 200, '{"id": 42}'
    with http_inbox(inbox_server, sqlite_ledger) as inbox:
        assert inbox.deliver(message(booking_url=None)).message_id == "42"
    assert inbox_server.requests[0]["json"]["booking_url"] is None  # type: ignore[index]


def test_http_ledger_is_shared_across_instances(
    inbox_server: FakeInbox, ledger: InboxLedger, backend: Backend
) -> None:
    with http_inbox(inbox_server, ledger) as inbox:
        inbox.deliver(message())
    with http_inbox(inbox_server, backend.stores().inbox_ledger) as restarted:
        assert restarted.deliver(message()).duplicate is True
    assert len(inbox_server.requests) == 1


def test_http_not_a_1177_user_is_permanent(inbox_server: FakeInbox, ledger: InboxLedger) -> None:
    inbox_server.status, inbox_server.body = 422, '{"error": "not_a_1177_user"}'
    with http_inbox(inbox_server, ledger) as inbox, pytest.raises(PermanentInboxError) as caught:
        inbox.deliver(message())
    assert caught.value.reason == "not_a_1177_user"
    assert_clean(caught.value)
    assert ledger.get(KEY) is None


@pytest.mark.parametrize(
    ("status", "body"),
    [
        (404, "Not found"),
        (409, "{}"),
        (422, '{"error": "Patient 19800101-1231 is unknown"}'),  # free text is never echoed
        (400, '{"detail": "bad"}'),
    ],
)
def test_http_other_refusals_are_rejected(
    inbox_server: FakeInbox, sqlite_ledger: InboxLedger, status: int, body: str
) -> None:
    inbox_server.status, inbox_server.body = status, body
    with http_inbox(inbox_server, sqlite_ledger) as inbox, pytest.raises(PermanentInboxError) as caught:
        inbox.deliver(message())
    assert caught.value.reason == "rejected"
    assert_clean(caught.value)


@pytest.mark.parametrize(
    ("status", "reason"),
    [
        (503, "inbox_error"),
        (500, "inbox_error"),
        (408, "inbox_error"),
        (429, "rate_limited"),
        (401, "inbox_auth"),
        (403, "inbox_auth"),
    ],
)
def test_http_server_errors_are_transient(
    inbox_server: FakeInbox, ledger: InboxLedger, status: int, reason: str
) -> None:
    inbox_server.status, inbox_server.body = status, f"error {status} for {PATIENT_ID}"
    with http_inbox(inbox_server, ledger) as inbox, pytest.raises(TransientInboxError) as caught:
        inbox.deliver(message())
    assert caught.value.reason == reason
    assert_clean(caught.value)
    assert ledger.get(KEY) is None


def test_http_retry_after_a_transient_error_delivers_once(
    inbox_server: FakeInbox, ledger: InboxLedger
) -> None:
    inbox_server.scripted = [(503, "unavailable")]
    with http_inbox(inbox_server, ledger) as inbox:
        with pytest.raises(TransientInboxError):
            inbox.deliver(message())
        assert inbox.deliver(message()).duplicate is False
        assert inbox.deliver(message()).duplicate is True
    assert len(inbox_server.requests) == 2
    assert {r["idempotency_key"] for r in inbox_server.requests} == {KEY}


def test_http_slow_answer_is_transient(inbox_server: FakeInbox, ledger: InboxLedger) -> None:
    inbox_server.delay = 1.0
    started = time.monotonic()
    with http_inbox(inbox_server, ledger, timeout=0.3) as inbox, pytest.raises(TransientInboxError) as caught:
        inbox.deliver(message())
    assert time.monotonic() - started < 0.95
    assert caught.value.reason == "timeout"
    assert_clean(caught.value)
    assert ledger.get(KEY) is None


def test_http_connection_refused_is_transient(sqlite_ledger: InboxLedger) -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    inbox = HttpInbox(f"http://127.0.0.1:{port}", "t", sqlite_ledger, timeout=0.5)
    with inbox, pytest.raises(TransientInboxError) as caught:
        inbox.deliver(message())
    assert caught.value.reason == "connection"
    assert_clean(caught.value)


def test_http_same_key_from_8_threads_is_sent_once(inbox_server: FakeInbox, ledger: InboxLedger) -> None:
    inbox_server.delay = 0.05
    barrier = threading.Barrier(8)
    with http_inbox(inbox_server, ledger, timeout=2.0) as inbox:

        def deliver(_: int) -> bool:
            barrier.wait()
            return inbox.deliver(message()).duplicate

        with ThreadPoolExecutor(max_workers=8) as pool:
            duplicates = list(pool.map(deliver, range(8)))
    assert sorted(duplicates) == [False] + [True] * 7
    assert len(inbox_server.requests) == 1


# --- HTTP adapter: has the patient read it? (issue 27) ----------------------------------------------


def test_http_read_at_asks_the_endpoint_with_the_ledgers_message_id(
    inbox_server: FakeInbox, ledger: InboxLedger
) -> None:
    with http_inbox(inbox_server, ledger) as inbox:
        inbox.deliver(message())
        inbox_server.read["msg-0001"] = None
        assert inbox.read_at(KEY) is None  # delivered, not opened
        inbox_server.read["msg-0001"] = "2027-03-01T09:30:00+01:00"
        read = inbox.read_at(KEY)
    assert read == datetime(2027, 3, 1, 8, 30, tzinfo=UTC) and read.tzinfo is UTC  # type: ignore[union-attr]
    assert inbox_server.gets == ["/messages/msg-0001"] * 2
    assert inbox_server.get_auth == ["Bearer t0k3n"] * 2
    assert len(inbox_server.requests) == 1  # asking delivers nothing


def test_http_read_at_of_a_key_never_delivered_asks_nothing(
    inbox_server: FakeInbox, sqlite_ledger: InboxLedger
) -> None:
    with http_inbox(inbox_server, sqlite_ledger) as inbox:
        assert inbox.read_at(KEY) is None
    assert inbox_server.gets == []


def test_http_read_at_of_a_message_the_endpoint_does_not_know_is_none(
    inbox_server: FakeInbox, sqlite_ledger: InboxLedger
) -> None:
    with http_inbox(inbox_server, sqlite_ledger) as inbox:
        inbox.deliver(message())
        assert inbox.read_at(KEY) is None  # 404
    assert inbox_server.gets == ["/messages/msg-0001"]


def test_http_read_at_quotes_the_message_id(inbox_server: FakeInbox, sqlite_ledger: InboxLedger) -> None:
    inbox_server.body = '{"id": "a/b c?d"}'
    inbox_server.read["a/b c?d"] = "2027-03-01T08:30:00Z"
    with http_inbox(inbox_server, sqlite_ledger) as inbox:
        inbox.deliver(message())
        assert inbox.read_at(KEY) == datetime(2027, 3, 1, 8, 30, tzinfo=UTC)
    assert inbox_server.gets == ["/messages/a%2Fb%20c%3Fd"]


def test_http_read_at_of_a_message_accepted_without_an_id_is_none(
    inbox_server: FakeInbox, sqlite_ledger: InboxLedger
) -> None:
    inbox_server.body = "{}"
    with http_inbox(inbox_server, sqlite_ledger) as inbox:
        assert inbox.deliver(message()).message_id == "unknown"
        assert inbox.read_at(KEY) is None
    assert inbox_server.gets == []


@pytest.mark.parametrize(
    ("status", "reason"),
    [
        (503, "inbox_error"),
        (500, "inbox_error"),
        (408, "inbox_error"),
        (429, "rate_limited"),
        (401, "inbox_auth"),
        (403, "inbox_auth"),
        (400, "inbox_error"),  # never a permanent error: it cannot tell
        (410, "inbox_error"),
    ],
)
def test_http_read_at_errors_are_transient(
    inbox_server: FakeInbox, sqlite_ledger: InboxLedger, status: int, reason: str
) -> None:
    inbox_server.scripted_gets = [(status, f'{{"error": "patient {PATIENT_ID} {BODY}"}}')]
    with http_inbox(inbox_server, sqlite_ledger) as inbox:
        inbox.deliver(message())
        with pytest.raises(TransientInboxError) as caught:
            inbox.read_at(KEY)
    assert caught.value.reason == reason and f"HTTP {status}" in str(caught.value)
    assert_clean(caught.value)


@pytest.mark.parametrize(
    "body",
    [
        "not json",
        '{"id": "msg-0001"}',
        '{"id": "msg-0001", "read_at": "yesterday"}',
        '{"id": "msg-0001", "read_at": "2027-03-01T09:30:00"}',  # no offset
        '{"id": "msg-0001", "read_at": 1767000000}',
        '["2027-03-01T09:30:00+01:00"]',
    ],
)
def test_http_read_at_answer_without_a_readable_time_is_transient(
    inbox_server: FakeInbox, sqlite_ledger: InboxLedger, body: str
) -> None:
    inbox_server.scripted_gets = [(200, body)]
    with http_inbox(inbox_server, sqlite_ledger) as inbox:
        inbox.deliver(message())
        with pytest.raises(TransientInboxError, match="without a readable `read_at`") as caught:
            inbox.read_at(KEY)
    assert caught.value.reason == "inbox_answer"


def test_http_read_at_slow_or_unreachable_is_transient(
    inbox_server: FakeInbox, sqlite_ledger: InboxLedger
) -> None:
    inbox_server.get_delay = 1.0
    with http_inbox(inbox_server, sqlite_ledger, timeout=0.3) as inbox:
        inbox.deliver(message())
        with pytest.raises(TransientInboxError) as caught:
            inbox.read_at(KEY)
    assert caught.value.reason == "timeout"
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    moved = HttpInbox(f"http://127.0.0.1:{port}", "t", sqlite_ledger, timeout=0.5)
    with moved, pytest.raises(TransientInboxError) as caught:
        moved.read_at(KEY)  # the same ledger: the receipt is there, the endpoint is not
    assert caught.value.reason == "connection"
    assert_clean(caught.value)
