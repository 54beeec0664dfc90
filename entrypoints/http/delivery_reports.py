"""The SMS provider's delivery reports: `POST /callbacks/sms/46elks?key=<message key>`, the
`whendelivered` URL of every SMS the 46elks gateway sends (docs/delivery-reports.md).

Each message has a URL of its own: its key in the query and its token (`delivery_token`, an
HMAC-SHA256 of the key under `PM_DELIVERY_SECRET`) as the HTTP Basic password 46elks presents (user
`46elks`); the form fields are `id`, `status` (`sent`, `delivered`, `failed`) and `delivered` (UTC,
when delivered). A report is taken only for the message its token was made for: the token must be the
key's (`hmac.compare_digest`) and the ledger's provider id of that key must be the report's `id`, so a
leaked URL can move only its own message. The report is kept in the SMS ledger, which only moves the
status forward, then signalled to the reminder (`Reminder.delivery_report`). Answers: 204 when
taken (also for a reminder that has ended: 46elks then stops retrying), 401 without Basic credentials
of user `46elks`, 403 for a token that is not the message's or a report about another message, 422 for
a malformed form (nothing recorded), 503 when the message's send is not recorded yet or Temporal cannot
be reached (46elks retries).
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import hmac
import re
from datetime import UTC, datetime
from typing import Annotated

import structlog
from fastapi import APIRouter, Depends, Request, Response, status
from temporalio.service import RPCError

from adapters.sms_elks import DELIVERY_USER, KEY_PARAMETER, delivery_token
from adapters.sms_ledger import ELKS_DELIVERY
from application import workflow_calls
from application.errors import EndedError, NotFoundError
from contracts.workflow_ids import parse_sms_key
from domain.status import DeliveryReport
from domain.types import is_plausible
from entrypoints.http.problems import problem
from entrypoints.http.service import Service, service
from infrastructure.config import Settings
from workflows.reminder.process import Reminder

router = APIRouter(tags=["delivery reports"])
With = Annotated[Service, Depends(service)]
log = structlog.get_logger(__name__)

PROVIDER_ID = re.compile(r"[A-Za-z0-9_-]{1,100}")
MAX_KEY = 400
"""The longest message key the callback reads (the ledger's keys are far shorter)."""
REALM = 'Basic realm="delivery-reports"'
NOT_RECORDED = "the message's send is not recorded yet: try again"


class _Refused(Exception):
    def __init__(self, status: int, detail: str) -> None:
        super().__init__(detail)
        self.status = status


def token_of(authorization: str | None) -> str | None:
    """The password of the request's HTTP Basic credentials when its user is `46elks` (the message's
    token); None without such credentials."""
    scheme, _, encoded = (authorization or "").partition(" ")
    if scheme.lower() != "basic":
        return None
    try:
        user, colon, password = base64.b64decode(encoded.strip(), validate=True).decode().partition(":")
    except (binascii.Error, UnicodeDecodeError):
        return None
    return password if colon and hmac.compare_digest(user.encode(), DELIVERY_USER.encode()) else None


def token_fits(settings: Settings, key: str, token: str) -> bool:
    """Whether `token` is the delivery token of the message `key` (constant-time). Never without a
    configured secret, nor for the secret itself (the static form before per-message tokens)."""
    secret = settings.delivery_secret
    if not secret or not key or len(key) > MAX_KEY:
        return False
    return hmac.compare_digest(token.encode(), delivery_token(secret, key).encode())


def _parse_time(raw: str) -> datetime | None:
    """46elks' `delivered` (UTC without an offset, `YYYY-MM-DD HH:MM:SS.ffffff`); None if unreadable."""
    try:
        moment = datetime.fromisoformat(raw.strip())
    except ValueError:
        return None
    moment = moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment
    return moment if is_plausible(moment) else None


async def _read_form(request: Request) -> tuple[str, str, datetime | None]:
    form = await request.form()
    provider_id, state, delivered = (form.get(k) for k in ("id", "status", "delivered"))
    if not isinstance(provider_id, str) or not PROVIDER_ID.fullmatch(provider_id):
        raise _Refused(422, "invalid input: id: required, a 46elks message id")
    if not isinstance(state, str) or state not in ELKS_DELIVERY:
        raise _Refused(422, "invalid input: status: one of sent, delivered, failed")
    delivered_at = None
    if isinstance(delivered, str) and delivered.strip():
        delivered_at = _parse_time(delivered)
        if delivered_at is None:  # the report counts more than its time: keep it, with ours
            log.warning("delivery_report_time_unreadable", provider_id=provider_id)
    return provider_id, state, delivered_at


@router.post(
    "/callbacks/sms/46elks",
    status_code=status.HTTP_204_NO_CONTENT,
    response_class=Response,
    summary="46elks delivery report (whendelivered)",
)
async def elks_delivery_report(request: Request, svc: With) -> Response:
    """A 46elks delivery report for the message named by the URL's `key`, with that message's token as
    the Basic password: form fields `id`, `status` (`sent`|`delivered`|`failed`), `delivered`."""
    token = token_of(request.headers.get("authorization"))
    if token is None:
        return problem(
            401, "the delivery report has no credentials of user 46elks", **{"WWW-Authenticate": REALM}
        )
    keys = request.query_params.getlist(KEY_PARAMETER)
    key = keys[0] if len(keys) == 1 else None
    if key is None or not token_fits(svc.settings, key, token):
        log.warning("delivery_report_token_refused")
        return problem(403, "the delivery report's token is not the token of the message it names")
    try:
        provider_id, state, delivered_at = await _read_form(request)
    except _Refused as refused:
        return problem(refused.status, str(refused))
    ledger = svc.stores.sms_ledger
    receipt = await asyncio.to_thread(ledger.get, key)
    if receipt is None:  # 46elks answered the send, but the gateway has not recorded its id yet
        log.info("delivery_report_before_its_receipt", key=key, status=state)
        return problem(503, NOT_RECORDED, **{"Retry-After": "30"})
    if not hmac.compare_digest(receipt.provider_id.encode(), provider_id.encode()):
        log.warning("delivery_report_for_another_message", key=key)
        return problem(403, "the delivery report's id is not the id of the message its token is for")
    received = datetime.now(UTC)
    update = await asyncio.to_thread(ledger.record_delivery, provider_id, state, delivered_at, received)
    if update is None:  # the receipt was there a moment ago; a ledger never forgets one
        return problem(503, NOT_RECORDED, **{"Retry-After": "30"})
    report = DeliveryReport(key=key, status=update.status, at=update.delivered_at or received)
    try:
        await record_delivery(svc, report)
    except (EndedError, NotFoundError):
        log.info("delivery_report_for_closed_workflow", key=key, status=update.status.value)
    except RPCError as err:
        log.warning("delivery_report_not_signalled", key=key, error=type(err).__name__)
        return problem(503, "the workflow service is not reachable: try again")
    else:
        log.info("delivery_report", key=key, reported=state, status=update.status.value)
    return Response(status_code=status.HTTP_204_NO_CONTENT)


async def record_delivery(svc: Service, report: DeliveryReport) -> None:
    """Signal the report to the reminder its key names (`parse_sms_key`); EndedError/NotFoundError when
    it has ended or never was (NotFoundError also for a key of no reminder's SMS)."""
    key = parse_sms_key(report.key)
    if key is None:
        raise NotFoundError("the SMS key names no reminder")
    await workflow_calls.signal(svc.client, key.workflow_id, Reminder.delivery_report, report)
