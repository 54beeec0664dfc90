"""REST v1: the directory document of SPEC §5 (clinics, receptions, patients, consents), loaded into
the service's store that every worker reads (`application.load_directory`). Only a client acting for
every clinic (`*`) may.

The document is checked as the strict variant of its model first (`entrypoints.strict`): an
unknown field or a flag that is no JSON boolean is one more of the problems listed, and nothing is
written."""

from __future__ import annotations

import asyncio
from typing import Annotated, Any

from fastapi import APIRouter, Body, Depends

import application
from domain.directory import DirectoryDocument
from entrypoints.http.openapi import refusals
from entrypoints.shared.auth import ALL_CLINICS, Caller, Forbidden, caller
from entrypoints.shared.context import RequestContext, caller_context
from entrypoints.strict import strict

router = APIRouter(prefix="/v1", tags=["directory"])
STRICT_DOCUMENT = strict(DirectoryDocument)


@router.put(
    "/directory",
    response_model=application.LoadSummary,
    responses=refusals(
        (403, "only a live client acting for every clinic (`*`) may load the directory (a test key may not)")
    ),
)
async def load_directory(
    document: Annotated[
        dict[str, Any],
        Body(description="a directory document (SPEC §5); unknown fields and non-boolean flags are refused"),
    ],
    who: Annotated[Caller, Depends(caller)],
    ctx: Annotated[RequestContext, Depends(caller_context)],
) -> application.LoadSummary:
    """Load or update the directory: the whole document or nothing (every problem in one answer)."""
    async with ctx.audited(who, "directory.load"):
        if who.test:  # the directory is the live data of every clinic (docs/test-mode.md)
            raise Forbidden("a test key may not load the directory: it is live data; use a live key")
        who.require_clinic(ALL_CLINICS)
        return await asyncio.to_thread(
            application.load_directory, ctx.stores.directory, document, STRICT_DOCUMENT
        )
