"""CareInvitationWorkflow on the time-skipping server: each V rule on `status`, the inbox and letters."""

from __future__ import annotations

from datetime import date, datetime, time, timedelta
from typing import Any

import pytest
from temporalio.client import WorkflowHandle

import application as app
from adapters.inbox import InboxMessage, InboxReceipt, SqliteInbox, TransientInboxError
from contracts.workflow_ids import booking_reminder_id, invitation_id
from demo import data as fx
from domain.booking import VisitBooking
from domain.invitation import (
    CareInvitation,
    Contact,
    Conversion,
    DateWindow,
    InvitationBooking,
    InvitationStart,
    InvitationState,
    InvitationStatus,
    RequestChange,
    WorkList,
)
from domain.status import MessageChannel, MessageKind, Outcome, ReminderState, ReminderStatus
from domain.timing import local_date, local_time
from tests.harness import Harness, eventually, history_shape, target
from workflows.mechanics import PUBLISH_DELAY, SCOPED_IDS
from workflows.reminder.children import NEWEST_FOR_CHILDREN
from workflows.request.generations import CareInvitationWorkflow, CareRequest, CareRequestV2
from workflows.request.sending import EVENTS

R1 = invitation_id(fx.CLINIC_CONNECTED, "r1")


async def day(harness: Harness, days: int) -> date:
    return local_date(await harness.local(days=0, hour=12)) + timedelta(days=days)


async def request(
    harness: Harness, first: int, last: int, patient_id: str = fx.PNR_ADULT_1177, **fields: Any
) -> CareInvitation:
    return CareInvitation(
        request_id=fields.pop("request_id", "r1"),
        referral_id=fields.pop("referral_id", "ref-1"),
        patient_id=patient_id,
        clinic_id=fx.CLINIC_CONNECTED,
        reception_id=fx.RECEPTION_GENERAL,
        visit_kind="new",
        visit_type="KIR LÄK nybesök",
        reason="Ljumskbråck",
        window=DateWindow(first_date=await day(harness, first), last_date=await day(harness, last)),
        **fields,
    )


async def create(harness: Harness, invitation: CareInvitation) -> WorkflowHandle[Any, InvitationStatus]:
    made = await app.create_request(harness.client, harness.task_queue, harness.directory, invitation)
    workflow_id = made.workflow_id
    return harness.client.get_workflow_handle(workflow_id, result_type=InvitationStatus)


async def status(handle: WorkflowHandle[Any, Any]) -> InvitationStatus:
    return await handle.query("status", result_type=InvitationStatus)


async def until(harness: Harness, handle: WorkflowHandle[Any, Any], done: Any) -> InvitationStatus:
    return await eventually(lambda: status(handle), done)


def kinds(s: InvitationStatus) -> list[MessageKind]:
    return [m.kind for m in s.messages]


STEPS = [
    (MessageKind.INVITATION, 28, InvitationState.INVITED),
    (MessageKind.REMINDER_1, 42, InvitationState.REMINDED_1),
    (MessageKind.REMINDER_2, 56, InvitationState.REMINDED_2),
]


async def test_V3_V6_V13_ten_weeks_ahead_invitation_42_days_before_then_reminders_then_follow_up(
    harness: Harness,
) -> None:
    async with harness.worker():
        handle = await create(harness, await request(harness, first=70, last=120))
        planned = await until(harness, handle, lambda s: s.next_action is not None)
        first_moment = await harness.local(days=28, hour=8)
        assert planned.state is InvitationState.SCHEDULED and planned.work_list is WorkList.VARDINBJUDAN
        assert planned.next_action is not None and planned.next_action.at == first_moment
        await harness.sleep_until(first_moment - timedelta(minutes=1))
        assert harness.inbox.count() == 0
        moments = {}
        for kind, days, state in STEPS:
            await harness.sleep_until(await harness.local(days=days, hour=8, minute=1))
            sent = await until(harness, handle, lambda s, k=kind: k in kinds(s))
            moments[kind] = sent.messages[-1].at
            assert sent.state is state
        await harness.sleep_until(await harness.local(days=70, hour=8, minute=1))
        final = await until(harness, handle, lambda s: s.state is InvitationState.FOLLOW_UP)
    assert final.work_list is WorkList.UPPFOLJNING and final.next_action is None
    assert [m.channel for m in final.messages] == [MessageChannel.INBOX_1177] * 3
    assert [m.key for m in harness.inbox.messages()] == [
        f"{R1}/invitation",
        f"{R1}/reminder_1",
        f"{R1}/reminder_2",
    ]
    for kind, days, _ in STEPS:
        expected = await harness.local(days=days, hour=8)
        assert expected <= moments[kind] < expected + timedelta(minutes=2)
    body = harness.inbox.messages()[0].body
    assert "KIR LÄK nybesök" in body and fx.PNR_ADULT_1177 not in body


