"""The staff work lists of a clinic ("Mitt arbetsflöde", V12, V13): a read model over Temporal's
visibility (search attributes), not a side database."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime

from pydantic import BaseModel
from temporalio.client import Client

from application.checks import check_system_id
from application.workflow_calls import Status, query_status
from contracts import search_attributes as search
from contracts.workflow_ids import parse_workflow_id
from domain.invitation import WorkList
from workflows.request.generations import REQUEST_TYPES


class WorkListItem(BaseModel):
    request_id: str
    workflow_id: str
    reception_id: str | None
    state: str | None
    next_action: str | None
    next_action_at: datetime | None
    waiting_since: datetime | None = None  # when the request came in (its workflow's start)


class WorkLists(BaseModel):
    """V12, V13: the staff lists of one clinic ("Mitt arbetsflöde")."""

    clinic_id: str
    vardinbjudan: list[WorkListItem]
    bokningsbegaran: list[WorkListItem]
    uppfoljning: list[WorkListItem]


async def work_lists(client: Client, clinic_id: str) -> WorkLists:
    """The three lists of a clinic, each by its next action's moment (none last)."""
    check_system_id(clinic_id, "the clinic id")  # it goes into the visibility query
    lists: dict[str, list[WorkListItem]] = {w.value: [] for w in WorkList if w is not WorkList.NONE}
    query = (
        f"WorkflowType IN ({', '.join(repr(t.__name__) for t in REQUEST_TYPES)}) "
        f"AND ExecutionStatus = 'Running' AND {search.CLINIC.name} = '{clinic_id}'"
    )
    async for execution in client.list_workflows(query):
        attributes = execution.typed_search_attributes
        work_list = attributes.get(search.WORK_LIST)
        parsed = parse_workflow_id(execution.id)
        if work_list not in lists or parsed is None:
            continue
        lists[work_list].append(
            WorkListItem(
                request_id=parsed.issued.value,
                workflow_id=execution.id,
                reception_id=attributes.get(search.RECEPTION),
                state=attributes.get(search.STATE),
                next_action=attributes.get(search.NEXT_ACTION),
                next_action_at=attributes.get(search.NEXT_ACTION_AT),
                waiting_since=execution.start_time,
            )
        )
    for items in lists.values():
        items.sort(
            key=lambda i: (i.next_action_at is None, i.next_action_at or datetime.max.replace(tzinfo=UTC))
        )
    return WorkLists(clinic_id=clinic_id, **lists)


async def item_statuses(client: Client, items: list[WorkListItem]) -> list[Status | None]:
    """The current status of each listed request (None where it cannot be read now: the list comes
    from visibility, which may lag behind a workflow that has just ended)."""
    found = await asyncio.gather(
        *(query_status(client, i.workflow_id) for i in items), return_exceptions=True
    )
    return [None if isinstance(status, BaseException) else status for status in found]
