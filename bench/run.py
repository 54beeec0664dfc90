"""Throughput, lateness and worker memory of the real worker against a bare Temporal baseline.

    python -m bench.run [--n 1000] [--sleeping 1000,10000,20000] [--json out.json] [--data-dir DIR]

One run on a FRESH dev server in a temporary folder (`dev.dev_server_command` + `--headless`, free
loopback port), with the real worker as a subprocess (`python worker.py`, configured by environment,
JSON logs in `<data_dir>/worker.log`):

1. bare: N `BareWorkflow`s (one timer + one no-op activity, `bench/bare.py`, its own worker process
   configured like the real one) all due at the same moment;
2. reminders: N `SmsReminderWorkflow`s booked through `operations.book_visit` at a clinic whose S6
   moment for the visit (3 h later) is that same kind of moment: send time = the due moment, sending
   window the whole day. Completion = the SMS is in the embedded outbox;
3. invitations: N `CareInvitationWorkflow`s through `operations.create_request` whose window starts
   exactly six weeks after the due moment at the clinic's invitation send time (V3), so the
   invitation is due then. Completion = the message is in the embedded 1177 inbox;
4. sleeping: reminders of visits three weeks ahead, started up to each level of `--sleeping`; the
   worker's RSS is read from /proc once they are all started and asleep.

No timer is shortened and no test-only code path is used: the due moment is an ordinary clinic setting.
Completions are counted from the outbox, the inbox and the bare worker's record, never by waiting on
`handle.result()`. Lateness = when the message was stored minus the due moment.
"""

from __future__ import annotations

import argparse
import asyncio
import shutil
import tempfile
import time
from datetime import UTC, datetime, timedelta
from datetime import time as dtime
from pathlib import Path
from typing import Any

from temporalio.client import Client

import application as app
from adapters.directory import SqliteDirectory
from adapters.inbox import SqliteInbox
from adapters.sms import SqliteOutbox
from bench import bare
from bench.common import (
    PYTHON,
    RECEPTION,
    Child,
    CpuMeter,
    DevServer,
    RssMonitor,
    bounded_gather,
    clinic_due_at,
    connect_client,
    due_moment,
    fake_clinic,
    fake_patient,
    fake_pnr,
    lateness,
    load,
    log,
    machine,
    prepare_keys,
    real_worker,
    rss_mb,
    table,
    wait_until,
    write_json,
)
from domain.booking import VisitBooking
from domain.invitation import CareInvitation, DateWindow
from domain.timing import at_local, local_date, local_time

TARGET_STARTS = 0.8
TARGET_COMPLETIONS = 0.7
TARGET_RSS_MB = 250.0
TARGET_RSS_AT = 20_000
BARE_QUEUE = "bench-bare"


