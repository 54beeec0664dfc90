"""Issue 27, item 2: an invitation message walks its clinic's routing plan on the time-skipping server
(1177 → SMS notice → digital mailbox → letter while unread), and V10 sends a changed invitation once."""

from __future__ import annotations

import itertools
from datetime import datetime, timedelta
from typing import Any

import pytest

import application as app
from demo import bookings
from demo import data as fx
from domain.invitation import InvitationBooking, InvitationState, InvitationStatus, RequestChange, TimeOfDay
from domain.status import MessageChannel, MessageKind, Outcome, Reason
from tests.harness import Harness, target
from tests.workflows.test_care_invitation import R1, create, request, status, until
from workflows.request.routing import REISSUE, ROUTING

PLAN = {
    "steps": [
        {"channel": "1177"},
        {"channel": "sms_notice", "after": "P3D"},
        {"channel": "digital_mailbox", "after": "P3D"},
        {"channel": "letter", "after": "P4D"},
    ]
}


@pytest.fixture
def document(document: dict[str, Any]) -> dict[str, Any]:
    """The demo directory with the connected clinic routing by `PLAN`."""
    document["clinics"][0]["routing"] = PLAN
    return document


def channels(messages: list[Any], kind: MessageKind = MessageKind.INVITATION) -> list[MessageChannel]:
    return [m.channel for m in messages if m.kind is kind and m.outcome is Outcome.SENT]


async def invited(harness: Harness, **fields: Any) -> tuple[Any, datetime]:
    """An invitation sent at once (V4) to the 1177 user; its handle and the moment it was sent."""
    handle = await create(harness, await request(harness, first=21, last=60, **fields))
    first = await until(harness, handle, lambda s: s.state is InvitationState.INVITED)
    return handle, first.messages[0].at


async def test_routing_unread_walks_the_plan_sms_notice_then_mailbox_then_letter(harness: Harness) -> None:
    harness.mailbox.register(fx.PNR_ADULT_1177)
    async with harness.worker():
        handle, sent = await invited(harness)
        await harness.sleep_until(sent + timedelta(days=3) - timedelta(minutes=5))
        assert harness.outbox.count() == 0  # not before its day
        await harness.sleep_until(sent + timedelta(days=10, minutes=5))
        walked = await until(harness, handle, lambda s: len(channels(s.messages)) == 4)
        _, patches = await harness.started_as(R1)
    assert channels(walked.messages) == [
        MessageChannel.INBOX_1177,
        MessageChannel.SMS,
        MessageChannel.DIGITAL_MAILBOX,
        MessageChannel.LETTER,
    ]
    moments = [m.at - sent for m in walked.messages]
    assert [round(m / timedelta(days=1)) for m in moments] == [0, 3, 6, 10]
    [sms] = harness.outbox.messages()
    assert sms.key == f"{R1}/invitation.1" and "1177" in sms.text and fx.PNR_ADULT_1177 not in sms.text
    [mail] = harness.mailbox.messages()
    assert mail.key == f"{R1}/invitation.2" and mail.subject.startswith("Dags att boka besök")
    assert len(harness.letters.letters()) == 1
    assert walked.state is InvitationState.INVITED  # the walk changes no state: reminder_1 still on day 14
    assert walked.next_action is not None and walked.next_action.kind == "reminder_1"
    assert ROUTING in patches


async def test_routing_read_at_once_sends_no_fallback_and_shows_when_it_was_read(harness: Harness) -> None:
    async with harness.worker():
        handle, sent = await invited(harness)
        assert harness.inbox.mark_read(f"{R1}/invitation")
        await harness.sleep_until(sent + timedelta(days=11))
        seen = await until(harness, handle, lambda s: s.messages[0].read_at is not None)
    assert channels(seen.messages) == [MessageChannel.INBOX_1177]
    assert (
        harness.outbox.count() == 0 and harness.mailbox.messages() == [] and harness.letters.letters() == []
    )
    assert seen.messages[0].read_at is not None and seen.messages[0].read_at >= sent


