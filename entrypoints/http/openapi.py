"""The OpenAPI document at `/openapi.json`: the contract a booking system builds on, and what `/docs`
(Swagger UI) shows. `tests/http/test_openapi_contract.py` runs schemathesis against it.

FastAPI derives the paths, parameters and bodies from the routes and the strict variants of the
contract models (patterns, ranges, enums, rules across fields: `domain`); this module adds

- only the integrators' operations, `/v1` and `/fhir`: the staff page's HTML routes and the SMS
  provider's delivery-report callback are not part of it (docs/decisions.md, "The HTTP API");
- how callers authenticate: a bearer JWT of the region or an API key (`entrypoints/http/schemas.py`);
- every refusal an operation sends, as `application/problem+json` (`Problem`) on `/v1` and as an
  `OperationOutcome` (`application/fhir+json`) on `/fhir`: 401 and 422 on every operation, 413 on
  every body (and 400 on a `/v1` body that is not UTF-8), 403, 404, 409 and 415 where the route
  declares them (`refusals`);
- the bodies a route reads itself (the directory document, the FHIR Appointment) and an example of
  every body and path parameter (`entrypoints/http/examples.py`), and operation ids that are the
  routes' names.
"""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI
from fastapi.openapi.utils import get_openapi
from fastapi.routing import APIRoute

from domain.directory import DirectoryDocument
from entrypoints.http.examples import Example, operation_examples
from entrypoints.http.schemas import (
    APPOINTMENT_SCHEMA,
    FHIR_ID_PATTERN,
    OPERATION_OUTCOME_SCHEMA,
    PROBLEM_SCHEMA,
    SECURITY_SCHEMES,
    SLOT_SCHEMA,
)
from entrypoints.shared.context import TEST_MODE_HEADER
from entrypoints.shared.problems import FHIR_JSON, PROBLEM
from entrypoints.strict import strict

CONTRACT_PREFIXES = ("/v1/", "/fhir/")
REF = "#/components/schemas/{model}"
REASONS = {
    400: "the body is not text in UTF-8",
    401: "no bearer token, or one that is not valid or has expired",
    403: "the caller may not act for the clinic",
    404: "no such id at the caller's clinics (an id only another clinic issued is unknown here)",
    409: "the workflow has ended, or refused the change in its state",
    413: "the body is over 256 KiB",
    415: "the body is not `application/fhir+json` or `application/json`",
    422: "invalid input: the body, a parameter or a rule; the detail names the field or the rule",
    503: "a test key's call while test mode is off (its namespace does not exist; docs/test-mode.md)",
}
TEST_MODE = {
    "description": "`true` on the answers to a test key's calls: the workflows named are test traffic",
    "required": False,
    "schema": {"type": "string", "enum": ["true"]},
}
DESCRIPTION = """\
Every call needs `Authorization: Bearer …`: a JWT of the region's OAuth2 server, or locally an API
key (`python3 dev.py cli admin api-key create`). Bodies are read strictly: an unknown field, or a flag
that is not JSON `true` or `false`, is 422 naming the field; so are the rules a schema cannot state
(a personnummer's check digit, a time ahead of now, a window in order, a clinic's reception, a patient
of the directory). Refusals are RFC 9457 `application/problem+json` on `/v1` and FHIR
`OperationOutcome` on `/fhir`, with a one-line detail that never repeats patient data; they change
nothing. A request whose `Host` names another host than the service's is 400; a method a path does
not have is 405 with `Allow`. An id belongs to the clinic that issued it: another clinic's id is
unknown to the caller (404). A test key's calls (`pmk_test_…`) run in the test namespace, apart from
live traffic, and send through a simulator; their 2xx answers carry `Pm-Test-Mode: true` (docs/test-mode.md).
The examples name the demo's clinic `kir` and its fictitious patients
and bookings: they work against `python3 dev.py run --demo`.
"""
TAGS = [
    {"name": "visits", "description": "SMS reminders of booked visits, team visits and group bookings"},
    {"name": "care invitations", "description": "care invitations and plain booking requests (V1–V14)"},
    {"name": "work lists", "description": "a clinic's Vårdinbjudan, Bokningsbegäran, Uppföljning (V12)"},
    {"name": "directory", "description": "clinics, receptions, patients and consents (SPEC §5)"},
    {
        "name": "FHIR R4",
        "description": "Appointment books a visit's reminder; Communication shows its messages; Slot "
        "states a reception's bookable time (the offered times of requests)",
    },
]
BODY_SCHEMAS = {
    "put_appointment": "Appointment",
    "put_fhir_slot": "Slot",
    "load_directory": "DirectoryDocument",
}
"""The operations whose route reads its body itself: the schema the document names for it."""


def refusals(*codes: int | tuple[int, str]) -> dict[int | str, dict[str, Any]]:
    """A route's `responses` for the refusals it sends besides 401, 413 and 422 (which every operation,
    or every body, gets): a status, or a status and what it means there."""
    described = (code if isinstance(code, tuple) else (code, REASONS[code]) for code in codes)
    return {code: {"description": text} for code, text in described}


