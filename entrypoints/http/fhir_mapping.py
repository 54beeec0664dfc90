"""FHIR R4 `Appointment` ↔ the visit booking of the reminders (`domain.booking.VisitBooking`), and the
reminder's messages as FHIR `Communication` resources.

The body is validated with `fhir.resources.R4B.appointment.Appointment` (R4B is wire-compatible with R4
for Appointment), then mapped:

- `id`: the booking id (a system id; it must equal the id of the URL).
- `status`: `booked` books, or reschedules when `start` changed; `cancelled`, `noshow` and
  `entered-in-error` cancel (the status is the reason); every other status is refused (422).
- `start`: the visit's start, with a UTC offset (a FHIR `instant` has one).
- The patient: the participant whose `actor.identifier` has the system
  `http://electronichealth.se/identifier/personnummer` or `…/samordningsnummer` and 12 digits
  (HL7 Sweden base profiles). Exactly one.
- The reception: the participant whose `actor.identifier` is an HSA-id (system
  `urn:oid:1.2.752.29.4.19`) of a reception in the directory (`Reception.hsa_id`), which also names the
  clinic. HSA-ids of other participants (a practitioner, `actor.type` `Practitioner` or
  `PractitionerRole`) are not looked up; the HSA-ids looked up must name exactly one reception.
- Channel and SMS flag: two extensions on the Appointment, under one URL base (`EXTENSION_BASE`):
  `…/StructureDefinition/booking-channel` (`valueCode` `vas` | `an27_quick` | `1177`, default `vas`) and
  `…/StructureDefinition/sms-reminder` (`valueBoolean`, default true; S8: not false for `1177`).
  Other extensions are kept as sent and ignored; a `modifierExtension` is refused (FHIR: a receiver
  must not ignore one it does not know). The flag is JSON `true` or `false`: `fhir.resources` would
  read `0`, `1` or `"false"` as a boolean, so the body's own value is checked (422 naming the element).
- An unknown element of the Appointment is refused by `fhir.resources` (422 naming it, when its name
  is a FHIR name).

Messages name fields and rules, never a value of the body (it holds a personnummer): pydantic's
errors are described without their input, and element names that are no FHIR names are not repeated.
"""

from __future__ import annotations

import json
import re
from typing import Any, Protocol

from fhir.resources.R4B.appointment import Appointment
from fhir.resources.R4B.reference import Reference
from pydantic import ValidationError

from application import InputError
from application.fhir_appointments import (
    CANCELLING,
    PATIENT_SYSTEMS,
    PERSONNUMMER,
    SAMORDNINGSNUMMER,
    AppointmentPut,
)
from domain.booking import Channel
from domain.directory import HSA_ID_PATTERN, Clinic, Reception
from domain.identity import InvalidPatientId, parse_patient_id
from domain.status import MessageRecord, Outcome

BASE = "https://patient-messaging.example/fhir"
"""The one URL base of this service's FHIR definitions (extensions and code systems)."""
EXTENSION_BASE = f"{BASE}/StructureDefinition/"
CHANNEL_EXTENSION = f"{EXTENSION_BASE}booking-channel"
SMS_EXTENSION = f"{EXTENSION_BASE}sms-reminder"
MESSAGE_CODES = f"{BASE}/CodeSystem/"
"""Code systems of the Communications: `message-kind`, `message-channel`, `message-reason`."""

HSA_ID = "urn:oid:1.2.752.29.4.19"
NOT_A_RECEPTION = {"Practitioner", "PractitionerRole", "Patient", "RelatedPerson", "Device"}

BOOKED = "booked"
UNSUPPORTED = ("proposed", "pending", "arrived", "fulfilled", "checked-in", "waitlist")
SUPPORTED_TEXT = "booked (book or reschedule), or cancelled, noshow or entered-in-error (cancel)"

_ELEMENT = re.compile(r"^_?[A-Za-z][A-Za-z0-9]{0,63}$")


class ReceptionLookup(Protocol):
    def receptions_by_hsa_id(self, hsa_id: str) -> list[tuple[Clinic, Reception]]: ...


def json_body(body: bytes) -> Any:
    """A FHIR door's body as JSON; 422 with the parser's reason and place, never the content."""
    try:
        return json.loads(body)
    except json.JSONDecodeError as err:
        raise InputError(f"invalid JSON at line {err.lineno}, column {err.colno}: {err.msg}") from None
    except UnicodeDecodeError as err:
        raise InputError(f"the body is not UTF-8 text (byte offset {err.start})") from None
    except (RecursionError, ValueError):  # nested too deep, or a number of thousands of digits
        raise InputError("the body is JSON nested too deep or with too large a number") from None