async def test_routing_booked_between_steps_sends_nothing_more(harness: Harness) -> None:
    harness.mailbox.register(fx.PNR_ADULT_1177)
    async with harness.worker():
        handle, sent = await invited(harness)
        await harness.sleep_until(sent + timedelta(days=3, minutes=5))
        await until(harness, handle, lambda s: MessageChannel.SMS in channels(s.messages))
        start = await harness.local(days=25, hour=10)
        booking = InvitationBooking(booking_id="v-27", start=start, by="patient")
        await app.book_invitation(harness.client, target(R1), booking)
        await harness.sleep_until(sent + timedelta(days=12))
        final = await status(handle)
    assert final.state is InvitationState.BOOKED
    assert channels(final.messages) == [MessageChannel.INBOX_1177, MessageChannel.SMS]
    assert harness.mailbox.messages() == [] and harness.letters.letters() == []


async def test_routing_a_protected_identity_is_never_sent_an_sms_notice_or_to_a_mailbox(
    harness: Harness, document: dict[str, Any]
) -> None:
    patient = next(p for p in document["patients"] if p["patient_id"] == fx.PNR_ADULT_1177)
    patient["protected_identity"] = True
    harness.directory.load_document(document)
    harness.mailbox.register(fx.PNR_ADULT_1177)
    async with harness.worker():
        handle, sent = await invited(harness)
        await harness.sleep_until(sent + timedelta(days=3, minutes=5))
        walked = await until(harness, handle, lambda s: len(s.messages) == 2)
        await harness.sleep_until(sent + timedelta(days=11))
        final = await status(handle)
    assert channels(final.messages) == [MessageChannel.INBOX_1177, MessageChannel.LETTER]
    assert round((walked.messages[1].at - sent) / timedelta(days=1)) == 3  # the letter stands in at once
    assert harness.outbox.count() == 0 and harness.mailbox.messages() == []


async def test_routing_a_minor_is_never_sent_an_sms_notice_or_to_a_mailbox(harness: Harness) -> None:
    harness.mailbox.register(fx.PNR_CHILD)
    async with harness.worker():
        handle, sent = await invited(harness, patient_id=fx.PNR_CHILD)
        await harness.sleep_until(sent + timedelta(days=11))
        final = await status(handle)
    # the child does not use 1177: the plan's first step that reaches them is the letter (V5), and a
    # letter reports no reading, so the walk ends there
    assert channels(final.messages) == [MessageChannel.LETTER]
    assert harness.outbox.count() == 0 and harness.mailbox.messages() == []


async def test_routing_reminders_follow_the_same_plan(harness: Harness) -> None:
    async with harness.worker():
        handle, sent = await invited(harness)
        assert harness.inbox.mark_read(f"{R1}/invitation")
        await harness.sleep_until(sent + timedelta(days=14 + 4))
        final = await until(
            harness, handle, lambda s: MessageChannel.SMS in channels(s.messages, MessageKind.REMINDER_1)
        )
    assert channels(final.messages) == [MessageChannel.INBOX_1177]
    assert channels(final.messages, MessageKind.REMINDER_1) == [MessageChannel.INBOX_1177, MessageChannel.SMS]
    assert [m.key for m in harness.outbox.messages()] == [f"{R1}/reminder_1.1"]


async def test_routing_a_step_that_cannot_reach_the_patient_is_recorded_skipped(
    harness: Harness, document: dict[str, Any]
) -> None:
    """No mailbox in the register and no postal address: the mailbox and the letter steps cannot be
    used; the walk records that nothing more could reach the patient, with the last step's reason."""
    patient = next(p for p in document["patients"] if p["patient_id"] == fx.PNR_ADULT_1177)
    patient["postal_address"] = None
    harness.directory.load_document(document)
    async with harness.worker():
        handle, sent = await invited(harness)
        await harness.sleep_until(sent + timedelta(days=6, minutes=5))
        final = await until(harness, handle, lambda s: len(s.messages) == 3)
    skipped = final.messages[2]
    assert skipped.outcome is Outcome.SKIPPED and skipped.reason is Reason.NO_POSTAL_ADDRESS


