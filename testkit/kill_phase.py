"""The kill phase: a reminder storm during which the worker is killed (-9) and restarted, then checked
for exactly one SMS per booking (`testkit.outbox_checks`). Run by tests/infrastructure/test_faults.py
(small) and by `python -m bench.faults` (full size)."""

from __future__ import annotations

import asyncio
import random
from typing import Any

from testkit.outbox_checks import check_outbox, last_sms_after, outbox_rows, wait_for_outbox
from testkit.rig import Rig
from testkit.waiting import due_moment, log, since


async def phase_kills(
    rig: Rig,
    n: int,
    kills: int,
    seed: int,
    gap: float | None = None,
    moments: list[float] | None = None,
    prefix: str = "fk",
    timeout: float | None = None,
) -> dict[str, Any]:
    """kill -9 the worker at `moments` (seconds after the due moment; random when None) and restart it."""
    gap = gap or 15 + n / 60
    due = due_moment(gap)
    log(f"kills: booking {n} reminders due {due.isoformat()}")
    await rig.book_storm(prefix, range(n), due)
    if moments is None:
        rng = random.Random(seed)
        window = max(10.0, n / 40)
        moments = sorted(rng.uniform(-5, window) for _ in range(kills))
    done = []
    for moment in moments:
        await asyncio.sleep(max(0.0, moment - since(due)))
        sent = len(outbox_rows(rig.data_dir, prefix))
        rig.worker.kill9()
        log(f"kills: kill -9 at due{moment:+.1f} s ({sent}/{n} sent); restarting")
        await asyncio.sleep(1)
        rig.start_worker()
        done.append({"at_s_after_due": round(moment, 1), "sent_before": sent})
    ok = await wait_for_outbox(rig.data_dir, prefix, n, timeout or 120 + n / 5)
    result = check_outbox(rig.data_dir, prefix, n)
    last = last_sms_after(rig.data_dir, prefix, due)
    result |= {"kills": done, "all_sent_in_time": ok, "last_sms_s_after_due": last}
    return result
