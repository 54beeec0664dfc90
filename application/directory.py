"""Use cases of the directory (SPEC §5): load or update it from a document, withdraw a consent (S9),
and which clinics it holds. The doors hand over the document as they received it."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from adapters import directory as adapters_directory
from adapters.directory import LoadSummary, SqlDirectory, validate_document
from domain.directory import DirectoryDocument


def load_directory(
    directory: SqlDirectory, document: dict[str, Any], checked_as: type[DirectoryDocument] = DirectoryDocument
) -> LoadSummary:
    """Load a whole document or nothing: checked first as `checked_as` (the HTTP door's strict
    variant), every problem in one `DirectoryLoadError`."""
    validate_document(document, checked_as)
    return directory.load_document(document)


def load_directory_file(directory: SqlDirectory, path: Path) -> LoadSummary:
    """Load a JSON directory document from a file (a syntax error is reported by line and column)."""
    return adapters_directory.load_directory_file(path, directory)


def withdraw_consent(directory: SqlDirectory, patient_id: str, clinic_id: str | None) -> int:
    """S9: withdraw a patient's SMS consent: the clinic's (given in VAS), or without a clinic the one
    given in 1177; returns how many consents were withdrawn."""
    source = "1177" if clinic_id is None else "VAS"
    return directory.withdraw_consent(patient_id, clinic_id, source, datetime.now(UTC))


def clinic_ids(directory: SqlDirectory) -> list[str]:
    """Every clinic of the directory, by id."""
    return [clinic.clinic_id for clinic in directory.clinics()]
