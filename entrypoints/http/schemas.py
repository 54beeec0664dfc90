"""What the OpenAPI document states beyond the models of the routes (`entrypoints/http/openapi.py`):
how callers authenticate, the two shapes of a refusal, and the FHIR Appointment a PUT takes."""

from __future__ import annotations

import itertools
from typing import Any

from application.fhir_appointments import CANCELLING, PATIENT_SYSTEMS
from domain.booking import Channel
from domain.directory import HSA_ID_PATTERN
from domain.types import MOMENT_SCHEMA_PATTERN
from entrypoints.http.fhir_mapping import BOOKED, CHANNEL_EXTENSION, HSA_ID, SMS_EXTENSION
from entrypoints.shared.problems import TITLES

SECURITY_SCHEMES: dict[str, dict[str, Any]] = {
    "bearerJwt": {
        "type": "http",
        "scheme": "bearer",
        "bearerFormat": "JWT",
        "description": "A JWT of the region's OAuth2 server (when `PM_JWT_ISSUER`, `PM_JWT_AUDIENCE` and "
        "`PM_JWT_JWKS_URL` are set): signature, `iss`, `aud` and `exp` checked; the clinics the client "
        "may act for in the claim `PM_JWT_CLINICS_CLAIM` (default `clinics`, `*` for every clinic).",
    },
    "apiKey": {
        "type": "http",
        "scheme": "bearer",
        "description": "An API key made with `python3 dev.py cli admin api-key create --client-id ID "
        "--clinic CLINIC` (shown once, `pmk_…`), sent as `Authorization: Bearer pmk_…`.",
    },
}
"""Either authenticates a call (the document's top-level `security` lists both)."""

PROBLEM_SCHEMA: dict[str, Any] = {
    "title": "Problem",
    "description": "An RFC 9457 problem: the status, its title and one line naming the field or rule "
    "(the command line's message), never the input.",
    "type": "object",
    "required": ["type", "title", "status", "detail"],
    "properties": {
        "type": {"type": "string", "const": "about:blank"},
        "title": {"type": "string", "enum": sorted(set(TITLES.values()))},
        "status": {"type": "integer", "minimum": 400, "maximum": 599},
        "detail": {"type": "string"},
    },
}

OPERATION_OUTCOME_SCHEMA: dict[str, Any] = {
    "title": "OperationOutcome",
    "description": "A FHIR R4 OperationOutcome with one error issue: its IssueType code and the one-line "
    "message in `diagnostics`.",
    "type": "object",
    "required": ["resourceType", "issue"],
    "properties": {
        "resourceType": {"const": "OperationOutcome"},
        "issue": {
            "type": "array",
            "minItems": 1,
            "items": {
                "type": "object",
                "required": ["severity", "code", "diagnostics"],
                "properties": {
                    "severity": {"const": "error"},
                    "code": {"type": "string"},
                    "diagnostics": {"type": "string"},
                },
            },
        },
    },
}


FHIR_ID_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9.-]{0,63}$"
"""A booking id that is also a FHIR `id` (no `_`): the id of a PUT's URL and of its Appointment."""
URI = {"type": "string"}  # a FHIR uri, as fhir.resources reads it
FHIR_STRING_PATTERN = r"[ \r\n\t\S]"
"""A FHIR string holds a character that is a space, a line end, a tab or no white space at all (its
pattern in fhir.resources, searched): a vertical tab alone is not one."""
TEXT = {"type": "string", "minLength": 1, "pattern": FHIR_STRING_PATTERN}  # a FHIR string: not empty


def nullable(schema: dict[str, Any]) -> dict[str, Any]:
    """An optional FHIR element: FHIR's JSON reads `null` as absent."""
    return {"anyOf": [schema, {"type": "null"}]}


def _participant(system: dict[str, Any] | None = None, value: dict[str, Any] | None = None) -> dict[str, Any]:
    """An Appointment participant (FHIR refuses elements it does not define); with `system` and
    `value`, one whose actor is identified by them."""
    identifier: dict[str, Any] = {
        "type": "object",
        "properties": {"system": system or nullable(URI), "value": value or nullable(TEXT)},
        "additionalProperties": False,
    }
    actor: dict[str, Any] = {
        "type": "object",
        "properties": {
            "identifier": identifier if system else nullable(identifier),
            "type": nullable(URI),
            "display": nullable(TEXT),
        },
        "additionalProperties": False,
    }
    participant: dict[str, Any] = {
        "type": "object",
        "properties": {
            "actor": actor,
            "status": {"enum": ["accepted", "declined", "tentative", "needs-action"]},
        },
        "additionalProperties": False,
    }
    if system is None:
        participant["required"] = ["status"]
    else:
        identifier["required"], actor["required"], participant["required"] = (
            ["system", "value"],
            ["identifier"],
            ["actor"],
        )
    return participant


OURS = [CHANNEL_EXTENSION, SMS_EXTENSION]
OTHER_VALUES: dict[str, Any] = {  # another extension's value: at most one, null counting as absent
    "valueBoolean": {"type": ["boolean", "null"]},
    "valueCode": {"type": ["string", "null"], "pattern": r"^[^\s]+(\s[^\s]+)*$"},
    "valueString": {"type": ["string", "null"], "minLength": 1, "pattern": FHIR_STRING_PATTERN},
}


