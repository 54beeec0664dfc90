"""Issue 29 (S15): exactly once when the provider is slow to show what it sent, against the fake 46elks
on 127.0.0.1 and the SMS ledger on both backends.

A provider message id is claimed by one key at most; the history match tolerates restyled whitespace
and a provider clock minutes off; a retry after an unanswered attempt waits for the history (up to
`history_wait`) instead of posting again, and a delivery report of the attempt settles it."""

from __future__ import annotations

import json
import sqlite3
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from contextlib import closing
from datetime import UTC, datetime, timedelta
from pathlib import Path

import psycopg
import pytest
from alembic import command

from adapters import migrations
from adapters.sms import SmsMessage, SmsReceipt, TransientSmsError
from adapters.sms_elks import ElksSmsGateway, same_text
from adapters.sms_ledger import SentLedger, SqliteSentLedger
from testkit.fake_provider import FakeProvider
from tests.adapters.conftest import Backend

TO = "+46701740605"
TEXT = "Påminnelse: besök på\nKirurgmottagning 2 tis 14 jan kl 09:30.\nVälkommen!"
CANCELLED = "sms-reminder-b1/v1/patient"  # a visit cancelled ...
REBOOKED = "sms-reminder-b2/v1/patient"  # ... and rebooked into the same slot: the same number and text


def message(key: str = CANCELLED) -> SmsMessage:
    return SmsMessage(key=key, to=TO, text=TEXT, sender="RegionDemo")


def gateway(elks: FakeProvider, ledger: SentLedger, wait: float = 300, margin: float = 900) -> ElksSmsGateway:
    return ElksSmsGateway(
        elks.url,
        "u",
        "p",
        ledger,
        timeout=0.5,
        history_wait=timedelta(seconds=wait),
        clock_margin=timedelta(seconds=margin),
    )


@pytest.fixture
def ledger(backend: Backend) -> SentLedger:
    return backend.stores().sms_ledger


def ids(n: int) -> list[tuple[int, str]]:
    """`n` accepted answers with distinct ids (a second POST shows as a second id)."""
    return [(200, json.dumps({"id": f"s-{i}", "status": "created"})) for i in range(n)]


# --- 1. a provider message id is claimed at most once ------------------------------------------------


def test_S15_a_provider_id_is_recorded_for_one_key_only(ledger: SentLedger) -> None:
    at = datetime.now(UTC)
    first = ledger.claim(CANCELLED, "s-1", at)
    assert first is not None and first.provider_id == "s-1"
    assert ledger.claim(REBOOKED, "s-1", at) is None  # the unique constraint decides
    assert ledger.get(REBOOKED) is None and ledger.key_of("s-1") == CANCELLED
    ledger.put(SmsReceipt(key=REBOOKED, provider_id="s-1", sent_at=at))  # nor through `put`
    assert ledger.get(REBOOKED) is None
    # `unknown` (accepted, no id in the answer) is no message id: any number of keys may have it.
    for key in ("k-a", "k-b"):
        ledger.put(SmsReceipt(key=key, provider_id="unknown", sent_at=at))
        assert ledger.get(key) is not None


def test_S15_two_keys_with_the_same_number_and_text_and_one_provider_message(
    elks: FakeProvider, backend: Backend
) -> None:
    """Both keys' attempts were lost; the history shows one message. Racing from two gateways (two
    workers), exactly one key claims it; the other is sent: two SMS for two visits, neither marked sent
    by the other's message."""
    elks.history.append(FakeProvider.entry("s-history", TO, TEXT, "RegionDemo"))
    elks.scripted = ids(2)
    before = datetime.now(UTC) - timedelta(seconds=1)
    ledgers = [backend.stores().sms_ledger for _ in range(2)]
    for key in (CANCELLED, REBOOKED):
        ledgers[0].attempt(key, before - timedelta(minutes=10))  # older than the wait: may resend
    barrier = threading.Barrier(2)

    def send(i: int) -> str:
        with gateway(elks, ledgers[i]) as sms:
            barrier.wait()
            return sms.send(message((CANCELLED, REBOOKED)[i])).provider_id

    with ThreadPoolExecutor(max_workers=2) as pool:
        got = list(pool.map(send, range(2)))
    assert sorted(got) == ["s-0", "s-history"]
    assert len(elks.requests) == 1
    claimed = {key: ledgers[0].get(key) for key in (CANCELLED, REBOOKED)}
    assert {r.provider_id for r in claimed.values() if r} == {"s-0", "s-history"}


