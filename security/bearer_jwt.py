"""A bearer JWT of the region's identity provider, verified against its JWKS (PyJWT): signature,
issuer, audience, expiry and the claims a door requires. One verification for the HTTP API's
systems and the codec server's people; each door words the refusal for its callers."""

from __future__ import annotations

from enum import Enum
from typing import Any

import jwt

JWT_ALGORITHMS = ["RS256", "ES256", "PS256"]


class Why(Enum):
    EXPIRED = "expired"
    AUDIENCE = "audience"
    ISSUER = "issuer"
    KEYS_UNREACHABLE = "keys unreachable"
    INVALID = "invalid"


class TokenRefused(Exception):
    """The token is not accepted; `why` says which check refused it (never the token)."""

    def __init__(self, why: Why) -> None:
        super().__init__(why.value)
        self.why = why


def verified_claims(
    jwks: jwt.PyJWKClient, token: str, *, audience: str | None, issuer: str | None, require: list[str]
) -> dict[str, Any]:
    """The claims of `token` once its signature (a key of `jwks`), issuer, audience, expiry and the
    `require`d claims check out; else `TokenRefused`. Blocking (the provider's keys, cached)."""
    try:
        key = jwks.get_signing_key_from_jwt(token)
        return jwt.decode(
            token, key.key, algorithms=JWT_ALGORITHMS, audience=audience, issuer=issuer,
            options={"require": require},
        )  # fmt: skip
    except jwt.ExpiredSignatureError:
        raise TokenRefused(Why.EXPIRED) from None
    except jwt.InvalidAudienceError:
        raise TokenRefused(Why.AUDIENCE) from None
    except jwt.InvalidIssuerError:
        raise TokenRefused(Why.ISSUER) from None
    except jwt.PyJWKClientConnectionError:
        raise TokenRefused(Why.KEYS_UNREACHABLE) from None
    except (jwt.PyJWTError, jwt.PyJWKClientError):
        raise TokenRefused(Why.INVALID) from None