NULLS = {name: {"type": "null"} for name in OTHER_VALUES}


def _both(a: str, b: str) -> dict[str, Any]:
    """An object with both `a` and `b` not null."""
    return {"required": [a, b], "properties": {a: {"not": {"type": "null"}}, b: {"not": {"type": "null"}}}}


APPOINTMENT_SCHEMA: dict[str, Any] = {
    "title": "Appointment",
    "description": "A FHIR R4 Appointment, the elements this service reads (other R4 elements are "
    "kept as sent, anything else is refused): one participant is the patient (personnummer or "
    "samordningsnummer, 12 digits), one the reception (its HSA-id in the directory); `start` is "
    "needed to book. Channel and SMS flag are the two extensions (defaults `vas`, true).",
    "type": "object",
    "required": ["resourceType", "id", "status", "participant"],
    "properties": {
        "resourceType": {"const": "Appointment"},
        "id": {"type": "string", "pattern": FHIR_ID_PATTERN, "description": "the booking id of the URL"},
        "status": {"enum": [BOOKED, *CANCELLING]},
        "start": nullable({"type": "string", "format": "date-time", "pattern": MOMENT_SCHEMA_PATTERN}),
        "end": nullable({"type": "string", "format": "date-time", "pattern": MOMENT_SCHEMA_PATTERN}),
        "participant": {
            "type": "array",
            "minItems": 2,
            "items": _participant(),
            "allOf": [
                {
                    "contains": _participant(
                        {"enum": list(PATIENT_SYSTEMS)}, {"type": "string", "pattern": "^[0-9]{12}$"}
                    )
                },
                {"contains": _participant({"const": HSA_ID}, {"type": "string", "pattern": HSA_ID_PATTERN})},
            ],
        },
        "extension": {
            "type": ["array", "null"],
            "description": "the channel and the SMS flag, once each; other extensions are kept and ignored",
            "items": {
                "anyOf": [
                    {
                        "type": "object",
                        "required": ["url", "valueCode"],
                        "properties": {
                            **NULLS,
                            "url": {"const": CHANNEL_EXTENSION},
                            "valueCode": {"enum": [c.value for c in Channel]},
                        },
                        "additionalProperties": False,
                    },
                    {
                        "type": "object",
                        "required": ["url", "valueBoolean"],
                        "properties": {
                            **NULLS,
                            "url": {"const": SMS_EXTENSION},
                            "valueBoolean": {"type": "boolean"},
                        },
                        "additionalProperties": False,
                    },
                    {
                        "type": "object",
                        "required": ["url"],
                        "properties": {
                            "url": {**URI, "not": {"enum": OURS}},
                            **OTHER_VALUES,
                        },
                        "additionalProperties": False,
                        "not": {"anyOf": [_both(a, b) for a, b in itertools.combinations(OTHER_VALUES, 2)]},
                    },
                ]
            },
        },
    },
    "additionalProperties": False,
    "anyOf": [
        {"properties": {"status": {"enum": list(CANCELLING)}}},
        {"required": ["start"], "properties": {"start": {"type": "string"}}},
    ],
}
"""The request body of `PUT /fhir/Appointment/{id}`."""


SLOT_STATUSES = ("free", "busy", "busy-unavailable", "busy-tentative", "entered-in-error")
"""The R4 SlotStatus codes: `free` is offered, the others are not."""
INSTANT = {"type": "string", "format": "date-time", "pattern": MOMENT_SCHEMA_PATTERN}

SLOT_SCHEMA: dict[str, Any] = {
    "title": "Slot",
    "description": "A FHIR R4 Slot, the elements this service reads (anything else is refused): the "
    "reception by its HSA-id in `schedule.identifier` (in the directory), the visit type in the one "
    "`serviceType`'s `text`, `free` or busy, `end` after `start`.",
    "type": "object",
    "required": ["resourceType", "id", "schedule", "serviceType", "status", "start", "end"],
    "properties": {
        "resourceType": {"const": "Slot"},
        "id": {"type": "string", "pattern": FHIR_ID_PATTERN, "description": "the slot id of the URL"},
        "schedule": {
            "type": "object",
            "required": ["identifier"],
            "properties": {
                "identifier": {
                    "type": "object",
                    "required": ["system", "value"],
                    "properties": {
                        "system": {"const": HSA_ID},
                        "value": {"type": "string", "pattern": HSA_ID_PATTERN},
                    },
                    "additionalProperties": False,
                }
            },
            "additionalProperties": False,
        },
        "serviceType": {
            "type": "array",
            "minItems": 1,
            "maxItems": 1,
            "items": {
                "type": "object",
                "required": ["text"],
                "properties": {"text": {"type": "string", "minLength": 1, "maxLength": 80, "pattern": r"\S"}},
                "additionalProperties": False,
            },
        },
        "status": {"enum": list(SLOT_STATUSES)},
        "start": INSTANT,
        "end": INSTANT,
    },
    "additionalProperties": False,
}
"""The request body of `PUT /fhir/Slot/{id}`."""
