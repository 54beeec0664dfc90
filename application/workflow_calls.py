"""Typed calls from the use cases to running workflows: one table from workflow kind to its class and
status type, and the translation of Temporal's refusals into the doors' one-line errors."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import timedelta
from typing import Any, TypeVar

from temporalio.api.common.v1 import WorkflowExecution
from temporalio.api.workflowservice.v1 import (
    DescribeWorkflowExecutionRequest,
    DescribeWorkflowExecutionResponse,
)
from temporalio.client import (
    Client,
    WithStartWorkflowOperation,
    WorkflowExecutionStatus,
    WorkflowUpdateFailedError,
)
from temporalio.exceptions import ApplicationError
from temporalio.service import RPCError, RPCStatusCode

from application.errors import ConflictError, EndedError, NotFoundError, RejectedError
from contracts.workflow_ids import GROUP_PREFIX, INVITATION_PREFIX, REMINDER_PREFIX
from domain.booking import GroupBooking, VisitBooking
from domain.invitation import CareInvitation, InvitationStatus
from domain.status import GroupStatus, ReminderStatus
from workflows.group_booking import GroupBookingWorkflow
from workflows.reminder.process import Reminder
from workflows.request.process import Request

Status = ReminderStatus | GroupStatus | InvitationStatus
W = TypeVar("W")
A = TypeVar("A")
R = TypeVar("R")


@dataclass(frozen=True)
class WorkflowKind:
    prefix: str
    workflow: type
    input_type: type
    status_type: type[Status]


KINDS = (
    WorkflowKind(REMINDER_PREFIX, Reminder, VisitBooking, ReminderStatus),  # also teams (S11)
    WorkflowKind(GROUP_PREFIX, GroupBookingWorkflow, GroupBooking, GroupStatus),
    WorkflowKind(INVITATION_PREFIX, Request, CareInvitation, InvitationStatus),
)


def kind_of(workflow_id: str) -> WorkflowKind:
    for kind in KINDS:
        if workflow_id.startswith(kind.prefix):
            return kind
    raise NotFoundError(f"no workflow '{workflow_id}'")


async def query_status(client: Client, workflow_id: str, timeout: timedelta | None = None) -> Status:
    """The `status` query of whichever workflow the id names (within `timeout`, if given)."""
    status_query = kind_of(workflow_id).workflow.status  # every kind's query is named `status`
    try:
        return await client.get_workflow_handle(workflow_id).query(status_query, rpc_timeout=timeout)
    except RPCError as err:
        raise not_found(err, workflow_id) from None


async def exists(client: Client, workflow_id: str) -> bool:
    """Whether a workflow with this id was ever started (running or closed): the server alone
    answers, no worker is asked."""
    try:
        await _describe(client, workflow_id)
    except RPCError as err:
        if err.status == RPCStatusCode.NOT_FOUND:
            return False
        raise
    return True


async def update(
    client: Client, workflow_id: str, handler: Callable[[W, A], Awaitable[R] | R], arg: A | None = None
) -> R:
    """Run an update (`arg` None: one without input); a validator's refusal becomes a `RejectedError`
    naming the update."""
    handle = client.get_workflow_handle(workflow_id)
    try:
        if arg is None:
            return await handle.execute_update(handler)  # type: ignore[arg-type]
        return await handle.execute_update(handler, arg)
    except WorkflowUpdateFailedError as err:
        raise _rejected(handler, err) from None
    except RPCError as err:
        raise await _ended_or_missing(err, client, workflow_id) from None


async def update_with_start(
    client: Client,
    handler: Callable[[W, A], Awaitable[R] | R],
    arg: A,
    start: WithStartWorkflowOperation[Any, Any],
) -> R:
    """Run an update on the workflow `start` names, starting it first if it is not running; a
    validator's refusal becomes a `ConflictError`."""
    try:
        return await client.execute_update_with_start_workflow(handler, arg, start_workflow_operation=start)
    except WorkflowUpdateFailedError as err:
        raise ConflictError(_refusal(err)) from None


def _rejected(handler: Callable[..., Any], err: WorkflowUpdateFailedError) -> RejectedError:
    return RejectedError(f"{_name(handler)} rejected: {_refusal(err)}")


def _refusal(err: WorkflowUpdateFailedError) -> str:
    cause = err.cause
    return cause.message if isinstance(cause, ApplicationError) else str(cause)


async def signal(client: Client, workflow_id: str, handler: Callable[[W, A], Any], arg: A) -> None:
    try:
        await client.get_workflow_handle(workflow_id).signal(handler, arg)
    except RPCError as err:
        raise await _ended_or_missing(err, client, workflow_id) from None


async def signal_named(client: Client, workflow_id: str, name: str, arg: Any) -> None:
    """`signal` by the handler's name, for a handler of another module (issue 28: `patient_reply`);
    Temporal keeps the signal in the history even before the workflow has that handler."""
    try:
        await client.get_workflow_handle(workflow_id).signal(name, arg)
    except RPCError as err:
        raise await _ended_or_missing(err, client, workflow_id) from None


def _name(handler: Callable[..., Any]) -> str:
    return handler.__name__


def not_found(err: RPCError, workflow_id: str) -> Exception:
    if err.status == RPCStatusCode.NOT_FOUND:
        return NotFoundError(f"no workflow '{workflow_id}'")
    return err


async def _ended_or_missing(err: RPCError, client: Client, workflow_id: str) -> Exception:
    """A signal or update that found no running workflow: say whether it has ended or never was."""
    if err.status != RPCStatusCode.NOT_FOUND:
        return err
    try:
        described = await _describe(client, workflow_id)
    except RPCError as missing:
        return not_found(missing, workflow_id)
    status = WorkflowExecutionStatus(described.workflow_execution_info.status).name.lower()
    return EndedError(f"workflow '{workflow_id}' has ended: nothing to change ({status})")


async def _describe(client: Client, workflow_id: str) -> DescribeWorkflowExecutionResponse:
    """The raw describe call: its status is all that is needed (and the time-skipping server cannot
    decode the rest)."""
    request = DescribeWorkflowExecutionRequest(
        namespace=client.namespace, execution=WorkflowExecution(workflow_id=workflow_id)
    )
    return await client.workflow_service.describe_workflow_execution(request)
