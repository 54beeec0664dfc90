"""How a reminder type sends its SMS at the send moment (S3, S4, S9, S15): the strategies its
generations declare (`generations.py`). Each issues the commands its types' saved histories hold."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import timedelta
from typing import Protocol

from temporalio import workflow
from temporalio.common import RetryPolicy
from temporalio.exceptions import ActivityError

with workflow.unsafe.imports_passed_through():
    from contracts.activities import (
        DirectoryReads,
        PlannedSkip,
        ReminderDecision,
        ReminderSends,
        SendReminder,
        SendReminders,
        SendResult,
        VisitRef,
        last_sendout,
    )
    from contracts.workflow_ids import sms_key
    from domain.status import Outcome, Reason, RecipientRole
    from workflows.mechanics import LOCAL_RETRY_THRESHOLD, activity_method, read_directory

SENDOUT_TIMEOUT = timedelta(seconds=60)
"""One attempt of `send_reminders`: the directory reads and up to three SMS."""
SMS_TIMEOUT = timedelta(seconds=30)
"""One attempt of `send_reminder_sms`."""
SEND_RETRY = RetryPolicy(
    initial_interval=timedelta(seconds=2), backoff_coefficient=2.0, maximum_interval=timedelta(minutes=5)
)


class Sending(Protocol):
    """What a sending strategy reads and records on its reminder (`process.Reminder`)."""

    lean: bool

    def changed(self, version: int) -> bool: ...
    def until_visit(self) -> timedelta: ...
    def begin_sending(self, version: int) -> None: ...
    def skip(self, reason: Reason, version: int) -> None: ...
    def record_skips(self, skipped: Sequence[PlannedSkip], version: int) -> None: ...
    def record_result(self, role: RecipientRole, version: int, result: SendResult) -> None: ...
    def sent(self, version: int, results: Sequence[SendResult], *, publish_later: bool) -> None: ...
    async def tell(self, version: int, reason: Reason, roles: Sequence[RecipientRole] = ()) -> None: ...


class Sender(Protocol):
    async def send(self, reminder: Sending, visit: VisitRef, version: int, *, woke: bool) -> bool:
        """Send the visit's SMS; True if the visit changed before anything was sent."""
        ...


@dataclass(frozen=True)
class SendOut:
    """One local activity reads who gets the reminder now and sends each SMS (`send_reminders`), so
    the task that wakes the reminder sends them all; a reminder that woke to send shows as sent in the
    lists a while after (`process.Reminder._publish_after_the_wave`). A visit changed meanwhile is
    planned anew after."""

    async def send(self, reminder: Sending, visit: VisitRef, version: int, *, woke: bool) -> bool:
        reminder.begin_sending(version)
        request = SendReminders(workflow_id=workflow.info().workflow_id, version=version, visit=visit)
        try:
            sendout = await workflow.execute_local_activity_method(
                ReminderSends.send_reminders,
                request,
                start_to_close_timeout=SENDOUT_TIMEOUT,
                schedule_to_close_timeout=reminder.until_visit(),
                retry_policy=SEND_RETRY,
                local_retry_threshold=LOCAL_RETRY_THRESHOLD,
            )
        except ActivityError as err:
            workflow.logger.warning("SMS provider unavailable until the visit", extra={"version": version})
            sendout = last_sendout(err)
            given_up = [r.role for r in sendout.results if r.reason is Reason.PROVIDER_UNAVAILABLE]
        else:
            given_up = []
        if sendout.blocker is not None:
            reminder.skip(sendout.blocker, version)
            return False
        reminder.record_skips(sendout.skipped, version)
        for result in sendout.results:
            reminder.record_result(result.role, version, result)
        reminder.sent(version, sendout.results, publish_later=woke)
        if given_up:
            await reminder.tell(version, Reason.PROVIDER_UNAVAILABLE, given_up)
        return False


@dataclass(frozen=True)
class PlanThenSend:
    """The recipients' plan (a directory read), then one activity per SMS: a local activity
    (`local`), or a regular one whose result a later task records. Never sent for a visit changed
    while the plan was read (S15)."""

    local: bool

    async def send(self, reminder: Sending, visit: VisitRef, version: int, *, woke: bool) -> bool:
        plan = await read_directory(DirectoryReads.plan_recipients, visit, local=reminder.lean)
        if reminder.changed(version):
            return True
        if plan.blocker is not None:
            reminder.skip(plan.blocker, version)
            return False
        reminder.record_skips(plan.skipped, version)
        reminder.begin_sending(version)
        sends = (self._send_one(reminder, visit, r.role, version) for r in plan.recipients)
        results = await asyncio.gather(*sends)
        reminder.sent(version, results, publish_later=False)
        return False

    async def _send_one(
        self, reminder: Sending, visit: VisitRef, role: RecipientRole, version: int
    ) -> SendResult:
        key = sms_key(workflow.info().workflow_id, version, role)
        try:
            result = await activity_method(local=self.local)(
                ReminderSends.send_reminder_sms,
                SendReminder(key=key, role=role, visit=visit),
                start_to_close_timeout=SMS_TIMEOUT,
                schedule_to_close_timeout=reminder.until_visit(),
                retry_policy=SEND_RETRY,
            )
        except ActivityError:
            workflow.logger.warning("SMS provider unavailable until the visit", extra={"key": key})
            result = SendResult(outcome=Outcome.FAILED, reason=Reason.PROVIDER_UNAVAILABLE)
            reminder.record_result(role, version, result)
            await reminder.tell(version, Reason.PROVIDER_UNAVAILABLE, [role])
            return result
        reminder.record_result(role, version, result)
        return result


DECISIONS_TOLD = "reminder-decisions-told"
"""Patch id of every reminder type: what the reminder decides without an activity (a version skipped
as `too_late` or `unknown_clinic`, an SMS given up at the visit as `provider_unavailable`) is told to
the clinic's webhooks by the local activity `tell_reminder_decision`. Read only on those paths, so a
reminder that sends takes no marker and pays nothing (docs/changing-workflows.md)."""
TELL_RETRY = RetryPolicy(initial_interval=timedelta(seconds=5), maximum_interval=timedelta(minutes=10))
TELL_TIMEOUT = timedelta(seconds=30)
TELL_DEADLINE = timedelta(days=1)


async def tell_decision(decision: ReminderDecision) -> None:
    """Publish the events of `decision` behind `DECISIONS_TOLD`; one given up after a day is logged."""
    if not workflow.patched(DECISIONS_TOLD):
        return
    try:
        await workflow.execute_local_activity_method(
            ReminderSends.tell_reminder_decision,
            decision,
            start_to_close_timeout=TELL_TIMEOUT,
            schedule_to_close_timeout=TELL_DEADLINE,
            retry_policy=TELL_RETRY,
            local_retry_threshold=LOCAL_RETRY_THRESHOLD,
        )
    except ActivityError:
        workflow.logger.warning("reminder event not published", extra={"version": decision.version})
