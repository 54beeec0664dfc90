"""`dev.py run --demo` on the real Temporal CLI dev server, one per test module that asks for it."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from testkit.processes import free_port

ROOT = Path(__file__).resolve().parents[2]
TEMPORAL = Path(sys.executable).parent / "temporal"
READY_TIMEOUT_S = 120.0
STOP_TIMEOUT_S = 30.0


@dataclass
class DevRun:
    """A running `dev.py run --demo` and what a test needs to talk to it."""

    process: subprocess.Popen[str]
    port: int
    data_dir: Path
    env: dict[str, str]
    output: list[str] = field(default_factory=list)

    @property
    def address(self) -> str:
        return f"127.0.0.1:{self.port}"

    def starter(self, *args: str) -> subprocess.CompletedProcess[str]:
        """Run `starter.py ARGS` against this server, as a separate process."""
        return subprocess.run(
            [sys.executable, str(ROOT / "starter.py"), *args],
            cwd=ROOT,
            env=self.env,
            capture_output=True,
            text=True,
            timeout=60,
        )

    def log(self) -> str:
        return "".join(self.output[-60:])


def free_ports(count: int) -> list[int]:
    """`count` different ports free right now on 127.0.0.1 (outside the ephemeral range)."""
    ports: set[int] = set()
    while len(ports) < count:
        ports.add(free_port())
    return list(ports)


def port_open(port: int) -> bool:
    with socket.socket() as sock:
        sock.settimeout(0.5)
        return sock.connect_ex(("127.0.0.1", port)) == 0


def _pump(stream: Any, output: list[str], ready: threading.Event) -> None:
    for line in stream:
        output.append(line)
        if line.startswith("ready:"):
            ready.set()


@pytest.fixture(scope="module")
def dev_run(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[DevRun]:
    """`python dev.py run --demo` on free ports and a fresh data dir; SIGINT (Ctrl-C) stops it. A test
    module may set more of its environment in `DEV_RUN_ENV` (e.g. `PM_DELIVERY_SECRET`)."""
    data_dir = tmp_path_factory.mktemp("dev-run")
    port, ui_port, codec_port, api_port = free_ports(4)
    env = {k: v for k, v in os.environ.items() if not k.startswith(("TEMPORAL_", "PM_", "ELKS_"))}
    env |= {
        "PM_DATA_DIR": str(data_dir),
        "TEMPORAL_ADDRESS": f"127.0.0.1:{port}",
        "PM_UI_PORT": str(ui_port),
        "PM_CODEC_PORT": str(codec_port),
        "PM_API_PORT": str(api_port),
        "PM_LOG_FORMAT": "json",
        "PM_SMS_GATEWAY": "outbox",
        "PYTHONUNBUFFERED": "1",
    }
    env |= getattr(request.module, "DEV_RUN_ENV", {})
    process = subprocess.Popen(
        [sys.executable, str(ROOT / "dev.py"), "run", "--demo"],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        start_new_session=True,  # a stray Ctrl-C in the terminal does not reach it; teardown does
    )
    run = DevRun(process, port, data_dir, env)
    ready = threading.Event()
    reader = threading.Thread(target=_pump, args=(process.stdout, run.output, ready), daemon=True)
    reader.start()
    try:
        deadline = time.monotonic() + READY_TIMEOUT_S
        while not ready.wait(0.2):
            if process.poll() is not None:
                pytest.fail(f"dev.py run exited with {process.returncode} before ready:\n{run.log()}")
            if time.monotonic() > deadline:
                pytest.fail(f"no 'ready:' line within {READY_TIMEOUT_S:.0f} s:\n{run.log()}")
        yield run
    finally:
        stopped = _stop(process)
        reader.join(timeout=5)
    assert stopped, f"dev.py run did not exit within {STOP_TIMEOUT_S:.0f} s of SIGINT:\n{run.log()}"
    assert process.returncode == 0, f"dev.py run exited with {process.returncode}:\n{run.log()}"
    assert not port_open(port), f"the gRPC port {port} still accepts connections after Ctrl-C"


def _stop(process: subprocess.Popen[str]) -> bool:
    """Ctrl-C; True when it exited in time, else kill its whole session (all it started) and False."""
    if process.poll() is not None:
        return True
    process.send_signal(signal.SIGINT)
    try:
        process.wait(timeout=STOP_TIMEOUT_S)
        return True
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        process.wait(timeout=10)
        return False
