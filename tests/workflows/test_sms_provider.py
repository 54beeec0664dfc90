"""The reminder against the 46elks-shaped HTTP adapter on a local server: retries and lasting refusals."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

from temporalio.testing import WorkflowEnvironment

from adapters.sms_elks import ElksSmsGateway
from adapters.sms_ledger import SqliteSentLedger
from demo import data as fx
from domain.booking import VisitBooking
from domain.status import Outcome, Reason, ReminderState
from tests.fake_elks import FakeElks
from tests.harness import Harness


async def remind_adult(harness: Harness, elks: FakeElks, tmp_path: Path) -> tuple[ReminderState, list, int]:
    gateway = ElksSmsGateway(
        elks.url, "u-test", "secret", SqliteSentLedger(tmp_path / "ledger.sqlite3"), timeout=1.0
    )
    booking = VisitBooking(
        booking_id="b1",
        patient_id=fx.PNR_ADULT_1177,
        clinic_id=fx.CLINIC_CONNECTED,
        reception_id=fx.RECEPTION_GENERAL,
        start=await harness.local(days=2, hour=10),
    )
    async with harness.worker(sms=gateway):
        handle = await harness.book(booking)
        await harness.sleep_until(await harness.local(days=1, hour=9, minute=1))
        for _ in range(6):  # let the retry back-off timers fire
            await harness.env.sleep(timedelta(seconds=30))
        status = await harness.settled(handle, lambda s: s.state is not ReminderState.SCHEDULED)
    return status.state, status.messages, len(elks.requests)


async def test_S15_provider_5xx_and_timeouts_are_retried_and_the_sms_is_sent_once(
    env: WorkflowEnvironment, tmp_path: Path, elks: FakeElks
) -> None:
    elks.scripted = [(503, "Service unavailable"), (500, "Internal error")]
    harness = Harness(env, tmp_path, fx.demo_document())
    state, messages, calls = await remind_adult(harness, elks, tmp_path)
    assert state is ReminderState.SENT
    assert calls == 3 and [m.outcome for m in messages] == [Outcome.SENT]
    assert elks.requests[-1]["form"] == {
        "from": "Varden",
        "to": fx.e164(fx.MOBILE_ADULT_1177),
        "message": elks.requests[-1]["form"]["message"],
    }


async def test_S15_answer_lost_after_the_provider_accepted_is_not_sent_again(
    env: WorkflowEnvironment, tmp_path: Path, elks: FakeElks
) -> None:
    """46elks takes no idempotency key: the retry finds the message in the provider's history."""
    elks.scripted_delays = [1.5]  # accepted, answered after the adapter's 1 s timeout
    harness = Harness(env, tmp_path, fx.demo_document())
    state, messages, calls = await remind_adult(harness, elks, tmp_path)
    assert state is ReminderState.SENT and [m.outcome for m in messages] == [Outcome.SENT]
    assert calls == 1 and len(elks.gets) == 1 and len(elks.history) == 1


async def test_S15_invalid_number_is_recorded_as_failed_and_not_retried(
    env: WorkflowEnvironment, tmp_path: Path, elks: FakeElks
) -> None:
    elks.status, elks.body = 400, "Invalid to number"
    harness = Harness(env, tmp_path, fx.demo_document())
    state, messages, calls = await remind_adult(harness, elks, tmp_path)
    assert state is ReminderState.FAILED and calls == 1
    [message] = messages
    assert message.outcome is Outcome.FAILED and message.reason is Reason.INVALID_NUMBER
