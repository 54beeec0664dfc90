"""SMS gateways: the embedded outbox and the 46elks-shaped HTTP adapter against a real local server."""

from __future__ import annotations

import base64
import json
import socket
import subprocess
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from pydantic import ValidationError

from adapters.sms import (
    PermanentSmsError,
    SmsGateway,
    SmsMessage,
    SmsSettings,
    SqliteOutbox,
    TransientSmsError,
    build_sms_gateway,
)
from adapters.sms_elks import ElksSmsGateway, SentLedger
from tests.fake_elks import FakeElks

TO = "+46701740605"
TEXT = "Påminnelse: besök på Kirurgmottagning 2 tis 14 jan kl 09:30. Välkommen!"


def message(key: str = "sms-reminder-b1:v1:patient", to: str = TO) -> SmsMessage:
    return SmsMessage(key=key, to=to, text=TEXT, sender="RegionDemo")


def assert_clean(error: BaseException) -> None:
    for text in (str(error), repr(error)):
        assert TO not in text and "701740605" not in text and "Påminnelse" not in text


# --- outbox -----------------------------------------------------------------------------------------


def test_outbox_is_idempotent_per_key(tmp_path: Path) -> None:
    outbox = SqliteOutbox(tmp_path / "outbox.sqlite3")
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


def test_outbox_same_key_from_8_threads_stores_exactly_one_row(tmp_path: Path) -> None:
    path = tmp_path / "outbox.sqlite3"
    outboxes = [SqliteOutbox(path) for _ in range(2)]  # two instances, as two processes would have
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


def test_outbox_shared_by_two_processes(tmp_path: Path) -> None:
    path = tmp_path / "outbox.sqlite3"
    script = (
        "import sys\n"
        "from adapters.sms import SmsMessage, SqliteOutbox\n"
        "box = SqliteOutbox(sys.argv[1])\n"
        "for i in range(25):\n"
        "    box.send(SmsMessage(key=f'k{i}', to='+46701740605', text='t', sender='Demo'))\n"
    )
    root = Path(__file__).resolve().parents[2]
    procs = [subprocess.Popen([sys.executable, "-c", script, str(path)], cwd=root) for _ in range(2)]
    assert [p.wait(timeout=30) for p in procs] == [0, 0]
    outbox = SqliteOutbox(path)
    assert outbox.count() == 25
    assert sorted(e.key for e in outbox.messages()) == sorted(f"k{i}" for i in range(25))


def test_sms_message_refuses_bad_input_without_echoing_it() -> None:
    with pytest.raises(ValidationError) as caught:
        SmsMessage(key="k", to="070-1740605", text=TEXT, sender="RegionDemo")
    assert "1740605" not in str(caught.value)
    with pytest.raises(ValidationError):
        SmsMessage(key="k", to=TO, text=TEXT, sender="Region Skåne Demo")  # 46elks: max 11 alnum


# --- 46elks adapter against a local HTTP server -----------------------------------------------------


@pytest.fixture
def ledger(tmp_path: Path) -> SentLedger:
    return SentLedger(tmp_path / "sms-ledger.sqlite3")


def gateway(elks: FakeElks, ledger: SentLedger) -> ElksSmsGateway:
    return ElksSmsGateway(elks.url + "/", "u0123456789", "s3cret", ledger, timeout=0.5)


def test_elks_sends_form_with_basic_auth_and_writes_the_ledger(elks: FakeElks, ledger: SentLedger) -> None:
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


def test_elks_ledger_is_shared_across_gateway_instances(elks: FakeElks, ledger: SentLedger) -> None:
    with gateway(elks, ledger) as sms:
        sms.send(message())
    with gateway(elks, SentLedger(ledger.path)) as restarted:
        assert restarted.send(message()).duplicate is True
    assert len(elks.requests) == 1


def test_elks_invalid_number_is_permanent(elks: FakeElks, ledger: SentLedger) -> None:
    elks.status, elks.body = 400, "Invalid to number"
    with gateway(elks, ledger) as sms, pytest.raises(PermanentSmsError) as caught:
        sms.send(message())
    assert caught.value.reason == "invalid_number"
    assert_clean(caught.value)
    assert ledger.get(message().key) is None


def test_elks_other_4xx_is_rejected(elks: FakeElks, ledger: SentLedger) -> None:
    elks.status, elks.body = 400, "Message too long"
    with gateway(elks, ledger) as sms, pytest.raises(PermanentSmsError) as caught:
        sms.send(message())
    assert caught.value.reason == "rejected"
    assert_clean(caught.value)


