"""`starter.py admin api-key create|revoke`, `admin codec-token create|revoke` and `starter.py audit`:
keys and codec tokens shown once and stored hashed, the audit trail printed without patient data."""

from __future__ import annotations

import json
import sqlite3
from datetime import UTC, datetime
from pathlib import Path

import pytest

import starter
from adapters.audit import AuditRecord
from demo import data as fx
from infrastructure.config import Settings
from infrastructure.stores import Stores


@pytest.fixture
def data_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("PM_DATA_DIR", str(tmp_path))
    monkeypatch.delenv("PM_DATABASE_URL", raising=False)
    monkeypatch.setenv("TEMPORAL_ADDRESS", "127.0.0.1:1")  # nothing here needs Temporal
    return tmp_path


def test_an_api_key_is_shown_once_stored_hashed_and_revocable(
    data_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert (
        starter.main(["--json", "admin", "api-key", "create", "--client-id", "vas", "--clinic", "kir"]) == 0
    )
    made = json.loads(capsys.readouterr().out)
    assert made["client_id"] == "vas" and made["clinics"] == ["kir"] and made["api_key"].startswith("pmk_")
    keys = Stores(Settings(data_dir=data_dir)).api_keys
    client = keys.client(made["api_key"])
    assert client is not None and client.clinics == ["kir"]
    with sqlite3.connect(data_dir / "api-keys.sqlite3") as conn:
        stored = " ".join(str(v) for row in conn.execute("SELECT * FROM api_keys") for v in row)
    assert made["api_key"] not in stored  # only its hash
    assert starter.main(["--json", "admin", "api-key", "revoke", "--client-id", "vas"]) == 0
    assert json.loads(capsys.readouterr().out) == {"client_id": "vas", "revoked": 1}
    assert keys.client(made["api_key"]) is None


def test_an_api_key_needs_its_clinics(data_dir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert starter.main(["admin", "api-key", "create", "--client-id", "vas"]) == 2
    assert "--clinic" in capsys.readouterr().err
    assert starter.main(["admin", "api-key", "create", "--client-id", "vas", "--clinic", "kir' OR 1=1"]) == 2
    assert "--clinic must be a system id" in capsys.readouterr().err


def test_the_audit_trail_is_printed_per_workflow_and_refuses_changes(
    data_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    audit = Stores(Settings(data_dir=data_dir)).audit
    at = datetime(2027, 3, 1, 9, 0, tzinfo=UTC)
    for workflow_id, outcome in (("sms-reminder-B1", "ok"), ("sms-reminder-B2", "refused:403")):
        audit.record(
            AuditRecord(at=at, actor="vas", action="visit.status", workflow_id=workflow_id, outcome=outcome)
        )
    assert starter.main(["--json", "audit", "--workflow-id", "sms-reminder-B2"]) == 0
    [printed] = json.loads(capsys.readouterr().out)
    assert printed == {
        "at": "2027-03-01T09:00:00Z",
        "actor": "vas",
        "action": "visit.status",
        "workflow_id": "sms-reminder-B2",
        "clinic_id": None,
        "outcome": "refused:403",
        "namespace": None,  # a codec call's (codec.decode): its namespace and number of payloads
        "payloads": None,
    }
    with (
        sqlite3.connect(data_dir / "audit.sqlite3") as conn,
        pytest.raises(sqlite3.DatabaseError, match="append-only"),
    ):
        conn.execute("DELETE FROM audit")


def test_a_codec_token_is_shown_once_stored_hashed_and_revocable(
    data_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert starter.main(["--json", "admin", "codec-token", "create", "--operator", "anna.lind"]) == 0
    made = json.loads(capsys.readouterr().out)
    assert made["operator"] == "anna.lind" and made["codec_token"].startswith("pmo_")
    tokens = Stores(Settings(data_dir=data_dir)).operator_tokens
    assert tokens.operator(made["codec_token"]) == "anna.lind"
    stored = (data_dir / "operator-tokens.sqlite3").read_bytes()
    assert made["codec_token"].encode() not in stored  # only its hash
    assert starter.main(["--json", "admin", "codec-token", "revoke", "--operator", "anna.lind"]) == 0
    assert json.loads(capsys.readouterr().out) == {"operator": "anna.lind", "revoked": 1}
    assert tokens.operator(made["codec_token"]) is None
    assert starter.main(["admin", "codec-token", "create", "--operator", fx.PNR_ADULT_1177]) == 2
    assert "--operator must be a system id" in capsys.readouterr().err
