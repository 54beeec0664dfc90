"""Shared pieces of the benchmarks: a fresh dev server, the real worker as a subprocess, fake patients.

Everything listens on 127.0.0.1 only and every wait has a deadline. Children are started in their own
process group and stopped by their own pid (never by name).

Fake patients: personnummer with a valid check digit (`demo_data.luhn_pnr`, birth dates 1940–1989),
names "<Given> Bänk<abc>sson" and mobile numbers 070-174 00 00 … 070-174 99 99 (index i → 070-174 iiii).
That block contains the 95 numbers PTS reserves for fiction (070-174 06 05 … 99); the others are
ordinary-looking numbers. None of them ever leaves this machine: the SMS gateway of a benchmark is the
embedded outbox or a fake provider on 127.0.0.1 (`require_loopback` refuses anything else).
"""

from __future__ import annotations

import asyncio
import contextlib
import importlib.metadata
import inspect
import json
import math
import os
import platform
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Awaitable, Callable, Iterable, Sequence
from datetime import UTC, date, datetime, timedelta
from datetime import time as dtime
from pathlib import Path
from typing import Any, TypeVar
from urllib.parse import urlsplit

from temporalio.client import Client

import dev
from demo.data import luhn_pnr
from domain.timing import local_date, local_time, to_local
from infrastructure.config import Settings
from infrastructure.namespace_setup import register_search_attributes
from infrastructure.temporal_client import connect

ROOT = Path(__file__).resolve().parents[1]
PYTHON = sys.executable
HOST = "127.0.0.1"
MAX_PATIENTS = 10_000  # the mobile block 070-174 0000 … 9999
T = TypeVar("T")


# --- machine and figures ----------------------------------------------------------------------------


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


def percentile(values: Sequence[float], p: float) -> float | None:
    """Nearest-rank percentile (p in 0..100); None for no values."""
    if not values:
        return None
    ordered = sorted(values)
    rank = max(1, math.ceil(p / 100 * len(ordered)))
    return ordered[rank - 1]


def lateness(values: Sequence[float]) -> dict[str, float | None]:
    def r(x: float | None) -> float | None:
        return None if x is None else round(x, 2)

    return {
        "p50": r(percentile(values, 50)),
        "p99": r(percentile(values, 99)),
        "max": r(max(values) if values else None),
    }


def fmt(value: Any, digits: int = 1) -> str:
    if value is None:
        return "-"
    if isinstance(value, float):
        return f"{value:.{digits}f}"
    return str(value)


def table(headers: Sequence[str], rows: Iterable[Sequence[Any]]) -> str:
    cells = [[str(h) for h in headers], *[[fmt(c) for c in row] for row in rows]]
    widths = [max(len(row[i]) for row in cells) for i in range(len(headers))]
    lines = [
        "  ".join(c.rjust(w) if j else c.ljust(w) for j, (c, w) in enumerate(zip(row, widths, strict=True)))
        for row in cells
    ]
    lines.insert(1, "  ".join("-" * w for w in widths))
    return "\n".join(lines)


def write_json(path: str | None, payload: dict[str, Any]) -> None:
    if path:
        Path(path).write_text(json.dumps(payload, indent=2, default=str) + "\n")
        print(f"wrote {path}")


def log(message: str) -> None:
    stamp = datetime.now().strftime("%H:%M:%S")
    print(f"[{stamp} load {' '.join(f'{x:.1f}' for x in os.getloadavg())}] {message}", flush=True)


# --- processes --------------------------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind((HOST, 0))
        return sock.getsockname()[1]


def require_loopback(url: str) -> None:
    host = urlsplit(url).hostname
    if host not in ("127.0.0.1", "localhost", "::1"):
        raise SystemExit(f"refusing to send benchmark SMS anywhere but loopback (got host {host!r})")


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

    def rss_mb(self) -> float | None:
        return rss_mb(self.pid) if self.alive() else None


class DevServer(Child):
    """A fresh Temporal CLI dev server (`dev.dev_server_command`, WAL pragmas, search attributes) plus
    `--headless`, on a free loopback port, persisting to `<data_dir>/temporal.sqlite3`."""

    def __init__(self, data_dir: Path, port: int | None = None) -> None:
        self.data_dir = data_dir
        self.port = port or free_port()
        ui_port = free_port()
        argv = [*dev.dev_server_command(data_dir, HOST, self.port, ui_port, "default"), "--headless"]
        super().__init__("temporal", argv, data_dir / "temporal-server.log")

    @property
    def address(self) -> str:
        return f"{HOST}:{self.port}"

    def start(self, timeout: float = 60) -> None:
        super().start()
        dev.wait_for_port(HOST, self.port, timeout)


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


def real_worker(address: str, data_dir: Path, module: str | None = None, **extra: str) -> Child:
    """`python worker.py` (or `python -m module`) configured by environment, JSON logs to worker.log."""
    argv = [PYTHON, "-m", module] if module else [PYTHON, str(ROOT / "worker.py")]
    return Child("worker", argv, data_dir / "worker.log", worker_env(address, data_dir, **extra))


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


# --- fake patients and clinics ----------------------------------------------------------------------

GIVEN_NAMES = ["Testa", "Prova", "Mätta", "Belasta", "Kolla", "Granska", "Räkna", "Simulera"]
RECEPTION = "rec"


