"""Fault injection during reminder storms: killed workers, a restarted server, a flaky SMS provider.

    python -m bench.faults [--n 2000] [--kills 5] [--phases kills,server,flaky] [--json out.json]

One fresh dev server (persisting to `<tmp>/temporal.sqlite3`) and the real worker (`python worker.py`)
as a subprocess. Each phase books N visits (one fake patient, one mobile number each) whose reminders
are all due at the same moment, then:

- kills (`testkit.kill_phase`, which tests/infrastructure/test_faults.py runs small): `kill -9` the
  worker at `--kills` random moments around and during the drain, restarting it each time → exactly
  N SMS in the outbox, one per booking and number, no key twice;
- server: stops the dev server (SIGINT) during the drain and starts it again on the same
  `--db-filename` → the same;
- flaky: the worker on `PM_SMS_GATEWAY=46elks` against a local provider (`testkit.fake_provider`) that
  answers 30 % of calls with 503, lets 5 % time out and refuses `--invalid` numbers with 400 "Invalid
  to number" → every valid reminder delivered exactly once (counted by `to` number: 46elks has no
  idempotency key), each invalid number requested exactly once and recorded `failed`/`invalid_number`.
  `--timeout-delivers` makes a timed-out request count as delivered (the answer was lost, not the
  message): then a retry sends that SMS a second time, which this phase reports. `--lost-mode reset`
  (or `both`) loses answers by resetting the connection at once instead; `--history-lag S` shows a
  message in the provider's history only S seconds after it was taken (issue 29).
"""

from __future__ import annotations

import argparse
import asyncio
import random
import shutil
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import application as app
from application import targets
from bench.figures import write_json
from bench.machine import load, machine
from bench.provider_options import add_lost_answer_options
from domain.status import Outcome, Reason
from testkit.fake_provider import FakeProvider, LostMode, ProviderConfig, lost_answers
from testkit.kill_phase import phase_kills
from testkit.outbox_checks import check_outbox, last_sms_after, outbox_rows, wait_for_outbox
from testkit.population import MAX_PATIENTS, e164, fake_mobile, fake_patient
from testkit.real_worker import connect_client, real_worker
from testkit.rig import Rig
from testkit.waiting import due_moment, log, since, wait_until


