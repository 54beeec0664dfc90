"""The clinics' bookable times (issue 27, V8 the offer): the free and busy slots per clinic, reception
and visit type, as the booking system writes them (FHIR `Slot`), and the take of one by a booking.

A slot is found by its clinic and id (`clinic_id`, `slot_id`): another clinic's slot id is unknown.
`take` marks a free slot busy in one statement that only matches a free row, so of two concurrent takes
of one slot exactly one wins, on either backend. Only system ids and times are stored: no patient data.
"""

from __future__ import annotations

from collections.abc import Callable
from contextlib import AbstractContextManager
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any

from adapters.postgres import PostgresTable
from adapters.sql import Connection, rows
from adapters.sqlite import SqliteFile
from domain.invitation_offer import Slot


class Take(StrEnum):
    """What `take` did: took the slot now, found it taken by the same taker already (a repeat), found it
    busy (taken by another or marked busy by the booking system), or found no such slot."""

    TAKEN = "taken"
    ALREADY_YOURS = "already_yours"
    BUSY = "busy"
    UNKNOWN = "unknown"


def _stamp(at: datetime) -> str:
    """A time as text that sorts as the time does (UTC, always with microseconds)."""
    return at.astimezone(UTC).isoformat(timespec="microseconds")


_COLUMNS = "slot_id, clinic_id, reception_id, visit_type, start_at, end_at, free"


def _slot(row: dict[str, Any]) -> Slot:
    return Slot(
        slot_id=row["slot_id"],
        clinic_id=row["clinic_id"],
        reception_id=row["reception_id"],
        visit_type=row["visit_type"],
        start=datetime.fromisoformat(row["start_at"]),
        end=datetime.fromisoformat(row["end_at"]),
        free=bool(row["free"]),
    )


class ClinicSlots:
    """`put` writes a slot as the booking system states it, `get` and `candidates` read, `take` books,
    `release` gives back a take whose booking was refused."""

    _read: Callable[[], AbstractContextManager[Connection]]  # from the backend (adapters/sql.py)
    _write: Callable[[], AbstractContextManager[Connection]]

    def put(self, slot: Slot) -> bool:
        """Store `slot` as the booking system states it (its calendar is the truth: `free` from it also
        frees a slot taken here, e.g. after a cancellation). Returns True when the slot was new."""
        now = _stamp(datetime.now(UTC))
        fields = (slot.reception_id, slot.visit_type, _stamp(slot.start), _stamp(slot.end), int(slot.free))
        with self._write() as conn:
            created = conn.execute(
                "INSERT INTO clinic_slots (clinic_id, slot_id, reception_id, visit_type, start_at, end_at,"
                " free, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)"
                " ON CONFLICT (clinic_id, slot_id) DO NOTHING",
                (slot.clinic_id, slot.slot_id, *fields, now),
            ).rowcount
            if not created:
                conn.execute(
                    "UPDATE clinic_slots SET reception_id = ?, visit_type = ?, start_at = ?, end_at = ?,"
                    " free = ?, taken_by = CASE WHEN ? = 1 THEN NULL ELSE taken_by END, updated_at = ?"
                    " WHERE clinic_id = ? AND slot_id = ?",
                    (*fields, int(slot.free), now, slot.clinic_id, slot.slot_id),
                )
        return bool(created)

    def get(self, clinic_id: str, slot_id: str) -> Slot | None:
        with self._read() as conn:
            row = conn.execute(
                f"SELECT {_COLUMNS} FROM clinic_slots WHERE clinic_id = ? AND slot_id = ?",
                (clinic_id, slot_id),
            ).fetchone()
        return _slot(dict(row)) if row else None

    def candidates(
        self, clinic_id: str, reception_id: str, visit_type: str, start_from: datetime, start_before: datetime
    ) -> list[Slot]:
        """The free slots of one reception and visit type starting in [`start_from`, `start_before`),
        earliest first: what `domain.invitation_offer.offered_slots` then filters by the request."""
        with self._read() as conn:
            found = conn.execute(
                f"SELECT {_COLUMNS} FROM clinic_slots WHERE clinic_id = ? AND reception_id = ?"
                " AND visit_type = ? AND free = 1 AND start_at >= ? AND start_at < ?"
                " ORDER BY start_at, slot_id",
                (clinic_id, reception_id, visit_type, _stamp(start_from), _stamp(start_before)),
            )
            return [_slot(row) for row in rows(found)]

    def take(self, clinic_id: str, slot_id: str, taken_by: str) -> Take:
        """Mark a free slot busy for `taken_by` (a booking id): of concurrent takes exactly one gets
        `TAKEN`; the same taker again gets `ALREADY_YOURS` (a repeat is harmless), any other `BUSY`."""
        with self._write() as conn:
            won = conn.execute(
                "UPDATE clinic_slots SET free = 0, taken_by = ?, updated_at = ?"
                " WHERE clinic_id = ? AND slot_id = ? AND free = 1",
                (taken_by, _stamp(datetime.now(UTC)), clinic_id, slot_id),
            ).rowcount
            if won:
                return Take.TAKEN
            row = conn.execute(
                "SELECT taken_by FROM clinic_slots WHERE clinic_id = ? AND slot_id = ?", (clinic_id, slot_id)
            ).fetchone()
        if row is None:
            return Take.UNKNOWN
        return Take.ALREADY_YOURS if row["taken_by"] == taken_by else Take.BUSY

    def release(self, clinic_id: str, slot_id: str, taken_by: str) -> bool:
        """Free a slot again if `taken_by` holds it (a booking the workflow refused); True when freed.
        A slot another taker holds, or the booking system marked busy, stays as it is."""
        with self._write() as conn:
            freed = conn.execute(
                "UPDATE clinic_slots SET free = 1, taken_by = NULL, updated_at = ?"
                " WHERE clinic_id = ? AND slot_id = ? AND free = 0 AND taken_by = ?",
                (_stamp(datetime.now(UTC)), clinic_id, slot_id, taken_by),
            ).rowcount
        return bool(freed)


class SqliteClinicSlots(ClinicSlots, SqliteFile):
    """The slots in an SQLite file of one host (`slots.sqlite3`)."""

    SCHEMA = """
        CREATE TABLE IF NOT EXISTS clinic_slots (
            clinic_id TEXT NOT NULL,
            slot_id TEXT NOT NULL,
            reception_id TEXT NOT NULL,
            visit_type TEXT NOT NULL,
            start_at TEXT NOT NULL,
            end_at TEXT NOT NULL,
            free INTEGER NOT NULL,
            taken_by TEXT,
            updated_at TEXT NOT NULL,
            PRIMARY KEY (clinic_id, slot_id)
        );
        CREATE INDEX IF NOT EXISTS clinic_slots_offer
            ON clinic_slots (clinic_id, reception_id, visit_type, free, start_at)
    """


class PostgresClinicSlots(ClinicSlots, PostgresTable):
    """The slots in the service's PostgreSQL database, shared by every replica (migration 0009). A
    take's UPDATE waits for a concurrent one on the same row and then finds it no longer free."""
