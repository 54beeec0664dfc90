"""The median of each target over several runs of one `bench.run` or `bench.storm` command (issue 13
asks for the median of 3), from the JSON files the runs wrote:

    python -m bench.medians run-1.json run-2.json run-3.json

A figure the run gave no verdict on (its load average was 1.5 or more at the start, or it fell short
of the size the target names) is listed but left out of the median. The verdict is the median's
against the target's bound, as `bench.run_report` wrote it (`figure`, `op`, `limit`).
"""

from __future__ import annotations

import argparse
import json
import statistics
from pathlib import Path
from typing import Any

from bench.figures import table


def judged_figure(run: dict[str, Any], target: str) -> tuple[float | None, bool]:
    """The run's figure for `target`, and whether the run judged it (not when its load was too high
    at the start, or when it fell short of the size the target names)."""
    check = next((t for t in run["targets"] if t["target"] == target), None)
    return (None, False) if check is None else (check["figure"], check["pass"] is not None)


def medians(runs: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Per target with a bound: the figure of every run, the median of the judged ones and its verdict."""
    bounded = [t for t in runs[0]["targets"] if "limit" in t]
    rows = []
    for target in bounded:
        figures = [judged_figure(r, target["target"]) for r in runs]
        counted = [v for v, judged in figures if judged and v is not None]
        median = statistics.median(counted) if counted else None
        op, limit = target["op"], target["limit"]
        verdict = None if median is None else (median >= limit if op == ">=" else median <= limit)
        rows.append({"target": target["target"], "values": [v for v, _ in figures], "median": median,
                     "judged_runs": len(counted), "pass": verdict})  # fmt: skip
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
        ["target", *[f"run {i + 1}" for i in range(len(runs))], "median (judged runs)", "verdict"],
        [[r["target"], *map(two, r["values"]), two(r["median"]), VERDICT[r["pass"]]] for r in rows],
    ))  # fmt: skip


if __name__ == "__main__":
    main()
