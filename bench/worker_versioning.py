"""Why we do not adopt Temporal Worker Versioning (issue 25 item 1): PINNED and AUTO_UPGRADE, observed.

    .venv/bin/python -m bench.worker_versioning [--fast-drainage]     # from the repo root, about 1 min

A fresh dev server (`testkit.processes.DevServer`; `--fast-drainage` adds `matching.wv.*` dynamic config
so "drained" shows within seconds) and, in this process, builds "1" and "2" of one worker deployment.
Each workflow sleeps SLEEP ("until the day before the visit") and returns the build that ran its last
task. Build 2 changes `PinnedReminder` incompatibly (a memo upsert first) and `AutoReminder` by its
argument: compatibly, incompatibly, or the same change behind `workflow.patched`. Build 1 current, start
all, build 2 current, build 1 stopped: where do the sleepers' next tasks (and a pinned activity) run?
Then build 1 again, replay, and the time-skipping test server. Prints the observations and one verdict
per question (exit status 1 if one is not reproduced); stops every process it starts, also on error.
"""

from __future__ import annotations

import argparse
import asyncio
import functools
import shutil
import sys
import tempfile
import time
from datetime import timedelta
from pathlib import Path
from typing import Any

from temporalio import activity, workflow
from temporalio.api.workflowservice import v1 as api
from temporalio.client import Client, WorkflowHandle
from temporalio.common import VersioningBehavior, WorkerDeploymentVersion
from temporalio.converter import DataConverter
from temporalio.service import RPCError, RPCStatusCode
from temporalio.worker import Replayer, Worker, WorkerDeploymentConfig

with workflow.unsafe.imports_passed_through():
    from testkit.processes import DevServer, start_time_skipping, venv_binary

PINNED = VersioningBehavior.PINNED
AUTO = VersioningBehavior.AUTO_UPGRADE
SLEEP = timedelta(seconds=20)  # stands for "until the day before the visit"
DEPLOYMENT = "pm-worker"
QUEUE = "wv-experiment"
FAST_DRAINAGE = [
    arg
    for key in ("RefreshInterval", "VisibilityGracePeriod")
    for arg in ("--dynamic-config-value", f'matching.wv.VersionDrainageStatus{key}="2s"')
]


# -- build 1 ------------------------------------------------------------------------------------------
@workflow.defn(name="PinnedReminder", versioning_behavior=PINNED)
class PinnedV1:
    @workflow.run
    async def run(self) -> str:
        await workflow.sleep(SLEEP)
        return "build-1 code"


@workflow.defn(name="AutoReminder", versioning_behavior=AUTO)
class AutoV1:
    @workflow.run
    async def run(self, change: str) -> str:  # what build 2 does to this run; build 1 ignores it
        await workflow.sleep(SLEEP)
        return "build-1 code"


@workflow.defn(name="PinnedWithActivity", versioning_behavior=PINNED)
class PinnedActivityV1:
    @workflow.run
    async def run(self) -> str:
        await workflow.sleep(SLEEP)
        done = await workflow.execute_activity("which_build", start_to_close_timeout=timedelta(seconds=10))
        return f"build-1 code, {done}"


def which_build(build: str) -> Any:
    @activity.defn(name="which_build")
    async def run() -> str:
        return f"activity ran on build {build}"

    return run


# -- build 2: the same types, changed code ------------------------------------------------------------
@workflow.defn(name="PinnedReminder", versioning_behavior=PINNED)
class PinnedV2:
    @workflow.run
    async def run(self) -> str:  # incompatible, no patch: a new first command before the sleep
        workflow.upsert_memo({"changed": True})
        await workflow.sleep(SLEEP)
        return "build-2 code"


@workflow.defn(name="AutoReminder", versioning_behavior=AUTO)
class AutoV2:
    @workflow.run
    async def run(self, change: str) -> str:  # "compatible" (same commands), "unpatched" or "patched"
        if change == "unpatched" or (change == "patched" and workflow.patched("memo-first")):
            workflow.upsert_memo({"changed": True})
        await workflow.sleep(SLEEP)
        return "build-2 code"


BUILD1 = [PinnedV1, AutoV1, PinnedActivityV1]
_t0 = time.monotonic()
seen: dict[str, bool] = {}  # what the verdicts rest on, filled in as it is observed


def log(*parts: object) -> None:
    print(f"[{time.monotonic() - _t0:5.1f}s]", *parts, flush=True)


def short(error: BaseException) -> str:
    text = (str(error).splitlines() or [""])[0]
    return f"{type(error).__name__}: " + text[max(text.find("[TMPRL"), 0) :][:110]


async def cli(address: str, *args: str, show: tuple[str, ...] | None = ("",)) -> int:
    """`temporal ARGS --address ADDRESS`; prints the output lines that start with one of `show`."""
    proc = await asyncio.create_subprocess_exec(
        venv_binary("temporal"), *args, "--address", address,
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT,
    )  # fmt: skip
    try:
        out, _ = await asyncio.wait_for(proc.communicate(), 60)
    finally:
        if proc.returncode is None:
            proc.kill()
            await proc.wait()
    if show is not None:
        log("$ temporal", " ".join(args), f"-> exit {proc.returncode}")
        lines = [line.strip() for line in out.decode().splitlines()]
        print("".join(f"    {line}\n" for line in lines if line and line.startswith(show)), end="")
    return proc.returncode or 0


