"""Codec server: decrypts (and encrypts) payloads for named, authorised people, and audits each call.

    python -m entrypoints.codec_server

POST `/encode` and `/decode` (also under `/<namespace>/`) take and return `{"payloads": [...]}` in
proto3 JSON. Every request carries `Authorization: Bearer <token>`, one of:

- the signed-in person's access token from the region's OpenID Connect provider, as the Temporal Web
  UI passes it (`TEMPORAL_CODEC_PASS_ACCESS_TOKEN=true`): a JWT checked against the provider's JWKS,
  issuer, audience and expiry, naming the person (`sub`) and holding the operator role or clinics;
- a personal codec token of a named operator (`starter.py admin codec-token create --operator NAME`,
  stored hashed), for the Temporal CLI and `dev.py run`.

Each decode and encode is one audit row (the person, `codec.decode` / `codec.encode`, the namespace,
the number of payloads, the clinics, the outcome), written before the answer leaves: no audit, no
payloads. Browsers are served only from `PM_CODEC_ORIGINS`. Payload contents are never logged or
audited. Settings: `CodecSettings.from_env` and docs/encryption.md.
"""

from __future__ import annotations

import asyncio
import json
import os
import re
import sys
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Literal, cast

import jwt
import structlog
from aiohttp import hdrs, web
from google.protobuf import json_format
from temporalio.api.common.v1 import Payload, Payloads

from adapters.audit import AuditRecord, AuditTrail
from adapters.operator_tokens import OPERATOR_TOKEN_PREFIX, OperatorTokens
from domain.types import is_system_id
from infrastructure.config import PROJECT_DIR, Settings
from infrastructure.logging_setup import configure_logging
from infrastructure.stores import SchemaOutOfDateError, Stores
from security.bearer_jwt import TokenRefused, Why, verified_claims
from security.codec import EncryptionCodec, PayloadDecryptionError
from security.files import private_process, tighten
from security.keyring import KEY_FILE_NAME, Keyring, KeyringError, MissingKeyError, require_keyring

log = structlog.get_logger("codec_server")

ALLOW_HEADERS = "Authorization, Content-Type, X-Namespace, Authorization-Extras"
MAX_BODY_BYTES = 64 * 1024 * 1024
DEFAULT_ORIGINS = "http://localhost:8233"
ALL_CLINICS = "*"
BODY_SHAPE = 'body must be JSON {"payloads": [{"metadata": {...}, "data": "<base64>"}, ...]}'
BASE64 = re.compile(r"[A-Za-z0-9+/_-]*={0,2}")

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]
Transform = Callable[[Sequence[Payload]], Awaitable[list[Payload]]]


@dataclass(frozen=True)
class OidcSettings:
    """The region's OpenID Connect provider, as the codec server checks its access tokens."""

    issuer: str
    audience: str
    jwks_url: str
    role_claim: str = "roles"  # a dotted path for nested claims, e.g. realm_access.roles (Keycloak)
    role: str = "patient-data-reader"  # the role that may read every clinic's payloads
    clinics_claim: str = "clinics"  # or: the clinics the person works for


