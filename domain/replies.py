"""The patient's answer to an SMS reminder (issue 28): what a reply says, as the reminder hears it.

A clinic that sends from a virtual number (the directory's `reply_number`) invites an answer; the
inbound SMS is matched to the reminder it answers (`application.replies`) and reaches the workflow as
a `PatientReply`: the word it was read as, never its text (it may hold patient data). Pure code.
"""

from __future__ import annotations

import re
import unicodedata
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


CANCEL_WORDS = frozenset({"avboka", "avbokar", "avbokning"})
"""First words read as a cancellation request (after case folding and dropping å/ä/ö's marks)."""
STOP_WORDS = frozenset({"stopp", "stop"})
"""First words read as "no more SMS": Swedish `STOPP`, and the international `STOP` people type too."""
NEGATIONS = frozenset({"inte", "ej", "icke", "ingen", "inga", "not"})
"""A word that turns a reply around ("avboka inte"): such a reply is read as OTHER, for a person."""
MAX_READ = 200
"""Characters of a reply that are read (an SMS of several parts is still answered by its start)."""


def _words(text: str) -> list[str]:
    """The reply's words: case folded, marks dropped (å→a, ä→a, ö→o, é→e), split on anything that is
    not a letter (spaces, punctuation, emoji, digits)."""
    folded = unicodedata.normalize("NFKD", text[:MAX_READ].casefold())
    plain = "".join(c for c in folded if not unicodedata.combining(c))
    return re.findall(r"[a-z]+", plain)


def read_reply(text: str) -> ReplyWord:
    """The word a reply is read as (issue 28): its first word decides — `AVBOKA` (also "avboka.",
    "Avboka tack", "AVBOKA!", "Avböka") is CANCEL, `STOPP` or `STOP` is STOP; a reply with a negation
    ("avboka inte"), any other first word, or no word at all is OTHER (a person reads it). Pure."""
    words = _words(text)
    if not words or NEGATIONS.intersection(words):
        return ReplyWord.OTHER
    if words[0] in CANCEL_WORDS:
        return ReplyWord.CANCEL
    if words[0] in STOP_WORDS:
        return ReplyWord.STOP
    return ReplyWord.OTHER
