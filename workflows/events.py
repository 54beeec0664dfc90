"""EventDelivery: one event to the webhooks of its clinic, durably (docs/webhooks.md).

One workflow per event, `webhook-event:<event id>`, started once (`infrastructure.events`): the same
change reported again finds it (or its closed run) and delivers nothing more. It reads which API
clients have a webhook at the event's clinic, then delivers to each until the receiver answers 2xx,
retrying with back-off (10 s doubling to 1 h) for up to `DELIVERY_DEADLINE`; an event not taken by then
is recorded as failed and shows in `GET /v1/webhooks/deliveries?status=failed`.
"""

from __future__ import annotations

import asyncio
from datetime import timedelta

from temporalio import workflow
from temporalio.common import RetryPolicy
from temporalio.exceptions import ActivityError

with workflow.unsafe.imports_passed_through():
    from contracts.activities import EventDeliveries, EventToWebhook
    from contracts.events import Event
    from domain.types import ContractModel

from workflows.mechanics import DIRECTORY_RETRY, DIRECTORY_TIMEOUT

ATTEMPT_TIMEOUT = timedelta(seconds=30)
"""One attempt: connect (5 s) and answer (10 s) of the sender, and the two store writes."""
DELIVERY_RETRY = RetryPolicy(
    initial_interval=timedelta(seconds=10), backoff_coefficient=2.0, maximum_interval=timedelta(hours=1)
)
DELIVERY_DEADLINE = timedelta(days=3)
"""How long a receiver may be down (a long weekend) before an event is given up."""
RECORD_RETRY = RetryPolicy(initial_interval=timedelta(seconds=1), maximum_interval=timedelta(minutes=1))


class WebhookOutcome(ContractModel):
    client_id: str
    delivered: bool


@workflow.defn
class EventDelivery:
    @workflow.run
    async def run(self, event: Event) -> list[WebhookOutcome]:
        clients = await workflow.execute_local_activity_method(
            EventDeliveries.webhooks_at_clinic,
            event.data.clinic_id,
            start_to_close_timeout=DIRECTORY_TIMEOUT,
            retry_policy=DIRECTORY_RETRY,
        )
        return list(await asyncio.gather(*(self._deliver(event, client) for client in clients)))

    async def _deliver(self, event: Event, client_id: str) -> WebhookOutcome:
        request = EventToWebhook(event=event, client_id=client_id)
        try:
            delivered = await workflow.execute_activity_method(
                EventDeliveries.deliver_event,
                request,
                start_to_close_timeout=ATTEMPT_TIMEOUT,
                schedule_to_close_timeout=DELIVERY_DEADLINE,
                retry_policy=DELIVERY_RETRY,
            )
        except ActivityError:
            workflow.logger.warning("webhook event given up", extra={"event_id": event.id})
            await workflow.execute_activity_method(
                EventDeliveries.give_up_delivery,
                request,
                start_to_close_timeout=DIRECTORY_TIMEOUT,
                retry_policy=RECORD_RETRY,
            )
            delivered = False
        return WebhookOutcome(client_id=client_id, delivered=delivered)
