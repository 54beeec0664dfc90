"""The service's own records as the doors use them: the audit trail (who read or changed which
workflow), the API keys and codec tokens that name who is calling, the staff page's sessions, and the
directory's refusals. The doors get the stores themselves from `infrastructure.stores.Stores`; the
types and errors they name come from here, not from `adapters/`."""

from __future__ import annotations

from adapters.audit import ApiClient, ApiKeys, AuditRecord, AuditTrail, KindConflict
from adapters.directory import LoadSummary, UnknownPatientError
from adapters.directory_document import DirectoryLoadError
from adapters.operator_tokens import OPERATOR_TOKEN_PREFIX, OperatorTokens
from adapters.staff_sessions import StaffSessions
from application.checks import check_workflow_id

__all__ = [
    "OPERATOR_TOKEN_PREFIX",
    "ApiClient",
    "ApiKeys",
    "AuditRecord",
    "AuditTrail",
    "DirectoryLoadError",
    "KindConflict",
    "LoadSummary",
    "OperatorTokens",
    "StaffSessions",
    "UnknownPatientError",
    "audit_records",
]


def audit_records(
    audit: AuditTrail, workflow_id: str | None, limit: int, what: str = "the workflow id"
) -> list[AuditRecord]:
    """The audit trail, newest last: of one workflow (its id as a person gives it, `what`, checked to
    be a workflow id of this service: never patient data), or of all."""
    if workflow_id:
        workflow_id = check_workflow_id(workflow_id.strip(), what)
    return audit.records(workflow_id=workflow_id, limit=limit)
