"""The booking systems' webhooks and the deliveries of their events (docs/webhooks.md), and the port
through which an event reaches a webhook (`WebhookSender`, `adapters/webhook_sender.py`).

A webhook is one per API client and clinic: a URL and a signing secret `whsec_…` (Standard Webhooks),
the secret shown once when the webhook is made and kept sealed with the payload keyring
(`security.at_rest`, bound to its row), since the service needs it to sign; API keys, which it only
checks, are kept as hashes. A delivery is one event to one webhook: its attempts, the last answer
(an HTTP status or the kind of error, never a body) and whether it was delivered or given up.
Nothing here holds patient data: events carry the booking system's own ids only.
"""

from __future__ import annotations

import base64
import secrets
from collections.abc import Callable, Sequence
from contextlib import AbstractContextManager
from datetime import UTC, datetime
from enum import StrEnum
from typing import Protocol

from pydantic import BaseModel

from adapters.postgres import PostgresTable
from adapters.sql import Connection, rows
from adapters.sqlite import SqliteFile
from security.at_rest import seal, unseal
from security.keyring import Keyring

SECRET_PREFIX = "whsec_"
MAX_ERROR = 200


class Event(Protocol):
    """An event as the store and the sender see it (`contracts.events.Event`): its id, type, clinic and
    JSON body."""

    @property
    def id(self) -> str: ...
    @property
    def type(self) -> str: ...
    @property
    def clinic_id(self) -> str: ...
    def body(self) -> str: ...


class WebhookSender(Protocol):
    """Posts one signed event to one URL; raises `DeliveryFailed` unless the receiver answered 2xx."""

    def send(self, url: str, secret: str, event: Event) -> int: ...


class DeliveryFailed(Exception):
    """A receiver did not take the event: `status` its HTTP status, or None when none came (refused,
    timed out); the message names the status or the kind of error, never the receiver's answer."""

    def __init__(self, message: str, status: int | None = None) -> None:
        super().__init__(message[:MAX_ERROR])
        self.status = status


class DeliveryStatus(StrEnum):
    PENDING = "pending"  # tried, not taken yet: retried
    DELIVERED = "delivered"  # the receiver answered 2xx
    FAILED = "failed"  # given up (retries exhausted, or the webhook removed)


class Webhook(BaseModel):
    """A registration as its owner sees it: never the secret."""

    client_id: str
    clinic_id: str
    url: str
    created_at: datetime


class Registered(BaseModel):
    """What `register` did: `secret` only when the webhook is new (shown once)."""

    webhook: Webhook
    new: bool
    secret: str | None = None


class SigningWebhook(BaseModel):
    """A webhook with its secret, for the sender only."""

    client_id: str
    clinic_id: str
    url: str
    secret: str


class DeliveryRecord(BaseModel):
    event_id: str
    event_type: str
    client_id: str
    clinic_id: str
    status: DeliveryStatus
    attempts: int
    last_status_code: int | None = None
    last_error: str | None = None
    first_attempt_at: datetime
    last_attempt_at: datetime
    delivered_at: datetime | None = None
    body: str  # the event's JSON body (system ids only)


def new_secret() -> str:
    """A Standard Webhooks signing secret: `whsec_` and 32 random bytes in base64."""
    return SECRET_PREFIX + base64.b64encode(secrets.token_bytes(32)).decode("ascii")


def _stamp(at: datetime) -> str:
    return at.astimezone(UTC).isoformat(timespec="microseconds")


def _place(client_id: str, clinic_id: str) -> str:
    """What a sealed secret is bound to: its table and row."""
    return f"webhooks\x00{client_id}\x00{clinic_id}"


_DELIVERY_COLUMNS = (
    "event_id, event_type, client_id, clinic_id, status, attempts, last_status_code, last_error,"
    " first_attempt_at, last_attempt_at, delivered_at, body"
)


def _delivery(row: dict[str, object]) -> DeliveryRecord:
    return DeliveryRecord.model_validate(row)


