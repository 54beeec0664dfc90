"""Who gets an SMS reminder, and why someone does not (S1–S5, S7, S9–S11, S13–S15).

Pure functions over directory data: the workflow calls them with data an activity just read, at the
moment the reminder is sent (S9: consent and numbers are checked then, not only at booking).
"""

from __future__ import annotations

from datetime import datetime

from domain.booking import Channel
from domain.directory import Clinic, Patient, Reception
from domain.identity import age_on, parse_patient_id
from domain.status import BookingView, Reason, RecipientRole
from domain.timing import local_date
from domain.types import ContractModel


class Recipient(ContractModel):
    """One SMS to send: the role it goes to and the E.164 mobile number."""

    role: RecipientRole
    mobile: str


class Skip(ContractModel):
    """One SMS that is not sent, with the rule's reason code."""

    role: RecipientRole
    reason: Reason


class RecipientDecision(ContractModel):
    """The recipients of one reminder, in the order patient, guardian 1, guardian 2, and the skips."""

    recipients: list[Recipient]
    skipped: list[Skip]


def booking_blocker(clinic: Clinic | None, reception_id: str, bookings: list[BookingView]) -> Reason | None:
    """The first reason why no SMS may go out for this visit at all, or None.

    Checked in order: unknown clinic; clinic not connected (S14); unknown reception; reception not
    enabled (S1); then the bookings that are not cancelled. At least one of them must have its SMS flag
    on and not be an AN27 quick booking: a team visit (S11) sends when any HOSP booking still has its
    flag on; a group participant (S13) carries the group's flag. If none qualifies, the reason is
    `QUICK_BOOKING` (S7) when every active booking is a quick booking, else `SMS_FLAG_OFF` (S10).
    """
    if clinic is None:
        return Reason.UNKNOWN_CLINIC
    if not clinic.sms_connected:
        return Reason.CLINIC_NOT_CONNECTED
    reception = clinic.reception(reception_id)
    if reception is None:
        return Reason.UNKNOWN_RECEPTION
    if not reception.sms_enabled:
        return Reason.RECEPTION_NOT_ENABLED
    active = [b for b in bookings if not b.cancelled]
    if any(b.sms_flag and b.channel != Channel.AN27_QUICK for b in active):
        return None
    if active and all(b.channel == Channel.AN27_QUICK for b in active):
        return Reason.QUICK_BOOKING
    return Reason.SMS_FLAG_OFF


def is_minor(patient: Patient, reception: Reception, visit_start: datetime) -> bool:
    """S2: younger than the reception's age limit on the visit's Stockholm local date."""
    birth = parse_patient_id(patient.patient_id).birth_date
    return age_on(birth, local_date(visit_start)) < reception.minor_age_limit


def has_consent(patient: Patient, clinic_id: str, at: datetime) -> bool:
    """S9: a consent from VAS for this clinic, or from 1177, in force at `at`; a "STOPP" answered by
    SMS to this clinic (source `sms`, issue 28) stops every consent for it given before the answer,
    a VAS or a 1177 one alike (the 1177 consent still holds for other clinics); a consent given
    after it counts again."""
    stops = [s for c in patient.sms_consents if (s := c.stops(clinic_id, at)) is not None]
    last_stop = max(stops, default=None)
    return any(
        c.covers(clinic_id, at) and (last_stop is None or c.given_at > last_stop)
        for c in patient.sms_consents
    )


def _guardian_candidates(patient: Patient) -> list[Recipient]:
    roles = {1: RecipientRole.GUARDIAN_1, 2: RecipientRole.GUARDIAN_2}
    found = []
    for rank in (1, 2):
        guardian = patient.guardian(rank)
        if guardian is not None and guardian.mobile:
            found.append(Recipient(role=roles[rank], mobile=guardian.mobile))
    return found


def _dedupe(candidates: list[Recipient]) -> RecipientDecision:
    """S15: one SMS per number; the first role in order patient, guardian 1, guardian 2 keeps it."""
    recipients: list[Recipient] = []
    skipped: list[Skip] = []
    seen: set[str] = set()
    for candidate in candidates:
        if candidate.mobile in seen:
            skipped.append(Skip(role=candidate.role, reason=Reason.DUPLICATE_NUMBER))
        else:
            seen.add(candidate.mobile)
            recipients.append(candidate)
    return RecipientDecision(recipients=recipients, skipped=skipped)


def reminder_recipients(
    patient: Patient | None, clinic_id: str, reception: Reception, visit_start: datetime, at: datetime
) -> RecipientDecision:
    """Who gets the reminder of one patient's visit, decided at the moment `at` it is sent.

    - Unknown patient: skipped (`UNKNOWN_PATIENT`).
    - Minor (S2) with a reservnummer: nobody (S5, `MINOR_RESERVNUMMER`); an adult with one is reminded.
    - No consent in force at `at` for this clinic (S9): nobody. The patient role and each guardian
      role with a mobile number (for a minor) are skipped with `NO_CONSENT`.
    - Adult (S3): the patient's own mobile, else skipped `NO_MOBILE`.
    - Minor (S4): guardian 1 and/or guardian 2 with a mobile, and the minor too if they have one;
      `NO_GUARDIAN_MOBILE` is recorded (for guardian 1) whenever no guardian has a mobile.
    - Same number twice (S15): the later role is skipped with `DUPLICATE_NUMBER`.
    """
    if patient is None:
        return RecipientDecision(
            recipients=[], skipped=[Skip(role=RecipientRole.PATIENT, reason=Reason.UNKNOWN_PATIENT)]
        )
    minor = is_minor(patient, reception, visit_start)
    if minor and parse_patient_id(patient.patient_id).is_reservnummer:
        return RecipientDecision(
            recipients=[], skipped=[Skip(role=RecipientRole.PATIENT, reason=Reason.MINOR_RESERVNUMMER)]
        )

    own = [Recipient(role=RecipientRole.PATIENT, mobile=patient.mobile)] if patient.mobile else []
    guardians = _guardian_candidates(patient) if minor else []

    if not has_consent(patient, clinic_id, at):
        roles = [RecipientRole.PATIENT] + [g.role for g in guardians]
        return RecipientDecision(
            recipients=[], skipped=[Skip(role=role, reason=Reason.NO_CONSENT) for role in roles]
        )

    if not minor:
        if not own:
            return RecipientDecision(
                recipients=[], skipped=[Skip(role=RecipientRole.PATIENT, reason=Reason.NO_MOBILE)]
            )
        return RecipientDecision(recipients=own, skipped=[])

    decision = _dedupe(own + guardians)
    if not guardians:
        decision.skipped.insert(0, Skip(role=RecipientRole.GUARDIAN_1, reason=Reason.NO_GUARDIAN_MOBILE))
    return decision
