"""The SMS reminder text (S16) and GSM 03.38 length arithmetic.

The text is short Swedish in one 160-character GSM-7 segment: it names the reception (its display
name, chosen by the caller), the date and the time in Stockholm local time, and nothing else about
the visit. A guardian's text names the child by given name only, never by personnummer.
Weekday and month names are hard-coded so the result does not depend on the host's locale.
"""

from __future__ import annotations

import unicodedata
from datetime import datetime

from domain.timing import to_local

GSM7_BASIC = frozenset(
    "@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞ\x1bÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?"
    "¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà"
)
"""GSM 03.38 default alphabet (128 characters, including ESC, which `is_gsm7` does not accept alone)."""

GSM7_EXTENSION = frozenset("\x0c^{}\\[~]|€")
"""GSM 03.38 extension table: each character costs two septets (ESC + character)."""

SINGLE_SEGMENT = 160
MAX_TEXT = SINGLE_SEGMENT

_WEEKDAYS = ("mån", "tis", "ons", "tor", "fre", "lör", "sön")
_MONTHS = ("jan", "feb", "mar", "apr", "maj", "jun", "jul", "aug", "sep", "okt", "nov", "dec")

_TRAILERS = (
    " Vid förhinder, avboka i 1177 eller ring mottagningen. Svara inte på detta SMS.",
    " Vid förhinder, avboka i 1177 eller ring mottagningen.",
    " Avboka i 1177 vid förhinder.",
    "",
)
"""Fixed endings, longest first: a long name shortens the ending before the name is cut."""

_REPLY_TRAILERS = (
    " Svara AVBOKA om du inte kan komma, STOPP om du inte vill ha fler SMS.",
    " Svara AVBOKA om du inte kan komma.",
    " Svara AVBOKA vid förhinder.",
)
"""Issue 28: the endings of a clinic that takes replies (it sends from its virtual number), longest
first; the last is never dropped: a long name is cut instead (the words are the reply's point)."""

_REPLACEMENTS = {
    "\u2018": "'",
    "\u2019": "'",
    "\u201a": "'",
    "\u201c": '"',
    "\u201d": '"',
    "\u201e": '"',
    "\u2013": "-",
    "\u2014": "-",
    "\u2026": "...",
    "\u00a0": " ",
    "Ł": "L",
    "ł": "l",
    "Đ": "D",
    "đ": "d",
    "ð": "d",
    "ı": "i",
    "Œ": "OE",
    "œ": "oe",
}


def is_gsm7(text: str) -> bool:
    """True when every character is in the GSM 03.38 basic set or its extension table."""
    return all((c in GSM7_BASIC and c != "\x1b") or c in GSM7_EXTENSION for c in text)


def _septets(c: str) -> int:
    return 2 if c in GSM7_EXTENSION else 1


def gsm7_length(text: str) -> int:
    """Length in septets: extension-table characters count 2. Raises ValueError if not GSM-7."""
    if not is_gsm7(text):
        raise ValueError("text contains characters outside the GSM-7 alphabet")
    return sum(_septets(c) for c in text)


def _split_count(costs: list[int], single: int, multi: int) -> int:
    if sum(costs) <= single:
        return 1
    segments, used = 1, 0
    for cost in costs:  # an escape pair or a surrogate pair is never split across segments
        if used + cost > multi:
            segments, used = segments + 1, 0
        used += cost
    return segments


def sms_segments(text: str) -> int:
    """Number of SMS segments: GSM-7 160 septets (153 per part when concatenated), else UCS-2 70 (67)."""
    if is_gsm7(text):
        return _split_count([_septets(c) for c in text], 160, 153)
    return _split_count([2 if ord(c) > 0xFFFF else 1 for c in text], 70, 67)


