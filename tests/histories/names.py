"""A saved history's file name says what it replays: `<workflow type>-<scenario>[-<branch>…].json`.

The scenario is the issued id without `hist-` (`single`, `team`, `group-1`, `booked-visit`, …); the
branches are the patches the history took, in the order it took them, and `scoped` for a child
reminder started under a clinic-scoped id (its parent took `ids-scoped-by-clinic`)."""

from __future__ import annotations

import json

from temporalio.client import WorkflowHistory

from contracts.workflow_ids import parse_workflow_id
from workflows.mechanics import SCOPED_IDS
from workflows.reminder.children import NEWEST_FOR_CHILDREN
from workflows.reminder.generations import LEAN_HISTORY as REMINDER_LEAN
from workflows.reminder.replies import PATIENT_REPLIES
from workflows.reminder.sending import DECISIONS_TOLD
from workflows.request.generations import LEAN_HISTORY as REQUEST_LEAN
from workflows.request.routing import REISSUE, ROUTING
from workflows.request.sending import EVENTS as REQUEST_EVENTS

BRANCHES = {
    REMINDER_LEAN: "lean",
    REQUEST_LEAN: "lean",
    SCOPED_IDS: "scoped",
    NEWEST_FOR_CHILDREN: "newest-child",
    REQUEST_EVENTS: "events",
    DECISIONS_TOLD: "told",
    ROUTING: "routed",
    REISSUE: "reissued",
    PATIENT_REPLIES: "replies",
}
"""The patch ids in force and their short names in file names."""


def patches_taken(history: WorkflowHistory) -> list[str]:
    """The patch ids whose markers the history holds, in order."""
    markers = [
        e.marker_recorded_event_attributes
        for e in history.events
        if e.HasField("marker_recorded_event_attributes")
    ]
    return [
        json.loads(m.details["patch-data"].payloads[0].data)["id"]
        for m in markers
        if m.marker_name == "core_patch"
    ]


def workflow_type(history: WorkflowHistory) -> str:
    return history.events[0].workflow_execution_started_event_attributes.workflow_type.name


def branches(history: WorkflowHistory, workflow_id: str) -> list[str]:
    """The short names of the patches taken, and `scoped` for a child started under a scoped id."""
    taken = [BRANCHES[p] for p in patches_taken(history)]
    parsed = parse_workflow_id(workflow_id)
    if parsed and parsed.clinic_id and "scoped" not in taken:
        taken.append("scoped")
    return taken


def history_name(history: WorkflowHistory, workflow_id: str, scenario: str | None = None) -> str:
    """The file name (without `.json`) of the history of the workflow `workflow_id`; `scenario` names
    one whose id names none (an event's delivery, `webhook-event:<hash>`)."""
    parsed = parse_workflow_id(workflow_id)
    if scenario is None:
        scenario = parsed.issued.value.removeprefix("hist-") if parsed else workflow_id
    return "-".join([workflow_type(history), scenario, *branches(history, workflow_id)])
