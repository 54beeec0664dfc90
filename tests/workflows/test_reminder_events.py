"""The reminder's SMS outcomes as webhook events (activities/reminders.py → EventDelivery), on the
time-skipping server with a receiver on 127.0.0.1 that verifies each signature: one `message.sent` per
recipient (S15), `message.skipped` with its reason (S9, S10), the older types' per-SMS activity alike,
nothing for a clinic without a webhook, and no patient data in any body (S16)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest
from temporalio.service import RPCError

import application as app
from contracts.events import EventType, event_workflow_id, message_event
from contracts.workflow_ids import booking_reminder_id, sms_key
from demo import data as fx
from domain.booking import ReminderStart, VisitBooking
from domain.status import RecipientRole, ReminderState
from testkit.webhook_receiver import WebhookReceiver
from tests.harness import Harness, assert_no_patient_data, eventually, target
from workflows.reminder.generations import SmsReminder


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