def _letters(i: int) -> str:
    a, rest = divmod(i, 26 * 26)
    b, c = divmod(rest, 26)
    return "".join(chr(ord("a") + x % 26) for x in (a, b, c))


def fake_pnr(i: int) -> str:
    """A distinct valid personnummer per index (birth dates 1940-01-01 … 1989-04-14)."""
    day, serial = i % 18_000, 100 + i // 18_000
    born = date(1940, 1, 1) + timedelta(days=day)
    return luhn_pnr(born.strftime("%Y%m%d"), f"{serial:03d}")


def fake_mobile(i: int) -> str:
    """070-174 iiii (national form); see the module docstring."""
    if not 0 <= i < MAX_PATIENTS:
        raise ValueError("fake mobiles exist for 0 <= i < 10000")
    return f"070-174{i:04d}"


def fake_patient(i: int, uses_1177: bool = True, consent: bool = True) -> dict[str, Any]:
    return {
        "patient_id": fake_pnr(i),
        "given_name": GIVEN_NAMES[i % len(GIVEN_NAMES)],
        "family_name": f"Bänk{_letters(i)}sson",
        "mobile": fake_mobile(i),
        "uses_1177": uses_1177,
        "postal_address": {"street": f"Mätvägen {i % 200 + 1}", "postal_code": "222 22", "city": "Lund"},
        "guardians": [],
        "sms_consents": (
            [{"clinic_id": None, "source": "1177", "given_at": "2024-01-10T12:00:00+01:00"}]
            if consent
            else []
        ),
    }


def fake_clinic(
    clinic_id: str,
    *,
    sms_send_time: dtime = dtime(9, 0),
    days_before: int = 1,
    whole_day: bool = False,
    invitation_send_time: dtime = dtime(8, 0),
) -> dict[str, Any]:
    """A connected clinic with one SMS-enabled reception `rec`; `whole_day`: window 00:00–23:59:59."""
    return {
        "clinic_id": clinic_id,
        "name": f"Mätkliniken {clinic_id}",
        "phone": "040-628 04 00",
        "sms_connected": True,
        "sms_days_before": days_before,
        "sms_send_time": sms_send_time.isoformat(),
        "sms_window_start": "00:00:00" if whole_day else "08:00:00",
        "sms_window_end": "23:59:59" if whole_day else "20:00:00",
        "invitation_send_time": invitation_send_time.isoformat(),
        "receptions": [
            {"reception_id": RECEPTION, "name": "Mätmottagningen", "sms_enabled": True, "minor_age_limit": 18}
        ],
    }


def clinic_due_at(clinic_id: str, due: datetime, visit: datetime) -> dict[str, Any]:
    """A clinic whose S6 moment for a visit at `visit` is exactly `due` (send time = due's local time,
    days before = the calendar days between them, sending window the whole day)."""
    days = (local_date(visit) - local_date(due)).days
    return fake_clinic(clinic_id, sms_send_time=local_time(due), days_before=days, whole_day=True)


def due_moment(seconds_ahead: float) -> datetime:
    """A whole second at least `seconds_ahead` from now, with the Stockholm offset."""
    moment = datetime.now(UTC).replace(microsecond=0) + timedelta(seconds=math.ceil(seconds_ahead))
    return to_local(moment)


def since(moment: datetime) -> float:
    return (datetime.now(UTC) - moment).total_seconds()


class Rig:
    """A fresh dev server, the directory with `patients` fake patients, the worker and a client."""

    def __init__(self, data_dir: Path, worker_module: str | None = None, **worker_extra: str) -> None:
        self.data_dir = data_dir
        self.server = DevServer(data_dir)
        self.worker = real_worker(self.server.address, data_dir, worker_module, **worker_extra)
        from adapters.directory import SqliteDirectory

        self.directory = SqliteDirectory(data_dir / "directory.sqlite3")
        self.client: Client

    async def start(self, patients: list[dict[str, Any]]) -> None:
        log(f"data folder {self.data_dir}; dev server on {self.server.address}")
        prepare_keys(self.data_dir)
        self.server.start()
        self.client = await connect_client(self.server.address, self.data_dir)
        self.directory.load_document({"clinics": [], "patients": patients})
        self.start_worker()

    def start_worker(self) -> None:
        self.worker.start()
        self.worker.wait_for_log("worker_started", timeout=60)

    async def stop(self) -> None:
        self.worker.stop()
        self.server.stop()

    async def book_storm(
        self, prefix: str, indexes: Sequence[int], due: datetime, clinic_id: str | None = None
    ) -> float:
        """Book one visit per patient index, 3 h after `due`, at a clinic whose S6 moment is `due`."""
        import application as app
        from domain.booking import VisitBooking

        visit = due + timedelta(hours=3)
        clinic_id = clinic_id or f"storm-{prefix}"
        self.directory.load_document({"clinics": [clinic_due_at(clinic_id, due, visit)], "patients": []})

        async def book(i: int) -> None:
            booking = VisitBooking(
                booking_id=f"{prefix}{i}",
                patient_id=fake_pnr(i),
                clinic_id=clinic_id,
                reception_id=RECEPTION,
                start=visit,
            )
            await app.book_visit(self.client, "patient-messaging", self.directory, booking)

        return await bounded_gather(indexes, book)


def e164(national: str) -> str:
    return "+46" + national.replace("-", "")[1:]
