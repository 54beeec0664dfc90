"""Errors as RFC 9457 `application/problem+json` on `/v1`, and as a FHIR `OperationOutcome`
(`application/fhir+json`) on `/fhir`: the same one-line messages as the command line, never the
input, never a traceback.

    422 invalid input (the body, a parameter, an edge check)    404 no such workflow
    409 the workflow has ended, or refused the change            401 / 403 who is calling
    413 the body is too large                                    503 Temporal or the database is down
"""

from __future__ import annotations

from typing import Any

from fastapi import Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import ValidationError
from starlette.exceptions import HTTPException
from starlette.routing import Match

import application
from domain.identity import InvalidPatientId
from domain.types import describe_validation_error, error_location
from entrypoints.shared.auth import Forbidden, Unauthenticated
from infrastructure.logging_setup import redact_text
from infrastructure.test_mode import TestModeOff

PROBLEM = "application/problem+json"
TITLES = {
    400: "Bad request",
    401: "Unauthenticated",
    403: "Forbidden",
    404: "Not found",
    405: "Method not allowed",
    409: "Conflict",
    413: "Request body too large",
    415: "Unsupported media type",
    422: "Invalid input",
    500: "Internal error",
    503: "Service unavailable",
}


def problem(status: int, detail: str, **headers: str) -> JSONResponse:
    body: dict[str, Any] = {
        "type": "about:blank",
        "title": TITLES.get(status, "Error"),
        "status": status,
        "detail": " ".join(detail.split()),  # one line, whatever the message
    }
    return JSONResponse(body, status_code=status, media_type=PROBLEM, headers=headers or None)


FHIR_JSON = "application/fhir+json"
FHIR_PREFIX = "/fhir"
ISSUE_CODES = {
    400: "structure",
    401: "security",
    403: "forbidden",
    404: "not-found",
    405: "not-supported",
    409: "conflict",
    413: "too-costly",
    415: "not-supported",
    422: "invalid",
    500: "exception",
    503: "transient",
}
"""OperationOutcome `issue.code` (FHIR value set IssueType) of each HTTP status."""


def operation_outcome(status: int, detail: str, **headers: str) -> JSONResponse:
    """A FHIR R4 OperationOutcome with one error issue; the diagnostics are the one-line message,
    masked once more for anything shaped like a personnummer or a phone number."""
    body = {
        "resourceType": "OperationOutcome",
        "issue": [
            {
                "severity": "error",
                "code": ISSUE_CODES.get(status, "processing"),
                "diagnostics": redact_text(" ".join(detail.split())),
            }
        ],
    }
    return JSONResponse(body, status_code=status, media_type=FHIR_JSON, headers=headers or None)


def is_under(request: Request, prefix: str) -> bool:
    """Whether the request's path is `prefix` or below it (`/fhir`, `/staff`)."""
    path = request.url.path
    return path == prefix or path.startswith(prefix + "/")


def refuse(request: Request, status: int, detail: str, **headers: str) -> JSONResponse:
    """The refusal in the format of the request's API: an OperationOutcome on `/fhir`, else a problem."""
    answer = operation_outcome if is_under(request, FHIR_PREFIX) else problem
    return answer(status, detail, **headers)


def status_and_detail(err: Exception) -> tuple[int, str] | None:
    """The HTTP status and message of a refusal, or None for an error that is a bug."""
    if isinstance(err, Unauthenticated):
        return 401, str(err)
    if isinstance(err, Forbidden):
        return 403, str(err)
    if isinstance(err, TestModeOff):
        return 503, str(err)
    if isinstance(err, application.NotFoundError):
        return 404, str(err)
    if isinstance(err, application.EndedError | application.RejectedError):
        return 409, str(err)
    if isinstance(err, application.InputError | InvalidPatientId):
        return 422, str(err)
    if isinstance(err, application.DirectoryLoadError):
        count = len(err.problems)
        return (
            422,
            f"directory document refused ({count} problem{'s' * (count != 1)}): {'; '.join(err.problems)}",
        )
    if isinstance(err, RequestValidationError):
        return 422, f"invalid input: {describe_request_errors(err)}"
    if isinstance(err, ValidationError):
        return 422, f"invalid input: {describe_validation_error(err)}"
    if isinstance(err, HTTPException) and err.status_code < 500:  # e.g. a route's 415
        return err.status_code, str(err.detail)
    return None


def describe_request_errors(err: RequestValidationError) -> str:
    """FastAPI's validation errors as `field: reason`, without the input (it may be patient data) or an
    unknown key that is no field name (`error_location`)."""
    problems = []
    for e in err.errors():
        loc = error_location(e)
        where = ".".join(str(p) for p in (loc[1:] if loc[:1] == ("body",) else loc))
        message = str(e.get("msg", "invalid")).removeprefix("Value error, ")
        problems.append(f"{where}: {message}" if where else message)
    return "; ".join(problems)


async def handle(request: Request, err: Exception) -> JSONResponse:
    found = status_and_detail(err)
    if found is None:
        raise err
    status, detail = found
    headers = {"WWW-Authenticate": "Bearer"} if status == 401 else {}
    return refuse(request, status, detail, **headers)


async def handle_http(request: Request, err: HTTPException) -> JSONResponse:
    """Starlette's own refusals (404 route, 405 method) as problems (or OperationOutcomes) too; a 405
    names in `Allow` the methods of every route of the path (RFC 9110), not only the first one's."""
    detail = err.detail if isinstance(err.detail, str) else TITLES.get(err.status_code, "Error")
    headers = {"Allow": allowed_methods(request)} if err.status_code == 405 else {}
    return refuse(request, err.status_code, detail, **headers)


METHODS = ("DELETE", "GET", "HEAD", "OPTIONS", "PATCH", "POST", "PUT")


def allowed_methods(request: Request) -> str:
    """The methods some route of the app takes at the request's path (each asked as if requested)."""
    routes = request.app.router.routes
    return ", ".join(
        method
        for method in METHODS
        if any(route.matches({**request.scope, "method": method})[0] is Match.FULL for route in routes)
    )
