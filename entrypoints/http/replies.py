"""Issue 28, the patients' SMS replies: `POST /callbacks/sms/46elks/replies`, the `sms_url` of each
clinic's 46elks virtual number (docs/replies.md).

46elks posts the form fields `from`, `to` (the virtual number), `message`, `id`, `created` (UTC,
without an offset) and `direction`. Authenticated as the delivery reports are (docs/delivery-
reports.md): HTTP Basic user `46elks`, the password the number's token (`reply_token`, an
HMAC-SHA256 of the number under `PM_DELIVERY_SECRET`), so a URL configured on one number opens the
door for that number only. Answers: 204 without a body when taken (46elks would send a body back as
an SMS: the reminder confirms, not this door; also for a repeat of an id, and for a reply kept for
the staff), 401 without Basic credentials of user `46elks`, 403 for a token that is not the number's,
404 when no clinic takes replies on that number, 422 for a malformed form, 503 when Temporal cannot
be reached (46elks retries; the reply is kept, and told on the retry). A refused call keeps nothing.
"""

from __future__ import annotations

import hmac
import re
from datetime import UTC, datetime
from typing import Annotated

import structlog
from fastapi import APIRouter, Depends, Request, Response, status

from application import replies
from application.replies import REPLIES_PATH, InboundReply, ReplyServices, Taken, reply_token
from domain.types import is_plausible
from entrypoints.http.delivery_reports import PROVIDER_ID, token_of
from entrypoints.shared.context import RequestContext, request_context
from entrypoints.shared.problems import problem

router = APIRouter(tags=["SMS replies"])
With = Annotated[RequestContext, Depends(request_context)]
log = structlog.get_logger(__name__)

REALM = 'Basic realm="sms-replies"'
NUMBER = re.compile(r"\+[1-9][0-9]{6,14}")
MAX_MESSAGE = 2000
ANSWERS = {
    Taken.NO_CLINIC: (404, "no clinic takes replies on that number"),
    Taken.UNREACHABLE: (503, "the workflow service is not reachable: try again"),
}


class _Refused(Exception):
    def __init__(self, status: int, detail: str) -> None:
        super().__init__(detail)
        self.status = status


def _fits(secret: str | None, number: str, token: str) -> bool:
    return bool(secret) and hmac.compare_digest(token.encode(), reply_token(secret or "", number).encode())


def _created(raw: object) -> datetime:
    """46elks' `created` (UTC without an offset); now when missing or unreadable."""
    now = datetime.now(UTC)
    if not isinstance(raw, str) or not raw.strip():
        return now
    try:
        moment = datetime.fromisoformat(raw.strip())
    except ValueError:
        return now
    moment = moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment
    return moment if is_plausible(moment) and moment <= now else now


def _read(form: dict[str, object], to: str) -> InboundReply:
    inbound_id, sender, message = (form.get(k) for k in ("id", "from", "message"))
    if not isinstance(inbound_id, str) or not PROVIDER_ID.fullmatch(inbound_id):
        raise _Refused(422, "invalid input: id: required, a 46elks message id")
    if not isinstance(sender, str) or not NUMBER.fullmatch(sender):
        raise _Refused(422, "invalid input: from: required, a phone number in E.164")
    if not isinstance(message, str) or len(message) > MAX_MESSAGE:
        raise _Refused(422, f"invalid input: message: required, at most {MAX_MESSAGE} characters")
    return InboundReply(
        inbound_id=inbound_id,
        reply_number=to,
        sender=sender,
        text=message,
        received_at=_created(form.get("created")),
    )


@router.post(
    REPLIES_PATH,
    status_code=status.HTTP_204_NO_CONTENT,
    response_class=Response,
    summary="46elks inbound SMS (a patient's reply to a reminder)",
)
async def elks_inbound_reply(request: Request, ctx: With) -> Response:
    """An SMS to a clinic's virtual number, with that number's token as the Basic password: form fields
    `from`, `to`, `message`, `id`, `created`."""
    token = token_of(request.headers.get("authorization"))
    if token is None:
        return problem(401, "the reply has no credentials of user 46elks", **{"WWW-Authenticate": REALM})
    form = dict(await request.form())
    to = form.get("to")
    if (
        not isinstance(to, str)
        or not NUMBER.fullmatch(to)
        or not _fits(ctx.settings.delivery_secret, to, token)
    ):
        log.warning("sms_reply_token_refused")
        return problem(403, "the reply's token is not the token of the number it was sent to")
    try:
        reply = _read(form, to)
    except _Refused as refused:
        return problem(refused.status, str(refused))
    services = ReplyServices(ctx.client, ctx.stores.directory, ctx.stores.replies, ctx.stores.audit)
    taken = await replies.take_reply(services, reply)
    if taken in ANSWERS:
        code, detail = ANSWERS[taken]
        return problem(code, detail)
    return Response(status_code=status.HTTP_204_NO_CONTENT)
