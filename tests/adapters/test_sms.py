"""SMS gateways: the embedded outbox and the 46elks-shaped HTTP adapter against a real local server.

The outbox and the SMS ledger run on both backends (`backend`: SQLite files, PostgreSQL), with
processes racing on the same key; tests of the HTTP error mapping alone use a SQLite ledger."""

from __future__ import annotations

import base64
import json
import re
import socket
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from pydantic import ValidationError

from adapters.sms import (
    PermanentSmsError,
    SmsGateway,
    SmsMessage,
    SmsReceipt,
    SqlOutbox,
    TransientSmsError,
)
from adapters.sms_elks import ElksSmsGateway, delivery_callback_url, delivery_token
from adapters.sms_ledger import DeliveryUpdate, SentLedger, SqliteSentLedger
from domain.status import Delivery
from testkit.fake_provider import FakeProvider
from tests.adapters.conftest import Backend

TO = "+46701740605"
TEXT = "Påminnelse: besök på Kirurgmottagning 2 tis 14 jan kl 09:30. Välkommen!"


def message(key: str = "sms-reminder-b1:v1:patient", to: str = TO) -> SmsMessage:
    return SmsMessage(key=key, to=to, text=TEXT, sender="RegionDemo")


def assert_clean(error: BaseException) -> None:
    for text in (str(error), repr(error)):
        assert TO not in text and "701740605" not in text and "Påminnelse" not in text


# --- outbox -----------------------------------------------------------------------------------------


@pytest.fixture
def outbox(backend: Backend) -> SqlOutbox:
    return backend.stores().outbox


def test_outbox_is_idempotent_per_key(outbox: SqlOutbox) -> None:
    assert isinstance(outbox, SmsGateway)
    first = outbox.send(message())
    second = outbox.send(message())
    assert first.duplicate is False and second.duplicate is True
    assert (second.provider_id, second.sent_at) == (first.provider_id, first.sent_at)
    assert outbox.count() == 1
    outbox.send(message("sms-reminder-b1:v1:guardian_1", to="+46701740606"))
    entries = outbox.messages()
    assert [(e.key, e.to) for e in entries] == [
        ("sms-reminder-b1:v1:patient", TO),
        ("sms-reminder-b1:v1:guardian_1", "+46701740606"),
    ]
    assert entries[0].text == TEXT and entries[0].sender == "RegionDemo"
    assert entries[0].provider_id == first.provider_id and entries[0].sent_at == first.sent_at


def test_outbox_same_key_from_8_threads_stores_exactly_one_row(backend: Backend) -> None:
    outboxes = [backend.stores().outbox for _ in range(2)]  # two instances, as two processes would have
    barrier = threading.Barrier(8)

    def send(i: int) -> tuple[str, bool]:
        barrier.wait()
        receipt = outboxes[i % 2].send(message())
        return receipt.provider_id, receipt.duplicate

    with ThreadPoolExecutor(max_workers=8) as pool:
        results = list(pool.map(send, range(8)))
    assert len({provider_id for provider_id, _ in results}) == 1
    assert sorted(duplicate for _, duplicate in results) == [False] + [True] * 7
    assert outboxes[0].count() == 1


def test_outbox_shared_by_two_processes(backend: Backend) -> None:
    script = """
        from adapters.sms import SmsMessage
        box = stores.outbox
        ready()
        for i in range(25):
            box.send(SmsMessage(key=f"k{i}", to="+46701740605", text="t", sender="Demo"))
        done(None)
    """
    assert backend.run_together(script, 2) == [None, None]
    outbox = backend.stores().outbox
    assert outbox.count() == 25
    assert sorted(e.key for e in outbox.messages()) == sorted(f"k{i}" for i in range(25))


