"""Swedish texts of the care invitation and its reminders (V2, V3, V5, V6).

One text for the 1177 inbox (the patient books there) and one for a letter by post (the patient is
asked to call the clinic, V5). Both carry what the booking request says (V2): visit type, reason,
window, weekday and time-of-day limits and the optional texts for the patient. They name the
reception by `Reception.sms_name` (a display name can hide a sensitive speciality) and never
contain the patient id. Month and weekday names are hard-coded: no dependence on the host locale.
The inbox message ends with the sign-off; a letter's body does not, as the letter adapter signs it
with the sender's name (one sign-off per letter).
"""

from __future__ import annotations

from datetime import date

from domain.directory import Clinic, Reception
from domain.invitation import CareInvitation, DateWindow, TimeOfDay, VisitKind, Weekday
from domain.invitation_schedule import Step
from domain.types import ContractModel

_MONTHS = (
    "januari",
    "februari",
    "mars",
    "april",
    "maj",
    "juni",
    "juli",
    "augusti",
    "september",
    "oktober",
    "november",
    "december",
)

_WEEKDAY_PLURALS = {
    Weekday.MON: "måndagar",
    Weekday.TUE: "tisdagar",
    Weekday.WED: "onsdagar",
    Weekday.THU: "torsdagar",
    Weekday.FRI: "fredagar",
    Weekday.SAT: "lördagar",
    Weekday.SUN: "söndagar",
}

_TIME_OF_DAY = {
    TimeOfDay.MORNING: "på förmiddagen (före kl. 12)",
    TimeOfDay.AFTERNOON: "på eftermiddagen (från kl. 12)",
}

_ALREADY_BOOKED = "Har du redan bokat en tid eller kontaktat oss kan du bortse från det här meddelandet."

SIGN_OFF = "Med vänliga hälsningar"
"""The closing greeting: the inbox message ends with it, a letter's sender block starts with it."""

_VISIT_KIND = {VisitKind.NEW: "nybesök", VisitKind.FOLLOW_UP: "återbesök"}


class InvitationMessage(ContractModel):
    """A message to the patient: a 1177 inbox message or a letter."""

    subject: str
    body: str


def swedish_date(day: date, *, with_year: bool = True) -> str:
    """`1 mars 2027` (or `1 mars` without the year)."""
    text = f"{day.day} {_MONTHS[day.month - 1]}"
    return f"{text} {day.year}" if with_year else text


def window_text(window: DateWindow) -> str:
    """`mellan 1 mars och 30 april 2027`; the first year is shown only when the years differ."""
    first, last = window.first_date, window.last_date
    if first == last:
        return f"den {swedish_date(first)}"
    return f"mellan {swedish_date(first, with_year=first.year != last.year)} och {swedish_date(last)}"


def _join(words: list[str]) -> str:
    """`a`, `a och b`, `a, b och c`."""
    return words[0] if len(words) == 1 else f"{', '.join(words[:-1])} och {words[-1]}"


def limits_text(request: CareInvitation) -> str | None:
    """The weekday and time-of-day limits (V2) as a sentence, or None when there are none."""
    parts: list[str] = []
    if request.weekdays:
        parts.append("på " + _join([_WEEKDAY_PLURALS[d] for d in request.weekdays]))
    if request.time_of_day in _TIME_OF_DAY:
        parts.append(_TIME_OF_DAY[request.time_of_day])
    return f"Besöket kan bokas {', '.join(parts)}." if parts else None


def subject(step: Step, reception: Reception, *, changed: bool = False) -> str:
    """`Dags att boka besök – <reception>`; reminders start with `Påminnelse: ` (V6), the invitation
    again after a change of the request with `Ändrat: ` (V10)."""
    base = f"Dags att boka besök – {reception.sms_name}"
    if changed:
        return f"Ändrat: {base}"
    if step is Step.INVITATION:
        return base
    if step in (Step.REMINDER_1, Step.REMINDER_2):
        return f"Påminnelse: {base}"
    raise ValueError("follow_up sends no message to the patient (V13)")


