"""Team visits (S11) and group bookings (S13) on the time-skipping server."""

from __future__ import annotations

import asyncio
from datetime import timedelta
from typing import Any

import pytest
from temporalio.client import WorkflowUpdateFailedError

import application as app
from contracts.workflow_ids import booking_reminder_id, team_reminder_id
from demo import data as fx
from domain.booking import GroupBooking, GroupParticipant, VisitBooking
from domain.status import GroupState, GroupStatus, Outcome, Reason, RecipientRole, ReminderState
from tests.harness import Harness, eventually, target
from workflows.mechanics import SCOPED_IDS
from workflows.reminder.children import NEWEST_FOR_CHILDREN
from workflows.reminder.generations import VisitReminder


async def hosp_bookings(harness: Harness, flags: tuple[bool, ...]) -> list[VisitBooking]:
    start = await harness.local(days=3, hour=13)
    return [
        VisitBooking(
            booking_id=f"hosp-{n}",
            patient_id=fx.PNR_CHILD,
            clinic_id=fx.CLINIC_CONNECTED,
            reception_id=fx.RECEPTION_GENERAL,
            start=start,
            team_visit_id="team-1",
            sms_flag=flag,
        )
        for n, flag in enumerate(flags, start=1)
    ]


async def book_team(harness: Harness, flags: tuple[bool, ...]) -> Any:
    handles = [await harness.book(b) for b in await hosp_bookings(harness, flags)]
    assert {h.id for h in handles} == {team_reminder_id(fx.CLINIC_CONNECTED, "team-1")}
    handle = handles[0]
    await harness.settled(handle, lambda s: len(s.bookings) == len(flags) and s.next_action is not None)
    return handle


async def test_S11_team_visit_of_three_hosp_bookings_sends_one_sms_per_recipient(harness: Harness) -> None:
    async with harness.worker():
        handle = await book_team(harness, (True, True, True))
        await harness.sleep_until(await harness.local(days=2, hour=9, minute=1))
        status = await harness.settled(handle, lambda s: s.state is not ReminderState.SCHEDULED)
    assert [b.booking_id for b in status.bookings] == ["hosp-1", "hosp-2", "hosp-3"]
    assert sorted(m.recipient for m in status.messages) == [
        RecipientRole.GUARDIAN_1,
        RecipientRole.GUARDIAN_2,
    ]
    assert sorted(harness.sent_to()) == sorted([fx.e164(fx.MOBILE_GUARDIAN_1), fx.e164(fx.MOBILE_GUARDIAN_2)])


async def test_S11_team_visit_honours_flags_staff_turned_off(harness: Harness) -> None:
    async with harness.worker():
        handle = await book_team(harness, (False, True, False))
        await app.set_sms_flag(harness.client, target(handle.id), False, booking_id="hosp-2")
        await harness.sleep_until(await harness.local(days=2, hour=9, minute=1))
        status = await harness.settled(handle, lambda s: s.state is not ReminderState.SCHEDULED)
    assert status.state is ReminderState.SKIPPED and status.reason is Reason.SMS_FLAG_OFF
    assert harness.outbox.count() == 0


async def test_S11_one_flag_left_on_is_enough_for_the_team_visit(harness: Harness) -> None:
    async with harness.worker():
        handle = await book_team(harness, (False, False, True))
        await harness.sleep_until(await harness.local(days=2, hour=9, minute=1))
        status = await harness.settled(handle, lambda s: s.state is not ReminderState.SCHEDULED)
    assert status.state is ReminderState.SENT and harness.outbox.count() == 2


async def test_S11_S15_cancelling_one_hosp_booking_keeps_the_reminder_cancelling_all_stops_it(
    harness: Harness,
) -> None:
    async with harness.worker():
        handle = await book_team(harness, (True, True, True))
        await app.cancel(harness.client, target(handle.id), booking_id="hosp-1")
        status = await harness.settled(handle, lambda s: s.bookings[0].cancelled)
        assert status.state is ReminderState.SCHEDULED
        for booking_id in ("hosp-2", "hosp-3"):
            await app.cancel(harness.client, target(handle.id), booking_id=booking_id)
        result = await handle.result()
    assert result.state is ReminderState.CANCELLED and harness.outbox.count() == 0


def adults(count: int, consent: bool, first_serial: int) -> list[dict[str, Any]]:
    consents = (
        [{"clinic_id": None, "source": "1177", "given_at": "2024-01-01T00:00:00+01:00"}] if consent else []
    )
    return [
        {
            "patient_id": fx.luhn_pnr("19700101", f"{101 + first_serial + n:03d}"),
            "given_name": "Grupp",
            "family_name": f"Deltagare{first_serial + n}",
            "mobile": f"070-17406{40 + first_serial + n}",
            "sms_consents": consents,
        }
        for n in range(count)
    ]


async def book_group(harness: Harness, document: dict[str, Any], sms_flag: bool = True) -> Any:
    members = adults(3, consent=True, first_serial=0) + adults(2, consent=False, first_serial=3)
    document["patients"].extend(members)
    harness.directory.load_document(document)
    group = GroupBooking(
        group_booking_id="grp-1",
        clinic_id=fx.CLINIC_CONNECTED,
        reception_id=fx.RECEPTION_GENERAL,
        start=await harness.local(days=3, hour=15),
        sms_flag=sms_flag,
        participants=[
            GroupParticipant(booking_id=f"grp-1-{n}", patient_id=m["patient_id"])
            for n, m in enumerate(members)
        ],
    )
    return await harness.book_group(group)


