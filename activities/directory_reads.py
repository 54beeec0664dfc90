"""The directory reads of both workflows (S6, S9, V3), run as local activities.

Read when the moment comes, not only at booking: S9 (withdrawn consent, a removed number) is decided
at send time.
"""

from __future__ import annotations

from temporalio import activity

from activities.send_moment import read_send_moment
from adapters.directory import Directory
from contracts.activities import DirectoryReads, PlannedRecipient, PlannedSkip, RecipientPlan, VisitRef
from domain.directory import Clinic
from domain.phone import mask_mobile


class DirectoryActivities(DirectoryReads):
    """The reads, bound to the directory they use (tests swap the directory)."""

    def __init__(self, directory: Directory) -> None:
        self._directory = directory

    @activity.defn
    def load_clinic(self, clinic_id: str) -> Clinic | None:
        """Clinic settings for the send moment (S6); None for an unknown clinic."""
        return self._directory.clinic(clinic_id)

    @activity.defn
    def plan_recipients(self, visit: VisitRef) -> RecipientPlan:
        """Decide at send time who gets the reminder (S1–S5, S7, S9–S11, S13, S14)."""
        moment = read_send_moment(self._directory, visit)
        if moment.blocker is not None:
            return RecipientPlan(blocker=moment.blocker)
        decision = moment.decision
        return RecipientPlan(
            recipients=[PlannedRecipient(role=r.role, to=mask_mobile(r.mobile)) for r in decision.recipients],
            skipped=[PlannedSkip(role=s.role, reason=s.reason) for s in decision.skipped],
        )
