"""The median of each target over several runs of one `bench.run` command (issue 13 asks for the median
of 3), from the JSON files the runs wrote:

    python -m bench.medians run-1.json run-2.json run-3.json

A run whose load average was 1.5 or more at its start gave no verdict and is left out of the median
(it is still listed). The verdict is the median's against the target's bound, as `bench.run_report`
wrote it (`figure`, `op`, `limit`).
"""

from __future__ import annotations

import argparse
import json
import statistics
from pathlib import Path
from typing import Any

from bench.figures import table
from bench.run_report import QUIET_LOAD


def figure_of(run: dict[str, Any], target: str) -> float | None:
    return next((t["figure"] for t in run["targets"] if t["target"] == target), None)


def medians(runs: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Per target with a bound: the figure of every run, the median of the quiet ones and its verdict."""
    quiet = [r for r in runs if r["machine"]["loadavg_at_start"][0] < QUIET_LOAD]
    bounded = [t for t in runs[0]["targets"] if "limit" in t]
    rows = []
    for target in bounded:
        values = [figure_of(r, target["target"]) for r in runs]
        counted = [v for r, v in zip(runs, values, strict=True) if r in quiet and v is not None]
        median = statistics.median(counted) if counted else None
        op, limit = target["op"], target["limit"]
        verdict = None if median is None else (median >= limit if op == ">=" else median <= limit)
        rows.append({"target": target["target"], "values": values, "median": median,
                     "quiet_runs": len(counted), "pass": verdict})  # fmt: skip
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
