"""The patient and clinic directory read by the activities (S9, S14, V5; SPEC §5).

`Directory` is what the activities depend on; `SqlDirectory` stores it, in an SQLite file of one host
(`SqliteDirectory`, the default) or in the service's PostgreSQL database that every worker reads
(`PostgresDirectory`), loaded from the JSON document of SPEC §5 (validated by
`adapters.directory_document`, whose `DirectoryLoadError` and `validate_document` are re-exported).
A production deployment may point the activities at the real registers behind the same protocol.

Patient data never appears in errors or logs from here.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from contextlib import AbstractContextManager, closing
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Literal, Protocol, runtime_checkable

from pydantic import BaseModel

from adapters.directory_document import DirectoryLoadError, validate_document
from adapters.postgres import PostgresTable
from adapters.sql import Connection
from adapters.sqlite import SqliteFile, statements, transaction
from domain.directory import HSA_ID_PATTERN, Clinic, Patient, Reception, SmsConsent
from domain.identity import InvalidPatientId, parse_patient_id
from domain.phone import normalize_mobile

__all__ = [
    "ConsentRecords",
    "Directory",
    "DirectoryLoadError",
    "LoadSummary",
    "PostgresDirectory",
    "SqlDirectory",
    "SqliteDirectory",
    "UnknownPatientError",
    "load_directory_file",
    "validate_document",
]


@runtime_checkable
class Directory(Protocol):
    """Read access to clinics and patients, as the activities need it."""

    def clinic(self, clinic_id: str) -> Clinic | None:
        """The clinic with its receptions, or None when unknown."""
        ...

    def patient(self, patient_id: str) -> Patient | None:
        """The patient (any spelling of the id) with the full consent history, or None."""
        ...

    def has_patient(self, patient_id: str) -> bool:
        """Whether the patient (any spelling of the id) is in the directory: the edge checks' question,
        answered without reading contact details and consents."""
        ...


@runtime_checkable
class ConsentRecords(Protocol):
    """Where a consent change is written (issue 28: a "STOPP" reply), as the activities need it."""

    def record_consent(self, patient_id: str, consent: SmsConsent) -> bool:
        """Add a consent to the history (True), or merge it into the known one (False); raises
        `UnknownPatientError` for a patient not in the directory."""
        ...


class UnknownPatientError(LookupError):
    """The patient is not in the directory (the message never contains the id)."""


class LoadSummary(BaseModel):
    """What a load did: counts from the document, and how the consent history changed."""

    clinics: int
    patients: int
    consents: int
    consents_added: int = 0
    consents_withdrawn: int = 0


# --- the stored directory --------------------------------------------------------------------------


def _utc_key(moment: datetime) -> str:
    """A fixed-width UTC form, so that text comparison is time comparison."""
    if moment.tzinfo is None:
        raise ValueError("a consent time needs a UTC offset")
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def _now() -> str:
    return datetime.now(UTC).isoformat()


def _canonical(patient_id: str) -> str:
    return parse_patient_id(patient_id).value


class SqlDirectory:
    """The directory: clinics, patients and the SMS consent history.

    Loading a document upserts clinics and patients (a later document updates contact details) and
    merges consents into a history that is never deleted: a consent is identified by
    (patient_id, clinic_id, source, given_at); a withdrawal is kept even if a later document omits it.
    """

    _read: Callable[[], AbstractContextManager[Connection]]  # from the backend (adapters/sql.py)
    _write: Callable[[], AbstractContextManager[Connection]]

    # --- Directory ---

    def clinic(self, clinic_id: str) -> Clinic | None:
        with self._read() as conn:
            row = conn.execute(
                "SELECT data FROM clinics WHERE clinic_id = ?", (clinic_id.strip(),)
            ).fetchone()
        return Clinic.model_validate_json(row["data"]) if row else None

    def patient(self, patient_id: str) -> Patient | None:
        try:
            key = _canonical(patient_id)
        except InvalidPatientId:
            return None
        with self._read() as conn:
            row = conn.execute("SELECT data FROM patients WHERE patient_id = ?", (key,)).fetchone()
            if row is None:
                return None
            consents = conn.execute(
                "SELECT clinic_id, source, given_at, withdrawn_at FROM sms_consents"
                " WHERE patient_id = ? ORDER BY given_at_utc, id",
                (key,),
            ).fetchall()
        data = json.loads(row["data"])
        data["sms_consents"] = [dict(c) for c in consents]
        return Patient.model_validate(data)

    def has_patient(self, patient_id: str) -> bool:
        try:
            key = _canonical(patient_id)
        except InvalidPatientId:
            return False
        with self._read() as conn:
            return conn.execute("SELECT 1 FROM patients WHERE patient_id = ?", (key,)).fetchone() is not None

    def receptions_by_hsa_id(self, hsa_id: str) -> list[tuple[Clinic, Reception]]:
        """The receptions whose `hsa_id` is `hsa_id`, with their clinics (none for a value that is no
        HSA-id; more than one only when the directory gave two receptions the same HSA-id)."""
        if re.fullmatch(HSA_ID_PATTERN, hsa_id) is None:
            return []
        with self._read() as conn:  # the text holds the id; each candidate is checked exactly below
            rows = conn.execute(
                "SELECT data FROM clinics WHERE data LIKE ? ORDER BY clinic_id", (f"%{json.dumps(hsa_id)}%",)
            ).fetchall()
        clinics = [Clinic.model_validate_json(r["data"]) for r in rows]
        return [(c, r) for c in clinics for r in c.receptions if r.hsa_id == hsa_id]

    # --- listing ---

    def clinics(self) -> list[Clinic]:
        with self._read() as conn:
            rows = conn.execute("SELECT data FROM clinics ORDER BY clinic_id").fetchall()
        return [Clinic.model_validate_json(r["data"]) for r in rows]

    def patient_ids(self) -> list[str]:
        with self._read() as conn:
            rows = conn.execute("SELECT patient_id FROM patients ORDER BY patient_id").fetchall()
        return [r["patient_id"] for r in rows]

    # --- loading ---

    def load_document(self, data: dict[str, Any] | str | bytes) -> LoadSummary:
        """Validate the whole document, then write all of it in one transaction (or nothing)."""
        document = validate_document(data)
        added = withdrawn = 0
        now = _now()
        with self._write() as conn:
            for clinic in document.clinics:
                conn.execute(
                    "INSERT INTO clinics (clinic_id, data, updated_at) VALUES (?, ?, ?)"
                    " ON CONFLICT (clinic_id) DO UPDATE"
                    " SET data = excluded.data, updated_at = excluded.updated_at",
                    (clinic.clinic_id, clinic.model_dump_json(), now),
                )
            for patient in document.patients:
                conn.execute(
                    "INSERT INTO patients (patient_id, data, updated_at) VALUES (?, ?, ?)"
                    " ON CONFLICT (patient_id) DO UPDATE"
                    " SET data = excluded.data, updated_at = excluded.updated_at",
                    (patient.patient_id, patient.model_dump_json(exclude={"sms_consents"}), now),
                )
                for consent in patient.sms_consents:
                    change = self._merge_consent(conn, patient.patient_id, consent, now)
                    added += change == "added"
                    withdrawn += change == "withdrawn"
        return LoadSummary(
            clinics=len(document.clinics),
            patients=len(document.patients),
            consents=sum(len(p.sms_consents) for p in document.patients),
            consents_added=added,
            consents_withdrawn=withdrawn,
        )

    @staticmethod
    def _merge_consent(
        conn: Connection, patient_id: str, consent: SmsConsent, now: str
    ) -> Literal["added", "withdrawn", "unchanged"]:
        """Insert a new consent, or record a withdrawal of a known one (the earliest withdrawal wins)."""
        given_utc = _utc_key(consent.given_at)
        withdrawn_iso = consent.withdrawn_at.isoformat() if consent.withdrawn_at else None
        withdrawn_utc = _utc_key(consent.withdrawn_at) if consent.withdrawn_at else None
        row = conn.execute(
            "SELECT id, withdrawn_at_utc FROM sms_consents WHERE patient_id = ?"
            " AND coalesce(clinic_id, '') = coalesce(?, '') AND source = ? AND given_at_utc = ?",
            (patient_id, consent.clinic_id, consent.source, given_utc),
        ).fetchone()
        if row is None:
            conn.execute(
                "INSERT INTO sms_consents (patient_id, clinic_id, source, given_at, given_at_utc,"
                " withdrawn_at, withdrawn_at_utc, recorded_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                (
                    patient_id,
                    consent.clinic_id,
                    consent.source,
                    consent.given_at.isoformat(),
                    given_utc,
                    withdrawn_iso,
                    withdrawn_utc,
                    now,
                ),
            )
            return "added"
        if withdrawn_utc is not None and (
            row["withdrawn_at_utc"] is None or withdrawn_utc < row["withdrawn_at_utc"]
        ):
            conn.execute(
                "UPDATE sms_consents SET withdrawn_at = ?, withdrawn_at_utc = ? WHERE id = ?",
                (withdrawn_iso, withdrawn_utc, row["id"]),
            )
            return "withdrawn"
        return "unchanged"

    # --- changes from staff tools ---

    def _require_patient(self, conn: Connection, patient_id: str) -> str:
        key = _canonical(patient_id)
        if conn.execute("SELECT 1 FROM patients WHERE patient_id = ?", (key,)).fetchone() is None:
            raise UnknownPatientError("patient is not in the directory")
        return key

    def record_consent(self, patient_id: str, consent: SmsConsent) -> bool:
        """Add a consent to the history (True), or merge a withdrawal into the known one (False)."""
        with self._write() as conn:
            key = self._require_patient(conn, patient_id)
            return self._merge_consent(conn, key, consent, _now()) == "added"

    def withdraw_consent(
        self, patient_id: str, clinic_id: str | None, source: Literal["VAS", "1177", "sms"], at: datetime
    ) -> int:
        """Withdraw the open consents of this scope and source given at or before `at`; return how many."""
        at_utc = _utc_key(at)
        with self._write() as conn:
            key = self._require_patient(conn, patient_id)
            cursor = conn.execute(
                "UPDATE sms_consents SET withdrawn_at = ?, withdrawn_at_utc = ?"
                " WHERE patient_id = ? AND coalesce(clinic_id, '') = coalesce(?, '') AND source = ?"
                " AND withdrawn_at IS NULL AND given_at_utc <= ?",
                (at.isoformat(), at_utc, key, clinic_id, source, at_utc),
            )
            return cursor.rowcount

    def set_mobile(self, patient_id: str, mobile: str | None) -> None:
        """Register (normalised to E.164) or remove (None) the patient's own mobile number."""
        normalized = normalize_mobile(mobile) if mobile is not None else None
        with self._write() as conn:
            key = self._require_patient(conn, patient_id)
            row = conn.execute("SELECT data FROM patients WHERE patient_id = ?", (key,)).fetchone()
            data = json.loads(row["data"])
            data["mobile"] = normalized
            conn.execute(
                "UPDATE patients SET data = ?, updated_at = ? WHERE patient_id = ?",
                (json.dumps(data, ensure_ascii=False), _now(), key),
            )


