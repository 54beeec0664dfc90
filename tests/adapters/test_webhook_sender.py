"""Signing and sending one event (adapters/webhook_sender.py) to a receiver on 127.0.0.1 that verifies
it with the `standardwebhooks` library: a 2xx is a delivery; an error answer, a refused connection or
a timeout raises, naming the status or the kind of error only."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime

import pytest

from adapters.webhook_sender import HttpWebhookSender
from adapters.webhooks import DeliveryFailed, new_secret
from contracts.events import Event, EventType, message_event
from contracts.workflow_ids import booking_reminder_id, sms_key
from domain.status import RecipientRole
from testkit.webhook_receiver import WebhookReceiver


def sent_event() -> Event:
    key = sms_key(booking_reminder_id("kir", "B1"), 1, RecipientRole.PATIENT)
    event = message_event(EventType.MESSAGE_SENT, key, datetime.now(UTC))
    assert event is not None
    return event


@pytest.fixture
def sender() -> Iterator[HttpWebhookSender]:
    sender = HttpWebhookSender(connect_timeout=1, timeout=1)
    yield sender
    sender.close()


def test_an_event_arrives_signed_so_that_a_standard_webhooks_library_verifies_it(
    sender: HttpWebhookSender,
) -> None:
    event = sent_event()
    with WebhookReceiver(secret=new_secret()) as receiver:
        assert receiver.secret is not None
        assert sender.send(receiver.url, receiver.secret, event) == 204
        [got] = receiver.requests
    assert got.verified and got.headers["webhook-id"] == event.id
    assert got.headers["content-type"] == "application/json"
    assert json.loads(got.body) == json.loads(event.body())


def test_a_receiver_with_another_secret_refuses_and_the_send_raises(sender: HttpWebhookSender) -> None:
    with WebhookReceiver(secret=new_secret()) as receiver:
        with pytest.raises(DeliveryFailed, match="HTTP 401") as raised:
            sender.send(receiver.url, new_secret(), sent_event())
        assert raised.value.status == 401 and not receiver.requests[0].verified


def test_an_error_answer_or_a_refused_connection_raises_without_the_url(sender: HttpWebhookSender) -> None:
    with WebhookReceiver(secret=new_secret(), scripted=[503]) as receiver:
        assert receiver.secret is not None
        with pytest.raises(DeliveryFailed, match="answered HTTP 503"):
            sender.send(receiver.url, receiver.secret, sent_event())
        receiver.down()
        with pytest.raises(DeliveryFailed) as refused:
            sender.send(receiver.url, receiver.secret, sent_event())
        assert refused.value.status is None and "127.0.0.1" not in str(refused.value)
        receiver.up()
        assert sender.send(receiver.url, receiver.secret, sent_event()) == 204
