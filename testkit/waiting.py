"""Moments and bounded waits: due moments with the Stockholm offset, polling with a deadline, bounded
concurrency, and the progress line (time and load average) that long waits print."""

from __future__ import annotations

import asyncio
import inspect
import math
import os
import time
from collections.abc import Awaitable, Callable, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any, TypeVar

from domain.timing import to_local

T = TypeVar("T")


def log(message: str) -> None:
    stamp = datetime.now().strftime("%H:%M:%S")
    print(f"[{stamp} load {' '.join(f'{x:.1f}' for x in os.getloadavg())}] {message}", flush=True)


def due_moment(seconds_ahead: float) -> datetime:
    """A whole second at least `seconds_ahead` from now, with the Stockholm offset."""
    moment = datetime.now(UTC).replace(microsecond=0) + timedelta(seconds=math.ceil(seconds_ahead))
    return to_local(moment)


def since(moment: datetime) -> float:
    return (datetime.now(UTC) - moment).total_seconds()


async def wait_until(
    probe: Callable[[], Awaitable[T] | T],
    done: Callable[[T], bool],
    timeout: float,
    interval: float = 0.25,
    progress: Callable[[T], str] | None = None,
) -> tuple[T, bool]:
    """Poll until `done(value)` or the deadline; (last value, reached)."""
    deadline = time.monotonic() + timeout
    last_report = time.monotonic()
    while True:
        value = probe()
        if inspect.isawaitable(value):
            value = await value
        if done(value):  # type: ignore[arg-type]
            return value, True  # type: ignore[return-value]
        if time.monotonic() > deadline:
            return value, False  # type: ignore[return-value]
        if progress and time.monotonic() - last_report > 10:
            log(progress(value))  # type: ignore[arg-type]
            last_report = time.monotonic()
        await asyncio.sleep(interval)


async def bounded_gather(
    items: Sequence[T], fn: Callable[[T], Awaitable[Any]], concurrency: int = 64
) -> float:
    """Run `fn` over `items` with at most `concurrency` at once; return the seconds it took."""
    queue: asyncio.Queue[T] = asyncio.Queue()
    for item in items:
        queue.put_nowait(item)

    async def runner() -> None:
        while True:
            try:
                item = queue.get_nowait()
            except asyncio.QueueEmpty:
                return
            for attempt in range(5):
                try:
                    await fn(item)
                    break
                except Exception:
                    if attempt == 4:
                        raise
                    await asyncio.sleep(1 + attempt)

    start = time.monotonic()
    await asyncio.gather(*(runner() for _ in range(min(concurrency, len(items)) or 1)))
    return time.monotonic() - start
