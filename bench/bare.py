"""The physical limit: a workflow of one timer and one no-op activity, and its worker.

    python -m bench.bare --address 127.0.0.1:7233 --data-dir DIR --task-queue bench-bare

The worker is configured like the real one (same client, data converter, activity thread pool of
`worker.MAX_CONCURRENT_ACTIVITIES`, the same `max_cached_workflows` and workflow runner,
`PM_WORKFLOW_SANDBOX`, `PM_STICKY_TIMEOUT`, `PM_POLLER_AUTOSCALING`) and runs in its own process like
the real worker, so the two are compared on equal terms. Each activity appends "<workflow id> <unix
time>" to `<data_dir>/bare-done.txt`: the benchmark counts completions there, not with
`handle.result()`.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta
from pathlib import Path

from temporalio import activity, workflow
from temporalio.worker import Worker

DONE_FILE = "bare-done.txt"


class Recorder:
    def __init__(self, path: Path) -> None:
        self._file = open(path, "a", buffering=1)  # noqa: SIM115 (open for the worker's lifetime)
        self._lock = threading.Lock()

    @activity.defn(name="bare_noop")
    def noop(self, workflow_id: str) -> None:
        with self._lock:
            self._file.write(f"{workflow_id} {time.time():.6f}\n")


@workflow.defn
class BareWorkflow:
    @workflow.run
    async def run(self, due_unix: float) -> None:
        delay = due_unix - workflow.now().timestamp()
        if delay > 0:
            await workflow.sleep(delay)
        await workflow.execute_activity(
            "bare_noop", workflow.info().workflow_id, start_to_close_timeout=timedelta(seconds=30)
        )


def read_done(data_dir: Path, prefix: str) -> list[float]:
    """Completion times (unix) recorded so far of the workflows whose id starts with `prefix`."""
    path = data_dir / DONE_FILE
    if not path.exists():
        return []
    times = []
    for line in path.read_text().splitlines():
        parts = line.split()
        if len(parts) == 2 and parts[0].startswith(prefix):
            times.append(float(parts[1]))
    return times


async def main() -> None:
    from bench import bare  # the workflow as `bench.bare.BareWorkflow`, not `__main__.BareWorkflow`
    from infrastructure.config import Settings
    from infrastructure.temporal_client import connect
    from infrastructure.worker_setup import MAX_CONCURRENT_ACTIVITIES, wave_options, workflow_runner
    from testkit.real_worker import settings_for

    parser = argparse.ArgumentParser()
    parser.add_argument("--address", required=True)
    parser.add_argument("--data-dir", required=True, type=Path)
    parser.add_argument("--task-queue", default="bench-bare")
    args = parser.parse_args()
    client = await connect(settings_for(args.address, args.data_dir))
    settings = Settings.from_env()  # the real worker's environment: its cache, runner and wave settings
    recorder = bare.Recorder(args.data_dir / DONE_FILE)
    with ThreadPoolExecutor(max_workers=MAX_CONCURRENT_ACTIVITIES) as executor:
        worker = Worker(
            client,
            task_queue=args.task_queue,
            workflows=[bare.BareWorkflow],
            activities=[recorder.noop],
            activity_executor=executor,
            max_concurrent_activities=MAX_CONCURRENT_ACTIVITIES,
            max_cached_workflows=settings.max_cached_workflows,
            workflow_runner=workflow_runner(settings.workflow_sandbox),
            **wave_options(settings.sticky_queue_timeout, settings.poller_autoscaling),
        )
        print("bare_worker_started", flush=True)
        await worker.run()


if __name__ == "__main__":
    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(main())
