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
audited. Settings: `CodecSettings.from_env` (`settings.py`) and docs/encryption.md; who asks:
`auth.py`; the app and its audit rows: `routes.py`.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Mapping

import structlog
from aiohttp import web

from entrypoints.codec_server.auth import CodecAuthenticator, Reader, Refused
from entrypoints.codec_server.routes import build_app, parse_payloads
from entrypoints.codec_server.settings import CodecSettings, OidcSettings
from infrastructure.config import Settings
from infrastructure.logging_setup import configure_logging
from infrastructure.stores import SchemaOutOfDateError, Stores
from security.files import tighten
from security.keyring import KEY_FILE_NAME, KeyringError, MissingKeyError, require_keyring

__all__ = [
    "CodecAuthenticator",
    "CodecSettings",
    "OidcSettings",
    "Reader",
    "Refused",
    "build_app",
    "main",
    "parse_payloads",
]

log = structlog.get_logger("codec_server")


def main(env: Mapping[str, str] = os.environ) -> int:
    """Serve until stopped; 2, with one line on stderr, for settings, keys or a schema it refuses."""
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
