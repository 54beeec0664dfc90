"""The workflow tests run in the SDK's sandbox, because production does not (issue 13): a clock read,
a random number or I/O in workflow code fails the test's workflow task instead of reaching a worker.
The rest of the guard: tests/workflows/test_determinism.py, tests/workflows/test_replay.py and the run
path's histories replayed in the sandbox (tests/e2e/test_run_path.py)."""

from __future__ import annotations

import asyncio
import uuid

from temporalio.client import WorkflowHandle
from temporalio.testing import WorkflowEnvironment
from temporalio.worker import Worker
from temporalio.worker.workflow_sandbox import SandboxedWorkflowRunner

from infrastructure.worker_setup import workflow_runner
from tests.harness import Harness, eventually
from tests.workflows.nondeterministic import ReadsTheClock


async def test_the_harness_runs_every_workflow_in_the_sandbox(harness: Harness) -> None:
    async with harness.worker() as worker:
        assert isinstance(worker.config()["workflow_runner"], SandboxedWorkflowRunner)


async def task_failures(handle: WorkflowHandle[ReadsTheClock, str]) -> list[str]:
    """The error types of its failed workflow tasks (the messages are encrypted by the codec)."""
    return [
        e.workflow_task_failed_event_attributes.failure.application_failure_info.type
        async for e in handle.fetch_history_events()
        if e.HasField("workflow_task_failed_event_attributes")
    ]


async def test_the_tests_sandbox_refuses_a_clock_read_that_the_production_runner_lets_through(
    env: WorkflowEnvironment,
) -> None:
    for sandboxed in (True, False):
        queue = f"guard-{uuid.uuid4()}"
        runner = workflow_runner(sandboxed)
        async with Worker(env.client, task_queue=queue, workflows=[ReadsTheClock], workflow_runner=runner):
            handle = await env.client.start_workflow(ReadsTheClock.run, id=queue, task_queue=queue)
            if sandboxed:
                failures = await eventually(lambda h=handle: task_failures(h), bool)
                assert failures[0] == "RestrictedWorkflowAccessError"
                await handle.terminate()
            else:
                assert await asyncio.wait_for(handle.result(), 15)  # no guard at run time
