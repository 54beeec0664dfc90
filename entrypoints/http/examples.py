"""The examples of the OpenAPI document: a body for every operation that takes one and a value for every
path parameter, naming the demo's clinic, receptions, patients, bookings and requests (`demo/data.py`,
`demo/bookings.py`; the doors do not import the demo, `tests/http/test_openapi_contract.py` checks that
these are its values). So "Try it out" on `/docs` works against `python3 dev.py run --demo`, and the
contract test books them on its server. The patients are the demo's fictitious ones; times are made
when the document is, two weeks ahead, so that an example never books a visit in the past.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from entrypoints.http.fhir_mapping import CHANNEL_EXTENSION, HSA_ID, PERSONNUMMER, SMS_EXTENSION

STOCKHOLM = ZoneInfo("Europe/Stockholm")
CLINIC = "kir"
RECEPTION = "kir-allm"
RECEPTION_HSA_ID = "SE2321000016-KIR1"
PATIENT = "19800101-1231"  # the demo's adult who uses 1177 (fictitious)
PATIENT_VAS = "19750515-2343"  # the demo's adult with a consent in VAS
PATIENT_CHILD = "20150610-3454"  # the demo's child: the SMS goes to the guardians (S3)


@dataclass(frozen=True)
class Example:
    """The examples of one operation: named bodies (`summary`, `value`) and path parameter values."""

    bodies: dict[str, tuple[str, Any]] = field(default_factory=dict)
    path: dict[str, str] = field(default_factory=dict)
    query: dict[str, str] = field(default_factory=dict)


def _at(day: date, hour: int, minute: int = 0) -> str:
    return datetime.combine(day, time(hour, minute), STOCKHOLM).isoformat()


def operation_examples(now: datetime | None = None) -> dict[str, Example]:
    """The examples by operation (the route's function name, the document's `operationId`)."""
    today = (now or datetime.now(UTC)).astimezone(STOCKHOLM).date()
    start, later = _at(today + timedelta(days=14), 10), _at(today + timedelta(days=15), 14, 30)
    window = {
        "first_date": (today + timedelta(days=60)).isoformat(),
        "last_date": (today + timedelta(days=90)).isoformat(),
    }
    place = {"clinic_id": CLINIC, "reception_id": RECEPTION}
    visit = {"booking_id": "demo-visit", "patient_id": PATIENT, **place, "start": start}
    team = {"patient_id": PATIENT_CHILD, **place, "start": start, "team_visit_id": "demo-team-visit"}
    group = {
        "group_booking_id": "demo-group",
        **place,
        "start": start,
        "participants": [
            {"booking_id": "demo-group-0", "patient_id": PATIENT},
            {"booking_id": "demo-group-1", "patient_id": PATIENT_VAS},
        ],
    }
    request = {
        "request_id": "demo-request",
        "referral_id": "demo-request-ref",
        "patient_id": PATIENT,
        **place,
        "visit_kind": "new",
        "visit_type": "KIR LÄK nybesök",
        "reason": "Ljumskbråck",
        "window": window,
        "weekdays": ["mon", "wed"],
        "time_of_day": "afternoon",
        "patient_info": {"visit_length": "ca 45 minuter", "tests_before_visit": "Blodprov (Hb)"},
    }
    plain = {k: v for k, v in request.items() if k not in ("referral_id", "weekdays", "time_of_day")}
    cancel = ("cancel", {"reason": "patienten avbokade"})
    move = ("move the visit", {"start": later})
    flag_off = ("SMS off (S10)", {"sms_flag": False})
    return {
        "book_visit": Example(
            bodies={
                "visit": ("a visit booked in VAS", visit),
                "team": ("a HOSP booking of a team visit (S11)", {"booking_id": "demo-team-visit-1", **team}),
                "1177": (
                    "booked by the patient in 1177 (S8: the SMS stays on)",
                    {**visit, "booking_id": "demo-visit-1177", "channel": "1177"},
                ),
            }
        ),
        "visit_status": Example(path={"booking_id": "demo-adult"}),
        "reschedule_visit": Example(bodies={"move": move}, path={"booking_id": "demo-adult"}),
        "visit_sms_flag": Example(bodies={"off": flag_off}, path={"booking_id": "demo-child"}),
        "cancel_visit": Example(bodies={"cancel": cancel}, path={"booking_id": "demo-quick"}),
        "team_visit_status": Example(path={"team_visit_id": "demo-team"}),
        "reschedule_team_visit": Example(bodies={"move": move}, path={"team_visit_id": "demo-team"}),
        "team_booking_sms_flag": Example(
            bodies={"off": flag_off}, path={"team_visit_id": "demo-team", "booking_id": "demo-team-hosp-2"}
        ),
        "cancel_team_booking": Example(
            bodies={"cancel": cancel}, path={"team_visit_id": "demo-team", "booking_id": "demo-team-hosp-3"}
        ),
        "book_group": Example(bodies={"group": ("a group booking (form OW11, S13)", group)}),
        "group_status": Example(path={"group_booking_id": "demo-group"}),
        "reschedule_group": Example(bodies={"move": move}, path={"group_booking_id": "demo-group"}),
        "group_sms_flag": Example(bodies={"off": flag_off}, path={"group_booking_id": "demo-group"}),
        "cancel_group": Example(
            bodies={
                "one": ("one participant cancels", {"booking_id": "demo-group-2", "reason": "sjuk"}),
                "all": ("the whole group", {"reason": "gruppen ställs in"}),
            },
            path={"group_booking_id": "demo-group"},
        ),
        "create_request": Example(
            bodies={
                "invitation": ("a care invitation (V1, V2)", request),
                "plain": (
                    "a plain booking request without a referral (V11)",
                    {**plain, "request_id": "demo-request-plain", "invitation": False},
                ),
            }
        ),
        "request_status": Example(path={"request_id": "demo-far"}),
        "convert_request": Example(
            bodies={
                "convert": (
                    "into an invitation, with the referral (V11)",
                    {"referral_id": "demo-plain-ref", "weekdays": ["tue"], "time_of_day": "morning"},
                )
            },
            path={"request_id": "demo-plain"},
        ),
        "change_request": Example(
            bodies={
                "limits": ("new limits (V10)", {"weekdays": ["mon", "thu"], "time_of_day": "any"}),
                "window": ("a new window (V10)", {"window": window}),
            },
            path={"request_id": "demo-far"},
        ),
        "book_request": Example(
            bodies={
                "staff": (
                    "booked by staff (V8)",
                    {"booking_id": "demo-letter-visit", "start": later, "by": "staff"},
                )
            },
            path={"request_id": "demo-letter"},
        ),
        "record_contact": Example(
            bodies={"called": ("the patient called (V7)", {"note": "ringde och bokar själv"})},
            path={"request_id": "demo-near"},
        ),
        "cancel_request": Example(
            bodies={"cancel": ("cancel (V14)", {"reason": "remissen återkallad"})},
            path={"request_id": "demo-far"},
        ),
        "work_lists": Example(path={"clinic_id": CLINIC}),
        "load_directory": Example(bodies={"clinic": ("one clinic and one patient", directory_example())}),
        "put_appointment": Example(
            bodies={"booked": ("book a visit's reminder", appointment_example("demo-fhir", start, later))},
            path={"appointment_id": "demo-fhir"},
        ),
        "get_appointment": Example(path={"appointment_id": "demo-fhir"}),
        "put_fhir_slot": Example(
            bodies={"free": ("a free time of the demo reception", slot_example("demo-slot", today))},
            path={"slot_id": "demo-slot"},
        ),
        "request_offered_times": Example(path={"request_id": "demo-far"}),
        "search_slots": Example(query={"request": "demo-far"}),
        "search_communications": Example(query={"based-on": "Appointment/demo-adult"}),
        "register_webhook": Example(
            bodies={
                "webhook": (
                    "the booking system's receiver at the clinic",
                    {"clinic_id": CLINIC, "url": "https://booking.example/webhooks/pm"},
                )
            }
        ),
        "remove_webhook": Example(query={"clinic_id": CLINIC}),
        "list_deliveries": Example(query={"clinic_id": CLINIC}),
    }


def appointment_example(booking_id: str, start: str, end: str) -> dict[str, Any]:
    """An R4 Appointment booking the demo adult at the demo reception, by its HSA-id."""
    return {
        "resourceType": "Appointment",
        "id": booking_id,
        "status": "booked",
        "start": start,
        "end": end,
        "participant": [
            {
                "actor": {"identifier": {"system": PERSONNUMMER, "value": PATIENT.replace("-", "")}},
                "status": "accepted",
            },
            {"actor": {"identifier": {"system": HSA_ID, "value": RECEPTION_HSA_ID}}, "status": "accepted"},
        ],
        "extension": [
            {"url": CHANNEL_EXTENSION, "valueCode": "vas"},
            {"url": SMS_EXTENSION, "valueBoolean": True},
        ],
    }


def slot_example(slot_id: str, today: date) -> dict[str, Any]:
    """An R4 Slot of the demo reception that fits the demo request `demo-far` (its window 70–100 days
    ahead, Mondays and Wednesdays, afternoons; visit type `KIR LÄK nybesök`)."""
    day = today + timedelta(days=70)
    day += timedelta(days=-day.weekday() % 7)  # the first Monday in the window
    return {
        "resourceType": "Slot",
        "id": slot_id,
        "schedule": {"identifier": {"system": HSA_ID, "value": RECEPTION_HSA_ID}},
        "serviceType": [{"text": "KIR LÄK nybesök"}],
        "status": "free",
        "start": _at(day, 14),
        "end": _at(day, 14, 45),
    }


def directory_example() -> dict[str, Any]:
    """A directory document (SPEC §5): the demo clinic as the demo has it, and one demo patient (a load
    updates the clinics and patients it names)."""
    return {
        "clinics": [
            {
                "clinic_id": CLINIC,
                "name": "Kirurgkliniken Demo",
                "phone": "040-628 04 00",
                "sms_connected": True,
                "sms_days_before": 1,
                "sms_send_time": "09:00",
                "invitation_send_time": "08:00",
                "receptions": [
                    {
                        "reception_id": RECEPTION,
                        "name": "Allmänkirurgisk mottagning",
                        "sms_enabled": True,
                        "minor_age_limit": 18,
                        "hsa_id": RECEPTION_HSA_ID,
                    },
                    {
                        "reception_id": "kir-obes",
                        "name": "Obesitasmottagningen",
                        "display_name": "Kirurgmottagning 2",
                        "sms_enabled": True,
                        "minor_age_limit": 16,
                    },
                ],
            }
        ],
        "patients": [
            {
                "patient_id": PATIENT,
                "given_name": "Testa",
                "family_name": "Testsson",
                "mobile": "070-1740605",
                "uses_1177": True,
                "postal_address": {"street": "Påhittegatan 1", "postal_code": "222 22", "city": "Lund"},
                "sms_consents": [
                    {"clinic_id": None, "source": "1177", "given_at": "2024-01-10T12:00:00+01:00"}
                ],
            }
        ],
    }