async def participant_states(harness: Harness) -> list[ReminderState]:
    handles = [
        harness.client.get_workflow_handle(booking_reminder_id(fx.CLINIC_CONNECTED, f"grp-1-{n}"))
        for n in range(5)
    ]
    return [(await harness.status(h)).state for h in handles]


async def test_S13_group_of_five_where_two_lack_consent_gives_three_sms(
    harness: Harness, document: dict[str, Any]
) -> None:
    async with harness.worker():
        group = await book_group(harness, document)
        await harness.sleep_until(await harness.local(days=2, hour=9, minute=1))
        states = await eventually(
            lambda: participant_states(harness), lambda s: ReminderState.SCHEDULED not in s
        )
        await harness.sleep_until(await harness.local(days=3, hour=15, minute=1))
        result = await group.result()
    assert states == [ReminderState.SENT] * 3 + [ReminderState.SKIPPED] * 2
    assert harness.outbox.count() == 3
    assert result.state is GroupState.DONE and len(result.reminder_workflow_ids) == 5


async def test_S13_each_participant_runs_the_newest_reminder_type(
    harness: Harness, document: dict[str, Any]
) -> None:
    """Issue 25: the reminders a group booking starts from now on are `VisitReminderV2`, as a booked
    visit's (patch `children-newest-reminder`; groups that started theirs before keep the old type)."""
    ids = [booking_reminder_id(fx.CLINIC_CONNECTED, f"grp-1-{n}") for n in range(5)]
    async with harness.worker():
        group = await book_group(harness, document)
        children = await eventually(
            lambda: asyncio.gather(*(harness.started_as(i) for i in ids)), lambda s: all(t for t, _ in s)
        )
        _, group_patches = await harness.started_as(group.id)
    assert [t for t, _ in children] == ["VisitReminderV2"] * 5
    assert group_patches == [SCOPED_IDS, NEWEST_FOR_CHILDREN]


async def test_S13_group_flag_off_means_no_sms_for_anyone(harness: Harness, document: dict[str, Any]) -> None:
    async with harness.worker():
        group = await book_group(harness, document)
        changed = await app.set_sms_flag(harness.client, target(group.id), False)
        assert isinstance(changed, GroupStatus) and changed.sms_flag is False
        await harness.sleep_until(await harness.local(days=2, hour=9, minute=1))
        states = await eventually(
            lambda: participant_states(harness), lambda s: ReminderState.SCHEDULED not in s
        )
        with pytest.raises(app.InputError, match="whole group"):  # no per-participant flag
            await app.set_sms_flag(harness.client, target(group.id), True, booking_id="grp-1-0")
    assert states == [ReminderState.SKIPPED] * 5 and harness.outbox.count() == 0


async def test_S13_S15_group_reschedule_moves_every_participant_and_cancel_stops_one(
    harness: Harness, document: dict[str, Any]
) -> None:
    async with harness.worker():
        group = await book_group(harness, document)
        await app.reschedule(harness.client, target(group.id), await harness.local(days=5, hour=15))
        await app.cancel(harness.client, target(group.id), booking_id="grp-1-0")
        await harness.sleep_until(await harness.local(days=2, hour=12))
        assert harness.outbox.count() == 0  # the old moment sends nothing
        await harness.sleep_until(await harness.local(days=4, hour=9, minute=1))
        states = await eventually(
            lambda: participant_states(harness), lambda s: ReminderState.SCHEDULED not in s
        )
        status = await app.status(harness.client, target(group.id))
        child = await harness.status(
            harness.client.get_workflow_handle(booking_reminder_id(fx.CLINIC_CONNECTED, "grp-1-1"))
        )
    assert states == [ReminderState.CANCELLED] + [ReminderState.SENT] * 2 + [ReminderState.SKIPPED] * 2
    assert harness.outbox.count() == 2
    assert isinstance(status, GroupStatus) and status.cancelled == ["grp-1-0"]
    assert child.start == await harness.local(days=5, hour=15)
    assert {m.outcome for m in child.messages} == {Outcome.SENT}


async def test_S11_the_team_reminder_itself_refuses_a_join_of_another_clinic_patient_or_time(
    harness: Harness,
) -> None:
    """The join is checked inside the workflow (update `join_booking`'s validator), not only at the
    door: a booking of another clinic, patient or time is refused and changes nothing."""
    async with harness.worker():
        handle = await book_team(harness, (True,))
        [first] = await hosp_bookings(harness, (True,))
        for other in (
            first.model_copy(update={"booking_id": "hosp-x", "clinic_id": fx.CLINIC_NOT_CONNECTED}),
            first.model_copy(update={"booking_id": "hosp-x", "patient_id": fx.PNR_ADULT_VAS}),
            first.model_copy(update={"booking_id": "hosp-x", "start": first.start + timedelta(hours=1)}),
            first.model_copy(update={"series_id": "another-series"}),  # the same booking, other content
        ):
            with pytest.raises(WorkflowUpdateFailedError) as refused:
                await handle.execute_update(VisitReminder.join_booking, other)
            assert fx.PNR_ADULT_VAS not in str(refused.value.cause)
        assert await handle.execute_update(VisitReminder.join_booking, first) is False  # the same again
        status = await harness.status(handle)
    assert [b.booking_id for b in status.bookings] == ["hosp-1"]