def parse_appointment(body: bytes, appointment_id: str) -> Appointment:
    """The body as a validated R4 Appointment whose id is the URL's (422 otherwise)."""
    data = json_body(body)
    if not isinstance(data, dict) or data.get("resourceType") != "Appointment":
        raise InputError("the body must be a FHIR Appointment resource (resourceType 'Appointment')")
    try:
        appointment = Appointment.model_validate(data)
    except ValidationError as err:
        raise InputError(f"invalid Appointment: {describe_fhir_error(err)}") from None
    _check_sms_flag_is_boolean(data)
    for element in ("start", "end"):  # FHIR's JSON: an instant is a string (the model reads numbers too)
        if data.get(element) is not None and not isinstance(data[element], str):
            raise InputError(f"invalid Appointment: {element}: an instant is a JSON string")
    if appointment.id is None:
        raise InputError("the Appointment needs an id, the id of the URL")
    if appointment.id != appointment_id:
        raise InputError("the Appointment's id must equal the id of the URL")
    return appointment


def _check_sms_flag_is_boolean(data: dict[str, Any]) -> None:
    """An extension's `valueBoolean` as sent is JSON true or false (strict edge, and FHIR's JSON
    format): the model reads `0`, `1`, `"false"` or `"no"` as booleans. The sms-reminder extension's
    is the flag; another extension's is kept as sent, so it must be a boolean too."""
    extensions = data.get("extension")
    for n, extension in enumerate(extensions if isinstance(extensions, list) else []):
        if not isinstance(extension, dict):
            continue
        value = extension.get("valueBoolean")
        if value is not None and not isinstance(value, bool):
            which = f" (extension {SMS_EXTENSION})" if extension.get("url") == SMS_EXTENSION else ""
            raise InputError(
                f"invalid Appointment: extension.{n}.valueBoolean: Input should be a valid boolean, JSON "
                f"true or false{which}"
            )


def describe_fhir_error(err: ValidationError) -> str:
    """fhir.resources' errors as `element: reason`, without the input; an element name that is no
    FHIR name (an unknown key may be anything, a personnummer too) is not repeated."""
    problems = []
    for e in err.errors(include_url=False, include_input=False, include_context=False):
        where = ".".join(
            str(p) if isinstance(p, int) or _ELEMENT.match(str(p)) else "(unknown element)" for p in e["loc"]
        )
        message = " ".join(str(e["msg"]).removeprefix("Value error, ").split())
        problems.append(f"{where}: {message}" if where else message)
    return "; ".join(problems)


def map_appointment(appointment: Appointment, directory: ReceptionLookup) -> AppointmentPut:
    """The booking an accepted Appointment names (422 for anything this service cannot map)."""
    status = str(appointment.status)
    if status in UNSUPPORTED:
        raise InputError(f"Appointment status '{status}' is not supported: send {SUPPORTED_TEXT}")
    if status != BOOKED and status not in CANCELLING:
        raise InputError(f"Appointment status is not an R4 AppointmentStatus code: send {SUPPORTED_TEXT}")
    if appointment.modifierExtension:
        raise InputError("modifierExtension is not supported")
    start = appointment.start
    if status == BOOKED and start is None:
        raise InputError("a booked Appointment needs its start")
    channel, sms_flag = _channel_and_flag(appointment)
    clinic, reception = _reception(appointment, directory)
    return AppointmentPut(
        resource=json.loads(appointment.model_dump_json()),
        status=status,
        patient_id=_patient_id(appointment),
        clinic_id=clinic.clinic_id,
        reception_id=reception.reception_id,
        start=start,
        channel=channel,
        sms_flag=sms_flag,
    )


def _actors(appointment: Appointment) -> list[Reference]:
    return [p.actor for p in appointment.participant or [] if p.actor is not None]


