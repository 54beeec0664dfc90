"""The real worker (`worker.main`, unchanged) with `Worker` options that worker.py has no setting for yet.

    PM_BENCH_MAX_CACHED_WORKFLOWS=250 python -m bench.worker_variant

- `PM_BENCH_MAX_CACHED_WORKFLOWS` → `max_cached_workflows`;
- `PM_BENCH_MAX_CONCURRENT_ACTIVITIES` → `worker.MAX_CONCURRENT_ACTIVITIES` (activity slots and threads);
- `PM_BENCH_MAX_CONCURRENT_WORKFLOW_TASKS` → `max_concurrent_workflow_tasks`;
- `PM_BENCH_UNSANDBOXED=1` → `workflow_runner=UnsandboxedWorkflowRunner()` (to measure what the
  sandbox costs; not a recommendation);
- `PM_BENCH_PASSTHROUGH_ALL=1` → the sandbox with
  `SandboxRestrictions.default.with_passthrough_all_modules()`.

Everything else (client, payload codec, logging, activities, workflows) is `worker.main` as it is: the
options are added by wrapping the `Worker` class that `worker.build_worker` constructs.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
from typing import Any

from temporalio.worker import UnsandboxedWorkflowRunner, Worker
from temporalio.worker.workflow_sandbox import SandboxedWorkflowRunner, SandboxRestrictions

import worker
from infrastructure import worker_setup as real


def overrides(env: dict[str, str] | None = None) -> dict[str, Any]:
    env = dict(os.environ) if env is None else env
    found: dict[str, Any] = {}
    if env.get("PM_BENCH_MAX_CACHED_WORKFLOWS"):
        found["max_cached_workflows"] = int(env["PM_BENCH_MAX_CACHED_WORKFLOWS"])
    if env.get("PM_BENCH_MAX_CONCURRENT_WORKFLOW_TASKS"):
        found["max_concurrent_workflow_tasks"] = int(env["PM_BENCH_MAX_CONCURRENT_WORKFLOW_TASKS"])
    if env.get("PM_BENCH_UNSANDBOXED") == "1":
        found["workflow_runner"] = UnsandboxedWorkflowRunner()
    if env.get("PM_BENCH_PASSTHROUGH_ALL") == "1":
        restrictions = SandboxRestrictions.default.with_passthrough_all_modules()
        found["workflow_runner"] = SandboxedWorkflowRunner(restrictions=restrictions)
    return found


def main() -> None:
    options = overrides()
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
