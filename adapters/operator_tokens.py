"""Personal codec tokens of named operators: what lets a person read decrypted payloads through the
codec server without the region's OpenID provider (the Temporal CLI, `dev.py run`).

Stored as API keys are (adapters/audit.py): only the SHA-256 of a 256-bit random token, with the
operator's name, which every audit row of a decode names. Revoking ends every token of an operator.
"""

from __future__ import annotations

import secrets
from collections.abc import Callable
from contextlib import AbstractContextManager
from datetime import UTC, datetime

from adapters.postgres import PostgresTable
from adapters.sql import Connection, secret_digest
from adapters.sqlite import SqliteFile

OPERATOR_TOKEN_PREFIX = "pmo_"


class OperatorTokens:
    """Codec tokens by their SHA-256; the token itself is shown once, when it is made."""

    _read: Callable[[], AbstractContextManager[Connection]]
    _write: Callable[[], AbstractContextManager[Connection]]

    def create(self, operator: str) -> str:
        """A new token for `operator` (a system id, e.g. `anna.lind`): returns it (stored only hashed)."""
        token = OPERATOR_TOKEN_PREFIX + secrets.token_urlsafe(32)
        with self._write() as conn:
            conn.execute(
                "INSERT INTO operator_tokens (digest, operator, created_at) VALUES (?, ?, ?)",
                (secret_digest(token), operator, datetime.now(UTC).isoformat()),
            )
        return token

    def operator(self, token: str) -> str | None:
        """The operator a token belongs to, or None (unknown or revoked)."""
        with self._read() as conn:
            row = conn.execute(
                "SELECT operator FROM operator_tokens WHERE digest = ? AND revoked_at IS NULL",
                (secret_digest(token),),
            ).fetchone()
        return str(row["operator"]) if row else None

    def revoke(self, operator: str) -> int:
        """Revoke every token of `operator`; returns how many."""
        with self._write() as conn:
            return conn.execute(
                "UPDATE operator_tokens SET revoked_at = ? WHERE operator = ? AND revoked_at IS NULL",
                (datetime.now(UTC).isoformat(), operator),
            ).rowcount


class SqliteOperatorTokens(OperatorTokens, SqliteFile):
    """The codec tokens in an SQLite file of one host (`operator-tokens.sqlite3`)."""

    SCHEMA = """
        CREATE TABLE IF NOT EXISTS operator_tokens (
            digest TEXT PRIMARY KEY,
            operator TEXT NOT NULL,
            created_at TEXT NOT NULL,
            revoked_at TEXT
        )
    """


class PostgresOperatorTokens(OperatorTokens, PostgresTable):
    """The codec tokens in the service's PostgreSQL database (migration 0006)."""