def test_outbox_same_key_from_3_processes_stores_one_row(backend: Backend) -> None:
    script = """
        from adapters.sms import SmsMessage
        outbox = stores.outbox
        outbox.count()  # open the store before the start
        ready()
        receipt = outbox.send(SmsMessage.model_validate_json(sys.argv[1]))
        done([receipt.provider_id, receipt.duplicate])
    """
    results = backend.run_together(script, 3, message().model_dump_json())
    assert len({provider_id for provider_id, _ in results}) == 1
    assert sorted(duplicate for _, duplicate in results) == [False, True, True]
    outbox = backend.stores().outbox
    (entry,) = outbox.messages()
    assert (entry.key, entry.provider_id) == (message().key, results[0][0])


def test_sms_message_refuses_bad_input_without_echoing_it() -> None:
    with pytest.raises(ValidationError) as caught:
        SmsMessage(key="k", to="070-1740605", text=TEXT, sender="RegionDemo")
    assert "1740605" not in str(caught.value)
    with pytest.raises(ValidationError):
        SmsMessage(key="k", to=TO, text=TEXT, sender="Region Skåne Demo")  # 46elks: max 11 alnum


# --- 46elks adapter against a local HTTP server -----------------------------------------------------


@pytest.fixture
def ledger(backend: Backend) -> SentLedger:
    return backend.stores().sms_ledger


@pytest.fixture
def sqlite_ledger(tmp_path: Path) -> SentLedger:
    """For tests of the HTTP error mapping alone (the ledger is not what they check)."""
    return SqliteSentLedger(tmp_path / "sms-ledger.sqlite3")


def gateway(elks: FakeProvider, ledger: SentLedger, **options: Any) -> ElksSmsGateway:
    """`history_wait` and `clock_margin` in seconds; the adapter's defaults otherwise."""
    for name in ("history_wait", "clock_margin"):
        if name in options:
            options[name] = timedelta(seconds=options[name])
    return ElksSmsGateway(elks.url + "/", "u0123456789", "s3cret", ledger, timeout=0.5, **options)


def test_elks_sends_form_with_basic_auth_and_writes_the_ledger(
    elks: FakeProvider, ledger: SentLedger
) -> None:
    with gateway(elks, ledger) as sms:
        receipt = sms.send(message())
        again = sms.send(message())
    assert receipt.provider_id == "s0a1b2c3d4" and receipt.duplicate is False
    assert again.duplicate is True and again.provider_id == receipt.provider_id
    assert again.sent_at == receipt.sent_at
    (request,) = elks.requests  # the second send did not reach the server
    assert request["path"] == "/a1/sms"
    assert request["auth"] == "Basic " + base64.b64encode(b"u0123456789:s3cret").decode()
    assert str(request["content_type"]).startswith("application/x-www-form-urlencoded")
    assert request["form"] == {"from": "RegionDemo", "to": TO, "message": TEXT}
    stored = ledger.get(message().key)
    assert stored is not None and stored.provider_id == "s0a1b2c3d4" and stored.duplicate is False


def test_elks_ledger_is_shared_across_gateway_instances(
    elks: FakeProvider, ledger: SentLedger, backend: Backend
) -> None:
    with gateway(elks, ledger) as sms:
        sms.send(message())
    with gateway(elks, backend.stores().sms_ledger) as restarted:
        assert restarted.send(message()).duplicate is True
    assert len(elks.requests) == 1


def test_elks_invalid_number_is_permanent(elks: FakeProvider, ledger: SentLedger) -> None:
    elks.status, elks.body = 400, "Invalid to number"
    with gateway(elks, ledger) as sms, pytest.raises(PermanentSmsError) as caught:
        sms.send(message())
    assert caught.value.reason == "invalid_number"
    assert_clean(caught.value)
    assert ledger.get(message().key) is None


def test_elks_other_4xx_is_rejected(elks: FakeProvider, sqlite_ledger: SentLedger) -> None:
    elks.status, elks.body = 400, "Message too long"
    with gateway(elks, sqlite_ledger) as sms, pytest.raises(PermanentSmsError) as caught:
        sms.send(message())
    assert caught.value.reason == "rejected"
    assert_clean(caught.value)