class Bench:
    def __init__(self, args: argparse.Namespace, data_dir: Path) -> None:
        self.args = args
        self.data_dir = data_dir
        self.server = DevServer(data_dir)
        extra = dict(item.split("=", 1) for item in args.worker_env)
        module = "bench.worker_variant" if extra else None  # worker.py has no setting for these yet
        self.worker = real_worker(self.server.address, data_dir, module, **extra)
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
        self.directory = SqliteDirectory(data_dir / "directory.sqlite3")
        self.outbox = SqliteOutbox(data_dir / "outbox.sqlite3")
        self.inbox = SqliteInbox(data_dir / "inbox-1177.sqlite3")
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
        log(f"worker pid {self.worker.pid} up ({self.worker.rss_mb()} MB); {self.patients} patients loaded")

    async def stop(self) -> None:
        await self.rss.stop()
        for child in (self.bare_worker, self.worker, self.server):
            child.stop()

    # --- phases -------------------------------------------------------------------------------------

    async def _drain(self, name: str, n: int, count: Any, due: datetime, started: float) -> dict[str, Any]:
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

    async def bare(self, n: int) -> dict[str, Any]:
        due = due_moment(self.gap(n))
        log(f"bare: starting {n} workflows due {due.isoformat()}")
        self.cpu.start()

        async def start(i: int) -> None:
            await self.client.start_workflow(
                bare.BareWorkflow.run, due.timestamp(), id=f"bench-bare-{i}", task_queue=BARE_QUEUE
            )

        starts_s = await bounded_gather(range(n), start)  # type: ignore[arg-type]
        result = await self._drain("bare", n, lambda: len(bare.read_done(self.data_dir)), due, starts_s)
        figures = self._figures(n, starts_s, due, bare.read_done(self.data_dir))
        figures["worker_rss_peak_mb"] = None  # the real worker is idle here
        self.bare_worker.stop()  # its idle pollers would take CPU from the later phases
        return figures | result | {"started_before_due": starts_s < self.gap(n)}

    async def reminders(self, n: int) -> dict[str, Any]:
        due = due_moment(self.gap(n))
        visit = due + timedelta(hours=3)
        self.add_clinic(clinic_due_at("bench-rem", due, visit))
        log(f"reminders: booking {n} visits at {visit.isoformat()}, S6 moment {due.isoformat()}")
        self.rss.reset()
        self.cpu.start()

        async def book(i: int) -> None:
            booking = VisitBooking(
                booking_id=f"br{i}",
                patient_id=fake_pnr(i % self.patients),
                clinic_id="bench-rem",
                reception_id=RECEPTION,
                start=visit,
            )
            await app.book_visit(self.client, "patient-messaging", self.directory, booking)

        starts_s = await bounded_gather(range(n), book)  # type: ignore[arg-type]

        def sent() -> list[float]:
            return [
                m.sent_at.timestamp() for m in self.outbox.messages() if m.key.startswith("sms-reminder-br")
            ]

        result = await self._drain("reminders", n, lambda: len(sent()), due, starts_s)
        return (
            self._figures(n, starts_s, due, sent()) | result | {"started_before_due": starts_s < self.gap(n)}
        )

    async def invitations(self, n: int) -> dict[str, Any]:
        due = due_moment(self.gap(n))
        first = local_date(due) + timedelta(days=42)
        clinic = fake_clinic("bench-inv", invitation_send_time=local_time(due))
        self.add_clinic(clinic)
        window = DateWindow(first_date=first, last_date=first + timedelta(days=30))
        log(f"invitations: creating {n}, window from {first}, invitation due {due.isoformat()}")
        self.rss.reset()
        self.cpu.start()

        async def create(i: int) -> None:
            request = CareInvitation(
                request_id=f"bi{i}",
                referral_id=f"ref{i}",
                patient_id=fake_pnr(i % self.patients),
                clinic_id="bench-inv",
                reception_id=RECEPTION,
                visit_kind="new",
                visit_type="Nybesök",
                reason="Kontroll",
                window=window,
            )
            await app.create_request(self.client, "patient-messaging", self.directory, request)

        starts_s = await bounded_gather(range(n), create)  # type: ignore[arg-type]

        def delivered() -> list[float]:
            return [
                m.delivered_at.timestamp()
                for m in self.inbox.messages()
                if m.key.startswith("care-invitation-bi")
            ]

        result = await self._drain("invitations", n, lambda: len(delivered()), due, starts_s)
        return (
            self._figures(n, starts_s, due, delivered())
            | result
            | {"started_before_due": starts_s < self.gap(n)}
        )

    async def sleeping(self, levels: list[int]) -> list[dict[str, Any]]:
        self.add_clinic(fake_clinic("bench-sleep"))
        visit = at_local(local_date(datetime.now(UTC)) + timedelta(days=21), dtime(10, 0))
        query = "ClinicId = 'bench-sleep' AND WorkflowState = 'scheduled' AND ExecutionStatus = 'Running'"
        started = 0
        rows = []
        for level in levels:
            log(f"sleeping: starting reminders {started}..{level - 1} (visits {visit.date()})")
            self.rss.reset()

            async def book(i: int) -> None:
                booking = VisitBooking(
                    booking_id=f"bs{i}",
                    patient_id=fake_pnr(i % self.patients),
                    clinic_id="bench-sleep",
                    reception_id=RECEPTION,
                    start=visit,
                )
                await app.book_visit(self.client, "patient-messaging", self.directory, booking)

            t0 = time.monotonic()
            self.cpu.start()
            starts_s = await bounded_gather(range(started, level), book)  # type: ignore[arg-type]
            previous, started = started, level

            async def asleep() -> int:
                return (await self.client.count_workflows(query)).count

            count, ok = await wait_until(
                asleep,
                lambda c, lvl=level: c >= lvl,
                timeout=120 + level / 5,
                interval=2,
                progress=lambda c, lvl=level: f"sleeping: {c}/{lvl} asleep",
            )
            settled_s = time.monotonic() - t0
            cpu = self.cpu.stop()
            await asyncio.sleep(self.args.settle)
            samples = []
            for _ in range(3):
                samples.append(self.worker.rss_mb())
                await asyncio.sleep(1)
            row = {
                "sleeping": level,
                "asleep": count,
                "all_asleep": ok,
                "starts_per_s": round((level - previous) / starts_s, 1) if starts_s else None,
                "asleep_after_s": round(settled_s, 1),
                "cpu_ms_per_workflow": {
                    k: round(v * 1000 / (level - previous), 1) for k, v in cpu.items() if v is not None
                },
                "worker_rss_mb": samples[-1],
                "worker_rss_peak_mb": self.rss.peak or None,
                "server_rss_mb": self.server.rss_mb(),
                "load": load(),
            }
            log(f"sleeping {level}: worker RSS {row['worker_rss_mb']} MB (peak {row['worker_rss_peak_mb']})")
            rows.append(row)
        return rows