def to_gsm7(text: str) -> str:
    """Transliterate to GSM-7: typographic quotes and dashes become plain ones, accents not in the
    alphabet are dropped (ł stays out, á becomes a), other characters are removed; whitespace is
    collapsed to single spaces."""
    out: list[str] = []
    for c in text:
        c = _REPLACEMENTS.get(c, c)
        if is_gsm7(c) and c not in "\n\r\x0c":
            out.append(c)
            continue
        if c.isspace():
            out.append(" ")
            continue
        base = "".join(b for b in unicodedata.normalize("NFKD", c) if not unicodedata.combining(b))
        out.append("".join(b for b in base if is_gsm7(b) and b not in "\n\r\x0c"))
    return " ".join("".join(out).split())


def _when(visit_start: datetime) -> str:
    local = to_local(visit_start)  # through UTC: also right for a zoneinfo time in a DST gap
    return f"{_WEEKDAYS[local.weekday()]} {local.day} {_MONTHS[local.month - 1]} kl {local:%H:%M}"


def _compose(reception: str, when: str, child: str | None, trailer: str) -> str:
    lead = f"Påminnelse: {child} har en tid hos" if child else "Påminnelse: tid hos"
    return f"{lead} {reception} {when}.{trailer}"


def _cut(name: str, keep: int) -> str:
    """Cut `name` to `keep` characters ending in "." (GSM-7; "…" is not)."""
    if len(name) <= keep:
        return name
    return name[: max(keep - 1, 0)].rstrip(" .,-") + "."


def reminder_text(
    reception_name: str,
    visit_start: datetime,
    child_given_name: str | None = None,
    *,
    replies: bool = False,
) -> str:
    """S16: the Swedish reminder, GSM-7 and at most 160 septets.

    `reception_name` should be `Reception.sms_name` (the display name when one is set). For a
    guardian, `child_given_name` names the child; no personnummer or other health information is
    included. Too long names first shorten the fixed ending, then the names are cut with ".".
    `replies` (issue 28, a clinic with a reply number): the ending invites the answer `AVBOKA`
    (and `STOPP` when there is room); the shortest such ending is always kept.
    """
    trailers = _REPLY_TRAILERS if replies else _TRAILERS
    last = trailers[-1]
    when = _when(visit_start)
    reception = to_gsm7(reception_name) or "mottagningen"
    child = to_gsm7(child_given_name) if child_given_name else None
    if child_given_name is not None and not child:
        child = "ditt barn"
    for trailer in trailers:
        text = _compose(reception, when, child, trailer)
        if gsm7_length(text) <= MAX_TEXT:
            return text
    # Even with the shortest ending the names are too long: cut the child's name to 20 characters,
    # then the reception's name to what is left.
    if child is not None:
        child = _cut(child, 20)
    overflow = gsm7_length(_compose(reception, when, child, last)) - MAX_TEXT
    if overflow > 0:
        reception = _cut(reception, max(gsm7_length(reception) - overflow, 1))
    text = _compose(reception, when, child, last)
    # Extension characters count twice: trim further until it fits.
    while gsm7_length(text) > MAX_TEXT and len(reception) > 1:
        reception = _cut(reception, len(reception) - 1)
        text = _compose(reception, when, child, last)
    return text


_NOTICE_TRAILER = " Svara inte på detta SMS."


def notice_text(reception_name: str) -> str:
    """Issue 27, S16: the SMS notice that a message from the reception waits in the 1177 inbox, GSM-7
    in one segment; it says nothing else (no visit, no patient). A long name drops the ending, then
    is cut with "."."""
    reception = to_gsm7(reception_name) or "mottagningen"

    def compose(name: str, trailer: str) -> str:
        return (
            f"Du har ett nytt meddelande från {name} i 1177. Logga in på 1177.se för att läsa det.{trailer}"
        )

    for trailer in (_NOTICE_TRAILER, ""):
        if gsm7_length(text := compose(reception, trailer)) <= MAX_TEXT:
            return text
    while gsm7_length(text := compose(reception, "")) > MAX_TEXT and len(reception) > 1:
        reception = _cut(reception, len(reception) - 1)
    return text
