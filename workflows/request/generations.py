"""The types a request runs as, newest first: each a declaration of how it starts and how it sends.

A type is registered under its name for as long as requests of it may run (an invitation lives
months) and its saved histories replay (tests/histories/<type>-*.json). A new behaviour is a new
type here, the old ones unchanged (docs/changing-workflows.md).
"""

from __future__ import annotations

from temporalio import workflow

with workflow.unsafe.imports_passed_through():
    from domain.invitation import InvitationStart, InvitationStatus
    from workflows.mechanics import LeanBehindPatch, StartsLean

from workflows.request.process import Request
from workflows.request.sending import MessageAsActivity, MessageInWokenTask

LEAN_HISTORY = "invitation-lean-history"
"""Patch id of `CareInvitationWorkflow`: `load_clinic` as a local activity, search attributes upserted
only when they change. Invitations started before it replay the old path."""


@workflow.defn
class CareRequestV3(Request):
    """The type `application.create_request` starts: the task that wakes it sends the message as a
    local activity, and its start carries the first message's plan (issue 13)."""

    @workflow.run
    async def run(self, request: InvitationStart) -> InvitationStatus:
        return await self._run(request, StartsLean(), MessageInWokenTask())


@workflow.defn
class CareRequestV2(Request):
    """Created before `CareRequestV3`: the message as an activity, the state it led to upserted
    `PUBLISH_DELAY` after it, not in the task that records it."""

    @workflow.run
    async def run(self, request: InvitationStart) -> InvitationStatus:
        return await self._run(request, StartsLean(), MessageAsActivity(publishes_later=True))


@workflow.defn
class CareRequest(Request):
    """Created before `CareRequestV2`: the message as an activity, its state upserted at once."""

    @workflow.run
    async def run(self, request: InvitationStart) -> InvitationStatus:
        return await self._run(request, StartsLean(), MessageAsActivity())


@workflow.defn
class CareInvitationWorkflow(Request):
    """Created before `CareRequest`: reads the clinic when it starts sending, lean only behind its
    patch."""

    @workflow.run
    async def run(self, request: InvitationStart) -> InvitationStatus:
        return await self._run(request, LeanBehindPatch(LEAN_HISTORY), MessageAsActivity())


REQUEST_TYPES = (CareRequestV3, CareRequestV2, CareRequest, CareInvitationWorkflow)
"""Every type a request runs as, the newest first: the worker registers them, the work lists query them."""
