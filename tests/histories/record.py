"""Record the histories the replay test checks: `python -m tests.histories.record [SCENARIO …]`.

Runs one scenario per workflow path on the time-skipping server with the current code and saves
each workflow's history (closed, or open at a waiting point) as JSON next to this file, named after
its type, scenario and the patches it took (`names.py`). A file of the same name is a history of the
same path: keep the old one unless the path is meant to change. Re-record
only for a change meant to be incompatible with running workflows (docs/changing-workflows.md);
otherwise keep the old files: they are what running workflows look like.
"""

from __future__ import annotations

import asyncio
import sys
import tempfile
from collections.abc import Awaitable, Callable
from datetime import date, timedelta
from pathlib import Path
from typing import Any

from temporalio.client import Client
from temporalio.contrib.pydantic import pydantic_data_converter

import application as app
from contracts.events import EventType, event_workflow_id, message_event
from contracts.workflow_ids import booking_reminder_id, sms_key
from demo import data as fx
from domain.booking import GroupBooking, GroupParticipant, Reschedule, VisitBooking
from domain.invitation import (
    CareInvitation,
    Conversion,
    DateWindow,
    InvitationBooking,
    RequestChange,
    TimeOfDay,
)
from domain.replies import PatientReply, ReplyWord
from domain.status import RecipientRole
from infrastructure.events import start_delivery
from infrastructure.namespace_setup import register_search_attributes
from testkit.processes import start_time_skipping
from testkit.webhook_receiver import WebhookReceiver
from tests.harness import Harness, target
from tests.histories.names import history_name

HERE = Path(__file__).resolve().parent


def visit(booking_id: str, patient_id: str, **fields: object) -> VisitBooking:
    return VisitBooking(
        booking_id=booking_id,
        patient_id=patient_id,
        clinic_id=fx.CLINIC_CONNECTED,
        reception_id=fx.RECEPTION_GENERAL,
        **fields,
    )


def request(today: date, request_id: str, first: int, last: int, **fields: Any) -> CareInvitation:
    return CareInvitation(
        request_id=request_id,
        referral_id="ref-hist",
        patient_id=fields.pop("patient_id", fx.PNR_ADULT_1177),
        clinic_id=fx.CLINIC_CONNECTED,
        reception_id=fx.RECEPTION_GENERAL,
        visit_kind="new",
        visit_type="KIR LÄK nybesök",
        reason="Kontroll",
        window=DateWindow(first_date=today + timedelta(days=first), last_date=today + timedelta(days=last)),
        **fields,
    )


async def single_reminder(h: Harness) -> list[str]:
    single = await h.book(visit("hist-single", fx.PNR_CHILD, start=await h.local(2, 10)))
    await h.sleep_until(await h.local(3, 12))
    return [single.id]


async def reminder_too_late(h: Harness) -> list[str]:
    late = await h.book(visit("hist-late", fx.PNR_ADULT_1177, start=await h.now() + timedelta(hours=1)))
    await h.sleep_until(await h.now() + timedelta(hours=1, minutes=1))
    await late.result()
    return [late.id]


async def reminder_answered(h: Harness) -> list[str]:
    """Issue 28: a sent reminder answered AVBOKA (twice, one inbound id), something unreadable and
    STOPP, the replies handled by staff, then the visit."""
    answered = await h.book(visit("hist-answered", fx.PNR_ADULT_1177, start=await h.local(2, 10)))
    await h.sleep_until(await h.local(1, 9, 5))
    for inbound_id, word in (
        ("in-1", ReplyWord.CANCEL),
        ("in-1", ReplyWord.CANCEL),
        ("in-2", ReplyWord.OTHER),
    ):
        reply = PatientReply(
            inbound_id=inbound_id, word=word, role=RecipientRole.PATIENT, version=1, received_at=await h.now()
        )
        await answered.signal("patient_reply", reply)
    await h.settled(answered, lambda s: len(s.replies) == 2 and len(h.outbox.messages()) == 3)
    await answered.execute_update("reply_handled")
    stop = PatientReply(
        inbound_id="in-3",
        word=ReplyWord.STOP,
        role=RecipientRole.PATIENT,
        version=1,
        received_at=await h.now(),
    )
    await answered.signal("patient_reply", stop)
    await h.settled(answered, lambda s: len(s.replies) == 3 and len(h.outbox.messages()) == 4)
    await h.sleep_until(await h.local(3, 12))
    await answered.result()
    return [answered.id]


async def team_visit(h: Harness) -> list[str]:
    start = await h.local(3, 13)
    team = [
        await h.book(visit(f"hist-hosp-{n}", fx.PNR_ADULT_1177, start=start, team_visit_id="hist-team"))
        for n in (1, 2)
    ]
    await app.set_sms_flag(h.client, target(team[0].id), False, booking_id="hist-hosp-1")
    await team[0].execute_update("reschedule", Reschedule(start=await h.local(4, 13)))
    await h.sleep_until(await h.local(5, 12))
    return [team[0].id]


async def group_booking(h: Harness) -> list[str]:
    group = await h.book_group(
        GroupBooking(
            group_booking_id="hist-group",
            clinic_id=fx.CLINIC_CONNECTED,
            reception_id=fx.RECEPTION_GENERAL,
            start=await h.local(2, 15),
            participants=[
                GroupParticipant(booking_id="hist-group-1", patient_id=fx.PNR_ADULT_VAS),
                GroupParticipant(booking_id="hist-group-2", patient_id=fx.PNR_ADULT_WITHDRAWN),
            ],
        )
    )
    await app.cancel(h.client, target(group.id), booking_id="hist-group-2")
    await h.sleep_until(await h.local(3, 12))
    return [group.id, booking_reminder_id(fx.CLINIC_CONNECTED, "hist-group-1")]


