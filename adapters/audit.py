"""The audit trail (Patientdatalagen): who read or changed a patient's messages, what, when, with
which outcome — append-only, never the patient data itself (system ids, action names, outcomes).

And the API keys of the systems that call the HTTP API, stored hashed (SHA-256 of a 256-bit random
token: a table leak gives no usable key), each with its client id and the clinics it may act for.
"""

from __future__ import annotations

import json
import secrets
from collections.abc import Callable
from contextlib import AbstractContextManager
from datetime import UTC, datetime
from typing import ClassVar

from pydantic import BaseModel

from adapters.postgres import PostgresTable
from adapters.sql import Connection, rows, secret_digest
from adapters.sqlite import SqliteFile

API_KEY_PREFIX = "pmk_"
TEST_KEY_PREFIX = "pmk_test_"
"""A test key's visible prefix (docs/test-mode.md): its calls run in the test namespace."""


class KindConflict(ValueError):
    """A client id has keys of the other kind: a client is either live or test, never both."""


class AuditRecord(BaseModel):
    at: datetime
    actor: str  # a client id or a staff user id: never a patient's
    action: str  # e.g. "visit.book", "request.status"
    workflow_id: str | None = None
    clinic_id: str | None = None
    outcome: str  # "ok", or the refusal: "refused:403", "refused:422", …
    namespace: str | None = None  # the Temporal namespace of a codec call, or of a test key's call
    payloads: int | None = None  # how many payloads a codec call decoded or encoded


class AuditTrail:
    """Append-only: `record` adds, `records` reads; nothing updates or deletes."""

    _read: Callable[[], AbstractContextManager[Connection]]  # from the backend (adapters/sql.py)
    _write: Callable[[], AbstractContextManager[Connection]]

    def record(self, record: AuditRecord) -> None:
        with self._write() as conn:
            conn.execute(
                "INSERT INTO audit (at, actor, action, workflow_id, clinic_id, outcome, namespace, payloads)"
                " VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                (
                    record.at.astimezone(UTC).isoformat(),
                    record.actor,
                    record.action,
                    record.workflow_id,
                    record.clinic_id,
                    record.outcome,
                    record.namespace,
                    record.payloads,
                ),
            )

    def records(self, *, workflow_id: str | None = None, limit: int = 1000) -> list[AuditRecord]:
        """The newest `limit` records (of one workflow when given), oldest first."""
        where, params = ("WHERE workflow_id = ?", [workflow_id]) if workflow_id else ("", [])
        with self._read() as conn:
            found = rows(
                conn.execute(
                    "SELECT at, actor, action, workflow_id, clinic_id, outcome, namespace, payloads"
                    f" FROM audit {where}"
                    " ORDER BY seq DESC LIMIT ?",
                    (*params, limit),
                )
            )
        return [AuditRecord(**r) for r in reversed(list(found))]


class ApiClient(BaseModel):
    client_id: str
    clinics: list[str]  # the clinics the client may act for; ["*"]: every clinic
    test: bool = False  # a test client: its workflows run in the test namespace (docs/test-mode.md)


class ApiKeys:
    """API keys by their SHA-256; the token itself is shown once, when it is made."""

    _read: Callable[[], AbstractContextManager[Connection]]
    _write: Callable[[], AbstractContextManager[Connection]]

    def create(self, client: ApiClient) -> str:
        """A new key for `client`: returns the token (stored only as its hash); a test key starts with
        `pmk_test_`. KindConflict when the client id has keys of the other kind."""
        token = (TEST_KEY_PREFIX if client.test else API_KEY_PREFIX) + secrets.token_urlsafe(32)
        with self._write() as conn:
            other = conn.execute(
                "SELECT 1 FROM api_keys WHERE client_id = ? AND test <> ? LIMIT 1",
                (client.client_id, int(client.test)),
            ).fetchone()
            if other is not None:
                kind = "live" if client.test else "test"
                raise KindConflict(
                    f"client '{client.client_id}' has {kind} keys: a client is either live or test,"
                    " use another client id"
                )
            conn.execute(
                "INSERT INTO api_keys (digest, client_id, clinics, created_at, test) VALUES (?, ?, ?, ?, ?)",
                (
                    secret_digest(token),
                    client.client_id,
                    json.dumps(client.clinics),
                    datetime.now(UTC).isoformat(),
                    int(client.test),
                ),
            )
        return token

    def client(self, token: str) -> ApiClient | None:
        """The client a token belongs to, or None (unknown or revoked)."""
        with self._read() as conn:
            row = conn.execute(
                "SELECT client_id, clinics, test FROM api_keys WHERE digest = ? AND revoked_at IS NULL",
                (secret_digest(token),),
            ).fetchone()
        if row is None:
            return None
        return ApiClient(
            client_id=row["client_id"], clinics=json.loads(row["clinics"]), test=bool(row["test"])
        )

    def test_clients(self) -> set[str]:
        """The client ids of test keys (revoked ones included: a client never changes kind)."""
        with self._read() as conn:
            return {
                r["client_id"] for r in conn.execute("SELECT DISTINCT client_id FROM api_keys WHERE test = 1")
            }

    def revoke(self, client_id: str) -> int:
        """Revoke every key of `client_id`; returns how many."""
        with self._write() as conn:
            return conn.execute(
                "UPDATE api_keys SET revoked_at = ? WHERE client_id = ? AND revoked_at IS NULL",
                (datetime.now(UTC).isoformat(), client_id),
            ).rowcount


class SqliteAuditTrail(AuditTrail, SqliteFile):
    """The audit trail in an SQLite file of one host (`audit.sqlite3`)."""

    SCHEMA = """
        CREATE TABLE IF NOT EXISTS audit (
            seq INTEGER PRIMARY KEY AUTOINCREMENT,
            at TEXT NOT NULL,
            actor TEXT NOT NULL,
            action TEXT NOT NULL,
            workflow_id TEXT,
            clinic_id TEXT,
            outcome TEXT NOT NULL,
            namespace TEXT,
            payloads INTEGER
        );
        CREATE INDEX IF NOT EXISTS audit_workflow ON audit (workflow_id);
        CREATE TRIGGER IF NOT EXISTS audit_append_only_update BEFORE UPDATE ON audit
            BEGIN SELECT RAISE(ABORT, 'the audit trail is append-only'); END;
        CREATE TRIGGER IF NOT EXISTS audit_append_only_delete BEFORE DELETE ON audit
            BEGIN SELECT RAISE(ABORT, 'the audit trail is append-only'); END
    """

    ADDED_COLUMNS: ClassVar[dict[str, dict[str, str]]] = {
        "audit": {"namespace": "TEXT", "payloads": "INTEGER"}  # codec calls
    }


class PostgresAuditTrail(AuditTrail, PostgresTable):
    """The audit trail in the service's PostgreSQL database (append-only by trigger, migration 0002)."""


class SqliteApiKeys(ApiKeys, SqliteFile):
    """The API keys in an SQLite file of one host (`api-keys.sqlite3`)."""

    SCHEMA = """
        CREATE TABLE IF NOT EXISTS api_keys (
            digest TEXT PRIMARY KEY,
            client_id TEXT NOT NULL,
            clinics TEXT NOT NULL,
            created_at TEXT NOT NULL,
            revoked_at TEXT,
            test INTEGER NOT NULL DEFAULT 0
        )
    """
    ADDED_COLUMNS: ClassVar[dict[str, dict[str, str]]] = {"api_keys": {"test": "INTEGER NOT NULL DEFAULT 0"}}


class PostgresApiKeys(ApiKeys, PostgresTable):
    """The API keys in the service's PostgreSQL database (migration 0002)."""
