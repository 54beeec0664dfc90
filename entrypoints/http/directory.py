"""REST v1: the directory document of SPEC §5 (clinics, receptions, patients, consents), written to
the service's store that every worker reads. Only a client acting for every clinic (`*`) may.

The document is checked as the strict variant of its model first (`entrypoints.strict`): an
unknown field or a flag that is no JSON boolean is one more of the problems listed, and nothing is
written."""

from __future__ import annotations

import asyncio
from typing import Annotated, Any

from fastapi import APIRouter, Body, Depends

from adapters.directory import LoadSummary, validate_document
from domain.directory import DirectoryDocument
from entrypoints.http.auth import ALL_CLINICS, Caller, caller
from entrypoints.http.service import Service, service
from entrypoints.strict import strict

router = APIRouter(prefix="/v1", tags=["directory"])
STRICT_DOCUMENT = strict(DirectoryDocument)


@router.put("/directory", response_model=LoadSummary)
async def load_directory(
    document: Annotated[
        dict[str, Any],
        Body(description="a directory document (SPEC §5); unknown fields and non-boolean flags are refused"),
    ],
    who: Annotated[Caller, Depends(caller)],
    svc: Annotated[Service, Depends(service)],
) -> LoadSummary:
    """Load or update the directory: the whole document or nothing (every problem in one answer)."""
    async with svc.audited(who, "directory.load"):
        who.require_clinic(ALL_CLINICS)
        await asyncio.to_thread(validate_document, document, STRICT_DOCUMENT)
        return await asyncio.to_thread(svc.stores.directory.load_document, document)
