"""The reminder's SMS outcomes as webhook events (activities/reminders.py → EventDelivery), on the
time-skipping server with a receiver on 127.0.0.1 that verifies each signature: one `message.sent` per
recipient (S15), `message.skipped` with its reason (S9, S10), the older types' per-SMS activity alike,
what the reminder decides itself (`too_late`, S6; `provider_unavailable` at the visit, behind patch
`reminder-decisions-told`), nothing for a clinic without a webhook, and no patient data in any body
(S16)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import pytest
from temporalio.service import RPCError

import application as app
from adapters.sms import SmsMessage, SmsReceipt, TransientSmsError
from contracts.events import EventType, event_workflow_id, message_event, reminder_skipped
from contracts.workflow_ids import booking_reminder_id, sms_key
from demo import data as fx
from domain.booking import ReminderStart, VisitBooking
from domain.status import Outcome, Reason, RecipientRole, ReminderState
from testkit.webhook_receiver import WebhookReceiver
from tests.harness import Harness, assert_no_patient_data, eventually, target
from workflows.reminder.generations import SmsReminder
from workflows.reminder.sending import DECISIONS_TOLD


def visit(patient_id: str, booking_id: str, **fields: Any) -> dict[str, Any]:
    return {
        "booking_id": booking_id,
        "patient_id": patient_id,
        "clinic_id": fx.CLINIC_CONNECTED,
        "reception_id": fx.RECEPTION_GENERAL,
        **fields,
    }


@pytest.fixture
def receiver(harness: Harness) -> Iterator[WebhookReceiver]:
    with WebhookReceiver() as receiver:
        receiver.secret = harness.webhooks.register("vas-kir", fx.CLINIC_CONNECTED, receiver.url).secret
        yield receiver


async def events_after(harness: Harness, receiver: WebhookReceiver, count: int) -> list[dict[str, Any]]:
    async def taken() -> list[dict[str, Any]]:
        return receiver.events

    return await eventually(taken, lambda events: len(events) >= count)


async def test_S15_a_sent_reminder_yields_one_signed_message_sent_per_recipient(
    harness: Harness, receiver: WebhookReceiver
) -> None:
    start = await harness.local(days=2, hour=10)
    async with harness.worker():
        handle = await harness.book(VisitBooking(**visit(fx.PNR_CHILD, "ev-child", start=start)))
        await harness.sleep_until(await harness.local(days=1, hour=9, minute=1))
        await harness.settled(handle, lambda s: s.state is ReminderState.SENT)
        events = await events_after(harness, receiver, 2)
        await harness.sleep_until(await harness.local(days=1, hour=12))  # a retry or a replay adds none
    sent = [e for e in receiver.events if e["type"] == "message.sent"]
    assert sorted(e["data"]["recipient"] for e in sent) == ["guardian_1", "guardian_2"]
    assert len({e["id"] for e in sent}) == 2 and len(receiver.taken) == len(receiver.events)
    assert all(r.verified for r in receiver.requests)
    assert sent[0]["data"] | {"recipient": None} == {
        "clinic_id": fx.CLINIC_CONNECTED,
        "booking_id": "ev-child",
        "message": "sms_reminder",
        "channel": "sms",
        "recipient": None,
        "visit_version": 1,
    }
    key = sms_key(booking_reminder_id(fx.CLINIC_CONNECTED, "ev-child"), 1, RecipientRole.GUARDIAN_1)
    expected = message_event(EventType.MESSAGE_SENT, key, await harness.now())
    assert expected is not None and expected.id in {e["id"] for e in events}
    assert_no_patient_data([r.body for r in receiver.requests])


async def test_S10_a_reminder_skipped_with_the_flag_off_yields_message_skipped_with_its_reason(
    harness: Harness, receiver: WebhookReceiver
) -> None:
    start = await harness.local(days=2, hour=10)
    async with harness.worker():
        handle = await harness.book(VisitBooking(**visit(fx.PNR_ADULT_VAS, "ev-off", start=start)))
        await app.set_sms_flag(harness.client, target(handle.id), False)
        await harness.sleep_until(await harness.local(days=1, hour=9, minute=1))
        [event] = await events_after(harness, receiver, 1)
    assert event["type"] == "message.skipped"
    assert event["data"] == {
        "clinic_id": fx.CLINIC_CONNECTED,
        "booking_id": "ev-off",
        "message": "sms_reminder",
        "channel": "sms",
        "visit_version": 1,
        "reason": "sms_flag_off",
    }


async def test_S9_withdrawn_consent_yields_message_skipped_for_the_patient(
    harness: Harness, receiver: WebhookReceiver
) -> None:
    start = await harness.local(days=2, hour=10)
    async with harness.worker():
        await harness.book(VisitBooking(**visit(fx.PNR_ADULT_WITHDRAWN, "ev-consent", start=start)))
        await harness.sleep_until(await harness.local(days=1, hour=9, minute=1))
        [event] = await events_after(harness, receiver, 1)
    assert (event["type"], event["data"]["recipient"], event["data"]["reason"]) == (
        "message.skipped",
        "patient",
        "no_consent",
    )
    assert_no_patient_data([r.body for r in receiver.requests])


async def test_a_type_booked_before_tells_its_per_sms_activitys_outcome(
    harness: Harness, receiver: WebhookReceiver
) -> None:
    start = await harness.local(days=2, hour=10)
    clinic = harness.directory.clinic(fx.CLINIC_CONNECTED)
    assert clinic is not None
    async with harness.worker():
        await harness.client.start_workflow(
            SmsReminder.run,
            ReminderStart(**visit(fx.PNR_ADULT_1177, "ev-old", start=start), sms_timing=clinic.sms_timing),
            id=booking_reminder_id(fx.CLINIC_CONNECTED, "ev-old"),
            task_queue=harness.task_queue,
        )
        await harness.sleep_until(await harness.local(days=1, hour=9, minute=1))
        [event] = await events_after(harness, receiver, 1)
    assert (event["type"], event["data"]["booking_id"], event["data"]["recipient"]) == (
        "message.sent",
        "ev-old",
        "patient",
    )


async def test_a_clinic_without_a_webhook_starts_no_delivery(harness: Harness) -> None:
    start = await harness.local(days=2, hour=10)
    async with harness.worker():
        handle = await harness.book(VisitBooking(**visit(fx.PNR_ADULT_1177, "ev-none", start=start)))
        await harness.sleep_until(await harness.local(days=1, hour=9, minute=1))
        await harness.settled(handle, lambda s: s.state is ReminderState.SENT)
    key = sms_key(handle.id, 1, RecipientRole.PATIENT)
    event = message_event(EventType.MESSAGE_SENT, key, await harness.now())
    assert event is not None
    with pytest.raises(RPCError, match="not found"):
        await harness.client.get_workflow_handle(event_workflow_id(event)).describe()
    assert json.loads(event.body())["data"]["booking_id"] == "ev-none"


async def test_S6_a_visit_too_close_to_remind_yields_message_skipped_too_late_once(
    harness: Harness, receiver: WebhookReceiver
) -> None:
    """The reminder decides `too_late` itself (no activity): told behind `reminder-decisions-told`."""
    async with harness.worker():
        start = await harness.now() + timedelta(hours=1)
        handle = await harness.book(VisitBooking(**visit(fx.PNR_ADULT_1177, "ev-late", start=start)))
        status = await harness.settled(handle, lambda s: s.state is ReminderState.SKIPPED)
        [event] = await events_after(harness, receiver, 1)
        await harness.sleep_until(start + timedelta(minutes=1))  # the visit starts: nothing more
        _, patches = await harness.started_as(handle.id)
    assert status.messages[0].reason is Reason.TOO_LATE and patches == [DECISIONS_TOLD]
    assert (event["type"], event["data"]) == (
        "message.skipped",
        {
            "clinic_id": fx.CLINIC_CONNECTED,
            "booking_id": "ev-late",
            "message": "sms_reminder",
            "channel": "sms",
            "visit_version": 1,
            "reason": "too_late",
        },
    )
    expected = reminder_skipped(handle.id, 1, Reason.TOO_LATE, await harness.now())
    assert expected is not None and expected.id == event["id"] and len(receiver.taken) == 1


class ProviderDown:
    """The provider takes no SMS at all (every try a 503)."""

    def send(self, message: SmsMessage) -> SmsReceipt:
        raise TransientSmsError("503 from the provider")


async def test_S15_an_sms_given_up_at_the_visit_yields_message_failed_provider_unavailable(
    harness: Harness, receiver: WebhookReceiver
) -> None:
    """A type whose SMS is an activity (its deadline, the visit, kept by the server): given up, the
    reminder records it failed and tells it once."""
    clinic = harness.directory.clinic(fx.CLINIC_CONNECTED)
    assert clinic is not None
    async with harness.worker(sms=ProviderDown(), sticky=False):
        start = await harness.local(days=1, hour=12)
        await harness.sleep_until(start - timedelta(hours=3))  # booked then: sent at once (S6), 09:00
        workflow_id = booking_reminder_id(fx.CLINIC_CONNECTED, "ev-down")
        handle = await harness.client.start_workflow(
            SmsReminder.run,
            ReminderStart(**visit(fx.PNR_ADULT_1177, "ev-down", start=start), sms_timing=clinic.sms_timing),
            id=workflow_id,
            task_queue=harness.task_queue,
        )
        await harness.sleep_until(start + timedelta(minutes=5))
        status = await harness.settled(handle, lambda s: bool(s.messages))
        [event] = await events_after(harness, receiver, 1)
    assert [(m.outcome, m.reason) for m in status.messages] == [(Outcome.FAILED, Reason.PROVIDER_UNAVAILABLE)]
    assert (event["type"], event["data"]["recipient"], event["data"]["reason"]) == (
        "message.failed",
        "patient",
        "provider_unavailable",
    )
    assert len(receiver.taken) == 1