@dataclass(frozen=True)
class CodecSettings:
    host: str = "127.0.0.1"
    port: int = 8081
    origins: tuple[str, ...] = (DEFAULT_ORIGINS,)
    oidc: OidcSettings | None = None
    data_dir: Path = PROJECT_DIR / ".data"
    database_url: str | None = None
    log_format: Literal["json", "console", "auto"] = "auto"

    @classmethod
    def from_env(cls, env: Mapping[str, str]) -> CodecSettings:
        """`PM_CODEC_HOST`, `PM_CODEC_PORT`, `PM_CODEC_ORIGINS`, `PM_CODEC_OIDC_ISSUER`,
        `PM_CODEC_OIDC_AUDIENCE`, `PM_CODEC_OIDC_JWKS_URL` (all three, or none: operator tokens only),
        `PM_CODEC_ROLE_CLAIM`, `PM_CODEC_ROLE`, `PM_CODEC_CLINICS_CLAIM`, `PM_DATA_DIR`,
        `PM_DATABASE_URL`, `PM_LOG_FORMAT`. A wrong setting raises `ValueError` (one line)."""
        if env.get("PM_CODEC_TOKEN"):
            raise ValueError(
                "PM_CODEC_TOKEN (one token shared by everyone) is no longer accepted: each person signs in "
                "(PM_CODEC_OIDC_ISSUER, _AUDIENCE, _JWKS_URL) or uses a personal token from "
                "`python starter.py admin codec-token create --operator NAME` (docs/encryption.md)"
            )
        names = ("PM_CODEC_OIDC_ISSUER", "PM_CODEC_OIDC_AUDIENCE", "PM_CODEC_OIDC_JWKS_URL")
        issuer, audience, jwks_url = (env.get(name, "").strip() for name in names)
        oidc = None
        if issuer or audience or jwks_url:
            missing = [
                name for name, value in zip(names, (issuer, audience, jwks_url), strict=True) if not value
            ]
            if missing:
                raise ValueError(f"set {', '.join(missing)} too: the OpenID provider needs all three")
            oidc = OidcSettings(
                issuer,
                audience,
                jwks_url,
                role_claim=env.get("PM_CODEC_ROLE_CLAIM") or "roles",
                role=env.get("PM_CODEC_ROLE") or "patient-data-reader",
                clinics_claim=env.get("PM_CODEC_CLINICS_CLAIM") or "clinics",
            )
        port = env.get("PM_CODEC_PORT", "8081")
        if not port.isdigit():
            raise ValueError(f"PM_CODEC_PORT must be a port number, not '{port[:20]}'")
        log_format = env.get("PM_LOG_FORMAT") or "auto"
        if log_format not in ("json", "console", "auto"):
            raise ValueError("PM_LOG_FORMAT must be json, console or auto")
        return cls(
            host=env.get("PM_CODEC_HOST", "127.0.0.1"),
            port=int(port),
            origins=tuple(env.get("PM_CODEC_ORIGINS", DEFAULT_ORIGINS).split(",")),
            oidc=oidc,
            data_dir=Path(env.get("PM_DATA_DIR") or PROJECT_DIR / ".data"),
            database_url=env.get("PM_DATABASE_URL") or None,
            log_format=cast(Literal["json", "console", "auto"], log_format),
        )


@dataclass(frozen=True)
class Reader:
    """Who asks: `staff:<sub>` (the OpenID provider's subject) or `operator:<name>` (a codec token),
    and the clinics they may read (`*`: every clinic)."""

    actor: str
    clinics: frozenset[str]

    @property
    def audit_clinic(self) -> str:
        """The audit row's clinic: `*`, the one clinic, or the clinics joined by commas."""
        return ",".join(sorted(self.clinics))


