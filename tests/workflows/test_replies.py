"""What a patient's reply does to the reminder (issue 28, signal `patient_reply`), on the time-skipping
server: AVBOKA (status, `reminder.cancel_requested`, one confirmation, on the Uppföljning list until
handled), STOPP (S9: the consent withdrawn, the clinic's next reminder skipped), anything else (one
polite SMS at most), a guardian's reply, a reply after the visit, and every reply once by its id."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime
from typing import Any

import pytest
from temporalio.client import Client, WorkflowHandle, WorkflowUpdateFailedError
from temporalio.runtime import MetricBuffer, Runtime, TelemetryConfig

from contracts import search_attributes as search
from demo import data as fx
from domain.booking import VisitBooking
from domain.replies import PatientReply, ReplyWord
from domain.status import Reason, RecipientRole, ReminderState, ReminderStatus
from testkit.webhook_receiver import WebhookReceiver
from tests.harness import Harness, assert_no_patient_data, eventually

P, G2 = RecipientRole.PATIENT, RecipientRole.GUARDIAN_2


def visit(patient_id: str, booking_id: str, start: datetime) -> VisitBooking:
    return VisitBooking(
        booking_id=booking_id,
        patient_id=patient_id,
        clinic_id=fx.CLINIC_CONNECTED,
        reception_id=fx.RECEPTION_GENERAL,
        start=start,
    )


@pytest.fixture
def receiver(harness: Harness) -> Iterator[WebhookReceiver]:
    with WebhookReceiver() as receiver:
        receiver.secret = harness.webhooks.register("vas-kir", fx.CLINIC_CONNECTED, receiver.url).secret
        yield receiver


async def reminded(harness: Harness, patient_id: str, booking_id: str) -> WorkflowHandle[Any, Any]:
    """A visit two days ahead whose reminder went out (tomorrow 09:00); now tomorrow 09:05."""
    handle = await harness.book(visit(patient_id, booking_id, await harness.local(days=2, hour=10)))
    await harness.sleep_until(await harness.local(days=1, hour=9, minute=5))
    await harness.settled(handle, lambda s: s.state is ReminderState.SENT)
    return handle


async def reply(
    harness: Harness,
    handle: WorkflowHandle[Any, Any],
    word: ReplyWord,
    inbound_id: str,
    role: RecipientRole = P,
) -> None:
    answer = PatientReply(
        inbound_id=inbound_id, word=word, role=role, version=1, received_at=await harness.now()
    )
    await handle.signal("patient_reply", answer)


def texts_to(harness: Harness, number: str) -> list[str]:
    return [m.text for m in harness.outbox.messages() if m.to == fx.e164(number)]


async def work_list(handle: WorkflowHandle[Any, Any]) -> str | None:
    return (await handle.describe()).typed_search_attributes.get(search.WORK_LIST)


async def test_replies_avboka_is_shown_told_and_confirmed_once(
    harness: Harness, receiver: WebhookReceiver
) -> None:
    async with harness.worker():
        handle = await reminded(harness, fx.PNR_ADULT_1177, "r-cancel")
        await reply(harness, handle, ReplyWord.CANCEL, "in-1")
        status = await harness.settled(handle, lambda s: len(texts_to(harness, fx.MOBILE_ADULT_1177)) == 2)
        await reply(harness, handle, ReplyWord.CANCEL, "in-1")  # the same inbound SMS again
        events = await eventually(
            lambda: _events(receiver, "reminder.cancel_requested"), lambda e: len(e) >= 1
        )
        assert await eventually(lambda: work_list(handle), lambda w: w == "uppfoljning") == "uppfoljning"
        handled = await handle.execute_update("reply_handled", result_type=ReminderStatus)
        again = await handle.execute_update("reply_handled", result_type=ReminderStatus)  # harmless
        assert await eventually(lambda: work_list(handle), lambda w: w is None) is None
        status = await harness.status(handle)
    [view] = status.replies
    assert (view.word, view.role, view.visit_version) == ("avboka", P, 1) and view.handled
    assert all(v.handled for v in handled.replies) and again.replies == handled.replies
    _, confirmation = texts_to(harness, fx.MOBILE_ADULT_1177)
    assert "avbokning" in confirmation and "Allmänkirurgisk mottagning" in confirmation
    [event] = events
    assert event["data"] == {
        "clinic_id": fx.CLINIC_CONNECTED,
        "booking_id": "r-cancel",
        "message": "sms_reminder",
        "channel": "sms",
        "recipient": "patient",
        "visit_version": 1,
    }
    assert status.state is ReminderState.SENT  # the booking stays the booking system's to cancel
    assert_no_patient_data([r.body for r in receiver.requests])


async def _events(receiver: WebhookReceiver, kind: str) -> list[dict[str, Any]]:
    return [e for e in receiver.events if e["type"] == kind]


async def test_replies_reply_handled_is_refused_without_a_reply(harness: Harness) -> None:
    async with harness.worker():
        handle = await reminded(harness, fx.PNR_ADULT_1177, "r-none")
        with pytest.raises(WorkflowUpdateFailedError) as refused:
            await handle.execute_update("reply_handled", result_type=ReminderStatus)
        status = await harness.status(handle)
    assert "not replied" in str(refused.value.cause)
    assert status.replies == [] and await work_list(handle) is None


async def test_S9_stopp_withdraws_the_consent_and_the_clinics_next_reminder_is_skipped(
    harness: Harness,
) -> None:
    async with harness.worker():
        handle = await reminded(harness, fx.PNR_ADULT_1177, "r-stop")
        await reply(harness, handle, ReplyWord.STOP, "in-stop")
        await harness.settled(handle, lambda s: len(texts_to(harness, fx.MOBILE_ADULT_1177)) == 2)
        status = await harness.status(handle)
        assert await work_list(handle) is None  # nobody needs to handle a STOPP
        later = await harness.book(visit(fx.PNR_ADULT_1177, "r-stop-2", await harness.local(days=5, hour=10)))
        await harness.sleep_until(await harness.local(days=4, hour=9, minute=5))
        skipped = await harness.settled(later, lambda s: s.state is not ReminderState.SCHEDULED)
    [view] = status.replies
    assert view.word == "stopp" and view.handled
    assert "inte fler SMS-påminnelser" in texts_to(harness, fx.MOBILE_ADULT_1177)[1]
    patient = harness.directory.patient(fx.PNR_ADULT_1177)
    assert patient is not None and any(c.source == "sms" for c in patient.sms_consents)
    assert skipped.state is ReminderState.SKIPPED and skipped.reason is Reason.NO_CONSENT
    assert len(texts_to(harness, fx.MOBILE_ADULT_1177)) == 2  # nothing more after STOPP


async def test_replies_other_gets_one_polite_sms_at_most(harness: Harness) -> None:
    async with harness.worker():
        handle = await reminded(harness, fx.PNR_ADULT_1177, "r-other")
        await reply(harness, handle, ReplyWord.OTHER, "in-a")
        await harness.settled(handle, lambda s: len(texts_to(harness, fx.MOBILE_ADULT_1177)) == 2)
        await reply(harness, handle, ReplyWord.OTHER, "in-b")
        status = await harness.settled(handle, lambda s: len(s.replies) == 2)
        assert await eventually(lambda: work_list(handle), lambda w: w == "uppfoljning") == "uppfoljning"
        await harness.sleep_until(await harness.local(days=1, hour=12))  # any retry or late send would show
    assert [v.word for v in status.replies] == ["other", "other"]
    texts = texts_to(harness, fx.MOBILE_ADULT_1177)
    assert len(texts) == 2 and "kunde inte läsa" in texts[1]


async def test_replies_a_guardians_answer_acts_for_the_minor_and_goes_to_that_guardian(
    harness: Harness,
) -> None:
    async with harness.worker():
        handle = await reminded(harness, fx.PNR_CHILD, "r-child")
        await reply(harness, handle, ReplyWord.CANCEL, "in-g2", role=G2)
        await harness.settled(handle, lambda s: len(texts_to(harness, fx.MOBILE_GUARDIAN_2)) == 2)
        status = await harness.status(handle)
    [view] = status.replies
    assert view.role is G2 and view.word == "avboka"
    assert (
        len(texts_to(harness, fx.MOBILE_GUARDIAN_2)) == 2
        and len(texts_to(harness, fx.MOBILE_GUARDIAN_1)) == 1
    )


async def test_replies_after_the_visit_do_nothing(harness: Harness) -> None:
    async with harness.worker():
        handle = await reminded(harness, fx.PNR_ADULT_1177, "r-late")
        start = (await harness.status(handle)).start
        late = PatientReply(inbound_id="in-late", word=ReplyWord.CANCEL, role=P, version=1, received_at=start)
        await handle.signal("patient_reply", late)  # received as the visit starts, the reminder still open
        await reply(harness, handle, ReplyWord.OTHER, "in-ok")  # a reply in time after it is still taken
        await harness.settled(handle, lambda s: len(texts_to(harness, fx.MOBILE_ADULT_1177)) == 2)
        status = await harness.status(handle)
    assert [v.word for v in status.replies] == ["other"]  # the late AVBOKA left no trace but a log line
    assert "kunde inte läsa" in texts_to(harness, fx.MOBILE_ADULT_1177)[1]


async def test_replies_are_counted_by_word_role_and_lateness(harness: Harness) -> None:
    """On the SDK's replay-safe meter (`patient_replies`), exported like `patient_messages`."""
    buffer = MetricBuffer(1000)
    runtime = Runtime(telemetry=TelemetryConfig(metrics=buffer))
    harness.client = await Client.connect(
        harness.env.client.service_client.config.target_host,
        namespace=harness.env.client.namespace,
        data_converter=harness.env.client.data_converter,
        runtime=runtime,
    )
    async with harness.worker():
        handle = await reminded(harness, fx.PNR_CHILD, "r-counted")
        await reply(harness, handle, ReplyWord.OTHER, "in-c1", role=G2)
        await reply(harness, handle, ReplyWord.OTHER, "in-c1", role=G2)  # the same reply: counted once
        start = (await harness.status(handle)).start
        late = PatientReply(inbound_id="in-c2", word=ReplyWord.STOP, role=P, version=1, received_at=start)
        await handle.signal("patient_reply", late)
        await harness.settled(handle, lambda s: len(texts_to(harness, fx.MOBILE_GUARDIAN_2)) == 2)

        async def counted() -> dict[tuple[str, str, str], int]:
            found: dict[tuple[str, str, str], int] = {}
            for update in buffer.retrieve_updates():
                if update.metric.name == "patient_replies":
                    a = update.attributes
                    key = (str(a["word"]), str(a["role"]), str(a["late"]))
                    found[key] = found.get(key, 0) + int(update.value)
            seen.update({k: seen.get(k, 0) + v for k, v in found.items()})
            return seen

        seen: dict[tuple[str, str, str], int] = {}
        totals = await eventually(counted, lambda c: len(c) == 2)
    assert totals == {("other", "guardian_2", "false"): 1, ("stopp", "patient", "true"): 1}
