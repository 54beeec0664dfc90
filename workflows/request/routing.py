"""The routing plan's walk of one invitation message (issue 27, `domain.invitation_routing`): the step
the request keeps after a message, and the check of its 1177 message when the next step is due."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from temporalio import workflow
from temporalio.common import RetryPolicy
from temporalio.exceptions import ActivityError

with workflow.unsafe.imports_passed_through():
    from contracts.activities import InvitationSends, MessageRead, MessageReadQuery
    from domain.invitation_schedule import Step
    from workflows.mechanics import LOCAL_RETRY_THRESHOLD

ROUTING = "invitation-routing"
"""Patch id of every request type: a message whose channel can still be followed by another of the
clinic's routing plan is followed by a durable timer, and when it fires by the check of its 1177
message and, unread, the plan's next step. Requests that sent a message before it walk no plan."""
REISSUE = "invitation-reissue"
"""Patch id of every request type: a change of the request's limits after the invitation was sent
(V10) sends it once again with the new limits, the reminders keeping their days."""

READ_RETRY = RetryPolicy(initial_interval=timedelta(seconds=5), maximum_interval=timedelta(minutes=5))
READ_TIMEOUT = timedelta(seconds=30)
READ_DEADLINE = timedelta(hours=1)
"""Then the message counts as unread: the patient is better told twice than not at all."""


@dataclass(frozen=True)
class Walk:
    """Where a message stands on its routing plan: sent under `key` (its 1177 message's key), by the
    plan's step `position`; the next step is due `at` unless the patient has read it by then."""

    step: Step
    changed: bool
    key: str
    position: int
    at: datetime

    def next_key(self) -> str:
        """The key of the message by the next step (one per step: a retry sends nothing twice)."""
        return f"{self.key}.{self.position + 1}"


async def read_at(key: str) -> datetime | None:
    """When the patient opened the 1177 message of `key` (a local activity; None: unread, or the inbox
    could not tell within `READ_DEADLINE`)."""
    try:
        read: MessageRead = await workflow.execute_local_activity_method(
            InvitationSends.invitation_message_read,
            MessageReadQuery(key=key),
            start_to_close_timeout=READ_TIMEOUT,
            schedule_to_close_timeout=READ_DEADLINE,
            retry_policy=READ_RETRY,
            local_retry_threshold=LOCAL_RETRY_THRESHOLD,
        )
    except ActivityError:
        workflow.logger.warning("1177 read status unknown", extra={"key": key})
        return None
    return read.read_at