async def test_V4_three_weeks_ahead_sends_the_invitation_at_once(harness: Harness) -> None:
    async with harness.worker():
        handle = await create(harness, await request(harness, first=21, last=60))
        invited = await until(harness, handle, lambda s: s.state is InvitationState.INVITED)
    assert kinds(invited) == [MessageKind.INVITATION] and harness.inbox.count() == 1
    assert invited.messages[0].at - await harness.now() < timedelta(minutes=5)
    assert invited.next_action is not None and invited.next_action.kind == "reminder_1"


async def test_V9_the_visit_reminder_a_booking_starts_is_the_newest_type(harness: Harness) -> None:
    """Issue 25: a booked invitation starts `VisitReminderV2`, the type a booked visit gets (patch
    `children-newest-reminder`; an invitation booked before it started `SmsReminderWorkflow`), and
    the booking is told behind `invitation-events`."""
    async with harness.worker():
        handle = await create(harness, await request(harness, first=21, last=60))
        await until(harness, handle, lambda s: s.state is InvitationState.INVITED)
        start = await harness.local(days=25, hour=10)
        booking = InvitationBooking(booking_id="v-9", start=start, by="patient")
        await app.book_invitation(harness.client, target(R1), booking)
        reminder_type, _ = await harness.started_as(booking_reminder_id(fx.CLINIC_CONNECTED, "v-9"))
        _, request_patches = await harness.started_as(R1)
    assert reminder_type == "VisitReminderV2"
    assert request_patches == [SCOPED_IDS, NEWEST_FOR_CHILDREN, EVENTS]  # then the booking is told


async def test_V7_V9_booked_by_the_patient_ends_reminders_and_the_visit_gets_its_sms(
    harness: Harness,
) -> None:
    async with harness.worker():
        handle = await create(harness, await request(harness, first=21, last=60))
        await until(harness, handle, lambda s: s.state is InvitationState.INVITED)
        visit_start = await harness.local(days=25, hour=10)
        booked = await app.book_invitation(
            harness.client, target(R1), InvitationBooking(booking_id="v-1", start=visit_start, by="patient")
        )
        assert isinstance(booked, InvitationStatus) and booked.state is InvitationState.BOOKED
        assert booked.booked is not None and booked.booked.reminder_workflow_id == booking_reminder_id(
            fx.CLINIC_CONNECTED, "v-1"
        )
        result = await handle.result()
        # a booking system that also books the visit creates no second reminder (V9)
        again = await app.book_visit(
            harness.client,
            harness.task_queue,
            harness.directory,
            VisitBooking(
                booking_id="v-1",
                patient_id=fx.PNR_ADULT_1177,
                clinic_id=fx.CLINIC_CONNECTED,
                reception_id=fx.RECEPTION_GENERAL,
                start=visit_start,
                channel="1177",
            ),
        )
        assert not again.new  # the invitation's own reminder, booked again: nothing started
        reminder = harness.client.get_workflow_handle(again.workflow_id)
        await harness.sleep_until(await harness.local(days=24, hour=9, minute=1))
        sms = await harness.settled(reminder, lambda s: s.state is not ReminderState.SCHEDULED)
    assert result.state is InvitationState.BOOKED and kinds(result) == [MessageKind.INVITATION]
    assert harness.inbox.count() == 1  # nothing more after the booking
    assert isinstance(sms, ReminderStatus) and sms.state is ReminderState.SENT
    assert [b.channel for b in sms.bookings] == ["1177"] and harness.outbox.count() == 1


