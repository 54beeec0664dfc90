"""What the directory says about a visit at its send moment (S9): read by the recipients' plan and by
the sendout of a reminder alike."""

from __future__ import annotations

from dataclasses import dataclass, field

from adapters.directory import Directory
from contracts.activities import VisitRef
from domain.directory import Patient, Reception
from domain.recipients import RecipientDecision, booking_blocker, reminder_recipients
from domain.status import Reason


@dataclass(frozen=True)
class SendMoment:
    """Why nobody may get the reminder (`blocker`), or the reception, the patient and who gets it."""

    blocker: Reason | None = None
    reception: Reception | None = None
    patient: Patient | None = None
    decision: RecipientDecision = field(default_factory=lambda: RecipientDecision(recipients=[], skipped=[]))
    reply_number: str | None = None  # issue 28: the clinic's virtual number, when it takes replies


def read_send_moment(directory: Directory, visit: VisitRef) -> SendMoment:
    """Read the clinic and the patient now and decide (S1–S5, S7, S9–S11, S13, S14)."""
    clinic = directory.clinic(visit.clinic_id)
    blocker = booking_blocker(clinic, visit.reception_id, visit.bookings)
    reception = clinic.reception(visit.reception_id) if clinic else None
    if blocker is not None or reception is None:
        return SendMoment(blocker=blocker or Reason.UNKNOWN_CLINIC)
    patient = directory.patient(visit.patient_id)
    decision = reminder_recipients(patient, visit.clinic_id, reception, visit.start, visit.at)
    reply_number = clinic.reply_number if clinic else None
    return SendMoment(reception=reception, patient=patient, decision=decision, reply_number=reply_number)
