"""The SMS provider's delivery reports: `POST /callbacks/sms/46elks?key=<message key>`, the
`whendelivered` URL of every SMS the 46elks gateway sends (docs/delivery-reports.md).

Each message has a URL of its own: its key in the query and its token (`delivery_token`, an
HMAC-SHA256 of the key under `PM_DELIVERY_SECRET`) as the HTTP Basic password 46elks presents (user
`46elks`); the form fields are `id`, `status` (`sent`, `delivered`, `failed`) and `delivered` (UTC,
when delivered). A report is taken only for the message its token was made for: the token must be the
key's (`hmac.compare_digest`) and the ledger's provider id of that key must be the report's `id`, so a
leaked URL can move only its own message. The report is kept in the SMS ledger, which only moves the
status forward, then signalled to the reminder (`application.delivery_reports`: this door reads the
credentials and the form, and answers). Answers: 204 when
taken (also for a reminder that has ended: 46elks then stops retrying), 401 without Basic credentials
of user `46elks`, 403 for a token that is not the message's or a report about another message, 422 for
a malformed form (nothing recorded), 503 when the message's send is not recorded yet or Temporal cannot
be reached (46elks retries).
"""

from __future__ import annotations

import base64
import binascii
import hmac
import re
from datetime import UTC, datetime
from typing import Annotated

import structlog
from fastapi import APIRouter, Depends, Request, Response, status

from application import delivery_reports
from application.delivery_reports import DELIVERY_USER, KEY_PARAMETER, ElksReport, Recorded
from domain.types import is_plausible
from entrypoints.shared.context import RequestContext, request_context
from entrypoints.shared.problems import problem

router = APIRouter(tags=["delivery reports"])
With = Annotated[RequestContext, Depends(request_context)]
log = structlog.get_logger(__name__)

PROVIDER_ID = re.compile(r"[A-Za-z0-9_-]{1,100}")
REALM = 'Basic realm="delivery-reports"'
NOT_RECORDED = "the message's send is not recorded yet: try again"
ANSWERS = {
    Recorded.NOT_YET: (503, NOT_RECORDED, {"Retry-After": "30"}),
    Recorded.OTHER_MESSAGE: (
        403,
        "the delivery report's id is not the id of the message its token is for",
        {},
    ),
    Recorded.UNREACHABLE: (503, "the workflow service is not reachable: try again", {}),
}
"""The refusals of a report whose token fitted (taken, it is 204)."""


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


def _parse_time(raw: str) -> datetime | None:
    """46elks' `delivered` (UTC without an offset, `YYYY-MM-DD HH:MM:SS.ffffff`); None if unreadable."""
    try:
        moment = datetime.fromisoformat(raw.strip())
    except ValueError:
        return None
    moment = moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment
    return moment if is_plausible(moment) else None


async def _read_form(request: Request, key: str) -> ElksReport:
    form = await request.form()
    provider_id, state, delivered = (form.get(k) for k in ("id", "status", "delivered"))
    if not isinstance(provider_id, str) or not PROVIDER_ID.fullmatch(provider_id):
        raise _Refused(422, "invalid input: id: required, a 46elks message id")
    if not isinstance(state, str) or state not in delivery_reports.STATES:
        raise _Refused(422, "invalid input: status: one of sent, delivered, failed")
    delivered_at = None
    if isinstance(delivered, str) and delivered.strip():
        delivered_at = _parse_time(delivered)
        if delivered_at is None:  # the report counts more than its time: keep it, with ours
            log.warning("delivery_report_time_unreadable", provider_id=provider_id)
    return ElksReport(key=key, provider_id=provider_id, state=state, delivered_at=delivered_at)


@router.post(
    "/callbacks/sms/46elks",
    status_code=status.HTTP_204_NO_CONTENT,
    response_class=Response,
    summary="46elks delivery report (whendelivered)",
)
async def elks_delivery_report(request: Request, ctx: With) -> Response:
    """A 46elks delivery report for the message named by the URL's `key`, with that message's token as
    the Basic password: form fields `id`, `status` (`sent`|`delivered`|`failed`), `delivered`."""
    token = token_of(request.headers.get("authorization"))
    if token is None:
        return problem(
            401, "the delivery report has no credentials of user 46elks", **{"WWW-Authenticate": REALM}
        )
    keys = request.query_params.getlist(KEY_PARAMETER)
    key = keys[0] if len(keys) == 1 else None
    if key is None or not delivery_reports.token_fits(ctx.settings.delivery_secret, key, token):
        log.warning("delivery_report_token_refused")
        return problem(403, "the delivery report's token is not the token of the message it names")
    try:
        report = await _read_form(request, key)
    except _Refused as refused:
        return problem(refused.status, str(refused))
    recorded = await delivery_reports.record_report(ctx.client, ctx.stores.sms_ledger, report, ctx.events)
    if recorded in ANSWERS:
        code, detail, headers = ANSWERS[recorded]
        return problem(code, detail, **headers)
    return Response(status_code=status.HTTP_204_NO_CONTENT)