def worker(client: Client, build: str, workflows: list[type], activities: bool = True) -> Worker:
    version = WorkerDeploymentVersion(deployment_name=DEPLOYMENT, build_id=build)
    config = WorkerDeploymentConfig(version=version, use_worker_versioning=True)
    acts = [which_build(build)] if activities else []
    return Worker(client, task_queue=QUEUE, workflows=workflows, activities=acts, deployment_config=config)


async def set_current(address: str, build: str) -> None:
    args = ["worker", "deployment", "set-current-version", "--deployment-name", DEPLOYMENT, "--build-id"]
    for _ in range(60):  # the version exists once its worker has polled
        if await cli(address, *args, build, "--yes", show=None) == 0:
            seen[f"set-current {build}"] = await cli(address, *args, build, "--yes") == 0  # idempotent
            return
        await asyncio.sleep(0.5)
    raise RuntimeError(f"set-current-version {build} kept failing")


async def versioning_info(handle: WorkflowHandle[Any, Any]) -> tuple[int, str]:
    raw = (await handle.describe()).raw_description
    v = raw.workflow_execution_info.versioning_info
    state = raw.pending_workflow_task.state if raw.HasField("pending_workflow_task") else "none"
    build = v.deployment_version.build_id
    log(f"{handle.id[3:]:14} behavior={v.behavior} build={build!r} pending_task_state={state}")
    return v.behavior, build


async def result(name: str, handle: WorkflowHandle[Any, Any], timeout: float) -> str | None:
    try:
        value = await asyncio.wait_for(handle.result(), timeout)
    except TimeoutError:
        value = None
    log(f"{name:14}", f"result: {value}" if value else f"NO result in {timeout:.0f} s")
    return value


async def dev_server_part(fast_drainage: bool) -> None:
    server = DevServer(folder := Path(tempfile.mkdtemp(prefix="pm-wv-")))
    server.argv += FAST_DRAINAGE if fast_drainage else []
    tasks: dict[str, asyncio.Task[None]] = {}
    try:
        await asyncio.to_thread(server.start)
        client = await Client.connect(address := server.address)
        log(f"$ temporal server start-dev --headless … on {address} (testkit.processes.DevServer)",
            " ".join(FAST_DRAINAGE) if fast_drainage else "no versioning dynamic config")  # fmt: skip
        tasks["1"] = asyncio.create_task(worker(client, "1", BUILD1).run())
        await set_current(address, "1")
        starts = [("pinned", PinnedV1.run, []), ("auto", AutoV1.run, ["compatible"]),
                  ("auto-breaking", AutoV1.run, ["unpatched"]), ("auto-patched", AutoV1.run, ["patched"]),
                  ("pinned-activity", PinnedActivityV1.run, [])]  # fmt: skip
        start = functools.partial(client.start_workflow, task_queue=QUEUE)
        handles = {name: await start(run, args=args, id=f"wv-{name}") for name, run, args in starts}
        await asyncio.sleep(2)
        log("after the first task:")
        first = [await versioning_info(h) for h in handles.values()]
        seen["behaviours"] = first == [(PINNED.value, "1"), *[(AUTO.value, "1")] * 3, (PINNED.value, "1")]
        tasks["2"] = asyncio.create_task(worker(client, "2", [PinnedV2, AutoV2]).run())
        await set_current(address, "2")
        tasks["1"].cancel()  # a cancelled Worker.run shuts the worker down
        await asyncio.gather(tasks.pop("1"), return_exceptions=True)
        log("build 1 worker STOPPED; build 2 is current; the sleepers wake at ~20 s")
        await cli(address, "worker", "deployment", "describe-version", "--deployment-name", DEPLOYMENT,
                  "--build-id", "1", show=("DrainageStatus",))  # fmt: skip
        handles["pinned-new"] = await start(PinnedV2.run, id="wv-pinned-new")
        got = {name: await result(name, handles[name], 60) for name in ("auto", "auto-patched", "pinned-new")}
        seen["auto moved"] = got["auto"] == got["auto-patched"] == "build-2 code"
        seen["pinned-new on 2"] = got["pinned-new"] == "build-2 code"
        await asyncio.sleep(3)
        events = (await handles["auto-breaking"].fetch_history()).events
        failures = [e.workflow_task_failed_event_attributes.failure.message.splitlines()[0][:100]
                    for e in events if e.HasField("workflow_task_failed_event_attributes")]  # fmt: skip
        log("auto-breaking  workflow task failures:", failures[:1], f"({len(failures)} in all, task retried)")
        await versioning_info(handles["auto-breaking"])
        seen["nde"] = any("Nondeterminism" in f for f in failures)
        seen["pinned waited"] = await result("pinned", handles["pinned"], 8) is None
        await versioning_info(handles["pinned"])
        await cli(address, "workflow", "describe", "-w", "wv-pinned", show=("Behavior", "BuildId"))
        tasks["1"] = asyncio.create_task(worker(client, "1", BUILD1, activities=False).run())
        log("build 1 worker RESTARTED (workflows only, no activities; build 2 has the activity)")
        seen["pinned on 1"] = await result("pinned", handles["pinned"], 30) == "build-1 code"
        if await result("pinned-activity", handles["pinned-activity"], 12) is None:
            raw = (await handles["pinned-activity"].describe()).raw_description
            pending = [(a.activity_type.name, a.state, a.attempt) for a in raw.pending_activities]
            log("pinned-activity pending activities (type, state, attempt):", pending)
            seen["activity waited"] = bool(pending)
            await handles["pinned-activity"].terminate()  # build 1 drains once no pinned run is open
        await asyncio.sleep(3 if fast_drainage else 0.5)
        await cli(address, "worker", "deployment", "describe", "--name", DEPLOYMENT, show=(DEPLOYMENT,))
        # Replay: the pinned history (build 1 only) against each build; the auto history (both builds).
        for name, wf in [("pinned", PinnedV1), ("pinned", PinnedV2), ("auto", AutoV2)]:
            history = await handles[name].fetch_history()
            replayed = await Replayer(workflows=[wf]).replay_workflow(history, raise_on_replay_failure=False)
            error, build = replayed.replay_failure, wf.__name__[-1]
            log(f"replay {name} history vs build-{build} code:", "OK" if error is None else short(error))
            seen[f"replay {name} vs {build}"] = (error is None) == (wf is not PinnedV2)  # PinnedV2 fails
    finally:
        for task in tasks.values():
            task.cancel()
        await asyncio.gather(*tasks.values(), return_exceptions=True)
        await asyncio.to_thread(server.stop)
        shutil.rmtree(folder, ignore_errors=True)
        log(f"workers and dev server stopped (server exit {server.proc and server.proc.returncode})")