class SqliteDirectory(SqlDirectory, SqliteFile):
    """The embedded directory in an SQLite file of one host (`directory.sqlite3`)."""

    SCHEMA = """
        CREATE TABLE IF NOT EXISTS clinics (
            clinic_id TEXT PRIMARY KEY,
            data TEXT NOT NULL,
            updated_at TEXT NOT NULL
        );
        CREATE TABLE IF NOT EXISTS patients (
            patient_id TEXT PRIMARY KEY,
            data TEXT NOT NULL,
            updated_at TEXT NOT NULL
        );
        CREATE TABLE IF NOT EXISTS sms_consents (
            id INTEGER PRIMARY KEY AUTOINCREMENT,
            patient_id TEXT NOT NULL REFERENCES patients (patient_id),
            clinic_id TEXT,
            source TEXT NOT NULL CHECK (source IN ('VAS', '1177', 'sms')),
            given_at TEXT NOT NULL,
            given_at_utc TEXT NOT NULL,
            withdrawn_at TEXT,
            withdrawn_at_utc TEXT,
            recorded_at TEXT NOT NULL
        );
        CREATE UNIQUE INDEX IF NOT EXISTS sms_consents_identity
            ON sms_consents (patient_id, coalesce(clinic_id, ''), source, given_at_utc)
    """

    def _ensure_schema(self) -> None:
        """A file of a release before issue 28 refuses source `sms` (its CHECK): rebuild that table
        once (SQLite cannot alter a CHECK), then create what is missing as usual."""
        if not self._ready and self.path.exists():
            with self._ready_lock, closing(self._connect()) as conn, transaction(conn):
                row = conn.execute(
                    "SELECT sql FROM sqlite_master WHERE type = 'table' AND name = 'sms_consents'"
                ).fetchone()
                if row is not None and "'sms'" not in row["sql"]:
                    conn.execute("ALTER TABLE sms_consents RENAME TO sms_consents_before_28")
                    conn.execute("DROP INDEX IF EXISTS sms_consents_identity")
                    for statement in statements(self.SCHEMA):
                        conn.execute(statement)
                    conn.execute("INSERT INTO sms_consents SELECT * FROM sms_consents_before_28")
                    conn.execute("DROP TABLE sms_consents_before_28")
        super()._ensure_schema()


class PostgresDirectory(SqlDirectory, PostgresTable):
    """The directory in the service's PostgreSQL database, read by every worker (tables from the
    migrations). Writes run one at a time, as in SQLite: a consent merge reads before it writes."""

    SERIALIZE_WRITES = True


def load_directory_file(path: Path, directory: SqlDirectory) -> LoadSummary:
    """Load a JSON directory document from a file (a syntax error is reported by line and column)."""
    return directory.load_document(Path(path).read_bytes())
