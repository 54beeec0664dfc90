"""The application layer: the use cases every door calls (the command line, the HTTP API, the staff
page). Each checks its input at the edge — bad input starts or changes nothing — and talks to the
workflows by typed references (`workflow_calls`). A door names what it acts on by the id its clinic
issued (`targets.Target`); workflow ids are made and looked up here, never in a door."""

from application.checks import (
    check_clinic,
    check_future,
    check_group,
    check_patient,
    check_request,
    check_system_id,
    check_visit_booking,
    check_visit_place,
    check_window,
    check_workflow_id,
)
from application.directory import clinic_ids, load_directory, load_directory_file, withdraw_consent
from application.errors import ConflictError, EndedError, InputError, NotFoundError, RejectedError
from application.identity import PatientIdentity, patient_identity
from application.invitations import (
    book_invitation,
    change_request,
    convert_request,
    create_request,
    record_contact,
)
from application.records import (
    OPERATOR_TOKEN_PREFIX,
    ApiClient,
    ApiKeys,
    AuditRecord,
    AuditTrail,
    DirectoryLoadError,
    KindConflict,
    LoadSummary,
    OperatorTokens,
    StaffSessions,
    UnknownPatientError,
    audit_records,
)
from application.starts import Started, scoped_workflow_id
from application.targets import Finding, Target, asked_for, located, status
from application.visits import (
    book_group,
    book_visit,
    cancel,
    reschedule,
    set_sms_flag,
)
from application.work_lists import (
    ListCounts,
    WorkListItem,
    WorkListPage,
    WorkLists,
    item_statuses,
    work_list_page,
    work_lists,
)
from application.workflow_calls import Status, exists, query_status

__all__ = [
    "OPERATOR_TOKEN_PREFIX",
    "ApiClient",
    "ApiKeys",
    "AuditRecord",
    "AuditTrail",
    "ConflictError",
    "DirectoryLoadError",
    "EndedError",
    "Finding",
    "InputError",
    "KindConflict",
    "ListCounts",
    "LoadSummary",
    "NotFoundError",
    "OperatorTokens",
    "PatientIdentity",
    "RejectedError",
    "StaffSessions",
    "Started",
    "Status",
    "Target",
    "UnknownPatientError",
    "WorkListItem",
    "WorkListPage",
    "WorkLists",
    "asked_for",
    "audit_records",
    "book_group",
    "book_invitation",
    "book_visit",
    "cancel",
    "change_request",
    "check_clinic",
    "check_future",
    "check_group",
    "check_patient",
    "check_request",
    "check_system_id",
    "check_visit_booking",
    "check_visit_place",
    "check_window",
    "check_workflow_id",
    "clinic_ids",
    "convert_request",
    "create_request",
    "exists",
    "item_statuses",
    "load_directory",
    "load_directory_file",
    "located",
    "patient_identity",
    "query_status",
    "record_contact",
    "reschedule",
    "scoped_workflow_id",
    "set_sms_flag",
    "status",
    "withdraw_consent",
    "work_list_page",
    "work_lists",
]
