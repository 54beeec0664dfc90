"""The staff page's sessions, kept by the service (not in the browser): one row per session, found by
the SHA-256 of the cookie's random id (a read of the table gives no usable cookie), holding what the
session knows (the user, their clinics, the CSRF token, a flash message, the login's OIDC state), the
user's id (for revocation) and when it was made and expires. Deleting the row ends the session at
once for every replica that shares the store.
"""

from __future__ import annotations

import json
import secrets
from collections.abc import Callable
from contextlib import AbstractContextManager
from datetime import UTC, datetime, timedelta
from typing import Any

from adapters.postgres import PostgresTable
from adapters.sql import Connection, secret_digest
from adapters.sqlite import SqliteFile


def _stamp(at: datetime) -> str:
    """A time as text that sorts as the time does (UTC, always with microseconds)."""
    return at.astimezone(UTC).isoformat(timespec="microseconds")


class StaffSessions:
    """Sessions by the hash of their id: `create` makes one, `find` reads a live one, `update` changes
    a live one's data, `delete` and `revoke_user` end them."""

    _read: Callable[[], AbstractContextManager[Connection]]  # from the backend (adapters/sql.py)
    _write: Callable[[], AbstractContextManager[Connection]]

    def create(self, data: dict[str, Any], user_id: str | None, lifetime: timedelta) -> str:
        """A new session with `data` that ends after `lifetime`; returns its id (stored only hashed).
        Sessions already expired are removed on the way."""
        session_id = secrets.token_urlsafe(32)
        now = datetime.now(UTC)
        with self._write() as conn:
            conn.execute("DELETE FROM staff_sessions WHERE expires_at <= ?", (_stamp(now),))
            conn.execute(
                "INSERT INTO staff_sessions (digest, user_id, data, created_at, expires_at)"
                " VALUES (?, ?, ?, ?, ?)",
                (secret_digest(session_id), user_id, json.dumps(data), _stamp(now), _stamp(now + lifetime)),
            )
        return session_id

    def find(self, session_id: str) -> dict[str, Any] | None:
        """The data of a live session, or None (unknown, ended or expired)."""
        with self._read() as conn:
            row = conn.execute(
                "SELECT data FROM staff_sessions WHERE digest = ? AND expires_at > ?",
                (secret_digest(session_id), _stamp(datetime.now(UTC))),
            ).fetchone()
        return json.loads(row["data"]) if row else None

    def update(self, session_id: str, data: dict[str, Any]) -> bool:
        """Replace a live session's data (never brings an ended one back); False when none."""
        with self._write() as conn:
            return (
                conn.execute(
                    "UPDATE staff_sessions SET data = ? WHERE digest = ? AND expires_at > ?",
                    (json.dumps(data), secret_digest(session_id), _stamp(datetime.now(UTC))),
                ).rowcount
                > 0
            )

    def delete(self, session_id: str) -> None:
        with self._write() as conn:
            conn.execute("DELETE FROM staff_sessions WHERE digest = ?", (secret_digest(session_id),))

    def revoke_user(self, user_id: str) -> int:
        """End every session of `user_id`; returns how many were live."""
        with self._write() as conn:
            return conn.execute(
                "DELETE FROM staff_sessions WHERE user_id = ? AND expires_at > ?",
                (user_id, _stamp(datetime.now(UTC))),
            ).rowcount


class SqliteStaffSessions(StaffSessions, SqliteFile):
    """The sessions in an SQLite file of one host (`staff-sessions.sqlite3`): every API process on the
    host that uses the same data folder shares them."""

    SCHEMA = """
        CREATE TABLE IF NOT EXISTS staff_sessions (
            digest TEXT PRIMARY KEY,
            user_id TEXT,
            data TEXT NOT NULL,
            created_at TEXT NOT NULL,
            expires_at TEXT NOT NULL
        );
        CREATE INDEX IF NOT EXISTS staff_sessions_user ON staff_sessions (user_id);
        CREATE INDEX IF NOT EXISTS staff_sessions_expiry ON staff_sessions (expires_at)
    """


class PostgresStaffSessions(StaffSessions, PostgresTable):
    """The sessions in the service's PostgreSQL database, shared by every replica (migration 0005)."""