@pytest.mark.parametrize(
    ("status", "reason"),
    [(500, "provider_error"), (503, "provider_error"), (429, "rate_limited"), (401, "provider_auth")],
)
def test_elks_server_errors_are_transient(
    elks: FakeProvider, ledger: SentLedger, status: int, reason: str
) -> None:
    elks.status, elks.body = status, f"error {status}"
    with gateway(elks, ledger) as sms, pytest.raises(TransientSmsError) as caught:
        sms.send(message())
    assert caught.value.reason == reason
    assert_clean(caught.value)
    assert ledger.get(message().key) is None
    if status == 401:
        assert "SMS provider refused the credentials" in str(caught.value)


def test_elks_retry_after_a_transient_error_sends_once(elks: FakeProvider, ledger: SentLedger) -> None:
    elks.status = 503
    with gateway(elks, ledger) as sms:
        with pytest.raises(TransientSmsError):
            sms.send(message())
        elks.status = 200
        assert sms.send(message()).duplicate is False
        assert sms.send(message()).duplicate is True
    assert len(elks.requests) == 2


def test_elks_timeout_is_transient(elks: FakeProvider, sqlite_ledger: SentLedger) -> None:
    elks.delay = 1.0
    started = time.monotonic()
    with gateway(elks, sqlite_ledger) as sms, pytest.raises(TransientSmsError) as caught:
        sms.send(message())
    assert time.monotonic() - started < 0.95
    assert caught.value.reason == "timeout"
    assert_clean(caught.value)


def test_elks_retry_after_a_timeout_finds_the_accepted_message_instead_of_sending_again(
    elks: FakeProvider, ledger: SentLedger
) -> None:
    """S15: 46elks has no idempotency key; a timed-out send that got through must not go twice."""
    elks.delay = 1.0  # accepted, but the answer comes after the client's 0.5 s timeout
    with gateway(elks, ledger) as sms:
        with pytest.raises(TransientSmsError):
            sms.send(message())
        elks.delay = 0.0
        receipt = sms.send(message())
        assert sms.send(message()).duplicate is True
    assert len(elks.requests) == 1
    assert receipt.provider_id == "s0a1b2c3d4" and receipt.duplicate is False
    (lookup,) = elks.gets
    assert "to=%2B46701740605" in lookup and "end=" in lookup


def test_elks_retry_after_a_refused_attempt_sends_at_once_without_looking_up(
    elks: FakeProvider, ledger: SentLedger
) -> None:
    """A 503 is an answer: that attempt sent nothing, so the retry neither waits nor looks it up."""
    elks.scripted = [(503, "error")]
    with gateway(elks, ledger) as sms:
        with pytest.raises(TransientSmsError):
            sms.send(message())
        assert ledger.attempted(message().key) is None
        assert sms.send(message()).provider_id == "s0a1b2c3d4"
    assert len(elks.requests) == 2 and elks.gets == []


def test_elks_retry_after_an_unanswered_attempt_sends_when_history_has_no_match_after_the_wait(
    elks: FakeProvider, ledger: SentLedger
) -> None:
    other_text = FakeProvider.entry("s-other", TO, "En annan text", "RegionDemo")
    elks.history.append(other_text)
    ledger.attempt(message().key, datetime.now(UTC) - timedelta(minutes=6))  # lost, 6 minutes ago
    with gateway(elks, ledger) as sms:
        assert sms.send(message()).provider_id == "s0a1b2c3d4"
    assert len(elks.requests) == 1 and len(elks.gets) == 1


def test_elks_history_match_claimed_by_another_key_does_not_count(
    elks: FakeProvider, ledger: SentLedger
) -> None:
    """Two keys with the same number and text (siblings, one guardian): each gets its own SMS."""
    elks.body = json.dumps({"id": "s-sibling", "status": "created", "direction": "outgoing"})
    with gateway(elks, ledger, history_wait=0) as sms:
        sms.send(message(key="sms-reminder-sibling:v1:guardian-1"))
        ledger.attempt(message().key, datetime.now(UTC) - timedelta(seconds=1))  # an attempt never answered
        elks.body = json.dumps({"id": "s-own", "status": "created"})
        assert sms.send(message()).provider_id == "s-own"
    assert len(elks.requests) == 2 and len(elks.gets) == 1


