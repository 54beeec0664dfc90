"""The SMS provider's delivery reports: `POST /callbacks/sms/46elks`, the `whendelivered` URL of every
SMS the 46elks gateway sends (docs/delivery-reports.md).

46elks calls it with HTTP Basic credentials taken from the URL (user `46elks`, password
`PM_DELIVERY_SECRET`) and the form fields `id`, `status` (`sent`, `delivered`, `failed`) and
`delivered` (UTC, when delivered). The report is kept in the SMS ledger, which maps the provider's id
to our message key and only moves the status forward, then signalled to the reminder
(`VisitReminder.delivery_report`). Answers: 204 when taken (also for an id we never sent, and
for a reminder that has ended: 46elks then stops retrying), 401 for a wrong or missing secret, 422 for
a malformed form (nothing recorded), 503 when Temporal cannot be reached (46elks retries).
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

from adapters.sms_elks import DELIVERY_USER
from adapters.sms_ledger import ELKS_DELIVERY
from application import workflow_calls
from application.errors import EndedError, NotFoundError
from contracts.workflow_ids import parse_sms_key
from domain.status import DeliveryReport
from domain.types import is_plausible
from entrypoints.http.problems import problem
from entrypoints.http.service import Service, service
from infrastructure.config import Settings
from workflows.sms_reminder import VisitReminder

router = APIRouter(tags=["delivery reports"])
With = Annotated[Service, Depends(service)]
log = structlog.get_logger(__name__)

PROVIDER_ID = re.compile(r"[A-Za-z0-9_-]{1,100}")
REALM = 'Basic realm="delivery-reports"'


class _Refused(Exception):
    def __init__(self, status: int, detail: str) -> None:
        super().__init__(detail)
        self.status = status


def authenticated(settings: Settings, authorization: str | None) -> bool:
    """Whether the request carries the Basic credentials of the callback URL (constant-time)."""
    secret = settings.delivery_secret
    scheme, _, encoded = (authorization or "").partition(" ")
    if not secret or scheme.lower() != "basic":
        return False
    try:
        user, colon, password = base64.b64decode(encoded.strip(), validate=True).decode().partition(":")
    except (binascii.Error, UnicodeDecodeError):
        return False
    user_ok = hmac.compare_digest(user.encode(), DELIVERY_USER.encode())
    password_ok = hmac.compare_digest(password.encode(), secret.encode())
    return bool(colon) and user_ok and password_ok


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
    """A 46elks delivery report: form fields `id`, `status` (`sent`|`delivered`|`failed`), `delivered`."""
    if not authenticated(svc.settings, request.headers.get("authorization")):
        return problem(401, "the delivery report's credentials are not valid", **{"WWW-Authenticate": REALM})
    try:
        provider_id, state, delivered_at = await _read_form(request)
    except _Refused as refused:
        return problem(refused.status, str(refused))
    received = datetime.now(UTC)
    ledger = svc.stores.sms_ledger
    update = await asyncio.to_thread(ledger.record_delivery, provider_id, state, delivered_at, received)
    if update is None:
        log.warning("delivery_report_unknown_id", provider_id=provider_id, status=state)
        return Response(status_code=status.HTTP_204_NO_CONTENT)
    report = DeliveryReport(key=update.key, status=update.status, at=update.delivered_at or received)
    try:
        await record_delivery(svc, report)
    except (EndedError, NotFoundError):
        log.info("delivery_report_for_closed_workflow", key=update.key, status=update.status.value)
    except RPCError as err:
        log.warning("delivery_report_not_signalled", key=update.key, error=type(err).__name__)
        return problem(503, "the workflow service is not reachable: try again")
    else:
        log.info("delivery_report", key=update.key, reported=state, status=update.status.value)
    return Response(status_code=status.HTTP_204_NO_CONTENT)


async def record_delivery(svc: Service, report: DeliveryReport) -> None:
    """Signal the report to the reminder its key names (`parse_sms_key`); EndedError/NotFoundError when
    it has ended or never was (NotFoundError also for a key of no reminder's SMS)."""
    key = parse_sms_key(report.key)
    if key is None:
        raise NotFoundError("the SMS key names no reminder")
    await workflow_calls.signal(svc.client, key.workflow_id, VisitReminder.delivery_report, report)
