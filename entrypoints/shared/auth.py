"""Who is calling: on the HTTP API a bearer token on every `/v1` and `/fhir` call; on the staff page
the logged-in user (`entrypoints.web.session.StaffUser.caller`), checked the same way.

In production a JWT from the region's OAuth2 server, verified against its JWKS (signature, issuer,
audience, expiry; PyJWT), naming in a claim (`PM_JWT_CLINICS_CLAIM`, default `clinics`) the clinics
the client may act for; locally an API key made by `starter.py admin api-key create`, stored hashed.
No token or a bad one: 401. A clinic outside the caller's: 403. Refused calls change nothing.
"""

from __future__ import annotations

from dataclasses import dataclass

import jwt
from fastapi import Request

from application import ApiKeys
from infrastructure.config import Settings
from security.bearer_jwt import TokenRefused, Why, verified_claims

ALL_CLINICS = "*"


class Unauthenticated(Exception):
    """401: no token, or one that is not valid (the message says which, never the token)."""


class Forbidden(Exception):
    """403: the caller may not act for this clinic."""


@dataclass(frozen=True)
class Caller:
    client_id: str
    clinics: frozenset[str]
    test: bool = False  # a test key's caller: its workflows are in the test namespace (docs/test-mode.md)

    @property
    def all_clinics(self) -> bool:
        return ALL_CLINICS in self.clinics

    def may_act_for(self, clinic_id: str) -> bool:
        return self.all_clinics or clinic_id in self.clinics

    def require_clinic(self, clinic_id: str) -> None:
        if not self.may_act_for(clinic_id):
            raise Forbidden(f"client '{self.client_id}' may not act for clinic '{clinic_id}'")


class Authenticator:
    """Verifies a bearer token: a JWT when the OAuth2 server is configured, else an API key."""

    def __init__(self, settings: Settings, api_keys: ApiKeys) -> None:
        self._settings = settings
        self._api_keys = api_keys
        self._jwks = jwt.PyJWKClient(settings.jwt_jwks_url) if settings.jwt_jwks_url else None

    def caller(self, authorization: str | None) -> Caller:
        scheme, _, token = (authorization or "").partition(" ")
        if scheme.lower() != "bearer" or not token.strip():
            raise Unauthenticated("send `Authorization: Bearer <token>`")
        token = token.strip()
        if self._jwks is not None and token.count(".") == 2:
            return self._from_jwt(token)
        client = self._api_keys.client(token)
        if client is None:
            raise Unauthenticated("the token is not valid")
        return Caller(client.client_id, frozenset(client.clinics), test=client.test)

    def _from_jwt(self, token: str) -> Caller:
        settings = self._settings
        assert self._jwks is not None
        try:
            claims = verified_claims(
                self._jwks,
                token,
                audience=settings.jwt_audience,
                issuer=settings.jwt_issuer,
                require=["exp", "iss", "aud"],
            )
        except TokenRefused as refused:
            expired = refused.why is Why.EXPIRED
            raise Unauthenticated("the token has expired" if expired else "the token is not valid") from None
        client_id = str(claims.get("azp") or claims.get("client_id") or claims.get("sub") or "")
        clinics = claims.get(settings.jwt_clinics_claim) or []
        if isinstance(clinics, str):
            clinics = clinics.split()
        if not client_id or not isinstance(clinics, list):
            raise Unauthenticated("the token names no client or no clinics")
        return Caller(client_id, frozenset(str(c) for c in clinics))


def caller(request: Request) -> Caller:
    """FastAPI dependency: the authenticated caller of this request."""
    authenticator: Authenticator = request.app.state.authenticator
    return authenticator.caller(request.headers.get("authorization"))
