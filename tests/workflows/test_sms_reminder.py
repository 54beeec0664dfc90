"""The SMS reminder on the time-skipping server: each S rule checked on `status` and the outbox."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from temporalio.client import WorkflowUpdateFailedError

import application as app
from contracts.workflow_ids import booking_reminder_id
from demo import data as fx
from domain.booking import ReminderStart, Reschedule, SmsFlagChange, VisitBooking
from domain.status import Outcome, Reason, RecipientRole, ReminderState, ReminderStatus
from tests.harness import Harness, eventually, history_shape, target
from workflows.mechanics import PUBLISH_DELAY
from workflows.reminder.generations import SmsReminder, SmsReminderWorkflow, VisitReminder


def visit(patient_id: str = fx.PNR_ADULT_1177, booking_id: str = "b1", **fields: Any) -> dict[str, Any]:
    return {
        "booking_id": booking_id,
        "patient_id": patient_id,
        "clinic_id": fx.CLINIC_CONNECTED,
        "reception_id": fx.RECEPTION_GENERAL,
        **fields,
    }


def sent(status: ReminderStatus) -> bool:
    return status.state is not ReminderState.SCHEDULED


async def test_S6_reminder_goes_out_the_day_before_at_the_clinic_send_time(harness: Harness) -> None:
    start = await harness.local(days=3, hour=10)
    async with harness.worker():
        handle = await harness.book(VisitBooking(**visit(start=start)))
        status = await harness.settled(handle, lambda s: s.next_action is not None)
        expected = await harness.local(days=2, hour=9)
        assert status.next_action is not None and status.next_action.at == expected
        await harness.sleep_until(expected - timedelta(minutes=1))
        assert harness.outbox.count() == 0
        await harness.sleep_until(expected + timedelta(minutes=1))
        status = await harness.settled(handle, sent)
    assert status.state is ReminderState.SENT
    assert harness.sent_to() == [fx.e164(fx.MOBILE_ADULT_1177)]
    [message] = status.messages
    assert message.outcome is Outcome.SENT and message.recipient is RecipientRole.PATIENT
    assert message.to is not None and fx.e164(fx.MOBILE_ADULT_1177) not in message.to
    assert expected <= message.at < expected + timedelta(minutes=1)


async def test_S3_S16_adult_gets_reception_name_date_and_time(harness: Harness) -> None:
    start = await harness.local(days=2, hour=14, minute=30)
    async with harness.worker():
        handle = await harness.book(VisitBooking(**visit(start=start)))
        await harness.sleep_until(await harness.local(days=1, hour=9, minute=5))
        await harness.settled(handle, sent)
    [message] = harness.outbox.messages()
    assert "Allmänkirurgisk mottagning" in message.text and "14:30" in message.text
    assert fx.PNR_ADULT_1177 not in message.text and len(message.text) <= 160


async def test_S15_reschedule_moves_the_reminder_and_the_old_moment_sends_nothing(harness: Harness) -> None:
    start = await harness.local(days=3, hour=10)
    async with harness.worker():
        handle = await harness.book(VisitBooking(**visit(start=start)))
        await harness.settled(handle, lambda s: s.next_action is not None)
        new_start = await harness.local(days=6, hour=10)
        moved = await handle.execute_update(
            "reschedule", Reschedule(start=new_start), result_type=ReminderStatus
        )
        assert moved.visit_version == 2 and moved.next_action is not None
        assert moved.next_action.at == await harness.local(days=5, hour=9)
        await harness.sleep_until(await harness.local(days=2, hour=12))
        assert harness.outbox.count() == 0
        assert (await harness.status(handle)).state is ReminderState.SCHEDULED
        await harness.sleep_until(await harness.local(days=5, hour=9, minute=1))
        status = await harness.settled(handle, sent)
    assert status.state is ReminderState.SENT and harness.outbox.count() == 1
    assert {m.visit_version for m in status.messages} == {2}


async def test_S15_cancel_before_the_moment_sends_nothing(harness: Harness) -> None:
    start = await harness.local(days=3, hour=10)
    async with harness.worker():
        handle = await harness.book(VisitBooking(**visit(start=start)))
        await harness.settled(handle, lambda s: s.next_action is not None)
        await app.cancel(harness.client, target(handle.id))
        await harness.sleep_until(await harness.local(days=2, hour=12))
        result = await handle.result()
    assert result.state is ReminderState.CANCELLED and result.next_action is None
    assert harness.outbox.count() == 0


async def test_S15_reschedule_after_sending_reminds_again_for_the_new_time(harness: Harness) -> None:
    start = await harness.local(days=2, hour=10)
    async with harness.worker():
        handle = await harness.book(VisitBooking(**visit(start=start)))
        await harness.sleep_until(await harness.local(days=1, hour=9, minute=1))
        await harness.settled(handle, sent)
        await handle.execute_update("reschedule", Reschedule(start=await harness.local(days=4, hour=10)))
        await harness.sleep_until(await harness.local(days=3, hour=9, minute=1))
        status = await harness.settled(handle, lambda s: len(s.messages) == 2)
    keys = [m.key for m in harness.outbox.messages()]
    assert len(keys) == 2 and keys[0].endswith("/v1/patient") and keys[1].endswith("/v2/patient")
    assert status.state is ReminderState.SENT


async def test_S15_restarting_the_worker_between_booking_and_send_time_sends_exactly_once(
    harness: Harness,
) -> None:
    start = await harness.local(days=3, hour=10)
    async with harness.worker(sticky=False):
        handle = await harness.book(VisitBooking(**fx_child_visit(start)))
        await harness.settled(handle, lambda s: s.next_action is not None)
    async with harness.worker(sticky=False):  # a new worker picks the workflow up from its history
        await harness.sleep_until(await harness.local(days=2, hour=9, minute=1))
        status = await harness.settled(handle, sent)
    async with harness.worker(sticky=False):  # and another one replays it without sending again
        await harness.sleep_until(await harness.local(days=2, hour=11))
        await app.status(harness.client, target(handle.id))
    assert status.state is ReminderState.SENT
    assert sorted(harness.sent_to()) == sorted([fx.e164(fx.MOBILE_GUARDIAN_1), fx.e164(fx.MOBILE_GUARDIAN_2)])


def fx_child_visit(start: Any) -> dict[str, Any]:
    return visit(fx.PNR_CHILD, start=start)


async def test_S4_minor_reminder_goes_to_both_guardians_without_the_childs_personnummer(
    harness: Harness,
) -> None:
    start = await harness.local(days=2, hour=10)
    async with harness.worker():
        handle = await harness.book(VisitBooking(**fx_child_visit(start)))
        await harness.sleep_until(await harness.local(days=1, hour=9, minute=1))
        status = await harness.settled(handle, sent)
    roles = sorted(m.recipient for m in status.messages if m.outcome is Outcome.SENT)
    assert roles == [RecipientRole.GUARDIAN_1, RecipientRole.GUARDIAN_2]
    for message in harness.outbox.messages():
        assert fx.PNR_CHILD not in message.text and fx.PNR_CHILD.replace("-", "") not in message.text


@pytest.mark.parametrize(
    ("patient_id", "fields", "reason"),
    [
        (fx.RESERVNUMMER_CHILD, {}, Reason.MINOR_RESERVNUMMER),
        (fx.PNR_ADULT_WITHDRAWN, {}, Reason.NO_CONSENT),
        (fx.PNR_ADULT_NO_MOBILE, {}, Reason.NO_MOBILE),
        (fx.PNR_ADULT_1177, {"channel": "an27_quick"}, Reason.QUICK_BOOKING),
        (fx.PNR_ADULT_1177, {"sms_flag": False}, Reason.SMS_FLAG_OFF),
    ],
    ids=["S5_minor_reservnummer", "S9_withdrawn_consent", "S3_no_mobile", "S7_quick_booking", "S10_flag_off"],
)
async def test_S5_S7_S9_S10_S3_skips_are_recorded_with_their_reason(
    harness: Harness, patient_id: str, fields: dict[str, Any], reason: Reason
) -> None:
    start = await harness.local(days=2, hour=10)
    async with harness.worker():
        handle = await harness.book(VisitBooking(**visit(patient_id, start=start, **fields)))
        await harness.sleep_until(await harness.local(days=1, hour=9, minute=1))
        status = await harness.settled(handle, sent)
    assert status.state is ReminderState.SKIPPED and status.reason is reason
    assert [m.reason for m in status.messages] == [reason]
    assert harness.outbox.count() == 0


async def test_S14_clinic_not_connected_sends_nothing(harness: Harness) -> None:
    start = await harness.local(days=3, hour=10)
    booking = visit(clinic_id=fx.CLINIC_NOT_CONNECTED, reception_id=fx.RECEPTION_NOT_CONNECTED, start=start)
    async with harness.worker():
        handle = await harness.book(VisitBooking(**booking))
        await harness.sleep_until(await harness.local(days=2, hour=11))
        status = await harness.settled(handle, sent)
    assert status.reason is Reason.CLINIC_NOT_CONNECTED and harness.outbox.count() == 0


async def test_S1_reception_not_enabled_sends_nothing(harness: Harness, document: dict[str, Any]) -> None:
    document["clinics"][0]["receptions"][0]["sms_enabled"] = False
    harness.directory.load_document(document)
    start = await harness.local(days=2, hour=10)
    async with harness.worker():
        handle = await harness.book(VisitBooking(**visit(start=start)))
        await harness.sleep_until(await harness.local(days=1, hour=9, minute=1))
        status = await harness.settled(handle, sent)
    assert status.reason is Reason.RECEPTION_NOT_ENABLED and harness.outbox.count() == 0


async def test_S2_age_limit_is_set_per_reception(harness: Harness, document: dict[str, Any]) -> None:
    # A 16-year-old with an own mobile: a minor at the reception with limit 18, an adult at the one with 16.
    sixteen = fx.luhn_pnr(f"{(await harness.now()).year - 16}0101", "789")
    document["patients"].append(
        {
            "patient_id": sixteen,
            "given_name": "Sexton",
            "family_name": "Testsson",
            "mobile": "070-1740611",
            "guardians": [{"rank": 1, "name": "Förälder Testsson", "mobile": "070-1740612"}],
            "sms_consents": [{"clinic_id": None, "source": "1177", "given_at": "2024-01-01T00:00:00+01:00"}],
        }
    )
    harness.directory.load_document(document)
    start = await harness.local(days=2, hour=10)
    async with harness.worker():
        limit_18 = await harness.book(VisitBooking(**visit(sixteen, "b18", start=start)))
        limit_16 = await harness.book(
            VisitBooking(**visit(sixteen, "b16", reception_id=fx.RECEPTION_HIDDEN, start=start))
        )
        await harness.sleep_until(await harness.local(days=1, hour=9, minute=1))
        as_minor = await harness.settled(limit_18, sent)
        as_adult = await harness.settled(limit_16, sent)
    assert sorted(m.recipient for m in as_minor.messages) == [RecipientRole.GUARDIAN_1, RecipientRole.PATIENT]
    assert [m.recipient for m in as_adult.messages] == [RecipientRole.PATIENT]
    hidden = [
        m.text
        for m in harness.outbox.messages()
        if m.key.startswith(booking_reminder_id(fx.CLINIC_CONNECTED, "b16") + "/")
    ]
    assert hidden and "Kirurgmottagning 2" in hidden[0] and "Obesitas" not in hidden[0]  # S16 display name


async def test_S9_consent_withdrawn_after_booking_stops_the_sms(harness: Harness) -> None:
    start = await harness.local(days=3, hour=10)
    async with harness.worker():
        handle = await harness.book(VisitBooking(**visit(fx.PNR_ADULT_VAS, start=start)))
        await harness.settled(handle, lambda s: s.next_action is not None)
        await harness.sleep_until(await harness.local(days=1, hour=12))
        withdrawn = harness.directory.withdraw_consent(
            fx.PNR_ADULT_VAS, fx.CLINIC_CONNECTED, "VAS", await harness.now()
        )
        assert withdrawn == 1
        await harness.sleep_until(await harness.local(days=2, hour=9, minute=1))
        status = await harness.settled(handle, sent)
    assert status.state is ReminderState.SKIPPED and status.reason is Reason.NO_CONSENT
    assert harness.outbox.count() == 0


async def test_S9_number_removed_after_booking_stops_the_sms(harness: Harness) -> None:
    start = await harness.local(days=3, hour=10)
    async with harness.worker():
        handle = await harness.book(VisitBooking(**visit(start=start)))
        await harness.settled(handle, lambda s: s.next_action is not None)
        harness.directory.set_mobile(fx.PNR_ADULT_1177, None)
        await harness.sleep_until(await harness.local(days=2, hour=9, minute=1))
        status = await harness.settled(handle, sent)
    assert status.reason is Reason.NO_MOBILE and harness.outbox.count() == 0


async def test_S8_sms_flag_of_a_1177_booking_cannot_be_turned_off(harness: Harness) -> None:
    start = await harness.local(days=3, hour=10)
    async with harness.worker():
        handle = await harness.book(VisitBooking(**visit(start=start, channel="1177")))
        with pytest.raises(WorkflowUpdateFailedError) as rejected:
            await handle.execute_update("set_sms_flag", SmsFlagChange(sms_flag=False))
        assert "1177" in str(rejected.value.cause)
        with pytest.raises(app.InputError, match="cannot be turned off"):
            await app.set_sms_flag(harness.client, target(handle.id), False)
        status = await harness.status(handle)
        assert all(b.sms_flag for b in status.bookings)
        await harness.sleep_until(await harness.local(days=2, hour=9, minute=1))
        status = await harness.settled(handle, sent)
    assert status.state is ReminderState.SENT and harness.outbox.count() == 1


async def test_S10_staff_turn_the_flag_off_then_on_again(harness: Harness) -> None:
    start = await harness.local(days=3, hour=10)
    async with harness.worker():
        handle = await harness.book(VisitBooking(**visit(start=start)))
        off = await app.set_sms_flag(harness.client, target(handle.id), False)
        assert [b.sms_flag for b in off.bookings] == [False]
        await harness.sleep_until(await harness.local(days=2, hour=9, minute=1))
        skipped = await harness.settled(handle, sent)
        assert skipped.reason is Reason.SMS_FLAG_OFF and harness.outbox.count() == 0
        await app.set_sms_flag(
            harness.client, target(handle.id), True
        )  # inside the window, > 2 h before: at once
        status = await harness.settled(handle, lambda s: s.state is ReminderState.SENT)
    assert status.state is ReminderState.SENT and harness.outbox.count() == 1


async def test_S6_booked_after_the_send_moment_inside_the_window_is_sent_at_once(harness: Harness) -> None:
    await harness.sleep_until(await harness.local(days=1, hour=10))
    start = await harness.local(days=1, hour=15)  # the day-before moment (yesterday 09:00) has passed
    async with harness.worker():
        handle = await harness.book(VisitBooking(**visit(start=start)))
        status = await harness.settled(handle, sent)
    assert status.state is ReminderState.SENT
    assert status.messages[0].at - await harness.local(days=1, hour=10) < timedelta(minutes=5)


async def test_S6_booked_in_quiet_hours_waits_for_the_window_to_open(harness: Harness) -> None:
    await harness.sleep_until(await harness.local(days=1, hour=21, minute=30))
    start = await harness.local(days=2, hour=12)  # tomorrow 12:00: 08:00 is still 4 h before
    async with harness.worker():
        handle = await harness.book(VisitBooking(**visit(start=start)))
        status = await harness.settled(handle, lambda s: s.next_action is not None)
        assert status.next_action is not None and status.next_action.at == await harness.local(days=2, hour=8)
        await harness.sleep_until(await harness.local(days=2, hour=8, minute=1))
        status = await harness.settled(handle, sent)
    assert status.state is ReminderState.SENT


async def test_S6_too_late_is_recorded_and_nothing_is_sent(harness: Harness) -> None:
    await harness.sleep_until(await harness.local(days=1, hour=21, minute=30))
    start = await harness.local(days=2, hour=9)  # the window opens 08:00, only 1 h before the visit
    async with harness.worker():
        handle = await harness.book(VisitBooking(**visit(start=start)))
        status = await harness.settled(handle, sent)
    assert status.state is ReminderState.SKIPPED and status.reason is Reason.TOO_LATE
    assert harness.outbox.count() == 0


async def test_S6_clinic_days_before_and_send_time_are_clinic_settings(
    harness: Harness, document: dict[str, Any]
) -> None:
    document["clinics"][0] |= {"sms_days_before": 3, "sms_send_time": "17:00"}
    harness.directory.load_document(document)
    start = await harness.local(days=5, hour=10)
    async with harness.worker():
        handle = await harness.book(VisitBooking(**visit(start=start)))
        status = await harness.settled(handle, lambda s: s.next_action is not None)
    assert status.next_action is not None and status.next_action.at == await harness.local(days=2, hour=17)


async def test_S12_series_visits_each_have_their_own_reminder_and_flag(harness: Harness) -> None:
    starts = [await harness.local(days=d, hour=10) for d in (2, 3, 4)]
    async with harness.worker():
        handles = [
            await harness.book(
                VisitBooking(**visit(booking_id=f"s{i}", start=s, series_id="series-1", sms_flag=i != 1))
            )
            for i, s in enumerate(starts)
        ]
        await harness.sleep_until(await harness.local(days=3, hour=9, minute=1))
        statuses = [await harness.settled(h, sent) for h in handles]
    assert [s.state for s in statuses] == [ReminderState.SENT, ReminderState.SKIPPED, ReminderState.SENT]
    assert len({m.key for m in harness.outbox.messages()}) == 2


async def test_booking_the_same_visit_twice_starts_one_workflow(harness: Harness) -> None:
    start = await harness.local(days=3, hour=10)
    async with harness.worker():
        first = await harness.book(VisitBooking(**visit(start=start)))
        second = await harness.book(VisitBooking(**visit(start=start)))
        assert first.id == second.id == booking_reminder_id(fx.CLINIC_CONNECTED, "b1")
        first_run = (await first.describe()).run_id
        assert (await second.describe()).run_id == first_run


async def test_bad_reschedule_is_rejected_and_changes_nothing(harness: Harness) -> None:
    start = await harness.local(days=3, hour=10)
    async with harness.worker():
        handle = await harness.book(VisitBooking(**visit(start=start)))
        await harness.settled(handle, lambda s: s.next_action is not None)
        with pytest.raises(WorkflowUpdateFailedError):
            await handle.execute_update(
                "reschedule", Reschedule(start=await harness.now() - timedelta(hours=1))
            )
        status = await harness.status(handle)
    assert status.visit_version == 1 and status.start == start


async def test_reminder_history_is_lean_sent_in_the_task_that_wakes_it_and_attributes_set_at_booking(
    harness: Harness,
) -> None:
    """Issues 5 and 13: the search attributes (with the S6 moment) and the clinic's S6 settings come with
    the booking, and the booked type carries no patch; one local activity reads the recipients and
    sends the SMS in the workflow task that wakes the reminder, which issues no upsert: the reminder
    shows as sent in the search attributes `PUBLISH_DELAY` later, in one more task, and in its status
    and details at once."""
    async with harness.worker():
        handle = await harness.book(VisitBooking(**visit(start=await harness.local(days=2, hour=10))))
        await harness.sleep_until(await harness.local(days=1, hour=9, minute=1))
        await harness.settled(handle, sent)
        at_send = await history_shape(handle)
        assert (await handle.query("__temporal_workflow_metadata")).current_details.startswith("sent")
        await harness.sleep_until(await harness.local(days=1, hour=9, minute=1) + PUBLISH_DELAY)
        await eventually(lambda: history_shape(handle), lambda shape: shape.workflow_tasks == 3)
        shape = await history_shape(handle)
        started = (await handle.fetch_history()).events[0].workflow_execution_started_event_attributes
    assert started.workflow_type.name == "VisitReminderV2"
    assert at_send.workflow_tasks == 2 and at_send.upserts == []  # its start, and the moment it sends
    assert shape.activities == []
    assert shape.local_activities == ["send_reminders"]
    assert shape.upserts == [{"WorkflowState", "NextAction", "NextActionAt"}]
    assert shape.markers == ["core_local_activity"]  # no patch marker
    assert shape.started_with == {
        "ClinicId",
        "ReceptionId",
        "BookingChannel",
        "WorkflowState",
        "NextAction",
        "NextActionAt",
    }


async def test_a_skipped_reminder_shows_in_the_lists_at_once(
    harness: Harness, document: dict[str, Any]
) -> None:
    """Issue 13: only a sent reminder's search attributes wait `PUBLISH_DELAY`; a skip (here S14: the
    clinic disconnected before the send moment), which someone may act on, is upserted in the task
    that decides it."""
    async with harness.worker():
        handle = await harness.book(VisitBooking(**visit(start=await harness.local(days=2, hour=10))))
        document["clinics"][0] |= {"sms_connected": False}
        harness.directory.load_document(document)
        await harness.sleep_until(await harness.local(days=1, hour=9, minute=1))
        status = await harness.settled(handle, lambda s: s.state is not ReminderState.SCHEDULED)
        shape = await history_shape(handle)
    assert status.state is ReminderState.SKIPPED and status.reason is Reason.CLINIC_NOT_CONNECTED
    assert shape.workflow_tasks == 2 and shape.upserts == [{"WorkflowState", "NextAction", "NextActionAt"}]


async def test_S6_a_booked_reminder_plans_with_its_booking_and_a_reschedule_reads_the_clinic_again(
    harness: Harness, document: dict[str, Any]
) -> None:
    """Issue 13: the booking hands the clinic's S6 settings to the reminder (no directory read in its
    first task); a reschedule plans with the clinic as it is then (S6 settings changed meanwhile)."""
    start = await harness.local(days=5, hour=10)
    async with harness.worker():
        handle = await harness.book(VisitBooking(**visit(start=start)))
        status = await harness.settled(handle, lambda s: s.next_action is not None)
        assert status.next_action is not None and status.next_action.at == await harness.local(days=4, hour=9)
        assert (await history_shape(handle)).local_activities == []
        document["clinics"][0] |= {"sms_days_before": 2, "sms_send_time": "17:00"}
        harness.directory.load_document(document)
        moved = await handle.execute_update(
            "reschedule", Reschedule(start=await harness.local(days=6, hour=10)), result_type=ReminderStatus
        )
        assert (await history_shape(handle)).local_activities == ["load_clinic"]
    assert moved.next_action is not None and moved.next_action.at == await harness.local(days=4, hour=17)


@pytest.mark.parametrize(
    ("workflow", "local_activities", "activities", "tasks"),
    [
        (VisitReminder, ["plan_recipients", "send_reminder_sms"], [], 2),
        (SmsReminder, ["plan_recipients"], ["send_reminder_sms"], 3),
    ],
    ids=["VisitReminder", "SmsReminder"],
)
async def test_a_reminder_of_a_type_booked_before_keeps_the_commands_of_its_histories(
    harness: Harness, workflow: Any, local_activities: list[str], activities: list[str], tasks: int
) -> None:
    """The types booked before `VisitReminderV2` keep the commands their histories hold: `VisitReminder`
    asks the recipients' plan, then one local activity per SMS, in the task that wakes it; `SmsReminder`
    sends the SMS as an activity, recorded in a later workflow task."""
    start = await harness.local(days=2, hour=10)
    clinic = harness.directory.clinic(fx.CLINIC_CONNECTED)
    assert clinic is not None
    async with harness.worker():
        handle = await harness.client.start_workflow(
            workflow.run, ReminderStart(**visit(start=start), sms_timing=clinic.sms_timing),
            id="sms-reminder-before", task_queue=harness.task_queue,
        )  # fmt: skip
        await harness.sleep_until(await harness.local(days=1, hour=9, minute=1))
        status = await harness.settled(handle, sent)
        shape = await history_shape(handle)
    assert status.state is ReminderState.SENT and len(harness.outbox.messages()) == 1
    assert shape.local_activities == local_activities and shape.activities == activities
    assert shape.workflow_tasks == tasks


async def test_S6_a_reminder_started_without_the_clinic_settings_reads_the_clinic(harness: Harness) -> None:
    """The type a group booking or an invitation starts (and the reminders booked before issue 13)
    reads the clinic itself, behind its patch."""
    start = await harness.local(days=3, hour=10)
    async with harness.worker():
        handle = await harness.client.start_workflow(
            SmsReminderWorkflow.run, VisitBooking(**visit(start=start)), id="sms-reminder-plain",
            task_queue=harness.task_queue,
        )  # fmt: skip
        status = await harness.settled(handle, lambda s: s.next_action is not None)
        shape = await history_shape(handle)
    assert shape.local_activities == ["load_clinic"]
    assert shape.markers == ["core_patch", "core_local_activity"]
    assert status.next_action is not None and status.next_action.at == await harness.local(days=2, hour=9)