def test_elks_unreadable_history_is_transient_and_sends_nothing(
    elks: FakeProvider, ledger: SentLedger
) -> None:
    elks.delay = 1.0
    with gateway(elks, ledger) as sms:
        with pytest.raises(TransientSmsError):
            sms.send(message())
        elks.delay, elks.history_status = 0.0, 500
        with pytest.raises(TransientSmsError) as caught:
            sms.send(message())
    assert caught.value.reason == "history"
    assert_clean(caught.value)
    assert len(elks.requests) == 1


def test_elks_history_before_the_first_attempt_is_not_a_match(elks: FakeProvider, ledger: SentLedger) -> None:
    """A message with the same text sent an hour before our first attempt is another send."""
    old = FakeProvider.entry("s-old", TO, TEXT, "RegionDemo", created=datetime.now(UTC) - timedelta(hours=1))
    elks.history.append(old)
    ledger.attempt(message().key, datetime.now(UTC) - timedelta(seconds=1))
    with gateway(elks, ledger, history_wait=0) as sms:
        assert sms.send(message()).provider_id == "s0a1b2c3d4"
    assert len(elks.requests) == 1 and len(elks.gets) == 1


def test_elks_connection_refused_is_transient(sqlite_ledger: SentLedger) -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    sms = ElksSmsGateway(f"http://127.0.0.1:{port}", "u", "p", sqlite_ledger, timeout=0.5)
    with sms, pytest.raises(TransientSmsError) as caught:
        sms.send(message())
    assert caught.value.reason == "connection"
    assert_clean(caught.value)


def test_elks_same_key_from_8_threads_is_sent_once(elks: FakeProvider, ledger: SentLedger) -> None:
    elks.delay = 0.05
    barrier = threading.Barrier(8)
    with gateway(elks, ledger) as sms:

        def send(_: int) -> bool:
            barrier.wait()
            return sms.send(message()).duplicate

        with ThreadPoolExecutor(max_workers=8) as pool:
            duplicates = list(pool.map(send, range(8)))
    assert sorted(duplicates) == [False] + [True] * 7
    assert len(elks.requests) == 1


# --- S15 across processes: the ledger shared by several processes (or hosts) ------------------------

SEND_FROM_A_PROCESS = """
    from adapters.sms import SmsMessage, TransientSmsError
    from adapters.sms_elks import ElksSmsGateway
    url, timeout, message = sys.argv[1], float(sys.argv[2]), SmsMessage.model_validate_json(sys.argv[3])
    ledger = stores.sms_ledger
    ledger.get("warm-up")  # open the ledger before the start
    with ElksSmsGateway(url, "u", "p", ledger, timeout=timeout) as gateway:
        ready()
        errors = []
        while True:  # as the activity's retries would
            try:
                receipt = gateway.send(message)
                break
            except TransientSmsError as e:
                errors.append(e.reason)
                if len(errors) == 3:
                    raise
    done({"provider_id": receipt.provider_id, "duplicate": receipt.duplicate, "errors": errors})
"""


def send_from_4_processes(backend: Backend, elks: FakeProvider, timeout: float) -> list[dict[str, object]]:
    # A distinct id for every POST the fake would accept: a second POST would show as a second id.
    elks.scripted = [(200, json.dumps({"id": f"s-{i}", "status": "created"})) for i in range(4)]
    return backend.run_together(SEND_FROM_A_PROCESS, 4, elks.url, str(timeout), message().model_dump_json())


def test_S15_same_key_from_4_processes_is_sent_once(backend: Backend, elks: FakeProvider) -> None:
    elks.delay = 0.05  # the first POST is still unanswered while the others arrive
    results = send_from_4_processes(backend, elks, timeout=10.0)
    assert len(elks.requests) == 1
    assert {r["provider_id"] for r in results} == {"s-0"}
    assert sorted(r["duplicate"] for r in results) == [False, True, True, True]
    assert [r["errors"] for r in results] == [[]] * 4
    ledger = backend.stores().sms_ledger
    stored = ledger.get(message().key)
    assert stored is not None and stored.provider_id == "s-0"
    assert ledger.attempted_since(message().key) is None


