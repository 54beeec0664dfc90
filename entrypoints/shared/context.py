"""What every route of the HTTP API and of the staff page shares: the Temporal client, the stores, the
settings, and the audit trail of each call that reads or changes a patient's messages."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from typing import Annotated

from fastapi import Depends, Request, Response
from temporalio.client import Client

import application
from contracts.events import EventPublisher, NoEvents
from contracts.workflow_ids import IssuedId
from entrypoints.shared.auth import ALL_CLINICS, Caller, caller
from entrypoints.shared.problems import status_and_detail
from infrastructure import test_mode
from infrastructure.config import Settings
from infrastructure.stores import Stores

TEST_MODE_HEADER = "Pm-Test-Mode"
"""On every answer to a test key's call: the workflows it names are test traffic (docs/test-mode.md)."""


@dataclass
class AuditEntry:
    """The audit row of one call, told its workflow and clinic once they are known
    (`application.Finding`)."""

    clinic_id: str | None
    workflow_id: str | None = None

    def found(self, workflow_id: str, clinic_id: str) -> None:
        self.workflow_id, self.clinic_id = workflow_id, clinic_id


@dataclass
class RequestContext:
    """What a request of either door works with: the settings, the stores, the Temporal client, where
    events go (`events`: the delivery reports'); and its audit row (`audited`, `on_workflow`). One per
    app, handed to each route (`request_context`)."""

    settings: Settings
    stores: Stores
    client: Client
    events: EventPublisher = field(default_factory=NoEvents)
    namespace: str | None = None  # set for test traffic: the test namespace, as its audit rows name it
    _test: RequestContext | None = field(default=None, repr=False)

    async def for_test(self) -> RequestContext:
        """The context of a test key's calls: the same, with a client of the test namespace (made at
        the first test call; `TestModeOff`, 503, while that namespace does not exist)."""
        if self._test is None:
            client = await test_mode.test_client(self.client, self.settings)
            if client is None:
                raise test_mode.TestModeOff(test_mode.off_reason(self.settings))
            self._test = replace(self, client=client, namespace=client.namespace)
        return self._test

    @asynccontextmanager
    async def on_workflow(
        self, who: Caller, action: str, issued: IssuedId, clinic_id: str | None = None
    ) -> AsyncIterator[application.Target]:
        """An audited call on the workflow of an issued id at the caller's clinics (or at `clinic_id`,
        one of them): the target the use case looks up. An id only another clinic issued is unknown
        there (404), as is one nobody issued. The audit record names the workflow and its clinic once
        found."""
        clinics = await self.clinics_of(who, clinic_id)
        async with self.audited(who, action, *application.asked_for(issued, clinics, clinic_id)) as entry:
            yield application.Target(issued, tuple(clinics), seen=entry)

    async def clinics_of(self, who: Caller, clinic_id: str | None = None) -> list[str]:
        """The clinics whose ids the caller may look up: `clinic_id` if it is one of theirs (none
        otherwise), else all of theirs (a caller for every clinic: the directory's)."""
        if clinic_id is not None:
            return [clinic_id] if who.may_act_for(clinic_id) else []
        if who.all_clinics:
            return await asyncio.to_thread(application.clinic_ids, self.stores.directory)
        return sorted(who.clinics)

    @asynccontextmanager
    async def audited(
        self, caller: Caller, action: str, workflow_id: str | None = None, clinic_id: str | None = None
    ) -> AsyncIterator[AuditEntry]:
        """Record the call (who, what, when, outcome; never patient data), refused or not; the body
        may name the clinic once it knows it. A call that never learnt its clinic (an id looked up at
        several clinics and found at none, a refusal before the body named one) is recorded with
        the clinics it was asked at: the caller's (`*` for a caller acting for every clinic)."""
        outcome = "ok"
        entry = AuditEntry(clinic_id, workflow_id)
        try:
            yield entry
        except Exception as err:
            found = status_and_detail(err)
            outcome = f"refused:{found[0]}" if found else "error"
            raise
        finally:
            record = application.AuditRecord(
                at=datetime.now(UTC),
                actor=caller.client_id,
                action=action,
                workflow_id=entry.workflow_id,
                clinic_id=entry.clinic_id or caller_clinics(caller),
                outcome=outcome,
                namespace=self.namespace,
            )
            await asyncio.to_thread(self.stores.audit.record, record)


def caller_clinics(caller: Caller) -> str | None:
    """The clinics a caller acts for, as an audit row names them: `*`, one, or several joined by commas."""
    return ALL_CLINICS if caller.all_clinics else ",".join(sorted(caller.clinics)) or None


def request_context(request: Request) -> RequestContext:
    """FastAPI dependency: the context of this app's requests (live traffic: the staff page)."""
    return request.app.state.context


async def caller_context(
    request: Request, response: Response, who: Annotated[Caller, Depends(caller)]
) -> RequestContext:
    """FastAPI dependency of the API's routes: the context of the caller's traffic, live or, for a test
    key, test (the test namespace; answers carry `Pm-Test-Mode: true`)."""
    ctx: RequestContext = request.app.state.context
    if not who.test:
        return ctx
    response.headers[TEST_MODE_HEADER] = "true"
    return await ctx.for_test()
