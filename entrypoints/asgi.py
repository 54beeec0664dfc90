"""The one ASGI app (FastAPI): the HTTP API for booking systems (`entrypoints.http`: `/v1`, `/fhir`,
the SMS provider's callbacks) with its OpenAPI document at `/openapi.json` (`entrypoints/http/openapi.py`)
and interactive docs at `/docs` (Swagger UI, from the assets the package `fastapi-offline` installs:
no other host is asked; no ReDoc, whose bundle shows a logo from its vendor's host), and the staff
page under `/staff` (`entrypoints.web`).

    python -m entrypoints.http        (PM_API_HOST, PM_API_PORT; TLS is the proxy's in front of it)

Every `/v1` route needs a bearer token (`entrypoints/shared/auth.py`); refusals are problem+json
(`entrypoints/shared/problems.py`), or a Swedish page on the staff page; bodies are limited to
`MAX_BODY_BYTES`. A request for another host than `PM_PUBLIC_URL`'s is refused, absolute URLs are
built from it, and every answer carries the security headers (`entrypoints/shared/edge.py`).
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import structlog
from fastapi import FastAPI, Request, Response
from fastapi.exceptions import RequestValidationError
from fastapi_offline import FastAPIOffline
from pydantic import ValidationError
from starlette.exceptions import HTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

import application
from domain.identity import InvalidPatientId
from entrypoints import http, web
from entrypoints.http import openapi
from entrypoints.shared.auth import Authenticator, Forbidden, Unauthenticated
from entrypoints.shared.context import RequestContext
from entrypoints.shared.edge import Edge
from entrypoints.shared.problems import handle, handle_http, refuse
from infrastructure.config import Settings
from infrastructure.events import TemporalEventPublisher
from infrastructure.stores import Stores
from infrastructure.temporal_client import api_metrics_runtime, connect_client
from infrastructure.test_mode import TestModeOff

log = structlog.get_logger(__name__)

DOCS_URL = "/docs"
MAX_BODY_BYTES = 256 * 1024
"""A directory document of a few thousand patients fits; anything larger is refused with 413."""
REFUSALS: tuple[type[Exception], ...] = (
    Unauthenticated,
    Forbidden,
    TestModeOff,
    application.InputError,
    InvalidPatientId,
    application.DirectoryLoadError,
    RequestValidationError,
    ValidationError,
)


def create_app(settings: Settings, stores: Stores | None = None) -> FastAPI:
    """The app; it connects to Temporal when it starts (the same client as the worker's)."""
    stores = stores or Stores(settings)

    @asynccontextmanager
    async def lifespan(api: FastAPI) -> AsyncIterator[None]:
        client = await connect_client(settings, runtime=api_metrics_runtime(settings))
        events = TemporalEventPublisher(stores.webhooks, settings.task_queue)
        events.bind(client)
        api.state.context = RequestContext(settings=settings, stores=stores, client=client, events=events)
        api.state.authenticator = Authenticator(settings, stores.api_keys)
        log.info(
            "api_started",
            namespace=settings.namespace,
            stores="postgresql" if settings.database_url else "sqlite",
            jwt=bool(settings.jwt_jwks_url),
        )
        yield
        stores.close()

    api = FastAPIOffline(  # Swagger UI from the package's own copy of its bundle
        docs_url=DOCS_URL,
        redoc_url=None,
        title="Patient messaging",
        version="1",
        summary="SMS visit reminders and care invitations (vårdinbjudan) for Swedish healthcare",
        lifespan=lifespan,
        swagger_ui_parameters={"validatorUrl": None},  # no badge from the Swagger validator's host
        generate_unique_id_function=openapi.operation_id,
    )
    for refusal in REFUSALS:
        api.add_exception_handler(refusal, on_refusal)
    api.add_exception_handler(HTTPException, on_refusal)
    api.add_middleware(BodyLimit)
    for router in http.ROUTERS:
        api.include_router(router)
    web.install(api, settings, stores)
    openapi.install(api)
    docs = frozenset({DOCS_URL, api.swagger_ui_oauth2_redirect_url or DOCS_URL})
    api.add_middleware(  # the last added runs first: the Host check before anything else
        Edge, public_url=settings.public_base_url, bind_host=settings.api_host, docs_paths=docs
    )
    return api


async def on_refusal(request: Request, err: Exception) -> Response:
    """A refusal as a Swedish page on the staff page, else as the API's problem (or OperationOutcome)."""
    if web.is_staff_page(request):
        page = await web.refused(request, err)
        if page is not None:
            return page
    if isinstance(err, HTTPException):
        return await handle_http(request, err)
    return await handle(request, err)


class BodyLimit:
    """Refuse a body over `MAX_BODY_BYTES` before reading it (by its length) or while reading it (a
    chunked body is read here, then handed on). A plain ASGI middleware: responses pass through as
    they are (Starlette's `BaseHTTPMiddleware` re-streams them and, under load, ended a large static
    file after its headers)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        request = Request(scope)
        length = request.headers.get("content-length")
        if length is not None and (not length.isdigit() or int(length) > MAX_BODY_BYTES):
            await self._refuse(request, scope, receive, send)
            return
        if length is None and request.method in ("POST", "PUT", "PATCH"):
            body = b""
            more = True
            while more:
                message = await receive()
                if message["type"] == "http.disconnect":
                    return
                body += message.get("body", b"")
                more = message.get("more_body", False)
                if len(body) > MAX_BODY_BYTES:
                    await self._refuse(request, scope, receive, send)
                    return
            receive = _replay(body, receive)
        await self.app(scope, receive, send)

    @staticmethod
    async def _refuse(request: Request, scope: Scope, receive: Receive, send: Send) -> None:
        answer = refuse(request, 413, f"the body is limited to {MAX_BODY_BYTES} bytes")
        await answer(scope, receive, send)


def _replay(body: bytes, receive: Receive) -> Receive:
    """A `receive` that gives the buffered body once, then what the server sends (a disconnect)."""
    sent = False

    async def replayed() -> Message:
        nonlocal sent
        if sent:
            return await receive()
        sent = True
        return {"type": "http.request", "body": body, "more_body": False}

    return replayed
