"""The directory: loading, validation without patient data, upserts and the consent history (S9).

The store tests run on both backends (`backend`: a SQLite file, PostgreSQL), with processes loading
and withdrawing at once; the document checks (no store involved) and SQLite's WAL mode run on SQLite."""

from __future__ import annotations

import copy
import sqlite3
from concurrent.futures import ThreadPoolExecutor
from contextlib import closing
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import psycopg
import pytest

from adapters.directory import (
    Directory,
    DirectoryLoadError,
    SqlDirectory,
    SqliteDirectory,
    UnknownPatientError,
    load_directory_file,
)
from demo.data import (
    CLINIC_CONNECTED,
    MOBILE_ADULT_VAS,
    PNR_ADULT_1177,
    PNR_ADULT_VAS,
    PNR_ADULT_WITHDRAWN,
    PNR_CHILD,
    demo_document,
    e164,
    luhn_pnr,
)
from domain.directory import SmsConsent
from domain.phone import InvalidMobileNumber
from tests.adapters.conftest import Backend

AT = datetime(2025, 1, 1, 12, 0, tzinfo=UTC)


@pytest.fixture
def directory(backend: Backend) -> SqlDirectory:
    return backend.stores().directory


@pytest.fixture
def loaded(directory: SqlDirectory) -> SqlDirectory:
    directory.load_document(demo_document())
    return directory


@pytest.fixture
def sqlite_directory(tmp_path: Path) -> SqlDirectory:
    """For the tests of the document's checks, which refuse a document before any query."""
    return SqliteDirectory(tmp_path / "directory.sqlite3")


