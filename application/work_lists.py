"""The staff work lists of a clinic ("Mitt arbetsflöde", V12, V13): a read model over Temporal's
visibility (search attributes), not a side database.

`work_list_page` reads one page of one list (one `list_workflows` call of one page, with the server's
page token) and its counts (`count_workflows`), whatever the clinic's size: what the staff page shows.
`work_lists` reads every open request of the clinic, for the command line and `GET /v1/.../work-lists`.

Visibility on SQL stores (the dev server's SQLite, PostgreSQL) has no ORDER BY: a page comes in the
store's own order, for open workflows their start time, newest first (docs/decisions.md).
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Literal

from pydantic import BaseModel
from temporalio.client import Client, WorkflowExecution

from application.checks import check_system_id
from application.errors import InputError
from application.workflow_calls import Status, query_status
from contracts import search_attributes as search
from contracts.workflow_ids import IdKind, parse_workflow_id
from domain.invitation import WorkList
from workflows.reminder.generations import REMINDER_TYPES
from workflows.request.generations import REQUEST_TYPES

PAGE_SIZE = 20
STATUS_TIMEOUT = timedelta(seconds=2)
"""How long a page waits for a row's status query (the row shows no visit type or window without it)."""
LIST_NAMES = tuple(w.value for w in WorkList if w is not WorkList.NONE)


class WorkListItem(BaseModel):
    request_id: str  # the issued id: a request's; for `kind` visit, the booking's (or team visit's)
    kind: Literal["request", "visit"] = "request"  # visit: a reminder a patient replied to (issue 28)
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


@dataclass
class WorkListPage:
    """One page of one list, newest request first, with its rows' statuses and the clinic's counts."""

    clinic_id: str
    work_list: str
    items: list[WorkListItem]
    statuses: list[Status | None]  # of each item; None: not read within `STATUS_TIMEOUT`
    matching: int  # the requests of the list that pass the filters (all pages)
    counts: dict[str, int]  # every list of the clinic, unfiltered
    next_page_token: bytes | None  # the server's token of the page after this one; None: the last


def _open_requests(clinic_id: str) -> str:
    """The visibility query of a clinic's open requests, and of its open reminders, which are on a
    list only while a patient's reply waits for staff (Uppföljning, issue 28); the clinic id checked:
    it goes into it."""
    check_system_id(clinic_id, "the clinic id")
    return (
        f"WorkflowType IN ({', '.join(repr(t.__name__) for t in (*REQUEST_TYPES, *REMINDER_TYPES))}) "
        f"AND ExecutionStatus = 'Running' AND {search.CLINIC.name} = '{clinic_id}'"
    )


def _item(execution: WorkflowExecution) -> WorkListItem | None:
    parsed = parse_workflow_id(execution.id)
    if parsed is None:
        return None
    attributes = execution.typed_search_attributes
    return WorkListItem(
        request_id=parsed.issued.value,
        kind="request" if parsed.issued.kind is IdKind.REQUEST else "visit",
        workflow_id=execution.id,
        reception_id=attributes.get(search.RECEPTION),
        state=attributes.get(search.STATE),
        next_action=attributes.get(search.NEXT_ACTION),
        next_action_at=attributes.get(search.NEXT_ACTION_AT),
        waiting_since=execution.start_time,
    )


async def work_lists(client: Client, clinic_id: str) -> WorkLists:
    """The three lists of a clinic, each by its next action's moment (none last)."""
    lists: dict[str, list[WorkListItem]] = {name: [] for name in LIST_NAMES}
    async for execution in client.list_workflows(_open_requests(clinic_id)):
        work_list = execution.typed_search_attributes.get(search.WORK_LIST)
        item = _item(execution)
        if work_list in lists and item is not None:
            lists[work_list].append(item)
    for items in lists.values():
        items.sort(
            key=lambda i: (i.next_action_at is None, i.next_action_at or datetime.max.replace(tzinfo=UTC))
        )
    return WorkLists(clinic_id=clinic_id, **lists)


@dataclass(frozen=True)
class ListCounts:
    """The clinic's count of each list and how many requests of the shown list pass its filters."""

    counts: dict[str, int]
    matching: int


async def work_list_page(
    client: Client,
    clinic_id: str,
    work_list: str,
    *,
    reception: str = "",
    started_before: datetime | None = None,
    page_token: bytes | None = None,
    page_size: int = PAGE_SIZE,
    counted: ListCounts | None = None,
) -> WorkListPage:
    """One page of `work_list` (of one reception unless blank; of requests that came in before
    `started_before` unless None), after the page whose server token is `page_token` (None: the
    first). One list call and then the status query of each row on the page; beside them a count per
    list and one for the filters if any, unless `counted` brings the counts of the list's first page
    (a page further on shows the counts its list was opened with)."""
    if work_list not in LIST_NAMES:
        raise InputError(f"no work list '{work_list}': one of {', '.join(LIST_NAMES)}")
    base = _open_requests(clinic_id)
    query = f"{base} AND {search.WORK_LIST.name} = '{work_list}'"
    if reception:
        query += f" AND {search.RECEPTION.name} = '{check_system_id(reception, 'the reception id')}'"
    if started_before is not None:
        query += f" AND StartTime < '{started_before.astimezone(UTC).isoformat().replace('+00:00', 'Z')}'"
    executions = client.list_workflows(query, page_size=page_size, next_page_token=page_token or None)

    async def rows() -> tuple[list[WorkListItem], list[Status | None]]:
        await executions.fetch_next_page()
        items = [i for i in map(_item, executions.current_page or []) if i is not None]
        return items, await item_statuses(client, items)

    async def counting() -> ListCounts:
        filtered = bool(reception) or started_before is not None
        lists = (f"{base} AND {search.WORK_LIST.name} = '{name}'" for name in LIST_NAMES)
        found = await asyncio.gather(
            *map(client.count_workflows, lists),
            *([client.count_workflows(query)] if filtered else []),
        )
        counts = {name: result.count for name, result in zip(LIST_NAMES, found, strict=False)}
        return ListCounts(counts, found[-1].count if filtered else counts[work_list])

    if counted is None:
        (items, statuses), counted = await asyncio.gather(rows(), counting())
    else:
        items, statuses = await rows()
    return WorkListPage(
        clinic_id=clinic_id,
        work_list=work_list,
        items=items,
        statuses=statuses,
        matching=counted.matching,
        counts=counted.counts,
        next_page_token=executions.next_page_token or None,
    )


async def item_statuses(client: Client, items: list[WorkListItem]) -> list[Status | None]:
    """The current status of each listed request (None where it cannot be read now: the list comes
    from visibility, which may lag behind a workflow that has just ended, and a workflow whose task is
    still pending answers no query until it has run; a page does not wait past `STATUS_TIMEOUT`)."""
    found = await asyncio.gather(
        *(query_status(client, i.workflow_id, STATUS_TIMEOUT) for i in items), return_exceptions=True
    )
    return [None if isinstance(status, BaseException) else status for status in found]
