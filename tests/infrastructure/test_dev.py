"""`dev.py bench NAME …` runs a benchmark module in the project's environment; `dev.py cli …` the command
line and `dev.py temporal …` the Temporal CLI of `.venv` (README)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent.parent


def test_dev_bench_runs_the_named_benchmark_with_its_arguments(tmp_path: Path) -> None:
    done = subprocess.run(
        [sys.executable, "dev.py", "bench", "scan", "--data-dir", str(tmp_path / "missing")],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode != 0 and "missing" in done.stdout + done.stderr
    help_text = subprocess.run(
        [sys.executable, "dev.py", "bench", "storm", "--help"], cwd=ROOT, capture_output=True, text=True
    )
    assert help_text.returncode == 0 and "--rate" in help_text.stdout


def test_dev_bench_refuses_an_unknown_benchmark() -> None:
    done = subprocess.run(
        [sys.executable, "dev.py", "bench", "nope"], cwd=ROOT, capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 2 and "invalid choice" in done.stderr


def test_dev_cli_is_the_command_line_with_its_arguments_and_exit_code(tmp_path: Path) -> None:
    """`python3 dev.py cli …` runs `starter.py …` in `.venv`: options before the sub-command pass
    through, paths are the caller's, the output and the exit code are starter.py's (README)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PM_", "TEMPORAL_"))}
    env["PM_DATA_DIR"] = str(tmp_path / "data")
    missing = subprocess.run(
        [sys.executable, str(ROOT / "dev.py"), "cli", "--json", "visit", "book", "--file", "missing.json"],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert missing.returncode == 2 and missing.stdout == ""
    assert missing.stderr.startswith("error: ") and "missing.json" in missing.stderr
    help_text = subprocess.run(
        [sys.executable, "dev.py", "cli", "--help"], cwd=ROOT, env=env, capture_output=True, text=True
    )
    assert help_text.returncode == 0 and help_text.stdout.startswith("usage: starter.py")


def test_dev_temporal_is_the_temporal_cli_of_the_environment() -> None:
    version = [sys.executable, "dev.py", "temporal", "--version"]
    done = subprocess.run(version, cwd=ROOT, capture_output=True, text=True, timeout=60)
    assert done.returncode == 0 and done.stdout.startswith("temporal version")
