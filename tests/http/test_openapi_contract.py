"""The OpenAPI document is the contract (`entrypoints/http/openapi.py`): schemathesis, through its Python
API (the engine its command line runs), tests every operation of `/openapi.json` against a real
uvicorn server on 127.0.0.1 with a worker and the Temporal CLI dev server (the work lists read its
visibility, which the time-skipping server lacks), and every check of schemathesis 4.32 must pass:
not_a_server_error, status_code_conformance, content_type_conformance, response_schema_conformance,
response_headers_conformance, positive_data_acceptance, negative_data_rejection, use_after_free,
ensure_resource_availability, missing_required_header, ignored_auth, object_level_authorization,
unsupported_method, allow_header_conformance. One finds nothing to do here: object_level_authorization
replays one identity's reads as its peers, and schemathesis knows peers only from a login operation
(dynamic auth); the callers of this API hold static bearer keys, so the check is on but has no peer.
Another clinic's ids being unknown (404) is tested with two clinics' keys in `test_tenancy.py`.

Its four phases run, bounded (`MAX_EXAMPLES` per operation, one seed, deterministic generation, no
example database): the examples of the document, the coverage of each keyword's boundaries, fuzzing,
and stateful sequences. The server holds the demo (`demo.bookings.load_and_book`, as `dev.py run
--demo`): the document's examples name its clinic, bookings and requests (checked below against
`demo/`), so the examples reach real workflows. The caller is a client of the demo clinic `kir`.

What JSON Schema cannot state, `contract_rules` gives the generated *positive* cases (those the schema
calls valid, which the server must then accept): a patient id's date and check digit (a demo patient
in its place), a time ahead of now, a window that has not ended and is in order, a reception of the
clinic, participants with different booking ids, a booking by `slot_id` without a `start` (one beside
it must be the slot's), and in a FHIR Appointment the id of the URL, a
reception's HSA-id of the directory and each extension once, and in a FHIR Slot the id of the URL, the
reception's HSA-id and an end after the start. Negative cases are sent as generated.
"""

from __future__ import annotations

import asyncio
import copy
import multiprocessing
import time
from collections.abc import AsyncIterator
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta, timezone
from typing import Any

import httpx
import pytest
import pytest_asyncio
import schemathesis
from hypothesis import strategies as st
from schemathesis.config import SchemathesisConfig
from schemathesis.engine import events
from schemathesis.engine import from_schema as engine_for

from demo import bookings
from demo import data as fx
from domain.identity import parse_patient_id
from domain.types import EARLIEST_YEAR, LATEST_YEAR
from entrypoints.http import examples
from entrypoints.http.fhir_mapping import CHANNEL_EXTENSION, HSA_ID, PERSONNUMMER, SMS_EXTENSION
from infrastructure.config import Settings
from tests.http.conftest import Api, running_api

MAX_EXAMPLES = 10
SEED = 20260
RECEPTIONS = {fx.CLINIC_CONNECTED: (fx.RECEPTION_GENERAL, fx.RECEPTION_HIDDEN)}


