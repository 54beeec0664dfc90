"""The activities of `EventDelivery` (workflows/events.py): which clients have a webhook at a clinic,
one attempt to deliver an event to one of them, and giving up (docs/webhooks.md).

Each attempt is recorded in the deliveries store (pending with the last answer, or delivered); the
URL and the secret are read here, so the workflow's history holds neither. Logs and errors name the
event id, type, client and clinic and the status or kind of error: never the URL or the answer.
"""

from __future__ import annotations

from collections.abc import Callable

import structlog
from temporalio import activity
from temporalio.exceptions import ApplicationError, ApplicationErrorCategory

from adapters.webhooks import DeliveryFailed, DeliveryStatus, Webhooks, WebhookSender
from contracts.activities import EventDeliveries, EventToWebhook

log = structlog.get_logger(__name__)

WEBHOOK_REFUSED = "WebhookRefused"
"""The type of `deliver_event`'s error when the receiver did not take the event (retried)."""
REMOVED = "the webhook was removed"


class EventActivities(EventDeliveries):
    """Bound to the webhooks store and the sender (tests swap them); without a store (a worker of the
    benchmarks) no clinic has a webhook."""

    def __init__(
        self, webhooks: Webhooks | None, sender: WebhookSender, admits: Callable[[str], bool] | None = None
    ) -> None:
        self._webhooks = webhooks
        self._sender = sender
        self._admits = admits or (lambda client_id: True)

    @activity.defn
    def webhooks_at_clinic(self, clinic_id: str) -> list[str]:
        """The API clients with a webhook at the clinic that this worker's traffic is for (`admits`:
        live events to live clients, test events to test clients, docs/test-mode.md)."""
        found = self._webhooks.at_clinic(clinic_id) if self._webhooks else []
        return [client_id for client_id in found if self._admits(client_id)]

    @activity.defn
    def deliver_event(self, request: EventToWebhook) -> bool:
        """Post the signed event and record the attempt: True when taken, False when the webhook is gone
        (recorded as failed); raises `WEBHOOK_REFUSED` unless the receiver answered 2xx (retried)."""
        event, client_id = request.event, request.client_id
        if self._webhooks is None:
            return False
        webhook = self._webhooks.signing(client_id, event.clinic_id)
        if webhook is None:
            self._webhooks.record_attempt(event, client_id, status=DeliveryStatus.FAILED, error=REMOVED)
            log.info("webhook_removed", event_id=event.id, client_id=client_id, clinic_id=event.clinic_id)
            return False
        try:
            code = self._sender.send(webhook.url, webhook.secret, event)
        except DeliveryFailed as failed:
            self._webhooks.record_attempt(
                event, client_id, status=DeliveryStatus.PENDING, status_code=failed.status, error=str(failed)
            )
            log.info(
                "webhook_attempt_failed",
                event_id=event.id,
                type=event.type.value,
                client_id=client_id,
                clinic_id=event.clinic_id,
                attempt=activity.info().attempt,
                error=str(failed),
            )
            raise ApplicationError(
                f"webhook {failed}", type=WEBHOOK_REFUSED, category=ApplicationErrorCategory.BENIGN
            ) from None
        self._webhooks.record_attempt(event, client_id, status=DeliveryStatus.DELIVERED, status_code=code)
        log.info(
            "webhook_delivered",
            event_id=event.id,
            type=event.type.value,
            client_id=client_id,
            clinic_id=event.clinic_id,
            attempt=activity.info().attempt,
        )
        return True

    @activity.defn
    def give_up_delivery(self, request: EventToWebhook) -> None:
        """Record that the event was not delivered before the deadline (`failed`)."""
        event, client_id = request.event, request.client_id
        if self._webhooks is not None:
            self._webhooks.record_attempt(
                event, client_id, status=DeliveryStatus.FAILED
            )  # the last answer kept
        log.warning("webhook_given_up", event_id=event.id, client_id=client_id, clinic_id=event.clinic_id)
