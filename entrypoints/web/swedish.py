"""The staff page's Swedish: names of states, lists, kinds and reasons, and every refusal as one
Swedish sentence (the update validators' and edge checks' messages, translated; anything not yet
translated keeps its English reason after a Swedish lead, never a traceback)."""

from __future__ import annotations

import re
from datetime import datetime

from starlette.exceptions import HTTPException

import application
from domain.timing import STOCKHOLM
from entrypoints.shared.auth import Forbidden

LISTS = {"vardinbjudan": "Vårdinbjudan", "bokningsbegaran": "Bokningsbegäran", "uppfoljning": "Uppföljning"}

STATES = {
    "request": "Bokningsbegäran",
    "scheduled": "Planerad",
    "invited": "Inbjuden",
    "reminded_1": "Påmind en gång",
    "reminded_2": "Påmind två gånger",
    "booked": "Bokad",
    "contacted": "Patienten har hört av sig",
    "cancelled": "Makulerad",
    "follow_up": "Uppföljning",
    "sent": "Skickad",
    "skipped": "Skickas inte",
    "failed": "Misslyckades",
}

REPLY_WORDS = {"avboka": "AVBOKA (kan inte komma)", "stopp": "STOPP (inga fler SMS)", "other": "Annat"}
REPLY_OUTCOMES = {
    "unmatched": "Ingen påminnelse till numret",
    "ambiguous": "Flera påminnelser till numret",
    "matched": "Kopplat till besöket",
    "late": "Efter besöket",
}

NEXT_ACTIONS = {
    "invitation": "Skicka vårdinbjudan",
    "reminder_1": "Skicka första påminnelsen",
    "reminder_2": "Skicka andra påminnelsen",
    "follow_up": "Flytta till uppföljning",
    "send_sms_reminder": "Skicka SMS-påminnelse",
}

KINDS = {
    "sms_reminder": "SMS-påminnelse",
    "invitation": "Vårdinbjudan",
    "reminder_1": "Påminnelse 1",
    "reminder_2": "Påminnelse 2",
    "invitation_changed": "Ändrad vårdinbjudan",
}
CHANNELS = {"sms": "SMS", "1177": "1177-inkorgen", "letter": "Brev", "digital_mailbox": "Digital brevlåda"}
BOOKED_VIA = {"vas": "VAS", "an27_quick": "snabbokning (AN27)", "1177": "patienten själv i 1177"}
RECIPIENTS = {"patient": "patienten", "guardian_1": "vårdnadshavare 1", "guardian_2": "vårdnadshavare 2"}
DELIVERIES = {"pending": "väntar på kvitto", "delivered": "levererat", "failed": "kom inte fram"}
REASONS = {
    "clinic_not_connected": "kliniken är inte ansluten (S14)",
    "reception_not_enabled": "mottagningen skickar inte SMS (S1)",
    "quick_booking": "snabbokning (S7)",
    "sms_flag_off": "SMS avstängt för bokningen (S10)",
    "minor_reservnummer": "barn med reservnummer (S5)",
    "no_consent": "samtycke saknas (S9)",
    "no_mobile": "mobilnummer saknas (S3)",
    "no_guardian_mobile": "vårdnadshavare saknar mobilnummer (S4)",
    "duplicate_number": "redan skickat till numret (S15)",
    "too_late": "för sent att skicka (S6)",
    "unknown_patient": "patienten finns inte i katalogen",
    "unknown_clinic": "okänd klinik",
    "unknown_reception": "okänd mottagning",
    "invalid_number": "numret är ogiltigt",
    "no_postal_address": "postadress saknas (V5)",
    "provider_refused": "leverantören avvisade meddelandet",
    "provider_unavailable": "leverantören svarade inte i tid",
    "not_1177_user": "patienten använder inte 1177 (V5)",
    "no_mailbox": "ingen digital brevlåda",
    "shielded": "barn eller skyddade personuppgifter",
}
WEEKDAYS = {"mon": "mån", "tue": "tis", "wed": "ons", "thu": "tor", "fri": "fre", "sat": "lör", "sun": "sön"}
TIMES_OF_DAY = {"any": "hela dagen", "morning": "förmiddag", "afternoon": "eftermiddag"}
REPLY_WORDS = {"avboka": "AVBOKA (vill avboka)", "stopp": "STOPP (inga fler SMS)", "other": "oläsligt svar"}


def label(table: dict[str, str], value: object) -> str:
    """The Swedish name of a code; the code itself when it has none yet, `–` for none."""
    if value is None:
        return "–"
    text = getattr(value, "value", value)
    return table.get(str(text), str(text))


def when(moment: datetime | None) -> str:
    """A moment as Stockholm wall-clock time, `2026-12-03 09:00`."""
    return moment.astimezone(STOCKHOLM).strftime("%Y-%m-%d %H:%M") if moment else "–"


