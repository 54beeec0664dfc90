"""Constrained field types shared by the contract models (SPEC §5)."""

from __future__ import annotations

import re
from collections.abc import Mapping
from datetime import UTC, datetime, time
from typing import Annotated, Any

from pydantic import (
    AfterValidator,
    AwareDatetime,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    StringConstraints,
    ValidationError,
)

from domain.identity import parse_patient_id
from domain.phone import normalize_mobile

# Booking, request, clinic and reception ids appear in workflow ids, search attributes and logs:
# they are system ids, never patient data, so they are restricted to a safe alphabet.
SYSTEM_ID_PATTERN = r"[A-Za-z0-9][A-Za-z0-9._-]{0,63}"
SYSTEM_ID_RULE = "up to 64 letters, digits, '.', '_' or '-', starting with a letter or digit"
_SYSTEM_ID = re.compile(SYSTEM_ID_PATTERN)


def _looks_like_a_patient_id(value: str) -> bool:
    try:
        parse_patient_id(value)
    except ValueError:
        return False
    return True


def _not_a_patient_id(value: str) -> str:
    if _looks_like_a_patient_id(value):
        raise ValueError("a system id must not be a personnummer, samordningsnummer or reservnummer")
    return value


SystemId = Annotated[
    str,
    StringConstraints(strip_whitespace=True, pattern=f"^{SYSTEM_ID_PATTERN}$"),
    AfterValidator(_not_a_patient_id),
]
"""A booking, request, clinic or reception id: the safe alphabet, and never a patient id (it ends up
in workflow ids, search attributes and logs)."""


def is_system_id(value: str) -> bool:
    """True for a booking, request, clinic, reception or key id in the safe alphabet (not a patient id)."""
    return _SYSTEM_ID.fullmatch(value) is not None and not _looks_like_a_patient_id(value)


EARLIEST_YEAR, LATEST_YEAR = 1900, 2200


def is_plausible(moment: datetime) -> bool:
    """Within the years the calendar arithmetic can move through, in its own offset and in UTC."""
    if not EARLIEST_YEAR <= moment.year <= LATEST_YEAR:
        return False
    return moment.tzinfo is None or EARLIEST_YEAR <= moment.astimezone(UTC).year <= LATEST_YEAR


def _plausible(moment: datetime) -> datetime:
    if not is_plausible(moment):
        raise ValueError(f"a time must be between the years {EARLIEST_YEAR} and {LATEST_YEAR}")
    return moment


MOMENT_SCHEMA_PATTERN = r"^(19[0-9]{2}|2[01][0-9]{2}|2200)-"
"""The year range of `Moment` as the OpenAPI document states it (JSON Schema has no date bounds)."""

Moment = Annotated[
    AwareDatetime,
    AfterValidator(_plausible),
    Field(json_schema_extra={"pattern": MOMENT_SCHEMA_PATTERN}),
]
"""A time with a UTC offset within years the calendar arithmetic of S6 and V3 can move through (a
visit in the year 9999 would overflow the day before)."""

PATIENT_ID_SCHEMA_PATTERN = r"^[0-9]{8}[-+]?[0-9A-Za-z]{4}$"
"""The shape of a patient id as the OpenAPI document states it; the date and check digit are checked
by `parse_patient_id` (a regular expression cannot)."""

PatientIdStr = Annotated[
    str,
    AfterValidator(lambda raw: parse_patient_id(raw).value),
    Field(
        json_schema_extra={
            "pattern": PATIENT_ID_SCHEMA_PATTERN,
            "description": "personnummer or samordningsnummer YYYYMMDD-NNNN (a valid date and check "
            "digit; '-', '+' or no separator), or reservnummer YYYYMMDD-XXXX (at least one letter)",
        }
    ),
]
"""A patient id in canonical form; invalid ids are refused without echoing them."""

MobileNumber = Annotated[str, AfterValidator(normalize_mobile)]
"""A mobile number normalised to E.164; landlines are refused."""


def _clock_time(value: object) -> object:
    if isinstance(value, time) and value.tzinfo is None:
        return value
    if isinstance(value, str) and re.fullmatch(r"[0-9]{2}:[0-9]{2}(:[0-9]{2})?", value.strip()):
        return value.strip()
    raise ValueError("a clinic time is a Stockholm wall-clock time written HH:MM, without offset")


ClockTime = Annotated[time, BeforeValidator(_clock_time)]
"""A clinic's wall-clock time in Europe/Stockholm (S6, V3)."""


class ContractModel(BaseModel):
    """Base of every contract model: validation errors never echo the input (patient data)."""

    model_config = ConfigDict(hide_input_in_errors=True)


def differing_fields(new: BaseModel, earlier: BaseModel) -> list[str]:
    """The fields of `new`'s model whose values differ in `earlier` (the same model, or one that
    extends it): what a request under a used id would change. Names only, never the values."""
    return [name for name in type(new).model_fields if getattr(new, name) != getattr(earlier, name, None)]


FIELD_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]{0,63}")
UNKNOWN_FIELD = "(unknown field)"


def error_location(error: Mapping[str, Any]) -> tuple[int | str, ...]:
    """A validation error's `loc`, with the key of an unknown field shown as `(unknown field)` unless it
    reads as a field name: a key may be anything, a personnummer too."""
    loc = tuple(error.get("loc", ()))
    if error.get("type") == "extra_forbidden" and loc:
        last = loc[-1]
        if not (isinstance(last, str) and FIELD_NAME.fullmatch(last)):
            return (*loc[:-1], UNKNOWN_FIELD)
    return loc


def describe_validation_error(err: ValidationError) -> str:
    """Each problem as `field: reason` on one line (a model rule as just its reason), never the input
    (nor an unknown key that is no field name)."""
    problems = []
    for e in err.errors(include_url=False, include_input=False, include_context=False):
        where = ".".join(str(p) for p in error_location(e))
        msg = str(e["msg"]).removeprefix("Value error, ")
        problems.append(f"{where}: {msg}" if where else msg)
    return "; ".join(problems)
