"""The types the reminder runs as, newest first: each a declaration of how it starts and how it sends.

A type is registered under its name for as long as reminders of it may run (a reminder lives until its
visit, months ahead) and its saved histories replay (tests/histories/<type>-*.json). A new behaviour
is a new type here, the old ones unchanged (docs/changing-workflows.md).
"""

from __future__ import annotations

from temporalio import workflow

with workflow.unsafe.imports_passed_through():
    from domain.booking import ReminderStart
    from domain.status import ReminderStatus
    from workflows.mechanics import LeanBehindPatch, StartsLean

from workflows.reminder.process import Reminder
from workflows.reminder.sending import PlanThenSend, SendOut

LEAN_HISTORY = "reminder-lean-history"
"""Patch id of `SmsReminderWorkflow`: directory reads as local activities, search attributes upserted
only when they change. Reminders started before it replay the old path."""


@workflow.defn
class VisitReminderV2(Reminder):
    """The type a booking starts, and since patch `children-newest-reminder` (`children.py`) the
    reminders a group booking or an invitation starts: the task that wakes it reads the recipients
    and sends their SMS in one local activity (issue 13: a quarter less worker CPU per reminder)."""

    @workflow.run
    async def run(self, booking: ReminderStart) -> ReminderStatus:
        return await self._run(booking, StartsLean(), SendOut())


@workflow.defn
class VisitReminder(Reminder):
    """Booked before `VisitReminderV2`: the recipients' plan, then each SMS, as local activities."""

    @workflow.run
    async def run(self, booking: ReminderStart) -> ReminderStatus:
        return await self._run(booking, StartsLean(), PlanThenSend(local=True))


@workflow.defn
class SmsReminder(Reminder):
    """Booked before `VisitReminder`: each SMS as an activity (the next task records it)."""

    @workflow.run
    async def run(self, booking: ReminderStart) -> ReminderStatus:
        return await self._run(booking, StartsLean(), PlanThenSend(local=False))


@workflow.defn
class SmsReminderWorkflow(Reminder):
    """Booked before `SmsReminder`, and started by a group booking or an invitation before patch
    `children-newest-reminder`: reads the clinic in its first task, lean only behind its patch."""

    @workflow.run
    async def run(self, booking: ReminderStart) -> ReminderStatus:
        return await self._run(booking, LeanBehindPatch(LEAN_HISTORY), PlanThenSend(local=False))


REMINDER_TYPES = (VisitReminderV2, VisitReminder, SmsReminder, SmsReminderWorkflow)
"""Every type a reminder runs as, the newest first: the worker registers them."""
