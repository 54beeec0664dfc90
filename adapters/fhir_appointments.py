"""The FHIR Appointments the HTTP API accepted (`PUT /fhir/Appointment/{id}`): id → the last accepted
resource, its version (`meta.versionId`, 1, 2, … one per accepted PUT) and when (`meta.lastUpdated`),
with the clinic it belongs to (the caller's clinic is checked against it before it is shown).

The resource names the patient by personnummer or samordningsnummer, so it is stored sealed with the
payload keyring (`security.at_rest`: AES-256-GCM, the key id kept with the ciphertext, bound to the
row's key and clinic); only system ids, the version and the time are in clear. Rows an earlier release
wrote in clear are still read, and sealed in place when the store is opened (`seal_clear_rows`) or
read. Nothing here logs the resource or puts it in an error.
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
from security.at_rest import PREFIX, is_sealed, seal, unseal
from security.keyring import Keyring

SEAL_BATCH = 500


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
    """The last accepted version of each Appointment; `save` writes the next one, sealed."""

    _read: Callable[[], AbstractContextManager[Connection]]  # from the backend (adapters/sql.py)
    _write: Callable[[], AbstractContextManager[Connection]]
    keyring: Keyring | None = None  # set by `infrastructure.stores.Stores` (none: no read or save)

    def _keys(self) -> Keyring:
        if self.keyring is None:
            raise RuntimeError("the FHIR store needs the keyring (open it with Stores): nothing in clear")
        return self.keyring

    def get(self, appointment_id: str) -> StoredAppointment | None:
        with self._read() as conn:
            row = conn.execute(
                "SELECT appointment_id, clinic_id, version_id, last_updated, resource"
                " FROM fhir_appointments WHERE appointment_id = ?",
                (appointment_id,),
            ).fetchone()
        if row is None:
            return None
        text = row["resource"]
        if is_sealed(text):
            resource = json.loads(unseal(self._keys(), text, _place(appointment_id, row["clinic_id"])))
        else:  # written in clear by an earlier release: served, and sealed now
            resource = json.loads(text)
            self._seal_row(appointment_id, row["clinic_id"], text)
        return StoredAppointment(
            appointment_id=row["appointment_id"],
            clinic_id=row["clinic_id"],
            version=row["version_id"],
            last_updated=datetime.fromisoformat(row["last_updated"]),
            resource=resource,
        )

    def save(
        self, appointment_id: str, clinic_id: str, resource: dict[str, Any], at: datetime | None = None
    ) -> StoredAppointment:
        """Store `resource` as the next version of `appointment_id` (1 when new), its `meta.versionId`
        and `meta.lastUpdated` set (any other `meta` kept); returns what was stored."""
        keyring = self._keys()
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
            sealed = seal(keyring, _text(stored).encode(), _place(appointment_id, clinic_id))
            if row is None:
                conn.execute(
                    "INSERT INTO fhir_appointments (appointment_id, clinic_id, version_id, last_updated,"
                    " resource) VALUES (?, ?, ?, ?, ?)",
                    (appointment_id, clinic_id, version, at.isoformat(), sealed),
                )
            else:
                conn.execute(
                    "UPDATE fhir_appointments SET clinic_id = ?, version_id = ?, last_updated = ?,"
                    " resource = ? WHERE appointment_id = ?",
                    (clinic_id, version, at.isoformat(), sealed, appointment_id),
                )
        return StoredAppointment(
            appointment_id=appointment_id,
            clinic_id=clinic_id,
            version=version,
            last_updated=at,
            resource=stored,
        )

    def seal_clear_rows(self) -> int:
        """Seal every row an earlier release stored in clear (in batches); returns how many."""
        keyring, sealed = self._keys(), 0
        while True:
            with self._write() as conn:
                clear = conn.execute(
                    "SELECT appointment_id, clinic_id, resource FROM fhir_appointments"
                    " WHERE resource NOT LIKE ? LIMIT ?",
                    (PREFIX + "%", SEAL_BATCH),
                ).fetchall()
                for row in clear:
                    place = _place(row["appointment_id"], row["clinic_id"])
                    conn.execute(
                        "UPDATE fhir_appointments SET resource = ? WHERE appointment_id = ?",
                        (seal(keyring, row["resource"].encode(), place), row["appointment_id"]),
                    )
            sealed += len(clear)
            if len(clear) < SEAL_BATCH:
                return sealed

    def _seal_row(self, appointment_id: str, clinic_id: str, text: str) -> None:
        """Seal one clear row, unless another process changed it meanwhile."""
        sealed = seal(self._keys(), text.encode(), _place(appointment_id, clinic_id))
        with self._write() as conn:
            conn.execute(
                "UPDATE fhir_appointments SET resource = ? WHERE appointment_id = ? AND clinic_id = ?"
                " AND resource = ?",
                (sealed, appointment_id, clinic_id, text),
            )


def _text(resource: dict[str, Any]) -> str:
    return json.dumps(resource, ensure_ascii=False, separators=(",", ":"))


def _place(appointment_id: str, clinic_id: str) -> str:
    """What a sealed resource is bound to: its table, key and clinic."""
    return f"fhir_appointments\x00{appointment_id}\x00{clinic_id}"


class SqliteFhirAppointments(FhirAppointments, SqliteFile):
    """The accepted FHIR Appointments in an SQLite file of one host (`fhir.sqlite3`); a row's old
    content is overwritten in the file when it changes (`secure_delete`), so a clear row of an
    earlier release does not survive its sealing in a free page."""

    PRAGMAS = ("secure_delete = ON",)

    def seal_clear_rows(self) -> int:
        """As the base; then the WAL is emptied, so that no clear page of before stays in it."""
        sealed = super().seal_clear_rows()
        if sealed:
            self._connection().execute("PRAGMA wal_checkpoint(TRUNCATE)")
        return sealed

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
    reads the version before it writes the next: saves run one at a time. (A row sealed in place
    leaves its clear version as a dead tuple until VACUUM: docs/security.md, "At rest".)"""

    SERIALIZE_WRITES = True
