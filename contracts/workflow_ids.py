"""Workflow ids of the integration contract (SPEC §5), system ids only, never patient data; and the
SMS idempotency key that names one reminder SMS by its workflow (S15)."""

from __future__ import annotations

from dataclasses import dataclass

from domain.booking import VisitBooking
from domain.status import RecipientRole

REMINDER_PREFIX = "sms-reminder-"
TEAM_REMINDER_PREFIX = "sms-reminder-team-"
GROUP_PREFIX = "group-booking-"
INVITATION_PREFIX = "care-invitation-"


def booking_reminder_id(booking_id: str) -> str:
    return f"{REMINDER_PREFIX}{booking_id}"


def team_reminder_id(team_visit_id: str) -> str:
    return f"{TEAM_REMINDER_PREFIX}{team_visit_id}"


def reminder_id(booking: VisitBooking) -> str:
    """A team visit (S11) has one reminder workflow that its HOSP bookings join."""
    if booking.team_visit_id:
        return team_reminder_id(booking.team_visit_id)
    return booking_reminder_id(booking.booking_id)


def group_booking_id(group_booking_id: str) -> str:
    return f"{GROUP_PREFIX}{group_booking_id}"


def invitation_id(request_id: str) -> str:
    """A booking request and its care invitation are one workflow (V11)."""
    return f"{INVITATION_PREFIX}{request_id}"


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