async def test_V7_contact_from_the_patient_ends_the_reminders(harness: Harness) -> None:
    async with harness.worker():
        handle = await create(harness, await request(harness, first=21, last=60))
        await until(harness, handle, lambda s: s.state is InvitationState.INVITED)
        await app.record_contact(harness.client, target(R1), Contact(note="ringde"))
        result = await handle.result()
        await harness.sleep_until(await harness.local(days=30, hour=9))
    assert result.state is InvitationState.CONTACTED and result.work_list is WorkList.NONE
    assert harness.inbox.count() == 1


async def test_V5_letter_for_a_patient_without_1177_and_the_inbox_once_they_use_it(
    harness: Harness, document: dict[str, Any]
) -> None:
    async with harness.worker():
        handle = await create(harness, await request(harness, first=21, last=60, patient_id=fx.PNR_ADULT_VAS))
        invited = await until(harness, handle, lambda s: s.state is InvitationState.INVITED)
        assert [m.channel for m in invited.messages] == [MessageChannel.LETTER]
        [letter] = harness.letters.letters()
        pdf = letter.read_bytes()
        assert pdf.startswith(b"%PDF") and b"222 23" in pdf and b"Lund" in pdf
        assert fx.PNR_ADULT_VAS.encode() not in pdf and b"r1" in letter.name.encode()
        next(p for p in document["patients"] if p["patient_id"] == fx.PNR_ADULT_VAS)["uses_1177"] = True
        harness.directory.load_document(document)
        await harness.sleep_until(await harness.local(days=14, hour=8, minute=1))
        reminded = await until(harness, handle, lambda s: s.state is InvitationState.REMINDED_1)
    assert [m.channel for m in reminded.messages] == [MessageChannel.LETTER, MessageChannel.INBOX_1177]
    assert len(harness.letters.letters()) == 1 and harness.inbox.count() == 1


async def test_V10_change_before_the_first_message_moves_it_after_it_does_not_resend(
    harness: Harness,
) -> None:
    async with harness.worker():
        handle = await create(harness, await request(harness, first=70, last=120))
        await until(harness, handle, lambda s: s.next_action is not None)
        window = DateWindow(first_date=await day(harness, 84), last_date=await day(harness, 120))
        moved = await app.change_request(harness.client, target(R1), RequestChange(window=window))
        assert moved.next_action is not None and moved.next_action.at == await harness.local(days=42, hour=8)
        await harness.sleep_until(await harness.local(days=30, hour=12))
        assert harness.inbox.count() == 0  # the old moment (day 28) sent nothing
        await harness.sleep_until(await harness.local(days=42, hour=8, minute=1))
        await until(harness, handle, lambda s: s.state is InvitationState.INVITED)
        narrower = await app.change_request(harness.client, target(R1), RequestChange(time_of_day="morning"))
        assert narrower.next_action is not None and narrower.next_action.kind == "reminder_1"
        await harness.sleep_until(await harness.local(days=43, hour=9))
        final = await status(handle)
    # the invitation itself is not sent again; the changed limits go once as a message of their own
    # (issue 27: the patient's offer follows the request; tests/workflows/test_invitation_routing.py)
    assert kinds(final) == [MessageKind.INVITATION, MessageKind.INVITATION_CHANGED]
    assert [m.key for m in harness.inbox.messages()] == [f"{R1}/invitation", f"{R1}/changed.2"]


