"""The care invitation's states as webhook events (activities/invitations.py, the request's
`tell_invitation_state` behind patch `invitation-events` → EventDelivery), on the time-skipping server
with a receiver on 127.0.0.1 that verifies each signature: each message sent (V3, V5, V6) and each
state reached (booked, contacted, cancelled V14, expired to follow-up V13) arrives once, with the
documented fields and no patient data; a repeated call makes no second event."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import pytest

import application as app
from adapters.webhooks import SqliteWebhooks
from application.errors import EndedError, RejectedError
from contracts.events import invitation_state_event
from contracts.workflow_ids import invitation_id
from demo import data as fx
from domain.invitation import CareInvitation, Contact, DateWindow, InvitationBooking, InvitationState
from testkit.webhook_receiver import WebhookReceiver
from tests.harness import Harness, assert_no_patient_data, eventually, target


def invitation(today: date, request_id: str, patient_id: str, **fields: Any) -> CareInvitation:
    return CareInvitation(
        request_id=request_id,
        referral_id="ref-ev",
        patient_id=patient_id,
        clinic_id=fx.CLINIC_CONNECTED,
        reception_id=fx.RECEPTION_GENERAL,
        visit_kind="new",
        visit_type="KIR LÄK nybesök",
        reason="Kontroll",
        window=DateWindow(first_date=today + timedelta(days=21), last_date=today + timedelta(days=25)),
        **fields,
    )


@pytest.fixture
def receiver(harness: Harness) -> Iterator[WebhookReceiver]:
    with WebhookReceiver() as receiver:
        receiver.secret = harness.webhooks.register("vas-kir", fx.CLINIC_CONNECTED, receiver.url).secret
        yield receiver


async def taken(receiver: WebhookReceiver, count: int) -> list[dict[str, Any]]:
    async def events() -> list[dict[str, Any]]:
        return receiver.events

    return await eventually(events, lambda events: len(events) >= count)


def by_type(receiver: WebhookReceiver) -> dict[str, dict[str, Any]]:
    events = {e["type"]: e for e in receiver.events}
    assert len(events) == len(receiver.events), "one event per change"
    return events


async def test_V3_V6_V13_V14_messages_by_1177_expiry_and_cancel_each_arrive_once(
    harness: Harness, receiver: WebhookReceiver
) -> None:
    today = (await harness.local(0, 12)).date()
    async with harness.worker():
        made = await app.create_request(
            harness.client,
            harness.task_queue,
            harness.directory,
            invitation(today, "ev-inv", fx.PNR_ADULT_1177),
        )
        workflow_id = made.workflow_id
        await taken(receiver, 1)  # V4: the first date is less than six weeks away
        await harness.sleep_until(await harness.local(27, 12))  # reminder 1 on day 14, the window ends
        await taken(receiver, 3)
        await app.cancel(harness.client, target(workflow_id))  # from the follow-up list (V14)
        await harness.client.get_workflow_handle(workflow_id).result()
        await taken(receiver, 4)
        with pytest.raises(EndedError):  # the same cancel again changes nothing and tells nothing
            await app.cancel(harness.client, target(workflow_id))
        await harness.sleep_until(await harness.local(28, 12))
    events = by_type(receiver)
    assert sorted(events) == [
        "invitation.cancelled",
        "invitation.expired",
        "invitation.invited",
        "invitation.reminded",
    ]
    assert all(r.verified for r in receiver.requests) and len(receiver.taken) == 4
    about = {"clinic_id": fx.CLINIC_CONNECTED, "request_id": "ev-inv"}
    assert events["invitation.invited"]["data"] == about | {
        "state": "invited",
        "message": "invitation",
        "channel": "1177",
    }
    assert events["invitation.reminded"]["data"] == about | {
        "state": "reminded_1",
        "message": "reminder_1",
        "channel": "1177",
    }
    assert events["invitation.expired"]["data"] == about | {"state": "follow_up"}
    assert events["invitation.cancelled"]["data"] == about | {"state": "cancelled"}
    expired = invitation_state_event(
        workflow_id, InvitationState.FOLLOW_UP, await harness.now(), clinic_id=fx.CLINIC_CONNECTED
    )
    assert expired is not None and expired.id == events["invitation.expired"]["id"]
    assert_no_patient_data([r.body for r in receiver.requests])


async def test_V5_V7_a_letter_then_a_booking_arrive_once_and_a_repeated_booking_makes_no_event(
    harness: Harness, receiver: WebhookReceiver
) -> None:
    today = (await harness.local(0, 12)).date()
    async with harness.worker():
        made = await app.create_request(
            harness.client,
            harness.task_queue,
            harness.directory,
            invitation(today, "ev-post", fx.PNR_ADULT_VAS),
        )
        await taken(receiver, 1)
        start = await harness.local(22, 10)
        booking = InvitationBooking(booking_id="ev-post-visit", start=start, by="staff")
        await app.book_invitation(harness.client, target(made.workflow_id), booking)
        await taken(receiver, 2)
        with pytest.raises((EndedError, RejectedError)):
            await app.book_invitation(harness.client, target(made.workflow_id), booking)
        with pytest.raises(EndedError):  # a contact after the booking: the state stays booked
            await app.record_contact(harness.client, target(made.workflow_id), Contact())
        await harness.sleep_until(await harness.local(1, 12))
    events = by_type(receiver)
    assert sorted(events) == ["invitation.booked", "invitation.letter"]
    about = {"clinic_id": fx.CLINIC_CONNECTED, "request_id": "ev-post"}
    assert events["invitation.letter"]["data"] == about | {
        "state": "invited",
        "message": "invitation",
        "channel": "letter",
    }
    assert events["invitation.booked"]["data"] == about | {"state": "booked"}
    assert_no_patient_data([r.body for r in receiver.requests])


async def test_V7_a_plain_requests_contact_arrives_as_invitation_contacted(
    harness: Harness, receiver: WebhookReceiver
) -> None:
    today = (await harness.local(0, 12)).date()
    plain = invitation(today, "ev-plain", fx.PNR_ADULT_1177, invitation=False)
    async with harness.worker():
        made = await app.create_request(harness.client, harness.task_queue, harness.directory, plain)
        await app.record_contact(harness.client, target(made.workflow_id), Contact())
        [event] = await taken(receiver, 1)
    assert (event["type"], event["data"]) == (
        "invitation.contacted",
        {"clinic_id": fx.CLINIC_CONNECTED, "request_id": "ev-plain", "state": "contacted"},
    )


class StoreDownOnce(SqliteWebhooks):
    """The webhooks store unreachable at the first publication (the publisher cannot hand it on)."""

    failures = 1

    def clinics(self) -> set[str]:
        if self.failures:
            self.failures -= 1
            raise OSError("the store is down")
        return super().clinics()


async def test_an_event_not_handed_on_fails_the_send_whose_retry_tells_it_once_and_sends_nothing_twice(
    harness: Harness, tmp_path: Path
) -> None:
    store = StoreDownOnce(tmp_path / "webhooks-down.sqlite3")
    store.keyring = harness.webhooks.keyring
    today = (await harness.local(0, 12)).date()
    with WebhookReceiver() as receiver:
        receiver.secret = store.register("vas-kir", fx.CLINIC_CONNECTED, receiver.url).secret
        async with harness.worker(webhooks=store):
            request = invitation(today, "ev-durable", fx.PNR_ADULT_1177)
            await app.create_request(harness.client, harness.task_queue, harness.directory, request)
            [event] = await taken(receiver, 1)
    assert store.failures == 0 and event["type"] == "invitation.invited"
    key = f"{invitation_id(fx.CLINIC_CONNECTED, 'ev-durable')}/invitation"
    assert [m.key for m in harness.inbox.messages()] == [key]
