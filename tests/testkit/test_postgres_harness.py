"""The PostgreSQL harness: a real server on 127.0.0.1 from the machine's binaries, a fresh database per
test, and a clear error when the binaries are missing (testkit/postgres.py, tests/postgres_fixtures.py)."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest

from testkit.postgres import PostgresServer, find_binaries

SEEN: dict[str, str] = {}
"""The database names of the tests of `test_each_test_gets_its_own_empty_database`, by parameter."""


def database_of(url: str) -> str:
    return url.rsplit("/", 1)[1]


def listening_addresses(port: int) -> set[str]:
    """The local addresses (hex, as the kernel writes them) of the TCP sockets listening on `port`."""
    found = set()
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        if not os.path.exists(table):
            continue
        for line in Path(table).read_text().splitlines()[1:]:
            local, state = line.split()[1], line.split()[3]
            address, port_hex = local.split(":")
            if state == "0A" and int(port_hex, 16) == port:  # 0A: LISTEN
                found.add(address)
    return found


def test_the_server_answers_as_the_superuser_pm(postgres_server: PostgresServer) -> None:
    assert postgres_server.url().startswith(f"postgresql://pm@127.0.0.1:{postgres_server.port}/postgres")
    out = postgres_server.psql("select current_user, rolsuper from pg_roles where rolname = current_user")
    assert out.strip() == "pm|t"
    assert postgres_server.psql("show fsync").strip() == "off"
    assert postgres_server.startup_seconds is not None and postgres_server.startup_seconds < 60


@pytest.mark.parametrize("which", ["first", "second"])
def test_each_test_gets_its_own_empty_database(
    which: str,
    postgres_server: PostgresServer,
    postgres_url: str,
) -> None:
    name = database_of(postgres_url)
    assert name.startswith("test_") and name not in SEEN.values()
    done = subprocess.run(
        [postgres_server.binaries.psql, "-X", "-A", "-t", "-d", postgres_url, "-c", "select 1"],
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert done.returncode == 0 and done.stdout.strip() == "1", done.stderr
    user_tables = (
        "select count(*) from pg_tables where schemaname not in ('pg_catalog', 'information_schema')"
    )
    assert postgres_server.psql(user_tables, name).strip() == "0"
    postgres_server.psql(f"create table marker (which text); insert into marker values ('{which}')", name)
    assert postgres_server.psql("select which from marker", name).strip() == which
    existing = set(postgres_server.psql("select datname from pg_database").split())
    assert name in existing
    assert not (set(SEEN.values()) & existing), "the database of an earlier test was not dropped"
    SEEN[which] = name


def test_the_server_listens_on_127_0_0_1_only(postgres_server: PostgresServer) -> None:
    assert postgres_server.psql("show listen_addresses").strip() == "127.0.0.1"
    assert listening_addresses(postgres_server.port) == {"0100007F"}  # 127.0.0.1, no IPv6 nor 0.0.0.0


def test_only_the_role_pm_may_connect(postgres_server: PostgresServer) -> None:
    postgres_server.psql("create role intruder login")
    url = postgres_server.url().replace("//pm@", "//intruder@")
    done = subprocess.run(
        [postgres_server.binaries.psql, "-X", "-d", url, "-c", "select 1"],
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert done.returncode != 0 and "no pg_hba.conf entry" in done.stderr


async def test_an_async_server_stops_and_removes_its_folder_at_exit() -> None:
    async with PostgresServer() as server:
        folder, port = server.folder, server.port
        assert folder is not None and (folder / "data" / "PG_VERSION").exists()
        assert server.psql("select 41 + 1").strip() == "42"
    assert not folder.exists()
    assert listening_addresses(port) == set()


def test_missing_binaries_give_one_line_that_says_how_to_install(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    with pytest.raises(RuntimeError) as given:
        PostgresServer(bin_dir=tmp_path)
    message = str(given.value)
    assert "\n" not in message and str(tmp_path) in message
    assert "apt-get install -y postgresql" in message and "python3 dev.py test" in message
    monkeypatch.setenv("PM_POSTGRES_BIN", str(tmp_path / "nowhere"))
    with pytest.raises(RuntimeError, match="apt-get install -y postgresql"):
        find_binaries()
    monkeypatch.delenv("PM_POSTGRES_BIN")
    assert Path(find_binaries().initdb).name == "initdb"
