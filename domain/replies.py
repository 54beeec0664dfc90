"""The patient's answer to an SMS reminder (issue 28): what a reply says, as the reminder hears it.

A clinic that sends from a virtual number (the directory's `reply_number`) invites an answer; the
inbound SMS is matched to the reminder it answers (`application.replies`) and reaches the workflow as
a `PatientReply`: the word it was read as, never its text (it may hold patient data). Pure code.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Sequence
from datetime import datetime, timedelta
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


# --- matching a reply to the reminder it answers ----------------------------------------------------

CLEARLY_APART = timedelta(hours=1)
"""Two reminders' latest SMS to one number from one virtual number are "clearly ordered" only this far
apart: closer (a guardian's two children reminded at the clinic's send time), a reply could answer
either, and it goes to the staff, never to a guess."""
LOOK_BACK = timedelta(days=30)
"""How old an SMS a reply may still answer; an older one matches nothing (staff list)."""


class MatchOutcome(StrEnum):
    MATCHED = "matched"  # the reminder is told (signal `patient_reply`)
    LATE = "late"  # matched, but the visit had started: the reminder is told and only logs it
    UNMATCHED = "unmatched"  # no SMS of ours to that number from that virtual number: staff list
    AMBIGUOUS = "ambiguous"  # two reminders' latest SMS not clearly ordered: staff list


class SentReminderSms(ContractModel):
    """One reminder SMS sent from a clinic's virtual number (system ids and times only)."""

    workflow_id: str
    version: int = Field(ge=1)
    role: RecipientRole
    clinic_id: str
    sent_at: AwareDatetime
    visit_start: AwareDatetime


class ReplyMatch(ContractModel):
    outcome: MatchOutcome
    sms: SentReminderSms | None = None  # the SMS answered (matched or late)


def match_reply(sent: Sequence[SentReminderSms], received_at: datetime) -> ReplyMatch:
    """The reminder a reply received at `received_at` answers, among the SMS sent to its number from
    its virtual number (issue 28): the reminder whose SMS went most recently, when the next reminder's
    latest SMS is at least `CLEARLY_APART` older; none (or only older than `LOOK_BACK`, or later than
    the reply) is UNMATCHED, two close ones AMBIGUOUS. A reply after the visit started is LATE. Pure."""
    latest: dict[str, SentReminderSms] = {}
    for sms in sent:
        if not received_at - LOOK_BACK <= sms.sent_at <= received_at:
            continue
        if sms.workflow_id not in latest or _order(sms) > _order(latest[sms.workflow_id]):
            latest[sms.workflow_id] = sms
    ranked = sorted(latest.values(), key=_order, reverse=True)
    if not ranked:
        return ReplyMatch(outcome=MatchOutcome.UNMATCHED)
    if len(ranked) > 1 and ranked[0].sent_at - ranked[1].sent_at < CLEARLY_APART:
        return ReplyMatch(outcome=MatchOutcome.AMBIGUOUS)
    answered = ranked[0]
    late = received_at >= answered.visit_start
    return ReplyMatch(outcome=MatchOutcome.LATE if late else MatchOutcome.MATCHED, sms=answered)


def _order(sms: SentReminderSms) -> tuple[datetime, int]:
    return (sms.sent_at, sms.version)