def _patient_id(appointment: Appointment) -> str:
    found = [
        (PATIENT_SYSTEMS[a.identifier.system], a.identifier.value)
        for a in _actors(appointment)
        if a.identifier is not None and a.identifier.system in PATIENT_SYSTEMS
    ]
    if len(found) != 1:
        raise InputError(
            "the Appointment needs one participant whose actor.identifier is the patient's, with system "
            f"{PERSONNUMMER} or {SAMORDNINGSNUMMER}" + (f" (found {len(found)})" if found else "")
        )
    kind, value = found[0]
    if value is None or re.fullmatch(r"[0-9]{12}", value) is None:
        raise InputError(f"the patient's identifier value must be 12 digits without separator ({kind})")
    try:
        parsed = parse_patient_id(value)
    except InvalidPatientId as err:
        raise InputError(str(err)) from None
    if parsed.kind is not kind:
        raise InputError(f"the patient's identifier has the system of a {kind} but is a {parsed.kind}")
    return parsed.value


def _reception(appointment: Appointment, directory: ReceptionLookup) -> tuple[Clinic, Reception]:
    hsa_ids = [
        a.identifier.value
        for a in _actors(appointment)
        if a.identifier is not None
        and a.identifier.system == HSA_ID
        and a.identifier.value
        and a.type not in NOT_A_RECEPTION
    ]
    if not hsa_ids:
        raise InputError(
            "the Appointment needs a participant whose actor.identifier is the reception's HSA-id "
            f"(system {HSA_ID})"
        )
    found: dict[tuple[str, str], tuple[Clinic, Reception]] = {}
    for hsa_id in hsa_ids:
        for clinic, reception in directory.receptions_by_hsa_id(hsa_id):
            found[(clinic.clinic_id, reception.reception_id)] = (clinic, reception)
    if not found:
        named = [h for h in hsa_ids if re.fullmatch(HSA_ID_PATTERN, h)]
        if not named:
            raise InputError("the reception's identifier is not an HSA-id (SE<organisation number>-<id>)")
        raise InputError(f"no reception in the directory has the HSA-id {', '.join(sorted(set(named)))}")
    if len(found) > 1:
        places = ", ".join(f"{c}/{r}" for c, r in sorted(found))
        raise InputError(f"the Appointment's HSA-ids name more than one reception ({places})")
    return next(iter(found.values()))


def _channel_and_flag(appointment: Appointment) -> tuple[Channel, bool]:
    channels = [e for e in appointment.extension or [] if e.url == CHANNEL_EXTENSION]
    flags = [e for e in appointment.extension or [] if e.url == SMS_EXTENSION]
    if len(channels) > 1 or len(flags) > 1:
        raise InputError("the booking-channel and sms-reminder extensions may appear once each")
    channel = Channel.VAS
    if channels:
        code = channels[0].valueCode
        if code not in {c.value for c in Channel}:
            raise InputError(
                f"extension {CHANNEL_EXTENSION} needs valueCode {', '.join(c.value for c in Channel)}"
            )
        channel = Channel(code)
    sms_flag = True
    if flags:
        if flags[0].valueBoolean is None:
            raise InputError(f"extension {SMS_EXTENSION} needs valueBoolean")
        sms_flag = bool(flags[0].valueBoolean)
    return channel, sms_flag


# --- the reminder's messages as Communications ---------------------------------------------------


def communications(booking_id: str, messages: list[MessageRecord]) -> list[dict[str, Any]]:
    """One `Communication` per message decision of the reminder (sent: `completed`; skipped or failed:
    `not-done` with the reason), based on `Appointment/<booking id>`; numbers stay masked."""
    resources = []
    for n, message in enumerate(messages, start=1):
        resource: dict[str, Any] = {
            "resourceType": "Communication",
            "basedOn": [{"reference": f"Appointment/{booking_id}"}],
            "status": "completed" if message.outcome is Outcome.SENT else "not-done",
            "category": [_concept("message-kind", message.kind.value)],
            "medium": [_concept("message-channel", message.channel.value)],
            "recipient": [{"display": " ".join(filter(None, [message.recipient.value, message.to]))}],
        }
        if len(communication_id := f"{booking_id}.{n}") <= 64:
            resource = {"resourceType": "Communication", "id": communication_id, **resource}
        if message.reason is not None:
            resource["statusReason"] = _concept("message-reason", message.reason.value)
        if message.outcome is Outcome.SENT:
            resource["sent"] = message.at.isoformat()
        else:
            resource["extension"] = [
                {"url": f"{EXTENSION_BASE}decided-at", "valueDateTime": message.at.isoformat()}
            ]
        resources.append(resource)
    return resources


def _concept(system: str, code: str) -> dict[str, Any]:
    return {"coding": [{"system": f"{MESSAGE_CODES}{system}", "code": code}]}