def _opening(step: Step, request: CareInvitation, reception: Reception, changed: bool) -> str:
    kind = _VISIT_KIND[request.visit_kind]
    if changed:
        return (
            f"Vi har ändrat när ditt {kind} hos {reception.sms_name} kan bokas. "
            "Här är de nya uppgifterna; de ersätter dem i vårt tidigare meddelande."
        )
    if step is Step.INVITATION:
        return f"Det är dags för dig att boka ett {kind} hos {reception.sms_name}."
    return (
        f"Vi vill påminna dig om att boka ditt {kind} hos {reception.sms_name}. "
        "Vi har ännu inte fått någon bokning från dig."
    )


def _details(request: CareInvitation) -> list[str]:
    lines = [
        f"Besökstyp: {request.visit_type}",
        f"Orsak till besöket: {request.reason}",
        f"Besöket ska ske {window_text(request.window)}.",
    ]
    if (limits := limits_text(request)) is not None:
        lines.append(limits)
    info = request.patient_info
    if info is not None:
        if info.visit_length:
            lines.append(f"Besökets längd: {info.visit_length}")
        if info.visit_details:
            lines.append(f"Information om besöket: {info.visit_details}")
        if info.tests_before_visit:
            lines.append(f"Provtagning inför besöket: {info.tests_before_visit}")
    return lines


def _paragraphs(
    step: Step,
    request: CareInvitation,
    reception: Reception,
    greeting: str,
    how_to_book: list[str],
    changed: bool,
) -> list[str]:
    paragraphs = [
        greeting,
        _opening(step, request, reception, changed),
        "\n".join(_details(request)),
        " ".join(how_to_book),
    ]
    if step is not Step.INVITATION:
        paragraphs.append(_ALREADY_BOOKED)
    return paragraphs


def _call_us(clinic: Clinic) -> str:
    return f"ring oss på {clinic.phone}" if clinic.phone else "kontakta mottagningen"


def inbox_message(
    step: Step, request: CareInvitation, clinic: Clinic, reception: Reception, *, changed: bool = False
) -> InvitationMessage:
    """V3/V6: the message in the patient's 1177 inbox; the patient books a time there (V2 limits).
    `changed`: the invitation again with the changed request (V10)."""
    how = [
        "Boka din tid här i 1177 under Bokade tider. Där visas de lediga tider som passar ditt besök.",
        f"Hittar du ingen tid som passar, {_call_us(clinic)}.",
    ]
    paragraphs = _paragraphs(step, request, reception, "Hej!", how, changed)
    paragraphs.append(f"{SIGN_OFF}\n{reception.sms_name}")
    return InvitationMessage(subject=subject(step, reception, changed=changed), body="\n\n".join(paragraphs))


def letter_message(
    step: Step,
    request: CareInvitation,
    clinic: Clinic,
    reception: Reception,
    patient_name: str,
    *,
    changed: bool = False,
) -> InvitationMessage:
    """V5: the same content as a letter by post, asking the patient to call the clinic to book.

    The body ends before the sign-off: the letter renders it with its sender (`adapters/letters.py`).
    """
    if clinic.phone:
        how = [f"Ring oss på {clinic.phone} för att boka din tid."]
    else:
        how = ["Kontakta mottagningen för att boka din tid."]
    name = patient_name.strip()
    paragraphs = _paragraphs(step, request, reception, f"Hej {name}!" if name else "Hej!", how, changed)
    return InvitationMessage(subject=subject(step, reception, changed=changed), body="\n\n".join(paragraphs))


def mailbox_message(
    step: Step,
    request: CareInvitation,
    clinic: Clinic,
    reception: Reception,
    patient_name: str,
    *,
    changed: bool = False,
) -> InvitationMessage:
    """Issue 27: the letter's text in the patient's digital mailbox, signed as the inbox message is
    (no letter template signs it)."""
    letter = letter_message(step, request, clinic, reception, patient_name, changed=changed)
    return letter.model_copy(update={"body": f"{letter.body}\n\n{SIGN_OFF}\n{reception.sms_name}"})
