"""A tiny SQLite helper shared by the embedded stores (directory, outbox, SMS ledger).

Every call opens its own short-lived connection, so the stores are safe to use from many threads
(sync Temporal activities run on a thread pool) and from two processes on the same file (the worker
and the CLI): WAL lets readers run beside one writer, `busy_timeout` makes a writer wait for another
instead of failing, and writes start with `BEGIN IMMEDIATE` so the wait happens up front (a deferred
transaction that upgrades to a write lock can fail at once with "database is locked").
"""

from __future__ import annotations

import sqlite3
import threading
import time
from collections.abc import Iterator
from contextlib import closing, contextmanager
from pathlib import Path
from typing import ClassVar

from security.files import private_file

BUSY_TIMEOUT_S = 30.0
"""How long a writer waits for another writer (another thread or process) before giving up."""


def connect(path: Path, *, busy_timeout: float = BUSY_TIMEOUT_S) -> sqlite3.Connection:
    """Open a connection in autocommit mode (transactions are explicit) with a busy timeout."""
    conn = sqlite3.connect(path, timeout=busy_timeout, isolation_level=None, check_same_thread=False)
    conn.row_factory = sqlite3.Row
    conn.execute(f"PRAGMA busy_timeout = {int(busy_timeout * 1000)}")
    conn.execute("PRAGMA foreign_keys = ON")
    return conn


@contextmanager
def transaction(conn: sqlite3.Connection) -> Iterator[sqlite3.Connection]:
    """`BEGIN IMMEDIATE` … `COMMIT`, rolled back on any exception."""
    conn.execute("BEGIN IMMEDIATE")
    try:
        yield conn
    except BaseException:
        conn.rollback()
        raise
    conn.execute("COMMIT")


def _enable_wal(conn: sqlite3.Connection, busy_timeout: float) -> None:
    """Switch the file to WAL (persistent; a no-op when it already is).

    SQLite does not call the busy handler for a journal-mode change, so two processes creating the
    same file at once can see "database is locked" here: retry until the busy timeout.
    """
    deadline = time.monotonic() + busy_timeout
    delay = 0.005
    while True:
        try:
            if conn.execute("PRAGMA journal_mode").fetchone()[0].lower() != "wal":
                conn.execute("PRAGMA journal_mode = WAL")
            return
        except sqlite3.OperationalError as e:
            if ("locked" not in str(e) and "busy" not in str(e)) or time.monotonic() > deadline:
                raise
            time.sleep(delay)
            delay = min(delay * 2, 0.2)


def statements(script: str) -> Iterator[str]:
    """The statements of `script` one by one (a `;` inside a trigger's body does not end one)."""
    pending = ""
    for part in script.split(";"):
        pending += part + ";"
        if sqlite3.complete_statement(pending):
            if pending.strip(" \n;"):
                yield pending
            pending = ""
    if pending.strip(" \n;"):
        yield pending


class SqliteFile:
    """Base of the embedded stores: one SQLite file in WAL mode whose schema is created on first use.

    Each thread keeps one connection to the file and reuses it (opening one per call cost more than
    the queries: sync activities run on a thread pool); `close()` closes them all.
    """

    SCHEMA: str = ""
    """`CREATE TABLE IF NOT EXISTS …` statements, run once per instance before the first query."""

    ADDED_COLUMNS: ClassVar[dict[str, dict[str, str]]] = {}
    """Per table, the columns added since its first release (name: declaration): a file of an earlier
    release gets them on first use (SQLite has no `ADD COLUMN IF NOT EXISTS`)."""
    PRAGMAS: ClassVar[tuple[str, ...]] = ()
    """Pragmas of every connection to the file (e.g. `secure_delete = ON` for a store of patient data)."""

    def __init__(self, path: Path | str, *, busy_timeout: float = BUSY_TIMEOUT_S) -> None:
        self.path = Path(path)
        self._busy_timeout = busy_timeout
        self._ready = False
        self._ready_lock = threading.Lock()
        self._local = threading.local()
        self._connections: list[sqlite3.Connection] = []

    def _ensure_schema(self) -> None:
        if self._ready:
            return
        with self._ready_lock:
            if self._ready:
                return
            private_file(self.path)  # 0600 in a 0700 folder; SQLite gives its -wal and -shm the same mode
            with closing(self._connect()) as conn:
                _enable_wal(conn, self._busy_timeout)
                with transaction(conn):
                    for statement in statements(self.SCHEMA):
                        conn.execute(statement)
                    for table, columns in self.ADDED_COLUMNS.items():
                        present = {row["name"] for row in conn.execute(f"PRAGMA table_info({table})")}
                        for name, declared in columns.items():
                            if name not in present:
                                conn.execute(f"ALTER TABLE {table} ADD COLUMN {name} {declared}")
            self._ready = True

    def _connect(self) -> sqlite3.Connection:
        conn = connect(self.path, busy_timeout=self._busy_timeout)
        for pragma in self.PRAGMAS:
            conn.execute(f"PRAGMA {pragma}")
        return conn

    def _connection(self) -> sqlite3.Connection:
        """This thread's connection, opened on first use."""
        conn: sqlite3.Connection | None = getattr(self._local, "conn", None)
        if conn is None:
            self._ensure_schema()
            conn = self._local.conn = self._connect()
            with self._ready_lock:
                self._connections.append(conn)
        return conn

    def close(self) -> None:
        """Close every thread's connection (a later call opens new ones)."""
        with self._ready_lock:
            connections, self._connections = self._connections, []
        for conn in connections:
            conn.close()
        self._local = threading.local()

    @contextmanager
    def _read(self) -> Iterator[sqlite3.Connection]:
        """A connection inside a read transaction: all its statements see one snapshot."""
        conn = self._connection()
        conn.execute("BEGIN")
        try:
            yield conn
        finally:
            conn.rollback()

    @contextmanager
    def _write(self) -> Iterator[sqlite3.Connection]:
        """A connection inside one `BEGIN IMMEDIATE` transaction: all or nothing."""
        with transaction(self._connection()) as conn:
            yield conn
