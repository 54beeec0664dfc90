"""Validating a directory document (SPEC §5) before anything of it is stored.

`validate_document` checks the whole document and raises `DirectoryLoadError` listing every problem.
Patient data never appears in the problems: a refused document names each record by its index
(patients) or clinic id (clinics), the field and the reason, never the value.
"""

from __future__ import annotations

import json
import re
from typing import Any

from pydantic import ValidationError

from domain.directory import DirectoryDocument
from domain.identity import InvalidPatientId, parse_patient_id
from domain.types import error_location, is_system_id

__all__ = ["DirectoryLoadError", "validate_document"]


class DirectoryLoadError(ValueError):
    """A directory document that was refused; `problems` lists every reason, without patient data."""

    def __init__(self, problems: list[str]) -> None:
        self.problems = list(problems)
        super().__init__(self.problems)

    def one_line(self) -> str:
        """Every problem on one line (the doors' refusal)."""
        count = len(self.problems)
        return f"directory document refused ({count} problem{'s' * (count != 1)}): {'; '.join(self.problems)}"

    def __str__(self) -> str:
        count = len(self.problems)
        head = f"directory document refused, {count} problem{'s' if count != 1 else ''}:"
        return "\n".join([head, *(f"  - {p}" for p in self.problems)])


_MSG_PREFIXES = ("Value error, ", "Assertion failed, ")
# Keys of a patient record whose values are patient data; they are scrubbed from any message as a
# second line of defence (the models already hide input from validation errors).
_SENSITIVE_KEYS = {
    "patient_id",
    "given_name",
    "family_name",
    "mobile",
    "name",
    "street",
    "postal_code",
    "city",
    "care_of",
}


def _parse_json(data: str | bytes) -> Any:
    try:
        return json.loads(data)
    except json.JSONDecodeError as e:
        # e.msg is the parser's reason ("Expecting ',' delimiter"), never the document's content.
        raise DirectoryLoadError(
            [f"document: invalid JSON at line {e.lineno}, column {e.colno}: {e.msg}"]
        ) from None
    except UnicodeDecodeError as e:
        raise DirectoryLoadError([f"document: not UTF-8 text (byte offset {e.start})"]) from None


def _items(raw: Any, key: str) -> list[Any]:
    value = raw.get(key) if isinstance(raw, dict) else None
    return value if isinstance(value, list) else []


def _clinic_label(raw: Any, index: int) -> str:
    clinic_id = raw.get("clinic_id") if isinstance(raw, dict) else None
    if isinstance(clinic_id, str) and is_system_id(clinic_id.strip()):
        return f"clinics[{index}] (clinic_id={clinic_id.strip()})"
    return f"clinics[{index}]"


def _patient_label(index: int) -> str:
    return f"patients[{index}] (record {index + 1})"


def _sensitive_values(raw: Any, key: str | None = None) -> set[str]:
    if isinstance(raw, dict):
        return set().union(*(_sensitive_values(v, k) for k, v in raw.items())) if raw else set()
    if isinstance(raw, list):
        return set().union(*(_sensitive_values(v, key) for v in raw)) if raw else set()
    if isinstance(raw, str) and key in _SENSITIVE_KEYS and len(raw.strip()) >= 3:
        return {raw.strip()}
    return set()


def _scrub(text: str, secrets: set[str]) -> str:
    for secret in sorted(secrets, key=len, reverse=True):
        text = text.replace(secret, "***")
    return text


def _problems(error: ValidationError, raw: Any) -> list[str]:
    clinics, patients = _items(raw, "clinics"), _items(raw, "patients")
    problems: list[str] = []
    for err in error.errors(include_url=False, include_input=False, include_context=False):
        loc, msg = error_location(err), str(err["msg"])
        for prefix in _MSG_PREFIXES:
            msg = msg.removeprefix(prefix)
        secrets: set[str] = set()
        if len(loc) >= 2 and loc[0] == "clinics" and isinstance(loc[1], int):
            where, rest = _clinic_label(clinics[loc[1]] if loc[1] < len(clinics) else None, loc[1]), loc[2:]
        elif len(loc) >= 2 and loc[0] == "patients" and isinstance(loc[1], int):
            where, rest = _patient_label(loc[1]), loc[2:]
            secrets = _sensitive_values(patients[loc[1]] if loc[1] < len(patients) else None)
        else:
            where, rest = (".".join(str(p) for p in loc) or "document"), ()
        field = ".".join(str(p) for p in rest)
        problems.append(_scrub(f"{where}: {field}: {msg}" if field else f"{where}: {msg}", secrets))
    return problems


def _duplicates(raw: Any) -> list[str]:
    problems: list[str] = []
    seen_clinics: dict[str, int] = {}
    for index, item in enumerate(_items(raw, "clinics")):
        clinic_id = item.get("clinic_id") if isinstance(item, dict) else None
        if not isinstance(clinic_id, str) or not is_system_id(clinic_id.strip()):
            continue
        first = seen_clinics.setdefault(clinic_id.strip(), index)
        if first != index:
            problems.append(
                f"{_clinic_label(item, index)}: clinic_id: appears more than once (first at clinics[{first}])"
            )
    seen_patients: dict[str, int] = {}
    for index, item in enumerate(_items(raw, "patients")):
        patient_id = item.get("patient_id") if isinstance(item, dict) else None
        if not isinstance(patient_id, str):
            continue
        try:
            canonical = parse_patient_id(patient_id).value
        except InvalidPatientId:
            continue
        first = seen_patients.setdefault(canonical, index)
        if first != index:
            problems.append(f"{_patient_label(index)}: patient_id: same patient as {_patient_label(first)}")
    return problems


_RECORD = re.compile(r"^(clinics|patients)\[(\d+)\]")


def _record_order(problem: str) -> tuple[int, int]:
    match = _RECORD.match(problem)
    if match is None:
        return (0, 0)
    return (1 if match.group(1) == "clinics" else 2, int(match.group(2)))


def validate_document(
    data: dict[str, Any] | str | bytes, model: type[DirectoryDocument] = DirectoryDocument
) -> DirectoryDocument:
    """Validate a whole directory document (as `model`: the HTTP edge passes its strict variant);
    raise `DirectoryLoadError` listing every problem."""
    raw = _parse_json(data) if isinstance(data, str | bytes) else data
    problems: list[str] = []
    document: DirectoryDocument | None = None
    try:
        document = model.model_validate(raw)
    except ValidationError as e:
        problems.extend(_problems(e, raw))
    problems.extend(_duplicates(raw))
    if problems or document is None:
        problems.sort(key=_record_order)  # stable: per record, in the order pydantic found them
        raise DirectoryLoadError(problems or ["document: could not be read"])
    return document