# --- 2. tolerant matching: restyled whitespace, a provider clock minutes off -------------------------


def test_same_text_ignores_line_ends_and_runs_of_whitespace() -> None:
    assert same_text("a\r\nb  c\n") == same_text("a\nb c") == "a b c"
    assert same_text("a b") != same_text("a  c")


def test_S15_a_lost_answer_is_found_although_46elks_restyled_the_text_and_its_clock_is_behind(
    elks: FakeProvider, ledger: SentLedger
) -> None:
    elks.clock_skew = -8 * 60  # 46elks stamps the message 8 minutes before our clock says
    elks.stored_text = lambda text: text.replace("\n", "\r\n  ")
    elks.scripted, elks.scripted_delays = ids(2), [1.0]  # accepted, answered after the 0.5 s timeout
    with gateway(elks, ledger) as sms:
        with pytest.raises(TransientSmsError) as lost:
            sms.send(message())
        assert lost.value.reason == "timeout"
        receipt = sms.send(message())
    assert receipt.provider_id == "s-0" and len(elks.requests) == 1


def test_S15_a_provider_clock_further_behind_than_the_margin_is_not_matched(
    elks: FakeProvider, ledger: SentLedger
) -> None:
    """The margin is what bounds the look-up: a message stamped before it is taken for another send."""
    elks.clock_skew = -8 * 60
    elks.scripted, elks.scripted_delays = ids(2), [1.0]
    with gateway(elks, ledger, wait=0, margin=5 * 60) as sms:
        with pytest.raises(TransientSmsError):
            sms.send(message())
        assert sms.send(message()).provider_id == "s-1"
    assert len(elks.requests) == 2


# --- 3. wait for the history before sending again ----------------------------------------------------


@pytest.mark.parametrize("lost", ["timeout", "reset"])
def test_S15_a_retry_waits_for_a_lagging_history_instead_of_sending_again(
    elks: FakeProvider, ledger: SentLedger, lost: str
) -> None:
    """The history shows a message 1.5 s after it was taken; the answer is lost (after the client's
    timeout, or the connection reset at once). Retries before it shows send nothing; then it is found."""
    elks.config.history_lag = 1.5
    if lost == "timeout":
        elks.scripted, elks.scripted_delays = ids(2), [1.0]
    else:
        elks.scripted = [(0, json.dumps({"id": "s-0"})), *ids(2)[1:]]  # 0: reset (testkit.fake_http.RESET)
    with gateway(elks, ledger, wait=30) as sms:
        with pytest.raises(TransientSmsError) as first:
            sms.send(message())
        assert first.value.reason == ("timeout" if lost == "timeout" else "connection")
        with pytest.raises(TransientSmsError) as waiting:
            sms.send(message())
        assert waiting.value.reason == "history_wait"
        assert "701740605" not in str(waiting.value)
        assert len(elks.requests) == 1
        time.sleep(1.6)
        receipt = sms.send(message())
    assert receipt.provider_id == "s-0" and len(elks.requests) == 1
    assert ledger.attempted(message().key) is None


def test_S15_after_the_wait_a_message_the_history_never_shows_is_sent_again(
    elks: FakeProvider, ledger: SentLedger
) -> None:
    """The bound: a first attempt that 46elks never took (nothing in the history) delays the SMS by at
    most `history_wait`, then it is sent."""
    elks.scripted = [(200, json.dumps({"id": "s-lost"})), *ids(2)[1:]]
    elks.scripted_delays = [1.0]
    with gateway(elks, ledger, wait=1.0) as sms:
        with pytest.raises(TransientSmsError):
            sms.send(message())
        elks.history.clear()  # as if 46elks had not taken it
        with pytest.raises(TransientSmsError) as waiting:
            sms.send(message())
        assert waiting.value.reason == "history_wait"
        time.sleep(1.0)
        assert sms.send(message()).provider_id == "s-1"
    assert len(elks.requests) == 2