def cpu_ratio(bare_phase: dict[str, Any], phase: dict[str, Any]) -> float | None:
    """Bare's CPU per workflow (server + worker) over the phase's: the throughput ratio to expect when
    both are CPU-bound on the same cores, whatever else the machine runs at the time."""
    b, p = bare_phase.get("cpu_ms_per_workflow", {}), phase.get("cpu_ms_per_workflow", {})
    bare_ms = (b.get("server") or 0) + (b.get("bare_worker") or 0)
    phase_ms = (p.get("server") or 0) + (p.get("worker") or 0)
    return round(bare_ms / phase_ms, 2) if bare_ms and phase_ms else None


def targets(results: dict[str, Any]) -> list[dict[str, Any]]:
    b, r = results.get("bare"), results.get("reminders")
    checks = []
    if b and r and b.get("starts_per_s") and r.get("starts_per_s"):
        ratio = r["starts_per_s"] / b["starts_per_s"]
        checks.append(
            {
                "target": f"reminder starts >= {TARGET_STARTS}x bare",
                "value": round(ratio, 2),
                "pass": ratio >= TARGET_STARTS,
            }
        )
    if b and r and b.get("completions_per_s") and r.get("completions_per_s"):
        ratio = r["completions_per_s"] / b["completions_per_s"]
        checks.append(
            {
                "target": f"reminder completions >= {TARGET_COMPLETIONS}x bare",
                "value": round(ratio, 2),
                "pass": ratio >= TARGET_COMPLETIONS,
                "cpu_estimate": cpu_ratio(b, r),
            }
        )
    rows = results.get("sleeping") or []
    at = [row for row in rows if row["sleeping"] >= TARGET_RSS_AT]
    if at:
        value = at[0]["worker_rss_mb"]
        checks.append(
            {
                "target": f"worker RSS <= {TARGET_RSS_MB:.0f} MB at {TARGET_RSS_AT} sleeping",
                "value": value,
                "pass": value is not None and value <= TARGET_RSS_MB,
            }
        )
    elif rows:
        top = rows[-1]
        checks.append(
            {
                "target": f"worker RSS <= {TARGET_RSS_MB:.0f} MB at {TARGET_RSS_AT} sleeping",
                "value": f"{top['worker_rss_mb']} MB at {top['sleeping']} "
                f"(run --sleeping ...,{TARGET_RSS_AT})",
                "pass": None,
            }
        )
    return checks


def _ratio(p: dict[str, Any], b: dict[str, Any], key: str) -> float | None:
    return round(p[key] / b[key], 2) if p.get(key) and b.get(key) else None


def report(results: dict[str, Any]) -> None:
    b = results.get("bare") or {}
    rows = []
    for name in ("bare", "reminders", "invitations"):
        p = results.get(name)
        if not p:
            continue
        late, cpu = p["lateness_s"], p.get("cpu_ms_per_workflow", {})
        worker_cpu = cpu.get("bare_worker" if name == "bare" else "worker")
        rows.append(
            [name, p["n"], p["completed"], p["starts_per_s"], _ratio(p, b, "starts_per_s"),
             p["completions_per_s"], _ratio(p, b, "completions_per_s"), late["p50"], late["p99"], late["max"],
             cpu.get("server"), worker_cpu, cpu.get("bench"), p["worker_rss_peak_mb"], p["load_after"][0]]
        )  # fmt: skip
    headers = ["phase", "n", "done", "starts/s", "x bare", "done/s", "x bare", "late p50 s", "p99 s", "max s",
               "server ms/wf", "worker ms/wf", "client ms/wf", "RSS peak MB", "load"]  # fmt: skip
    if rows:
        print()
        print(table(headers, rows))
    if results.get("sleeping"):
        sleeping = [
            [r["sleeping"], r["asleep"], r["starts_per_s"], r["asleep_after_s"],
             r["cpu_ms_per_workflow"].get("server"), r["cpu_ms_per_workflow"].get("worker"),
             r["worker_rss_mb"], r["worker_rss_peak_mb"], r["server_rss_mb"], r["load"][0]]
            for r in results["sleeping"]
        ]  # fmt: skip
        print()
        print(table(["sleeping", "asleep", "starts/s", "all asleep after s", "server ms/wf", "worker ms/wf",
                     "worker RSS MB", "peak MB", "server RSS MB", "load"], sleeping))  # fmt: skip
    print()
    for check in results["targets"]:
        verdict = {True: "PASS", False: "FAIL", None: "N/A "}[check["pass"]]
        extra = ""
        if check.get("cpu_estimate") is not None:
            extra = f" (by CPU per workflow, whatever else the machine runs: {check['cpu_estimate']})"
        print(f"{verdict}  {check['target']}: {check['value']}{extra}")


