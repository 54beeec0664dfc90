"""How a request type sends an invitation message (V5, V6): the strategies its generations declare
(`generations.py`). Each issues the commands its types' saved histories hold."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from typing import Protocol

from temporalio import workflow
from temporalio.common import RetryPolicy
from temporalio.exceptions import ActivityError

with workflow.unsafe.imports_passed_through():
    from contracts.activities import (
        InvitationMessageRequest,
        InvitationSendResult,
        InvitationSends,
        InvitationStateChange,
    )
    from domain.invitation import InvitationState
    from workflows.mechanics import LOCAL_RETRY_THRESHOLD

CHANNEL_RETRY = RetryPolicy(
    initial_interval=timedelta(seconds=5), backoff_coefficient=2.0, maximum_interval=timedelta(minutes=10)
)
MESSAGE_TIMEOUT = timedelta(seconds=60)  # one attempt: the directory reads and the inbox call or letter
MESSAGE_DEADLINE = timedelta(days=1)  # then the message is recorded as failed; the next one still follows


class MessageSender(Protocol):
    publishes_later: bool
    """The state a message sent at a moment it slept until led to is upserted `PUBLISH_DELAY` after
    it (`process.Request._publish_after_the_wave`)."""
    planned_at_start: bool
    """The start's search attributes carry the first message's plan (`application.create_request`),
    so its first task upserts nothing."""

    async def send(self, message: InvitationMessageRequest) -> InvitationSendResult: ...


@dataclass(frozen=True)
class MessageAsActivity:
    """The message as an activity: the task that wakes the request schedules it, the next records it."""

    publishes_later: bool = False
    planned_at_start = False

    async def send(self, message: InvitationMessageRequest) -> InvitationSendResult:
        result: InvitationSendResult = await workflow.execute_activity_method(
            InvitationSends.send_invitation_message,
            message,
            start_to_close_timeout=MESSAGE_TIMEOUT,
            schedule_to_close_timeout=MESSAGE_DEADLINE,
            retry_policy=CHANNEL_RETRY,
        )
        return result


@dataclass(frozen=True)
class MessageInWokenTask:
    """The message as a local activity of the task that wakes the request (no activity task, no second
    workflow task), its state upserted a while after, its first plan carried by its start (issue 13)."""

    publishes_later = True
    planned_at_start = True

    async def send(self, message: InvitationMessageRequest) -> InvitationSendResult:
        return await workflow.execute_local_activity_method(
            InvitationSends.send_invitation_message,
            message,
            start_to_close_timeout=MESSAGE_TIMEOUT,
            schedule_to_close_timeout=MESSAGE_DEADLINE,
            retry_policy=CHANNEL_RETRY,
            local_retry_threshold=LOCAL_RETRY_THRESHOLD,
        )


EVENTS = "invitation-events"
"""Patch id of every request type: the states it reaches that no caller's request makes on its own
(follow-up, V13) and those that end it (booked, contacted, cancelled) are told to the clinic's
webhooks by a local activity (`tell_state`). Requests past those points before it tell none."""
TOLD = (
    InvitationState.BOOKED,
    InvitationState.CONTACTED,
    InvitationState.CANCELLED,
    InvitationState.FOLLOW_UP,
)
TELL_RETRY = RetryPolicy(initial_interval=timedelta(seconds=5), maximum_interval=timedelta(minutes=10))
TELL_TIMEOUT = timedelta(seconds=30)
TELL_DEADLINE = timedelta(days=1)
"""Then the event is given up (logged) and the request goes on."""


async def tell_state(change: InvitationStateChange) -> None:
    """Publish the event of the state reached (`tell_invitation_state`, a local activity of the task
    that reached it): once per state, as its event id is a hash of the request and the state."""
    try:
        await workflow.execute_local_activity_method(
            InvitationSends.tell_invitation_state,
            change,
            start_to_close_timeout=TELL_TIMEOUT,
            schedule_to_close_timeout=TELL_DEADLINE,
            retry_policy=TELL_RETRY,
            local_retry_threshold=LOCAL_RETRY_THRESHOLD,
        )
    except ActivityError:
        workflow.logger.warning("invitation event not published", extra={"state": change.state.value})
