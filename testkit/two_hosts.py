"""Two worker "hosts" against one Temporal server: a reminder storm with a 46elks-shaped provider that
loses answers after accepting (after the client's timeout, or the connection reset at once) and fails
with 5xx, whose history may show a message only some seconds after it took it, while one host's
worker is killed (-9) and restarted. With the stores in one shared PostgreSQL database no patient
gets an SMS twice; with each host's own SQLite files a retry on the other host cannot see the first
attempt and may send again.

Run small by tests/infrastructure/test_two_hosts.py and full size by `python -m bench.two_hosts`.
Everything listens on 127.0.0.1 (the provider is `testkit.fake_provider`).
"""

from __future__ import annotations

import asyncio
import os
import random
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any, Literal

from temporalio.client import Client

import application as app
from adapters import migrations
from adapters.directory import PostgresDirectory, SqlDirectory, SqliteDirectory
from adapters.postgres import PostgresDatabase
from domain.booking import VisitBooking
from security.keyring import ENV_VAR, Keyring
from testkit.fake_provider import FakeProvider, LostMode, ProviderConfig, lost_answers
from testkit.population import RECEPTION, clinic_due_at, e164, fake_mobile, fake_patient, fake_pnr
from testkit.processes import Child, DevServer
from testkit.real_worker import connect_client, real_worker
from testkit.waiting import bounded_gather, due_moment, log, since, wait_until

StoreKind = Literal["postgresql", "sqlite"]
CLINIC = "two-hosts"


@dataclass
class TwoHostsConfig:
    n: int = 2000
    stores: StoreKind = "postgresql"
    kills: int = 3
    lost_answers: float = 0.10  # accepted, but the answer never arrives in time
    lost_mode: LostMode = "timeout"  # after the client's timeout, the connection reset at once, or both
    history_lag: float = 0.0  # s before the provider's history shows a message it took
    history_wait: float | None = None  # the workers' PM_SMS_HISTORY_WAIT (None: its default, 300 s)
    fail_5xx: float = 0.20
    seed: int = 7
    settle_s: float = 20.0  # after the last delivery: late retries would arrive now


@dataclass
class TwoHostsResult:
    config: TwoHostsConfig
    delivered: int = 0
    delivered_twice: int = 0
    lost: int = 0
    kills: list[dict[str, Any]] = field(default_factory=list)
    provider: dict[str, Any] = field(default_factory=dict)
    drain_s: float | None = None
    all_in_time: bool = False

    @property
    def ok(self) -> bool:
        return self.delivered == self.config.n and self.delivered_twice == 0 and self.lost == 0


async def run_two_hosts(folder: Path, config: TwoHostsConfig, database_url: str | None) -> TwoHostsResult:
    """The storm on two hosts; `database_url` (an empty database) is required for `postgresql`."""
    before = os.environ.get(ENV_VAR)  # given back at the end: a later test of the process has its own
    keys = os.environ[ENV_VAR] = Keyring.generate().to_text()  # one keyring: both hosts and this client
    provider = FakeProvider(
        config=ProviderConfig(
            fail_5xx=config.fail_5xx,
            timeout_delivers=True,
            history_lag=config.history_lag,
            seed=config.seed,
            **lost_answers(config.lost_answers, config.lost_mode),
        )
    )
    url = provider.start()
    server = DevServer(folder / "temporal")
    hosts = [folder / "host-a", folder / "host-b"]
    database: PostgresDatabase | None = None
    workers: list[Child] = []
    result = TwoHostsResult(config)
    try:
        server.start()
        client = await connect_client(server.address, folder)
        stores_env: dict[str, str] = {}
        directories: list[SqlDirectory]
        if config.stores == "postgresql":
            if not database_url:
                raise ValueError("the postgresql stores need a database URL")
            migrations.upgrade(database_url)
            database = PostgresDatabase(database_url, max_size=4)
            stores_env = {"PM_DATABASE_URL": database_url}
            directories = [PostgresDirectory(database)]
        else:  # each host its own files, the directory loaded into each
            directories = [SqliteDirectory(host / "directory.sqlite3") for host in hosts]
        gap = 20 + config.n / 60
        due = due_moment(gap)
        visit = due + timedelta(hours=3)
        document = {
            "clinics": [clinic_due_at(CLINIC, due, visit)],
            "patients": [fake_patient(i) for i in range(config.n)],
        }
        for directory in directories:
            directory.load_document(document)
        elks = {"PM_SMS_GATEWAY": "46elks", "ELKS_URL": url, "ELKS_USERNAME": "b", "ELKS_PASSWORD": "b"}
        if config.history_wait is not None:
            elks["PM_SMS_HISTORY_WAIT"] = str(config.history_wait)
        workers = [
            real_worker(server.address, host, **elks, **stores_env, **{ENV_VAR: keys}) for host in hosts
        ]
        for worker in workers:
            _start(worker)
        log(f"two hosts ({config.stores}): booking {config.n} reminders due {due.isoformat()}")
        await _book(client, directories[0], config.n, visit)
        result.kills = await _kill_during_drain(workers[0], config, due)
        numbers = [e164(fake_mobile(i)) for i in range(config.n)]

        def delivered() -> int:
            return sum(1 for number in numbers if provider.stats.delivered_by_to[number])

        _, result.all_in_time = await wait_until(
            delivered,
            lambda count: count >= config.n,
            # A worker killed between noting an attempt and posting it leaves an attempt that never
            # shows in the history: that SMS goes after the wait plus the retry's back-off (<= 5 min).
            timeout=gap
            + 300
            + config.n / 4
            + 2 * (300 if config.history_wait is None else config.history_wait),
            interval=0.5,
            progress=lambda count: f"two hosts: {count}/{config.n} delivered",
        )
        await asyncio.sleep(config.settle_s)
        stats = provider.stats
        result.delivered = delivered()
        result.delivered_twice = sum(1 for number in numbers if stats.delivered_by_to[number] > 1)
        result.lost = config.n - result.delivered
        result.provider = stats.as_dict()
        if stats.last_delivery:
            result.drain_s = round(stats.last_delivery - due.timestamp(), 1)
        return result
    finally:
        for worker in workers:
            worker.stop()
        server.stop()
        provider.stop()
        if database is not None:
            database.close()
        if before is None:
            os.environ.pop(ENV_VAR, None)
        else:
            os.environ[ENV_VAR] = before


def _start(worker: Child) -> None:
    worker.start()
    worker.wait_for_log("worker_started", timeout=60)


async def _book(client: Client, directory: SqlDirectory, n: int, visit: datetime) -> None:
    async def book(i: int) -> None:
        booking = VisitBooking(
            booking_id=f"th{i}", patient_id=fake_pnr(i), clinic_id=CLINIC, reception_id=RECEPTION, start=visit
        )
        await app.book_visit(client, "patient-messaging", directory, booking)

    await bounded_gather(range(n), book)


async def _kill_during_drain(worker: Child, config: TwoHostsConfig, due: datetime) -> list[dict[str, Any]]:
    """kill -9 host A's worker at random moments of the drain, restarting it each time."""
    rng = random.Random(config.seed)
    window = max(8.0, config.n / 40)
    done = []
    for moment in sorted(rng.uniform(0, window) for _ in range(config.kills)):
        await asyncio.sleep(max(0.0, moment - since(due)))
        worker.kill9()
        log(f"two hosts: kill -9 of host A's worker at due{moment:+.1f} s; restarting")
        await asyncio.sleep(1)
        _start(worker)
        done.append({"at_s_after_due": round(moment, 1)})
    return done
