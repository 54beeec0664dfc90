"""Durable publishing (infrastructure/events.py, docs/webhooks.md): while the Temporal server is down
the publisher raises `EventsNotPublished` (the activity fails and is retried; the 46elks door answers
503), and once it is up again the same event starts its one `EventDelivery`, a repeat starting none.

The delivery-report door's use case alike: a report whose event cannot be handed on is kept in the SMS
ledger and answered `UNREACHABLE` (503, so 46elks retries: it does for at least 6 hours and 5 times,
unless answered 200–204); the retry publishes the same event. A real dev server on a free loopback
port, stopped and started again on the same port and database."""

from __future__ import annotations

import asyncio
import time
from datetime import UTC, datetime
from pathlib import Path

import pytest
from temporalio.client import Client, WorkflowExecutionStatus
from temporalio.contrib.pydantic import pydantic_data_converter

from adapters.sms import SmsReceipt
from adapters.sms_ledger import SqliteSentLedger
from adapters.webhooks import SqliteWebhooks
from application.delivery_reports import ElksReport, Recorded, record_report
from contracts.events import (
    Event,
    EventsNotPublished,
    EventType,
    delivery_event,
    event_workflow_id,
    message_event,
)
from contracts.workflow_ids import booking_reminder_id, sms_key
from domain.status import Delivery, RecipientRole
from infrastructure.events import TemporalEventPublisher
from security.keyring import Keyring
from testkit.processes import DevServer, venv_binary


async def test_events_not_published_while_temporal_is_down_raise_and_answer_503_then_start_once_when_up(
    tmp_path: Path,
) -> None:
    webhooks = SqliteWebhooks(tmp_path / "webhooks.sqlite3")
    keyring = Keyring.generate()
    webhooks.keyring = lambda: keyring
    webhooks.register("vas-kir", "kir", "http://127.0.0.1:9/hooks")
    key = sms_key(booking_reminder_id("kir", "B-durable"), 1, RecipientRole.PATIENT)
    event = message_event(EventType.MESSAGE_SENT, key, datetime.now(UTC))
    assert event is not None
    ledger = SqliteSentLedger(tmp_path / "sms-ledger.sqlite3")
    ledger.put(SmsReceipt(key=key, provider_id="s-durable", sent_at=datetime.now(UTC)))
    server = DevServer(tmp_path / "temporal")
    server.argv[0] = venv_binary("temporal")  # the one next to this Python (also in a git worktree)
    server.start()
    try:
        client = await _connect(server.address)
        publisher = TemporalEventPublisher(webhooks, "no-worker", timeout=3.0)
        publisher.bind(client)
        server.stop()
        with pytest.raises(EventsNotPublished, match=event.id):
            await asyncio.to_thread(publisher.publish, [event])
        report = ElksReport(key=key, provider_id="s-durable", state="delivered", delivered_at=None)
        assert await record_report(client, ledger, report, publisher) is Recorded.UNREACHABLE
        assert ledger.delivery("s-durable") == "delivered"  # kept: the retry only tells it
        server.start()
        await asyncio.to_thread(_publish_when_up, publisher, event)
        handle = client.get_workflow_handle(event_workflow_id(event))
        first = await handle.describe()
        assert first.status is WorkflowExecutionStatus.RUNNING  # its delivery waits for a worker
        await asyncio.to_thread(publisher.publish, [event])  # again: the same delivery, nothing new
        assert (await handle.describe()).run_id == first.run_id
        await handle.terminate()
        assert await _recorded_when_up(client, ledger, report, publisher) is Recorded.CLOSED  # no reminder
        delivered = delivery_event(key, Delivery.DELIVERED, datetime.now(UTC))
        assert delivered is not None
        await client.get_workflow_handle(event_workflow_id(delivered)).terminate()  # it was started
    finally:
        server.stop()


async def _connect(address: str, timeout: float = 60) -> Client:
    """A client once the server's frontend answers (its port opens before it is healthy)."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            return await Client.connect(address, data_converter=pydantic_data_converter)
        except RuntimeError:
            if time.monotonic() > deadline:
                raise
            await asyncio.sleep(0.5)


def _publish_when_up(publisher: TemporalEventPublisher, event: Event, tries: int = 10) -> None:
    """The client reconnects on its own; the first call after the restart may still find it down."""
    for attempt in range(tries):
        try:
            publisher.publish([event])
            return
        except EventsNotPublished:
            if attempt == tries - 1:
                raise


async def _recorded_when_up(
    client: Client, ledger: SqliteSentLedger, report: ElksReport, publisher: TemporalEventPublisher
) -> Recorded:
    for _ in range(10):
        recorded = await record_report(client, ledger, report, publisher)
        if recorded is not Recorded.UNREACHABLE:
            return recorded
    return recorded