async def test_V8_patient_booking_outside_window_weekday_or_time_of_day_is_refused_staff_may(
    harness: Harness,
) -> None:
    invitation = await request(harness, first=21, last=60, weekdays=["mon", "tue"], time_of_day="morning")
    async with harness.worker():
        handle = await create(harness, invitation)
        await until(harness, handle, lambda s: s.state is InvitationState.INVITED)
        start_day = await day(harness, 22)
        monday = 22 + (7 - start_day.weekday()) % 7
        refused: list[tuple[datetime, str]] = [
            (await harness.local(days=70, hour=9), "between"),
            (await harness.local(days=monday + 2, hour=9), "must be on mon, tue"),
            (await harness.local(days=monday, hour=13), "morning"),
        ]
        for start, message in refused:
            with pytest.raises(app.InputError, match=message):
                await app.book_invitation(
                    harness.client, target(R1), InvitationBooking(booking_id="v-1", start=start, by="patient")
                )
        unchanged = await status(handle)
        assert unchanged.state is InvitationState.INVITED and unchanged.booked is None
        booked = await app.book_invitation(
            harness.client, target(R1), InvitationBooking(booking_id="v-1", start=refused[0][0], by="staff")
        )
    assert booked.state is InvitationState.BOOKED and booked.booked is not None


async def test_V13_window_closing_before_reminder_2_sends_no_reminder_after_the_last_date(
    harness: Harness,
) -> None:
    async with harness.worker():
        handle = await create(harness, await request(harness, first=21, last=25))
        await until(harness, handle, lambda s: s.state is InvitationState.INVITED)
        await harness.sleep_until(await harness.local(days=14, hour=8, minute=1))
        await until(harness, handle, lambda s: s.state is InvitationState.REMINDED_1)
        await harness.sleep_until(await harness.local(days=29, hour=9))
        final = await until(harness, handle, lambda s: s.state is InvitationState.FOLLOW_UP)
    assert kinds(final) == [MessageKind.INVITATION, MessageKind.REMINDER_1]
    assert final.work_list is WorkList.UPPFOLJNING and harness.inbox.count() == 2


async def test_V11_V12_plain_request_sends_nothing_and_once_converted_behaves_like_an_invitation(
    harness: Harness,
) -> None:
    plain = await request(harness, first=21, last=60, invitation=False)
    async with harness.worker():
        handle = await create(harness, plain)
        waiting = await until(harness, handle, lambda s: s.state is InvitationState.REQUEST)
        assert waiting.work_list is WorkList.BOKNINGSBEGARAN and waiting.next_action is None
        await harness.sleep_until(await harness.local(days=3, hour=12))
        assert harness.inbox.count() == 0 and harness.letters.letters() == []
        window = DateWindow(first_date=await day(harness, 70), last_date=await day(harness, 100))
        converted = await app.convert_request(harness.client, target(R1), Conversion(window=window))
        assert converted.state is InvitationState.SCHEDULED and converted.work_list is WorkList.VARDINBJUDAN
        assert converted.next_action is not None and converted.next_action.at == await harness.local(
            days=28, hour=8
        )
        with pytest.raises(app.InputError, match="not possible in state scheduled"):
            await app.convert_request(harness.client, target(R1), Conversion())
        await harness.sleep_until(await harness.local(days=28, hour=8, minute=1))
        invited = await until(harness, handle, lambda s: s.state is InvitationState.INVITED)
    assert kinds(invited) == [MessageKind.INVITATION] and invited.messages[0].outcome is Outcome.SENT


async def test_V14_staff_cancel_sends_nothing_more(harness: Harness) -> None:
    async with harness.worker():
        handle = await create(harness, await request(harness, first=70, last=120))
        await until(harness, handle, lambda s: s.next_action is not None)
        await app.cancel(harness.client, target(handle.id), reason="remissen återkallad")
        result = await handle.result()
        await harness.sleep_until(await harness.local(days=30, hour=9))
        with pytest.raises(app.InputError, match=f"'{handle.id}' has ended: nothing to change"):
            await app.cancel(harness.client, target(handle.id))  # again: said, not silently "sent"
    assert result.state is InvitationState.CANCELLED and harness.inbox.count() == 0
    with pytest.raises(app.InputError, match="no request 'unknown'"):
        await app.cancel(harness.client, target("care-invitation-unknown"))