class Webhooks:
    """The webhooks by (client, clinic), and the deliveries of events to them."""

    _read: Callable[[], AbstractContextManager[Connection]]  # from the backend (adapters/sql.py)
    _write: Callable[[], AbstractContextManager[Connection]]
    keyring: Callable[[], Keyring] | None = None  # set by `infrastructure.stores.Stores`: seals the secrets

    def _keys(self) -> Keyring:
        if self.keyring is None:
            raise RuntimeError(
                "the webhook store needs the keyring (open it with Stores): no secret in clear"
            )
        return self.keyring()

    # --- registrations ---

    def register(self, client_id: str, clinic_id: str, url: str, at: datetime | None = None) -> Registered:
        """Make the webhook of `client_id` at `clinic_id` (a new secret, returned once), or point the
        existing one at `url` (its secret kept, not shown again)."""
        at = at or datetime.now(UTC)
        secret = new_secret()
        sealed = seal(self._keys(), secret.encode(), _place(client_id, clinic_id))
        with self._write() as conn:
            row = conn.execute(
                "SELECT url, created_at FROM webhooks WHERE client_id = ? AND clinic_id = ?",
                (client_id, clinic_id),
            ).fetchone()
            if row is None:
                conn.execute(
                    "INSERT INTO webhooks (client_id, clinic_id, url, secret, created_at, updated_at)"
                    " VALUES (?, ?, ?, ?, ?, ?)",
                    (client_id, clinic_id, url, sealed, _stamp(at), _stamp(at)),
                )
                webhook = Webhook(client_id=client_id, clinic_id=clinic_id, url=url, created_at=at)
                return Registered(webhook=webhook, new=True, secret=secret)
            if row["url"] != url:
                conn.execute(
                    "UPDATE webhooks SET url = ?, updated_at = ? WHERE client_id = ? AND clinic_id = ?",
                    (url, _stamp(at), client_id, clinic_id),
                )
        created = datetime.fromisoformat(row["created_at"])
        return Registered(
            webhook=Webhook(client_id=client_id, clinic_id=clinic_id, url=url, created_at=created), new=False
        )

    def remove(self, client_id: str, clinic_id: str) -> bool:
        """Remove the webhook (its deliveries stay listed); False when there was none."""
        with self._write() as conn:
            return (
                conn.execute(
                    "DELETE FROM webhooks WHERE client_id = ? AND clinic_id = ?", (client_id, clinic_id)
                ).rowcount
                > 0
            )

    def of_client(self, client_id: str, clinics: Sequence[str] | None) -> list[Webhook]:
        """The client's webhooks at `clinics` (None: at every clinic)."""
        with self._read() as conn:
            found = rows(
                conn.execute(
                    "SELECT client_id, clinic_id, url, created_at FROM webhooks WHERE client_id = ?"
                    " ORDER BY clinic_id",
                    (client_id,),
                )
            )
        return [Webhook(**r) for r in found if clinics is None or r["clinic_id"] in clinics]

    def at_clinic(self, clinic_id: str) -> list[str]:
        """The clients with a webhook at `clinic_id`."""
        with self._read() as conn:
            found = rows(
                conn.execute(
                    "SELECT client_id FROM webhooks WHERE clinic_id = ? ORDER BY client_id", (clinic_id,)
                )
            )
        return [r["client_id"] for r in found]

    def clinics(self) -> set[str]:
        """Every clinic with at least one webhook (what a publisher checks before it publishes)."""
        with self._read() as conn:
            return {r["clinic_id"] for r in rows(conn.execute("SELECT DISTINCT clinic_id FROM webhooks"))}

    def signing(self, client_id: str, clinic_id: str) -> SigningWebhook | None:
        """The webhook with its secret unsealed, for sending; None when it was removed."""
        with self._read() as conn:
            row = conn.execute(
                "SELECT url, secret FROM webhooks WHERE client_id = ? AND clinic_id = ?",
                (client_id, clinic_id),
            ).fetchone()
        if row is None:
            return None
        secret = unseal(self._keys(), row["secret"], _place(client_id, clinic_id)).decode()
        return SigningWebhook(client_id=client_id, clinic_id=clinic_id, url=row["url"], secret=secret)

    # --- deliveries ---

    def record_attempt(
        self,
        event: Event,
        client_id: str,
        *,
        status: DeliveryStatus,
        status_code: int | None = None,
        error: str | None = None,
        at: datetime | None = None,
    ) -> None:
        """One attempt to deliver `event` to the client's webhook at its clinic (`status` pending or
        delivered), or the end of trying (`failed`, not an attempt). `delivered` is final."""
        at = at or datetime.now(UTC)
        tried = 0 if status is DeliveryStatus.FAILED else 1
        delivered_at = _stamp(at) if status is DeliveryStatus.DELIVERED else None
        error = error[:MAX_ERROR] if error else None
        with self._write() as conn:
            conn.execute(
                f"INSERT INTO webhook_deliveries ({_DELIVERY_COLUMNS})"
                " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
                " ON CONFLICT (event_id, client_id, clinic_id) DO UPDATE SET"
                " status = excluded.status,"
                " attempts = webhook_deliveries.attempts + excluded.attempts,"
                " last_status_code = CASE WHEN excluded.attempts > 0 THEN excluded.last_status_code"
                " ELSE webhook_deliveries.last_status_code END,"
                " last_error = CASE WHEN excluded.attempts > 0 THEN excluded.last_error"
                " ELSE COALESCE(excluded.last_error, webhook_deliveries.last_error) END,"
                " last_attempt_at = CASE WHEN excluded.attempts > 0 THEN excluded.last_attempt_at"
                " ELSE webhook_deliveries.last_attempt_at END,"
                " delivered_at = excluded.delivered_at"
                " WHERE webhook_deliveries.status <> 'delivered'",
                (
                    event.id,
                    str(event.type),
                    client_id,
                    event.clinic_id,
                    status.value,
                    tried,
                    status_code,
                    error,
                    _stamp(at),
                    _stamp(at),
                    delivered_at,
                    event.body(),
                ),
            )

    def delivery(self, event_id: str, client_id: str, clinic_id: str) -> DeliveryRecord | None:
        with self._read() as conn:
            row = conn.execute(
                f"SELECT {_DELIVERY_COLUMNS} FROM webhook_deliveries"
                " WHERE event_id = ? AND client_id = ? AND clinic_id = ?",
                (event_id, client_id, clinic_id),
            ).fetchone()
        return _delivery(dict(row)) if row else None

    def deliveries(
        self,
        client_id: str,
        clinics: Sequence[str] | None,
        status: DeliveryStatus | None = None,
        limit: int = 100,
    ) -> list[DeliveryRecord]:
        """The client's deliveries at `clinics` (None: every clinic), of one status when given, the
        latest attempt first."""
        where, params = "client_id = ?", [client_id]
        if status is not None:
            where, params = where + " AND status = ?", [*params, status.value]
        if clinics is not None:
            if not clinics:
                return []
            where += f" AND clinic_id IN ({', '.join('?' for _ in clinics)})"
            params += list(clinics)
        with self._read() as conn:
            found = rows(
                conn.execute(
                    f"SELECT {_DELIVERY_COLUMNS} FROM webhook_deliveries WHERE {where}"
                    " ORDER BY last_attempt_at DESC LIMIT ?",
                    (*params, limit),
                )
            )
        return [_delivery(r) for r in found]


