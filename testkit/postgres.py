"""A real, throw-away PostgreSQL server for tests and benchmarks: `PostgresServer`.

It uses the server binaries of the machine (Debian's `postgresql` package, which `python3 dev.py test`
installs when missing): `PM_POSTGRES_BIN` when set, else the highest `/usr/lib/postgresql/*/bin`, else
PATH. It creates a cluster in a temporary folder, starts it on a free port of 127.0.0.1 (its unix socket
inside that folder, trust authentication for the superuser `pm` on loopback only, fsync off), and at exit
stops it (`pg_ctl stop -m fast`) and removes the folder. PostgreSQL refuses to run as root: as root, the
cluster belongs to and runs as the `postgres` system user. Databases are created and dropped with `psql`
from the same binaries, so nothing here needs a Python driver.

Standard library only; the binaries are found by `infrastructure/postgres_binaries.py`, which `dev.py`
also uses before the virtual environment exists. Every wait has a deadline, and a failed start shows the
tail of the server's log.
"""

from __future__ import annotations

import atexit
import contextlib
import os
import pwd
import re
import shutil
import signal
import socket
import stat
import subprocess
import tempfile
import time
from pathlib import Path
from types import TracebackType

from infrastructure.postgres_binaries import find_binaries

HOST = "127.0.0.1"
ROLE = "pm"
IDENTIFIER = re.compile(r"[A-Za-z_][A-Za-z0-9_]{0,62}")
START_TIMEOUT = 60.0
STOP_TIMEOUT = 30.0
COMMAND_TIMEOUT = 60.0

SETTINGS = {
    "listen_addresses": HOST,
    "max_connections": "100",
    "fsync": "off",
    "synchronous_commit": "off",
    "full_page_writes": "off",
}
"""Appended to postgresql.conf (with `port` and `unix_socket_directories`): loopback only, and
durability off for speed (a test cluster never outlives its test session)."""

HBA = f"local all {ROLE} trust\nhost all {ROLE} 127.0.0.1/32 trust\n"
"""Only the role `pm`, only through the private socket folder or 127.0.0.1."""


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind((HOST, 0))
        return sock.getsockname()[1]


def _traversable_by_others(folder: Path) -> bool:
    """Whether another user can reach a folder inside `folder` (every ancestor has o+x)."""
    return all(os.stat(p).st_mode & stat.S_IXOTH for p in [folder, *folder.parents])


def _conf_value(value: str) -> str:
    return "'" + value.replace("'", "''") + "'"


def _quoted(name: str) -> str:
    if not IDENTIFIER.fullmatch(name):
        raise ValueError(f"not a plain database name (letters, digits, _; at most 63): {name!r}")
    return f'"{name}"'


def _tail(path: Path, lines: int = 20) -> str:
    try:
        text = path.read_text(errors="replace")
    except OSError:
        return f"(no {path.name})"
    return "\n".join(text.strip().splitlines()[-lines:]) or f"({path.name} is empty)"


