"""The codec server's stores on both backends: personal codec tokens by their hash until revoked, and
the audit trail's codec columns (namespace, number of payloads), also in an audit file of an earlier
release."""

from __future__ import annotations

import sqlite3
from datetime import UTC, datetime
from pathlib import Path

from adapters.audit import AuditRecord, SqliteAuditTrail
from tests.adapters.conftest import Backend

AT = datetime(2027, 3, 1, 9, 0, tzinfo=UTC)


def test_codec_tokens_name_their_operator_until_revoked(backend: Backend) -> None:
    tokens = backend.stores().operator_tokens
    anna, anna_again, bo = tokens.create("anna.lind"), tokens.create("anna.lind"), tokens.create("bo.ek")
    again = backend.stores().operator_tokens
    assert (again.operator(anna), again.operator(anna_again), again.operator(bo)) == (
        "anna.lind",
        "anna.lind",
        "bo.ek",
    )
    assert again.operator(anna + "x") is None and again.operator("") is None
    assert again.revoke("anna.lind") == 2 and again.revoke("anna.lind") == 0
    assert (
        again.operator(anna) is None and again.operator(anna_again) is None and again.operator(bo) == "bo.ek"
    )


def test_the_audit_trail_keeps_a_codec_calls_namespace_and_payload_count(backend: Backend) -> None:
    audit = backend.stores().audit
    audit.record(AuditRecord(at=AT, actor="vas", action="visit.status", outcome="ok"))
    codec = AuditRecord(
        at=AT,
        actor="staff:hsa-1",
        action="codec.decode",
        clinic_id="*",
        namespace="default",
        payloads=3,
        outcome="ok",
    )
    audit.record(codec)
    assert backend.stores().audit.records() == [
        AuditRecord(at=AT, actor="vas", action="visit.status", outcome="ok"),
        codec,
    ]


def test_an_audit_file_of_an_earlier_release_gains_the_codec_columns_and_keeps_its_rows(
    tmp_path: Path,
) -> None:
    path = tmp_path / "audit.sqlite3"
    with sqlite3.connect(path) as conn:  # the schema before the codec columns
        conn.execute(
            "CREATE TABLE audit (seq INTEGER PRIMARY KEY AUTOINCREMENT, at TEXT NOT NULL,"
            " actor TEXT NOT NULL, action TEXT NOT NULL, workflow_id TEXT, clinic_id TEXT,"
            " outcome TEXT NOT NULL)"
        )
        conn.execute(
            "INSERT INTO audit (at, actor, action, outcome) VALUES (?, 'vas', 'visit.book', 'ok')",
            (AT.isoformat(),),
        )
    conn.close()
    audit = SqliteAuditTrail(path)
    audit.record(AuditRecord(at=AT, actor="operator:anna.lind", action="codec.decode", namespace="default",
                             payloads=1, outcome="ok"))  # fmt: skip
    assert [(r.action, r.namespace, r.payloads) for r in audit.records()] == [
        ("visit.book", None, None),
        ("codec.decode", "default", 1),
    ]
    audit.close()
