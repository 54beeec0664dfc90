"""Workflow ids of the integration contract (SPEC §5), system ids only, never patient data; and the
SMS idempotency key that names one reminder SMS by its workflow (S15).

A booking, team-visit, group or request id belongs to the clinic that issued it: the same id at two
clinics names two workflows, `<kind>:<clinic_id>:<id>` (docs/security.md, "Tenancy"). Workflows
started before ids were scoped keep their ids `<kind>-<id>` (`legacy_id`) and are still found, at
their own clinic only (`application.lookup`).
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from domain.booking import VisitBooking
from domain.status import RecipientRole


class IdKind(StrEnum):
    """What an issued id names, and the first part of its workflow id."""

    VISIT = "sms-reminder"
    TEAM_VISIT = "sms-reminder-team"
    GROUP = "group-booking"
    REQUEST = "care-invitation"

    @property
    def noun(self) -> str:
        return _NOUNS[self]


_NOUNS = {
    IdKind.VISIT: "visit",
    IdKind.TEAM_VISIT: "team visit",
    IdKind.GROUP: "group booking",
    IdKind.REQUEST: "request",
}
SCOPE = ":"
"""Separates kind, clinic and id in a scoped workflow id; never part of a system id."""

REMINDER_PREFIX = IdKind.VISIT.value  # single and team visits, scoped or not
GROUP_PREFIX = IdKind.GROUP.value
INVITATION_PREFIX = IdKind.REQUEST.value


@dataclass(frozen=True)
class IssuedId:
    """An id as a booking system issued it: a kind and the id, without its clinic."""

    kind: IdKind
    value: str

    def at(self, clinic_id: str) -> str:
        """The workflow id of this id issued by `clinic_id`."""
        return f"{self.kind.value}{SCOPE}{clinic_id}{SCOPE}{self.value}"

    @property
    def legacy_id(self) -> str:
        """The workflow id it had before ids were scoped by clinic."""
        return f"{self.kind.value}-{self.value}"

    def __str__(self) -> str:
        return f"{self.kind.noun} '{self.value}'"


def booking_reminder_id(clinic_id: str, booking_id: str) -> str:
    return IssuedId(IdKind.VISIT, booking_id).at(clinic_id)


def team_reminder_id(clinic_id: str, team_visit_id: str) -> str:
    return IssuedId(IdKind.TEAM_VISIT, team_visit_id).at(clinic_id)


def visit_ref(booking: VisitBooking) -> IssuedId:
    """A team visit (S11) has one reminder workflow that its HOSP bookings join."""
    if booking.team_visit_id:
        return IssuedId(IdKind.TEAM_VISIT, booking.team_visit_id)
    return IssuedId(IdKind.VISIT, booking.booking_id)


def reminder_id(booking: VisitBooking) -> str:
    return visit_ref(booking).at(booking.clinic_id)


def group_booking_id(clinic_id: str, group_booking_id: str) -> str:
    return IssuedId(IdKind.GROUP, group_booking_id).at(clinic_id)


def invitation_id(clinic_id: str, request_id: str) -> str:
    """A booking request and its care invitation are one workflow (V11)."""
    return IssuedId(IdKind.REQUEST, request_id).at(clinic_id)


@dataclass(frozen=True)
class ParsedId:
    issued: IssuedId
    clinic_id: str | None  # None: a workflow id from before ids were scoped


def parse_workflow_id(workflow_id: str) -> ParsedId | None:
    """The kind, clinic and issued id of a workflow id, scoped or legacy; None for any other string."""
    head, sep, rest = workflow_id.partition(SCOPE)
    if sep:
        clinic_id, sep, value = rest.partition(SCOPE)
        if head in IdKind._value2member_map_ and sep and clinic_id and value:
            return ParsedId(IssuedId(IdKind(head), value), clinic_id)
        return None
    for kind in sorted(IdKind, key=lambda k: -len(k.value)):  # `sms-reminder-team-` before `sms-reminder-`
        if workflow_id.startswith(f"{kind.value}-") and len(workflow_id) > len(kind.value) + 1:
            return ParsedId(IssuedId(kind, workflow_id[len(kind.value) + 1 :]), None)
    return None


_ROLES = frozenset(r.value for r in RecipientRole)


@dataclass(frozen=True)
class SmsKey:
    """The parts of a reminder SMS's idempotency key `<workflow id>/v<visit version>/<recipient role>`."""

    workflow_id: str
    version: int
    role: RecipientRole


def sms_key(workflow_id: str, version: int, role: RecipientRole) -> str:
    """The SMS's idempotency key (S15), also how its delivery report finds the reminder and message."""
    return f"{workflow_id}/v{version}/{role.value}"


def parse_sms_key(key: str) -> SmsKey | None:
    """The parts of a key `sms_key` made (the workflow id is all before the last two `/`); None for
    any other string."""
    parts = key.rsplit("/", 2)
    if len(parts) != 3:
        return None
    workflow_id, version, role = parts
    if not (version.startswith("v") and version[1:].isdigit()) or role not in _ROLES:
        return None
    return SmsKey(workflow_id=workflow_id, version=int(version[1:]), role=RecipientRole(role))
