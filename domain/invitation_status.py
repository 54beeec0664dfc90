"""Where a care invitation or booking request stands: SPEC §4 V7, V11–V13, §5.

Its states (`InvitationState`, which are open), the staff work list each state belongs to (V12, V13), and
the result of the `status` query of `CareRequest` (`InvitationStatus`, which is in workflow histories: its
field names and serialization are a contract) with the Web UI's current details. Pure code: no I/O, no
Temporal. Import them from `domain.invitation`.
"""

from __future__ import annotations

from enum import StrEnum

from pydantic import Field

from domain.identity import mask_patient_id
from domain.invitation_request import (
    BookedBy,
    CareInvitation,
    DateWindow,
    PatientInfo,
    TimeOfDay,
    Weekday,
)
from domain.markdown import escape_markdown
from domain.status import MessageRecord, NextAction
from domain.types import ContractModel, Moment


class InvitationState(StrEnum):
    REQUEST = "request"  # plain booking request: sends nothing (V11, V12)
    SCHEDULED = "scheduled"  # invitation waiting for its first message (V3)
    INVITED = "invited"
    REMINDED_1 = "reminded_1"
    REMINDED_2 = "reminded_2"
    BOOKED = "booked"  # V7
    CONTACTED = "contacted"  # V7
    CANCELLED = "cancelled"  # V14
    FOLLOW_UP = "follow_up"  # V13


OPEN_STATES = frozenset(
    {
        InvitationState.REQUEST,
        InvitationState.SCHEDULED,
        InvitationState.INVITED,
        InvitationState.REMINDED_1,
        InvitationState.REMINDED_2,
    }
)
"""States in which the request may be changed (V10), booked, contacted or cancelled."""


def is_open(state: InvitationState) -> bool:
    return state in OPEN_STATES


class WorkList(StrEnum):
    """V12/V13: the staff list ("Mitt arbetsflöde") a request is shown in."""

    VARDINBJUDAN = "vardinbjudan"  # open invitations
    BOKNINGSBEGARAN = "bokningsbegaran"  # plain requests (state `request`)
    UPPFOLJNING = "uppfoljning"  # V13: unanswered or window ended
    NONE = "none"  # closed: booked, contacted, cancelled


_WORK_LISTS: dict[InvitationState, WorkList] = {
    InvitationState.REQUEST: WorkList.BOKNINGSBEGARAN,
    InvitationState.SCHEDULED: WorkList.VARDINBJUDAN,
    InvitationState.INVITED: WorkList.VARDINBJUDAN,
    InvitationState.REMINDED_1: WorkList.VARDINBJUDAN,
    InvitationState.REMINDED_2: WorkList.VARDINBJUDAN,
    InvitationState.FOLLOW_UP: WorkList.UPPFOLJNING,
    InvitationState.BOOKED: WorkList.NONE,
    InvitationState.CONTACTED: WorkList.NONE,
    InvitationState.CANCELLED: WorkList.NONE,
}


def initial_state(request: CareInvitation) -> InvitationState:
    """V11, V12: an invitation is scheduled from the start, a plain booking request waits as a request."""
    return InvitationState.SCHEDULED if request.invitation else InvitationState.REQUEST


def work_list(state: InvitationState) -> WorkList:
    """V12/V13: the staff work list of a request in `state`."""
    return _WORK_LISTS[state]


class BookedVisit(ContractModel):
    """The booked visit of an invitation and the id of its SMS reminder workflow (V9)."""

    booking_id: str
    start: Moment
    by: BookedBy
    reminder_workflow_id: str


class InvitationStatus(ContractModel):
    """Result of the `status` query of `CareRequest` (SPEC §5)."""

    state: InvitationState
    next_action: NextAction | None = None
    messages: list[MessageRecord] = Field(default_factory=list)
    request_id: str
    clinic_id: str
    reception_id: str
    patient: str  # masked patient id
    window: DateWindow
    weekdays: list[Weekday] | None = None
    time_of_day: TimeOfDay = TimeOfDay.ANY
    visit_type: str
    patient_info: PatientInfo | None = None  # the clinic's texts for the patient
    booked: BookedVisit | None = None
    work_list: WorkList


def invitation_status(
    request: CareInvitation,
    state: InvitationState,
    *,
    next_action: NextAction | None = None,
    messages: list[MessageRecord] | None = None,
    booked: BookedVisit | None = None,
) -> InvitationStatus:
    """The `status` result of `request` in `state`: the patient id masked, the work list derived (V12)."""
    return InvitationStatus(
        state=state,
        next_action=next_action,
        messages=list(messages or []),
        request_id=request.request_id,
        clinic_id=request.clinic_id,
        reception_id=request.reception_id,
        patient=mask_patient_id(request.patient_id),
        window=request.window,
        weekdays=request.weekdays,
        time_of_day=request.time_of_day,
        visit_type=request.visit_type,
        patient_info=request.patient_info,
        booked=booked,
        work_list=work_list(state),
    )


def invitation_details(
    state: InvitationState, request: CareInvitation, next_action: NextAction | None
) -> str:
    """The Web UI's current details of a request: state, visit type, place, window and next message.
    The Web UI renders them as Markdown: the caller's visit type and ids are escaped
    (`escape_markdown`), the rest are the service's own words, dates and times."""
    when = f", next {next_action.kind} at {next_action.at.isoformat()}" if next_action else ""
    window = request.window
    return (
        f"{state.value}: {escape_markdown(request.visit_type)} at {escape_markdown(request.clinic_id)}/"
        f"{escape_markdown(request.reception_id)}, window {window.first_date}–{window.last_date}{when}"
    )
