"""How a use case starts a workflow once: under the id its clinic issued (or the id a workflow of that
clinic had before ids were scoped), the same request again harmless, other content refused."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

import structlog
from pydantic import BaseModel
from temporalio.client import Client
from temporalio.common import WorkflowIDConflictPolicy, WorkflowIDReusePolicy
from temporalio.exceptions import WorkflowAlreadyStartedError

from application.lookup import own_legacy, require_same
from contracts.workflow_ids import IdKind, IssuedId, visit_ref
from domain.booking import GroupBooking, VisitBooking
from domain.invitation import CareInvitation

log = structlog.get_logger(__name__)

START_ONCE: dict[str, Any] = {
    "id_conflict_policy": WorkflowIDConflictPolicy.FAIL,
    "id_reuse_policy": WorkflowIDReusePolicy.REJECT_DUPLICATE,
}
"""The server refuses a second start under a used id (running or closed)."""


@dataclass(frozen=True)
class Started:
    """What a booking or request started: its workflow, and whether this call made it (False: the
    same request was there)."""

    workflow_id: str
    new: bool


def issued_by(request: VisitBooking | GroupBooking | CareInvitation) -> IssuedId:
    """The id a booking, group booking or request starts its workflow under (a team visit's bookings
    share their team visit's)."""
    if isinstance(request, VisitBooking):
        return visit_ref(request)
    if isinstance(request, GroupBooking):
        return IssuedId(IdKind.GROUP, request.group_booking_id)
    return IssuedId(IdKind.REQUEST, request.request_id)


def scoped_workflow_id(request: VisitBooking | GroupBooking | CareInvitation) -> str:
    """The workflow id a start asks for, for the door's audit row before it starts: the id scoped by
    the clinic (`Started.workflow_id` is the one used: a workflow from before ids were scoped keeps
    its old id)."""
    return issued_by(request).at(request.clinic_id)


async def workflow_id_for(client: Client, issued: IssuedId, clinic_id: str) -> str:
    """The workflow of an id `clinic_id` issued: its scoped id, or the one it had before ids were
    scoped if a workflow of the clinic runs (or ran) under it (an upgrade starts no second one)."""
    return await own_legacy(client, issued, clinic_id) or issued.at(clinic_id)


async def start_once(
    client: Client,
    run: Callable[[Any, Any], Awaitable[Any]],
    arg: BaseModel,
    *,
    request: BaseModel,
    issued: IssuedId,
    id: str,
    **options: Any,
) -> Started:
    """Start `run(arg)` under `id` unless it was started before: then `request` must be the one that
    started it (ConflictError naming the fields that differ)."""
    try:
        await client.start_workflow(run, arg, id=id, **options, **START_ONCE)
    except WorkflowAlreadyStartedError:
        await require_same(client, id, request, issued)
        log.info("already_started", workflow_id=id)  # the same request again: nothing to start
        return Started(id, new=False)
    return Started(id, new=True)