def snapshot(backend: Backend) -> dict[str, list[tuple[Any, ...]]]:
    """Every row of every table (SQLite: of the directory's file, with `sqlite_sequence`; PostgreSQL:
    of the service's database, with every sequence's position), to compare before and after."""
    if backend.settings.database_url is None:
        with closing(sqlite3.connect(backend.settings.data_dir / "directory.sqlite3")) as conn:
            tables = [r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")]
            return {t: sorted(conn.execute(f"SELECT * FROM {t}").fetchall(), key=repr) for t in tables}
    with psycopg.connect(backend.settings.database_url) as conn:
        tables = [r[0] for r in conn.execute("SELECT tablename FROM pg_tables WHERE schemaname = 'public'")]
        rows = {t: sorted(conn.execute(f'SELECT * FROM "{t}"').fetchall(), key=repr) for t in tables}
        rows["pg_sequences"] = conn.execute(
            "SELECT sequencename, last_value FROM pg_sequences WHERE schemaname = 'public' ORDER BY 1"
        ).fetchall()
    assert {"clinics", "patients", "sms_consents"} <= rows.keys()
    return rows


def consent_history(directory: SqlDirectory) -> list[dict[str, Any]]:
    """Every patient with the full consent history, through the store's own reads."""
    return [directory.patient(p).model_dump() for p in directory.patient_ids()]  # type: ignore[union-attr]


def patient_data(document: dict[str, Any]) -> list[str]:
    """Every personnummer, name, street and phone number of the patients, in any spelling."""
    keys = {"patient_id", "given_name", "family_name", "name", "mobile", "street"}
    values: list[str] = []

    def walk(node: Any, key: str | None) -> None:
        if isinstance(node, dict):
            for k, v in node.items():
                walk(v, k)
        elif isinstance(node, list):
            for v in node:
                walk(v, key)
        elif isinstance(node, str) and key in keys and node:
            compact = node.replace("-", "").replace(" ", "")
            values.extend([node, compact])
            if compact.startswith("07"):
                values.append(e164(compact))

    walk(document["patients"], None)
    return values


def assert_no_patient_data(text: str, document: dict[str, Any]) -> None:
    for value in patient_data(document):
        assert value not in text, "a problem message contains patient data"


def test_load_valid_document(loaded: SqlDirectory) -> None:
    assert isinstance(loaded, Directory)
    assert loaded.patient_ids() == sorted(p["patient_id"] for p in demo_document()["patients"])
    assert [c.clinic_id for c in loaded.clinics()] == ["kir", "onh", "ort"]
    clinic = loaded.clinic(CLINIC_CONNECTED)
    assert clinic is not None and clinic.sms_connected
    assert [(r.reception_id, r.minor_age_limit, r.sms_name) for r in clinic.receptions] == [
        ("kir-allm", 18, "Allmänkirurgisk mottagning"),
        ("kir-obes", 16, "Kirurgmottagning 2"),
    ]
    child = loaded.patient(PNR_CHILD)
    assert child is not None
    assert [g.mobile for g in child.guardians] == ["+46701740607", "+46701740608"]
    assert len(child.sms_consents) == 1 and child.sms_consents[0].covers(CLINIC_CONNECTED, AT)
    assert loaded.clinic("nope") is None


def test_load_summary_counts(directory: SqlDirectory) -> None:
    summary = directory.load_document(demo_document())
    assert (summary.clinics, summary.patients, summary.consents) == (3, 6, 6)
    assert summary.consents_added == 6
    again = directory.load_document(demo_document())
    assert (again.consents, again.consents_added, again.consents_withdrawn) == (6, 0, 0)


def test_patient_accepts_any_spelling_and_refuses_invalid_ids(loaded: SqlDirectory) -> None:
    compact = PNR_ADULT_1177.replace("-", "")
    patient = loaded.patient(f"  {compact} ")
    assert patient is not None and patient.patient_id == PNR_ADULT_1177
    assert loaded.patient("19800101-1234") is None  # wrong check digit
    assert loaded.patient("not an id") is None
    assert loaded.patient(luhn_pnr("20000101")) is None  # valid, not in the directory


def test_has_patient_answers_as_patient_does_for_every_spelling(loaded: SqlDirectory) -> None:
    compact = PNR_ADULT_1177.replace("-", "")
    for spelling in (PNR_ADULT_1177, f"  {compact} ", "19800101-1234", "not an id", luhn_pnr("20000101")):
        assert loaded.has_patient(spelling) is (loaded.patient(spelling) is not None)
    assert loaded.has_patient(compact) is True


def test_load_from_json_text_and_file(directory: SqlDirectory, tmp_path: Path) -> None:
    import json

    file = tmp_path / "directory.json"
    file.write_text(json.dumps(demo_document(), ensure_ascii=False), encoding="utf-8")
    assert load_directory_file(file, directory).patients == 6
    assert directory.load_document(file.read_text(encoding="utf-8")).clinics == 3


def bad_document() -> dict[str, Any]:
    doc = demo_document()
    doc["clinics"][0]["receptions"][1]["minor_age_limit"] = 30
    doc["patients"][1]["mobile"] = "046-222 22 22"  # a landline
    doc["patients"][2]["sms_consents"][0]["clinic_id"] = None  # VAS consent needs a clinic
    doc["patients"][3]["patient_id"] = "19800101-1234"  # wrong check digit
    del doc["patients"][4]["given_name"]
    doc["patients"][5]["guardians"] = [{"rank": 3, "name": "Fel Rangsson", "mobile": "070-1740611"}]
    return doc


def test_every_problem_is_reported_together(sqlite_directory: SqlDirectory) -> None:
    with pytest.raises(DirectoryLoadError) as caught:
        sqlite_directory.load_document(bad_document())
    problems = caught.value.problems
    assert problems == [
        "clinics[0] (clinic_id=kir): receptions.1.minor_age_limit: Input should be less than or equal to 25",
        "patients[1] (record 2): mobile: number is not a mobile number (landlines cannot receive SMS)",
        "patients[2] (record 3): sms_consents.0: "
        "a consent registered in VAS needs the clinic_id it was registered by",
        "patients[3] (record 4): patient_id: patient id is not a valid personnummer or samordningsnummer "
        "(date or check digit is wrong)",
        "patients[4] (record 5): given_name: Field required",
        "patients[5] (record 6): guardians.0.rank: Input should be 1 or 2",
    ]
    text = str(caught.value)
    assert text.startswith("directory document refused, 6 problems:")
    assert all(p in text for p in problems)


def test_problem_messages_contain_no_personnummer_name_or_number(sqlite_directory: SqlDirectory) -> None:
    doc = bad_document()
    # Values in the wrong place or of the wrong shape, as a careless export could produce.
    doc["patients"][0]["mobile"] = "Testa Testsson"
    doc["patients"][0]["given_name"] = ["Testa"]
    doc["patients"][0]["guardians"] = [{"rank": 1, "name": "", "mobile": "040-628 04 01"}]
    doc["patients"][2]["postal_address"] = {
        "street": "Påhittegatan 9",
        "postal_code": "ABCDE",
        "city": "Lund",
    }
    doc["patients"].append({"patient_id": "1980010112", "given_name": "Kort", "family_name": "Nummersson"})
    doc["patients"].append(copy.deepcopy(doc["patients"][0]))  # duplicate patient
    with pytest.raises(DirectoryLoadError) as caught:
        sqlite_directory.load_document(doc)
    error = caught.value
    assert len(error.problems) >= 10
    for text in [str(error), repr(error), *error.problems]:
        assert_no_patient_data(text, doc)
        assert "Testa" not in text and "Nummersson" not in text and "040-628" not in text
        assert "+4670" not in text and "070-17406" not in text and "19800101-" not in text


def test_failed_load_leaves_the_database_unchanged(loaded: SqlDirectory, backend: Backend) -> None:
    before = snapshot(backend)
    doc = demo_document()
    doc["patients"][0]["mobile"] = "070-1740650"  # a valid change …
    doc["patients"][1]["sms_consents"][0]["withdrawn_at"] = "2025-01-01T10:00:00+01:00"
    doc["clinics"].append({"clinic_id": "ny", "name": "Ny klinik"})
    doc["patients"].append({"patient_id": luhn_pnr("19990101"), "given_name": "Ny", "family_name": "Nysson"})
    doc["patients"][2]["guardians"][0]["mobile"] = "0046 40 12 34 56"  # … and one bad record
    with pytest.raises(DirectoryLoadError):
        loaded.load_document(doc)
    assert snapshot(backend) == before
    assert loaded.clinic("ny") is None


def test_failed_first_load_writes_nothing(directory: SqlDirectory) -> None:
    with pytest.raises(DirectoryLoadError):
        directory.load_document(bad_document())
    assert directory.patient_ids() == [] and directory.clinics() == []


def test_duplicates_are_refused(directory: SqlDirectory) -> None:
    doc = demo_document()
    doc["clinics"].append(copy.deepcopy(doc["clinics"][0]))
    twin = copy.deepcopy(doc["patients"][1])
    twin["patient_id"] = twin["patient_id"].replace("-", "")  # same patient, other spelling
    doc["patients"].append(twin)
    with pytest.raises(DirectoryLoadError) as caught:
        directory.load_document(doc)
    assert caught.value.problems == [
        "clinics[3] (clinic_id=kir): clinic_id: appears more than once (first at clinics[0])",
        "patients[6] (record 7): patient_id: same patient as patients[1] (record 2)",
    ]
    assert directory.patient_ids() == []


def test_json_syntax_error_gives_line_and_column_without_content(
    sqlite_directory: SqlDirectory, tmp_path: Path
) -> None:
    file = tmp_path / "broken.json"
    file.write_text(f'{{"patients": [\n  {{"patient_id": "{PNR_ADULT_1177}",, "given_name": "Testa"}}\n]}}')
    with pytest.raises(DirectoryLoadError) as caught:
        load_directory_file(file, sqlite_directory)
    (problem,) = caught.value.problems
    assert problem.startswith("document: invalid JSON at line 2, column ")
    assert PNR_ADULT_1177 not in str(caught.value) and "Testa" not in str(caught.value)
    with pytest.raises(DirectoryLoadError, match="not UTF-8"):
        sqlite_directory.load_document(b'{"clinics": ["\xe5"]}')
    with pytest.raises(DirectoryLoadError, match="document: Input should be a valid dictionary"):
        sqlite_directory.load_document("[]")


def test_later_document_updates_contact_details(loaded: SqlDirectory) -> None:
    doc = demo_document()
    doc["patients"][1]["mobile"] = "+46 70 174 06 50"
    doc["patients"][1]["postal_address"]["city"] = "Malmö"
    doc["clinics"][0]["receptions"][0]["sms_enabled"] = False
    loaded.load_document({"clinics": doc["clinics"][:1], "patients": doc["patients"][1:2]})
    patient = loaded.patient(PNR_ADULT_VAS)
    assert patient is not None and patient.mobile == "+46701740650"
    assert patient.postal_address is not None and patient.postal_address.city == "Malmö"
    clinic = loaded.clinic(CLINIC_CONNECTED)
    assert clinic is not None and clinic.receptions[0].sms_enabled is False
    assert len(loaded.patient_ids()) == 6  # patients missing from the later document stay


def test_set_mobile_normalises_and_removes(loaded: SqlDirectory) -> None:
    loaded.set_mobile(PNR_ADULT_1177.replace("-", ""), "0701740651")
    patient = loaded.patient(PNR_ADULT_1177)
    assert patient is not None and patient.mobile == "+46701740651"
    assert len(patient.sms_consents) == 1  # consents are untouched
    loaded.set_mobile(PNR_ADULT_1177, None)
    patient = loaded.patient(PNR_ADULT_1177)
    assert patient is not None and patient.mobile is None
    with pytest.raises(InvalidMobileNumber) as caught:
        loaded.set_mobile(PNR_ADULT_1177, "040-628 04 02")
    assert "628" not in str(caught.value)
    with pytest.raises(UnknownPatientError) as unknown:
        loaded.set_mobile(luhn_pnr("20000101"), MOBILE_ADULT_VAS)
    assert "20000101" not in str(unknown.value)


def test_S9_consent_history_kept_when_withdrawn(loaded: SqlDirectory) -> None:
    doc = demo_document()
    doc["patients"][1]["sms_consents"][0]["withdrawn_at"] = "2025-01-01T08:00:00+01:00"
    summary = loaded.load_document(doc)
    assert summary.consents_withdrawn == 1 and summary.consents_added == 0
    # A later document that no longer shows the withdrawal does not undo it.
    loaded.load_document(demo_document())
    patient = loaded.patient(PNR_ADULT_VAS)
    assert patient is not None
    (consent,) = patient.sms_consents
    assert consent.withdrawn_at == datetime(2025, 1, 1, 7, 0, tzinfo=UTC)
    assert not consent.covers(CLINIC_CONNECTED, AT)
    assert consent.covers(CLINIC_CONNECTED, datetime(2024, 12, 31, tzinfo=UTC))


def test_S9_consents_missing_from_later_document_are_kept(loaded: SqlDirectory) -> None:
    doc = demo_document()
    for p in doc["patients"]:
        p["sms_consents"] = []
    loaded.load_document(doc)
    for pnr in (PNR_ADULT_1177, PNR_ADULT_VAS, PNR_CHILD, PNR_ADULT_WITHDRAWN):
        patient = loaded.patient(pnr)
        assert patient is not None and len(patient.sms_consents) == 1


def test_S9_new_consent_after_withdrawal_adds_to_history(loaded: SqlDirectory) -> None:
    doc = demo_document()
    doc["patients"][5]["sms_consents"].append(
        {"clinic_id": CLINIC_CONNECTED, "source": "VAS", "given_at": "2024-10-01T09:00:00+02:00"}
    )
    assert loaded.load_document(doc).consents_added == 1
    patient = loaded.patient(PNR_ADULT_WITHDRAWN)
    assert patient is not None
    assert [c.withdrawn_at is not None for c in patient.sms_consents] == [True, False]
    assert patient.sms_consents[0].given_at < patient.sms_consents[1].given_at
    assert any(c.covers(CLINIC_CONNECTED, AT) for c in patient.sms_consents)


def test_S9_same_moment_in_another_offset_is_the_same_consent(loaded: SqlDirectory) -> None:
    doc = demo_document()
    doc["patients"][0]["sms_consents"][0]["given_at"] = "2024-01-10T11:00:00Z"  # = 12:00+01:00
    assert loaded.load_document(doc).consents_added == 0
    patient = loaded.patient(PNR_ADULT_1177)
    assert patient is not None and len(patient.sms_consents) == 1


def test_S9_withdraw_consent_only_matching_scope_and_source(loaded: SqlDirectory) -> None:
    given = datetime(2024, 9, 1, 10, 0, tzinfo=UTC)
    assert loaded.record_consent(PNR_CHILD, SmsConsent(source="1177", given_at=given)) is True
    assert loaded.record_consent(PNR_CHILD, SmsConsent(source="1177", given_at=given)) is False
    assert loaded.withdraw_consent(PNR_CHILD, "onh", "VAS", AT) == 0
    assert loaded.withdraw_consent(PNR_CHILD.replace("-", ""), CLINIC_CONNECTED, "VAS", AT) == 1
    assert loaded.withdraw_consent(PNR_CHILD, CLINIC_CONNECTED, "VAS", AT) == 0  # already withdrawn
    patient = loaded.patient(PNR_CHILD)
    assert patient is not None
    by_source = {c.source: c for c in patient.sms_consents}
    assert by_source["VAS"].withdrawn_at == AT and by_source["1177"].withdrawn_at is None
    assert by_source["1177"].covers(CLINIC_CONNECTED, AT)
    # A withdrawal never predates the consent it ends.
    assert loaded.withdraw_consent(PNR_CHILD, None, "1177", datetime(2024, 8, 1, tzinfo=UTC)) == 0
    with pytest.raises(UnknownPatientError):
        loaded.withdraw_consent(luhn_pnr("20000101"), None, "1177", AT)
    with pytest.raises(UnknownPatientError):
        loaded.record_consent(luhn_pnr("20000101"), SmsConsent(source="1177", given_at=given))


def test_S9_withdrawal_recorded_by_staff_survives_reload(loaded: SqlDirectory) -> None:
    assert loaded.withdraw_consent(PNR_ADULT_1177, None, "1177", AT) == 1
    loaded.load_document(demo_document())
    patient = loaded.patient(PNR_ADULT_1177)
    assert patient is not None and patient.sms_consents[0].withdrawn_at == AT


def test_concurrent_loads_and_reads_from_two_instances(backend: Backend) -> None:
    first, second = backend.stores().directory, backend.stores().directory
    first.load_document(demo_document())

    def work(i: int) -> int:
        store = first if i % 2 else second
        if i % 3 == 0:
            store.load_document(demo_document())
        elif i % 3 == 1:
            store.withdraw_consent(PNR_ADULT_VAS, CLINIC_CONNECTED, "VAS", AT)
        patient = store.patient(PNR_CHILD)
        assert patient is not None
        return len(store.patient_ids())

    with ThreadPoolExecutor(max_workers=8) as pool:
        assert set(pool.map(work, range(32))) == {6}
    assert sum(len(p["sms_consents"]) for p in consent_history(backend.stores().directory)) == 6


def test_sqlite_directory_file_is_in_wal_mode(tmp_path: Path) -> None:
    """Readers beside one writer, across processes (adapters/sqlite.py)."""
    path = tmp_path / "shared.sqlite3"
    SqliteDirectory(path).load_document(demo_document())
    SqliteDirectory(path).withdraw_consent(PNR_ADULT_VAS, CLINIC_CONNECTED, "VAS", AT)
    with closing(sqlite3.connect(path)) as conn:
        assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
        assert conn.execute("SELECT count(*) FROM sms_consents").fetchone()[0] == 6


def test_3_processes_loading_and_withdrawing_at_once_end_as_a_sequential_run(
    backend: Backend, tmp_path: Path
) -> None:
    """S9 with concurrent writers: each process loads the demo document and withdraws the same consent
    at one moment; none fails, and the history is a sequential run's (6 consents, the withdrawal kept)."""
    script = """
        from datetime import datetime
        from demo.data import CLINIC_CONNECTED, PNR_ADULT_VAS, demo_document
        directory = stores.directory
        directory.patient_ids()  # open the store before the start
        at = datetime.fromisoformat(sys.argv[1])
        ready()
        summary = directory.load_document(demo_document())
        withdrawn = directory.withdraw_consent(PNR_ADULT_VAS, CLINIC_CONNECTED, "VAS", at)
        done([summary.consents_added, summary.consents_withdrawn, withdrawn])
    """
    results = backend.run_together(script, 3, AT.isoformat())
    assert [sum(column) for column in zip(*results, strict=True)] == [6, 0, 1]
    sequential = SqliteDirectory(tmp_path / "sequential.sqlite3")
    for _ in range(3):
        sequential.load_document(demo_document())
        sequential.withdraw_consent(PNR_ADULT_VAS, CLINIC_CONNECTED, "VAS", AT)
    directory = backend.stores().directory
    assert consent_history(directory) == consent_history(sequential)
    assert directory.clinics() == sequential.clinics()
    assert sum(len(p["sms_consents"]) for p in consent_history(directory)) == 6
    patient = directory.patient(PNR_ADULT_VAS)
    assert patient is not None
    (consent,) = patient.sms_consents
    assert consent.withdrawn_at == AT and not consent.covers(CLINIC_CONNECTED, AT)


def test_S9_a_stop_by_sms_is_kept_in_the_consent_history(loaded: SqlDirectory) -> None:
    stop = SmsConsent(source="sms", clinic_id=CLINIC_CONNECTED, given_at=AT, withdrawn_at=AT)
    assert loaded.record_consent(PNR_ADULT_1177, stop) is True
    assert loaded.record_consent(PNR_ADULT_1177, stop) is False  # the same reply again: nothing new
    patient = loaded.patient(PNR_ADULT_1177)
    assert patient is not None and stop in patient.sms_consents


def test_S9_a_directory_file_of_an_earlier_release_takes_a_stop_by_sms(tmp_path: Path) -> None:
    path = tmp_path / "directory.sqlite3"
    with closing(sqlite3.connect(path)) as conn, conn:
        conn.executescript(SqliteDirectory.SCHEMA.replace("'1177', 'sms'", "'1177'"))
    old = SqliteDirectory(path)
    old.load_document(demo_document())
    stop = SmsConsent(source="sms", clinic_id=CLINIC_CONNECTED, given_at=AT, withdrawn_at=AT)
    assert old.record_consent(PNR_ADULT_1177, stop) is True
    patient = old.patient(PNR_ADULT_1177)
    assert patient is not None and {c.source for c in patient.sms_consents} == {"1177", "sms"}
