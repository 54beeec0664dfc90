"""Workflow ids of the integration contract (SPEC §5): system ids only, never patient data."""

from __future__ import annotations

from domain.booking import VisitBooking

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
