"""A clinic's year on the time-skipping test server: every visit's SMS reminder and every invitation's
messages, with the real workflows and activities, in minutes of wall time.

    python -m bench.clinic_year [--visits 2000] [--invitations 200] [--json out.json]
    python -m bench.clinic_year --visits 20000 --invitations 2000     # a large clinic (much longer)

Set-up as in `tests/harness.py`: the time-skipping server (`temporal-test-server` from the PyPI package,
no download), the search attributes registered, a worker from `worker_setup.build_worker` in this process
with the real activities on an embedded directory, SMS outbox, 1177 inbox and letters folder.

At the start, `--visits` visits spread over the next 365 days (weekdays, 08:00–16:00) are booked through
`operations.book_visit`, and `--invitations` care invitations with 30-day windows starting 1–365 days
ahead are created through `operations.create_request`. Then the server's clock is moved forward by
400 days. Expected: one SMS per visit whose patient has an SMS consent (10 % have none: no SMS), and per
invitation the messages `domain.invitation_schedule.next_step` plans (invitation, reminder 1 and 2
unless the window ends first; then the follow-up list) — to the 1177 inbox, or as a letter for the 20 %
of patients who do not use 1177.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import random
import shutil
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import date, datetime, timedelta
from datetime import time as dtime
from pathlib import Path
from typing import Any

from temporalio.api.testservice.v1 import SleepRequest
from temporalio.contrib.pydantic import pydantic_data_converter
from temporalio.service import RPCError
from temporalio.testing import WorkflowEnvironment

import application as app
from adapters.directory import SqliteDirectory
from adapters.inbox import SqliteInbox
from adapters.letters import PdfLetterOutbox
from adapters.mailbox import SqliteMailbox
from adapters.sms import SqliteOutbox
from bench.figures import write_json
from bench.machine import load, machine
from domain.booking import VisitBooking
from domain.invitation import CareInvitation, DateWindow
from domain.invitation_schedule import Step, next_step
from domain.timing import at_local, local_date, plan_sms_send
from infrastructure.logging_setup import configure_logging
from infrastructure.namespace_setup import register_search_attributes
from infrastructure.worker_setup import MAX_CONCURRENT_ACTIVITIES, Activities, build_worker
from testkit.population import MAX_PATIENTS, RECEPTION, fake_clinic, fake_patient, fake_pnr
from testkit.processes import venv_binary
from testkit.waiting import bounded_gather, log, wait_until

CLINIC = "year"
SEND_TIME = dtime(8, 0)


def test_server() -> str:
    return venv_binary("temporal-test-server")


def expected_messages(window: DateWindow, now: datetime) -> int:
    """How many messages an unanswered invitation sends (V3–V6, V13), by the pure schedule."""
    sent: dict[Step, datetime] = {}
    while True:
        step = next_step(window, SEND_TIME, sent, now)
        if step.step is Step.FOLLOW_UP:
            return len(sent)
        sent[step.step] = step.at
        now = step.at


def weekday_after(start: date, days: int) -> date:
    day = start + timedelta(days=days)
    while day.weekday() >= 5:
        day += timedelta(days=1)
    return day


async def run(args: argparse.Namespace) -> dict[str, Any]:
    configure_logging("console", level=logging.WARNING)  # not one line per SMS
    rng = random.Random(args.seed)
    tmp = Path(tempfile.mkdtemp(prefix="pm-year-"))
    patients = min(max(args.visits, args.invitations, 1), MAX_PATIENTS)
    no_consent = set(rng.sample(range(patients), patients // 10))
    no_1177 = set(rng.sample(range(patients), patients // 5))
    directory = SqliteDirectory(tmp / "directory.sqlite3")
    directory.load_document(
        {
            "clinics": [fake_clinic(CLINIC, invitation_send_time=SEND_TIME)],
            "patients": [
                fake_patient(i, uses_1177=i not in no_1177, consent=i not in no_consent)
                for i in range(patients)
            ],
        }
    )
    outbox = SqliteOutbox(tmp / "outbox.sqlite3")
    inbox = SqliteInbox(tmp / "inbox-1177.sqlite3")
    letters_dir = tmp / "letters"
    letters = PdfLetterOutbox(letters_dir, compress=False)
    results: dict[str, Any] = {
        "command": args.command_line,
        "machine": machine(),
        "settings": {"visits": args.visits, "invitations": args.invitations},
    }
    wall = time.monotonic()
    try:
        async with await WorkflowEnvironment.start_time_skipping(
            data_converter=pydantic_data_converter, test_server_existing_path=test_server()
        ) as env:
            await register_search_attributes(env.client, "default")
            activities = Activities.wired(
                directory, outbox, "Varden", inbox, letters, mailbox=SqliteMailbox(tmp / "mailbox.sqlite3")
            )
            with ThreadPoolExecutor(max_workers=MAX_CONCURRENT_ACTIVITIES) as executor:
                async with build_worker(
                    env.client, "clinic-year", activities, executor, max_cached_workflows=1000, sandboxed=True
                ):
                    now = await env.get_current_time()
                    today = local_date(now)
                    visits = [
                        VisitBooking(
                            booking_id=f"y{i}",
                            patient_id=fake_pnr(i % patients),
                            clinic_id=CLINIC,
                            reception_id=RECEPTION,
                            start=at_local(
                                weekday_after(today, rng.randint(1, 365)),
                                dtime(rng.randint(8, 15), rng.choice([0, 15, 30, 45])),
                            ),
                        )
                        for i in range(args.visits)
                    ]
                    requests = []
                    for i in range(args.invitations):
                        first = today + timedelta(days=rng.randint(1, 365))
                        requests.append(
                            CareInvitation(
                                request_id=f"yi{i}",
                                referral_id=f"ref{i}",
                                patient_id=fake_pnr(i % patients),
                                clinic_id=CLINIC,
                                reception_id=RECEPTION,
                                visit_kind="new",
                                visit_type="Nybesök",
                                reason="Kontroll",
                                window=DateWindow(first_date=first, last_date=first + timedelta(30)),
                            )
                        )
                    clinic = directory.clinic(CLINIC)
                    assert clinic is not None
                    sms_expected = sum(
                        1
                        for i, v in enumerate(visits)
                        if i % patients not in no_consent
                        and plan_sms_send(v.start, now, clinic).at is not None
                    )
                    messages_expected = sum(expected_messages(r.window, now) for r in requests)
                    letters_expected = sum(
                        expected_messages(r.window, now)
                        for i, r in enumerate(requests)
                        if i % patients in no_1177
                    )
                    t0 = time.monotonic()
                    log(f"booking {args.visits} visits and creating {args.invitations} invitations")
                    book_s = await bounded_gather(
                        visits, lambda b: app.book_visit(env.client, "clinic-year", directory, b)
                    )
                    create_s = await bounded_gather(
                        requests, lambda r: app.create_request(env.client, "clinic-year", directory, r)
                    )
                    log(f"booked in {book_s:.1f} s, created in {create_s:.1f} s; moving the clock 400 days")
                    t1 = time.monotonic()
                    end = now + timedelta(days=400)
                    day = 0
                    while (current := await env.get_current_time()) < end:
                        await advance(env, min(timedelta(days=1), end - current))
                        day += 1
                        if day % 50 == 0:
                            log(
                                f"day {(current - now).days + 1}: {outbox.count()} SMS, "
                                f"{inbox.count()} inbox messages, {_letters(letters_dir)} letters"
                            )
                    year_s = time.monotonic() - t1

                    def counts() -> tuple[int, int, int]:
                        return outbox.count(), inbox.count(), _letters(letters_dir)

                    final, settled = await wait_until(
                        counts,
                        lambda c: c[0] >= sms_expected and c[1] + c[2] >= messages_expected,
                        timeout=120,
                        interval=1,
                    )
                    results |= {
                        "patients": patients,
                        "booking_s": round(book_s, 1),
                        "booking_per_s": round(args.visits / book_s, 1) if book_s else None,
                        "creating_s": round(create_s, 1),
                        "year_s": round(year_s, 1),
                        "total_s": round(time.monotonic() - t0, 1),
                        "sms_expected": sms_expected,
                        "sms_sent": final[0],
                        "invitation_messages_expected": messages_expected,
                        "inbox_messages": final[1],
                        "letters_expected": letters_expected,
                        "letters": final[2],
                        "all_settled": settled,
                    }
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    results["wall_s"] = round(time.monotonic() - wall, 1)
    results["loadavg_at_end"] = load()
    results["ok"] = results.get("sms_sent") == results.get("sms_expected") and results.get(
        "inbox_messages", 0
    ) + results.get("letters", 0) == results.get("invitation_messages_expected")
    return results


async def advance(env: WorkflowEnvironment, delta: timedelta) -> None:
    """`env.sleep(delta)` with a long RPC deadline: when many timers fall due in the same jump, the
    test server answers only after the worker has handled them all (which can take minutes of real
    time); a "Timeout expired" answer is retried, the clock keeps what it reached."""
    request = SleepRequest()
    request.duration.FromTimedelta(delta)
    for attempt in range(5):
        try:
            await env.client.test_service.unlock_time_skipping_with_sleep(
                request, timeout=timedelta(minutes=10)
            )
            return
        except RPCError as err:
            if "Timeout expired" not in str(err) or attempt == 4:
                raise
            log("the test server's clock is still catching up; waiting")


def _letters(folder: Path) -> int:
    return sum(1 for _ in folder.glob("*.pdf")) if folder.exists() else 0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--visits", type=int, default=2000)
    parser.add_argument("--invitations", type=int, default=200)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--json")
    args = parser.parse_args()
    args.command_line = "python -m bench.clinic_year " + " ".join(sys.argv[1:])
    r = asyncio.run(run(args))
    print(
        f"\n{'PASS' if r['ok'] else 'FAIL'}  a clinic year of {args.visits} visits and {args.invitations} "
        f"invitations in {r['wall_s']} s wall time (booking {r.get('booking_s')} s, the year "
        f"{r.get('year_s')} s)"
    )
    print(
        f"  SMS reminders: {r.get('sms_sent')} sent, {r.get('sms_expected')} expected "
        "(one per visit with consent)"
    )
    print(
        f"  invitation messages: {r.get('inbox_messages')} to the 1177 inbox + {r.get('letters')} letters = "
        f"{(r.get('inbox_messages') or 0) + (r.get('letters') or 0)}, "
        f"{r.get('invitation_messages_expected')} expected "
        "(invitation + reminders until the window ends, then follow-up)"
    )
    print(f"\nload average at start {r['machine']['loadavg_at_start']}, at end {r['loadavg_at_end']}")
    write_json(args.json, r)
    sys.exit(0 if r["ok"] else 1)


if __name__ == "__main__":
    main()