async def invitation_booked(h: Harness) -> list[str]:
    today = (await h.local(0, 12)).date()
    made = await app.create_request(
        h.client, h.task_queue, h.directory, request(today, "hist-booked", 21, 60)
    )
    booked = made.workflow_id
    await h.sleep_until(await h.local(14, 9))
    visit_start = await h.local(30, 10)
    booking = InvitationBooking(booking_id="hist-booked-visit", start=visit_start, by="patient")
    await app.book_invitation(h.client, target(booked), booking)
    await h.client.get_workflow_handle(booked).result()
    # The reminder is left open (sent, waiting for the visit): the time-skipping server hangs when an
    # abandoned child completes after its parent has closed; the real server does not.
    await h.sleep_until(await h.local(29, 12))
    return [booked, booking_reminder_id(fx.CLINIC_CONNECTED, "hist-booked-visit")]


async def request_converted_to_follow_up(h: Harness) -> list[str]:
    today = (await h.local(0, 12)).date()
    plain = request(today, "hist-plain", 21, 25, invitation=False, patient_id=fx.PNR_ADULT_VAS)
    workflow_id = (await app.create_request(h.client, h.task_queue, h.directory, plain)).workflow_id
    await h.sleep_until(await h.local(1, 12))
    await app.convert_request(h.client, target(workflow_id), Conversion())
    await h.sleep_until(await h.local(27, 12))
    await app.cancel(h.client, target(workflow_id))  # from the follow-up list
    await h.client.get_workflow_handle(workflow_id).result()
    return [workflow_id]


async def invitation_routed(h: Harness) -> list[str]:
    """Issue 27: at the ÖNH clinic (the demo's routing plan, minutes apart) the unread invitation walks
    to an SMS notice, the digital mailbox and a letter; a change of its limits sends it once more."""
    today = (await h.local(0, 12)).date()
    routed = request(today, "hist-walk", 21, 60).model_copy(
        update={"clinic_id": fx.CLINIC_NOT_CONNECTED, "reception_id": fx.RECEPTION_NOT_CONNECTED}
    )
    h.mailbox.register(fx.PNR_ADULT_1177)
    workflow_id = (await app.create_request(h.client, h.task_queue, h.directory, routed)).workflow_id
    await h.sleep_until(await h.local(0, 12, minute=5))
    change = RequestChange(time_of_day=TimeOfDay.MORNING)
    await app.change_request(h.client, target(workflow_id, fx.CLINIC_NOT_CONNECTED), change)
    await h.sleep_until(await h.local(1, 12))
    await app.cancel(h.client, target(workflow_id, fx.CLINIC_NOT_CONNECTED))
    await h.client.get_workflow_handle(workflow_id).result()
    return [workflow_id]


async def _event_to_webhook(h: Harness, booking_id: str, receiver: WebhookReceiver) -> str:
    receiver.secret = h.webhooks.register("hist-client", fx.CLINIC_CONNECTED, receiver.url).secret
    key = sms_key(booking_reminder_id(fx.CLINIC_CONNECTED, booking_id), 1, RecipientRole.PATIENT)
    event = message_event(EventType.MESSAGE_SENT, key, await h.now())
    assert event is not None
    await start_delivery(h.client, h.task_queue, event)
    return event_workflow_id(event)


async def event_delivered(h: Harness) -> list[str | tuple[str, str]]:
    with WebhookReceiver(scripted=[503]) as receiver:
        workflow_id = await _event_to_webhook(h, "hist-event", receiver)
        await h.client.get_workflow_handle(workflow_id).result()
    return [(workflow_id, "delivered")]


async def event_given_up(h: Harness) -> list[str | tuple[str, str]]:
    with WebhookReceiver() as receiver:
        receiver.down()
        workflow_id = await _event_to_webhook(h, "hist-event-lost", receiver)
        await h.env.sleep(timedelta(days=3, hours=1))
        await h.client.get_workflow_handle(workflow_id).result()
    return [(workflow_id, "given-up")]


SCENARIOS = [
    single_reminder,
    reminder_too_late,
    reminder_answered,
    team_visit,
    group_booking,
    invitation_booked,
    request_converted_to_follow_up,
    invitation_routed,
    event_delivered,
    event_given_up,
]


async def main(names: list[str]) -> None:
    """Record the scenarios named (all when none are)."""
    for scenario in SCENARIOS:
        if not names or scenario.__name__ in names:
            await record(scenario)


async def record(scenario: Callable[[Harness], Awaitable[list[str] | list[str | tuple[str, str]]]]) -> None:
    env = await start_time_skipping(pydantic_data_converter)
    async with env:
        await register_search_attributes(env.client, "default")
        with tempfile.TemporaryDirectory() as tmp:
            harness = Harness(env, Path(tmp), fx.demo_document())
            async with harness.worker():
                workflow_ids = await scenario(harness)
                await save(env.client, workflow_ids)


async def save(client: Client, workflow_ids: list[str] | list[str | tuple[str, str]]) -> None:
    """Save each workflow's history; a pair names its scenario (an event's workflow id is a hash)."""
    for named in workflow_ids:
        workflow_id, scenario = named if isinstance(named, tuple) else (named, None)
        handle = client.get_workflow_handle(workflow_id)
        history = await handle.fetch_history()
        path = HERE / f"{history_name(history, workflow_id, scenario)}.json"
        path.write_text(history.to_json())
        print(f"saved {workflow_id} as {path.name}: {len(history.events)} events")


if __name__ == "__main__":
    asyncio.run(main(sys.argv[1:]))
