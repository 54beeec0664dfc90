"""CPU and memory meters, read from /proc: VmRSS, CPU seconds, the CPU used between two moments
(`CpuMeter`), the machine's cores busy, idle and stolen (`MachineMeter`) and a background sampler of
the worker's peak RSS and the cores busy (`RssMonitor`)."""

from __future__ import annotations

import asyncio
import contextlib
import os
import time
from collections.abc import Callable

from testkit.processes import Child
from testkit.waiting import wait_until


def rss_mb(pid: int | None) -> float | None:
    """VmRSS of a process in MB (None when it is gone)."""
    if pid is None:
        return None
    try:
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    return round(int(line.split()[1]) / 1024, 1)
    except OSError:
        return None
    return None


def child_rss_mb(child: Child) -> float | None:
    """VmRSS of a child process in MB (None when it is not running)."""
    return rss_mb(child.pid) if child.alive() else None


def cpu_seconds(pid: int | None) -> float | None:
    """User + system CPU time of a process so far (None when it is gone)."""
    if pid is None:
        return None
    try:
        with open(f"/proc/{pid}/stat") as f:
            fields = f.read().rsplit(")", 1)[1].split()
    except OSError:
        return None
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def machine_ticks() -> list[int]:
    """The machine's CPU time so far by state, in clock ticks: user, nice, system, idle, iowait, irq,
    softirq, steal (the first line of /proc/stat)."""
    with open("/proc/stat") as f:
        return [int(x) for x in f.readline().split()[1:9]]


class MachineMeter:
    """How many cores of the machine were busy, idle (or waiting for I/O) and stolen by the hypervisor
    for other virtual machines, on average between `start()` and `stop()`."""

    def start(self) -> None:
        self._start, self._at = machine_ticks(), time.monotonic()

    def stop(self) -> dict[str, float]:
        ticks = [b - a for a, b in zip(self._start, machine_ticks(), strict=True)]
        per_second = os.sysconf("SC_CLK_TCK") * (time.monotonic() - self._at)

        def cores(*states: int) -> float:
            return round(sum(ticks[i] for i in states) / per_second, 2)

        return {"busy": cores(0, 1, 2, 5, 6), "idle": cores(3, 4), "steal": cores(7)}


class CpuMeter:
    """CPU seconds used by named processes between `start()` and `stop()`."""

    def __init__(self, pids: dict[str, Callable[[], int | None]]) -> None:
        self._pids = pids
        self._start: dict[str, float | None] = {}

    def _now(self) -> dict[str, float | None]:
        values = {name: cpu_seconds(pid()) for name, pid in self._pids.items()}
        times = os.times()
        values["bench"] = times.user + times.system
        return values

    def start(self) -> None:
        self._start = self._now()

    def stop(self) -> dict[str, float | None]:
        end = self._now()
        return {
            name: (
                round(end[name] - self._start[name], 2)
                if end[name] is not None and self._start.get(name) is not None
                else None
            )
            for name in end
        }


class RssMonitor:
    """Samples every `interval` seconds in the background: the worker's VmRSS (keeps the peak) and the
    CPU seconds of the named processes (for the utilisation during a time window)."""

    def __init__(
        self,
        pid_of: Callable[[], int | None],
        cpu_pids: dict[str, Callable[[], int | None]] | None = None,
        interval: float = 1.0,
    ) -> None:
        self._pid_of = pid_of
        self._cpu_pids = cpu_pids or {}
        self._interval = interval
        self.peak: float = 0.0
        self.samples: list[tuple[float, dict[str, float | None]]] = []
        self._task: asyncio.Task[None] | None = None

    async def _run(self) -> None:
        while True:
            value = rss_mb(self._pid_of())
            if value:
                self.peak = max(self.peak, value)
            self.samples.append((time.time(), {k: cpu_seconds(pid()) for k, pid in self._cpu_pids.items()}))
            del self.samples[:-3600]
            await asyncio.sleep(self._interval)

    def utilisation(self, since_unix: float, until_unix: float) -> dict[str, float]:
        """CPU use of each process between two moments, in cores (1.0 = one core busy all the time)."""
        window = [
            s for s in self.samples if since_unix - self._interval <= s[0] <= until_unix + self._interval
        ]
        if len(window) < 2:
            return {}
        (t0, first), (t1, last) = window[0], window[-1]
        return {
            k: round((last[k] - first[k]) / (t1 - t0), 2)  # type: ignore[operator]
            for k in first
            if first[k] is not None and last.get(k) is not None
        }

    def start(self) -> None:
        self._task = asyncio.create_task(self._run())

    def reset(self) -> None:
        self.peak = 0.0

    async def stop(self) -> None:
        if self._task:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task


async def settle(pid: int | None, label: str) -> None:
    """Wait until the process has been idle (< 5 % of a core) for 3 s: its first tasks are done."""
    last = cpu_seconds(pid) or 0.0

    async def busy() -> float:
        nonlocal last
        await asyncio.sleep(3)
        now = cpu_seconds(pid) or 0.0
        used, last = (now - last) / 3, now
        return used

    await wait_until(busy, lambda used: used < 0.05, 600, 0, progress=lambda u: f"{label} {u:.2f}")
