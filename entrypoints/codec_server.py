"""Codec server: decrypts (and encrypts) payloads for the Temporal Web UI and CLI of authorised operators.

    PM_CODEC_TOKEN=... python codec_server.py

POST `/encode` and `/decode` (also under `/<namespace>/`) take and return `{"payloads": [...]}`, each
payload in proto3 JSON. Every request needs `Authorization: Bearer <PM_CODEC_TOKEN>`; browsers are
served only from the origins in `PM_CODEC_ORIGINS`. Settings: `PM_CODEC_HOST` (127.0.0.1),
`PM_CODEC_PORT` (8081), `PM_CODEC_TOKEN` (required), `PM_CODEC_ORIGINS` (comma list,
http://localhost:8233); keys from `PM_ENCRYPTION_KEYS` or `<PM_DATA_DIR>/keys.txt` (docs/encryption.md).
Payload contents are never logged.
"""

from __future__ import annotations

import hmac
import logging
import os
import sys
from collections.abc import Awaitable, Callable, Mapping, Sequence
from pathlib import Path

from aiohttp import hdrs, web
from google.protobuf import json_format
from temporalio.api.common.v1 import Payload, Payloads

from infrastructure.config import PROJECT_DIR
from security.codec import EncryptionCodec, PayloadDecryptionError
from security.keyring import KEY_FILE_NAME, Keyring, KeyringError, MissingKeyError, require_keyring

log = logging.getLogger("codec_server")

ALLOW_HEADERS = "Authorization, Content-Type, X-Namespace, Authorization-Extras"
MAX_BODY_BYTES = 64 * 1024 * 1024
MIN_TOKEN_CHARS = 16
DEFAULT_ORIGINS = "http://localhost:8233"

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


def build_app(
    keyring: Keyring, token: str, origins: Sequence[str], local_ui: bool = False
) -> web.Application:
    """The codec server for `keyring`, accepting `token` and browsers from `origins` only.

    `local_ui` (the local run command only, server bound to loopback): the Web UI of the dev server
    cannot send a bearer token, so a browser request from an allowed origin needs none. Production
    puts an authenticating proxy in front instead (docs/encryption.md).
    """
    if not token:
        raise ValueError("the codec server needs a bearer token")
    codec = EncryptionCodec(keyring)
    allowed = frozenset(origin.strip().rstrip("/") for origin in origins if origin.strip())
    expected = f"Bearer {token}".encode()

    def cors(request: web.Request) -> dict[str, str]:
        origin = request.headers.get(hdrs.ORIGIN)
        if origin is None or origin not in allowed:
            return {}
        return {
            hdrs.ACCESS_CONTROL_ALLOW_ORIGIN: origin,
            hdrs.ACCESS_CONTROL_ALLOW_CREDENTIALS: "true",
            hdrs.VARY: "Origin",
        }

    @web.middleware
    async def guard(request: web.Request, handler: Handler) -> web.StreamResponse:
        origin = request.headers.get(hdrs.ORIGIN)
        if origin is not None and origin not in allowed:
            log.warning("codec_request_refused reason=origin path=%s", request.path)
            return web.json_response({"error": "origin not allowed"}, status=403)
        headers = cors(request)
        if request.method == hdrs.METH_OPTIONS:  # CORS preflight: carries no credentials
            headers |= {
                hdrs.ACCESS_CONTROL_ALLOW_METHODS: "POST, OPTIONS",
                hdrs.ACCESS_CONTROL_ALLOW_HEADERS: ALLOW_HEADERS,
                hdrs.ACCESS_CONTROL_MAX_AGE: "600",
            }
            return web.Response(status=204, headers=headers)
        supplied = request.headers.get(hdrs.AUTHORIZATION, "").encode()
        trusted_browser = local_ui and origin is not None and not supplied
        if not trusted_browser and not hmac.compare_digest(supplied, expected):
            log.warning("codec_request_refused reason=token path=%s", request.path)
            headers[hdrs.WWW_AUTHENTICATE] = "Bearer"
            return web.json_response({"error": "missing or wrong bearer token"}, status=401, headers=headers)
        try:
            response = await handler(request)
        except web.HTTPException as err:
            err.headers.update(headers)
            raise
        response.headers.update(headers)
        return response

    def endpoint(transform: Callable[[Sequence[Payload]], Awaitable[list[Payload]]]) -> Handler:
        async def handle(request: web.Request) -> web.StreamResponse:
            try:
                body = Payloads()
                json_format.Parse(await request.read(), body)
            except (json_format.ParseError, UnicodeDecodeError, ValueError):
                return web.json_response({"error": 'body must be JSON {"payloads": [...]}'}, status=400)
            try:
                result = Payloads(payloads=await transform(body.payloads))
            except PayloadDecryptionError as err:  # names the key id only
                log.warning("codec_decode_failed path=%s: %s", request.path, err)
                return web.json_response({"error": str(err)}, status=400)
            log.info("codec_%s payloads=%d", request.path.rsplit("/", 1)[-1], len(result.payloads))
            return web.Response(text=json_format.MessageToJson(result), content_type="application/json")

        return handle

    async def preflight(request: web.Request) -> web.StreamResponse:  # answered by `guard`
        return web.Response(status=204)

    app = web.Application(middlewares=[guard], client_max_size=MAX_BODY_BYTES)
    for prefix in ("", "/{namespace}"):
        app.router.add_post(f"{prefix}/encode", endpoint(codec.encode))
        app.router.add_post(f"{prefix}/decode", endpoint(codec.decode))
        app.router.add_options(f"{prefix}/encode", preflight)
        app.router.add_options(f"{prefix}/decode", preflight)
    return app


def main(env: Mapping[str, str] = os.environ) -> int:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s %(message)s")
    token = env.get("PM_CODEC_TOKEN", "").strip()
    if len(token) < MIN_TOKEN_CHARS:
        print(
            f"error: PM_CODEC_TOKEN must be set to a secret of at least {MIN_TOKEN_CHARS} characters, e.g. "
            "`python -c 'import secrets; print(secrets.token_urlsafe(32))'`",
            file=sys.stderr,
        )
        return 2
    key_file = Path(env.get("PM_DATA_DIR") or PROJECT_DIR / ".data") / KEY_FILE_NAME
    try:
        keyring = require_keyring(env, key_file)
    except (MissingKeyError, KeyringError, OSError) as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    origins = env.get("PM_CODEC_ORIGINS", DEFAULT_ORIGINS).split(",")
    host, port = env.get("PM_CODEC_HOST", "127.0.0.1"), int(env.get("PM_CODEC_PORT", "8081"))
    local_ui = env.get("PM_CODEC_LOCAL_UI", "") == "1"
    if local_ui and host not in ("127.0.0.1", "localhost", "::1"):
        print("error: PM_CODEC_LOCAL_UI is only allowed with the server bound to loopback", file=sys.stderr)
        return 2
    log.info("codec_server_started host=%s port=%d keys=%s", host, port, ",".join(keyring.key_ids))
    web.run_app(build_app(keyring, token, origins, local_ui), host=host, port=port, print=None)
    return 0


if __name__ == "__main__":
    sys.exit(main())
