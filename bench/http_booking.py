"""Booking over HTTP against booking directly through the Python client, in one run.

    python -m bench.http_booking [--n 1000] [--clients 32] [--json out.json]

A fresh dev server, the real worker and the HTTP API as separate processes (`python worker.py`,
`python -m entrypoints.http`), a directory of N fake patients. Phase "direct": N bookings through
`application.book_visit` with `--clients` at a time, as a Python booking system would. Phase "http":
N other bookings as `POST /v1/visits` with an API key, `--clients` concurrent connections (auth,
the clinic check, the edge checks, the start and the audit record, each call). Before each phase the
worker has caught up (idle for 3 s): the reminders a phase starts are worked by the worker mostly after
the phase, and the next phase must not pay for them. Prints bookings per second, the ratio (target
≥ 0.8×), the p50/p99 latency of one booking call in each phase and the CPU each process used in it.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
import time
from datetime import timedelta
from typing import Any

import aiohttp

import application as app
from adapters.audit import ApiClient
from bench.figures import percentile, table, write_json
from bench.machine import load, machine
from bench.meters import cpu_seconds, settle
from domain.booking import VisitBooking
from testkit.api_rig import ApiRig, api_rig
from testkit.population import MAX_PATIENTS, RECEPTION, clinic_due_at, fake_patient, fake_pnr
from testkit.waiting import due_moment, log

TARGET = 0.8
PROCESSES = ("server", "worker", "api", "client")
CLINIC = "http-bench"


async def timed(calls: list[Any], clients: int) -> tuple[float, list[float]]:
    """Run the coroutine factories `calls`, `clients` at a time; (wall seconds, latency of each)."""
    queue: asyncio.Queue[Any] = asyncio.Queue()
    for call in calls:
        queue.put_nowait(call)
    latencies: list[float] = []

    async def runner() -> None:
        while not queue.empty():
            call = queue.get_nowait()
            began = time.perf_counter()
            await call()
            latencies.append(time.perf_counter() - began)

    started = time.perf_counter()
    await asyncio.gather(*(runner() for _ in range(clients)))
    return time.perf_counter() - started, latencies


def cpu_of(rig: ApiRig) -> dict[str, float]:
    """CPU seconds so far of each process of the rig and of this one (the booking system)."""
    pids = {"server": rig.server.pid, "worker": rig.worker.pid, "api": rig.api.pid, "client": os.getpid()}
    return {name: cpu_seconds(pid) or 0.0 for name, pid in pids.items()}


def used_since(rig: ApiRig, before: dict[str, float]) -> dict[str, float]:
    return {name: round(now - before[name], 2) for name, now in cpu_of(rig).items()}


def figures(name: str, n: int, wall: float, latencies: list[float]) -> dict[str, Any]:
    return {
        "phase": name,
        "n": n,
        "per_s": round(n / wall, 1),
        "p50_ms": round(1000 * (percentile(latencies, 50) or 0), 1),
        "p99_ms": round(1000 * (percentile(latencies, 99) or 0), 1),
    }


async def run(args: argparse.Namespace) -> dict[str, Any]:
    if args.n > MAX_PATIENTS:
        raise SystemExit(f"--n at most {MAX_PATIENTS} (one fake patient per booking)")
    results: dict[str, Any] = {"machine": machine(), "settings": {"n": args.n, "clients": args.clients}}
    visit = due_moment(3600) + timedelta(days=2)
    patients = [fake_patient(i) for i in range(2 * args.n)]
    directory = {"clinics": [clinic_due_at(CLINIC, visit - timedelta(days=1), visit)], "patients": patients}
    async with api_rig("pm-http-bench-", directory) as rig:
        client, stores = rig.client, rig.stores
        key = stores.api_keys.create(ApiClient(client_id="bench", clinics=[CLINIC]))

        def booking(i: int) -> VisitBooking:
            return VisitBooking(
                booking_id=f"hb{i}",
                patient_id=fake_pnr(i),
                clinic_id=CLINIC,
                reception_id=RECEPTION,
                start=visit,
            )

        def direct(i: int) -> Any:
            return lambda: app.book_visit(client, "patient-messaging", stores.directory, booking(i))

        await settle(rig.worker.pid, "worker busy")
        log(f"direct: {args.n} bookings through the Python client, {args.clients} at a time")
        before = cpu_of(rig)
        wall, latencies = await timed([direct(i) for i in range(args.n)], args.clients)
        results["direct"] = figures("direct", args.n, wall, latencies) | {"cpu_s": used_since(rig, before)}
        before = cpu_of(rig)
        await settle(rig.worker.pid, "the worker catching up with the direct phase")
        results["direct"]["cpu_after_s"] = used_since(rig, before)

        # aiohttp, not httpx, as the load generator: it shares the 2 cores with what it measures, and
        # costs about half of httpx's CPU per request.
        connector = aiohttp.TCPConnector(limit=args.clients)
        headers = {"Authorization": f"Bearer {key}", "Content-Type": "application/json"}
        async with aiohttp.ClientSession(base_url=rig.api_url, headers=headers, connector=connector) as http:
            failures: list[int] = []

            def over_http(i: int) -> Any:
                async def call() -> None:
                    async with http.post("/v1/visits", data=booking(i).model_dump_json()) as answer:
                        await answer.read()
                        if answer.status != 201:
                            failures.append(answer.status)

                return call

            log(f"http: {args.n} bookings as POST /v1/visits, {args.clients} connections")
            before = cpu_of(rig)
            wall, latencies = await timed([over_http(args.n + i) for i in range(args.n)], args.clients)
            cpu = used_since(rig, before)
        results["http"] = figures("http", args.n, wall, latencies) | {"failed": len(failures), "cpu_s": cpu}
        results["ratio"] = round(results["http"]["per_s"] / results["direct"]["per_s"], 2)
        results["loadavg_at_end"] = load()
        return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--n", type=int, default=1000)
    parser.add_argument("--clients", type=int, default=32)
    parser.add_argument("--json")
    args = parser.parse_args()
    r = asyncio.run(run(args))
    rows = [[p["phase"], p["n"], p["per_s"], p["p50_ms"], p["p99_ms"]] for p in (r["direct"], r["http"])]
    print()
    print(table(["phase", "n", "bookings/s", "p50 ms", "p99 ms"], rows))
    print()
    cpu = [[phase, *(r[phase]["cpu_s"][name] for name in PROCESSES)] for phase in ("direct", "http")]
    cpu.append(["after direct", *(r["direct"]["cpu_after_s"][name] for name in PROCESSES)])
    print(table(["CPU s in the phase", *PROCESSES], cpu))
    verdict = "PASS" if r["ratio"] >= TARGET else "FAIL"
    failed = r["http"]["failed"]
    print(f"{verdict}  HTTP bookings >= {TARGET}x direct starts: {r['ratio']} ({failed} failed calls)")
    print(f"load at start {r['machine']['loadavg_at_start']}, at end {r['loadavg_at_end']}")
    write_json(args.json, r | {"command": "python -m bench.http_booking " + " ".join(sys.argv[1:])})
    sys.exit(0 if verdict == "PASS" and not r["http"]["failed"] else 1)


if __name__ == "__main__":
    main()