async def test_server_part() -> None:
    env = await start_time_skipping(DataConverter.default)
    try:
        log("time-skipping test server up (testkit.processes.start_time_skipping)")
        service = env.client.workflow_service
        refused, names = [], {"namespace": "default", "deployment_name": DEPLOYMENT}
        for call, request in [
            (service.describe_worker_deployment, api.DescribeWorkerDeploymentRequest(**names)),
            (service.set_worker_deployment_current_version,
             api.SetWorkerDeploymentCurrentVersionRequest(**names, build_id="1")),
        ]:  # fmt: skip
            label, status = type(request).__name__.removesuffix("Request"), None
            try:
                await call(request)  # type: ignore[operator]
                log(f"test server {label}: OK")
            except RPCError as e:
                status = e.status
                log(f"test server {label}: {short(e)} status={status.value} ({status.name})")
            refused.append(status is RPCStatusCode.UNIMPLEMENTED)
        seen["test server refuses"] = all(refused)
        async with worker(env.client, "1", [PinnedV1]):
            handle = await env.client.start_workflow(PinnedV1.run, id="ts-pinned", task_queue=QUEUE)
            value = await asyncio.wait_for(handle.result(), 20)
            info = str((await handle.describe()).raw_description.workflow_execution_info.versioning_info)
            log(f"test server versioned worker, pinned workflow result: {value};  versioning_info: {info!r}")
            seen["test server ignores"] = value == "build-1 code" and info == ""
    finally:
        await env.shutdown()
        log("time-skipping test server stopped")


VERDICTS = [
    ("the dev server (+ SDK) supports Worker Versioning, no flags needed",
     ["set-current 1", "set-current 2", "behaviours"]),
    ("PINNED waits for its build: no task or activity of it runs until build 1 polls again",
     ["pinned waited", "pinned on 1", "activity waited", "pinned-new on 2"]),
    ("AUTO_UPGRADE moves to the new build but still needs patching: NDE on an unpatched change",
     ["auto moved", "nde"]),
    ("the time-skipping test server refuses the deployment APIs (UNIMPLEMENTED), ignores versioning",
     ["test server refuses", "test server ignores"]),
    ("replaying a pinned history against the new build fails (against its own build it passes)",
     ["replay pinned vs 1", "replay pinned vs 2", "replay auto vs 2"]),
]  # fmt: skip


async def main(fast_drainage: bool) -> int:
    await dev_server_part(fast_drainage)
    await test_server_part()
    print()
    for number, (verdict, keys) in enumerate(VERDICTS, 1):
        missing = [key for key in keys if not seen.get(key)]
        print(f"VERDICT {number}: {verdict}:", f"NOT REPRODUCED {missing}" if missing else "CONFIRMED")
    return 0 if all(seen.get(key) for _, keys in VERDICTS for key in keys) else 1


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--fast-drainage", action="store_true", help="short drainage refresh (2 s)")
    sys.exit(asyncio.run(main(parser.parse_args().fast_drainage)))
