"""GroupBookingWorkflow: one group booking (form OW11), one child reminder per participant (S13).

The group has one SMS flag: turned off, nobody in the group gets a reminder. Each participant still
needs their own number and consent, which each child reminder checks at send time (S3, S4, S9).
"""

from __future__ import annotations

import asyncio

from temporalio import workflow
from temporalio.exceptions import WorkflowAlreadyStartedError

with workflow.unsafe.imports_passed_through():
    from domain.booking import (
        Cancellation,
        GroupBooking,
        GroupChange,
        Reschedule,
        SmsFlagChange,
        check_new_start,
    )
    from domain.status import GroupState, GroupStatus

from workflows.reminder.children import child_reminder_id, child_reminder_type
from workflows.reminder.process import Reminder


@workflow.defn
class GroupBookingWorkflow:
    @workflow.init
    def __init__(self, group: GroupBooking) -> None:
        self._group = group
        self._children: dict[str, workflow.ChildWorkflowHandle] = {}
        self._cancelled: set[str] = set()
        self._state = GroupState.SCHEDULED
        self._children_started = False

    @workflow.run
    async def run(self, group: GroupBooking) -> GroupStatus:
        for participant in group.participants:
            child_id = child_reminder_id(group.clinic_id, participant.booking_id)
            try:
                self._children[participant.booking_id] = await workflow.start_child_workflow(
                    child_reminder_type().run,
                    self._group.participant_booking(participant),
                    id=child_id,
                )
            except WorkflowAlreadyStartedError:
                workflow.logger.warning(
                    "participant already has a reminder", extra={"booking_id": participant.booking_id}
                )
        self._children_started = True
        await asyncio.gather(*self._children.values(), return_exceptions=True)
        await workflow.wait_condition(workflow.all_handlers_finished)
        everyone = {p.booking_id for p in group.participants}
        self._state = GroupState.CANCELLED if self._cancelled >= everyone else GroupState.DONE
        return self.status()

    @workflow.update
    async def reschedule(self, change: Reschedule) -> GroupStatus:
        """S15 for the whole group: every participant's reminder moves."""
        self._group.start = change.start
        await self._tell_children(GroupChange(start=change.start))
        return self.status()

    @reschedule.validator
    def _validate_reschedule(self, change: Reschedule) -> None:
        self._require_open()
        check_new_start(change.start, workflow.now())

    @workflow.update
    async def set_sms_flag(self, change: SmsFlagChange) -> GroupStatus:
        """S13: one SMS flag for the whole group."""
        self._group.sms_flag = change.sms_flag
        await self._tell_children(GroupChange(sms_flag=change.sms_flag))
        return self.status()

    @set_sms_flag.validator
    def _validate_sms_flag(self, change: SmsFlagChange) -> None:
        self._require_open()
        if change.booking_id is not None:
            raise ValueError("a group booking has one SMS flag for the whole group (S13): omit booking_id")

    @workflow.signal
    async def cancel(self, cancellation: Cancellation) -> None:
        """Cancel the whole group, or one participant when `booking_id` is given."""
        await workflow.wait_condition(lambda: self._children_started)
        ids = [cancellation.booking_id] if cancellation.booking_id else list(self._children)
        for booking_id in ids:
            if child := self._children.get(booking_id):
                self._cancelled.add(booking_id)
                await self._signal(child, Reminder.cancel, Cancellation(reason=cancellation.reason))

    @workflow.query
    def status(self) -> GroupStatus:
        return GroupStatus(
            state=self._state,
            start=self._group.start,
            sms_flag=self._group.sms_flag,
            clinic_id=self._group.clinic_id,
            participants=[p.booking_id for p in self._group.participants],
            cancelled=sorted(self._cancelled),
            reminder_workflow_ids=[child.id for child in self._children.values()],
        )

    async def _tell_children(self, change: GroupChange) -> None:
        await workflow.wait_condition(lambda: self._children_started)
        await asyncio.gather(
            *(self._signal(c, Reminder.apply_group_change, change) for c in self._children.values())
        )

    @staticmethod
    async def _signal(child: workflow.ChildWorkflowHandle, signal: object, arg: object) -> None:
        if child.done():
            return
        try:
            await child.signal(signal, arg)  # type: ignore[arg-type]
        except Exception:  # the child finished meanwhile (its visit has started)
            workflow.logger.info("participant reminder already closed", extra={"child": child.id})

    def _require_open(self) -> None:
        if self._state is not GroupState.SCHEDULED or len(self._cancelled) == len(self._group.participants):
            raise ValueError("the group booking is cancelled or over")
