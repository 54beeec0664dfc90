"""The SMS provider's delivery reports on SmsReminderWorkflow (signal `delivery_report`): a sent SMS
starts `pending` when its gateway reports deliveries, a report moves it forward only, and reports for
keys the reminder never sent change nothing."""

from __future__ import annotations

import asyncio
import threading
from datetime import UTC, datetime, timedelta
from typing import Any

from temporalio.api.sdk.v1 import WorkflowMetadata
from temporalio.client import WorkflowHandle

from adapters.sms import SmsMessage, SmsReceipt, SqlOutbox
from contracts.workflow_ids import SmsKey, booking_reminder_id, parse_sms_key, sms_key
from demo import data as fx
from domain.booking import VisitBooking
from domain.status import Delivery, DeliveryReport, Outcome, RecipientRole, ReminderState, ReminderStatus
from tests.harness import Harness
from workflows.reminder.generations import SmsReminderWorkflow

AT = datetime(2027, 3, 28, 7, 0, 3, tzinfo=UTC)


class ReportingOutbox:
    """The embedded outbox, as a gateway that asks for delivery reports (46elks with `whendelivered`);
    `hold` keeps each send waiting until `release` is set."""

    def __init__(self, outbox: SqlOutbox, hold: bool = False) -> None:
        self._outbox = outbox
        self.sending = threading.Event()
        self.release = threading.Event()
        if not hold:
            self.release.set()

    def send(self, message: SmsMessage) -> SmsReceipt:
        self.sending.set()
        self.release.wait(timeout=20)
        return self._outbox.send(message).model_copy(update={"delivery_pending": True})


def booking(harness_start: datetime, patient_id: str = fx.PNR_ADULT_1177) -> VisitBooking:
    return VisitBooking(
        booking_id="d1",
        patient_id=patient_id,
        clinic_id=fx.CLINIC_CONNECTED,
        reception_id=fx.RECEPTION_GENERAL,
        start=harness_start,
    )


D1 = booking_reminder_id(fx.CLINIC_CONNECTED, "d1")


def report(status: Delivery, role: str = "patient", version: int = 1, at: datetime = AT) -> DeliveryReport:
    return DeliveryReport(key=f"{D1}/v{version}/{role}", status=status, at=at)


async def sent_reminder(harness: Harness, patient_id: str = fx.PNR_ADULT_1177) -> WorkflowHandle[Any, Any]:
    handle = await harness.book(booking(await harness.local(days=2, hour=10), patient_id))
    await harness.sleep_until(await harness.local(days=1, hour=9, minute=1))
    await harness.settled(handle, lambda s: s.state is not ReminderState.SCHEDULED)
    return handle


async def signalled(
    harness: Harness, handle: WorkflowHandle[Any, Any], *reports: DeliveryReport
) -> ReminderStatus:
    before = await harness.status(handle)
    for r in reports:
        await handle.signal(SmsReminderWorkflow.delivery_report, r)
    await asyncio.sleep(0.3)  # signals are handled in order; give the last one its workflow task
    after = await harness.status(handle)
    assert after.state == before.state
    return after


async def details(handle: WorkflowHandle[Any, Any]) -> str:
    metadata = await handle.query("__temporal_workflow_metadata", result_type=WorkflowMetadata)
    return metadata.current_details


async def test_a_sent_sms_starts_pending_and_a_report_makes_it_delivered(harness: Harness) -> None:
    async with harness.worker(sms=ReportingOutbox(harness.outbox)):
        handle = await sent_reminder(harness)
        [message] = (await harness.status(handle)).messages
        assert message.outcome is Outcome.SENT and message.delivery is Delivery.PENDING
        assert message.delivery_at is None
        assert "SMS patient pending" in await details(handle)
        status = await signalled(harness, handle, report(Delivery.DELIVERED))
        [message] = status.messages
        assert message.delivery is Delivery.DELIVERED and message.delivery_at == AT
        assert "SMS patient delivered" in await details(handle)


async def test_the_embedded_outbox_reports_nothing_so_delivery_stays_none(harness: Harness) -> None:
    async with harness.worker():
        handle = await sent_reminder(harness)
        [message] = (await harness.status(handle)).messages
    assert message.outcome is Outcome.SENT and message.delivery is None