def test_S15_same_key_from_4_processes_is_sent_once_when_the_first_answer_is_lost(
    backend: Backend, elks: FakeProvider
) -> None:
    """The first POST is accepted but answered after the client's timeout: the next send of the key,
    from whichever process, resolves it from the provider's history instead of posting again."""
    elks.scripted_delays = [1.0]
    results = send_from_4_processes(backend, elks, timeout=0.5)
    assert len(elks.requests) == 1
    assert len(elks.gets) == 1  # one history lookup; every later send finds the ledger's receipt
    assert {r["provider_id"] for r in results} == {"s-0"}
    assert sorted(r["duplicate"] for r in results) == [False, True, True, True]
    assert sorted(reason for r in results for reason in r["errors"]) == ["timeout"]
    ledger = backend.stores().sms_ledger
    stored = ledger.get(message().key)
    assert stored is not None and stored.provider_id == "s-0"
    assert ledger.attempted_since(message().key) is None


# --- delivery reports: `whendelivered` and the ledger's monotonic record ----------------------------

SECRET = "dlr-secret-0123456789abcdef"
CALLBACK = "https://pm.example/callbacks/sms/46elks"


def test_elks_asks_for_delivery_reports_at_a_url_of_the_message_with_its_own_token(
    elks: FakeProvider, sqlite_ledger: SentLedger
) -> None:
    elks.reports = ()  # nobody listens at pm.example
    callback = delivery_callback_url(CALLBACK, SECRET)
    sms = ElksSmsGateway(elks.url, "u", "p", sqlite_ledger, timeout=0.5, delivery=callback)
    with sms:
        receipt = sms.send(message())
        again = sms.send(message())
    assert receipt.delivery_pending is True and again.delivery_pending is True
    (request,) = elks.requests
    token = delivery_token(SECRET, message().key)
    url = f"https://46elks:{token}@pm.example/callbacks/sms/46elks?key=sms-reminder-b1%3Av1%3Apatient"
    assert request["form"] == {"from": "RegionDemo", "to": TO, "message": TEXT, "whendelivered": url}
    assert "dontlog" not in request["form"] and "dryrun" not in request["form"]  # docs/delivery-reports.md
    assert SECRET not in url and SECRET not in repr(callback)


def test_each_message_has_its_own_token_keyed_by_the_secret_and_no_patient_data_in_its_url() -> None:
    callback = delivery_callback_url(CALLBACK, SECRET)
    first, other = "sms-reminder:kir:B1/v1/patient", "sms-reminder:kir:B2/v1/patient"
    token = delivery_token(SECRET, first)
    assert len(token) == 43 and re.fullmatch(r"[A-Za-z0-9_-]+", token)  # HMAC-SHA256, unpadded base64url
    assert token != delivery_token(SECRET, other) and token != delivery_token(SECRET + "x", first)
    url = callback.url_for(first)
    query = "key=sms-reminder%3Akir%3AB1%2Fv1%2Fpatient"  # system ids only, URL-encoded
    assert url == f"https://46elks:{token}@pm.example/callbacks/sms/46elks?{query}"
    assert callback.url_for(other) != url and TO not in url and SECRET not in url


def test_elks_without_a_callback_url_asks_for_no_delivery_reports(
    elks: FakeProvider, sqlite_ledger: SentLedger
) -> None:
    with gateway(elks, sqlite_ledger) as sms:
        assert sms.send(message()).delivery_pending is False
    assert "whendelivered" not in elks.requests[0]["form"]


