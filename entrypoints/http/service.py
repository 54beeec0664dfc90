"""What every route of the HTTP API shares: the Temporal client, the stores, the settings, and the
audit trail of each call that reads or changes a patient's messages."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import UTC, datetime

from fastapi import Request
from temporalio.client import Client

import application as app
from adapters.audit import AuditRecord
from entrypoints.http.auth import Caller
from entrypoints.http.problems import status_and_detail
from infrastructure.config import Settings
from infrastructure.stores import Stores


@dataclass
class AuditEntry:
    clinic_id: str | None


@dataclass
class Service:
    settings: Settings
    stores: Stores
    client: Client

    @asynccontextmanager
    async def on_workflow(self, who: Caller, action: str, workflow_id: str) -> AsyncIterator[app.Status]:
        """An audited call on an existing workflow, once the caller is known to act for its clinic
        (else 403): the check before any call on an existing workflow. The audit record names the
        clinic."""
        async with self.audited(who, action, workflow_id) as entry:
            found = await app.status(self.client, workflow_id)
            entry.clinic_id = found.clinic_id
            who.require_clinic(found.clinic_id or "")  # an older worker's group status has no clinic
            yield found

    @asynccontextmanager
    async def audited(
        self, caller: Caller, action: str, workflow_id: str | None = None, clinic_id: str | None = None
    ) -> AsyncIterator[AuditEntry]:
        """Record the call (who, what, when, outcome; never patient data), refused or not; the body
        may name the clinic once it knows it."""
        outcome = "ok"
        entry = AuditEntry(clinic_id)
        try:
            yield entry
        except Exception as err:
            found = status_and_detail(err)
            outcome = f"refused:{found[0]}" if found else "error"
            raise
        finally:
            record = AuditRecord(
                at=datetime.now(UTC),
                actor=caller.client_id,
                action=action,
                workflow_id=workflow_id,
                clinic_id=entry.clinic_id,
                outcome=outcome,
            )
            await asyncio.to_thread(self.stores.audit.record, record)


def service(request: Request) -> Service:
    """FastAPI dependency: the service of this app."""
    return request.app.state.service
