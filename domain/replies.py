"""The patient's answer to an SMS reminder (issue 28): what a reply says, as the reminder hears it.

A clinic that sends from a virtual number (the directory's `reply_number`) invites an answer; the
inbound SMS is matched to the reminder it answers (`application.replies`) and reaches the workflow as
a `PatientReply`: the word it was read as, never its text (it may hold patient data). Pure code.
"""

from __future__ import annotations

from enum import StrEnum

from pydantic import AwareDatetime, Field

from domain.status import RecipientRole
from domain.types import ContractModel


class ReplyWord(StrEnum):
    CANCEL = "avboka"  # the patient cannot come: a cancellation request (the booking system cancels)
    STOP = "stopp"  # no more SMS reminders from this clinic: the consent is withdrawn (S9, source sms)
    OTHER = "other"  # anything else: one "we could not read your answer", and a staff list entry


class PatientReply(ContractModel):
    """One inbound SMS matched to the reminder it answers (signal `patient_reply` of the reminder)."""

    inbound_id: str = Field(min_length=1, max_length=100, description="the provider's id of the SMS")
    word: ReplyWord
    role: RecipientRole = Field(description="who answered: the patient or a guardian (a minor's booking)")
    version: int = Field(ge=1, description="the visit version of the reminder SMS answered")
    received_at: AwareDatetime
