"""The targets of `python -m bench.run` (starts and completions against bare, the worker's RSS with many
reminders asleep) and the tables it prints."""

from __future__ import annotations

from statistics import fmean
from typing import Any

from bench.costs import SAMPLE, cost_rows
from bench.figures import table

TARGET_STARTS = 0.8
TARGET_COMPLETIONS = 0.7
TARGET_RSS_MB = 250.0
TARGET_RSS_AT = 110_000  # 100,000 sleeping reminders and 10,000 sleeping invitations (issue 13)
TARGET_STEP_RATE = 0.8  # the start rate of the last step against the first
QUIET_LOAD = 1.5
"""Above this 1-minute load average at the start, the ratios say more about the neighbours than about
the code: the run prints its figures but no verdict on them."""


PHASES = ("bare", "reminders", "invitations", "bare_after")
"""The throughput phases in the order they run: bare again after the others (`bench/run.py`)."""


def baseline(results: dict[str, Any]) -> dict[str, Any] | None:
    """What the ratios are taken against: the mean of the bare phase before the others and after them
    (a start can cost the server more once it holds their workflows: docs/performance.md §1, session
    10), or the one bare phase of a run without the other two."""
    bares = [results[name] for name in ("bare", "bare_after") if results.get(name)]
    if len(bares) < 2:
        return bares[0] if bares else None

    def mean(values: list[Any]) -> float | None:
        return None if None in values else round(fmean(values), 1)

    cpu = [b.get("cpu_ms_per_workflow", {}) for b in bares]
    return {
        "starts_per_s": mean([b.get("starts_per_s") for b in bares]),
        "completions_per_s": mean([b.get("completions_per_s") for b in bares]),
        "cpu_ms_per_workflow": {key: mean([c.get(key) for c in cpu]) for key in ("server", "bare_worker")},
    }


def cpu_ratio(bare_phase: dict[str, Any], phase: dict[str, Any]) -> float | None:
    """Bare's CPU per workflow (server + worker) over the phase's: the throughput ratio to expect when
    both are CPU-bound on the same cores, whatever else the machine runs at the time."""
    b, p = bare_phase.get("cpu_ms_per_workflow", {}), phase.get("cpu_ms_per_workflow", {})
    bare_ms = (b.get("server") or 0) + (b.get("bare_worker") or 0)
    phase_ms = (p.get("server") or 0) + (p.get("worker") or 0)
    return round(bare_ms / phase_ms, 2) if bare_ms and phase_ms else None


def target_check(
    target: str, figure: float | None, op: str, limit: float, judged: bool, **extra: Any
) -> dict[str, Any]:
    """One target: its text, the measured figure, its bound (`op` `limit`) and the verdict (None when
    not `judged`: a noisy machine, or a run short of the size the target names)."""
    passes = figure is not None and (figure >= limit if op == ">=" else figure <= limit)
    return {"target": target, "value": figure, "figure": figure, "op": op, "limit": limit,
            "pass": passes if judged else None, **extra}  # fmt: skip


def targets(results: dict[str, Any]) -> list[dict[str, Any]]:
    """Issue 13's targets; a ratio gets no verdict (None) when the machine was not quiet at the start."""
    b = baseline(results)
    quiet = quiet_at_start(results)
    checks = []
    for name in ("reminders", "invitations"):
        p = results.get(name)
        for key, what, target in (("starts_per_s", "starts", TARGET_STARTS),
                                  ("completions_per_s", "completions", TARGET_COMPLETIONS)):  # fmt: skip
            if not (b and p and b.get(key) and p.get(key)):
                continue
            extra = {"cpu_estimate": cpu_ratio(b, p)} if what == "completions" else {}
            ratio = round(p[key] / b[key], 2)
            text = f"{name[:-1]} {what} >= {target}x bare"
            checks.append(target_check(text, ratio, ">=", target, quiet, **extra))
    rows = results.get("sleeping") or []
    if rows:
        top = rows[-1]
        reached = top["sleeping"] >= TARGET_RSS_AT
        check = target_check(f"worker RSS <= {TARGET_RSS_MB:.0f} MB at {TARGET_RSS_AT:,} asleep",
                       top["worker_rss_mb"], "<=", TARGET_RSS_MB, reached)  # fmt: skip
        check["value"] = f"{top['worker_rss_mb']} MB at {top['sleeping']:,}" + (
            "" if reached else " (short of the number)"
        )
        checks.append(check)
        steps = [r for r in rows if r.get("kind", "reminders") == "reminders" and r.get("starts_per_s")]
        if len(steps) >= 2:
            ratio = round(steps[-1]["starts_per_s"] / steps[0]["starts_per_s"], 2)
            target = f"start rate of the last step >= {TARGET_STEP_RATE}x the first"
            checks.append(target_check(target, ratio, ">=", TARGET_STEP_RATE, quiet))
    return checks + loud_start(results, "the ratios")


