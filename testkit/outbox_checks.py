"""Exactly once, read from the embedded SMS outbox of a rig's data folder: one SMS per booking and per
number, no key twice, every key of version 1; and how many resends the outbox absorbed by the key."""

from __future__ import annotations

import asyncio
import json
from collections import Counter
from datetime import datetime
from pathlib import Path
from typing import Any

from adapters.sms import SqliteOutbox
from contracts.workflow_ids import booking_reminder_id, parse_sms_key
from testkit.waiting import wait_until


def outbox_rows(data_dir: Path, prefix: str) -> list[Any]:
    """The SMS of the visits `<prefix><i>` that `Rig.book_storm` booked (at its clinic `storm-<prefix>`)."""
    key_prefix = booking_reminder_id(f"storm-{prefix}", prefix)
    return [m for m in SqliteOutbox(data_dir / "outbox.sqlite3").messages() if m.key.startswith(key_prefix)]


def resends_absorbed(data_dir: Path, prefix: str) -> int:
    """Sends the outbox answered as duplicates (a retried activity whose first attempt had stored the SMS)."""
    count = 0
    log_file = data_dir / "worker.log"
    if not log_file.exists():
        return 0
    for line in log_file.read_text(errors="replace").splitlines():
        if '"sms_sent"' in line and booking_reminder_id(f"storm-{prefix}", prefix) in line:
            try:
                count += bool(json.loads(line).get("duplicate"))
            except ValueError:
                continue
    return count


def check_outbox(data_dir: Path, prefix: str, n: int) -> dict[str, Any]:
    rows = outbox_rows(data_dir, prefix)
    keys = Counter(r.key for r in rows)
    sms_keys = {k: parse_sms_key(k) for k in keys}
    workflows = Counter(sms.workflow_id for r in rows if (sms := sms_keys[r.key]))
    numbers = Counter(r.to for r in rows)
    result = {
        "expected": n,
        "sms_in_outbox": len(rows),
        "keys_twice": sum(1 for c in keys.values() if c > 1),
        "bookings_with_two_sms": sum(1 for c in workflows.values() if c > 1),
        "numbers_with_two_sms": sum(1 for c in numbers.values() if c > 1),
        "keys_not_v1": sum(1 for sms in sms_keys.values() if sms is None or sms.version != 1),
        "resends_absorbed_by_key": resends_absorbed(data_dir, prefix),
    }
    result["ok"] = (
        len(rows) == n
        and result["keys_twice"] == 0
        and result["bookings_with_two_sms"] == 0
        and result["numbers_with_two_sms"] == 0
        and len(numbers) == n
    )
    return result


async def wait_for_outbox(data_dir: Path, prefix: str, n: int, timeout: float) -> bool:
    """Wait until `n` SMS of `prefix` are in the outbox (and 3 s more); whether they came in time."""
    _, ok = await wait_until(
        lambda: len(outbox_rows(data_dir, prefix)),
        lambda c: c >= n,
        timeout=timeout,
        interval=0.5,
        progress=lambda c: f"{prefix}: {c}/{n} SMS in the outbox",
    )
    await asyncio.sleep(3)  # a second SMS for any booking would show up now
    return ok


def last_sms_after(data_dir: Path, prefix: str, due: datetime) -> float | None:
    """Seconds from `due` to the last SMS of `prefix` stored in the outbox (None: none yet)."""
    rows = outbox_rows(data_dir, prefix)
    return round(max(r.sent_at.timestamp() for r in rows) - due.timestamp(), 1) if rows else None