class Refused(Exception):
    """The request is refused with `status`; the message (one line, never a token or payload) says why.
    `reader` is the person when known (a 403 is audited, a 401 has nobody to audit)."""

    def __init__(self, status: int, message: str, reader: Reader | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.reader = reader


def _claim(claims: Mapping[str, Any], path: str) -> Any:
    """The claim at a dotted path (`realm_access.roles`), or None."""
    value: Any = claims
    for part in path.split("."):
        value = value.get(part) if isinstance(value, Mapping) else None
    return value


def _as_list(value: Any) -> list[str]:
    """A claim holding one value, a space-separated string or a list, as a list of strings."""
    if isinstance(value, str):
        return value.split()
    if isinstance(value, list):
        return [str(v) for v in value]
    return []


_TOKEN_REFUSALS = {
    Why.EXPIRED: (401, "the token has expired: sign in again"),
    Why.AUDIENCE: (401, "the token is not meant for the codec server (audience)"),
    Why.ISSUER: (401, "the token is from another issuer"),
    Why.KEYS_UNREACHABLE: (503, "the login provider's keys cannot be fetched: try again later"),
    Why.INVALID: (401, "the token is not valid"),
}


class CodecAuthenticator:
    """Who a bearer token names: a personal codec token, or a JWT of the region's OpenID provider."""

    def __init__(self, operators: OperatorTokens, oidc: OidcSettings | None) -> None:
        self._operators = operators
        self._oidc = oidc
        self._jwks = jwt.PyJWKClient(oidc.jwks_url, cache_keys=True, timeout=10) if oidc else None

    def reader(self, authorization: str | None) -> Reader:
        """The person behind `authorization`, or `Refused` (401: who is unknown; 403: not allowed).
        Blocking (a database read, the provider's keys): call it in a thread."""
        scheme, _, token = (authorization or "").partition(" ")
        token = token.strip()
        if scheme.lower() != "bearer" or not token:
            raise Refused(
                401, "send `Authorization: Bearer <token>`: your login's access token or codec token"
            )
        if token.startswith(OPERATOR_TOKEN_PREFIX):
            operator = self._operators.operator(token)
            if operator is None:
                raise Refused(401, "the codec token is unknown or revoked")
            return Reader(f"operator:{operator}", frozenset({ALL_CLINICS}))
        if self._jwks is None or token.count(".") != 2:
            raise Refused(401, "the token is not valid here")
        return self._from_jwt(token)

    def _from_jwt(self, token: str) -> Reader:
        oidc, jwks = self._oidc, self._jwks
        assert oidc is not None and jwks is not None
        try:
            claims = verified_claims(
                jwks, token, audience=oidc.audience, issuer=oidc.issuer, require=["exp", "iss", "aud", "sub"]
            )
        except TokenRefused as refused:
            status, message = _TOKEN_REFUSALS[refused.why]
            raise Refused(status, message) from None
        subject = str(claims["sub"])
        if not is_system_id(subject):
            raise Refused(401, "the token's subject is not an id the audit trail can name")
        actor = f"staff:{subject}"
        if oidc.role in _as_list(_claim(claims, oidc.role_claim)):
            return Reader(actor, frozenset({ALL_CLINICS}))
        clinics = _as_list(_claim(claims, oidc.clinics_claim))
        if not clinics or not all(is_system_id(c) and c != ALL_CLINICS for c in clinics):
            refused = Reader(actor, frozenset())
            raise Refused(403, f"decoding needs the role '{oidc.role}' or a clinic", refused)
        return Reader(actor, frozenset(clinics))


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


def main(env: Mapping[str, str] = os.environ) -> int:
    try:
        settings = CodecSettings.from_env(env)
        tighten(settings.data_dir)
        keyring = require_keyring(env, settings.data_dir / KEY_FILE_NAME)
        stores = Stores(Settings(data_dir=settings.data_dir, database_url=settings.database_url))
        stores.require_current_schema()
    except (ValueError, MissingKeyError, KeyringError, SchemaOutOfDateError, OSError) as err:
        print(f"error: {' '.join(str(err).split())}", file=sys.stderr)
        return 2
    configure_logging(settings.log_format)
    authenticator = CodecAuthenticator(stores.operator_tokens, settings.oidc)
    log.info(
        "codec_server_started",
        host=settings.host,
        port=settings.port,
        keys=",".join(keyring.key_ids),
        login=f"openid:{settings.oidc.issuer}" if settings.oidc else "codec tokens only",
    )
    try:
        app = build_app(keyring, authenticator, stores.audit, settings.origins)
        web.run_app(app, host=settings.host, port=settings.port, print=None)
    finally:
        stores.close()
    return 0


if __name__ == "__main__":
    private_process()  # before anything is written: every file 0600, every folder 0700
    sys.exit(main())