def quiet_at_start(results: dict[str, Any]) -> bool:
    """Whether the run started below `QUIET_LOAD`, so that its timing figures get a verdict."""
    return bool(results["machine"]["loadavg_at_start"][0] < QUIET_LOAD)


def loud_start(results: dict[str, Any], what: str) -> list[dict[str, Any]]:
    """The line saying that `what` got no verdict because the run started at too high a load (none
    when it started quiet)."""
    if quiet_at_start(results):
        return []
    load = results["machine"]["loadavg_at_start"][0]
    return [no_verdict(f"{what}: load at the start not below {QUIET_LOAD}", load)]


def no_verdict(reason: str, value: Any) -> dict[str, Any]:
    """The line saying that a target got no verdict, and why (`value`: the figure that says so)."""
    return {"target": f"no verdict on {reason}", "value": value, "pass": None}


def _ratio(p: dict[str, Any], b: dict[str, Any], key: str) -> float | None:
    return round(p[key] / b[key], 2) if p.get(key) and b.get(key) else None


def report(results: dict[str, Any]) -> None:
    b = baseline(results) or {}
    rows = []
    for name in PHASES:
        p = results.get(name)
        if not p:
            continue
        late, cpu = p["lateness_s"], p.get("cpu_ms_per_workflow", {})
        worker_cpu = cpu.get("bare_worker" if name.startswith("bare") else "worker")
        rows.append(
            [name.replace("_", " "), p["n"], p["completed"], p["starts_per_s"], _ratio(p, b, "starts_per_s"),
             p["completions_per_s"], _ratio(p, b, "completions_per_s"), late["p50"], late["p99"], late["max"],
             cpu.get("server"), worker_cpu, cpu.get("bench"), p["worker_rss_peak_mb"], p["load_after"][0]]
        )  # fmt: skip
    headers = ["phase", "n", "done", "starts/s", "x bare", "done/s", "x bare", "late p50 s", "p99 s", "max s",
               "server ms/wf", "worker ms/wf", "client ms/wf", "RSS peak MB", "load"]  # fmt: skip
    if rows:
        print()
        print(table(headers, rows))
        if results.get("bare_after"):
            print(
                f"(x bare: against the mean of both bare phases, {b['starts_per_s']} starts/s and "
                f"{b['completions_per_s']} done/s)"
            )
    cost_headers, costs = cost_rows(results, PHASES)
    if costs:
        print(f"\ncost per workflow (means over the histories of up to {SAMPLE} of each phase):")
        print(table(cost_headers, costs))
    if results.get("sleeping"):
        sleeping = [
            [r.get("kind", "reminders"), r["sleeping"], r["asleep"], r["starts_per_s"], r["asleep_after_s"],
             r["cpu_ms_per_workflow"].get("server"), r["cpu_ms_per_workflow"].get("worker"),
             r["worker_rss_mb"], r["worker_rss_peak_mb"], r["server_rss_mb"], r["load"][0]]
            for r in results["sleeping"]
        ]  # fmt: skip
        print()
        headers = ["step", "asleep (all)", "counted", "starts/s", "all asleep after s", "server ms/wf",
                   "worker ms/wf", "worker RSS MB", "peak MB", "server RSS MB", "load"]  # fmt: skip
        print(table(headers, sleeping))
    print()
    print_targets(results["targets"])


def print_targets(checks: list[dict[str, Any]]) -> None:
    """One line per target: PASS, FAIL or N/A (no verdict), its text and the measured figure."""
    for check in checks:
        verdict = {True: "PASS", False: "FAIL", None: "N/A "}[check["pass"]]
        extra = ""
        if check.get("cpu_estimate") is not None:
            extra = f" (by CPU per workflow, whatever else the machine runs: {check['cpu_estimate']})"
        print(f"{verdict}  {check['target']}: {check['value']}{extra}")
