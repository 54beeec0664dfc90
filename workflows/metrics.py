"""Counters of messages by kind, channel, outcome and reason, through the SDK's replay-safe meter
(exported on the worker's Prometheus endpoint)."""

from __future__ import annotations

from temporalio import workflow

with workflow.unsafe.imports_passed_through():
    from domain.status import MessageRecord


def count_message(record: MessageRecord) -> None:
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
