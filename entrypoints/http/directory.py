"""REST v1: the directory document of SPEC §5 (clinics, receptions, patients, consents), written to
the service's store that every worker reads. Only a client acting for every clinic (`*`) may."""

from __future__ import annotations

import asyncio
from typing import Annotated, Any

from fastapi import APIRouter, Body, Depends

from adapters.directory import LoadSummary
from entrypoints.http.auth import ALL_CLINICS, Caller, caller
from entrypoints.http.service import Service, service

router = APIRouter(prefix="/v1", tags=["directory"])


@router.put("/directory", response_model=LoadSummary)
async def load_directory(
    document: Annotated[dict[str, Any], Body(description="a directory document (SPEC §5)")],
    who: Annotated[Caller, Depends(caller)],
    svc: Annotated[Service, Depends(service)],
) -> LoadSummary:
    """Load or update the directory: the whole document or nothing (every problem in one answer)."""
    async with svc.audited(who, "directory.load"):
        who.require_clinic(ALL_CLINICS)
        return await asyncio.to_thread(svc.stores.directory.load_document, document)
