"""The patient and clinic directory read by the activities (S9, S14, V5; SPEC §5).

`Directory` is what the activities depend on; `SqliteDirectory` is the embedded implementation,
loaded from the JSON document of SPEC §5. A production deployment points the activities at the
real registers behind the same protocol.

Patient data never appears in errors or logs from here: a refused document names each record by
its index (patients) or clinic id (clinics), the field and the reason, never the value.
"""

from __future__ import annotations

import json
import re
import sqlite3
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Literal, Protocol, runtime_checkable

from pydantic import BaseModel, ValidationError

from adapters.sqlite import SqliteFile
from domain.directory import Clinic, DirectoryDocument, Patient, SmsConsent
from domain.identity import InvalidPatientId, parse_patient_id
from domain.phone import normalize_mobile
from domain.types import is_system_id

__all__ = [
    "Directory",
    "DirectoryLoadError",
    "LoadSummary",
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


class DirectoryLoadError(ValueError):
    """A directory document that was refused; `problems` lists every reason, without patient data."""

    def __init__(self, problems: list[str]) -> None:
        self.problems = list(problems)
        super().__init__(self.problems)

    def __str__(self) -> str:
        count = len(self.problems)
        head = f"directory document refused, {count} problem{'s' if count != 1 else ''}:"
        return "\n".join([head, *(f"  - {p}" for p in self.problems)])


class UnknownPatientError(LookupError):
    """The patient is not in the directory (the message never contains the id)."""


class LoadSummary(BaseModel):
    """What a load did: counts from the document, and how the consent history changed."""

    clinics: int
    patients: int
    consents: int
    consents_added: int = 0
    consents_withdrawn: int = 0


# --- validation -------------------------------------------------------------------------------------

_MSG_PREFIXES = ("Value error, ", "Assertion failed, ")
# Keys of a patient record whose values are patient data; they are scrubbed from any message as a
# second line of defence (the models already hide input from validation errors).
_SENSITIVE_KEYS = {
    "patient_id",
    "given_name",
    "family_name",
    "mobile",
    "name",
    "street",
    "postal_code",
    "city",
    "care_of",
}


def _parse_json(data: str | bytes) -> Any:
    try:
        return json.loads(data)
    except json.JSONDecodeError as e:
        # e.msg is the parser's reason ("Expecting ',' delimiter"), never the document's content.
        raise DirectoryLoadError(
            [f"document: invalid JSON at line {e.lineno}, column {e.colno}: {e.msg}"]
        ) from None
    except UnicodeDecodeError as e:
        raise DirectoryLoadError([f"document: not UTF-8 text (byte offset {e.start})"]) from None


def _items(raw: Any, key: str) -> list[Any]:
    value = raw.get(key) if isinstance(raw, dict) else None
    return value if isinstance(value, list) else []


def _clinic_label(raw: Any, index: int) -> str:
    clinic_id = raw.get("clinic_id") if isinstance(raw, dict) else None
    if isinstance(clinic_id, str) and is_system_id(clinic_id.strip()):
        return f"clinics[{index}] (clinic_id={clinic_id.strip()})"
    return f"clinics[{index}]"


def _patient_label(index: int) -> str:
    return f"patients[{index}] (record {index + 1})"


def _sensitive_values(raw: Any, key: str | None = None) -> set[str]:
    if isinstance(raw, dict):
        return set().union(*(_sensitive_values(v, k) for k, v in raw.items())) if raw else set()
    if isinstance(raw, list):
        return set().union(*(_sensitive_values(v, key) for v in raw)) if raw else set()
    if isinstance(raw, str) and key in _SENSITIVE_KEYS and len(raw.strip()) >= 3:
        return {raw.strip()}
    return set()


def _scrub(text: str, secrets: set[str]) -> str:
    for secret in sorted(secrets, key=len, reverse=True):
        text = text.replace(secret, "***")
    return text


def _problems(error: ValidationError, raw: Any) -> list[str]:
    clinics, patients = _items(raw, "clinics"), _items(raw, "patients")
    problems: list[str] = []
    for err in error.errors(include_url=False, include_input=False, include_context=False):
        loc, msg = tuple(err["loc"]), str(err["msg"])
        for prefix in _MSG_PREFIXES:
            msg = msg.removeprefix(prefix)
        secrets: set[str] = set()
        if len(loc) >= 2 and loc[0] == "clinics" and isinstance(loc[1], int):
            where, rest = _clinic_label(clinics[loc[1]] if loc[1] < len(clinics) else None, loc[1]), loc[2:]
        elif len(loc) >= 2 and loc[0] == "patients" and isinstance(loc[1], int):
            where, rest = _patient_label(loc[1]), loc[2:]
            secrets = _sensitive_values(patients[loc[1]] if loc[1] < len(patients) else None)
        else:
            where, rest = (".".join(str(p) for p in loc) or "document"), ()
        field = ".".join(str(p) for p in rest)
        problems.append(_scrub(f"{where}: {field}: {msg}" if field else f"{where}: {msg}", secrets))
    return problems


def _duplicates(raw: Any) -> list[str]:
    problems: list[str] = []
    seen_clinics: dict[str, int] = {}
    for index, item in enumerate(_items(raw, "clinics")):
        clinic_id = item.get("clinic_id") if isinstance(item, dict) else None
        if not isinstance(clinic_id, str) or not is_system_id(clinic_id.strip()):
            continue
        first = seen_clinics.setdefault(clinic_id.strip(), index)
        if first != index:
            problems.append(
                f"{_clinic_label(item, index)}: clinic_id: appears more than once (first at clinics[{first}])"
            )
    seen_patients: dict[str, int] = {}
    for index, item in enumerate(_items(raw, "patients")):
        patient_id = item.get("patient_id") if isinstance(item, dict) else None
        if not isinstance(patient_id, str):
            continue
        try:
            canonical = parse_patient_id(patient_id).value
        except InvalidPatientId:
            continue
        first = seen_patients.setdefault(canonical, index)
        if first != index:
            problems.append(f"{_patient_label(index)}: patient_id: same patient as {_patient_label(first)}")
    return problems


_RECORD = re.compile(r"^(clinics|patients)\[(\d+)\]")


def _record_order(problem: str) -> tuple[int, int]:
    match = _RECORD.match(problem)
    if match is None:
        return (0, 0)
    return (1 if match.group(1) == "clinics" else 2, int(match.group(2)))


def validate_document(data: dict[str, Any] | str | bytes) -> DirectoryDocument:
    """Validate a whole directory document; raise `DirectoryLoadError` listing every problem."""
    raw = _parse_json(data) if isinstance(data, str | bytes) else data
    problems: list[str] = []
    document: DirectoryDocument | None = None
    try:
        document = DirectoryDocument.model_validate(raw)
    except ValidationError as e:
        problems.extend(_problems(e, raw))
    problems.extend(_duplicates(raw))
    if problems or document is None:
        problems.sort(key=_record_order)  # stable: per record, in the order pydantic found them
        raise DirectoryLoadError(problems or ["document: could not be read"])
    return document


# --- the embedded directory ------------------------------------------------------------------------


def _utc_key(moment: datetime) -> str:
    """A fixed-width UTC form, so that text comparison is time comparison."""
    if moment.tzinfo is None:
        raise ValueError("a consent time needs a UTC offset")
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def _now() -> str:
    return datetime.now(UTC).isoformat()


def _canonical(patient_id: str) -> str:
    return parse_patient_id(patient_id).value


class SqliteDirectory(SqliteFile):
    """The embedded directory: clinics, patients and the SMS consent history in one SQLite file.

    Loading a document upserts clinics and patients (a later document updates contact details) and
    merges consents into a history that is never deleted: a consent is identified by
    (patient_id, clinic_id, source, given_at); a withdrawal is kept even if a later document omits it.
    """

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
            source TEXT NOT NULL CHECK (source IN ('VAS', '1177')),
            given_at TEXT NOT NULL,
            given_at_utc TEXT NOT NULL,
            withdrawn_at TEXT,
            withdrawn_at_utc TEXT,
            recorded_at TEXT NOT NULL
        );
        CREATE UNIQUE INDEX IF NOT EXISTS sms_consents_identity
            ON sms_consents (patient_id, ifnull(clinic_id, ''), source, given_at_utc)
    """

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
        conn: sqlite3.Connection, patient_id: str, consent: SmsConsent, now: str
    ) -> Literal["added", "withdrawn", "unchanged"]:
        """Insert a new consent, or record a withdrawal of a known one (the earliest withdrawal wins)."""
        given_utc = _utc_key(consent.given_at)
        withdrawn_iso = consent.withdrawn_at.isoformat() if consent.withdrawn_at else None
        withdrawn_utc = _utc_key(consent.withdrawn_at) if consent.withdrawn_at else None
        row = conn.execute(
            "SELECT id, withdrawn_at_utc FROM sms_consents WHERE patient_id = ?"
            " AND ifnull(clinic_id, '') = ifnull(?, '') AND source = ? AND given_at_utc = ?",
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

    def _require_patient(self, conn: sqlite3.Connection, patient_id: str) -> str:
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
        self, patient_id: str, clinic_id: str | None, source: Literal["VAS", "1177"], at: datetime
    ) -> int:
        """Withdraw the open consents of this scope and source given at or before `at`; return how many."""
        at_utc = _utc_key(at)
        with self._write() as conn:
            key = self._require_patient(conn, patient_id)
            cursor = conn.execute(
                "UPDATE sms_consents SET withdrawn_at = ?, withdrawn_at_utc = ?"
                " WHERE patient_id = ? AND ifnull(clinic_id, '') = ifnull(?, '') AND source = ?"
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


def load_directory_file(path: Path, directory: SqliteDirectory) -> LoadSummary:
    """Load a JSON directory document from a file (a syntax error is reported by line and column)."""
    return directory.load_document(Path(path).read_bytes())
