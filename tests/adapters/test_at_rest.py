"""At rest (issue 24, item 9): the FHIR store keeps no personnummer in clear, on both backends, and
every file a store writes is 0600 in a 0700 folder, whatever the process's umask."""

from __future__ import annotations

import json
import os
import sqlite3
import stat
from collections.abc import Iterator
from contextlib import closing, contextmanager
from datetime import date
from pathlib import Path
from typing import Any

import psycopg
import pytest

from adapters.letters import Letter, build_letters
from demo import data as fx
from domain.directory import PostalAddress
from infrastructure.config import Settings
from infrastructure.stores import Stores
from security.at_rest import SealedDataError
from security.files import tighten
from security.keyring import Keyring
from tests.adapters.conftest import Backend

PNR = fx.PNR_ADULT_1177  # 19800101-1231
DIGITS = PNR.replace("-", "")
SPELLINGS = [DIGITS, PNR, DIGITS[2:], f"{DIGITS[2:8]}-{DIGITS[8:]}", f"{DIGITS[2:8]}+{DIGITS[8:]}"]
NAME = "Testa Testsson"
PNR_SYSTEM = "http://electronichealth.se/identifier/personnummer"


def appointment(appointment_id: str, status: str = "booked") -> dict[str, Any]:
    return {
        "resourceType": "Appointment",
        "id": appointment_id,
        "status": status,
        "start": "2027-03-29T10:00:00+02:00",
        "participant": [
            {
                "actor": {
                    "identifier": {"system": PNR_SYSTEM, "value": DIGITS},
                    "display": NAME,
                },
                "status": "accepted",
            },
            {"actor": {"identifier": {"system": "urn:oid:1.2.752.29.4.19", "value": "SE2321000016-KIR1"}}},
        ],
    }


def stored_bytes(backend: Backend) -> bytes:
    """Everything the store keeps: the SQLite file with its WAL, or the table's rows as PostgreSQL
    prints them."""
    url = backend.settings.database_url
    if url is None:
        return b"".join(p.read_bytes() for p in backend.settings.data_dir.glob("fhir.sqlite3*"))
    with psycopg.connect(url) as conn:
        return "\n".join(r[0] for r in conn.execute("SELECT t::text FROM fhir_appointments t")).encode()


def assert_no_patient_data(data: bytes) -> None:
    for spelling in [*SPELLINGS, NAME]:
        assert spelling.encode() not in data, f"{spelling!r} is stored in clear"


@contextmanager
def opened(backend: Backend, keyring: Keyring) -> Iterator[Stores]:
    stores = Stores(backend.settings, keyring)
    try:
        yield stores
    finally:
        stores.close()


def test_the_fhir_store_keeps_no_personnummer_in_clear_and_reads_back_after_a_rotation(
    backend: Backend,
) -> None:
    keyring = Keyring.generate("k-old")
    with opened(backend, keyring) as stores:
        first = stores.fhir_appointments.save("kir:F1", "kir", appointment("F1"))
        stores.fhir_appointments.save("kir:F2", "kir", appointment("F2"))
    data = stored_bytes(backend)
    assert_no_patient_data(data)
    assert b"pm-sealed:v1:k-old:" in data

    rotated = keyring.rotated("k-new")  # the old key still decrypts; the new one seals
    with opened(backend, rotated) as stores:
        found = stores.fhir_appointments.get("kir:F1")
        assert found is not None and found.resource == first.resource and found.clinic_id == "kir"
        second = stores.fhir_appointments.save("kir:F2", "kir", appointment("F2", "cancelled"))
        again = stores.fhir_appointments.get("kir:F2")
        assert again is not None and again.resource == second.resource and again.version == 2
    data = stored_bytes(backend)
    assert_no_patient_data(data)
    assert b"pm-sealed:v1:k-new:" in data

    other = Keyring.generate("k-other")  # without the key: refused, and the message has no patient data
    with opened(backend, other) as stores, pytest.raises(SealedDataError, match="k-old") as refused:
        stores.fhir_appointments.get("kir:F1")
    assert DIGITS not in str(refused.value)


def test_a_sealed_resource_does_not_open_in_another_row(backend: Backend) -> None:
    keyring = Keyring.generate()
    with opened(backend, keyring) as stores:
        stores.fhir_appointments.save("kir:F1", "kir", appointment("F1"))
        stores.fhir_appointments.save("onh:F9", "onh", appointment("F9"))
    execute(backend, "UPDATE fhir_appointments SET resource = (SELECT resource FROM fhir_appointments"
            " WHERE appointment_id = 'kir:F1') WHERE appointment_id = 'onh:F9'")  # fmt: skip
    with opened(backend, keyring) as stores, pytest.raises(SealedDataError, match="not of this row"):
        stores.fhir_appointments.get("onh:F9")


