"""The set-up and the four phases of `python -m bench.run` (see there): a fresh dev server, the real worker
and the bare worker as child processes with CPU and memory meters; then bare, reminders, invitations
and sleeping, each returning its figures."""

from __future__ import annotations

import argparse
import asyncio
import signal
import subprocess
import time
from collections.abc import Awaitable, Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from datetime import time as dtime
from pathlib import Path
from typing import Any

from temporalio.client import Client

import application as app
from bench import bare
from bench.costs import phase_costs
from bench.figures import lateness
from bench.machine import load
from bench.meters import CpuMeter, RssMonitor, child_rss_mb
from contracts.workflow_ids import booking_reminder_id, invitation_id
from domain.booking import VisitBooking
from domain.invitation import CareInvitation, DateWindow
from domain.timing import at_local, local_date, local_time
from infrastructure.config import Settings
from infrastructure.stores import Stores
from testkit.population import RECEPTION, clinic_due_at, fake_clinic, fake_patient, fake_pnr
from testkit.processes import PYTHON, Child, DevServer
from testkit.real_worker import connect_client, prepare_keys, real_worker
from testkit.waiting import bounded_gather, due_moment, log, wait_until

BARE_QUEUE = "bench-bare"


@contextmanager
def flame_graph(path: str | None, pid: int | None) -> Iterator[None]:
    """py-spy samples `pid` (the worker) meanwhile and writes an SVG flame graph to `path` (or, for a
    path ending in `.txt`, the collapsed stacks, one line per stack with its count)."""
    if not path or pid is None:
        yield
        return
    spy = subprocess.Popen(
        [str(Path(PYTHON).parent / "py-spy"), "record", "--pid", str(pid), "--rate", "100",
         "--format", "raw" if path.endswith(".txt") else "flamegraph", "--output", path, "--nonblocking"],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    try:
        yield
    finally:
        spy.send_signal(signal.SIGINT)  # py-spy writes the graph on Ctrl-C
        spy.wait(timeout=60)
        log(f"flame graph of the worker during the drain: {path}")


class Bench:
    def __init__(self, args: argparse.Namespace, data_dir: Path) -> None:
        self.args = args
        self.data_dir = data_dir
        self.server = DevServer(data_dir)
        extra = dict(item.split("=", 1) for item in args.worker_env)
        variant = any(key.startswith("PM_BENCH_") for key in extra)  # worker.py has no setting for these
        module = "bench.worker_variant" if variant else None
        database_url = getattr(args, "database_url", None)  # --stores postgresql
        stores_env = {"PM_DATABASE_URL": database_url} if database_url else {}
        self.worker = real_worker(self.server.address, data_dir, module, **extra, **stores_env)
        self.bare_worker = Child(
            "bare-worker",
            [
                PYTHON,
                "-m",
                "bench.bare",
                "--address",
                self.server.address,
                "--data-dir",
                str(data_dir),
                "--task-queue",
                BARE_QUEUE,
            ],
            data_dir / "bare-worker.log",
            self.worker.env,
        )
        self.stores = Stores(Settings(data_dir=data_dir, database_url=database_url))  # the worker's own
        self.directory = self.stores.directory
        self.outbox = self.stores.outbox
        self.inbox = self.stores.embedded_inbox
        self.patients = max(1, min(args.n, 10_000))
        self.client: Client
        self.rss = RssMonitor(
            lambda: self.worker.pid,
            {
                "server": lambda: self.server.pid,
                "worker": lambda: self.worker.pid,
                "bare_worker": lambda: self.bare_worker.pid,
            },
        )
        self.cpu = CpuMeter(
            {
                "server": lambda: self.server.pid,
                "worker": lambda: self.worker.pid,
                "bare_worker": lambda: self.bare_worker.pid,
            }
        )

    def gap(self, n: int) -> float:
        """Seconds from the first start to the due moment: room for all starts (and their first tasks)."""
        return self.args.gap if self.args.gap else 10 + n / 50

    def add_clinic(self, clinic: dict[str, Any]) -> None:
        self.directory.load_document({"clinics": [clinic], "patients": []})

    async def start(self) -> None:
        log(f"data folder {self.data_dir}; dev server on {self.server.address}")
        prepare_keys(self.data_dir)
        self.server.start()
        self.client = await connect_client(self.server.address, self.data_dir)
        self.directory.load_document(
            {"clinics": [], "patients": [fake_patient(i) for i in range(self.patients)]}
        )
        self.worker.start()
        self.bare_worker.start()
        self.worker.wait_for_log("worker_started", timeout=60)
        self.bare_worker.wait_for_log("bare_worker_started", timeout=60)
        self.rss.start()
        rss = child_rss_mb(self.worker)
        log(f"worker pid {self.worker.pid} up ({rss} MB); {self.patients} patients loaded")

    async def stop(self) -> None:
        await self.rss.stop()
        for child in (self.bare_worker, self.worker, self.server):
            child.stop()

    def booker(self, prefix: str, clinic_id: str, visit: datetime) -> Callable[[int], Awaitable[None]]:
        """Books the visit `<prefix><i>` of fake patient i (modulo the directory's) at `visit`."""

        async def book(i: int) -> None:
            booking = VisitBooking(
                booking_id=f"{prefix}{i}",
                patient_id=fake_pnr(i % self.patients),
                clinic_id=clinic_id,
                reception_id=RECEPTION,
                start=visit,
            )
            await app.book_visit(self.client, "patient-messaging", self.directory, booking)

        return book

    def inviter(self, prefix: str, clinic_id: str, window: DateWindow) -> Callable[[int], Awaitable[None]]:
        """Creates the care invitation `<prefix><i>` of fake patient i (modulo the directory's)."""

        async def invite(i: int) -> None:
            request = CareInvitation(
                request_id=f"{prefix}{i}", referral_id=f"ref{i}", patient_id=fake_pnr(i % self.patients),
                clinic_id=clinic_id, reception_id=RECEPTION, visit_kind="new", visit_type="Nybesök",
                reason="Kontroll", window=window,
            )  # fmt: skip
            await app.create_request(self.client, "patient-messaging", self.directory, request)

        return invite

    # --- phases -------------------------------------------------------------------------------------

    async def _drain(self, name: str, n: int, count: Any, due: datetime, started: float) -> dict[str, Any]:
        """Wait until `count()` reaches `n`, polled four times a second: a count, not the rows (reading
        1,000 rows and models costs ~11 ms a poll, CPU the phase under test would lose; the outbox
        holds only the reminders' SMS and the inbox only the invitations', so their counts are the
        phase's), the completion times read once at the end."""
        timeout = 120 + n / 3
        reached_count, ok = await wait_until(
            count,
            lambda c: c >= n,
            timeout=timeout,
            interval=0.25,
            progress=lambda c: f"{name}: {c}/{n} done",
        )
        return {"completed": reached_count, "all_completed": ok, "started_s": round(started, 2)}

    def _figures(self, n: int, starts_s: float, due: datetime, done_unix: list[float]) -> dict[str, Any]:
        cpu = self.cpu.stop()
        due_unix = due.timestamp()
        late = [t - due_unix for t in done_unix]
        span = (max(done_unix) - due_unix) if done_unix else None
        return {
            "n": n,
            "starts_per_s": round(n / starts_s, 1) if starts_s else None,
            "completions_per_s": round(len(done_unix) / span, 1) if span and span > 0 else None,
            "drain_s": round(span, 1) if span else None,
            "lateness_s": lateness(late),
            "worker_rss_peak_mb": self.rss.peak or None,
            "cpu_s": cpu,
            "cores_busy_while_draining": self.rss.utilisation(due_unix, max(done_unix)) if done_unix else {},
            "cpu_ms_per_workflow": {k: round(v * 1000 / n, 1) for k, v in cpu.items() if v is not None},
            "load_after": load(),
        }

    async def bare(self, n: int, again: bool = False) -> dict[str, Any]:
        """N bare workflows due at one moment; `again`: a second set (the baseline after the other
        phases), its worker restarted."""
        prefix = "bench-bare2-" if again else "bench-bare-"
        if again:
            self.bare_worker.start()
            self.bare_worker.wait_for_log("bare_worker_started", timeout=60)
        due = due_moment(self.gap(n))
        log(f"bare{' again' if again else ''}: starting {n} workflows due {due.isoformat()}")
        self.cpu.start()

        async def start(i: int) -> None:
            await self.client.start_workflow(
                bare.BareWorkflow.run, due.timestamp(), id=f"{prefix}{i}", task_queue=BARE_QUEUE
            )

        starts_s = await bounded_gather(range(n), start)  # type: ignore[arg-type]

        def done() -> list[float]:
            return bare.read_done(self.data_dir, prefix)

        result = await self._drain("bare", n, lambda: len(done()), due, starts_s)
        figures = self._figures(n, starts_s, due, done())
        figures["worker_rss_peak_mb"] = None  # the real worker is idle here
        costs = await phase_costs(self.client, [f"{prefix}{i}" for i in range(n)])  # ended
        self.bare_worker.stop()  # its idle pollers would take CPU from the later phases
        return figures | result | {"started_before_due": starts_s < self.gap(n), "costs": costs}

    async def reminders(self, n: int) -> dict[str, Any]:
        due = due_moment(self.gap(n))
        visit = due + timedelta(hours=3)
        self.add_clinic(clinic_due_at("bench-rem", due, visit))
        log(f"reminders: booking {n} visits at {visit.isoformat()}, S6 moment {due.isoformat()}")
        self.rss.reset()
        self.cpu.start()
        starts_s = await bounded_gather(range(n), self.booker("br", "bench-rem", visit))  # type: ignore[arg-type]

        def sent() -> list[float]:
            prefix = booking_reminder_id("bench-rem", "br")
            return [m.sent_at.timestamp() for m in self.outbox.messages() if m.key.startswith(prefix)]

        with flame_graph(self.args.flame, self.worker.pid):
            result = await self._drain("reminders", n, self.outbox.count, due, starts_s)
        figures = self._figures(n, starts_s, due, sent())
        sent_ids = [booking_reminder_id("bench-rem", f"br{i}") for i in range(n)]
        costs = await phase_costs(self.client, sent_ids)  # sent, not ended
        return figures | result | {"started_before_due": starts_s < self.gap(n), "costs": costs}

    async def invitations(self, n: int) -> dict[str, Any]:
        due = due_moment(self.gap(n))
        first = local_date(due) + timedelta(days=42)
        clinic = fake_clinic("bench-inv", invitation_send_time=local_time(due))
        self.add_clinic(clinic)
        window = DateWindow(first_date=first, last_date=first + timedelta(days=30))
        log(f"invitations: creating {n}, window from {first}, invitation due {due.isoformat()}")
        self.rss.reset()
        self.cpu.start()

        starts_s = await bounded_gather(range(n), self.inviter("bi", "bench-inv", window))  # type: ignore[arg-type]

        def delivered() -> list[float]:
            return [
                m.delivered_at.timestamp()
                for m in self.inbox.messages()
                if m.key.startswith(invitation_id("bench-inv", "bi"))
            ]

        result = await self._drain("invitations", n, self.inbox.count, due, starts_s)
        figures = self._figures(n, starts_s, due, delivered())
        costs = await phase_costs(self.client, [invitation_id("bench-inv", f"bi{i}") for i in range(n)])
        return figures | result | {"started_before_due": starts_s < self.gap(n), "costs": costs}

    async def sleeping(self, levels: list[int], invitations: int = 0) -> list[dict[str, Any]]:
        """Reminders of visits three weeks ahead started up to each level, then `invitations` care
        invitations whose window opens in 20 weeks (asleep until six weeks before it, V3): one row per
        step, with its start rate and the worker's and server's RSS once all are asleep."""
        self.add_clinic(fake_clinic("bench-sleep"))
        visit = at_local(local_date(datetime.now(UTC)) + timedelta(days=21), dtime(10, 0))
        first = local_date(datetime.now(UTC)) + timedelta(weeks=20)
        window = DateWindow(first_date=first, last_date=first + timedelta(days=30))
        book = self.booker("bs", "bench-sleep", visit)

        bounds = zip([0, *levels], levels, strict=False)
        steps = [("reminders", previous, level, book) for previous, level in bounds]
        if invitations:
            steps.append(("invitations", 0, invitations, self.inviter("bsi", "bench-sleep", window)))
        rows, asleep_before = [], 0
        for kind, previous, level, start in steps:
            log(f"sleeping: starting {kind} {previous}..{level - 1}")
            rows.append(await self._asleep_step(kind, previous, level, start, asleep_before))
            asleep_before += level - previous
        return rows

    async def _asleep_step(
        self, kind: str, previous: int, level: int, start: Callable[[int], Awaitable[None]], before: int
    ) -> dict[str, Any]:
        query = "ClinicId = 'bench-sleep' AND WorkflowState = 'scheduled' AND ExecutionStatus = 'Running'"
        total = before + level - previous
        self.rss.reset()
        t0 = time.monotonic()
        self.cpu.start()
        starts_s = await bounded_gather(range(previous, level), start)  # type: ignore[arg-type]

        async def asleep() -> int:
            return (await self.client.count_workflows(query)).count

        count, ok = await wait_until(
            asleep,
            lambda c: c >= total,
            timeout=120 + (level - previous) / 5,
            interval=2,
            progress=lambda c: f"sleeping: {c}/{total} asleep",
        )
        settled_s = time.monotonic() - t0
        cpu = self.cpu.stop()
        await asyncio.sleep(self.args.settle)
        samples = []
        for _ in range(3):
            samples.append(child_rss_mb(self.worker))
            await asyncio.sleep(1)
        row = {
            "kind": kind,
            "sleeping": total,
            "asleep": count,
            "all_asleep": ok,
            "starts_per_s": round((level - previous) / starts_s, 1) if starts_s else None,
            "asleep_after_s": round(settled_s, 1),
            "cpu_ms_per_workflow": {
                k: round(v * 1000 / (level - previous), 1) for k, v in cpu.items() if v is not None
            },
            "worker_rss_mb": samples[-1],
            "worker_rss_peak_mb": self.rss.peak or None,
            "server_rss_mb": child_rss_mb(self.server),
            "load": load(),
        }
        log(f"sleeping {total}: worker RSS {row['worker_rss_mb']} MB (peak {row['worker_rss_peak_mb']})")
        return row
