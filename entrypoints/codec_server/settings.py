"""The codec server's settings, from the environment (`CodecSettings.from_env`; docs/encryption.md)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Literal, cast

from infrastructure.config import PROJECT_DIR

DEFAULT_ORIGINS = "http://localhost:8233"


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
