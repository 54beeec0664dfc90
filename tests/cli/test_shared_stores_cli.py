"""The doors on the shared PostgreSQL stores: `starter.py admin migrate` prepares the schema,
`starter.py directory load` writes the directory every worker reads, and a worker refuses to start
on a schema that lacks migrations (and says which command applies them)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

import starter
from adapters.directory import PostgresDirectory
from adapters.postgres import PostgresDatabase
from demo import data as fx
from security.keyring import ENV_VAR, Keyring

ROOT = Path(__file__).resolve().parent.parent.parent


@pytest.fixture
def shared(tmp_path: Path, postgres_url: str, monkeypatch: pytest.MonkeyPatch) -> str:
    monkeypatch.setenv("PM_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("PM_DATABASE_URL", postgres_url)
    monkeypatch.setenv("TEMPORAL_ADDRESS", "127.0.0.1:1")  # nothing here needs Temporal
    return postgres_url


def test_admin_migrate_then_directory_load_writes_the_shared_database(
    shared: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    document = tmp_path / "directory.json"
    document.write_text(json.dumps(fx.demo_document(), ensure_ascii=False), encoding="utf-8")
    assert starter.main(["directory", "load", str(document)]) == 2  # no schema yet: refused, told what to do
    assert "starter.py admin migrate" in capsys.readouterr().err

    assert starter.main(["--json", "admin", "migrate"]) == 0
    assert json.loads(capsys.readouterr().out) == {
        "migrations_applied": [
            "0001",
            "0002",
            "0003",
            "0004",
            "0005",
            "0006",
            "0007",
            "0008",
            "0009",
            "0010",
            "0011",
            "0012",
            "0013",
            "0014",
        ]
    }
    assert starter.main(["--json", "admin", "migrate"]) == 0
    assert json.loads(capsys.readouterr().out) == {"migrations_applied": []}

    assert starter.main(["directory", "load", str(document)]) == 0
    database = PostgresDatabase(shared)
    try:
        patient = PostgresDirectory(database).patient(fx.PNR_ADULT_1177)  # as another host reads it
        assert patient is not None and patient.given_name == "Testa"
    finally:
        database.close()
    assert not (tmp_path / "data" / "directory.sqlite3").exists()


def test_admin_migrate_without_a_database_url_is_one_error_line(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.delenv("PM_DATABASE_URL", raising=False)
    monkeypatch.setenv("PM_DATA_DIR", str(tmp_path))
    assert starter.main(["admin", "migrate"]) == 2
    assert (
        capsys.readouterr().err
        == "error: set PM_DATABASE_URL to the service's PostgreSQL database to migrate it\n"
    )


def test_the_worker_refuses_to_start_on_a_schema_without_migrations(shared: str, tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PM_", "TEMPORAL_"))}
    env |= {
        "PM_DATABASE_URL": shared,
        "PM_DATA_DIR": str(tmp_path / "data"),
        "PM_LOG_FORMAT": "json",
        ENV_VAR: Keyring.generate().to_text(),
        "TEMPORAL_ADDRESS": "127.0.0.1:1",
    }
    done = subprocess.run(
        [sys.executable, str(ROOT / "worker.py")],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 2
    refusal = json.loads((done.stdout + done.stderr).strip().splitlines()[-1])
    assert refusal["event"] == "worker_refused_to_start"
    assert (
        "starter.py admin migrate" in refusal["reason"]
        and ", ".join(f"{n:04d}" for n in range(1, 15)) in refusal["reason"]
    )
    assert shared.split("@")[0] not in done.stdout + done.stderr  # no URL (with its credentials) in the log