def test_rows_stored_in_clear_before_are_served_and_sealed_when_the_store_opens(backend: Backend) -> None:
    keyring = Keyring.generate()
    with opened(backend, keyring) as stores:
        stores.fhir_appointments.get("none")  # the schema (SQLite)

    clear = {**appointment("B7"), "meta": {"versionId": "1", "lastUpdated": "2027-03-01T09:00:00.000Z"}}
    execute(
        backend,
        "INSERT INTO fhir_appointments (appointment_id, clinic_id, version_id, last_updated, resource)"
        " VALUES ('B7', 'kir', 1, '2027-03-01T09:00:00+00:00', ?)",
        json.dumps(clear, ensure_ascii=False),
    )  # as a release before the sealing wrote it (a legacy id, unscoped)
    assert DIGITS.encode() in stored_bytes(backend)

    with opened(backend, keyring) as stores:
        found = stores.fhir_appointments.get("B7")
        assert found is not None and found.resource == clear and found.version == 1
    assert_no_patient_data(stored_bytes(backend))


def execute(backend: Backend, sql: str, *params: str) -> None:
    """A statement on the store's table as another program (or an earlier release) would run it."""
    url = backend.settings.database_url
    if url is None:
        path = backend.settings.data_dir / "fhir.sqlite3"
        with closing(sqlite3.connect(path, isolation_level=None)) as conn:
            conn.execute(sql, params)
        return
    with psycopg.connect(url) as conn:
        conn.execute(sql.replace("?", "%s"), params)  # type: ignore[arg-type]


# --- file modes ----------------------------------------------------------------------------------------


def modes(folder: Path) -> dict[str, int]:
    found = {".": stat.S_IMODE(folder.stat().st_mode)}
    for path in folder.rglob("*"):
        found[str(path.relative_to(folder))] = stat.S_IMODE(path.lstat().st_mode)
    return found


def assert_private(folder: Path) -> None:
    loose = {
        name: f"{mode:04o}"
        for name, mode in modes(folder).items()
        if mode != (0o700 if (folder / name).is_dir() else 0o600)
    }
    assert loose == {}, f"not 0600 files in 0700 folders: {loose}"


@pytest.fixture
def loose_umask() -> Iterator[None]:
    """The umask a host may have (022): the stores must not depend on the entrypoints' 077."""
    old = os.umask(0o022)
    try:
        yield
    finally:
        os.umask(old)


def test_every_store_file_is_0600_in_a_0700_folder_whatever_the_umask(
    tmp_path: Path, loose_umask: None
) -> None:
    data_dir = tmp_path / "data"
    stores = Stores(Settings(data_dir=data_dir), Keyring.generate())
    try:
        stores.directory.load_document(fx.demo_document())
        with stores.sms_ledger.exclusive("k"):
            pass
        stores.outbox.messages()
        stores.inbox_ledger.get("k")
        stores.embedded_inbox.count()
        stores.mailbox_ledger.get("k")
        stores.embedded_mailbox.register(PNR)
        stores.audit.records()
        stores.api_keys.client("pmk_none")
        stores.operator_tokens.operator("pmo_none")
        stores.fhir_appointments.save("kir:F1", "kir", appointment("F1"))
        stores.staff_sessions.revoke_user("nobody")
        stores.webhooks.register("vas-kir", "kir", "https://booking.example/hooks")
        build_letters(data_dir).send(
            Letter(
                key="care-invitation:kir:R1/invitation",
                recipient_name=NAME,
                address=PostalAddress(street="Gatan 1", postal_code="123 45", city="Staden"),
                sender_name="Kliniken",
                subject="Kallelse",
                body="Ring oss.",
                date=date(2027, 3, 1),
            )
        )
    finally:
        stores.close()
    names = set(modes(data_dir))
    assert {"directory.sqlite3", "fhir.sqlite3-wal", "sms-ledger.lock", "audit.sqlite3"} <= names
    assert {"mailbox.sqlite3", "mailbox-ledger.sqlite3"} <= names
    assert any(n.startswith("letters/") and n.endswith(".pdf") for n in names)
    assert_private(data_dir)


def test_tighten_closes_a_data_folder_of_before_but_leaves_a_loose_key_file_to_be_refused(
    tmp_path: Path,
) -> None:
    data_dir = tmp_path / "data"
    (data_dir / "letters").mkdir(parents=True)
    for name in ("directory.sqlite3", "letters/a.pdf", "temporal-server.log", "keys.txt"):
        (data_dir / name).write_text("x")
        (data_dir / name).chmod(0o644)
    (data_dir / "letters").chmod(0o755)
    data_dir.chmod(0o755)
    assert tighten(data_dir) == 5
    found = modes(data_dir)
    assert found.pop("keys.txt") == 0o644  # security.keyring refuses it: its keys may have leaked
    assert found == {
        ".": 0o700,
        "letters": 0o700,
        "letters/a.pdf": 0o600,
        "directory.sqlite3": 0o600,
        "temporal-server.log": 0o600,
    }
    assert tighten(data_dir) == 0