class PostgresServer:
    """A throw-away PostgreSQL cluster on a free loopback port, for `with` and `async with`.

    `url(database)` is `postgresql://pm@127.0.0.1:PORT/DATABASE`; `create_database`, `drop_database`
    and `psql` run the server's own `psql`. `run_as` overrides the system user that owns and runs the
    cluster (default: `postgres` when root, else the current user).
    """

    def __init__(
        self,
        bin_dir: str | Path | None = None,
        base_dir: str | Path | None = None,
        run_as: str | None = None,
        start_timeout: float = START_TIMEOUT,
    ) -> None:
        self.binaries = find_binaries(bin_dir)
        self.base_dir = Path(base_dir) if base_dir is not None else None
        self.run_as = run_as if run_as is not None else ("postgres" if os.geteuid() == 0 else None)
        self.start_timeout = start_timeout
        self.port = 0
        self.folder: Path | None = None
        self.startup_seconds: float | None = None
        self._running = False

    # -- paths and processes ------------------------------------------------------------------------

    @property
    def data_dir(self) -> Path:
        assert self.folder is not None, "the server is not started"
        return self.folder / "data"

    @property
    def log_path(self) -> Path:
        assert self.folder is not None, "the server is not started"
        return self.folder / "server.log"

    def _env(self) -> dict[str, str]:
        """This environment without libpq's PG* variables (they would redirect psql) and in a C locale."""
        env = {k: v for k, v in os.environ.items() if not k.startswith("PG")}
        return env | {"LC_ALL": "C", "LANG": "C"}

    def _as_owner(self) -> dict[str, object]:
        """subprocess arguments that run a server command as the cluster's owner."""
        if self.run_as is None or self.run_as == pwd.getpwuid(os.geteuid()).pw_name:
            return {}
        entry = pwd.getpwnam(self.run_as)
        return {"user": entry.pw_uid, "group": entry.pw_gid, "extra_groups": []}

    def _server_command(self, argv: list[str], output: Path, timeout: float) -> int:
        """Run initdb/pg_ctl as the owner, output appended to `output` (a file, never a pipe: the
        postmaster that pg_ctl forks must not hold our pipe open). Returns the exit code."""
        with open(output, "ab") as out:
            try:
                return subprocess.run(
                    argv,
                    cwd=self.folder,
                    env=self._env(),
                    stdin=subprocess.DEVNULL,
                    stdout=out,
                    stderr=subprocess.STDOUT,
                    timeout=timeout,
                    check=False,
                    **self._as_owner(),  # type: ignore[arg-type]
                ).returncode
            except subprocess.TimeoutExpired:
                return -1

    def _pg_ctl(self, *args: str, wait: float) -> int:
        """`pg_ctl -D DATA -w -t WAIT ARGS` as the owner into pg_ctl.log: its exit code, -1 if hung."""
        assert self.folder is not None
        argv = [self.binaries.pg_ctl, "-D", str(self.data_dir), "-w", "-t", str(int(wait)), *args]
        return self._server_command(argv, self.folder / "pg_ctl.log", wait + 10)

    # -- life cycle ---------------------------------------------------------------------------------

    def start(self) -> PostgresServer:
        began = time.monotonic()
        base = self.base_dir
        if (
            base is None
            and self.run_as is not None
            and not _traversable_by_others(Path(tempfile.gettempdir()))
        ):
            base = Path("/tmp")  # the owner must reach the folder
        self.folder = Path(tempfile.mkdtemp(prefix="pm-postgres-", dir=base))
        try:
            if self._as_owner():
                entry = pwd.getpwnam(self.run_as)  # type: ignore[arg-type]
                os.chown(self.folder, entry.pw_uid, entry.pw_gid)
            self._initdb()
            self._start_on_a_free_port()
            self._wait_until_ready(began + self.start_timeout)
        except BaseException:
            self.stop()
            raise
        atexit.register(self.stop)
        self.startup_seconds = time.monotonic() - began
        return self

    def _initdb(self) -> None:
        assert self.folder is not None
        out = self.folder / "initdb.log"
        argv = [self.binaries.initdb, "-D", str(self.data_dir), "-U", ROLE, "-A", "trust"]
        code = self._server_command([*argv, "-E", "UTF8", "--locale=C", "--no-sync"], out, COMMAND_TIMEOUT)
        if code != 0:
            raise RuntimeError(f"initdb failed (exit {code}) in {self.folder}:\n{_tail(out)}")
        (self.data_dir / "pg_hba.conf").write_text(HBA)
        settings = SETTINGS | {"unix_socket_directories": str(self.folder)}
        with open(self.data_dir / "postgresql.conf", "a") as conf:
            conf.write("\n# testkit/postgres.py\n")
            conf.writelines(f"{key} = {_conf_value(value)}\n" for key, value in settings.items())

    def _start_on_a_free_port(self, attempts: int = 3) -> None:
        """pg_ctl start on a free port; another free port when someone took it in between."""
        assert self.folder is not None
        for attempt in range(attempts):
            self.port = _free_port()
            with open(self.data_dir / "postgresql.conf", "a") as conf:
                conf.write(f"port = {self.port}\n")  # the last setting wins
            code = self._pg_ctl("-l", str(self.log_path), "start", wait=self.start_timeout)
            if code == 0:
                self._running = True
                return
            taken = "already in use" in _tail(self.log_path, 5)
            if not taken or attempt == attempts - 1:
                raise RuntimeError(
                    f"PostgreSQL did not start on {HOST}:{self.port} (pg_ctl exit {code}); "
                    f"server log {self.log_path}:\n{_tail(self.log_path)}\n"
                    + _tail(self.folder / "pg_ctl.log", 5)
                )

    def _wait_until_ready(self, deadline: float) -> None:
        """Until `select 1` answers through TCP on 127.0.0.1."""
        last = ""
        while True:
            done = self._psql("select 1", "postgres", timeout=max(1.0, deadline - time.monotonic()))
            if done.returncode == 0 and done.stdout.strip() == "1":
                return
            last = (done.stderr or done.stdout).strip()
            if time.monotonic() > deadline:
                raise RuntimeError(
                    f"PostgreSQL on {HOST}:{self.port} does not answer ({last}); "
                    f"server log {self.log_path}:\n{_tail(self.log_path)}"
                )
            time.sleep(0.1)

    def stop(self) -> None:
        """Stop the server (`pg_ctl stop -m fast`, SIGKILL to its postmaster if that fails) and remove
        the folder. Safe to call twice."""
        atexit.unregister(self.stop)
        folder = self.folder
        if folder is None:
            return
        try:
            running = self._running and (self.data_dir / "postmaster.pid").exists()
            if running and self._pg_ctl("stop", "-m", "fast", wait=STOP_TIMEOUT) != 0:
                self._kill_postmaster()
        finally:
            self._running = False
            self.folder = None
            shutil.rmtree(folder, ignore_errors=True)

    def _kill_postmaster(self) -> None:
        """SIGKILL to the postmaster of this cluster only (its pid from postmaster.pid)."""
        with contextlib.suppress(OSError, ValueError, IndexError):
            pid = int((self.data_dir / "postmaster.pid").read_text().splitlines()[0])
            os.kill(pid, signal.SIGKILL)

    def __enter__(self) -> PostgresServer:
        return self.start()

    def __exit__(
        self, kind: type[BaseException] | None, error: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()

    async def __aenter__(self) -> PostgresServer:
        import asyncio

        return await asyncio.to_thread(self.start)

    async def __aexit__(
        self, kind: type[BaseException] | None, error: BaseException | None, tb: TracebackType | None
    ) -> None:
        import asyncio

        await asyncio.to_thread(self.stop)

    # -- databases ----------------------------------------------------------------------------------

    def url(self, database: str = "postgres") -> str:
        return f"postgresql://{ROLE}@{HOST}:{self.port}/{database}"

    def _psql(
        self, sql: str, database: str, timeout: float = COMMAND_TIMEOUT
    ) -> subprocess.CompletedProcess[str]:
        argv = [self.binaries.psql, "-X", "-q", "-A", "-t", "-v", "ON_ERROR_STOP=1", "-d", self.url(database)]
        try:
            return subprocess.run(
                [*argv, "-c", sql],
                env=self._env(),
                capture_output=True,
                text=True,
                timeout=timeout,
                check=False,
            )
        except subprocess.TimeoutExpired:
            return subprocess.CompletedProcess(argv, -1, "", f"psql did not answer within {timeout:.0f} s")

    def psql(self, sql: str, database: str = "postgres") -> str:
        """Run `sql` through psql (unaligned, tuples only) and return its output; RuntimeError on error."""
        done = self._psql(sql, database)
        if done.returncode != 0:
            raise RuntimeError(f"psql on {database} failed (exit {done.returncode}): {done.stderr.strip()}")
        return done.stdout

    def create_database(self, name: str, template: str | None = None) -> str:
        """Create database `name` (optionally from `template`, which must have no open sessions) and
        return its URL."""
        sql = f"CREATE DATABASE {_quoted(name)}"
        self.psql(sql + (f" TEMPLATE {_quoted(template)}" if template else ""))
        return self.url(name)

    def drop_database(self, name: str) -> None:
        """Drop database `name` if it exists, ending sessions a test left open (WITH (FORCE))."""
        self.psql(f"DROP DATABASE IF EXISTS {_quoted(name)} WITH (FORCE)")
