"""The PostgreSQL backend of the service's stores (production: `PM_DATABASE_URL`), with psycopg 3.

One connection pool per process and database (`PostgresDatabase`), shared by every store of the
process. Stores keep their SQL with SQLite's `?` placeholders (rewritten to psycopg's `%s` here),
read statement by statement (one round trip each) and write in one transaction. A store whose
writes read before they write (the directory's consent history) serialises them with a
transaction-level advisory lock, as SQLite's `BEGIN IMMEDIATE` does on one host.
`PostgresDatabase.exclusive(name)` holds a session-level advisory lock across hosts (the SMS
ledger's "one send of a key at a time"). The schema is created and changed only by the migrations
(`adapters/migrations/`, `starter.py admin migrate`).
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from functools import lru_cache
from typing import Any, ClassVar

import psycopg
from psycopg.rows import dict_row
from psycopg_pool import ConnectionPool

POOL_MAX = 40
"""Connections per process at most: the worker's activity threads (32) plus its own reads."""


@lru_cache(maxsize=512)
def _placeholders(sql: str) -> str:
    """SQLite's `?` placeholders as psycopg's `%s` (no store writes a literal `%` or `?`)."""
    return sql.replace("%", "%%").replace("?", "%s")


class SchemaNotReadyError(RuntimeError):
    """A table the store needs does not exist: the migrations have not been applied."""

    def __init__(self) -> None:
        super().__init__(
            "the service database has no schema for this yet: run `python starter.py admin migrate`"
        )


class _Connection:
    """A psycopg connection that takes the stores' `?` placeholders."""

    def __init__(self, conn: psycopg.Connection[Any]) -> None:
        self._conn = conn

    def execute(self, sql: str, params: Sequence[Any] = ()) -> psycopg.Cursor[Any]:
        return self._conn.execute(_placeholders(sql), params)  # type: ignore[arg-type]


class PostgresDatabase:
    """A pool of connections to one database; `close()` closes them."""

    def __init__(self, url: str, *, max_size: int = POOL_MAX, timeout: float = 30.0) -> None:
        self.url = url
        self._pool = ConnectionPool(
            url,
            min_size=1,
            max_size=max_size,
            timeout=timeout,
            kwargs={"row_factory": dict_row},
            open=True,
            name="pm-stores",
        )

    def close(self) -> None:
        self._pool.close()

    @contextmanager
    def transaction(self, *, lock: str | None = None) -> Iterator[_Connection]:
        """One transaction, committed at the end of the block (rolled back on an exception); `lock`
        names a transaction-level advisory lock taken first."""
        with self._pool.connection() as conn:
            if lock is not None:
                conn.execute("SELECT pg_advisory_xact_lock(hashtextextended(%s, 0))", (lock,))
            try:
                yield _Connection(conn)
            except psycopg.errors.UndefinedTable:
                raise SchemaNotReadyError() from None

    @contextmanager
    def reads(self) -> Iterator[_Connection]:
        """Reads without a transaction around them: each statement sees what is committed when it
        runs, in one round trip (no BEGIN/COMMIT). Every store's read is one statement, or several
        whose results are each a committed state (the directory: a patient, then the consent history)."""
        with self._pool.connection() as conn:
            conn.autocommit = True
            try:
                yield _Connection(conn)
            except psycopg.errors.UndefinedTable:
                raise SchemaNotReadyError() from None
            finally:
                conn.autocommit = False

    @contextmanager
    def exclusive(self, name: str) -> Iterator[None]:
        """Hold the advisory lock `name` for the block, against every process on every host."""
        with self._pool.connection() as conn:
            conn.autocommit = True
            conn.execute("SELECT pg_advisory_lock(hashtextextended(%s, 0))", (name,))
            try:
                yield
            finally:
                conn.execute("SELECT pg_advisory_unlock(hashtextextended(%s, 0))", (name,))
                conn.autocommit = False


class PostgresTable:
    """Base of the PostgreSQL stores: the `SqlBackend` of `adapters/sql.py` on a shared database."""

    SERIALIZE_WRITES: ClassVar[bool] = False
    """True for a store whose writes read before they write: they then run one at a time."""

    def __init__(self, database: PostgresDatabase) -> None:
        self.database = database

    @contextmanager
    def _read(self) -> Iterator[_Connection]:
        with self.database.reads() as conn:
            yield conn

    @contextmanager
    def _write(self) -> Iterator[_Connection]:
        lock = type(self).__name__ if self.SERIALIZE_WRITES else None
        with self.database.transaction(lock=lock) as conn:
            yield conn

    def close(self) -> None:
        """The pool belongs to the database, which its owner closes."""
