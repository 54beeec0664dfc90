"""`dev.py bench NAME …` runs a benchmark module in the project's environment."""

from __future__ import annotations

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