def test_S15_a_delivery_report_of_the_unanswered_attempt_settles_it(
    elks: FakeProvider, ledger: SentLedger
) -> None:
    """The report reaches the key's own callback (its token proves the key) while the retry waits:
    the key's receipt is recorded from it, and the retry finds it without posting or looking up."""
    elks.config.history_lag = 60
    elks.scripted, elks.scripted_delays = ids(2), [1.0]
    with gateway(elks, ledger) as sms:
        with pytest.raises(TransientSmsError):
            sms.send(message())
        assert ledger.claim_reported(message().key, "s-0", datetime.now(UTC)) is True
        gets = len(elks.gets)
        receipt = sms.send(message())
    assert receipt.provider_id == "s-0" and receipt.duplicate is True
    assert len(elks.requests) == 1 and len(elks.gets) == gets
    # A report for a key with no unanswered attempt records nothing (the door answers 503: later).
    assert ledger.claim_reported(REBOOKED, "s-9", datetime.now(UTC)) is False
    assert ledger.get(REBOOKED) is None


def test_an_earlier_ledger_file_holding_one_id_under_two_keys_keeps_it_for_the_first(tmp_path: Path) -> None:
    """A file of an earlier release (no unique id, no `last_at`): on first use the id stays with the
    key that recorded it first, the other becomes `unknown` (still sent: nothing goes twice)."""
    path = tmp_path / "sms-ledger.sqlite3"
    with closing(sqlite3.connect(path)) as conn, conn:
        conn.executescript(
            "CREATE TABLE sent (key TEXT PRIMARY KEY, provider_id TEXT NOT NULL, sent_at TEXT NOT NULL);"
            "CREATE TABLE attempted (key TEXT PRIMARY KEY, first_at TEXT NOT NULL);"
            "INSERT INTO sent VALUES ('k-late', 's-1', '2027-01-01T09:00:02+00:00');"
            "INSERT INTO sent VALUES ('k-first', 's-1', '2027-01-01T09:00:01+00:00');"
            "INSERT INTO attempted VALUES ('k-open', '2027-01-01T09:00:00+00:00');"
        )
    ledger = SqliteSentLedger(path)
    assert ledger.key_of("s-1") == "k-first"
    late = ledger.get("k-late")
    assert late is not None and late.provider_id == "unknown"
    attempt = ledger.attempted("k-open")
    assert attempt is not None and attempt.last_at == attempt.first_at
    assert ledger.claim("k-other", "s-1", datetime.now(UTC)) is None


def test_migration_0014_keeps_an_id_held_under_two_keys_for_the_first(postgres_url: str) -> None:
    """The PostgreSQL side of the same upgrade (migration 0014), from a database at 0013."""
    command.upgrade(migrations._config(postgres_url), "0013")
    with psycopg.connect(postgres_url, autocommit=True) as conn:
        conn.execute(
            "INSERT INTO sent VALUES ('k-late', 's-1', '2027-01-01T09:00:02+00:00'),"
            " ('k-first', 's-1', '2027-01-01T09:00:01+00:00'),"
            " ('k-a', 'unknown', 'x'), ('k-b', 'unknown', 'x')"
        )
        conn.execute("INSERT INTO attempted VALUES ('k-open', '2027-01-01T09:00:00+00:00')")
        assert migrations.upgrade(postgres_url) == ["0014"]
        rows = dict(conn.execute("SELECT key, provider_id FROM sent").fetchall())
        assert rows == {"k-first": "s-1", "k-late": "unknown", "k-a": "unknown", "k-b": "unknown"}
        with pytest.raises(psycopg.errors.UniqueViolation):
            conn.execute("INSERT INTO sent VALUES ('k-other', 's-1', 'x')")
        assert conn.execute("SELECT last_at FROM attempted").fetchone() == (None,)


CLAIM_FROM_A_PROCESS = """
    import os
    from datetime import UTC, datetime
    ledger = stores.sms_ledger
    ledger.get("warm-up")
    ready()
    won = [ledger.claim(f"k-{os.getpid()}-{i}", f"s-{i}", datetime.now(UTC)) is not None for i in range(40)]
    done(won)
"""


def test_S15_four_processes_claiming_the_same_ids_take_each_once(backend: Backend) -> None:
    """Four workers (hosts, on PostgreSQL) claim the same 40 provider ids for keys of their own at
    once: each id goes to exactly one key."""
    results = backend.run_together(CLAIM_FROM_A_PROCESS, 4)
    assert [sum(won) for won in zip(*results, strict=True)] == [1] * 40
