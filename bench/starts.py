"""What a start costs, with no worker running: N bare starts, N bare starts with a reminder's search
attributes and summary, and N reminders booked through `application.book_visit`, one after the other on
one fresh dev server (and bare starts with a summary alone, to split the two).

    python -m bench.starts [--n 2000] [--json out.json]

Per kind: starts per second, and CPU milliseconds per start of this process (the client: in the place of
a booking system, with its edge checks' directory reads) and of the server. No workflow task runs, so
this splits what `bench.run`'s start phases measure together with the workers' first tasks.
"""

from __future__ import annotations

import argparse
import asyncio
import shutil
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable
from datetime import timedelta
from pathlib import Path
from typing import Any

import application as app
from application.visits import reminder_attributes
from bench import bare
from bench.figures import table, write_json
from bench.machine import load, machine
from bench.meters import cpu_seconds
from domain.booking import VisitBooking
from infrastructure.config import Settings
from infrastructure.stores import Stores
from testkit.population import RECEPTION, clinic_due_at, fake_patient, fake_pnr
from testkit.processes import DevServer
from testkit.real_worker import connect_client, prepare_keys
from testkit.waiting import bounded_gather, due_moment, log

CLINIC = "bench-starts"
Starter = Callable[[int], Awaitable[None]]
PATIENTS = 1000


async def run(args: argparse.Namespace) -> dict[str, Any]:
    data_dir = Path(tempfile.mkdtemp(prefix="pm-starts-"))
    prepare_keys(data_dir)
    server = DevServer(data_dir)
    server.start()
    results: dict[str, Any] = {"command": args.command_line, "machine": machine(), "n": args.n}
    try:
        client = await connect_client(server.address, data_dir)
        directory = Stores(Settings(data_dir=data_dir)).directory
        due = due_moment(3600)
        visit = due + timedelta(hours=3)
        patients = [fake_patient(i) for i in range(PATIENTS)]
        directory.load_document({"clinics": [clinic_due_at(CLINIC, due, visit)], "patients": patients})
        clinic = directory.clinic(CLINIC)
        assert clinic is not None

        def booking(prefix: str, i: int) -> VisitBooking:
            return VisitBooking(booking_id=f"{prefix}{i}", patient_id=fake_pnr(i % PATIENTS),
                                clinic_id=CLINIC, reception_id=RECEPTION, start=visit)  # fmt: skip

        def bare_start(prefix: str, summary: bool = False, attributes: bool = False) -> Starter:
            """Starts bare workflow `<prefix><i>`, optionally with a reminder's summary and attributes."""

            async def start(i: int) -> None:
                options: dict[str, Any] = {}
                if summary:
                    options["static_summary"] = f"SMS reminder {prefix}{i} at {CLINIC}/{RECEPTION}"
                if attributes:
                    options["search_attributes"] = reminder_attributes(clinic, booking(prefix, i))
                await client.start_workflow(
                    bare.BareWorkflow.run, due.timestamp(), id=f"{prefix}{i}", task_queue="none", **options
                )

            return start

        async def book(i: int) -> None:
            await app.book_visit(client, "none", directory, booking("b", i))

        kinds: dict[str, Starter] = {
            "bare": bare_start("bare-"),
            "bare + a summary": bare_start("bare-s-", summary=True),
            "bare + reminder's attributes and summary": bare_start("bare-sa-", summary=True, attributes=True),
            "reminder (book_visit)": book,
        }
        for name, start in kinds.items():
            log(f"{name}: {args.n} starts")
            server_cpu, client_cpu = cpu_seconds(server.pid) or 0.0, time.process_time()
            seconds = await bounded_gather(range(args.n), start)  # type: ignore[arg-type]
            server_cpu = (cpu_seconds(server.pid) or 0.0) - server_cpu
            results[name] = {
                "starts_per_s": round(args.n / seconds, 1),
                "client_cpu_ms": round((time.process_time() - client_cpu) * 1000 / args.n, 2),
                "server_cpu_ms": round(server_cpu * 1000 / args.n, 2),
                "load": load(),
            }
    finally:
        server.stop()
        shutil.rmtree(data_dir, ignore_errors=True)
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--n", type=int, default=2000)
    parser.add_argument("--json")
    args = parser.parse_args()
    args.command_line = " ".join(["python -m bench.starts", *sys.argv[1:]])
    print(f"load average at start {load()}")
    results = asyncio.run(run(args))
    bare_rate = results["bare"]["starts_per_s"]
    kinds = {name: r for name, r in results.items() if isinstance(r, dict) and "starts_per_s" in r}
    rows = [
        [
            name,
            r["starts_per_s"],
            round(r["starts_per_s"] / bare_rate, 2),
            r["client_cpu_ms"],
            r["server_cpu_ms"],
        ]
        for name, r in kinds.items()
    ]
    print(table(["kind", "starts/s", "x bare", "client CPU ms/start", "server CPU ms/start"], rows))
    print(f"load average at end {load()}")
    write_json(args.json, results)


if __name__ == "__main__":
    main()
