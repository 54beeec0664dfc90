"""What one workflow of a phase costs Temporal, read from the histories of a sample of its workflows
after the drain (issue 13, "explain the cost first"): history events, workflow tasks (activations
that reached the server), activity tasks, timers, search-attribute and memo upserts, signals and
updates, payload bytes as stored (after the codec: encrypted) and the history's own bytes.

These are counts, not timings: the same on a busy machine as on a quiet one.
"""

from __future__ import annotations

import asyncio
import time
from collections import Counter
from statistics import mean
from typing import Any

from google.protobuf.message import Message
from temporalio.api.common.v1 import Payload
from temporalio.api.history.v1 import HistoryEvent
from temporalio.client import Client

EVENT_COUNTS = {
    "workflow_tasks": "workflow_task_completed_event_attributes",
    "activity_tasks": "activity_task_scheduled_event_attributes",
    "timers": "timer_started_event_attributes",
    "upserts": "upsert_workflow_search_attributes_event_attributes",
    "memo_upserts": "workflow_properties_modified_event_attributes",
    "signals": "workflow_execution_signaled_event_attributes",
    "updates": "workflow_execution_update_accepted_event_attributes",
    "task_timeouts": "workflow_task_timed_out_event_attributes",
}
SAMPLE = 50
SETTLE_S = 60.0
"""How long to wait for a sampled workflow's last task to complete before its history is counted."""
IN_FLIGHT = (
    "workflow_task_scheduled_event_attributes",
    "workflow_task_started_event_attributes",
    "workflow_task_timed_out_event_attributes",
    "workflow_task_failed_event_attributes",
    "activity_task_scheduled_event_attributes",
    "activity_task_started_event_attributes",
    "activity_task_completed_event_attributes",
)


def settled(events: list[HistoryEvent]) -> bool:
    """Whether the history ends with no task pending: a phase is done when its message is out, which
    can be before the task that sent it (a local activity) or the one after the activity completes."""
    return bool(events) and not any(events[-1].HasField(name) for name in IN_FLIGHT)


def payload_bytes(message: Message) -> int:
    """The bytes of every payload inside `message` (data and metadata, as the server stores them)."""
    if isinstance(message, Payload):
        return message.ByteSize()
    total = 0
    for field, value in message.ListFields():
        if field.message_type is None:
            continue
        if isinstance(value, Message):
            total += payload_bytes(value)
        else:  # a repeated field or a map
            items = value.values() if hasattr(value, "values") else value
            total += sum(payload_bytes(v) for v in items if isinstance(v, Message))
    return total


def history_costs(events: list[HistoryEvent]) -> dict[str, float]:
    """The cost figures of one workflow's history, and the timing of the task its first timer woke."""
    present = Counter(name for e in events for name in EVENT_COUNTS.values() if e.HasField(name))
    costs: dict[str, float] = {key: present[name] for key, name in EVENT_COUNTS.items()}
    return (
        costs
        | wake_timing(events)
        | {
            "events": len(events),
            "payload_bytes": sum(payload_bytes(e) for e in events),
            "history_bytes": sum(e.ByteSize() for e in events),
        }
    )


def wake_timing(events: list[HistoryEvent]) -> dict[str, float]:
    """Seconds from the first timer's firing to the completion of the task it woke (`wake_to_done_s`),
    and of that, the task's last attempt from its start to its completion (`wake_task_run_s`): the
    queue's wait and the worker's run (for a storm reminder: the directory read and the sends). And
    how late the server fired that timer (`timer_fired_late_s`): the server's own backlog."""
    fired = next((e for e in events if e.HasField("timer_fired_event_attributes")), None)
    if fired is None:
        return {}
    timer = next(e for e in events if e.event_id == fired.timer_fired_event_attributes.started_event_id)
    due = (
        _seconds(timer)
        + timer.timer_started_event_attributes.start_to_fire_timeout.ToTimedelta().total_seconds()
    )
    after = [e for e in events if e.event_id > fired.event_id]
    done = next((e for e in after if e.HasField("workflow_task_completed_event_attributes")), None)
    if done is None:
        return {}
    task_started = "workflow_task_started_event_attributes"
    started = next(e for e in reversed(after) if e.event_id < done.event_id and e.HasField(task_started))
    return {
        "wake_to_done_s": round(_seconds(done) - _seconds(fired), 2),
        "wake_task_run_s": round(_seconds(done) - _seconds(started), 2),
        "timer_fired_late_s": round(_seconds(fired) - due, 2),
    }


def _seconds(event: HistoryEvent) -> float:
    return event.event_time.ToDatetime().timestamp()


async def phase_costs(client: Client, workflow_ids: list[str]) -> dict[str, Any]:
    """The mean costs per workflow over `SAMPLE` of `workflow_ids`, spread evenly over them (the first
    ones woke before any queue formed, the last ones after), each once its last task completed."""
    sample = workflow_ids[:: max(1, len(workflow_ids) // SAMPLE)][:SAMPLE]

    async def one(workflow_id: str) -> dict[str, float]:
        handle = client.get_workflow_handle(workflow_id)
        deadline = time.monotonic() + SETTLE_S
        while True:
            events = [e async for e in handle.fetch_history_events()]
            if settled(events) or time.monotonic() > deadline:
                return history_costs(events)
            await asyncio.sleep(0.5)

    found = await asyncio.gather(*(one(w) for w in sample))
    if not found:
        return {}
    keys = {key for c in found for key in c}  # a workflow whose timer never fired has no timing
    return {key: round(mean(c[key] for c in found if key in c), 2) for key in sorted(keys)} | {
        "sampled": len(found)
    }


COLUMNS = [
    ("events", "events"),
    ("workflow_tasks", "wf tasks"),
    ("activity_tasks", "activity tasks"),
    ("timers", "timers"),
    ("upserts", "SA upserts"),
    ("signals", "signals"),
    ("task_timeouts", "task timeouts"),
    ("payload_bytes", "payload B"),
    ("history_bytes", "history B"),
]


def cost_rows(results: dict[str, Any], phases: tuple[str, ...]) -> tuple[list[str], list[list[Any]]]:
    """The table of costs per workflow of `phases`, each with its CPU per workflow."""
    rows = []
    for name in phases:
        phase = results.get(name) or {}
        costs = phase.get("costs")
        if not costs:
            continue
        cpu = phase.get("cpu_ms_per_workflow", {})
        worker = cpu.get("bare_worker" if name.startswith("bare") else "worker")
        label = name.replace("_", " ")
        rows.append([label, *(costs.get(key) for key, _ in COLUMNS), cpu.get("server"), worker])
    headers = ["per workflow", *(title for _, title in COLUMNS), "server CPU ms", "worker CPU ms"]
    return headers, rows