async def test_V1_V2_bad_requests_are_refused_at_the_edge(harness: Harness) -> None:
    with pytest.raises(ValueError, match="referral"):
        await request(harness, first=21, last=60, referral_id=None)
    with pytest.raises(ValueError, match="first_date is after last_date"):
        await request(harness, first=60, last=21)
    with pytest.raises(app.InputError, match="already ended"):
        await create(harness, await request(harness, first=-30, last=-1))
    with pytest.raises(app.InputError, match="unknown clinic"):
        await create(
            harness, (await request(harness, first=21, last=60)).model_copy(update={"clinic_id": "x"})
        )


async def test_V1_converting_a_request_without_referral_is_refused_with_one_clear_line(
    harness: Harness,
) -> None:
    plain = await request(harness, first=21, last=60, invitation=False, referral_id=None)
    async with harness.worker():
        handle = await create(harness, plain)
        await until(harness, handle, lambda s: s.state is InvitationState.REQUEST)
        with pytest.raises(app.InputError) as refused:
            await app.convert_request(harness.client, target(R1), Conversion())
        converted = await app.convert_request(harness.client, target(R1), Conversion(referral_id="ref-9"))
    message = str(refused.value)
    assert "referral" in message and "V1" in message and "\n" not in message
    assert fx.PNR_ADULT_1177 not in message and "[type=" not in message
    assert converted.state is InvitationState.INVITED  # window within six weeks: at once (V4)


async def test_invitation_history_is_lean_send_time_and_attributes_set_at_start(
    harness: Harness,
) -> None:
    """Issues 5 and 13: the place, state and work list and the clinic's V3 send time come with the start,
    and the created type carries no patch, so an invitation sent at once costs one local activity (its
    marker), one progress upsert (at once: it was not sent at a moment it slept until) and one task."""
    async with harness.worker():
        handle = await create(harness, await request(harness, first=20, last=60))  # V4: sent at once
        # no query meanwhile: a query that comes while the task sends would bring a task of its own
        await eventually(lambda: history_shape(handle), lambda shape: len(shape.upserts) == 1)
        shape = await history_shape(handle)
        started = (await handle.fetch_history()).events[0].workflow_execution_started_event_attributes
    assert started.workflow_type.name == "CareRequestV3"
    assert shape.activities == [] and shape.local_activities == ["send_invitation_message"]
    assert shape.markers == ["core_local_activity"], shape
    assert shape.workflow_tasks == 1, shape
    # invited: the state and the next reminder change; the work list (vårdinbjudan) does not
    assert shape.upserts == [{"WorkflowState", "NextAction", "NextActionAt"}]
    assert shape.started_with == {"ClinicId", "ReceptionId", "WorkflowState", "WorkList"}


async def test_an_invitation_woken_to_send_upserts_its_state_after_the_wave(harness: Harness) -> None:
    """Issue 13: an invitation sent at the V3 moment it slept until upserts the state it led to
    `PUBLISH_DELAY` after the message, not in the task that records it; its status shows it at once."""
    async with harness.worker():
        handle = await create(harness, await request(harness, first=50, last=80))  # V3: day 8, 08:00
        await harness.sleep_until(await harness.local(days=8, hour=8, minute=1))
        status = await until(harness, handle, lambda s: s.state is InvitationState.INVITED and s.next_action)
        at_send = await history_shape(handle)
        await harness.env.sleep(PUBLISH_DELAY)
        await eventually(lambda: history_shape(handle), lambda shape: len(shape.upserts) == 1)
        shape = await history_shape(handle)
    assert status.next_action is not None and status.next_action.kind == "reminder_1"
    # the invitation's moment came with the start: the first task upserts nothing, nor the sending one
    assert {"NextAction", "NextActionAt"} <= at_send.started_with and at_send.upserts == []
    assert at_send.local_activities == ["send_invitation_message"] and at_send.activities == []
    assert at_send.workflow_tasks == 2  # planned; woken, sent, recorded
    assert shape.upserts == [{"WorkflowState", "NextAction", "NextActionAt"}]


class FlakyInbox:
    """The 1177 inbox, unavailable for its first `failures` calls."""

    def __init__(self, inbox: SqliteInbox, failures: int) -> None:
        self.inbox, self.failures, self.calls = inbox, failures, 0

    def deliver(self, message: InboxMessage) -> InboxReceipt:
        self.calls += 1
        if self.calls <= self.failures:
            raise TransientInboxError("503 from the inbox")
        return self.inbox.deliver(message)


