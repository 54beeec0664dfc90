"""The targets of `python -m bench.run` (starts and completions against bare, the worker's RSS with many
reminders asleep) and the tables it prints."""

from __future__ import annotations

from typing import Any

from bench.costs import SAMPLE, cost_rows
from bench.figures import table

TARGET_STARTS = 0.8
TARGET_COMPLETIONS = 0.7
TARGET_RSS_MB = 250.0
TARGET_RSS_AT = 20_000


def cpu_ratio(bare_phase: dict[str, Any], phase: dict[str, Any]) -> float | None:
    """Bare's CPU per workflow (server + worker) over the phase's: the throughput ratio to expect when
    both are CPU-bound on the same cores, whatever else the machine runs at the time."""
    b, p = bare_phase.get("cpu_ms_per_workflow", {}), phase.get("cpu_ms_per_workflow", {})
    bare_ms = (b.get("server") or 0) + (b.get("bare_worker") or 0)
    phase_ms = (p.get("server") or 0) + (p.get("worker") or 0)
    return round(bare_ms / phase_ms, 2) if bare_ms and phase_ms else None


def targets(results: dict[str, Any]) -> list[dict[str, Any]]:
    b, r = results.get("bare"), results.get("reminders")
    checks = []
    if b and r and b.get("starts_per_s") and r.get("starts_per_s"):
        ratio = r["starts_per_s"] / b["starts_per_s"]
        checks.append(
            {
                "target": f"reminder starts >= {TARGET_STARTS}x bare",
                "value": round(ratio, 2),
                "pass": ratio >= TARGET_STARTS,
            }
        )
    if b and r and b.get("completions_per_s") and r.get("completions_per_s"):
        ratio = r["completions_per_s"] / b["completions_per_s"]
        checks.append(
            {
                "target": f"reminder completions >= {TARGET_COMPLETIONS}x bare",
                "value": round(ratio, 2),
                "pass": ratio >= TARGET_COMPLETIONS,
                "cpu_estimate": cpu_ratio(b, r),
            }
        )
    rows = results.get("sleeping") or []
    at = [row for row in rows if row["sleeping"] >= TARGET_RSS_AT]
    if at:
        value = at[0]["worker_rss_mb"]
        checks.append(
            {
                "target": f"worker RSS <= {TARGET_RSS_MB:.0f} MB at {TARGET_RSS_AT} sleeping",
                "value": value,
                "pass": value is not None and value <= TARGET_RSS_MB,
            }
        )
    elif rows:
        top = rows[-1]
        checks.append(
            {
                "target": f"worker RSS <= {TARGET_RSS_MB:.0f} MB at {TARGET_RSS_AT} sleeping",
                "value": f"{top['worker_rss_mb']} MB at {top['sleeping']} "
                f"(run --sleeping ...,{TARGET_RSS_AT})",
                "pass": None,
            }
        )
    return checks


def _ratio(p: dict[str, Any], b: dict[str, Any], key: str) -> float | None:
    return round(p[key] / b[key], 2) if p.get(key) and b.get(key) else None


def report(results: dict[str, Any]) -> None:
    b = results.get("bare") or {}
    rows = []
    for name in ("bare", "reminders", "invitations"):
        p = results.get(name)
        if not p:
            continue
        late, cpu = p["lateness_s"], p.get("cpu_ms_per_workflow", {})
        worker_cpu = cpu.get("bare_worker" if name == "bare" else "worker")
        rows.append(
            [name, p["n"], p["completed"], p["starts_per_s"], _ratio(p, b, "starts_per_s"),
             p["completions_per_s"], _ratio(p, b, "completions_per_s"), late["p50"], late["p99"], late["max"],
             cpu.get("server"), worker_cpu, cpu.get("bench"), p["worker_rss_peak_mb"], p["load_after"][0]]
        )  # fmt: skip
    headers = ["phase", "n", "done", "starts/s", "x bare", "done/s", "x bare", "late p50 s", "p99 s", "max s",
               "server ms/wf", "worker ms/wf", "client ms/wf", "RSS peak MB", "load"]  # fmt: skip
    if rows:
        print()
        print(table(headers, rows))
    cost_headers, costs = cost_rows(results)
    if costs:
        print(f"\ncost per workflow (means over the histories of up to {SAMPLE} of each phase):")
        print(table(cost_headers, costs))
    if results.get("sleeping"):
        sleeping = [
            [r["sleeping"], r["asleep"], r["starts_per_s"], r["asleep_after_s"],
             r["cpu_ms_per_workflow"].get("server"), r["cpu_ms_per_workflow"].get("worker"),
             r["worker_rss_mb"], r["worker_rss_peak_mb"], r["server_rss_mb"], r["load"][0]]
            for r in results["sleeping"]
        ]  # fmt: skip
        print()
        print(table(["sleeping", "asleep", "starts/s", "all asleep after s", "server ms/wf", "worker ms/wf",
                     "worker RSS MB", "peak MB", "server RSS MB", "load"], sleeping))  # fmt: skip
    print()
    for check in results["targets"]:
        verdict = {True: "PASS", False: "FAIL", None: "N/A "}[check["pass"]]
        extra = ""
        if check.get("cpu_estimate") is not None:
            extra = f" (by CPU per workflow, whatever else the machine runs: {check['cpu_estimate']})"
        print(f"{verdict}  {check['target']}: {check['value']}{extra}")
