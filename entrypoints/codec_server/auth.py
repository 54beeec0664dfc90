"""Who asks the codec server: a personal codec token of a named operator, or the access token of the
region's OpenID Connect provider (a JWT naming the person and the operator role or their clinics)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import jwt

from application import OPERATOR_TOKEN_PREFIX, OperatorTokens
from domain.types import is_system_id
from entrypoints.codec_server.settings import OidcSettings
from security.bearer_jwt import TokenRefused, Why, verified_claims

ALL_CLINICS = "*"


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
