"""The application layer: the use cases every door calls (the command line now; the HTTP API and the
staff page next). Each checks its input at the edge — bad input starts or changes nothing — and
talks to the workflows by typed references (`workflow_calls`)."""

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
from application.errors import ConflictError, EndedError, InputError, NotFoundError, RejectedError
from application.invitations import (
    book_invitation,
    change_request,
    convert_request,
    create_request,
    record_contact,
)
from application.lookup import Found, find, own_legacy
from application.starts import Started
from application.visits import (
    book_group,
    book_visit,
    cancel,
    reschedule,
    set_sms_flag,
)
from application.work_lists import WorkListItem, WorkLists, work_lists
from application.workflow_calls import Status, exists, query_status
from application.workflow_calls import query_status as status

__all__ = [
    "ConflictError",
    "EndedError",
    "Found",
    "InputError",
    "NotFoundError",
    "RejectedError",
    "Started",
    "Status",
    "WorkListItem",
    "WorkLists",
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
    "convert_request",
    "create_request",
    "exists",
    "find",
    "own_legacy",
    "query_status",
    "record_contact",
    "reschedule",
    "set_sms_flag",
    "status",
    "work_lists",
]
