"""Throughput, lateness and worker memory of the real worker against a bare Temporal baseline.

    python -m bench.run [--n 1000] [--sleeping 1000,10000,20000] [--sleeping-invitations 10000]
                        [--flame worker.svg] [--json out.json] [--data-dir DIR]

One run on a FRESH dev server in a temporary folder (`dev.dev_server_command` + `--headless`, free
loopback port), with the real worker as a subprocess (`python worker.py`, configured by environment,
JSON logs in `<data_dir>/worker.log`):

1. bare: N `BareWorkflow`s (one timer + one no-op activity, `bench/bare.py`, its own worker process
   configured like the real one) all due at the same moment;
2. reminders: N reminders (`VisitReminderV2`) booked through `application.book_visit` at a clinic whose S6
   moment for the visit (3 h later) is that same kind of moment: send time = the due moment, sending
   window the whole day. Completion = the SMS is in the embedded outbox;
3. invitations: N invitations (`CareRequestV3`) through `application.create_request` whose window starts
   exactly six weeks after the due moment at the clinic's invitation send time (V3), so the
   invitation is due then. Completion = the message is in the embedded 1177 inbox;
4. bare again (after reminders or invitations), on the server that now holds their workflows (a bare
   start cost it up to 29 % more CPU than on the fresh server: docs/performance.md §1, session 10).
   Each ratio is taken against the mean of both bare phases, which cancels a drift that grows with
   the phases between;
5. sleeping: reminders of visits three weeks ahead, started up to each level of `--sleeping`, then
   `--sleeping-invitations` care invitations asleep until their first message; after each step the
   worker's and the server's RSS are read from /proc once all are started and asleep.

After the drains, each phase's cost per workflow is counted from the histories of 50 of its workflows
(`bench/costs.py`). The verdicts need a quiet machine: above a load of 1.5 at the start the figures
are printed without one.

No timer is shortened and no test-only code path is used: the due moment is an ordinary clinic setting.
Completions are counted from the outbox, the inbox and the bare worker's record, never by waiting on
`handle.result()`. Lateness = when the message was stored minus the due moment.

The set-up and the phases are in `bench/run_phases.py`, the targets and the tables in `bench/run_report.py`.
"""

from __future__ import annotations

import argparse
import asyncio
import shutil
import tempfile
import time
from pathlib import Path
from typing import Any

from adapters import migrations
from bench.figures import write_json
from bench.machine import load, machine
from bench.meters import rss_mb
from bench.run_phases import Bench
from bench.run_report import baseline, report, targets
from testkit.postgres import PostgresServer
from testkit.waiting import log


async def run(args: argparse.Namespace) -> dict[str, Any]:
    data_dir = Path(args.data_dir) if args.data_dir else Path(tempfile.mkdtemp(prefix="pm-bench-"))
    data_dir.mkdir(parents=True, exist_ok=True)
    results: dict[str, Any] = {
        "command": args.command_line,
        "machine": machine(),
        "settings": vars(args).copy(),
    }
    results["settings"].pop("command_line", None)
    postgres = PostgresServer() if args.stores == "postgresql" else None
    if postgres is not None:  # the worker's stores in a fresh, migrated database
        postgres.start()
        args.database_url = postgres.create_database("bench_run")
        migrations.upgrade(args.database_url)
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
        if "bare" in phases and phases & {"reminders", "invitations"}:  # the baseline's drift
            results["bare_after"] = await bench.bare(args.n, again=True)
        levels = [int(x) for x in args.sleeping.split(",") if x.strip()] if args.sleeping else []
        if "sleeping" in phases and levels:
            results["sleeping"] = await bench.sleeping(sorted(levels), args.sleeping_invitations)
        results["worker_starts"] = bench.worker.starts
        results["worker_rss_end_mb"] = rss_mb(bench.worker.pid)
    finally:
        await bench.stop()
        bench.stores.close()
        if postgres is not None:
            postgres.stop()
    results["duration_s"] = round(time.monotonic() - started, 1)
    results["loadavg_at_end"] = load()
    results["baseline"] = baseline(results)
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
        help="a setting of the real and the bare worker, e.g. PM_WORKFLOW_SANDBOX=1; PM_BENCH_* runs "
        "bench.worker_variant, e.g. PM_BENCH_MAX_CACHED_WORKFLOWS=500",
    )
    parser.add_argument(
        "--stores",
        choices=["sqlite", "postgresql"],
        default="sqlite",
        help="the worker's stores: SQLite files, or a throw-away PostgreSQL server (testkit.postgres)",
    )
    parser.add_argument(
        "--sleeping-invitations", type=int, default=0,
        help="after the sleeping reminders, this many care invitations asleep until their first message",
    )  # fmt: skip
    parser.add_argument("--json", help="write the figures to this file")
    parser.add_argument(
        "--flame",
        help="write an SVG flame graph of the worker during the reminders' drain (py-spy; for a .txt "
        "path, the collapsed stacks)",
    )
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
