"""The reminder against the 46elks-shaped HTTP adapter on a local server: retries and lasting refusals."""

from __future__ import annotations

from collections import Counter
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from temporalio.api.failure.v1 import Failure
from temporalio.exceptions import ActivityError, ApplicationError, RetryState
from temporalio.testing import ActivityEnvironment, WorkflowEnvironment

from activities.reminders import ReminderActivities
from adapters.directory import SqliteDirectory
from adapters.sms import SmsMessage, SmsReceipt, SqliteOutbox, TransientSmsError
from adapters.sms_elks import ElksSmsGateway
from adapters.sms_ledger import SqliteSentLedger
from contracts.activities import SendReminders, VisitRef, last_sendout
from demo import data as fx
from domain.booking import VisitBooking
from domain.status import BookingView, Outcome, Reason, RecipientRole, ReminderState, ReminderStatus
from security.codec import data_converter
from security.keyring import Keyring
from testkit.fake_provider import FakeProvider
from tests.harness import Harness


async def remind_adult(
    harness: Harness, elks: FakeProvider, tmp_path: Path
) -> tuple[ReminderState, list, int]:
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
    env: WorkflowEnvironment, tmp_path: Path, elks: FakeProvider
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
    env: WorkflowEnvironment, tmp_path: Path, elks: FakeProvider
) -> None:
    """46elks takes no idempotency key: the retry finds the message in the provider's history."""
    elks.scripted_delays = [1.5]  # accepted, answered after the adapter's 1 s timeout
    harness = Harness(env, tmp_path, fx.demo_document())
    state, messages, calls = await remind_adult(harness, elks, tmp_path)
    assert state is ReminderState.SENT and [m.outcome for m in messages] == [Outcome.SENT]
    assert calls == 1 and len(elks.gets) == 1 and len(elks.history) == 1


async def test_S15_invalid_number_is_recorded_as_failed_and_not_retried(
    env: WorkflowEnvironment, tmp_path: Path, elks: FakeProvider
) -> None:
    elks.status, elks.body = 400, "Invalid to number"
    harness = Harness(env, tmp_path, fx.demo_document())
    state, messages, calls = await remind_adult(harness, elks, tmp_path)
    assert state is ReminderState.FAILED and calls == 1
    [message] = messages
    assert message.outcome is Outcome.FAILED and message.reason is Reason.INVALID_NUMBER


class NumberDown:
    """The embedded outbox, except that the provider cannot take SMS to `number`: the first `times`
    tries raise `TransientSmsError` (every try, for `times=None`). Counts the tries per number."""

    def __init__(self, outbox: SqliteOutbox, number: str, times: int | None) -> None:
        self.outbox, self.number, self.times = outbox, number, times
        self.tries: Counter[str] = Counter()

    def send(self, message: SmsMessage) -> SmsReceipt:
        self.tries[message.to] += 1
        if message.to == self.number and (self.times is None or self.tries[message.to] <= self.times):
            raise TransientSmsError("503 from the provider")
        return self.outbox.send(message)


async def remind_child(
    harness: Harness, gateway: NumberDown, start: datetime, until: datetime
) -> ReminderStatus:
    booking = VisitBooking(
        booking_id="b-child",
        patient_id=fx.PNR_CHILD,
        clinic_id=fx.CLINIC_CONNECTED,
        reception_id=fx.RECEPTION_GENERAL,
        start=start,
    )
    async with harness.worker(sms=gateway):
        handle = await harness.book(booking)
        await harness.sleep_until(until)
        return await harness.settled(handle, lambda s: s.state is not ReminderState.SCHEDULED)


