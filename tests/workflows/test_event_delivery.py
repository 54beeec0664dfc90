"""EventDelivery (workflows/events.py): one event to the webhooks of its clinic, signed, retried with
back-off while the receiver is down, exactly once per event id, given up after the deadline and
recorded as failed; another clinic's webhook gets nothing."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest

from adapters.webhooks import DeliveryRecord, DeliveryStatus
from contracts.events import Event, EventType, event_workflow_id, message_event
from contracts.workflow_ids import booking_reminder_id, sms_key
from demo import data as fx
from domain.status import RecipientRole
from infrastructure.events import TemporalEventPublisher, start_delivery
from testkit.webhook_receiver import WebhookReceiver
from tests.harness import Harness, eventually
from workflows.events import DELIVERY_DEADLINE, EventDelivery

KIR, ONH = fx.CLINIC_CONNECTED, fx.CLINIC_NOT_CONNECTED


def sent(booking_id: str = "E1", clinic_id: str = KIR) -> Event:
    key = sms_key(booking_reminder_id(clinic_id, booking_id), 1, RecipientRole.PATIENT)
    event = message_event(EventType.MESSAGE_SENT, key, datetime.now(UTC))
    assert event is not None
    return event


@pytest.fixture
def receiver(harness: Harness) -> Iterator[WebhookReceiver]:
    with WebhookReceiver() as receiver:
        receiver.secret = harness.webhooks.register("vas-kir", KIR, receiver.url).secret
        yield receiver


async def deliver(harness: Harness, event: Event) -> list[object]:
    await start_delivery(harness.client, harness.task_queue, event)
    handle = harness.client.get_workflow_handle_for(EventDelivery.run, event_workflow_id(event))
    return list(await handle.result())


async def test_an_event_reaches_the_clinics_webhook_signed_and_is_recorded_delivered(
    harness: Harness, receiver: WebhookReceiver
) -> None:
    event = sent()
    async with harness.worker():
        [outcome] = await deliver(harness, event)
    assert outcome.delivered  # type: ignore[attr-defined]
    assert receiver.events == [{"id": event.id, "type": "message.sent", **_body(event)}]
    record = harness.webhooks.delivery(event.id, "vas-kir", KIR)
    assert record is not None and (record.status, record.attempts) == (DeliveryStatus.DELIVERED, 1)


def _body(event: Event) -> dict[str, object]:
    body = json.loads(event.body())
    return {"timestamp": body["timestamp"], "data": body["data"]}


async def test_one_event_id_is_delivered_once_however_often_it_is_published(
    harness: Harness, receiver: WebhookReceiver
) -> None:
    event = sent()
    publisher = TemporalEventPublisher(harness.webhooks, harness.task_queue)
    async with harness.worker():
        publisher.bind(harness.client)
        await asyncio.to_thread(publisher.publish, [event, event])
        await deliver(harness, event)  # closed: the start is refused, nothing more is sent
        await asyncio.to_thread(publisher.publish, [event])
        await deliver(harness, event)
    assert [e["id"] for e in receiver.events] == [event.id]


async def test_a_receiver_down_then_failing_then_up_gets_the_event_once_after_retries(
    harness: Harness, receiver: WebhookReceiver
) -> None:
    event = sent()
    receiver.down()
    async with harness.worker():
        await start_delivery(harness.client, harness.task_queue, event)
        await harness.env.sleep(timedelta(seconds=35))  # attempts after 0, 10 and 30 s (back-off)

        async def delivery() -> DeliveryRecord | None:
            return harness.webhooks.delivery(event.id, "vas-kir", KIR)

        record = await eventually(delivery, lambda r: r is not None and r.attempts >= 2)
        assert record is not None and record.status is DeliveryStatus.PENDING
        assert record.last_status_code is None and "ConnectError" in (record.last_error or "")
        receiver.scripted = [503, 503]
        receiver.up()
        await harness.env.sleep(timedelta(minutes=6))  # attempts after 70, 150 (503s) and 310 s
        await eventually(delivery, lambda r: r is not None and r.status is DeliveryStatus.DELIVERED)
        handle = harness.client.get_workflow_handle_for(EventDelivery.run, event_workflow_id(event))
        [outcome] = await handle.result()
    assert outcome.delivered
    assert [r.status for r in receiver.requests] == [503, 503, 204]
    assert [e["id"] for e in receiver.events] == [event.id]
    record = harness.webhooks.delivery(event.id, "vas-kir", KIR)
    assert record is not None and record.status is DeliveryStatus.DELIVERED and record.attempts >= 5


async def test_a_receiver_down_past_the_deadline_is_recorded_failed(
    harness: Harness, receiver: WebhookReceiver
) -> None:
    event = sent()
    receiver.down()
    async with harness.worker():
        await start_delivery(harness.client, harness.task_queue, event)
        await harness.env.sleep(DELIVERY_DEADLINE + timedelta(hours=1))
        handle = harness.client.get_workflow_handle_for(EventDelivery.run, event_workflow_id(event))
        [outcome] = await handle.result()
    assert not outcome.delivered and receiver.requests == []
    record = harness.webhooks.delivery(event.id, "vas-kir", KIR)
    assert record is not None and record.status is DeliveryStatus.FAILED and record.attempts > 1
    assert [d.event_id for d in harness.webhooks.deliveries("vas-kir", [KIR], DeliveryStatus.FAILED)] == [
        event.id
    ]


async def test_another_clinics_webhook_receives_nothing(harness: Harness, receiver: WebhookReceiver) -> None:
    with WebhookReceiver() as other:
        other.secret = harness.webhooks.register("vas-onh", ONH, other.url).secret
        async with harness.worker():
            await deliver(harness, sent("E2", clinic_id=ONH))
            await deliver(harness, sent("E3"))
    assert [e["data"]["booking_id"] for e in other.events] == ["E2"]
    assert [e["data"]["booking_id"] for e in receiver.events] == ["E3"]
