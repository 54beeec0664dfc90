"""The codec server's app: POST `/encode` and `/decode` (also under `/<namespace>/`), CORS for the
allowed browser origins only, and one audit row per call, written before the answer leaves."""

from __future__ import annotations

import asyncio
import json
import re
from collections.abc import Awaitable, Callable, Sequence
from datetime import UTC, datetime

import structlog
from aiohttp import hdrs, web
from google.protobuf import json_format
from temporalio.api.common.v1 import Payload, Payloads

from application import AuditRecord, AuditTrail
from domain.types import is_system_id
from entrypoints.codec_server.auth import CodecAuthenticator, Reader, Refused
from security.codec import EncryptionCodec, PayloadDecryptionError
from security.keyring import Keyring

log = structlog.get_logger("codec_server")

ALLOW_HEADERS = "Authorization, Content-Type, X-Namespace, Authorization-Extras"
MAX_BODY_BYTES = 64 * 1024 * 1024
BODY_SHAPE = 'body must be JSON {"payloads": [{"metadata": {...}, "data": "<base64>"}, ...]}'
BASE64 = re.compile(r"[A-Za-z0-9+/_-]*={0,2}")

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]
Transform = Callable[[Sequence[Payload]], Awaitable[list[Payload]]]


def parse_payloads(body: bytes) -> list[Payload]:
    """The payloads of a request body, or `ValueError` (with `BODY_SHAPE`, never the body)."""
    try:
        document = json.loads(body)
        if not isinstance(document, dict) or not isinstance(document.get("payloads"), list):
            raise ValueError
        for payload in document["payloads"]:
            if not isinstance(payload, dict):
                raise ValueError
            encoded = [payload.get("data", ""), *(payload.get("metadata") or {}).values()]
            if not all(isinstance(v, str) and BASE64.fullmatch(v) for v in encoded):
                raise ValueError  # json_format would skip the bad characters silently
        return list(json_format.ParseDict(document, Payloads()).payloads)
    except (ValueError, TypeError, AttributeError, RecursionError, json_format.ParseError):
        raise ValueError(BODY_SHAPE) from None


def build_app(
    keyring: Keyring, authenticator: CodecAuthenticator, audit: AuditTrail, origins: Sequence[str]
) -> web.Application:
    """The codec server for `keyring`: people `authenticator` knows, browsers from `origins` only,
    each call recorded in `audit`."""
    codec = EncryptionCodec(keyring)
    allowed = frozenset(origin.strip().rstrip("/") for origin in origins if origin.strip())

    def cors(request: web.Request) -> dict[str, str]:
        origin = request.headers.get(hdrs.ORIGIN)
        if origin is None or origin not in allowed:
            return {}
        return {
            hdrs.ACCESS_CONTROL_ALLOW_ORIGIN: origin,
            hdrs.ACCESS_CONTROL_ALLOW_CREDENTIALS: "true",
            hdrs.VARY: "Origin",
        }

    def error(status: int, message: str) -> web.Response:
        headers = {hdrs.WWW_AUTHENTICATE: "Bearer"} if status == 401 else {}
        return web.json_response({"error": message}, status=status, headers=headers)

    @web.middleware
    async def guard(request: web.Request, handler: Handler) -> web.StreamResponse:
        origin = request.headers.get(hdrs.ORIGIN)
        if origin is not None and origin not in allowed:
            log.warning("codec_request_refused", reason="origin", path=request.path)
            return error(403, "origin not allowed")
        headers = cors(request)
        if request.method == hdrs.METH_OPTIONS:  # CORS preflight: carries no credentials
            headers |= {
                hdrs.ACCESS_CONTROL_ALLOW_METHODS: "POST, OPTIONS",
                hdrs.ACCESS_CONTROL_ALLOW_HEADERS: ALLOW_HEADERS,
                hdrs.ACCESS_CONTROL_MAX_AGE: "600",
            }
            return web.Response(status=204, headers=headers)
        try:
            response = await handler(request)
        except web.HTTPException as err:  # 404, 405, 413: aiohttp's own answers
            err.headers.update(headers)
            raise
        except Exception as err:  # a bug: one line, no traceback, nothing of the request
            log.error("codec_request_failed", path=request.path, error=type(err).__name__)
            response = error(500, "the codec server failed on this request")
        response.headers.update(headers)  # with CORS headers, so that the UI can read an error
        return response

    async def record(
        reader: Reader, action: str, namespace: str | None, count: int | None, outcome: str
    ) -> bool:
        """One audit row; False (and an error logged) when the trail cannot be written."""
        entry = AuditRecord(
            at=datetime.now(UTC),
            actor=reader.actor,
            action=action,
            clinic_id=reader.audit_clinic or None,
            namespace=namespace,
            payloads=count,
            outcome=outcome,
        )  # no workflow id: neither the Web UI nor the CLI sends one
        try:
            await asyncio.to_thread(audit.record, entry)
            return True
        except Exception as err:
            log.error("codec_audit_failed", action=action, outcome=outcome, error=type(err).__name__)
            return False

    def endpoint(action: str, transform: Transform) -> Handler:
        async def handle(request: web.Request) -> web.StreamResponse:
            def refuse(status: int, message: str, who: Reader | None = None) -> web.Response:
                actor = who.actor if who else None
                log.warning(
                    "codec_request_refused", reason=message, status=status, path=request.path, actor=actor
                )
                return error(status, message)

            try:
                reader = await asyncio.to_thread(
                    authenticator.reader, request.headers.get(hdrs.AUTHORIZATION)
                )
            except Refused as refused:
                if refused.reader is not None:
                    await record(refused.reader, action, None, None, f"refused:{refused.status}")
                return refuse(refused.status, str(refused), refused.reader)
            namespace = request.match_info.get("namespace") or request.headers.get("X-Namespace") or None
            if namespace is not None and not is_system_id(namespace):
                await record(reader, action, None, None, "refused:400")
                return refuse(
                    400, "the namespace (path or X-Namespace) must be a Temporal namespace name", reader
                )
            try:
                payloads = parse_payloads(await request.read())
            except ValueError as err:
                await record(reader, action, namespace, None, "refused:400")
                return refuse(400, str(err), reader)
            try:
                result = await transform(payloads)
            except PayloadDecryptionError as err:  # the message names the key id only
                await record(reader, action, namespace, len(payloads), "refused:400")
                return refuse(400, str(err), reader)
            if not await record(reader, action, namespace, len(payloads), "ok"):
                return error(503, "the audit trail cannot be written: nothing was decoded or encoded")
            log.info(
                action.replace(".", "_"), actor=reader.actor, namespace=namespace, payloads=len(payloads)
            )
            return web.Response(
                text=json_format.MessageToJson(Payloads(payloads=result)), content_type="application/json"
            )

        return handle

    async def preflight(request: web.Request) -> web.StreamResponse:  # answered by `guard`
        return web.Response(status=204)

    app = web.Application(middlewares=[guard], client_max_size=MAX_BODY_BYTES)
    for prefix in ("", "/{namespace}"):
        app.router.add_post(f"{prefix}/encode", endpoint("codec.encode", codec.encode))
        app.router.add_post(f"{prefix}/decode", endpoint("codec.decode", codec.decode))
        app.router.add_options(f"{prefix}/encode", preflight)
        app.router.add_options(f"{prefix}/decode", preflight)
    return app
