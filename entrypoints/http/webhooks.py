"""REST v1: a booking system's webhooks and the deliveries of its events (docs/webhooks.md).

`PUT /v1/webhooks` registers the caller's webhook at one of its clinics: 201 with the signing secret
the first time (shown this once), 200 without it when the webhook exists (the same URL, or a new one:
the secret is kept). `GET /v1/webhooks` lists the caller's webhooks, `DELETE /v1/webhooks?clinic_id=…`
removes one, `GET /v1/webhooks/deliveries?status=failed` lists the deliveries of its events. Only the
caller's own webhooks at its own clinics: another clinic is unknown (404). Every call is audited.
"""

from __future__ import annotations

import asyncio
import json
from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Response, status
from pydantic import Field

from application import webhooks as use
from domain.types import ContractModel, SystemId
from entrypoints.http.openapi import refusals
from entrypoints.http.strict import strict_body
from entrypoints.shared.auth import Caller, caller
from entrypoints.shared.context import RequestContext, caller_context

router = APIRouter(prefix="/v1", tags=["webhooks"])
Who = Annotated[Caller, Depends(caller)]
With = Annotated[RequestContext, Depends(caller_context)]


class WebhookRegistration(ContractModel):
    clinic_id: SystemId
    url: str = Field(
        max_length=use.MAX_URL, description=use.URL_RULE, json_schema_extra={"pattern": use.URL_PATTERN}
    )


class WebhookView(ContractModel):
    clinic_id: str
    url: str
    created_at: datetime
    secret: str | None = Field(default=None, description="the signing secret: only when the webhook is made")


class WebhookList(ContractModel):
    webhooks: list[WebhookView]


class DeliveryView(ContractModel):
    event_id: str
    event_type: str
    clinic_id: str
    status: use.DeliveryStatus
    attempts: int
    last_status_code: int | None = None
    last_error: str | None = None
    first_attempt_at: datetime
    last_attempt_at: datetime
    delivered_at: datetime | None = None
    event: dict[str, Any] = Field(description="the event's body as sent: type, timestamp, data")


class DeliveryList(ContractModel):
    deliveries: list[DeliveryView]


RegistrationBody = Annotated[WebhookRegistration, strict_body(WebhookRegistration)]


def _clinics(who: Caller) -> list[str] | None:
    return None if who.all_clinics else sorted(who.clinics)


def _view(webhook: use.Webhook, secret: str | None = None) -> WebhookView:
    return WebhookView(
        clinic_id=webhook.clinic_id, url=webhook.url, created_at=webhook.created_at, secret=secret
    )


@router.put(
    "/webhooks",
    response_model=WebhookView,
    response_model_exclude_none=True,
    status_code=status.HTTP_201_CREATED,
    responses={
        200: {"model": WebhookView, "description": "the webhook existed: its URL set, no secret"},
        **refusals(404),
    },
)
async def register_webhook(body: RegistrationBody, who: Who, ctx: With, response: Response) -> WebhookView:
    """Register the caller's webhook at one of its clinics; the answer holds the signing secret
    (`whsec_…`) only when the webhook is new."""
    async with ctx.audited(who, "webhook.register", clinic_id=body.clinic_id):
        registered = await asyncio.to_thread(
            use.register_webhook,
            ctx.stores.webhooks,
            ctx.stores.directory,
            who.client_id,
            _clinics(who),
            body.clinic_id,
            body.url,
        )
    if not registered.new:
        response.status_code = status.HTTP_200_OK
    return _view(registered.webhook, registered.secret)


@router.get("/webhooks", response_model=WebhookList, response_model_exclude_none=True)
async def list_webhooks(who: Who, ctx: With) -> WebhookList:
    """The caller's webhooks (never their secrets)."""
    async with ctx.audited(who, "webhook.list"):
        found = await asyncio.to_thread(use.webhooks_of, ctx.stores.webhooks, who.client_id, _clinics(who))
    return WebhookList(webhooks=[_view(w) for w in found])


@router.get("/webhooks/deliveries", response_model=DeliveryList, responses=refusals(404))
async def list_deliveries(
    who: Who,
    ctx: With,
    delivery_status: Annotated[
        use.DeliveryStatus | None, Query(alias="status", description="pending, delivered or failed")
    ] = None,
    clinic_id: Annotated[SystemId | None, Query(description="one of the caller's clinics")] = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
) -> DeliveryList:
    """The deliveries of the caller's events, the latest attempt first: `?status=failed` lists the
    events its receivers did not take before the delivery deadline."""
    async with ctx.audited(who, "webhook.deliveries", clinic_id=clinic_id):
        found = await asyncio.to_thread(
            use.deliveries,
            ctx.stores.webhooks,
            who.client_id,
            _clinics(who),
            delivery_status,
            clinic_id,
            limit,
        )
    views = [
        DeliveryView(**d.model_dump(exclude={"body", "client_id"}), event=json.loads(d.body)) for d in found
    ]
    return DeliveryList(deliveries=views)


@router.delete(
    "/webhooks", status_code=status.HTTP_204_NO_CONTENT, response_class=Response, responses=refusals(404)
)
async def remove_webhook(
    who: Who, ctx: With, clinic_id: Annotated[SystemId, Query(description="the clinic of the webhook")]
) -> Response:
    """Remove the caller's webhook at the clinic: its events not delivered yet are given up."""
    async with ctx.audited(who, "webhook.remove", clinic_id=clinic_id):
        await asyncio.to_thread(
            use.remove_webhook, ctx.stores.webhooks, who.client_id, _clinics(who), clinic_id
        )
    return Response(status_code=status.HTTP_204_NO_CONTENT)
