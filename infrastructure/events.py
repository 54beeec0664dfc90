"""The event publisher on Temporal (`contracts.events.EventPublisher`): each event of a clinic with a
webhook starts its `EventDelivery` workflow, `webhook-event:<event id>`, once.

The start rejects a second workflow of the same id, running (`USE_EXISTING`: the running one is
answered) or closed (`REJECT_DUPLICATE`: `WorkflowAlreadyStartedError`, taken as published): one event
id is delivered once however often the same change is reported (an activity retried, a delivery
report repeated). A clinic without a webhook costs one read of the webhooks store per publication and
starts nothing.

The activities are sync and run in the worker's thread pool, so the publisher hands the start to the
event loop of the process's Temporal client (`asyncio.run_coroutine_threadsafe`) and waits for it. An
event whose start fails (Temporal or the webhooks store unreachable) is logged (`event_not_published`,
ids only) and raised as `EventsNotPublished`: the activity fails and its retry publishes it again, under
the same id; the delivery-report door answers 503, and 46elks tries again (docs/webhooks.md).
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence

import structlog
from temporalio.client import Client
from temporalio.common import WorkflowIDConflictPolicy, WorkflowIDReusePolicy
from temporalio.exceptions import WorkflowAlreadyStartedError

from adapters.webhooks import Webhooks
from contracts.events import Event, EventsNotPublished, event_workflow_id
from workflows.events import EventDelivery

log = structlog.get_logger(__name__)

START_TIMEOUT_S = 30.0


async def start_delivery(client: Client, task_queue: str, event: Event) -> bool:
    """Start the delivery of `event`; False when a delivery of it has closed already (a running one is
    left as it is)."""
    try:
        await client.start_workflow(
            EventDelivery.run,
            event,
            id=event_workflow_id(event),
            task_queue=task_queue,
            id_reuse_policy=WorkflowIDReusePolicy.REJECT_DUPLICATE,
            id_conflict_policy=WorkflowIDConflictPolicy.USE_EXISTING,
        )
    except WorkflowAlreadyStartedError:
        return False
    return True


class TemporalEventPublisher:
    """Publishes through the Temporal client given to `bind` (the worker connects after it assembled
    its activities); before that, or without a webhook at the event's clinic, nothing is started."""

    def __init__(self, webhooks: Webhooks, task_queue: str, *, timeout: float = START_TIMEOUT_S) -> None:
        self._webhooks = webhooks
        self._task_queue = task_queue
        self._timeout = timeout
        self._client: Client | None = None
        self._loop: asyncio.AbstractEventLoop | None = None

    def bind(self, client: Client) -> None:
        """Publish through `client`, on the running event loop (call it from that loop)."""
        self._client, self._loop = client, asyncio.get_running_loop()

    def publish(self, events: Sequence[Event]) -> None:
        if not events:
            return
        try:
            with_webhook = self._webhooks.clinics()
        except Exception as err:
            log.warning("events_not_published", events=len(events), error=type(err).__name__)
            raise EventsNotPublished("the webhooks store could not be read") from None
        for event in events:
            if event.clinic_id in with_webhook:
                self._start(event)

    def _start(self, event: Event) -> None:
        client, loop = self._client, self._loop
        if client is None or loop is None or running_on(loop):  # waiting on its own loop would hang it
            log.warning("event_not_published", event_id=event.id, type=event.type.value, error="no loop")
            raise EventsNotPublished("no Temporal client to publish through")
        started = asyncio.run_coroutine_threadsafe(start_delivery(client, self._task_queue, event), loop)
        try:
            new = started.result(timeout=self._timeout)
        except Exception as err:
            started.cancel()
            log.warning(
                "event_not_published", event_id=event.id, type=event.type.value, error=type(err).__name__
            )
            raise EventsNotPublished(f"event {event.id} not published ({type(err).__name__})") from None
        log.info(
            "event_published", event_id=event.id, type=event.type.value, clinic_id=event.clinic_id, new=new
        )


def running_on(loop: asyncio.AbstractEventLoop) -> bool:
    try:
        return asyncio.get_running_loop() is loop
    except RuntimeError:
        return False
