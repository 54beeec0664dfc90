"""The machine a benchmark ran on (cores, memory, versions, load average), for the figures' header."""

from __future__ import annotations

import contextlib
import importlib.metadata
import os
import platform
import subprocess
from typing import Any

import dev


def load() -> list[float]:
    return [round(x, 2) for x in os.getloadavg()]


def machine() -> dict[str, Any]:
    mem_kb = 0
    with contextlib.suppress(OSError), open("/proc/meminfo") as f:
        for line in f:
            if line.startswith("MemTotal:"):
                mem_kb = int(line.split()[1])
    try:
        cli = subprocess.run(
            [str(dev.VENV / "bin" / "temporal"), "--version"], capture_output=True, text=True, timeout=20
        ).stdout.strip()
    except (OSError, subprocess.TimeoutExpired):
        cli = "unknown"
    return {
        "nproc": os.cpu_count(),
        "memory_gb": round(mem_kb / 1024 / 1024, 1),
        "python": platform.python_version(),
        "temporalio": importlib.metadata.version("temporalio"),
        "temporal_cli": cli,
        "platform": platform.platform(),
        "loadavg_at_start": load(),
    }