@pytest.mark.parametrize(
    ("status", "reason"),
    [(500, "provider_error"), (503, "provider_error"), (429, "rate_limited"), (401, "provider_auth")],
)
def test_elks_server_errors_are_transient(
    elks: FakeElks, ledger: SentLedger, status: int, reason: str
) -> None:
    elks.status, elks.body = status, f"error {status}"
    with gateway(elks, ledger) as sms, pytest.raises(TransientSmsError) as caught:
        sms.send(message())
    assert caught.value.reason == reason
    assert_clean(caught.value)
    assert ledger.get(message().key) is None
    if status == 401:
        assert "SMS provider refused the credentials" in str(caught.value)


def test_elks_retry_after_a_transient_error_sends_once(elks: FakeElks, ledger: SentLedger) -> None:
    elks.status = 503
    with gateway(elks, ledger) as sms:
        with pytest.raises(TransientSmsError):
            sms.send(message())
        elks.status = 200
        assert sms.send(message()).duplicate is False
        assert sms.send(message()).duplicate is True
    assert len(elks.requests) == 2


def test_elks_timeout_is_transient(elks: FakeElks, ledger: SentLedger) -> None:
    elks.delay = 1.0
    started = time.monotonic()
    with gateway(elks, ledger) as sms, pytest.raises(TransientSmsError) as caught:
        sms.send(message())
    assert time.monotonic() - started < 0.95
    assert caught.value.reason == "timeout"
    assert_clean(caught.value)


def test_elks_retry_after_a_timeout_finds_the_accepted_message_instead_of_sending_again(
    elks: FakeElks, ledger: SentLedger
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


def test_elks_retry_after_a_failed_attempt_sends_when_history_has_no_match(
    elks: FakeElks, ledger: SentLedger
) -> None:
    elks.scripted = [(503, "error")]
    other_text = FakeElks.entry("s-other", TO, "En annan text", "RegionDemo")
    elks.history.append(other_text)
    with gateway(elks, ledger) as sms:
        with pytest.raises(TransientSmsError):
            sms.send(message())
        assert sms.send(message()).provider_id == "s0a1b2c3d4"
    assert len(elks.requests) == 2 and len(elks.gets) == 1


def test_elks_history_match_claimed_by_another_key_does_not_count(elks: FakeElks, ledger: SentLedger) -> None:
    """Two keys with the same number and text (siblings, one guardian): each gets its own SMS."""
    elks.body = json.dumps({"id": "s-sibling", "status": "created", "direction": "outgoing"})
    with gateway(elks, ledger) as sms:
        sms.send(message(key="sms-reminder-sibling:v1:guardian-1"))
        elks.status, elks.body = 503, "error"
        with pytest.raises(TransientSmsError):
            sms.send(message())
        elks.status, elks.body = 200, json.dumps({"id": "s-own", "status": "created"})
        assert sms.send(message()).provider_id == "s-own"
    assert len(elks.requests) == 3


def test_elks_unreadable_history_is_transient_and_sends_nothing(elks: FakeElks, ledger: SentLedger) -> None:
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


def test_elks_history_before_the_first_attempt_is_not_a_match(elks: FakeElks, ledger: SentLedger) -> None:
    """A message with the same text sent an hour before our first attempt is another send."""
    old = FakeElks.entry("s-old", TO, TEXT, "RegionDemo", created=datetime.now(UTC) - timedelta(hours=1))
    elks.history.append(old)
    elks.scripted = [(503, "error")]
    with gateway(elks, ledger) as sms:
        with pytest.raises(TransientSmsError):
            sms.send(message())
        assert sms.send(message()).provider_id == "s0a1b2c3d4"
    assert len(elks.requests) == 2


def test_elks_connection_refused_is_transient(ledger: SentLedger) -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    sms = ElksSmsGateway(f"http://127.0.0.1:{port}", "u", "p", ledger, timeout=0.5)
    with sms, pytest.raises(TransientSmsError) as caught:
        sms.send(message())
    assert caught.value.reason == "connection"
    assert_clean(caught.value)


def test_elks_same_key_from_8_threads_is_sent_once(elks: FakeElks, ledger: SentLedger) -> None:
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


# --- settings ---------------------------------------------------------------------------------------


def test_build_sms_gateway(tmp_path: Path) -> None:
    outbox = build_sms_gateway(SmsSettings(data_dir=tmp_path / "data"))
    assert isinstance(outbox, SqliteOutbox) and outbox.path == tmp_path / "data" / "outbox.sqlite3"
    with pytest.raises(ValueError, match="46elks SMS gateway needs a username and a password"):
        build_sms_gateway(SmsSettings(gateway="46elks", data_dir=tmp_path, elks_username="u"))
    settings = SmsSettings(gateway="46elks", data_dir=tmp_path, elks_username="u", elks_password="p")
    assert "'p'" not in repr(settings)
    elks = build_sms_gateway(settings)
    assert isinstance(elks, ElksSmsGateway)
    elks.close()
