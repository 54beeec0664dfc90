"""The audit trail and the API keys on both backends: append-only, newest last, keys by their hash."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from adapters.audit import ApiClient, AuditRecord
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
