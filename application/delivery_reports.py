"""Recording a delivery report of the SMS provider (46elks, docs/delivery-reports.md): taken only for
the message its token was made for, kept in the SMS ledger (whose status only moves forward), told to
the clinic's webhooks as an event (docs/webhooks.md), then signalled to the reminder that sent the
message (`Reminder.delivery_report`).

The door (`POST /callbacks/sms/46elks`) reads the credentials and the form; this decides whether the
report is the message's and what became of it (`Recorded`)."""

from __future__ import annotations

import asyncio
import hmac
from dataclasses import dataclass
from datetime import UTC, datetime
from enum import Enum

import structlog
from temporalio.client import Client
from temporalio.service import RPCError

from adapters.sms_elks import DELIVERY_USER, KEY_PARAMETER, delivery_token
from adapters.sms_ledger import ELKS_DELIVERY, SentLedger
from application import workflow_calls
from application.errors import EndedError, NotFoundError
from contracts.events import EventPublisher, EventsNotPublished, NoEvents, delivery_event
from contracts.workflow_ids import parse_sms_key
from domain.status import DeliveryReport
from workflows.reminder.process import Reminder

__all__ = [
    "DELIVERY_USER",
    "KEY_PARAMETER",
    "STATES",
    "ElksReport",
    "Recorded",
    "record_report",
    "token_fits",
]

log = structlog.get_logger(__name__)

MAX_KEY = 400
"""The longest message key a report may name (the ledger's keys are far shorter)."""
STATES = frozenset(ELKS_DELIVERY)
"""The provider's delivery states: `sent`, `delivered`, `failed`."""


class Recorded(Enum):
    """What became of a report."""

    SIGNALLED = "signalled"  # kept, and the reminder told
    CLOSED = "closed"  # kept; the reminder has ended (or never was): nothing to tell
    NOT_YET = "not_yet"  # the message's send is not recorded yet: the provider should try again
    OTHER_MESSAGE = "other_message"  # the report's id is not the id of the message its token is for
    UNREACHABLE = "unreachable"  # kept, but Temporal (the reminder, or the event) cannot be reached: the
    # provider should try again


@dataclass(frozen=True)
class ElksReport:
    key: str  # the message's idempotency key, from the callback URL
    provider_id: str  # 46elks' `id`
    state: str  # one of STATES
    delivered_at: datetime | None  # 46elks' `delivered` (UTC), when readable


def token_fits(secret: str | None, key: str, token: str) -> bool:
    """Whether `token` is the delivery token of the message `key` (constant-time). Never without a
    configured secret (`PM_DELIVERY_SECRET`), nor for the secret itself (the static form before
    per-message tokens)."""
    if not secret or not key or len(key) > MAX_KEY:
        return False
    return hmac.compare_digest(token.encode(), delivery_token(secret, key).encode())


async def record_report(
    client: Client, ledger: SentLedger, report: ElksReport, events: EventPublisher | None = None
) -> Recorded:
    """Keep the report of a message whose token fitted (`token_fits`) — the first report of a key
    whose send is unanswered records its provider id —, tell the clinic's webhooks
    (`message.delivered`, `message.undelivered`; a repeat is the same event), then signal it to its
    reminder."""
    key, provider_id, state = report.key, report.provider_id, report.state
    receipt = await asyncio.to_thread(ledger.get, key)
    if receipt is None and await asyncio.to_thread(
        ledger.claim_reported, key, provider_id, datetime.now(UTC)
    ):
        # The key's answer was lost (or is on its way): the report shows its attempt reached 46elks,
        # so the retry, waiting for the provider's history, finds the key sent (issue 29).
        log.info("delivery_report_settled_an_unanswered_attempt", key=key, status=state)
        receipt = await asyncio.to_thread(ledger.get, key)
    if receipt is None:  # 46elks answered the send, but the gateway has not recorded its id yet
        log.info("delivery_report_before_its_receipt", key=key, status=state)
        return Recorded.NOT_YET
    if not hmac.compare_digest(receipt.provider_id.encode(), provider_id.encode()):
        log.warning("delivery_report_for_another_message", key=key)
        return Recorded.OTHER_MESSAGE
    received = datetime.now(UTC)
    update = await asyncio.to_thread(
        ledger.record_delivery, provider_id, state, report.delivered_at, received
    )
    if update is None:  # the receipt was there a moment ago; a ledger never forgets one
        return Recorded.NOT_YET
    delivery = DeliveryReport(key=key, status=update.status, at=update.delivered_at or received)
    event = delivery_event(key, update.status, delivery.at)
    if event is not None:
        try:
            await asyncio.to_thread((events or NoEvents()).publish, [event])
        except EventsNotPublished:  # kept; the provider's retry repeats the event, under its id
            return Recorded.UNREACHABLE
    try:
        await _signal(client, delivery)
    except (EndedError, NotFoundError):
        log.info("delivery_report_for_closed_workflow", key=key, status=update.status.value)
        return Recorded.CLOSED
    except RPCError as err:
        log.warning("delivery_report_not_signalled", key=key, error=type(err).__name__)
        return Recorded.UNREACHABLE
    log.info("delivery_report", key=key, reported=state, status=update.status.value)
    return Recorded.SIGNALLED


async def _signal(client: Client, report: DeliveryReport) -> None:
    """Signal the report to the reminder its key names (`parse_sms_key`); EndedError/NotFoundError when
    it has ended or never was (NotFoundError also for a key of no reminder's SMS)."""
    key = parse_sms_key(report.key)
    if key is None:
        raise NotFoundError("the SMS key names no reminder")
    await workflow_calls.signal(client, key.workflow_id, Reminder.delivery_report, report)
