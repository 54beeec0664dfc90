"""Settings from the environment, shared by the worker, the CLI and `connect()` (SPEC §5)."""

from __future__ import annotations

import json
import os
from datetime import timedelta
from pathlib import Path
from typing import Literal
from urllib.parse import urlsplit

from pydantic import BaseModel, Field, field_validator, model_validator

from adapters.sms import SENDER

PROJECT_DIR = Path(__file__).resolve().parent.parent  # the checkout: `.data/` beside README.md


class Settings(BaseModel):
    temporal_address: str = "localhost:7233"
    namespace: str = "default"
    test_namespace: str | None = None  # test keys' traffic (docs/test-mode.md); None: `<namespace>-test`
    task_queue: str = "patient-messaging"
    data_dir: Path = PROJECT_DIR / ".data"
    sms_gateway: Literal["outbox", "46elks"] = "outbox"
    sms_sender: str = Field(default="Varden", pattern=SENDER)  # checked at start, not at each send
    elks_url: str = "https://api.46elks.com"
    elks_username: str | None = None
    elks_password: str | None = Field(default=None, repr=False)
    database_url: str | None = Field(default=None, repr=False)  # postgresql://…: the shared stores
    migrate_on_start: bool = False  # apply missing migrations when the worker starts
    inbox: Literal["embedded", "http"] = "embedded"
    inbox_url: str | None = None
    inbox_token: str | None = Field(default=None, repr=False)
    mailbox: Literal["embedded", "http"] = "embedded"  # the digital mailbox (docs/mailbox.md)
    far_url: str | None = None  # its FaR lookup over HTTP
    far_token: str | None = Field(default=None, repr=False)
    api_host: str = "127.0.0.1"  # the HTTP API (entrypoints/http)
    api_port: int = 8000
    jwt_issuer: str | None = None  # production: tokens from the region's OAuth2 server …
    jwt_audience: str | None = None
    jwt_jwks_url: str | None = None  # … verified against its JWKS
    jwt_clinics_claim: str = "clinics"  # the claim naming the clinics a client may act for
    oidc_metadata_url: str | None = None  # the staff page's OpenID provider: its discovery document URL
    oidc_client_id: str | None = None
    oidc_client_secret: str | None = Field(default=None, repr=False)
    oidc_clinics_claim: str = "clinics"  # the ID token claim naming the clinics a staff member works for
    public_url: str | None = None  # e.g. https://pm.region.se: every absolute URL; the Host header's check
    web_session_hours: float = Field(default=10, gt=0)  # a login lasts a working day
    web_demo_login: bool = False  # `dev.py run`: log in as a demo user, without a password
    web_demo_users: dict[str, tuple[str, list[str]]] = {}  # … of these: id → (name, clinics), by dev.py
    delivery_secret: str | None = Field(default=None, repr=False)  # the SMS provider's callbacks
    delivery_url: str | None = None  # public URL of the delivery-report callback (46elks `whendelivered`)
    log_format: Literal["json", "console", "auto"] = "auto"
    local: bool = False  # set by `dev.py run`: a missing key is created in the data folder
    max_cached_workflows: int = 1000  # the SDK's default: holds a wave of 1,000 (docs/performance.md §1, §2)
    sms_rate_limit: float | None = Field(default=None, gt=0)  # requests/s to the SMS provider, all workers
    sms_history_wait: float = Field(default=300, ge=0)  # s a retry waits for 46elks' history (issue 29)
    sms_clock_margin: float = Field(default=900, ge=0)  # s 46elks' clock may be behind ours (issue 29)
    sticky_timeout: float = Field(default=10, gt=0)  # s a woken task waits for its worker's cache
    poller_autoscaling: bool = False  # the SDK scales the workflow task pollers to the backlog (a 09:00 wave)
    metrics_bind: str | None = None  # e.g. 127.0.0.1:9464: the worker's Prometheus endpoint
    api_metrics_bind: str | None = None  # e.g. 127.0.0.1:9465: the API's (SMS replies, issue 28)
    workflow_sandbox: bool = False  # the SDK's sandbox, at a CPU cost (docs/performance.md §1)
    tls: bool = False
    tls_cert: Path | None = None  # client certificate and key for mTLS
    tls_key: Path | None = None
    tls_ca: Path | None = None  # server CA, when not in the system store
    tls_server_name: str | None = None
    api_key: str | None = Field(default=None, repr=False)  # Temporal Cloud API key (implies TLS)

    @classmethod
    def from_env(cls, **overrides: object) -> Settings:
        """Read `TEMPORAL_ADDRESS`, `TEMPORAL_NAMESPACE`, `TEMPORAL_TASK_QUEUE`, `PM_DATA_DIR`, ..."""
        env = {
            "temporal_address": os.environ.get("TEMPORAL_ADDRESS"),
            "namespace": os.environ.get("TEMPORAL_NAMESPACE"),
            "test_namespace": os.environ.get("PM_TEST_NAMESPACE"),
            "task_queue": os.environ.get("TEMPORAL_TASK_QUEUE"),
            "data_dir": os.environ.get("PM_DATA_DIR"),
            "sms_gateway": os.environ.get("PM_SMS_GATEWAY"),
            "sms_sender": os.environ.get("PM_SMS_SENDER"),
            "elks_url": os.environ.get("ELKS_URL"),
            "elks_username": os.environ.get("ELKS_USERNAME"),
            "elks_password": os.environ.get("ELKS_PASSWORD"),
            "database_url": os.environ.get("PM_DATABASE_URL"),
            "migrate_on_start": os.environ.get("PM_MIGRATE_ON_START"),
            "inbox": os.environ.get("PM_INBOX"),
            "inbox_url": os.environ.get("INBOX_1177_URL"),
            "inbox_token": os.environ.get("INBOX_1177_TOKEN"),
            "mailbox": os.environ.get("PM_MAILBOX"),
            "far_url": os.environ.get("FAR_URL"),
            "far_token": os.environ.get("FAR_TOKEN"),
            "api_host": os.environ.get("PM_API_HOST"),
            "api_port": os.environ.get("PM_API_PORT"),
            "jwt_issuer": os.environ.get("PM_JWT_ISSUER"),
            "jwt_audience": os.environ.get("PM_JWT_AUDIENCE"),
            "jwt_jwks_url": os.environ.get("PM_JWT_JWKS_URL"),
            "jwt_clinics_claim": os.environ.get("PM_JWT_CLINICS_CLAIM"),
            "oidc_metadata_url": os.environ.get("PM_OIDC_METADATA_URL"),
            "oidc_client_id": os.environ.get("PM_OIDC_CLIENT_ID"),
            "oidc_client_secret": os.environ.get("PM_OIDC_CLIENT_SECRET"),
            "oidc_clinics_claim": os.environ.get("PM_OIDC_CLINICS_CLAIM"),
            "public_url": os.environ.get("PM_PUBLIC_URL"),
            "web_session_hours": os.environ.get("PM_WEB_SESSION_HOURS"),
            "web_demo_login": os.environ.get("PM_WEB_DEMO_LOGIN"),
            "web_demo_users": os.environ.get("PM_WEB_DEMO_USERS"),
            "delivery_secret": os.environ.get("PM_DELIVERY_SECRET"),
            "delivery_url": os.environ.get("PM_DELIVERY_URL"),
            "log_format": os.environ.get("PM_LOG_FORMAT"),
            "local": os.environ.get("PM_LOCAL"),
            "metrics_bind": os.environ.get("PM_METRICS_BIND"),
            "api_metrics_bind": os.environ.get("PM_API_METRICS_BIND"),
            "max_cached_workflows": os.environ.get("PM_MAX_CACHED_WORKFLOWS"),
            "workflow_sandbox": os.environ.get("PM_WORKFLOW_SANDBOX"),
            "sms_rate_limit": os.environ.get("PM_SMS_RATE_LIMIT"),
            "sms_history_wait": os.environ.get("PM_SMS_HISTORY_WAIT"),
            "sms_clock_margin": os.environ.get("PM_SMS_CLOCK_MARGIN"),
            "sticky_timeout": os.environ.get("PM_STICKY_TIMEOUT"),
            "poller_autoscaling": os.environ.get("PM_POLLER_AUTOSCALING"),
            "tls": os.environ.get("TEMPORAL_TLS"),
            "tls_cert": os.environ.get("TEMPORAL_TLS_CERT"),
            "tls_key": os.environ.get("TEMPORAL_TLS_KEY"),
            "tls_ca": os.environ.get("TEMPORAL_TLS_CA"),
            "tls_server_name": os.environ.get("TEMPORAL_TLS_SERVER_NAME"),
            "api_key": os.environ.get("TEMPORAL_API_KEY"),
        }
        values = {k: v for k, v in env.items() if v} | overrides
        return cls.model_validate(values)

    @field_validator("web_demo_users", mode="before")
    @classmethod
    def _read_demo_users(cls, users: object) -> object:
        """`PM_WEB_DEMO_USERS` is JSON: `{"sara": ["Sara Lind", ["kir"]], …}`."""
        if isinstance(users, str | bytes):
            try:
                return json.loads(users)
            except ValueError:
                raise ValueError("must be JSON: {user id: [name, [clinic id, ...]], ...}") from None
        return users

    @model_validator(mode="after")
    def _test_namespace_apart(self) -> Settings:
        if self.test_namespace and self.test_namespace.strip() == self.namespace:
            raise ValueError("PM_TEST_NAMESPACE must differ from TEMPORAL_NAMESPACE (test traffic apart)")
        return self

    @field_validator("public_url")
    @classmethod
    def _check_public_url(cls, url: str | None) -> str | None:
        if url is None:
            return None
        parts = urlsplit(url.strip())
        if parts.scheme not in ("http", "https") or not parts.hostname or parts.username is not None:
            raise ValueError("must be http(s)://host[:port], e.g. https://pm.region.se")
        if parts.path not in ("", "/") or parts.query or parts.fragment:
            raise ValueError("must be the service's root, without a path: http(s)://host[:port]")
        _ = parts.port  # a port that is not a number raises here
        return f"{parts.scheme}://{parts.netloc.lower()}"

    @property
    def public_base_url(self) -> str:
        """`PM_PUBLIC_URL`, or locally the API's own address (`http://127.0.0.1:8000`)."""
        if self.public_url:
            return self.public_url
        host = "127.0.0.1" if self.api_host in ("", "0.0.0.0", "::") else self.api_host
        return f"http://{f'[{host}]' if ':' in host else host}:{self.api_port}"

    @property
    def test_mode_namespace(self) -> str | None:
        """The namespace of test keys' workflows (`PM_TEST_NAMESPACE`, default `<namespace>-test`);
        None when test mode is switched off (`PM_TEST_NAMESPACE=off`)."""
        if self.test_namespace is None:
            return f"{self.namespace}-test"
        name = self.test_namespace.strip()
        if name.lower() == "off" or not name:
            return None
        return name

    @property
    def sticky_queue_timeout(self) -> timedelta:
        """`sticky_timeout` as the `Worker` option takes it."""
        return timedelta(seconds=self.sticky_timeout)

    @property
    def key_file(self) -> Path:
        return self.data_dir / "keys.txt"