async def test_reports_move_forward_only_a_late_sent_keeps_delivered(harness: Harness) -> None:
    later = AT + timedelta(minutes=2)
    async with harness.worker(sms=ReportingOutbox(harness.outbox)):
        handle = await sent_reminder(harness)
        status = await signalled(
            harness,
            handle,
            report(Delivery.DELIVERED),
            report(Delivery.PENDING, at=later),  # a late `sent`
            report(Delivery.FAILED, at=later),
            report(Delivery.DELIVERED, at=later),  # a repeat keeps the first time
        )
    [message] = status.messages
    assert message.delivery is Delivery.DELIVERED and message.delivery_at == AT


async def test_failed_then_delivered_ends_delivered(harness: Harness) -> None:
    async with harness.worker(sms=ReportingOutbox(harness.outbox)):
        handle = await sent_reminder(harness)
        failed = await signalled(harness, handle, report(Delivery.FAILED), report(Delivery.PENDING))
        assert failed.messages[0].delivery is Delivery.FAILED
        delivered = await signalled(harness, handle, report(Delivery.DELIVERED))
    assert delivered.messages[0].delivery is Delivery.DELIVERED


async def test_a_report_for_an_unknown_version_role_or_workflow_changes_nothing(harness: Harness) -> None:
    async with harness.worker(sms=ReportingOutbox(harness.outbox)):
        handle = await sent_reminder(harness)
        before = await harness.status(handle)
        after = await signalled(
            harness,
            handle,
            report(Delivery.DELIVERED, version=2),
            report(Delivery.DELIVERED, role=RecipientRole.GUARDIAN_1.value),
            report(Delivery.DELIVERED, role="nobody"),
            DeliveryReport(key="sms-reminder-other/v1/patient", status=Delivery.DELIVERED, at=AT),
            DeliveryReport(key="garbage", status=Delivery.DELIVERED, at=AT),
        )
    assert after == before
    assert after.messages[0].delivery is Delivery.PENDING


async def test_each_guardians_sms_has_its_own_delivery(harness: Harness) -> None:
    async with harness.worker(sms=ReportingOutbox(harness.outbox)):
        handle = await sent_reminder(harness, fx.PNR_CHILD)
        status = await signalled(
            harness,
            handle,
            report(Delivery.DELIVERED, role="guardian_1"),
            report(Delivery.FAILED, role="guardian_2"),
        )
    deliveries = {m.recipient: m.delivery for m in status.messages}
    assert deliveries == {
        RecipientRole.GUARDIAN_1: Delivery.DELIVERED,
        RecipientRole.GUARDIAN_2: Delivery.FAILED,
    }


async def test_a_report_that_overtakes_its_sends_result_is_kept(harness: Harness) -> None:
    """46elks may call back before the send activity's result reaches the workflow."""
    gateway = ReportingOutbox(harness.outbox, hold=True)
    async with harness.worker(sms=gateway):
        handle = await harness.book(booking(await harness.local(days=2, hour=10)))
        moment = await harness.local(days=1, hour=9, minute=1)
        sleeping = asyncio.create_task(harness.sleep_until(moment))
        assert await asyncio.to_thread(gateway.sending.wait, 20)
        await handle.signal(SmsReminderWorkflow.delivery_report, report(Delivery.DELIVERED))
        await asyncio.sleep(0.5)  # the signal's workflow task runs while the send is still out
        gateway.release.set()
        await sleeping
        status = await harness.settled(
            handle, lambda s: bool(s.messages) and s.messages[0].delivery is Delivery.DELIVERED
        )
    [message] = status.messages
    assert status.state is ReminderState.SENT and message.delivery is Delivery.DELIVERED


def test_the_sms_key_names_its_reminder_version_and_role_and_parses_back() -> None:
    """One codec builds the key the workflow sends under and splits it where a report comes back."""
    key = sms_key("sms-reminder-team-t1", 3, RecipientRole.GUARDIAN_1)
    assert key == "sms-reminder-team-t1/v3/guardian_1"
    assert parse_sms_key(key) == SmsKey("sms-reminder-team-t1", 3, RecipientRole.GUARDIAN_1)
    for other in ("", "sms-reminder-d1", "sms-reminder-d1/3/patient", "d1/v/patient", "d1/v1/nurse"):
        assert parse_sms_key(other) is None