async def phase_server(rig: Rig, n: int, down_s: float = 3.0, prefix: str = "fs") -> dict[str, Any]:
    gap = 15 + n / 60
    due = due_moment(gap)
    log(f"server: booking {n} reminders due {due.isoformat()}")
    await rig.book_storm(prefix, range(n), due)
    await wait_until(lambda: len(outbox_rows(rig.data_dir, prefix)), lambda c: c >= n // 3, timeout=gap + 120)
    sent = len(outbox_rows(rig.data_dir, prefix))
    log(f"server: stopping the dev server at due+{since(due):.1f} s ({sent}/{n} sent)")
    rig.server.stop()
    await asyncio.sleep(down_s)
    rig.server.start()
    log("server: dev server restarted on the same database")
    rig.client = await connect_client(rig.server.address, rig.data_dir)
    ok = await wait_for_outbox(rig.data_dir, prefix, n, 180 + n / 5)
    restarted_worker = False
    if not rig.worker.alive():  # should not happen: the worker reconnects by itself
        restarted_worker = True
    result = check_outbox(rig.data_dir, prefix, n)
    result |= {
        "sent_before_stop": sent,
        "server_down_s": down_s,
        "worker_died": restarted_worker,
        "all_sent_in_time": ok,
        "last_sms_s_after_due": last_sms_after(rig.data_dir, prefix, due),
    }
    return result


async def phase_flaky(
    rig: Rig,
    n: int,
    invalid: int,
    fail: float,
    timeouts: float,
    timeout_delivers: bool,
    seed: int,
    prefix: str = "ff",
    lost_mode: LostMode = "timeout",
    history_lag: float = 0.0,
    timeout: float = 900,
) -> dict[str, Any]:
    rng = random.Random(seed)
    invalid_idx = sorted(rng.sample(range(n), min(invalid, n)))
    invalid_numbers = {e164(fake_mobile(i)) for i in invalid_idx}
    provider = FakeProvider(
        config=ProviderConfig(
            fail_5xx=fail,
            invalid=invalid_numbers,
            timeout_delivers=timeout_delivers,
            history_lag=history_lag,
            seed=seed,
            **lost_answers(timeouts, lost_mode),
        )
    )
    url = provider.start()
    rig.worker.stop()
    rig.worker = real_worker(
        rig.server.address,
        rig.data_dir,
        PM_SMS_GATEWAY="46elks",
        ELKS_URL=url,
        ELKS_USERNAME="bench",
        ELKS_PASSWORD="bench",
    )
    rig.start_worker()
    valid = {e164(fake_mobile(i)) for i in range(n)} - invalid_numbers
    try:
        gap = 15 + n / 60
        due = due_moment(gap)
        log(f"flaky: booking {n} reminders due {due.isoformat()}, {len(invalid_numbers)} invalid numbers")
        await rig.book_storm(prefix, range(n), due)

        def settled() -> tuple[int, int]:
            s = provider.stats
            return (
                sum(1 for t in valid if s.delivered_by_to[t]),
                sum(1 for t in invalid_numbers if s.requests_by_to[t]),
            )

        reached, ok = await wait_until(
            settled,
            lambda v: v[0] >= len(valid) and v[1] >= len(invalid_numbers),
            timeout=gap + timeout,
            interval=0.5,
            progress=lambda v: (
                f"flaky: {v[0]}/{len(valid)} delivered, "
                f"{provider.stats.failed_5xx} 503s, {provider.stats.timeouts} timeouts"
            ),
        )
        await asyncio.sleep(15)  # retries of anything already delivered would arrive now
        s = provider.stats
        statuses = []
        for i in invalid_idx:
            reminder = app.Target(targets.visit(f"{prefix}{i}"), (f"storm-{prefix}",))
            status = await app.status(rig.client, reminder)
            last = status.messages[-1] if status.messages else None
            statuses.append(
                bool(last and last.outcome is Outcome.FAILED and last.reason is Reason.INVALID_NUMBER)
            )
        delivered_twice = sum(1 for t in valid if s.delivered_by_to[t] > 1)
        result = {
            "expected_valid": len(valid),
            "valid_delivered": sum(1 for t in valid if s.delivered_by_to[t]),
            "valid_delivered_twice": delivered_twice,
            "invalid_numbers": len(invalid_numbers),
            "invalid_requested_once": sum(1 for t in invalid_numbers if s.requests_by_to[t] == 1),
            "invalid_recorded_failed_invalid_number": sum(statuses),
            "provider": s.as_dict(),
            "timeout_delivers": timeout_delivers,
            "all_settled_in_time": ok,
            "last_delivery_s_after_due": round(s.last_delivery - due.timestamp(), 1)
            if s.last_delivery
            else None,
        }
        result["ok"] = (
            result["valid_delivered"] == len(valid)
            and delivered_twice == 0
            and result["invalid_requested_once"] == len(invalid_numbers)
            and result["invalid_recorded_failed_invalid_number"] == len(invalid_numbers)
        )
        del reached
        return result
    finally:
        rig.worker.stop()
        provider.stop()


async def run(args: argparse.Namespace) -> dict[str, Any]:
    if args.n > MAX_PATIENTS:
        raise SystemExit(f"--n at most {MAX_PATIENTS}")
    data_dir = Path(tempfile.mkdtemp(prefix="pm-faults-"))
    rig = Rig(data_dir)
    phases = args.phases.split(",")
    results: dict[str, Any] = {
        "command": args.command_line,
        "machine": machine(),
        "settings": {k: v for k, v in vars(args).items() if k != "command_line"},
    }
    started = time.monotonic()
    try:
        await rig.start([fake_patient(i) for i in range(args.n)])
        if "kills" in phases:
            results["kills"] = await phase_kills(rig, args.n, args.kills, args.seed)
        if "server" in phases:
            results["server"] = await phase_server(rig, args.n)
        if "flaky" in phases:
            results["flaky"] = await phase_flaky(
                rig,
                args.flaky_n or args.n,
                args.invalid,
                args.fail,
                args.timeouts,
                args.timeout_delivers,
                args.seed,
                lost_mode=args.lost_mode,
                history_lag=args.history_lag,
            )
    finally:
        await rig.stop()
        if not args.keep:
            shutil.rmtree(data_dir, ignore_errors=True)
    results["duration_s"] = round(time.monotonic() - started, 1)
    results["loadavg_at_end"] = load()
    results["data_dir"] = str(data_dir) + ("" if args.keep else " (deleted)")
    return results


def report(r: dict[str, Any]) -> bool:
    ok = True
    for name in ("kills", "server"):
        p = r.get(name)
        if not p:
            continue
        ok &= p["ok"]
        extra = f"{len(p['kills'])} kill -9" if name == "kills" else f"server down {p['server_down_s']} s"
        print(
            f"{'PASS' if p['ok'] else 'FAIL'}  {name} ({extra}): {p['sms_in_outbox']}/{p['expected']} SMS, "
            f"keys twice {p['keys_twice']}, bookings with two SMS {p['bookings_with_two_sms']}, numbers with "
            f"two SMS {p['numbers_with_two_sms']}, resends absorbed by the key "
            f"{p['resends_absorbed_by_key']}, "
            f"last SMS {p['last_sms_s_after_due']} s after the due moment"
        )
    f = r.get("flaky")
    if f:
        ok &= f["ok"]
        pv = f["provider"]
        print(
            f"{'PASS' if f['ok'] else 'FAIL'}  flaky provider: {f['valid_delivered']}/{f['expected_valid']} "
            f"valid delivered, {f['valid_delivered_twice']} twice; invalid numbers {f['invalid_numbers']}: "
            "requested "
            f"once {f['invalid_requested_once']}, recorded failed/invalid_number "
            f"{f['invalid_recorded_failed_invalid_number']}; provider saw {pv['requests']} requests, "
            f"{pv['failed_5xx']} x 503, {pv['timeouts']} timeouts; last delivery "
            f"{f['last_delivery_s_after_due']} s after the due moment"
        )
    print(
        f"\nload average at start {r['machine']['loadavg_at_start']}, at end {r['loadavg_at_end']}; "
        f"{r['duration_s']} s"
    )
    return ok


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--n", type=int, default=2000)
    parser.add_argument("--kills", type=int, default=5)
    parser.add_argument("--phases", default="kills,server,flaky")
    parser.add_argument("--flaky-n", type=int, default=0, help="reminders of the flaky phase (default --n)")
    parser.add_argument("--invalid", type=int, default=10, help="numbers the provider refuses as invalid")
    parser.add_argument("--fail", type=float, default=0.30, help="share of provider calls answered 503")
    parser.add_argument("--timeouts", type=float, default=0.05, help="share of provider calls timing out")
    parser.add_argument(
        "--timeout-delivers",
        action=argparse.BooleanOptionalAction,
        default=True,
        help="a timed-out call was delivered all the same, only its answer was lost (default)",
    )
    add_lost_answer_options(parser)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--keep", action="store_true", help="keep the temporary data folder")
    parser.add_argument("--json")
    args = parser.parse_args()
    args.command_line = "python -m bench.faults " + " ".join(sys.argv[1:])
    results = asyncio.run(run(args))
    ok = report(results)
    write_json(args.json, results)
    sys.exit(0 if ok else 1)


if __name__ == "__main__":
    main()