@pytest.mark.parametrize(
    ("url", "secret"),
    [
        ("https://user:pw@pm.example/cb", SECRET),
        ("https://pm.example/cb?pw=1", SECRET),
        ("https://pm.example/cb#pw", SECRET),
        ("ftp://pm.example/cb", SECRET),
        (CALLBACK, "short"),
        (CALLBACK, "not/url@safe:0123456789"),
    ],
)
def test_delivery_callback_url_refuses_bad_settings_without_echoing_the_secret(url: str, secret: str) -> None:
    with pytest.raises(ValueError) as caught:
        delivery_callback_url(url, secret)
    assert secret not in str(caught.value) and "pw" not in str(caught.value)


def test_S15_S16_lost_answer_with_delivery_reports_is_still_found_by_its_text(
    elks: FakeProvider, sqlite_ledger: SentLedger
) -> None:
    """No `dontlog`: 46elks keeps the text, so the retry after a lost answer still finds the message
    in the provider's history (to, from, text) instead of sending it twice."""
    elks.reports, elks.delay = (), 1.0
    callback = delivery_callback_url(CALLBACK, SECRET)
    with ElksSmsGateway(elks.url, "u", "p", sqlite_ledger, timeout=0.5, delivery=callback) as sms:
        with pytest.raises(TransientSmsError):
            sms.send(message())
        elks.delay = 0.0
        receipt = sms.send(message())
    assert len(elks.requests) == 1 and receipt.provider_id == "s0a1b2c3d4" and receipt.delivery_pending


def sent(ledger: SentLedger, key: str = "sms-reminder-b1/v1/patient", provider_id: str = "s-1") -> str:
    ledger.put(SmsReceipt(key=key, provider_id=provider_id, sent_at=datetime.now(UTC)))
    return key


def test_ledger_maps_a_delivery_report_to_its_key_and_moves_only_forward(ledger: SentLedger) -> None:
    key = sent(ledger)
    t0 = datetime(2027, 3, 28, 7, 0, 1, 250000, tzinfo=UTC)
    first = ledger.record_delivery("s-1", "sent", None)
    assert first == DeliveryUpdate(key=key, status=Delivery.PENDING, delivered_at=None)
    delivered = ledger.record_delivery("s-1", "delivered", t0)
    assert delivered == DeliveryUpdate(key=key, status=Delivery.DELIVERED, delivered_at=t0)
    # Late, repeated and contradicting reports: delivered is final, its first time kept.
    assert ledger.record_delivery("s-1", "sent", None) == delivered
    assert ledger.record_delivery("s-1", "failed", None) == delivered
    assert ledger.record_delivery("s-1", "delivered", t0 + timedelta(minutes=5)) == delivered
    assert ledger.delivery("s-1") == "delivered"


def test_ledger_failed_is_final_against_a_late_sent_but_not_against_delivered(ledger: SentLedger) -> None:
    key = sent(ledger)
    assert ledger.record_delivery("s-1", "failed", None) == DeliveryUpdate(key, Delivery.FAILED, None)
    assert ledger.record_delivery("s-1", "sent", None) == DeliveryUpdate(key, Delivery.FAILED, None)
    t0 = datetime(2027, 3, 28, 7, 5, tzinfo=UTC)
    assert ledger.record_delivery("s-1", "delivered", t0) == DeliveryUpdate(key, Delivery.DELIVERED, t0)


def test_ledger_report_for_an_unknown_provider_id_maps_to_nothing(ledger: SentLedger) -> None:
    sent(ledger)
    assert ledger.record_delivery("s-unknown", "delivered", datetime.now(UTC)) is None
    assert ledger.delivery("s-unknown") == "delivered"  # kept, should its receipt come later
    with pytest.raises(ValueError):
        ledger.record_delivery("s-1", "queued", None)
    assert ledger.delivery("s-1") is None


REPORT_FROM_A_PROCESS = """
    import os
    from datetime import UTC, datetime
    statuses = ["sent", "failed", "sent", "delivered", "sent", "failed"]
    offset = os.getpid() % len(statuses)
    ledger = stores.sms_ledger
    ledger.get("warm-up")
    ready()
    seen = []
    for i in range(30):
        status = statuses[(i + offset) % len(statuses)]
        update = ledger.record_delivery("s-1", status, datetime.now(UTC))
        seen.append(update.status.value)
    done(seen)
"""


