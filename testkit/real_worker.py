"""The real worker (`python worker.py`) as a child process, configured by environment, and the client of
its dev server.

The worker's SMS gateway is the embedded outbox, or 46elks-shaped HTTP only to a fake provider on
loopback: `require_loopback` refuses any other host, so no SMS ever leaves this machine.
"""

from __future__ import annotations

import asyncio
import os
import time
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from temporalio.client import Client

from infrastructure.config import Settings
from infrastructure.namespace_setup import register_search_attributes
from infrastructure.temporal_client import connect
from testkit.processes import PYTHON, ROOT, Child


def require_loopback(url: str) -> None:
    host = urlsplit(url).hostname
    if host not in ("127.0.0.1", "localhost", "::1"):
        raise SystemExit(f"refusing to send benchmark SMS anywhere but loopback (got host {host!r})")


def settings_for(address: str, data_dir: Path, **extra: Any) -> Settings:
    """Settings of the benchmark's own client: local mode (its key file in the data folder)."""
    return Settings(temporal_address=address, data_dir=data_dir, log_format="json", local=True, **extra)


def prepare_keys(data_dir: Path) -> None:
    """Create the local key file once, before the worker and the client race to create it."""
    try:
        from security.keyring import ensure_local_keyring
    except ImportError:  # payload encryption not in this tree
        return
    ensure_local_keyring(data_dir / "keys.txt")


def worker_env(address: str, data_dir: Path, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("ELKS_", "PM_", "TEMPORAL_", "INBOX_"))}
    env.update(
        TEMPORAL_ADDRESS=address,
        PM_DATA_DIR=str(data_dir),
        PM_LOG_FORMAT="json",
        PM_LOCAL="1",
        PM_SMS_GATEWAY="outbox",
        PYTHONUNBUFFERED="1",
    )
    env.update(extra)
    if env.get("PM_SMS_GATEWAY") == "46elks":
        require_loopback(env["ELKS_URL"])
    return env


def real_worker(
    address: str, data_dir: Path, module: str | None = None, name: str = "worker", **extra: str
) -> Child:
    """`python worker.py` (or `python -m module`) configured by environment, JSON logs to `name`.log."""
    argv = [PYTHON, "-m", module] if module else [PYTHON, str(ROOT / "worker.py")]
    return Child(name, argv, data_dir / f"{name}.log", worker_env(address, data_dir, **extra))


async def connect_client(address: str, data_dir: Path, timeout: float = 60) -> Client:
    """`starter.connect` with retries while the server comes up; registers the search attributes."""
    deadline = time.monotonic() + timeout
    settings = settings_for(address, data_dir)
    while True:
        try:
            client = await connect(settings)
            await register_search_attributes(client, settings.namespace)
            return client
        except Exception:
            if time.monotonic() > deadline:
                raise
            await asyncio.sleep(0.5)
