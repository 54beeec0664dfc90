"""The FHIR Appointments the HTTP API accepted (`PUT /fhir/Appointment/{id}`): id → the last accepted
resource, its version (`meta.versionId`, 1, 2, … one per accepted PUT) and when (`meta.lastUpdated`),
with the clinic it belongs to (the caller's clinic is checked against it before it is shown).

The resource names the patient by personnummer or samordningsnummer: it is patient data in the
service's database, like the directory. Nothing here logs it or puts it in an error.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from contextlib import AbstractContextManager
from datetime import UTC, datetime
from typing import Any

from pydantic import BaseModel

from adapters.postgres import PostgresTable
from adapters.sql import Connection
from adapters.sqlite import SqliteFile


class StoredAppointment(BaseModel):
    appointment_id: str
    clinic_id: str
    version: int
    last_updated: datetime
    resource: dict[str, Any]  # the FHIR JSON, with `meta.versionId` and `meta.lastUpdated`


def fhir_instant(moment: datetime) -> str:
    """A FHIR `instant` in UTC with milliseconds: `2027-03-29T08:00:00.000Z`."""
    return moment.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


class FhirAppointments:
    """The last accepted version of each Appointment; `save` writes the next one."""

    _read: Callable[[], AbstractContextManager[Connection]]  # from the backend (adapters/sql.py)
    _write: Callable[[], AbstractContextManager[Connection]]

    def get(self, appointment_id: str) -> StoredAppointment | None:
        with self._read() as conn:
            row = conn.execute(
                "SELECT appointment_id, clinic_id, version_id, last_updated, resource"
                " FROM fhir_appointments WHERE appointment_id = ?",
                (appointment_id,),
            ).fetchone()
        if row is None:
            return None
        return StoredAppointment(
            appointment_id=row["appointment_id"],
            clinic_id=row["clinic_id"],
            version=row["version_id"],
            last_updated=datetime.fromisoformat(row["last_updated"]),
            resource=json.loads(row["resource"]),
        )

    def save(
        self, appointment_id: str, clinic_id: str, resource: dict[str, Any], at: datetime | None = None
    ) -> StoredAppointment:
        """Store `resource` as the next version of `appointment_id` (1 when new), its `meta.versionId`
        and `meta.lastUpdated` set (any other `meta` kept); returns what was stored."""
        at = (at or datetime.now(UTC)).astimezone(UTC)
        with self._write() as conn:
            row = conn.execute(
                "SELECT version_id FROM fhir_appointments WHERE appointment_id = ?", (appointment_id,)
            ).fetchone()
            version = 1 if row is None else int(row["version_id"]) + 1
            meta = {
                **(resource.get("meta") or {}),
                "versionId": str(version),
                "lastUpdated": fhir_instant(at),
            }
            head = {"resourceType": resource.get("resourceType"), "id": resource.get("id"), "meta": meta}
            stored = {**head, **{k: v for k, v in resource.items() if k not in head}}
            text = json.dumps(stored, ensure_ascii=False, separators=(",", ":"))
            if row is None:
                conn.execute(
                    "INSERT INTO fhir_appointments (appointment_id, clinic_id, version_id, last_updated,"
                    " resource) VALUES (?, ?, ?, ?, ?)",
                    (appointment_id, clinic_id, version, at.isoformat(), text),
                )
            else:
                conn.execute(
                    "UPDATE fhir_appointments SET clinic_id = ?, version_id = ?, last_updated = ?,"
                    " resource = ? WHERE appointment_id = ?",
                    (clinic_id, version, at.isoformat(), text, appointment_id),
                )
        return StoredAppointment(
            appointment_id=appointment_id,
            clinic_id=clinic_id,
            version=version,
            last_updated=at,
            resource=stored,
        )


class SqliteFhirAppointments(FhirAppointments, SqliteFile):
    """The accepted FHIR Appointments in an SQLite file of one host (`fhir.sqlite3`)."""

    SCHEMA = """
        CREATE TABLE IF NOT EXISTS fhir_appointments (
            appointment_id TEXT PRIMARY KEY,
            clinic_id TEXT NOT NULL,
            version_id INTEGER NOT NULL,
            last_updated TEXT NOT NULL,
            resource TEXT NOT NULL
        )
    """


class PostgresFhirAppointments(FhirAppointments, PostgresTable):
    """The accepted FHIR Appointments in the service's PostgreSQL database (migration 0003). A save
    reads the version before it writes the next: saves run one at a time."""

    SERIALIZE_WRITES = True