def install(api: FastAPI) -> None:
    """Serve the contract document at `api.openapi_url` (made once, at the first request); operation
    ids are the routes' names."""

    def document() -> dict[str, Any]:
        if api.openapi_schema is None:
            api.openapi_schema = contract_document(api)
        return api.openapi_schema

    api.openapi = document  # type: ignore[method-assign]


def operation_id(route: APIRoute) -> str:
    """The `generate_unique_id_function` of the app: an operation is named by its route's function."""
    return route.name


def contract_document(api: FastAPI, examples: dict[str, Example] | None = None) -> dict[str, Any]:
    doc = get_openapi(
        title=api.title,
        version=api.version,
        summary=api.summary,
        description=DESCRIPTION,
        routes=api.routes,
        tags=TAGS,
    )
    doc["paths"] = {path: item for path, item in doc["paths"].items() if path.startswith(CONTRACT_PREFIXES)}
    schemas: dict[str, Any] = doc.setdefault("components", {}).setdefault("schemas", {})
    directory = strict(DirectoryDocument).model_json_schema(ref_template=REF)
    schemas |= directory.pop("$defs", {}) | {"DirectoryDocument": directory}
    schemas |= {"Problem": PROBLEM_SCHEMA, "OperationOutcome": OPERATION_OUTCOME_SCHEMA}
    schemas["Appointment"] = APPOINTMENT_SCHEMA
    schemas["Slot"] = SLOT_SCHEMA
    doc["components"]["securitySchemes"] = SECURITY_SCHEMES
    doc["security"] = [{name: []} for name in SECURITY_SCHEMES]
    examples = operation_examples() if examples is None else examples
    for path, item in doc["paths"].items():
        for operation in item.values():
            name = operation["operationId"]
            if name in BODY_SCHEMAS:
                _body_schema(operation, BODY_SCHEMAS[name])
            if name in ("put_appointment", "put_fhir_slot"):  # the URL's id is the resource's: a FHIR id
                for parameter in operation["parameters"]:
                    if parameter["name"] in ("appointment_id", "slot_id"):
                        parameter["schema"]["pattern"] = FHIR_ID_PATTERN
            _refusals(operation, FHIR_JSON if path.startswith("/fhir/") else PROBLEM)
            _examples(operation, examples.get(name, Example()))
    doc["components"]["schemas"] = _referenced(doc, schemas)
    return doc


def _referenced(doc: dict[str, Any], schemas: dict[str, Any]) -> dict[str, Any]:
    """The schemas the paths name, directly or through other schemas (not the staff page's forms, nor
    FastAPI's validation error that the problems replace)."""
    found: set[str] = set()
    todo: list[Any] = [doc["paths"]]
    while todo:
        value = todo.pop()
        if isinstance(value, dict):
            ref = value.get("$ref")
            if isinstance(ref, str) and (name := ref.rsplit("/", 1)[-1]) not in found and name in schemas:
                found.add(name)
                todo.append(schemas[name])
            todo.extend(value.values())
        elif isinstance(value, list):
            todo.extend(value)
    return {name: schema for name, schema in sorted(schemas.items()) if name in found}


def _body_schema(operation: dict[str, Any], name: str) -> None:
    for media in operation["requestBody"]["content"].values():
        media["schema"] = {"$ref": REF.format(model=name)}


def _refusals(operation: dict[str, Any], media_type: str) -> None:
    responses: dict[str, Any] = operation["responses"]
    responses["401"] = {
        "description": REASONS[401],
        "headers": {"WWW-Authenticate": {"required": True, "schema": {"type": "string"}}},
    }
    responses["422"] = {"description": REASONS[422]}
    responses["503"] = {"description": REASONS[503]}
    if "requestBody" in operation:
        responses["413"] = {"description": REASONS[413]}
        if media_type == PROBLEM:  # FastAPI's own refusal of a body it cannot decode (FHIR: 422)
            responses["400"] = {"description": REASONS[400]}
    schema = "OperationOutcome" if media_type == FHIR_JSON else "Problem"
    for code, response in responses.items():
        if int(code) >= 400:
            response["content"] = {media_type: {"schema": {"$ref": REF.format(model=schema)}}}
        elif int(code) < 300:
            response.setdefault("headers", {})[TEST_MODE_HEADER] = TEST_MODE
    operation["responses"] = dict(sorted(responses.items()))


def _examples(operation: dict[str, Any], example: Example) -> None:
    for parameter in operation.get("parameters", []):
        values = example.path if parameter["in"] == "path" else example.query
        if parameter["name"] in values:
            parameter["example"] = values[parameter["name"]]
    if example.bodies and "requestBody" in operation:
        named = {
            name: {"summary": summary, "value": value} for name, (summary, value) in example.bodies.items()
        }
        for media in operation["requestBody"]["content"].values():
            media["examples"] = named