@pytest_asyncio.fixture(scope="module")
async def api(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[Api]:
    """The API with the demo loaded and booked, and the document's FHIR Appointment accepted."""
    data_dir = tmp_path_factory.mktemp("contract")
    async with running_api(data_dir, dev_server=True) as api:
        settings = Settings(task_queue=api.harness.task_queue, data_dir=data_dir)
        await bookings.load_and_book(api.harness.client, settings, api.stores.directory, api.stores.slots)
        example = examples.operation_examples()["put_appointment"]
        body = next(iter(example.bodies.values()))[1]
        headers = {**api.auth(), "content-type": "application/fhir+json"}
        put = await api.http.put(f"/fhir/Appointment/{body['id']}", json=body, headers=headers)
        assert put.status_code == 201, put.text
        yield api


# --- what the schema cannot state, for the positive cases ----------------------------------------


def ahead(value: Any, now: datetime) -> Any:
    """A time at least a day ahead: `value` if it is one, else two weeks from now."""
    try:
        moment = datetime.fromisoformat(value)
    except (TypeError, ValueError):
        return value
    if moment.tzinfo is not None and now + timedelta(days=1) < moment < datetime(2200, 1, 1, tzinfo=UTC):
        return value
    return (now + timedelta(days=14)).replace(microsecond=0).isoformat()


DEMO_PATIENTS = frozenset(p["patient_id"] for p in fx.demo_document()["patients"])


def patient(value: Any) -> Any:
    """`value` if it is a patient of the directory, else the demo's adult."""
    try:
        known = parse_patient_id(value).value in DEMO_PATIENTS
    except (TypeError, ValueError, AttributeError):
        known = False
    return value if known else examples.PATIENT


def window(value: Any, today: date) -> Any:
    """The window in order and not ended (V10); its dates within the years the schema states."""
    if not isinstance(value, dict) or not {"first_date", "last_date"} <= value.keys():
        return value
    days = sorted(value[k] for k in ("first_date", "last_date"))
    if days[1] < today.isoformat():
        days = [(today + timedelta(days=20)).isoformat(), (today + timedelta(days=40)).isoformat()]
    return {**value, "first_date": days[0], "last_date": days[1]}


def rules_of_a_body(body: Any, now: datetime) -> Any:
    """`body` (a /v1 body) with every nested value meeting the rules beyond the schema."""
    if isinstance(body, list):
        return [rules_of_a_body(item, now) for item in body]
    if not isinstance(body, dict):
        return body
    body = {key: rules_of_a_body(value, now) for key, value in body.items()}
    if "patient_id" in body:
        body["patient_id"] = patient(body["patient_id"])
    if body.get("slot_id") is not None and "start" in body:
        del body["start"]  # a slot names its time: a start beside it must be the slot's (else 422)
    if "start" in body:
        body["start"] = ahead(body["start"], now)
    if isinstance(body.get("window"), dict):
        body["window"] = window(body["window"], now.date())
    receptions = RECEPTIONS.get(body.get("clinic_id"))
    if receptions and body.get("reception_id") not in receptions:
        body["reception_id"] = receptions[0]
    participants = body.get("participants")
    if isinstance(participants, list):
        for n, participant in enumerate(participants):
            if isinstance(participant, dict) and "booking_id" in participant:
                participant["booking_id"] = f"{str(participant['booking_id'])[:56]}-p{n}"
    return body


def times_ahead_in_order(body: dict[str, Any], now: datetime, length: timedelta) -> dict[str, Any]:
    """`start` and `end` ahead, and `end` not before `start` (compared as times: their offsets differ);
    an `end` out of order becomes `start` + `length` (a Slot's end must be after its start)."""
    for key in ("start", "end"):
        if key in body:
            body[key] = ahead(body[key], now)
    try:
        start, end = datetime.fromisoformat(body["start"]), datetime.fromisoformat(body["end"])
    except (KeyError, TypeError, ValueError):
        return body
    if end < start or (length and end == start):
        body["end"] = (start + length).isoformat()
    return body


def rules_of_an_appointment(body: Any, appointment_id: str, now: datetime) -> Any:
    """A FHIR Appointment of the URL's id, one patient and one reception (the demo's), each of the two
    extensions once and no S8 conflict, times ahead."""
    if not isinstance(body, dict):
        return body
    body = {**body, "id": appointment_id}
    body = times_ahead_in_order(body, now, timedelta(0))
    kept, seen = [], set()
    for participant in body.get("participant") or []:
        identifier = (
            ((participant.get("actor") or {}).get("identifier") or {})
            if isinstance(participant, dict)
            else {}
        )
        kind = {PERSONNUMMER: "patient", HSA_ID: "reception"}.get(identifier.get("system"), "other")
        if kind == "patient" or str(identifier.get("system", "")).endswith("/samordningsnummer"):
            kind, identifier["system"], identifier["value"] = (
                "patient",
                PERSONNUMMER,
                examples.PATIENT.replace("-", ""),
            )
        elif kind == "reception":
            identifier["value"] = examples.RECEPTION_HSA_ID
        if kind == "other" or kind not in seen:
            kept.append(participant)
        seen.add(kind)
    body["participant"] = kept
    extensions = {}
    for extension in body.get("extension") or []:
        extensions.setdefault(extension.get("url"), extension)
    channel, flag = extensions.get(CHANNEL_EXTENSION), extensions.get(SMS_EXTENSION)
    if channel and flag and channel.get("valueCode") == "1177":
        flag["valueBoolean"] = True  # S8
    if "extension" in body:
        body["extension"] = list(extensions.values())
    return body


def rules_of_a_slot(body: Any, slot_id: str, now: datetime) -> Any:
    """A FHIR Slot of the URL's id at the demo reception (its HSA-id), its end after its start."""
    if not isinstance(body, dict):
        return body
    body = {**body, "id": slot_id}
    body = times_ahead_in_order(body, now, timedelta(minutes=30))
    schedule = body.get("schedule")
    identifier = schedule.get("identifier") if isinstance(schedule, dict) else None
    if isinstance(identifier, dict):
        identifier["value"] = examples.RECEPTION_HSA_ID
    return body


def contract_rules(context: Any, case: Any) -> Any:
    """The `map_case` hook: positive cases meet the rules the schema cannot state."""
    meta = case.meta
    if meta is None or not meta.generation.mode.is_positive or not isinstance(case.body, (dict, list)):
        return case
    now = datetime.now(UTC)
    body = copy.deepcopy(case.body)
    if case.operation.path.startswith("/fhir/Appointment/"):
        case.body = rules_of_an_appointment(body, str(case.path_parameters.get("appointment_id")), now)
    elif case.operation.path.startswith("/fhir/Slot/"):
        case.body = rules_of_a_slot(body, str(case.path_parameters.get("slot_id")), now)
    else:
        case.body = rules_of_a_body(body, now)
    return case


def examples_meet_the_rules(context: Any, examples: list[Any]) -> None:
    """The `before_add_examples` hook: `map_case` does not see the examples phase's cases (the
    document's examples, their missing fields filled from other answers): a booking there that got a
    `slot_id` (from the Slot PUT's answer) beside its example's `start` keeps the slot only."""
    for case in examples:
        if isinstance(case.body, dict) and case.body.get("slot_id") is not None:
            case.body = {key: value for key, value in case.body.items() if key != "start"}


# --- the run -------------------------------------------------------------------------------------

MOMENTS = st.datetimes(
    min_value=datetime(EARLIEST_YEAR, 1, 2),
    max_value=datetime(LATEST_YEAR, 12, 30),
    timezones=st.sampled_from([UTC, *(timezone(timedelta(hours=hours)) for hours in (-5, 1, 2, 14))]),
).map(datetime.isoformat)
"""`format: date-time` within the years the document's pattern states beside it (`Moment`): hypothesis'
own date-time strings span the years 1 to 9999 and are filtered by that pattern, so for a FHIR Slot, two
such times, nearly every example was thrown away (its health check `filter_too_much`)."""


@dataclass
class Run:
    failures: list[str]
    errors: list[str]
    seconds: float
    cases: int
    phases: dict[str, float]


def described(info: Any, interaction: Any) -> str:
    """A failure with its request (curl) and the answer's body, so that a red run says what was sent."""
    failure = info.failure
    response = getattr(interaction, "response", None)
    answer = response.content[:500].decode(errors="replace") if response and response.content else ""
    said = f"{failure.operation}: {failure.code} {failure.title}: {failure.message}"
    return f"{said}\n{info.code_sample}\n{answer}"


def run_schemathesis(url: str, token: str) -> Run:
    config = SchemathesisConfig.from_dict(
        {
            "seed": SEED,
            "headers": {"Authorization": f"Bearer {token}"},
            "cache": {"enabled": False},
            "generation": {"max-examples": MAX_EXAMPLES, "deterministic": True, "database": "none"},
            "checks": {"enabled": True},
            "phases": {"examples": {"enabled": True}, "coverage": {"enabled": True}},
            "workers": 1,
        }
    )
    schemathesis.openapi.format("date-time", MOMENTS)
    schema = schemathesis.openapi.from_url(f"{url}/openapi.json", config=config)
    schema.hook("map_case")(contract_rules)
    schema.hook("before_add_examples")(examples_meet_the_rules)
    failures: list[str] = []
    errors: list[str] = []
    cases = 0
    started = time.monotonic()
    phases: dict[str, float] = {}
    for event in engine_for(schema).execute():
        if isinstance(event, events.PhaseStarted):
            phases[event.phase.name.value] = -event.timestamp
        elif isinstance(event, events.PhaseFinished):
            phases[event.phase.name.value] = (
                phases.get(event.phase.name.value, -event.timestamp) + event.timestamp
            )
        elif isinstance(event, events.ScenarioFinished):
            cases += len(event.recorder.cases)
            for case_id, checks in event.recorder.checks.items():
                for check in checks:
                    if check.failure_info is not None:
                        failures.append(
                            described(check.failure_info, event.recorder.interactions.get(case_id))
                        )
        elif isinstance(event, events.NonFatalError):
            errors.append(f"{event.label}: {event.info.format()}")
        elif isinstance(event, events.FatalError):
            errors.append(repr(event.exception))
    return Run(sorted(set(failures)), errors, time.monotonic() - started, cases, phases)


async def test_every_operation_keeps_the_contract_of_its_document(api: Api) -> None:
    """In a process of its own: the worker runs on this event loop, which must stay free meanwhile, and
    hypothesis describes its strategies with `ast.parse`, which on Python 3.11 is not safe beside the
    threads of this process (a spurious `SystemError: AST constructor recursion depth mismatch`)."""
    with ProcessPoolExecutor(max_workers=1, mp_context=multiprocessing.get_context("spawn")) as pool:
        run = await asyncio.get_running_loop().run_in_executor(pool, run_schemathesis, api.url, api.token)
    phases = ", ".join(f"{name} {seconds:.0f} s" for name, seconds in run.phases.items())
    print(
        f"schemathesis: {run.cases} cases in {run.seconds:.0f} s ({phases})",
        *run.errors,
        *run.failures,
        sep="\n",
    )
    assert (run.errors, run.failures) == ([], [])
    assert run.cases > 26 * 10


# --- the document itself -------------------------------------------------------------------------


async def test_the_document_lists_the_integrators_operations_only(api: Api) -> None:
    document = (await api.http.get("/openapi.json")).json()
    assert all(path.startswith(("/v1/", "/fhir/")) for path in document["paths"])
    assert set(document["components"]["securitySchemes"]) == {"bearerJwt", "apiKey"}
    assert "HTTPValidationError" not in document["components"]["schemas"]
    for path, item in document["paths"].items():
        for method, operation in item.items():
            media = "application/fhir+json" if path.startswith("/fhir/") else "application/problem+json"
            refusals = {code: r for code, r in operation["responses"].items() if int(code) >= 400}
            assert {"401", "422"} <= refusals.keys(), (method, path)
            assert all(list(r["content"]) == [media] for r in refusals.values()), (method, path)
            if "requestBody" in operation:
                assert "413" in refusals
                assert all(m.get("examples") for m in operation["requestBody"]["content"].values()), path


def test_the_examples_name_the_demo() -> None:
    """The doors cannot import the demo: its values are written out in `entrypoints/http/examples.py`."""
    document = fx.demo_document()
    patients = {p["patient_id"] for p in document["patients"]}
    assert {examples.PATIENT, examples.PATIENT_VAS, examples.PATIENT_CHILD} <= patients
    assert (examples.CLINIC, examples.RECEPTION, examples.RECEPTION_HSA_ID) == (
        fx.CLINIC_CONNECTED,
        fx.RECEPTION_GENERAL,
        fx.HSA_GENERAL,
    )
    demo_ids = {v.booking_id for v in bookings.demo_visits()} | {
        r.request_id for r in bookings.demo_requests()
    }
    demo_ids |= {"demo-team", bookings.demo_group().group_booking_id, "demo-fhir", "demo-slot"}
    demo_ids |= {fx.CLINIC_CONNECTED}
    demo_ids |= {p.booking_id for p in bookings.demo_group().participants}
    for name, example in examples.operation_examples().items():
        for value in [*example.path.values(), *example.query.values()]:
            assert value.removeprefix("Appointment/") in demo_ids, (name, value)


async def test_a_method_a_path_does_not_have_is_405_with_allow(api: Api) -> None:
    """`Allow` names the methods the document lists for the path (RFC 9110), whichever route answers."""
    document = (await api.http.get("/openapi.json")).json()
    for method, path, template in (
        ("TRACE", "/v1/visits/demo-adult", "/v1/visits/{booking_id}"),
        ("DELETE", "/fhir/Appointment/demo-fhir", "/fhir/Appointment/{appointment_id}"),
        ("PATCH", "/v1/visits", "/v1/visits"),
    ):
        answer = await api.http.request(method, path, headers=api.auth())
        assert answer.status_code == 405, (method, path)
        documented = ", ".join(sorted(m.upper() for m in document["paths"][template]))
        assert answer.headers["allow"] == documented, (method, path)


async def test_the_docs_pages_load_their_assets_from_the_service(api: Api) -> None:
    async with httpx.AsyncClient(base_url=api.url) as http:
        assert (await http.get("/redoc")).status_code == 404  # no ReDoc (docs/decisions.md)
        for page in ("/docs",):
            answer = await http.get(page)
            assert answer.status_code == 200
            assert "cdn." not in answer.text and "https://" not in answer.text, page
            assert "https:" not in answer.headers["content-security-policy"], page
        for asset in ("swagger-ui-bundle.js", "swagger-ui.css", "favicon.png"):
            assert (await http.get(f"/static-offline-docs/{asset}")).status_code == 200, asset
