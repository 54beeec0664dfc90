"""The HTTP door for booking systems: REST v1 and FHIR R4, the SMS provider's delivery reports and
inbound replies, the webhooks of events out, one router per resource (`ROUTERS`); `entrypoints.asgi`
mounts them beside the staff page, and `python -m entrypoints.http` serves the app with uvicorn."""

from fastapi import APIRouter

from entrypoints.http import (
    delivery_reports,
    directory,
    fhir,
    fhir_slots,
    invitations,
    replies,
    visits,
    webhooks,
)

ROUTERS: tuple[APIRouter, ...] = (
    visits.router,
    invitations.router,
    directory.router,
    fhir.router,
    fhir_slots.router,
    delivery_reports.router,
    replies.router,
    webhooks.router,
)