class SqliteWebhooks(Webhooks, SqliteFile):
    """The webhooks and their deliveries in an SQLite file of one host (`webhooks.sqlite3`)."""

    SCHEMA = """
        CREATE TABLE IF NOT EXISTS webhooks (
            client_id TEXT NOT NULL,
            clinic_id TEXT NOT NULL,
            url TEXT NOT NULL,
            secret TEXT NOT NULL,
            created_at TEXT NOT NULL,
            updated_at TEXT NOT NULL,
            PRIMARY KEY (client_id, clinic_id)
        );
        CREATE INDEX IF NOT EXISTS webhooks_clinic ON webhooks (clinic_id);
        CREATE TABLE IF NOT EXISTS webhook_deliveries (
            event_id TEXT NOT NULL,
            event_type TEXT NOT NULL,
            client_id TEXT NOT NULL,
            clinic_id TEXT NOT NULL,
            status TEXT NOT NULL,
            attempts INTEGER NOT NULL,
            last_status_code INTEGER,
            last_error TEXT,
            first_attempt_at TEXT NOT NULL,
            last_attempt_at TEXT NOT NULL,
            delivered_at TEXT,
            body TEXT NOT NULL,
            PRIMARY KEY (event_id, client_id, clinic_id)
        );
        CREATE INDEX IF NOT EXISTS webhook_deliveries_client
            ON webhook_deliveries (client_id, status, last_attempt_at)
    """


class PostgresWebhooks(Webhooks, PostgresTable):
    """The webhooks and their deliveries in the service's PostgreSQL database (migration 0007)."""
