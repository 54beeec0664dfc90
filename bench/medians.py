"""The median of each target over several runs of one `bench.run` command (issue 13 asks for the median
of 3), from the JSON files the runs wrote:

    python -m bench.medians run-1.json run-2.json run-3.json

A run whose load average was 1.5 or more at its start gave no verdict and is left out of the median
(it is still listed). The verdict is the median's against the target.
"""

from __future__ import annotations

import argparse
import json
import statistics
from pathlib import Path
from typing import Any

from bench.figures import table
from bench.run_report import QUIET_LOAD


def numeric(value: Any) -> float | None:
    """A target's value as a number: a ratio, or the MB of `'203.4 MB at 110,000'`."""
    if isinstance(value, int | float):
        return float(value)
    if isinstance(value, str) and " MB" in value:
        return float(value.split(" MB")[0])
    return None


def value_of(run: dict[str, Any], target: str) -> float | None:
    return next((numeric(t["value"]) for t in run["targets"] if t["target"] == target), None)


def threshold(target: str) -> tuple[str, float] | None:
    """`('>=', 0.8)` from `'reminder starts >= 0.8x bare'`; None for a target without one."""
    for op in (">=", "<="):
        if f" {op} " in target:
            figure = target.split(f" {op} ")[1].split()[0].rstrip("x")
            return op, float(figure)
    return None


def medians(runs: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Per target: the values of every run, the median of the quiet ones and its verdict."""
    quiet = [r for r in runs if r["machine"]["loadavg_at_start"][0] < QUIET_LOAD]
    names = [t["target"] for t in runs[0]["targets"] if threshold(t["target"])]
    rows = []
    for name in names:
        values = [value_of(r, name) for r in runs]
        counted = [v for r, v in zip(runs, values, strict=True) if r in quiet and v is not None]
        median = statistics.median(counted) if counted else None
        op, figure = threshold(name) or ("", 0.0)
        verdict = None if median is None else (median >= figure if op == ">=" else median <= figure)
        rows.append({"target": name, "values": values, "median": median, "quiet_runs": len(counted),
                     "pass": verdict})  # fmt: skip
    return rows


VERDICT = {True: "PASS", False: "FAIL", None: "N/A"}


def two(value: float | None) -> str:
    return "-" if value is None else f"{value:.2f}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("files", nargs="+", help="the --json files of the runs")
    args = parser.parse_args()
    runs = [json.loads(Path(f).read_text()) for f in args.files]
    for f, r in zip(args.files, runs, strict=True):
        print(f"{f}: load at start {r['machine']['loadavg_at_start'][0]}")
    rows = medians(runs)
    print()
    print(table(
        ["target", *[f"run {i + 1}" for i in range(len(runs))], "median (quiet runs)", "verdict"],
        [[r["target"], *map(two, r["values"]), two(r["median"]), VERDICT[r["pass"]]] for r in rows],
    ))  # fmt: skip


if __name__ == "__main__":
    main()
