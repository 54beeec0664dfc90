"""Exactly once on two hosts: the same fault storm with the stores in one PostgreSQL database and with
each host's own SQLite files, in one run.

    python -m bench.two_hosts [--n 2000] [--kills 3] [--stores postgresql,sqlite] [--json out.json]
        [--lost 0.1] [--lost-mode timeout|reset|both] [--history-lag 20]

Per mode: a fresh dev server, two worker "hosts" with separate data folders, a 46elks-shaped provider
on 127.0.0.1 that loses `--lost` of its answers after accepting (`--lost-mode`: after the client's
timeout, the connection reset at once, or both), shows a message in its history `--history-lag` s
after taking it (46elks' history may lag; issue 29) and fails `--fail` with 503, N
reminders due at one moment, host A's worker `kill -9`'d `--kills` times during the drain
(`testkit.two_hosts`). PostgreSQL is a throw-away server from the machine's binaries
(`testkit.postgres`). Prints delivered / twice / lost per mode; PostgreSQL must give N, 0, 0.
"""

from __future__ import annotations

import argparse
import asyncio
import dataclasses
import shutil
import sys
import tempfile
from pathlib import Path
from typing import Any

from bench.figures import table, write_json
from bench.machine import machine
from bench.provider_options import add_lost_answer_options
from testkit.population import MAX_PATIENTS
from testkit.postgres import PostgresServer
from testkit.two_hosts import TwoHostsConfig, TwoHostsResult, run_two_hosts


async def run(args: argparse.Namespace) -> list[TwoHostsResult]:
    if args.n > MAX_PATIENTS:
        raise SystemExit(f"--n at most {MAX_PATIENTS} (one fake mobile number per reminder)")
    results = []
    with PostgresServer() as postgres:
        for kind in args.stores.split(","):
            config = TwoHostsConfig(
                n=args.n,
                stores=kind,
                kills=args.kills,
                lost_answers=args.lost,
                lost_mode=args.lost_mode,
                history_lag=args.history_lag,
                history_wait=args.history_wait,
                fail_5xx=args.fail,
                seed=args.seed,
            )
            folder = Path(tempfile.mkdtemp(prefix=f"pm-two-hosts-{kind}-"))
            url = postgres.create_database(f"two_hosts_{kind}") if kind == "postgresql" else None
            try:
                results.append(await run_two_hosts(folder, config, url))
            finally:
                shutil.rmtree(folder, ignore_errors=True)
    return results


def as_dict(result: TwoHostsResult) -> dict[str, Any]:
    return dataclasses.asdict(result) | {"ok": result.ok}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--n", type=int, default=2000)
    parser.add_argument("--kills", type=int, default=3)
    parser.add_argument("--lost", type=float, default=0.10, help="share of answers lost after accepting")
    add_lost_answer_options(parser)
    parser.add_argument(
        "--history-wait", type=float, help="the workers' PM_SMS_HISTORY_WAIT in s (default: theirs, 300)"
    )
    parser.add_argument("--fail", type=float, default=0.20, help="share of requests answered 503")
    parser.add_argument("--stores", default="postgresql,sqlite", help="postgresql, sqlite or both")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--json")
    args = parser.parse_args()
    info = machine()
    results = asyncio.run(run(args))
    rows = [
        [
            r.config.stores,
            r.config.n,
            r.delivered,
            r.delivered_twice,
            r.lost,
            (r.provider.get("timeouts") or 0) + (r.provider.get("resets") or 0),
            r.provider.get("failed_5xx"),
            len(r.kills),
            r.drain_s,
            "PASS" if r.ok else "FAIL",
        ]
        for r in results
    ]
    headers = ["stores", "n", "delivered", "twice", "lost", "lost answers", "503s", "kills", "drain s", ""]
    print()
    print(table(headers, rows))
    print(f"load at start {info['loadavg_at_start']}, {info['nproc']} cores")
    command = "python -m bench.two_hosts " + " ".join(sys.argv[1:])
    write_json(args.json, {"command": command, "machine": info, "results": [as_dict(r) for r in results]})
    postgres = [r for r in results if r.config.stores == "postgresql"]
    sys.exit(0 if all(r.ok for r in postgres) else 1)


if __name__ == "__main__":
    main()