async def test_routing_without_a_plan_is_V5_and_marks_no_patch(
    harness: Harness, document: dict[str, Any]
) -> None:
    document["clinics"][0].pop("routing")
    harness.directory.load_document(document)
    async with harness.worker():
        handle, sent = await invited(harness)
        await harness.sleep_until(sent + timedelta(days=11))
        final = await status(handle)
        _, patches = await harness.started_as(R1)
    assert channels(final.messages) == [MessageChannel.INBOX_1177] and harness.outbox.count() == 0
    assert ROUTING not in patches


async def test_routing_the_demo_invitation_left_unread_walks_the_demo_plan(harness: Harness) -> None:
    """`dev.py run --demo`'s `demo-routed` (docs/routing.md): the ÖNH clinic's plan, a minute a step."""
    routed = next(r for r in bookings.demo_requests() if r.request_id == bookings.DEMO_ROUTED)
    for patient_id in bookings.DEMO_MAILBOX_HOLDERS:
        harness.mailbox.register(patient_id)
    async with harness.worker():
        made = await app.create_request(harness.client, harness.task_queue, harness.directory, routed)
        handle = harness.client.get_workflow_handle(made.workflow_id, result_type=InvitationStatus)
        first = await until(harness, handle, lambda s: s.state is InvitationState.INVITED)
        await harness.sleep_until(first.messages[0].at + timedelta(minutes=3, seconds=30))
        walked = await until(harness, handle, lambda s: len(s.messages) == 4)
    assert channels(walked.messages) == [
        MessageChannel.INBOX_1177,
        MessageChannel.SMS,
        MessageChannel.DIGITAL_MAILBOX,
        MessageChannel.LETTER,
    ]
    gaps = [b.at - a.at for a, b in itertools.pairwise(walked.messages)]
    assert all(timedelta(minutes=1) <= gap < timedelta(minutes=2) for gap in gaps)


async def test_V10_a_change_of_limits_after_the_invitation_sends_it_once_more(harness: Harness) -> None:
    """Issue 27: the patient's offer follows the request, so the invitation goes once more with the
    new limits; the reminders keep their days (not a new chain) and a repeat of the change sends
    nothing."""
    async with harness.worker():
        _handle, sent = await invited(harness)
        assert harness.inbox.mark_read(f"{R1}/invitation")
        change = RequestChange(time_of_day=TimeOfDay.MORNING)
        changed = await app.change_request(harness.client, target(R1), change)
        again = await app.change_request(harness.client, target(R1), change)
        _, patches = await harness.started_as(R1)
    kinds = [m.kind for m in again.messages]
    assert kinds == [MessageKind.INVITATION, MessageKind.INVITATION_CHANGED]
    assert [m.kind for m in changed.messages] == kinds
    [_first, second] = harness.inbox.messages()
    assert second.subject.startswith("Ändrat: ") and "förmiddagen" in second.body
    assert again.next_action is not None and again.next_action.kind == "reminder_1"
    assert again.state is InvitationState.INVITED and REISSUE in patches
    assert round((again.next_action.at - sent) / timedelta(days=1)) == 14


async def test_V10_a_change_before_the_invitation_sends_nothing_extra(harness: Harness) -> None:
    async with harness.worker():
        handle = await create(harness, await request(harness, first=70, last=120))
        await until(harness, handle, lambda s: s.next_action is not None)
        await app.change_request(harness.client, target(R1), RequestChange(time_of_day=TimeOfDay.MORNING))
        final = await status(handle)
    assert final.messages == [] and harness.inbox.count() == 0