async def run(args: argparse.Namespace) -> dict[str, Any]:
    data_dir = Path(args.data_dir) if args.data_dir else Path(tempfile.mkdtemp(prefix="pm-bench-"))
    data_dir.mkdir(parents=True, exist_ok=True)
    results: dict[str, Any] = {
        "command": args.command_line,
        "machine": machine(),
        "settings": vars(args).copy(),
    }
    results["settings"].pop("command_line", None)
    bench = Bench(args, data_dir)
    started = time.monotonic()
    try:
        await bench.start()
        phases = set(args.phases.split(","))
        if "bare" in phases:
            results["bare"] = await bench.bare(args.n)
        if "reminders" in phases:
            results["reminders"] = await bench.reminders(args.n)
        if "invitations" in phases:
            results["invitations"] = await bench.invitations(args.n)
        levels = [int(x) for x in args.sleeping.split(",") if x.strip()] if args.sleeping else []
        if "sleeping" in phases and levels:
            results["sleeping"] = await bench.sleeping(sorted(levels))
        results["worker_starts"] = bench.worker.starts
        results["worker_rss_end_mb"] = rss_mb(bench.worker.pid)
    finally:
        await bench.stop()
    results["duration_s"] = round(time.monotonic() - started, 1)
    results["loadavg_at_end"] = load()
    results["targets"] = targets(results)
    if args.scan:
        from bench import scan

        log("scanning the data folder for patient data")
        results["scan"] = scan.summary(scan.scan(data_dir))
    results["data_dir"] = str(data_dir)
    if not args.data_dir and not args.keep:
        shutil.rmtree(data_dir, ignore_errors=True)
        results["data_dir"] += " (deleted)"
    return results


def main() -> None:
    import sys

    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--n", type=int, default=1000, help="workflows per throughput phase")
    parser.add_argument(
        "--sleeping",
        default="1000,10000,20000",
        help="levels of sleeping reminders for the RSS figures, e.g. 1000,10000,20000",
    )
    parser.add_argument("--phases", default="bare,reminders,invitations,sleeping")
    parser.add_argument(
        "--gap",
        type=float,
        default=0.0,
        help="seconds from the first start to the due moment (default 10 + n/50)",
    )
    parser.add_argument("--settle", type=float, default=5.0, help="seconds idle before reading the RSS")
    parser.add_argument(
        "--worker-env",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="run bench.worker_variant with this setting, e.g. PM_BENCH_MAX_CACHED_WORKFLOWS=500",
    )
    parser.add_argument("--json", help="write the figures to this file")
    parser.add_argument("--data-dir", help="use (and keep) this folder instead of a fresh temporary one")
    parser.add_argument("--keep", action="store_true", help="keep the temporary data folder")
    parser.add_argument(
        "--no-scan",
        dest="scan",
        action="store_false",
        help="skip the patient-data scan of the data folder at the end",
    )
    args = parser.parse_args()
    args.command_line = "python -m bench.run " + " ".join(sys.argv[1:])
    results = asyncio.run(run(args))
    report(results)
    if "scan" in results:
        print(f"\npatient-data scan: {results['scan']['verdict']}")
    print(
        f"\nload average at start {results['machine']['loadavg_at_start']}, "
        f"at end {results['loadavg_at_end']}; "
        f"{results['duration_s']} s; data {results['data_dir']}"
    )
    write_json(args.json, results)


if __name__ == "__main__":
    main()
