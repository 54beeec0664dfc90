"""Workflow-side mechanics that the reminder and the invitation share (as samples-python's
`updatable_timer_lib.py` does for its sample): a directory read, a sleep that a change cuts short,
a message recorded and counted, a delivery report applied and counted, progress published for the work
lists and the Web UI.

Workflow code only: time from `workflow.now()`, I/O through activities. Each helper issues the same
commands, in the same order, as the code it replaced, so every saved history still replays.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, TypeVar

from temporalio import workflow
from temporalio.common import RetryPolicy, SearchAttributeUpdate

with workflow.unsafe.imports_passed_through():
    from domain.status import DeliveryReport, MessageRecord, later_delivery

A = TypeVar("A")
R = TypeVar("R")
S = TypeVar("S")

SCOPED_IDS = "ids-scoped-by-clinic"
"""Patch id: a reminder that a group booking or an invitation starts gets the workflow id scoped by
its clinic (`contracts.workflow_ids`); histories from before it replay with the unscoped id."""

PUBLISH_DELAY = timedelta(minutes=10)
"""How long after a message the newest reminder and invitation types upsert the state it led to: the
server's time at a send moment, when many wake together, goes to the messages (issue 13)."""
LOCAL_RETRY_THRESHOLD = timedelta(seconds=5)
"""A send as a local activity waits for its next try in the worker for up to this long, on a timer
after (the SDK's default, a minute, would hold the woken task open for a minute of retries)."""
DIRECTORY_TIMEOUT = timedelta(seconds=30)
DIRECTORY_RETRY = RetryPolicy(initial_interval=timedelta(seconds=1), maximum_interval=timedelta(minutes=1))


@dataclass(frozen=True)
class StartsLean:
    """How every type since issue 13 starts: it plans with the clinic's settings its start carries
    (read by the booking or the creation; a start without them reads the clinic), reads the directory
    as local activities and upserts only the search attributes that changed."""

    carries_clinic = True

    def lean(self) -> bool:
        return True


@dataclass(frozen=True)
class LeanBehindPatch:
    """How the oldest type of a workflow starts: it reads the clinic when it first plans, and takes
    the lean path (`StartsLean`) only behind `patch`, so histories from before it replay."""

    patch: str
    carries_clinic = False

    def lean(self) -> bool:
        return workflow.patched(self.patch)


Start = StartsLean | LeanBehindPatch


def activity_method(local: bool) -> Callable[..., Awaitable[Any]]:
    """How to run an activity method: as a local activity (in the workflow task that asks for it, no
    history events but its marker) or as a regular one (scheduled, then its result in a later task)."""
    return workflow.execute_local_activity_method if local else workflow.execute_activity_method


async def read_directory(activity: Callable[[S, A], R], arg: A, *, local: bool) -> R:
    """A directory read: a local activity, or, on the path of workflows started before the
    lean-history patches, a regular one."""
    result: R = await activity_method(local)(
        activity, arg, start_to_close_timeout=DIRECTORY_TIMEOUT, retry_policy=DIRECTORY_RETRY
    )
    return result


async def sleep_unless(changed: Callable[[], bool], until: datetime) -> bool:
    """Sleep until `until` unless `changed()` turns true first (then True). A moment that has passed
    wakes at once."""
    try:
        await workflow.wait_condition(changed, timeout=max(until - workflow.now(), timedelta(0)))
    except TimeoutError:
        return False
    return True


def record_message(messages: list[MessageRecord], record: MessageRecord) -> None:
    """Keep the message in the workflow's status and count it (kind, channel, outcome, reason) on the
    SDK's replay-safe meter, exported on the worker's Prometheus endpoint."""
    messages.append(record)
    counter = workflow.metric_meter().create_counter(
        "patient_messages", "Messages sent, skipped or failed, by kind, channel, outcome and reason"
    )
    counter.add(
        1,
        {
            "kind": record.kind.value,
            "channel": record.channel.value,
            "outcome": record.outcome.value,
            "reason": record.reason.value if record.reason else "",
        },
    )


def record_delivery(record: MessageRecord, report: DeliveryReport) -> bool:
    """Apply the provider's delivery report to a sent message (only forward: `later_delivery`) and
    count the change (kind, channel, status) on the replay-safe meter; a repeat or a late report
    changes and counts nothing. Issues no command. True if the message changed."""
    delivery = later_delivery(record.delivery, report.status)
    if delivery is record.delivery:
        return False
    record.delivery = delivery
    record.delivery_at = report.at
    counter = workflow.metric_meter().create_counter(
        "patient_message_deliveries", "Delivery reports that changed a message, by kind, channel and status"
    )
    counter.add(1, {"kind": record.kind.value, "channel": record.channel.value, "status": delivery.value})
    return True


def upsert(updates: list[SearchAttributeUpdate], *, only_changed: bool) -> None:
    """Upsert search attributes; with `only_changed`, only those that differ from the current ones (a
    start may have set them), and nothing at all when none does."""
    if only_changed:
        current = workflow.info().typed_search_attributes
        updates = [u for u in updates if current.get(u.key) != u.value]
        if not updates:
            return
    workflow.upsert_search_attributes(updates)


def publish(updates: list[SearchAttributeUpdate], details: str, *, only_changed: bool) -> None:
    """Progress for the work lists (search attributes) and for the Web UI (current details)."""
    upsert(updates, only_changed=only_changed)
    workflow.set_current_details(details)
