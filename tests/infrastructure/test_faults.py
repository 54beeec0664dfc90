"""Fault injection, small enough for CI: the worker is killed (-9) twice around a reminder storm.

A fresh dev server and the real worker (`python worker.py`) as a subprocess, on loopback only. 50
reminders are due at the same moment; the worker is killed once while they sleep and once while they
are being sent, and restarted each time. Every booking must get exactly one SMS, under one key, to its
own number. The full-size version with a server restart and a flaky provider is `python -m bench.faults`.
"""

from __future__ import annotations

from pathlib import Path

from testkit.kill_phase import phase_kills
from testkit.population import fake_patient
from testkit.rig import Rig

N = 50


async def test_killed_worker_sends_every_reminder_exactly_once(tmp_path: Path) -> None:
    rig = Rig(tmp_path)
    try:
        await rig.start([fake_patient(i) for i in range(N)])
        result = await phase_kills(rig, N, kills=2, seed=1, gap=12, moments=[-5.0, 0.5], timeout=60)
    finally:
        await rig.stop()
    assert len(result["kills"]) == 2
    assert result["sms_in_outbox"] == N
    assert result["keys_twice"] == 0
    assert result["bookings_with_two_sms"] == 0
    assert result["numbers_with_two_sms"] == 0
    assert result["keys_not_v1"] == 0
    assert result["ok"]