async def test_S15_a_guardian_the_provider_could_not_take_is_sent_on_retry_and_the_other_only_once(
    env: WorkflowEnvironment, tmp_path: Path
) -> None:
    """One local activity sends both guardians' SMS: the provider refuses guardian 2's twice, so the
    whole sendout is retried; guardian 1's SMS goes out once (the retries find its key sent)."""
    harness = Harness(env, tmp_path, fx.demo_document())
    gateway = NumberDown(harness.outbox, fx.e164(fx.MOBILE_GUARDIAN_2), times=2)
    start, sent_by = await harness.local(days=2, hour=10), await harness.local(days=1, hour=9, minute=10)
    status = await remind_child(harness, gateway, start, sent_by)
    assert status.state is ReminderState.SENT
    assert [(m.recipient, m.outcome) for m in status.messages] == [
        (RecipientRole.GUARDIAN_1, Outcome.SENT),
        (RecipientRole.GUARDIAN_2, Outcome.SENT),
    ]
    assert gateway.tries[fx.e164(fx.MOBILE_GUARDIAN_2)] == 3
    assert gateway.tries[fx.e164(fx.MOBILE_GUARDIAN_1)] == 3  # asked again, sent once
    assert sorted(m.to for m in harness.outbox.messages()) == sorted(
        fx.e164(n) for n in (fx.MOBILE_GUARDIAN_1, fx.MOBILE_GUARDIAN_2)
    )


async def test_S15_a_sendout_the_provider_could_not_finish_says_what_went_out(tmp_path: Path) -> None:
    """When the provider never takes guardian 2's SMS, the reminder gives up at the visit (a local
    activity's deadline runs on the worker's clock, which the time-skipping server cannot move: hence
    no workflow here). Its last error, through the worker's encrypting converter as a workflow sees
    it, says what went out: guardian 1's SMS, sent once, and guardian 2's failed."""
    directory = SqliteDirectory(tmp_path / "directory.sqlite3")
    directory.load_document(fx.demo_document())
    outbox = SqliteOutbox(tmp_path / "outbox.sqlite3")
    gateway = NumberDown(outbox, fx.e164(fx.MOBILE_GUARDIAN_2), times=None)
    now = datetime.now(UTC)
    booking = BookingView(booking_id="b-child", channel="vas", sms_flag=True)
    visit = VisitRef(
        patient_id=fx.PNR_CHILD, clinic_id=fx.CLINIC_CONNECTED, reception_id=fx.RECEPTION_GENERAL,
        start=now + timedelta(days=1), bookings=[booking], at=now,
    )  # fmt: skip
    sendout = ReminderActivities(directory, gateway, "Varden").send_reminders
    request = SendReminders(workflow_id="sms-reminder-b-child", version=1, visit=visit)
    for _ in range(2):
        with pytest.raises(ApplicationError) as raised:
            ActivityEnvironment().run(sendout, request)
    converter = data_converter(Keyring.generate("k1"))
    failure = Failure()
    await converter.encode_failure(raised.value, failure)
    error = ActivityError(
        "activity failed", scheduled_event_id=0, started_event_id=0, identity="", activity_id="1",
        activity_type="send_reminders", retry_state=RetryState.TIMEOUT,
    )  # fmt: skip
    error.__cause__ = await converter.decode_failure(failure)

    recorded = last_sendout(error)
    assert [(r.role, r.outcome, r.reason) for r in recorded.results] == [
        (RecipientRole.GUARDIAN_1, Outcome.SENT, None),
        (RecipientRole.GUARDIAN_2, Outcome.FAILED, Reason.PROVIDER_UNAVAILABLE),
    ]
    assert [m.to for m in outbox.messages()] == [fx.e164(fx.MOBILE_GUARDIAN_1)]
    assert gateway.tries[fx.e164(fx.MOBILE_GUARDIAN_1)] == 2  # the second try found its key sent
    assert fx.PNR_CHILD not in str(failure) and fx.e164(fx.MOBILE_GUARDIAN_1) not in str(failure)


def test_S15_a_sendout_that_failed_before_sending_records_the_patient_failed() -> None:
    """An error without a sendout (the directory could not be read until the visit): one failed
    message, provider unavailable."""
    error = ActivityError(
        "activity failed", scheduled_event_id=0, started_event_id=0, identity="", activity_id="1",
        activity_type="send_reminders", retry_state=RetryState.TIMEOUT,
    )  # fmt: skip
    error.__cause__ = ApplicationError("database is locked", type="OperationalError")
    [result] = last_sendout(error).results
    assert (result.role, result.outcome, result.reason) == (
        RecipientRole.PATIENT, Outcome.FAILED, Reason.PROVIDER_UNAVAILABLE,
    )  # fmt: skip