def test_ledger_concurrent_reports_from_several_processes_never_regress(backend: Backend) -> None:
    """API replicas answering callbacks of one message at once, in every order: what each sees only
    moves forward (pending → failed → delivered), and `delivered` stays (the upsert decides on the
    row it locked)."""
    ledger = backend.stores().sms_ledger
    sent(ledger)
    rank = {"pending": 0, "failed": 1, "delivered": 2}
    for seen in backend.run_together(REPORT_FROM_A_PROCESS, 4):
        assert [rank[s] for s in seen] == sorted(rank[s] for s in seen)
        assert seen[-1] == "delivered"
    assert ledger.delivery("s-1") == "delivered"


# --- the provider's rate, shared by every worker (the 09:00 storm) ----------------------------------


def test_ledger_slots_of_a_rate_follow_one_another_and_restart_after_a_pause(ledger: SentLedger) -> None:
    assert ledger.reserve_slot("46elks", 0.1, now=1000.0) == 1000.0
    assert ledger.reserve_slot("46elks", 0.1, now=1000.0) == pytest.approx(1000.1)
    assert ledger.reserve_slot("46elks", 0.1, now=1000.05) == pytest.approx(1000.2)  # not before its turn
    assert ledger.reserve_slot("other", 0.1, now=1000.05) == 1000.05  # each rate its own sequence
    assert ledger.reserve_slot("46elks", 0.1, now=2000.0) == 2000.0  # idle: no credit, no debt


RESERVE_FROM_A_PROCESS = """
    ledger = stores.sms_ledger
    ledger.get("warm-up")
    ready()
    done([ledger.reserve_slot("46elks", 0.01, now=5000.0) for _ in range(25)])
"""


def test_ledger_slots_are_one_sequence_for_4_processes(backend: Backend) -> None:
    """Four workers (or hosts, with PostgreSQL) reserving at once draw distinct slots, one interval
    apart: together they make no more requests than the rate allows."""
    slots = sorted(s for found in backend.run_together(RESERVE_FROM_A_PROCESS, 4) for s in found)
    assert slots == pytest.approx([5000.0 + i * 0.01 for i in range(100)])


def test_elks_with_a_rate_spaces_its_requests_across_threads(elks: FakeProvider, ledger: SentLedger) -> None:
    """Each request waits for its own slot, one interval after the one before: the i-th to arrive
    came no earlier than i intervals after the start. (A thread may be scheduled late, so the gap
    between two arrivals can shrink below an interval; no request ever comes early.)"""
    with ElksSmsGateway(elks.url, "u", "p", ledger, timeout=5.0, rate=20) as sms:
        keys = [f"sms-reminder-r{i}/v1/patient" for i in range(8)]
        start = time.monotonic()
        with ThreadPoolExecutor(max_workers=8) as pool:
            list(pool.map(lambda k: sms.send(message(key=k)), keys))
    arrivals = sorted(float(r["arrived"]) for r in elks.requests)  # type: ignore[arg-type]
    assert len(arrivals) == 8
    early = [i for i, arrived in enumerate(arrivals) if arrived < start + i * 0.05 - 0.005]
    assert early == []  # 20/s: the 8th request came at least 7 intervals after the start


def test_elks_history_look_ups_count_against_the_rate(elks: FakeProvider, sqlite_ledger: SentLedger) -> None:
    sqlite_ledger.attempt(message().key, datetime.now(UTC) - timedelta(minutes=6))  # past the wait
    with ElksSmsGateway(elks.url, "u", "p", sqlite_ledger, timeout=5.0, rate=10) as sms:
        t0 = time.monotonic()
        sms.send(message())  # looks the attempt up in the history, then sends
        elapsed = time.monotonic() - t0
    assert len(elks.gets) == 1 and len(elks.requests) == 1
    assert elapsed >= 0.09  # the POST waited one interval after the look-up
