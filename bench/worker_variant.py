"""The real worker (`worker.main`, unchanged) with `Worker` options that worker.py has no setting for yet.

    PM_BENCH_MAX_CACHED_WORKFLOWS=250 python -m bench.worker_variant

- `PM_BENCH_MAX_CACHED_WORKFLOWS` → `max_cached_workflows`;
- `PM_BENCH_MAX_CONCURRENT_ACTIVITIES` → `worker.MAX_CONCURRENT_ACTIVITIES` (activity slots and threads);
- `PM_BENCH_MAX_CONCURRENT_WORKFLOW_TASKS` → `max_concurrent_workflow_tasks`;
- `PM_BENCH_WORKFLOW_TASK_POLLS` → `max_concurrent_workflow_task_polls`;
- `PM_BENCH_SWITCH_INTERVAL` (seconds) → `sys.setswitchinterval`, how often a thread hands the GIL on;

The workflow runner, the sticky timeout and the pollers' autoscaling are settings of the worker itself
(`PM_WORKFLOW_SANDBOX`, `PM_STICKY_TIMEOUT`, `PM_POLLER_AUTOSCALING`), which `bench.run --worker-env`
passes to the real worker and the bare one alike.

Everything else (client, payload codec, logging, activities, workflows) is `worker.main` as it is: the
options are added by wrapping the `Worker` class that `worker.build_worker` constructs.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import sys
from typing import Any

from temporalio.worker import Worker

import worker
from infrastructure import worker_setup as real


def overrides(env: dict[str, str] | None = None) -> dict[str, Any]:
    env = dict(os.environ) if env is None else env
    found: dict[str, Any] = {}
    if env.get("PM_BENCH_MAX_CACHED_WORKFLOWS"):
        found["max_cached_workflows"] = int(env["PM_BENCH_MAX_CACHED_WORKFLOWS"])
    if env.get("PM_BENCH_MAX_CONCURRENT_WORKFLOW_TASKS"):
        found["max_concurrent_workflow_tasks"] = int(env["PM_BENCH_MAX_CONCURRENT_WORKFLOW_TASKS"])
    if env.get("PM_BENCH_WORKFLOW_TASK_POLLS"):
        found["max_concurrent_workflow_task_polls"] = int(env["PM_BENCH_WORKFLOW_TASK_POLLS"])
    return found


def main() -> None:
    options = overrides()
    if os.environ.get("PM_BENCH_SWITCH_INTERVAL"):
        sys.setswitchinterval(float(os.environ["PM_BENCH_SWITCH_INTERVAL"]))
    if os.environ.get("PM_BENCH_MAX_CONCURRENT_ACTIVITIES"):
        real.MAX_CONCURRENT_ACTIVITIES = int(os.environ["PM_BENCH_MAX_CONCURRENT_ACTIVITIES"])

    def build(*args: Any, **kwargs: Any) -> Worker:
        kwargs.update(options)
        print(f"worker_variant {options} activities={real.MAX_CONCURRENT_ACTIVITIES}", flush=True)
        return Worker(*args, **kwargs)

    real.Worker = build  # type: ignore[assignment,misc]
    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(worker.main())


if __name__ == "__main__":
    main()