async def test_V5_an_inbox_unavailable_for_a_while_gets_the_invitation_once(harness: Harness) -> None:
    """The message as a local activity (`CareRequestV3`) is retried with its key while the 1177 inbox
    is unavailable, and delivered once."""
    flaky = FlakyInbox(harness.inbox, failures=2)
    harness.inbox = flaky  # type: ignore[assignment]
    async with harness.worker():
        handle = await create(harness, await request(harness, first=20, last=60))  # V4: sent at once
        invited = await eventually(
            lambda: status(handle), lambda s: s.state is InvitationState.INVITED, timeout=60
        )
        shape = await history_shape(handle)
    assert flaky.calls == 3 and len(flaky.inbox.messages()) == 1
    assert [(m.channel, m.outcome) for m in invited.messages] == [(MessageChannel.INBOX_1177, Outcome.SENT)]
    # attempts 1 and 2 in the worker 5 s apart; the third after 10 s, on a timer: a marker each time
    assert shape.local_activities == ["send_invitation_message"] * 2


@pytest.mark.parametrize("workflow", [CareRequestV2, CareRequest], ids=["CareRequestV2", "CareRequest"])
async def test_a_request_of_a_type_created_before_keeps_the_commands_of_its_histories(
    harness: Harness, workflow: Any
) -> None:
    """The types created before `CareRequestV3` send the message as an activity, which a later
    workflow task records, as their histories hold."""
    invitation = await request(harness, first=20, last=60)  # V4: sent at once
    clinic = harness.directory.clinic(fx.CLINIC_CONNECTED)
    assert clinic is not None
    start = InvitationStart(**dict(invitation), invitation_send_time=clinic.invitation_send_time)
    async with harness.worker():
        handle = await harness.client.start_workflow(
            workflow.run,
            start,
            id="care-invitation-r1",
            task_queue=harness.task_queue,
            result_type=InvitationStatus,
        )
        invited = await until(harness, handle, lambda s: s.state is InvitationState.INVITED and s.next_action)
        shape = await history_shape(handle)
    assert kinds(invited) == [MessageKind.INVITATION] and len(harness.inbox.messages()) == 1
    assert shape.activities == ["send_invitation_message"] and shape.local_activities == []


async def test_V3_a_converted_request_reads_the_clinic_send_time_when_converted(
    harness: Harness, document: dict[str, Any]
) -> None:
    """A plain request converted later (V11) plans with the clinic's send time as it is at the
    conversion, not as it was when the request was created."""
    async with harness.worker():
        handle = await create(harness, await request(harness, first=60, last=90, invitation=False))
        await until(harness, handle, lambda s: s.state is InvitationState.REQUEST)
        document["clinics"][0] |= {"invitation_send_time": "13:15"}
        harness.directory.load_document(document)
        converted = await app.convert_request(harness.client, target(R1), Conversion())
        shape = await history_shape(handle)
    assert shape.local_activities == ["load_clinic"]
    assert converted.next_action is not None
    assert local_time(converted.next_action.at) == time(13, 15)


async def test_V3_a_request_of_the_older_type_reads_the_clinic_behind_its_patch(harness: Harness) -> None:
    """Requests created before issue 13 run `CareInvitationWorkflow`: they read the clinic's send time
    when they start sending, behind their patch."""
    async with harness.worker():
        handle = await harness.client.start_workflow(
            CareInvitationWorkflow.run, await request(harness, first=20, last=60), id="care-invitation-r1",
            task_queue=harness.task_queue, result_type=InvitationStatus,
        )  # fmt: skip
        invited = await until(harness, handle, lambda s: s.state is InvitationState.INVITED)
        shape = await history_shape(handle)
    assert shape.local_activities == ["load_clinic"]
    assert shape.markers == ["core_patch", "core_local_activity"]
    assert [m.kind for m in invited.messages] == [MessageKind.INVITATION]
