"""What one workflow of a phase costs Temporal, read from the histories of a sample of its workflows
after the drain (issue 13, "explain the cost first"): history events, workflow tasks (activations
that reached the server), activity tasks, timers, search-attribute and memo upserts, signals and
updates, payload bytes as stored (after the codec: encrypted) and the history's own bytes.

These are counts, not timings: the same on a busy machine as on a quiet one.
"""

from __future__ import annotations

import asyncio
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


def history_costs(events: list[HistoryEvent]) -> dict[str, int]:
    """The cost figures of one workflow's history."""
    present = Counter(name for e in events for name in EVENT_COUNTS.values() if e.HasField(name))
    costs = {key: present[name] for key, name in EVENT_COUNTS.items()}
    return costs | {
        "events": len(events),
        "payload_bytes": sum(payload_bytes(e) for e in events),
        "history_bytes": sum(e.ByteSize() for e in events),
    }


async def phase_costs(client: Client, workflow_ids: list[str]) -> dict[str, Any]:
    """The mean costs per workflow over `SAMPLE` of `workflow_ids`, spread evenly over them (the first
    ones woke before any queue formed, the last ones after)."""
    sample = workflow_ids[:: max(1, len(workflow_ids) // SAMPLE)][:SAMPLE]

    async def one(workflow_id: str) -> dict[str, int]:
        handle = client.get_workflow_handle(workflow_id)
        return history_costs([e async for e in handle.fetch_history_events()])

    found = await asyncio.gather(*(one(w) for w in sample))
    if not found:
        return {}
    return {key: round(mean(c[key] for c in found), 1) for key in found[0]} | {"sampled": len(found)}


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


def cost_rows(results: dict[str, Any]) -> tuple[list[str], list[list[Any]]]:
    """The table of costs per workflow, bare first, each phase with its CPU per workflow."""
    rows = []
    for name in ("bare", "reminders", "invitations"):
        phase = results.get(name) or {}
        costs = phase.get("costs")
        if not costs:
            continue
        cpu = phase.get("cpu_ms_per_workflow", {})
        worker = cpu.get("bare_worker" if name == "bare" else "worker")
        rows.append([name, *(costs.get(key) for key, _ in COLUMNS), cpu.get("server"), worker])
    headers = ["per workflow", *(title for _, title in COLUMNS), "server CPU ms", "worker CPU ms"]
    return headers, rows
