"""FHIR R4 on a real uvicorn server: an `Appointment` PUT books, moves (S15), flags (S8, S10) and
cancels (S15) a visit's reminder; GET returns what was stored; the reminder's messages are
`Communication`s; every refusal is an `OperationOutcome` without the patient's number, and changes
nothing. Also the store of accepted Appointments on both backends, and the directory's HSA-id lookup."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
import pytest_asyncio
from fhir.resources.R4B.appointment import Appointment
from fhir.resources.R4B.bundle import Bundle
from fhir.resources.R4B.operationoutcome import OperationOutcome

from adapters.fhir_appointments import FhirAppointments
from contracts.workflow_ids import booking_reminder_id
from demo import data as fx
from entrypoints.http.fhir_mapping import (
    CHANNEL_EXTENSION,
    HSA_ID,
    PERSONNUMMER,
    SAMORDNINGSNUMMER,
    SMS_EXTENSION,
)
from infrastructure.config import Settings
from infrastructure.stores import Stores
from testkit.postgres import PostgresServer
from tests.harness import eventually
from tests.http.conftest import Api

HSA_GENERAL = "SE2321000016-KIR1"
KIR_F1 = booking_reminder_id(fx.CLINIC_CONNECTED, "F1")
HSA_HIDDEN = "SE2321000016-KIR2"
HSA_ONH = "SE2321000016-ONH1"
HSA_UNKNOWN = "SE2321000016-NONE"
HSA_PRACTITIONER = "SE2321000016-P042"  # a person's HSA-id: not a reception
HSA_IDS = {
    fx.RECEPTION_GENERAL: HSA_GENERAL,
    fx.RECEPTION_HIDDEN: HSA_HIDDEN,
    fx.RECEPTION_NOT_CONNECTED: HSA_ONH,
}
SAMORDNINGSNUMMER_ADULT = fx.luhn_pnr("19800161", "123")  # day + 60
FHIR_JSON = "application/fhir+json"


def digits(patient_id: str) -> str:
    return patient_id.replace("-", "")


def directory_with_hsa_ids() -> dict[str, Any]:
    """The demo directory, its receptions with HSA-ids, and an adult with a samordningsnummer."""
    document = fx.demo_document()
    for clinic in document["clinics"]:
        for reception in clinic["receptions"]:
            reception["hsa_id"] = HSA_IDS.get(reception["reception_id"])  # none: not named by FHIR here
    adult = next(p for p in document["patients"] if p["patient_id"] == fx.PNR_ADULT_1177)
    document["patients"].append(
        {
            **adult,
            "patient_id": SAMORDNINGSNUMMER_ADULT,
            "mobile": fx.MOBILE_ADULT_VAS,
            "given_name": "Samuel",
        }
    )
    return document


def appointment(
    appointment_id: str,
    start: datetime | str | None,
    *,
    status: str = "booked",
    patient: str = digits(fx.PNR_ADULT_1177),
    system: str = PERSONNUMMER,
    hsa_id: str = HSA_GENERAL,
    channel: str | None = None,
    sms: bool | None = None,
    **extra: Any,
) -> dict[str, Any]:
    """An R4 Appointment as a booking system sends it: patient, reception (HSA-id), practitioner."""
    extensions = []
    if channel is not None:
        extensions.append({"url": CHANNEL_EXTENSION, "valueCode": channel})
    if sms is not None:
        extensions.append({"url": SMS_EXTENSION, "valueBoolean": sms})
    resource: dict[str, Any] = {
        "resourceType": "Appointment",
        "id": appointment_id,
        **({"extension": extensions} if extensions else {}),
        "status": status,
        "participant": [
            {
                "actor": {"type": "Patient", "identifier": {"system": system, "value": patient}},
                "status": "accepted",
            },
            {
                "actor": {"type": "HealthcareService", "identifier": {"system": HSA_ID, "value": hsa_id}},
                "status": "accepted",
            },
            {
                "actor": {
                    "type": "Practitioner",
                    "identifier": {"system": HSA_ID, "value": HSA_PRACTITIONER},
                },
                "status": "accepted",
            },
        ],
        **extra,
    }
    if start is not None:
        text = start if isinstance(start, str) else start.isoformat()
        resource["start"] = text
        if isinstance(start, datetime):
            resource["end"] = (start + timedelta(minutes=30)).isoformat()
    return resource


async def put(api: Api, resource: Any, appointment_id: str | None = None, **kw: Any) -> httpx.Response:
    appointment_id = appointment_id or resource["id"]
    headers = {**api.auth(kw.pop("token", None)), "content-type": kw.pop("content_type", FHIR_JSON)}
    return await api.http.put(f"/fhir/Appointment/{appointment_id}", json=resource, headers=headers, **kw)


def outcome(response: httpx.Response, status: int, code: str) -> str:
    """The answer is an R4 OperationOutcome with one error issue of `code`: its diagnostics."""
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == FHIR_JSON
    parsed = OperationOutcome.model_validate(response.json())
    issue = parsed.issue[0]
    assert (issue.severity, issue.code) == ("error", code), response.text
    assert issue.diagnostics and "\n" not in issue.diagnostics
    return issue.diagnostics


async def visit(api: Api, booking_id: str) -> dict[str, Any]:
    return (await api.get(f"/v1/visits/{booking_id}")).json()


@pytest_asyncio.fixture
async def fhir(api: Api) -> Api:
    """The API with the demo directory loaded over `PUT /v1/directory`, its receptions with HSA-ids."""
    loaded = await api.put("/v1/directory", directory_with_hsa_ids(), token=api.all_token)
    assert loaded.status_code == 200, loaded.text
    return api


# --- booking, moving, cancelling -------------------------------------------------------------------


async def test_S15_put_books_then_the_same_again_then_a_new_start_reschedules_then_cancelled_cancels(
    fhir: Api,
) -> None:
    api = fhir
    start = await api.harness.local(days=5, hour=10)
    booked = await put(api, appointment("F1", start))
    assert booked.status_code == 201, booked.text
    assert booked.headers["content-type"] == FHIR_JSON
    assert (
        booked.headers["etag"] == 'W/"1"' and booked.headers["location"] == "/fhir/Appointment/F1/_history/1"
    )
    body = Appointment.model_validate(booked.json())
    assert body.id == "F1" and body.meta.versionId == "1" and body.meta.lastUpdated is not None
    status = await visit(api, "F1")
    assert status["state"] == "scheduled" and status["clinic_id"] == fx.CLINIC_CONNECTED
    assert status["reception_id"] == fx.RECEPTION_GENERAL
    assert status["bookings"] == [
        {"booking_id": "F1", "channel": "vas", "sms_flag": True, "cancelled": False}
    ]

    again = await put(api, appointment("F1", start))
    assert again.status_code == 200 and again.json()["meta"]["versionId"] == "2"
    assert (await visit(api, "F1"))["visit_version"] == 1  # the same start: nothing changed

    moved = await put(api, appointment("F1", start + timedelta(days=1)))
    assert moved.status_code == 200, moved.text
    status = await visit(api, "F1")
    assert status["visit_version"] == 2
    assert datetime.fromisoformat(status["start"]) == start + timedelta(days=1)
    assert status["next_action"]["at"] == (await api.harness.local(days=5, hour=9)).isoformat()

    cancelled = await put(api, appointment("F1", start + timedelta(days=1), status="cancelled"))
    assert cancelled.status_code == 200, cancelled.text

    async def state() -> str:
        return (await visit(api, "F1"))["state"]

    assert await eventually(state, lambda s: s == "cancelled") == "cancelled"
    assert (await put(api, appointment("F1", None, status="cancelled"))).status_code == 200  # idempotent
    rebooked = await put(api, appointment("F1", start + timedelta(days=1)))
    assert "cancelled" in outcome(rebooked, 409, "conflict")

    stored = await api.get("/fhir/Appointment/F1")
    assert stored.status_code == 200 and stored.headers["content-type"] == FHIR_JSON
    assert stored.headers["etag"] == 'W/"5"'
    resource = Appointment.model_validate(stored.json())
    assert resource.status == "cancelled" and resource.meta.versionId == "5"
    assert resource.participant[0].actor.identifier.value == digits(fx.PNR_ADULT_1177)  # as sent
    records = [r for r in api.stores.audit.records(workflow_id=KIR_F1) if r.action.startswith("fhir.")]
    assert [(r.action, r.outcome) for r in records] == [
        *[("fhir.appointment.put", "ok")] * 5,
        ("fhir.appointment.put", "refused:409"),
        ("fhir.appointment.get", "ok"),
    ]
    assert records[0].clinic_id == fx.CLINIC_CONNECTED
    assert digits(fx.PNR_ADULT_1177) not in str(records)


async def test_noshow_and_entered_in_error_cancel_too(fhir: Api) -> None:
    start = await fhir.harness.local(days=4, hour=10)
    for n, status in enumerate(("noshow", "entered-in-error")):
        booking_id = f"F2-{n}"
        assert (await put(fhir, appointment(booking_id, start))).status_code == 201
        assert (await put(fhir, appointment(booking_id, start, status=status))).status_code == 200

        async def state(booking_id: str = booking_id) -> str:
            return (await visit(fhir, booking_id))["state"]

        assert await eventually(state, lambda s: s == "cancelled") == "cancelled"


async def test_S8_a_1177_booking_keeps_its_sms_flag_and_S10_the_extension_sets_a_vas_flag(fhir: Api) -> None:
    start = await fhir.harness.local(days=4, hour=10)
    assert (await put(fhir, appointment("F3", start, channel="1177"))).status_code == 201
    assert (await visit(fhir, "F3"))["bookings"][0]["channel"] == "1177"
    refused = await put(fhir, appointment("F3", start, channel="1177", sms=False))
    assert "(S8)" in outcome(refused, 422, "invalid")
    assert (await visit(fhir, "F3"))["bookings"][0]["sms_flag"] is True
    new_1177_off = await put(fhir, appointment("F3b", start, channel="1177", sms=False))
    assert "(S8)" in outcome(new_1177_off, 422, "invalid")
    assert (await fhir.get("/v1/visits/F3b")).status_code == 404
    other_channel = await put(fhir, appointment("F3", start, channel="vas"))
    assert "channel" in outcome(other_channel, 409, "conflict")

    assert (await put(fhir, appointment("F4", start, channel="an27_quick", sms=False))).status_code == 201
    assert (await visit(fhir, "F4"))["bookings"][0] == {
        "booking_id": "F4",
        "channel": "an27_quick",
        "sms_flag": False,
        "cancelled": False,
    }
    turned_on = await put(fhir, appointment("F4", start, channel="an27_quick", sms=True))
    assert turned_on.status_code == 200
    assert (await visit(fhir, "F4"))["bookings"][0]["sms_flag"] is True
    bad_code = await put(fhir, appointment("F5", start, channel="sms"))
    assert CHANNEL_EXTENSION in outcome(bad_code, 422, "invalid")


async def test_a_samordningsnummer_is_accepted_and_must_match_its_system(fhir: Api) -> None:
    start = await fhir.harness.local(days=3, hour=10)
    samordning = digits(SAMORDNINGSNUMMER_ADULT)
    booked = await put(fhir, appointment("F6", start, patient=samordning, system=SAMORDNINGSNUMMER))
    assert booked.status_code == 201, booked.text
    assert (await visit(fhir, "F6"))["patient"] == "19800161-****"
    mismatched = await put(fhir, appointment("F7", start, patient=samordning, system=PERSONNUMMER))
    assert "samordningsnummer" in outcome(mismatched, 422, "invalid") and samordning not in mismatched.text
    dashed = await put(fhir, appointment("F7", start, patient=fx.PNR_ADULT_1177))
    assert "12 digits" in outcome(dashed, 422, "invalid") and fx.PNR_ADULT_1177 not in dashed.text
    other_patient = await put(fhir, appointment("F6", start, patient=digits(fx.PNR_ADULT_VAS)))
    assert "another patient" in outcome(other_patient, 409, "conflict")
    assert (await fhir.get("/v1/visits/F7")).status_code == 404


# --- refusals --------------------------------------------------------------------------------------


async def test_unknown_hsa_id_wrong_id_and_unsupported_status_are_422_and_start_nothing(fhir: Api) -> None:
    start = await fhir.harness.local(days=3, hour=10)
    unknown = await put(fhir, appointment("F8", start, hsa_id=HSA_UNKNOWN))
    assert HSA_UNKNOWN in outcome(unknown, 422, "invalid")
    wrong_id = await put(fhir, appointment("F9", start), appointment_id="F8")
    assert "id of the URL" in outcome(wrong_id, 422, "invalid")
    for status in ("proposed", "pending", "arrived", "fulfilled", "checked-in", "waitlist"):
        refused = await put(fhir, appointment("F8", start, status=status))
        diagnostics = outcome(refused, 422, "invalid")
        assert f"'{status}' is not supported" in diagnostics and "booked" in diagnostics
    made_up = await put(fhir, appointment("F8", start, status=digits(fx.PNR_ADULT_1177)))
    assert "AppointmentStatus" in outcome(made_up, 422, "invalid")
    no_patient = appointment("F8", start)
    no_patient["participant"] = no_patient["participant"][1:]
    assert "patient" in outcome(await put(fhir, no_patient), 422, "invalid")
    only_practitioner = appointment("F8", start)
    del only_practitioner["participant"][1]
    assert "HSA-id" in outcome(await put(fhir, only_practitioner), 422, "invalid")
    two_places = appointment("F8", start)
    two_places["participant"][2]["actor"] = {
        "type": "Location",
        "identifier": {"system": HSA_ID, "value": HSA_ONH},
    }
    assert "more than one reception" in outcome(await put(fhir, two_places), 422, "invalid")
    passed = await put(fhir, appointment("F8", start - timedelta(days=30)))
    assert "passed" in outcome(passed, 422, "invalid")
    modifier = appointment(
        "F8", start, modifierExtension=[{"url": f"{CHANNEL_EXTENSION}-x", "valueCode": "a"}]
    )
    assert "modifierExtension" in outcome(await put(fhir, modifier), 422, "invalid")
    as_text = await put(fhir, appointment("F8", start), content_type="text/plain")
    assert "application/fhir+json" in outcome(as_text, 415, "not-supported")
    never_booked = await put(fhir, appointment("F8", start, status="cancelled"))
    assert "F8" in outcome(never_booked, 404, "not-found")
    assert (await fhir.get("/v1/visits/F8")).status_code == 404
    assert "F8" in outcome(await fhir.get("/fhir/Appointment/F8"), 404, "not-found")
    assert (await put(fhir, appointment("F8", start), content_type="application/json")).status_code == 201
    records = fhir.stores.audit.records(workflow_id=booking_reminder_id(fx.CLINIC_CONNECTED, "F8"))
    outcomes = [r.outcome for r in records if r.action == "fhir.appointment.put"]
    assert outcomes[:2] == ["refused:422", "refused:422"] and outcomes[-1] == "ok"
    assert "refused:415" in outcomes and "refused:404" in outcomes


async def test_another_clinics_token_is_403_for_our_receptions_and_our_ids_are_unknown_to_it(
    fhir: Api,
) -> None:
    """Another clinic may not book at our receptions (403); our Appointment ids answer it as ids
    nobody issued (404), and the same id at its own reception is its own, independent visit."""
    start = await fhir.harness.local(days=3, hour=10)
    refused = await put(fhir, appointment("F10", start), token=fhir.other_token)
    assert "may not act for clinic 'kir'" in outcome(refused, 403, "forbidden")
    assert (await fhir.get("/v1/visits/F10")).status_code == 404
    assert (await fhir.get("/fhir/Appointment/F10")).status_code == 404
    based_on = "/fhir/Communication?based-on=Appointment/F10"
    before = [
        (await fhir.get(path, token=fhir.other_token)).json() for path in ("/fhir/Appointment/F10", based_on)
    ]
    assert (await put(fhir, appointment("F10", start))).status_code == 201
    outcome(
        await put(fhir, appointment("F10", start, status="cancelled"), token=fhir.other_token),
        403,
        "forbidden",
    )
    cancel_own = appointment("F10", start, status="cancelled", hsa_id=HSA_ONH)  # names its own reception
    assert "F10" in outcome(await put(fhir, cancel_own, token=fhir.other_token), 404, "not-found")
    after = [
        (await fhir.get(path, token=fhir.other_token)).json() for path in ("/fhir/Appointment/F10", based_on)
    ]
    assert after == before and "not-found" in str(after)
    status = await visit(fhir, "F10")
    assert status["state"] == "scheduled" and status["visit_version"] == 1
    assert (await fhir.get("/fhir/Appointment/F10")).json()["meta"]["versionId"] == "1"
    own = await put(
        fhir, appointment("F10", start + timedelta(days=1), hsa_id=HSA_ONH), token=fhir.other_token
    )
    assert own.status_code == 201, own.text  # onh's F10: its own reminder, ours unchanged
    assert (await fhir.get("/v1/visits/F10", token=fhir.other_token)).json()[
        "clinic_id"
    ] == fx.CLINIC_NOT_CONNECTED
    assert (await visit(fhir, "F10"))["visit_version"] == 1
    assert (await fhir.get("/fhir/Appointment/F10")).json()["meta"]["versionId"] == "1"


async def test_no_token_or_a_bad_one_is_a_401_operation_outcome(fhir: Api) -> None:
    start = await fhir.harness.local(days=3, hour=10)
    for headers in ({}, {"Authorization": "Bearer pmk_wrong"}):
        refused = await fhir.http.put(
            "/fhir/Appointment/F11",
            json=appointment("F11", start),
            headers={**headers, "content-type": FHIR_JSON},
        )
        outcome(refused, 401, "security")
        assert refused.headers["www-authenticate"] == "Bearer"
        outcome(await fhir.http.get("/fhir/Appointment/F11", headers=headers), 401, "security")
    assert (await fhir.get("/v1/visits/F11")).status_code == 404


async def test_an_invalid_resource_is_422_without_the_personnummer(fhir: Api) -> None:
    start = await fhir.harness.local(days=3, hour=10)
    pnr = digits(fx.PNR_ADULT_1177)
    bad_check_digit = pnr[:-1] + str((int(pnr[-1]) + 1) % 10)
    unknown_key = appointment("F12", start)
    unknown_key[pnr] = True
    cases: list[tuple[Any, str]] = [
        (appointment("F12", "not a date"), "start"),
        (appointment("F12", "2027-03-29T10:00:00"), "start"),  # no offset
        (appointment("F12", start, comment=pnr, colour="red"), "colour"),
        (unknown_key, "(unknown element)"),
        (appointment("F12", start, patient=bad_check_digit), "check digit"),
        (appointment("F12", start, patient=pnr, minutesDuration=pnr), "minutesDuration"),
        ({**appointment("F12", start), "resourceType": "Patient"}, "Appointment"),
        ([pnr], "Appointment"),
        ({k: v for k, v in appointment("F12", start).items() if k != "id"}, "needs an id"),
    ]
    for body, expected in cases:
        refused = await put(fhir, body, appointment_id="F12")
        diagnostics = outcome(refused, 422, "invalid")
        assert expected in diagnostics, (expected, diagnostics)
        for secret in (pnr, bad_check_digit, fx.PNR_ADULT_1177):
            assert secret not in refused.text
    garbled = await fhir.http.put(
        "/fhir/Appointment/F12",
        content=b'{"id": "' + pnr.encode(),
        headers={**fhir.auth(), "content-type": FHIR_JSON},
    )
    assert "invalid JSON" in outcome(garbled, 422, "invalid") and pnr not in garbled.text
    not_a_system_id = await fhir.get("/fhir/Appointment/bad%20id")
    assert "id" in outcome(not_a_system_id, 422, "invalid")
    huge = await fhir.http.put(
        "/fhir/Appointment/F12", content=b" " * 300_000, headers={**fhir.auth(), "content-type": FHIR_JSON}
    )
    outcome(huge, 413, "too-costly")
    outcome(await fhir.get("/fhir/Patient/F12"), 404, "not-found")
    assert (await fhir.get("/v1/visits/F12")).status_code == 404
    assert (await fhir.get("/v1/visits/bad%20id")).headers["content-type"] == "application/problem+json"


# --- the reminder's messages -----------------------------------------------------------------------


async def test_S6_the_reminder_sms_is_a_communication_based_on_the_appointment(fhir: Api) -> None:
    harness = fhir.harness
    start = await harness.local(days=3, hour=10)
    assert (await put(fhir, appointment("F13", start))).status_code == 201
    based_on = "/fhir/Communication?based-on=Appointment/F13"
    empty = await fhir.get(based_on)
    assert empty.status_code == 200 and empty.headers["content-type"] == FHIR_JSON
    assert Bundle.model_validate(empty.json()).total == 0
    expected = await harness.local(days=2, hour=9)
    await eventually(lambda: visit(fhir, "F13"), lambda s: s.get("next_action") is not None)
    await harness.sleep_until(expected + timedelta(minutes=1))
    await eventually(lambda: visit(fhir, "F13"), lambda s: s["state"] == "sent")
    found = await fhir.get(based_on)
    bundle = Bundle.model_validate(found.json())
    assert bundle.type == "searchset" and bundle.total == 1
    communication = found.json()["entry"][0]["resource"]
    via_loopback = await fhir.http.get(based_on, headers=fhir.auth() | {"Host": "localhost"})
    for answer in (found, via_loopback):  # PM_PUBLIC_URL, never the request's Host
        assert answer.json()["entry"][0]["fullUrl"] == f"{fhir.url}/fhir/Communication/{communication['id']}"
    assert communication["resourceType"] == "Communication" and communication["status"] == "completed"
    assert communication["basedOn"] == [{"reference": "Appointment/F13"}]
    assert communication["medium"][0]["coding"][0]["code"] == "sms"
    assert datetime.fromisoformat(communication["sent"]) >= expected
    assert fx.e164(fx.MOBILE_ADULT_1177) not in found.text and digits(fx.PNR_ADULT_1177) not in found.text
    assert communication["recipient"][0]["display"].startswith("patient ")
    outcome(await fhir.get("/fhir/Communication?based-on=Appointment/nope"), 404, "not-found")
    outcome(await fhir.get("/fhir/Communication?based-on=Patient/F13"), 422, "invalid")


async def test_openapi_lists_the_fhir_routes(fhir: Api) -> None:
    spec = (await fhir.http.get("/openapi.json")).json()
    assert {"/fhir/Appointment/{appointment_id}", "/fhir/Communication"} <= set(spec["paths"])


# --- the store and the directory lookup, on both backends ------------------------------------------


@pytest.fixture(params=["sqlite", "postgres"])
def stores(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Stores]:
    url = None
    if request.param == "postgres":
        server: PostgresServer = request.getfixturevalue("postgres_server")
        template: str = request.getfixturevalue("migrated_template")
        name = f"fhir_{uuid.uuid4().hex}"
        url = server.create_database(name, template=template)
        request.addfinalizer(lambda: server.drop_database(name))
    opened = Stores(Settings(data_dir=tmp_path / "data", database_url=url, local=True))  # a local keyring
    try:
        yield opened
    finally:
        opened.close()


def test_the_store_keeps_the_last_accepted_version_of_each_appointment(stores: Stores) -> None:
    store: FhirAppointments = stores.fhir_appointments
    assert store.get("F1") is None
    first = store.save("F1", "kir", {"resourceType": "Appointment", "id": "F1", "status": "booked"})
    assert first.version == 1 and first.resource["meta"]["versionId"] == "1"
    resource = {"resourceType": "Appointment", "id": "F1", "meta": {"versionId": "9", "profile": ["p"]}}
    second = store.save("F1", "kir", {**resource, "status": "cancelled"})
    assert second.version == 2
    found = store.get("F1")
    assert found is not None and found.clinic_id == "kir" and found.version == 2
    assert found.resource["status"] == "cancelled"
    assert found.resource["meta"] == {
        "versionId": "2",
        "profile": ["p"],
        "lastUpdated": second.resource["meta"]["lastUpdated"],
    }
    assert list(found.resource)[:3] == ["resourceType", "id", "meta"]
    assert store.save("F2", "onh", {"resourceType": "Appointment", "id": "F2"}).version == 1


def test_the_directory_finds_a_reception_by_its_hsa_id(stores: Stores) -> None:
    directory = stores.directory
    directory.load_document(directory_with_hsa_ids())
    [(clinic, reception)] = directory.receptions_by_hsa_id(HSA_HIDDEN)
    assert (clinic.clinic_id, reception.reception_id) == (fx.CLINIC_CONNECTED, fx.RECEPTION_HIDDEN)
    assert directory.receptions_by_hsa_id(HSA_UNKNOWN) == []
    assert directory.receptions_by_hsa_id("SE2321000016-KIR") == []  # a prefix is not the id
    assert directory.receptions_by_hsa_id("%") == []
