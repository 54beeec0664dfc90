"""Which workflow an issued id names for a caller: ids are scoped by the clinic that issued them
(`contracts.workflow_ids`), so a booking, team-visit, group or request id is looked up at the
caller's clinics only. An id that only another clinic issued answers exactly as one nobody issued
(no existence oracle); a workflow started before ids were scoped is found under its old id, at its
own clinic only."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from dataclasses import dataclass

from pydantic import BaseModel
from temporalio.client import Client
from temporalio.service import RPCError

from application.errors import ConflictError, InputError, NotFoundError
from application.workflow_calls import Status, exists, kind_of, not_found, query_status
from contracts.workflow_ids import IssuedId
from domain.booking import used_id_message
from domain.types import differing_fields


@dataclass(frozen=True)
class Found:
    workflow_id: str
    status: Status


async def find(client: Client, issued: IssuedId, clinics: Sequence[str]) -> Found:
    """The workflow of `issued` at one of `clinics` (the caller's), with its status. NotFoundError
    when none of them issued it, whoever else did; InputError when several did (name the clinic)."""
    candidates = [issued.at(clinic_id) for clinic_id in dict.fromkeys(clinics)]
    if len(candidates) == 1:  # one clinic: its status answers (no extra call)
        try:
            return Found(candidates[0], await query_status(client, candidates[0]))
        except NotFoundError:
            pass
    elif candidates:
        there = await asyncio.gather(*(exists(client, workflow_id) for workflow_id in candidates))
        found = [workflow_id for workflow_id, yes in zip(candidates, there, strict=True) if yes]
        if len(found) > 1:
            raise InputError(f"{issued} was issued by several of your clinics: name the clinic (clinic_id)")
        if found:
            return Found(found[0], await query_status(client, found[0]))
    legacy = await _legacy(client, issued)
    if legacy is not None and legacy.status.clinic_id in clinics:
        return legacy
    raise NotFoundError(f"no {issued}")


async def own_legacy(client: Client, issued: IssuedId, clinic_id: str) -> str | None:
    """The id `issued` had before ids were scoped, if a workflow of `clinic_id` runs (or ran) under
    it: booking it again must find that one, not start a second reminder."""
    legacy = await _legacy(client, issued)
    return legacy.workflow_id if legacy is not None and legacy.status.clinic_id == clinic_id else None


async def _legacy(client: Client, issued: IssuedId) -> Found | None:
    if not await exists(client, issued.legacy_id):
        return None
    return Found(issued.legacy_id, await query_status(client, issued.legacy_id))


async def started_input(client: Client, workflow_id: str) -> BaseModel:
    """The input a workflow was started with (the first event of its history, decrypted by the
    client's codec): no query, so it works for an ended workflow and without a worker."""
    input_type = kind_of(workflow_id).input_type
    handle = client.get_workflow_handle(workflow_id)
    try:
        async for event in handle.fetch_history_events(page_size=1):
            payloads = event.workflow_execution_started_event_attributes.input.payloads
            [started] = await client.data_converter.decode(payloads, [input_type])
            return started
    except RPCError as err:
        raise not_found(err, workflow_id) from None
    raise NotFoundError(f"no workflow '{workflow_id}'")


async def require_same(client: Client, workflow_id: str, request: BaseModel, issued: IssuedId) -> None:
    """A request under a used id is harmless when it is the one that started the workflow; with
    other content it is refused (409), naming the fields that differ, never their values."""
    if fields := differing_fields(request, await started_input(client, workflow_id)):
        raise ConflictError(used_id_message(str(issued), fields))
