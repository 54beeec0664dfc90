"""What the stores' queries need of a database, whichever it is: a transaction to read in and one to
write in, each giving a connection that runs SQL with `?` placeholders and yields rows by column name.

`adapters/sqlite.py` (embedded files) and `adapters/postgres.py` (one shared database) implement it;
each store writes its queries once, in the SQL both understand, and has one small class per backend
(for example `SqliteOutbox(SqlOutbox, SqliteFile)` and `PostgresOutbox(SqlOutbox, PostgresTable)`).
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterator, Mapping, Sequence
from contextlib import AbstractContextManager
from typing import Any, Protocol


class Cursor(Protocol):
    rowcount: int

    def fetchone(self) -> Mapping[str, Any] | None: ...

    def fetchall(self) -> Sequence[Mapping[str, Any]]: ...


class Connection(Protocol):
    def execute(self, sql: str, params: Sequence[Any] = ...) -> Cursor: ...


class SqlBackend(Protocol):
    """A store's database: one snapshot to read in, one all-or-nothing transaction to write in."""

    def _read(self) -> AbstractContextManager[Connection]: ...

    def _write(self) -> AbstractContextManager[Connection]: ...

    def close(self) -> None: ...


def rows(cursor: Cursor) -> Iterator[dict[str, Any]]:
    """The rows as plain dicts (SQLite's rows and psycopg's dict rows alike)."""
    return (dict(row) for row in cursor.fetchall())


def secret_digest(secret: str) -> str:
    """How a bearer secret (API key, codec token, staff session id) is stored and looked up: its
    SHA-256, never the secret (a 256-bit random secret needs neither salt nor a slow hash)."""
    return hashlib.sha256(secret.encode()).hexdigest()
