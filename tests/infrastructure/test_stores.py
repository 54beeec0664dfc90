"""The stores and gateways that the settings choose (infrastructure/stores.py): SQLite files in the data
folder by default, the shared PostgreSQL database with `PM_DATABASE_URL`."""

from __future__ import annotations

from pathlib import Path

import pytest

from adapters.directory import PostgresDirectory, SqliteDirectory
from adapters.inbox import HttpInbox, PostgresInbox, SqliteInbox
from adapters.mailbox import (
    DigitalMailbox,
    HttpMailbox,
    PostgresMailbox,
    PostgresMailboxLedger,
    SqliteMailbox,
    SqliteMailboxLedger,
)
from adapters.sms import PostgresOutbox, SqliteOutbox
from adapters.sms_elks import ElksSmsGateway
from adapters.sms_ledger import PostgresSentLedger, SqliteSentLedger
from infrastructure.config import Settings
from infrastructure.stores import SchemaOutOfDateError, Stores, inbox, mailbox, sms_gateway


def test_build_sms_gateway(tmp_path: Path) -> None:
    settings = Settings(data_dir=tmp_path / "data")
    outbox = sms_gateway(settings, Stores(settings))
    assert isinstance(outbox, SqliteOutbox) and outbox.path == tmp_path / "data" / "outbox.sqlite3"
    with pytest.raises(ValueError, match="46elks SMS gateway needs ELKS_USERNAME and ELKS_PASSWORD"):
        bad = settings.model_copy(update={"sms_gateway": "46elks", "elks_username": "u"})
        sms_gateway(bad, Stores(bad))
    settings = settings.model_copy(
        update={"sms_gateway": "46elks", "elks_username": "u", "elks_password": "p-secret"}
    )
    assert "p-secret" not in repr(settings)
    elks = sms_gateway(settings, Stores(settings))
    assert isinstance(elks, ElksSmsGateway)
    elks.close()


def test_build_inbox(tmp_path: Path) -> None:
    settings = Settings(data_dir=tmp_path / "data")
    embedded = inbox(settings, Stores(settings))
    assert isinstance(embedded, SqliteInbox) and embedded.path == tmp_path / "data" / "inbox-1177.sqlite3"
    for missing in ({"inbox_url": "https://inbox.example"}, {"inbox_token": "s3cret"}):
        with pytest.raises(ValueError, match="inbox over HTTP needs INBOX_1177_URL and INBOX_1177_TOKEN"):
            bad = settings.model_copy(update={"inbox": "http", **missing})
            inbox(bad, Stores(bad))
    settings = settings.model_copy(
        update={"inbox": "http", "inbox_url": "https://inbox.example", "inbox_token": "s3cret"}
    )
    assert "s3cret" not in repr(settings)
    http = inbox(settings, Stores(settings))
    assert isinstance(http, HttpInbox)
    http.close()


def test_build_mailbox(tmp_path: Path) -> None:
    settings = Settings(data_dir=tmp_path / "data")
    embedded = mailbox(settings, Stores(settings))
    assert isinstance(embedded, SqliteMailbox) and isinstance(embedded, DigitalMailbox)
    assert embedded.path == tmp_path / "data" / "mailbox.sqlite3"
    for missing in ({"far_url": "https://far.example"}, {"far_token": "s3cret"}, {}):
        with pytest.raises(ValueError, match="digital mailbox over HTTP needs FAR_URL and FAR_TOKEN"):
            bad = settings.model_copy(update={"mailbox": "http", **missing})
            mailbox(bad, Stores(bad))
    settings = settings.model_copy(
        update={"mailbox": "http", "far_url": "https://far.example", "far_token": "s3cret"}
    )
    assert "s3cret" not in repr(settings)
    stores = Stores(settings)
    http = mailbox(settings, stores)
    assert isinstance(http, HttpMailbox) and isinstance(http, DigitalMailbox)
    assert isinstance(stores.mailbox_ledger, SqliteMailboxLedger)
    assert stores.mailbox_ledger.path == tmp_path / "data" / "mailbox-ledger.sqlite3"
    http.close()


def test_mailbox_settings_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PM_MAILBOX", "http")
    monkeypatch.setenv("FAR_URL", "https://far.example")
    monkeypatch.setenv("FAR_TOKEN", "t0k3n")
    settings = Settings.from_env()
    assert (settings.mailbox, settings.far_url, settings.far_token) == (
        "http",
        "https://far.example",
        "t0k3n",
    )
    assert "t0k3n" not in repr(settings)
    monkeypatch.setenv("PM_MAILBOX", "kivra")
    with pytest.raises(ValueError, match="mailbox"):
        Settings.from_env()


def test_without_a_database_url_every_store_is_a_file_in_the_data_folder(tmp_path: Path) -> None:
    stores = Stores(Settings(data_dir=tmp_path))
    assert isinstance(stores.directory, SqliteDirectory) and isinstance(stores.sms_ledger, SqliteSentLedger)
    assert isinstance(stores.outbox, SqliteOutbox) and isinstance(stores.embedded_inbox, SqliteInbox)
    assert stores.migrate() == [] and stores.database is None
    stores.require_current_schema()  # nothing to check for files


def test_with_a_database_url_every_store_is_in_postgresql_and_the_schema_must_be_current(
    tmp_path: Path, postgres_url: str
) -> None:
    settings = Settings(data_dir=tmp_path, database_url=postgres_url)
    stores = Stores(settings)
    try:
        assert isinstance(stores.directory, PostgresDirectory)
        assert isinstance(stores.sms_ledger, PostgresSentLedger)
        assert isinstance(stores.outbox, PostgresOutbox) and isinstance(stores.embedded_inbox, PostgresInbox)
        assert isinstance(stores.embedded_mailbox, PostgresMailbox)
        assert isinstance(stores.mailbox_ledger, PostgresMailboxLedger)
        with pytest.raises(SchemaOutOfDateError, match=r"starter\.py admin migrate"):
            stores.require_current_schema()
        assert stores.migrate() == [
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
        stores.require_current_schema()
        assert stores.migrate() == []
        assert not list(tmp_path.iterdir())  # nothing of the state on this host
    finally:
        stores.close()


def test_migrate_on_start_applies_the_missing_migrations(tmp_path: Path, postgres_url: str) -> None:
    stores = Stores(Settings(data_dir=tmp_path, database_url=postgres_url, migrate_on_start=True))
    try:
        stores.require_current_schema()
        assert stores.migrate() == []
    finally:
        stores.close()
