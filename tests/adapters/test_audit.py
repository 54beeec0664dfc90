"""The audit trail and the API keys on both backends: append-only, newest last, keys by their hash."""

from __future__ import annotations

import sqlite3
from contextlib import closing
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from adapters.audit import ApiClient, AuditRecord, KindConflict, SqliteApiKeys
from adapters.sql import secret_digest
from tests.adapters.conftest import Backend

AT = datetime(2027, 3, 1, 9, 0, tzinfo=UTC)


def record(i: int, workflow_id: str | None = "sms-reminder-B1") -> AuditRecord:
    return AuditRecord(
        at=AT + timedelta(seconds=i), actor="vas", action=f"a{i}", workflow_id=workflow_id, outcome="ok"
    )


def test_the_audit_trail_keeps_every_record_in_order_and_per_workflow(backend: Backend) -> None:
    audit = backend.stores().audit
    for i in range(5):
        audit.record(record(i, "sms-reminder-B1" if i % 2 else "sms-reminder-B2"))
    assert [r.action for r in backend.stores().audit.records()] == ["a0", "a1", "a2", "a3", "a4"]
    assert [r.action for r in audit.records(workflow_id="sms-reminder-B1")] == ["a1", "a3"]
    assert [r.action for r in audit.records(limit=2)] == ["a3", "a4"]
    assert audit.records()[0].at == AT


def test_the_audit_trail_refuses_updates_and_deletes(backend: Backend) -> None:
    audit = backend.stores().audit
    audit.record(record(0))
    for statement in ("DELETE FROM audit", "UPDATE audit SET outcome = 'ok2'"):
        with pytest.raises(Exception, match="append-only"), audit._write() as conn:
            conn.execute(statement)
    assert [r.outcome for r in audit.records()] == ["ok"]


def test_api_keys_are_found_by_the_token_only_until_revoked(backend: Backend) -> None:
    keys = backend.stores().api_keys
    token = keys.create(ApiClient(client_id="vas", clinics=["kir", "onh"]))
    other = keys.create(ApiClient(client_id="feed", clinics=["*"]))
    again = backend.stores().api_keys
    assert again.client(token) == ApiClient(client_id="vas", clinics=["kir", "onh"])
    assert again.client(other) == ApiClient(client_id="feed", clinics=["*"])
    assert again.client(token + "x") is None and again.client("") is None
    assert again.revoke("vas") == 1 and again.client(token) is None and again.client(other) is not None


def test_a_test_key_is_of_kind_test_with_its_prefix_and_a_client_id_keeps_one_kind(backend: Backend) -> None:
    """Test mode (docs/test-mode.md): `pmk_test_` keys, found as test clients; a client is live or test."""
    keys = backend.stores().api_keys
    token = keys.create(ApiClient(client_id="sandbox", clinics=["kir"], test=True))
    live = keys.create(ApiClient(client_id="vas", clinics=["kir"]))
    assert token.startswith("pmk_test_") and live.startswith("pmk_") and not live.startswith("pmk_test_")
    again = backend.stores().api_keys
    assert again.client(token) == ApiClient(client_id="sandbox", clinics=["kir"], test=True)
    assert again.client(live) == ApiClient(client_id="vas", clinics=["kir"], test=False)
    assert again.test_clients() == {"sandbox"}
    with pytest.raises(KindConflict, match="either live or test"):
        again.create(ApiClient(client_id="vas", clinics=["kir"], test=True))
    with pytest.raises(KindConflict):
        again.create(ApiClient(client_id="sandbox", clinics=["kir"]))
    assert again.revoke("sandbox") == 1 and again.test_clients() == {"sandbox"}  # the kind stays


def test_an_api_key_file_of_an_earlier_release_gets_the_kind_column_and_its_keys_stay_live(
    tmp_path: Path,
) -> None:
    path = tmp_path / "api-keys.sqlite3"
    with closing(sqlite3.connect(path)) as conn, conn:
        conn.execute(
            "CREATE TABLE api_keys (digest TEXT PRIMARY KEY, client_id TEXT NOT NULL, clinics TEXT NOT NULL,"
            " created_at TEXT NOT NULL, revoked_at TEXT)"
        )
        conn.execute(
            "INSERT INTO api_keys VALUES (?, 'vas', '[\"kir\"]', '2026-01-01T00:00:00+00:00', NULL)",
            (secret_digest("pmk_old"),),
        )
    keys = SqliteApiKeys(path)
    assert keys.client("pmk_old") == ApiClient(client_id="vas", clinics=["kir"], test=False)
    assert keys.test_clients() == set()