def waited(since: datetime | None, now: datetime) -> str:
    """How long a request has waited: `3 dagar`, `5 tim`, `12 min`."""
    if since is None:
        return "–"
    seconds = max(0, int((now - since).total_seconds()))
    if seconds >= 86400:
        days = seconds // 86400
        return f"{days} dag{'ar' * (days != 1)}"
    if seconds >= 3600:
        return f"{seconds // 3600} tim"
    return f"{seconds // 60} min"


_DAYS = "|".join(WEEKDAYS)
TRANSLATIONS: list[tuple[re.Pattern[str], str]] = [
    (
        re.compile(r"the SMS reminder of a booking made in 1177 cannot be turned off \(S8\)"),
        "SMS-påminnelsen för en bokning som patienten gjort i 1177 kan inte stängas av (S8).",
    ),
    (re.compile(r"not possible in state (\w+)"), "Det går inte när ärendet har status {state}."),
    (
        re.compile(r"the visit must be between (\S+) and (\S+) \(V8\)"),
        "Besöket måste ligga mellan {1} och {2} (V8).",
    ),
    (
        re.compile(rf"the visit must be on ((?:{_DAYS})(?:, (?:{_DAYS}))*) \(V8\)"),
        "Besöket måste ligga på {days} (V8).",
    ),
    (re.compile(r"the visit must be in the morning"), "Besöket måste ligga på förmiddagen, före 12:00 (V8)."),
    (
        re.compile(r"the visit must be in the afternoon"),
        "Besöket måste ligga på eftermiddagen, från 12:00 (V8).",
    ),
    (re.compile(r"has already passed"), "Tiden har redan passerat: välj en tid framåt."),
    (
        re.compile(r"the window has already ended \(last_date (\S+) is before today\)"),
        "Tidsramen har redan passerat (sista dag {1}).",
    ),
    (re.compile(r"window first_date is after last_date"), "Första dagen ligger efter sista dagen."),
    (
        re.compile(r"a change needs at least one of window, weekdays and time_of_day"),
        "Ange minst en ändring: tidsram, veckodagar eller tid på dagen (V10).",
    ),
    (
        re.compile(r"weekdays must name at least one day"),
        "Välj minst en veckodag, eller ingen för alla dagar.",
    ),
    (re.compile(r"the visit is cancelled"), "Besöket är redan avbokat."),
    (re.compile(r"the patient has not replied"), "Patienten har inte svarat på påminnelsen."),
    (
        re.compile(r"must not be a personnummer"),
        "Ett id får inte vara ett personnummer eller samordningsnummer.",
    ),
    (
        re.compile(r"must be a system id|String should match pattern"),
        "Ett id består av högst 64 bokstäver, siffror, '.', '_' eller '-'.",
    ),
    (re.compile(r"a time must be between the years"), "Ange en tid mellan åren 1900 och 2200."),
    (re.compile(r"has ended: nothing to change"), "Ärendet är redan avslutat: inget ändrades."),
    (re.compile(r"^no workflow"), "Ärendet finns inte."),
    (
        re.compile(r"the page link does not belong to this list"),
        "Länken till sidan hör inte till den här listan eller inloggningen: "
        "börja om från listans första sida.",
    ),
    (re.compile(r"unknown clinic"), "Kliniken finns inte."),
    (re.compile(r"(\w+): Input should be a valid date"), "Ange ett giltigt datum ({1})."),
    (re.compile(r"(\w+): Input should be a valid time"), "Ange en giltig tid ({1})."),
    (re.compile(r"(\w+): Field required"), "Fyll i fältet {1}."),
    (re.compile(r"should have at most (\d+) characters"), "Texten får vara högst {1} tecken."),
    (re.compile(r"time_of_day: Input should be"), "Välj tid på dagen i listan."),
    (re.compile(r"weekdays\.\d+: Input should be"), "Välj veckodagar i listan."),
]
PAGES = {404: "Sidan finns inte.", 405: "Det går inte att göra så här på sidan."}


def translate(message: str) -> str | None:
    """The Swedish sentence of a known English message, or None."""
    for pattern, swedish in TRANSLATIONS:
        found = pattern.search(message)
        if found:
            groups = found.groups()
            state = label(STATES, groups[0]) if "{state}" in swedish else ""
            days = ", ".join(WEEKDAYS[d] for d in groups[0].split(", ")) if "{days}" in swedish else ""
            return swedish.format(None, *groups, state=state, days=days)
    return None


def refusal(err: Exception, detail: str) -> str:
    """The one Swedish sentence a staff member sees for a refused page or action (`detail`: the
    API's one-line message of the same refusal)."""
    if isinstance(err, Forbidden):
        return "Du har inte behörighet till den här kliniken. Inget ändrades."
    if isinstance(err, HTTPException) and err.status_code in PAGES:
        return PAGES[err.status_code]
    message = detail.removeprefix("invalid input: ")
    known = translate(message)
    if known:
        return known
    if isinstance(err, application.RejectedError):
        return f"Ändringen avböjdes: {message}"
    return f"Uppgiften kunde inte tas emot: {message}"
