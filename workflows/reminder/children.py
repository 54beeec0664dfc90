"""The reminder a group booking (S13) or an invitation (V9) starts for one visit: its id and type."""

from __future__ import annotations

from temporalio import workflow

with workflow.unsafe.imports_passed_through():
    from contracts.workflow_ids import IdKind, IssuedId
    from workflows.mechanics import SCOPED_IDS

from workflows.reminder.generations import SmsReminderWorkflow, VisitReminderV2
from workflows.reminder.process import Reminder

NEWEST_FOR_CHILDREN = "children-newest-reminder"
"""Patch id: the reminders a group booking or an invitation starts run the newest type
(`VisitReminderV2`); those that started their children before it keep `SmsReminderWorkflow`."""


def child_reminder_id(clinic_id: str, booking_id: str) -> str:
    """The child's workflow id: scoped by the clinic (patch `ids-scoped-by-clinic`), or the unscoped id
    of the workflows that started children before it."""
    issued = IssuedId(IdKind.VISIT, booking_id)
    return issued.at(clinic_id) if workflow.patched(SCOPED_IDS) else issued.legacy_id


def child_reminder_type() -> type[Reminder]:
    """The type the child runs as (patch `children-newest-reminder`)."""
    return VisitReminderV2 if workflow.patched(NEWEST_FOR_CHILDREN) else SmsReminderWorkflow
