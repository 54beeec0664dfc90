"""The SMS that answer a patient's reply to a reminder (issue 28): pure functions, Swedish, GSM-7 in
one segment (S16), naming the reception by its SMS name and nothing about the visit but its time.

`CANCEL` confirms the cancellation request (the clinic cancels the booking), `STOP` confirms that no
more reminders come from the clinic, `OTHER` says the answer could not be read and which words work.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

from domain.replies import ReplyWord
from domain.sms_text import MAX_TEXT, gsm7_length, to_gsm7
from domain.timing import to_local

_WEEKDAYS = ("mån", "tis", "ons", "tor", "fre", "lör", "sön")
_MONTHS = ("jan", "feb", "mar", "apr", "maj", "jun", "jul", "aug", "sep", "okt", "nov", "dec")


def _when(visit_start: datetime) -> str:
    local = to_local(visit_start)
    return f"{_WEEKDAYS[local.weekday()]} {local.day} {_MONTHS[local.month - 1]} kl {local:%H:%M}"


def _fit(compose: Callable[[str], str], reception_name: str) -> str:
    """`compose(name)` with the reception's name in GSM-7, cut until it fits one segment."""
    name = to_gsm7(reception_name) or "mottagningen"
    while gsm7_length(text := compose(name)) > MAX_TEXT and len(name) > 1:
        name = name[:-1].rstrip(" .,-")
    return text


def cancel_confirmation(reception_name: str, visit_start: datetime) -> str:
    """AVBOKA: the request is received; the booking is the clinic's to cancel."""
    when = _when(visit_start)
    return _fit(
        lambda name: (
            f"Tack! Vi har fått din avbokning av tiden hos {name} {when}. Mottagningen tar bort tiden."
        ),
        reception_name,
    )


def stop_confirmation(reception_name: str) -> str:
    """STOPP: no more SMS reminders from this clinic."""
    return _fit(
        lambda name: (
            f"Du får inte fler SMS-påminnelser från {name}. Vill du ha dem igen, kontakta mottagningen."
        ),
        reception_name,
    )


def unreadable_reply(reception_name: str) -> str:
    """Anything else: the answer could not be read, and the words that work."""
    return _fit(
        lambda name: (
            f"Vi kunde inte läsa ditt svar till {name}. Svara AVBOKA om du inte kan komma "
            "eller STOPP för inga fler SMS-påminnelser."
        ),
        reception_name,
    )


def reply_text(word: ReplyWord, reception_name: str, visit_start: datetime) -> str:
    """The answer to a reply of `word`."""
    if word is ReplyWord.CANCEL:
        return cancel_confirmation(reception_name, visit_start)
    if word is ReplyWord.STOP:
        return stop_confirmation(reception_name)
    return unreadable_reply(reception_name)
