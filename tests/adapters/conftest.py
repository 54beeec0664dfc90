"""The store tests run against both backends (`backend`): the SQLite files of one host and the
shared PostgreSQL database (on a real server: one migrated database for these tests, emptied before
each test, which is cheaper than a database per test).

`backend.run_together(script, n)` runs `script` in `n` child processes that open the same state as
another process would (`Stores(Settings.from_env())` with `backend.env()`), released at one moment."""

from __future__ import annotations

import json
import os
import select
import subprocess
import sys
import textwrap
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import psycopg
import pytest

from infrastructure.config import Settings
from infrastructure.stores import Stores
from testkit.postgres import PostgresServer

ROOT = Path(__file__).resolve().parents[2]

CHILD_PRELUDE = '''
import json, sys
from infrastructure.config import Settings
from infrastructure.stores import Stores

_test, sys.stdout = sys.stdout, sys.stderr  # stdout talks to the test only (logs go to stderr)
stores = Stores(Settings.from_env())


def ready():
    """Tell the test this process is set up, then wait until every process is (the start signal)."""
    print("ready", file=_test, flush=True)
    if sys.stdin.readline() != "go\\n":
        sys.exit(3)


def done(result):
    """Hand `result` (JSON) back to the test and close the stores."""
    stores.close()
    print("result " + json.dumps(result), file=_test, flush=True)
'''
"""What every child script starts with: `stores`, `ready()` and `done(result)`."""


class Backend:
    """The state of one test, in SQLite files or in one PostgreSQL database; `stores()` opens it
    again as another process (or host, for PostgreSQL) would."""

    def __init__(self, kind: str, data_dir: Path, database_url: str | None) -> None:
        self.kind = kind
        self.settings = Settings(data_dir=data_dir, database_url=database_url)
        self._opened: list[Stores] = []

    def stores(self) -> Stores:
        stores = Stores(self.settings)
        self._opened.append(stores)
        return stores

    def env(self) -> dict[str, str]:
        """The environment of a child process that should open the same state (`Settings.from_env`)."""
        env = {k: v for k, v in os.environ.items() if not k.startswith("PM_")}
        env["PM_DATA_DIR"] = str(self.settings.data_dir)
        if self.settings.database_url:
            env["PM_DATABASE_URL"] = self.settings.database_url
        return env

    def run_together(self, script: str, processes: int, *args: str, timeout: float = 60.0) -> list[Any]:
        """Run `script` (after `CHILD_PRELUDE`; `sys.argv[1:]` is `args`) in `processes` children on
        this state. Each calls `ready()` once set up; all go on together when the last one is ready.
        Returns what each passed to `done(...)`, in start order; a failed child fails the test."""
        code = CHILD_PRELUDE + textwrap.dedent(script)
        argv = [sys.executable, "-c", code, *args]
        pipe = subprocess.PIPE
        children = [
            subprocess.Popen(argv, cwd=ROOT, env=self.env(), text=True, stdin=pipe, stdout=pipe, stderr=pipe)
            for _ in range(processes)
        ]
        deadline = time.monotonic() + timeout
        try:
            starting = {child.stdout: child for child in children}
            while starting:
                readable, _, _ = select.select(list(starting), [], [], max(0.0, deadline - time.monotonic()))
                if not readable:
                    raise AssertionError(f"{len(starting)} child processes not ready within {timeout:.0f} s")
                for stream in readable:
                    child = starting.pop(stream)
                    if stream.readline() != "ready\n":
                        child.wait(timeout=10)
                        raise AssertionError(
                            f"a child process failed before the start:\n{child.stderr.read()}"
                        )
            for child in children:
                child.stdin.write("go\n")
                child.stdin.flush()
            results = []
            for child in children:
                out, err = child.communicate(timeout=max(1.0, deadline - time.monotonic()))
                assert child.returncode == 0, f"a child process failed (exit {child.returncode}):\n{err}"
                assert out.startswith("result "), f"a child process did not call done(...):\n{err}"
                results.append(json.loads(out.removeprefix("result ")))
            return results
        finally:
            for child in children:
                if child.poll() is None:
                    child.kill()
                    child.wait()

    def close(self) -> None:
        for stores in self._opened:
            stores.close()


@pytest.fixture(scope="session")
def store_database(postgres_server: PostgresServer, migrated_template: str) -> Iterator[str]:
    """A database with the service's current schema, for the store tests of the session."""
    name = f"stores_{uuid.uuid4().hex}"
    url = postgres_server.create_database(name, template=migrated_template)
    try:
        yield url
    finally:
        postgres_server.drop_database(name)


def emptied(url: str) -> str:
    """`url` after every row of the service's tables is gone (identities restarted)."""
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute("SET lock_timeout = '10s'")  # a session a test left open fails here, not hangs
        conn.execute("SET session_replication_role = replica")  # the audit trail's append-only trigger
        query = (
            "SELECT tablename FROM pg_tables WHERE schemaname = 'public' AND tablename <> 'alembic_version'"
        )
        tables = [row[0] for row in conn.execute(query)]
        conn.execute(f"TRUNCATE {', '.join(tables)} RESTART IDENTITY")
    return url


@pytest.fixture(params=["sqlite", "postgres"])
def backend(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Backend]:
    url = emptied(request.getfixturevalue("store_database")) if request.param == "postgres" else None
    backend = Backend(request.param, tmp_path / "data", url)
    try:
        yield backend
    finally:
        backend.close()
