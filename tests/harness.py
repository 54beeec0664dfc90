"""A worker with its own embedded directory and outbox on a test server, and helpers to drive it."""

from __future__ import annotations

import asyncio
import json
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from concurrent.futures import ThreadPoolExecutor
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from pathlib import Path
from typing import Any, TypeVar

from temporalio.client import WorkflowHandle
from temporalio.service import RPCError
from temporalio.testing import WorkflowEnvironment
from temporalio.worker import Worker

import application as app
from adapters.directory import SqliteDirectory
from adapters.inbox import SqliteInbox
from adapters.letters import PdfLetterOutbox
from adapters.mailbox import SqliteMailbox
from adapters.replies import Replies
from adapters.sms import SmsGateway, SqliteOutbox
from adapters.webhooks import SqliteWebhooks, Webhooks
from contracts.workflow_ids import IdKind, IssuedId, parse_workflow_id
from demo import data as fx
from domain.booking import GroupBooking, VisitBooking
from domain.status import ReminderStatus
from domain.timing import at_local, local_date
from infrastructure.events import TemporalEventPublisher
from infrastructure.worker_setup import MAX_CONCURRENT_ACTIVITIES, Activities, build_worker
from security.keyring import Keyring
from tests.histories.names import patches_taken
from workflows.group_booking import GroupBookingWorkflow
from workflows.reminder.generations import VisitReminderV2

T = TypeVar("T")


class Harness:
    def __init__(self, env: WorkflowEnvironment, tmp_path: Path, document: dict[str, Any]) -> None:
        self.env = env
        self.client = env.client
        self.directory = SqliteDirectory(tmp_path / "directory.sqlite3")
        self.directory.load_document(document)
        self.outbox = SqliteOutbox(tmp_path / "outbox.sqlite3")
        self.inbox = SqliteInbox(tmp_path / "inbox-1177.sqlite3")
        self.mailbox = SqliteMailbox(tmp_path / "mailbox.sqlite3")
        self.letters = PdfLetterOutbox(tmp_path / "letters", compress=False)
        self.webhooks: Webhooks = SqliteWebhooks(tmp_path / "webhooks.sqlite3")
        keyring = Keyring.generate()
        self.webhooks.keyring = lambda: keyring
        self.task_queue = f"test-{uuid.uuid4()}"
        self._today: date | None = None

    @asynccontextmanager
    async def worker(
        self,
        sms: SmsGateway | None = None,
        sticky: bool = True,
        webhooks: Webhooks | None = None,
        replies: Replies | None = None,
    ) -> AsyncIterator[Worker]:
        """Run a worker, its workflows in the sandbox (the guard of the unsandboxed production worker);
        `sticky=False` keeps no workflow cache, so that a stopped worker leaves no sticky task queue
        behind (the time-skipping server would wait on it forever). Its events go to the webhooks of
        `webhooks` (the harness's own store unless given); with `replies`, a clinic's reply number sends
        its reminders (issue 28)."""
        webhooks = webhooks or self.webhooks
        publisher = TemporalEventPublisher(webhooks, self.task_queue)
        publisher.bind(self.client)
        activities = Activities.wired(
            self.directory,
            sms or self.outbox,
            "Varden",
            self.inbox,
            self.letters,
            mailbox=self.mailbox,
            webhooks=webhooks,
            publisher=publisher,
            replies=replies,
        )
        with ThreadPoolExecutor(max_workers=MAX_CONCURRENT_ACTIVITIES) as executor:
            cache = 1000 if sticky else 0
            async with build_worker(
                self.client, self.task_queue, activities, executor, max_cached_workflows=cache, sandboxed=True
            ) as worker:
                yield worker

    async def now(self) -> datetime:
        return await self.env.get_current_time()

    async def local(self, days: int, hour: int, minute: int = 0) -> datetime:
        """A Stockholm local time `days` calendar days after the test's first day (fixed at first use)."""
        if self._today is None:
            self._today = local_date(await self.now())
        return at_local(self._today + timedelta(days=days), time(hour, minute))

    async def sleep_until(self, moment: datetime) -> None:
        delta = moment - await self.now()
        if delta > timedelta(0):
            await self.env.sleep(delta)

    async def book(self, booking: VisitBooking) -> WorkflowHandle[Any, Any]:
        workflow_id = (
            await app.book_visit(self.client, self.task_queue, self.directory, booking)
        ).workflow_id
        return self.client.get_workflow_handle_for(VisitReminderV2.run, workflow_id)

    async def book_group(self, group: GroupBooking) -> WorkflowHandle[Any, Any]:
        workflow_id = (await app.book_group(self.client, self.task_queue, self.directory, group)).workflow_id
        return self.client.get_workflow_handle_for(GroupBookingWorkflow.run, workflow_id)

    async def started_as(self, workflow_id: str) -> tuple[str, list[str]]:
        """The type a workflow was started as and the patches its history took so far (empty if it
        has not started yet)."""
        try:
            history = await self.client.get_workflow_handle(workflow_id).fetch_history()
        except RPCError:
            return "", []
        started = history.events[0].workflow_execution_started_event_attributes
        return started.workflow_type.name, patches_taken(history)

    async def status(self, handle: WorkflowHandle[Any, Any]) -> ReminderStatus:
        return await handle.query("status", result_type=ReminderStatus)

    async def settled(
        self, handle: WorkflowHandle[Any, Any], done: Callable[[ReminderStatus], bool]
    ) -> ReminderStatus:
        """Poll the status until `done` holds (activities run in real time after a time jump)."""
        return await eventually(lambda: self.status(handle), done)

    def sent_to(self) -> list[str]:
        return [m.to for m in self.outbox.messages()]


def target(workflow_id: str, clinic_id: str = fx.CLINIC_CONNECTED) -> app.Target:
    """What a door would name for the workflow a test holds: its issued id at its clinic (for an id from
    before ids were scoped, at `clinic_id`, where it is found as that clinic's own)."""
    parsed = parse_workflow_id(workflow_id)
    if parsed is None:
        return app.Target(IssuedId(IdKind.REQUEST, workflow_id), (clinic_id,))  # an id nobody issued
    return app.Target(parsed.issued, (parsed.clinic_id or clinic_id,))


async def eventually(
    probe: Callable[[], Awaitable[T]], done: Callable[[T], bool], timeout: float = 15.0
) -> T:
    deadline = asyncio.get_running_loop().time() + timeout
    while True:
        value = await probe()
        if done(value) or asyncio.get_running_loop().time() > deadline:
            return value
        await asyncio.sleep(0.1)


@dataclass
class HistoryShape:
    """What a workflow's history costs the server: its workflow tasks, the activities it scheduled, the
    local activities it recorded, its markers (local activities and patches), the search attributes
    of each upsert, and the attributes its start came with."""

    workflow_tasks: int
    activities: list[str]
    local_activities: list[str]
    markers: list[str]
    upserts: list[set[str]]
    started_with: set[str]


async def history_shape(handle: WorkflowHandle[Any, Any]) -> HistoryShape:
    events = [e async for e in handle.fetch_history_events()]
    return HistoryShape(
        workflow_tasks=sum(e.HasField("workflow_task_completed_event_attributes") for e in events),
        activities=[
            e.activity_task_scheduled_event_attributes.activity_type.name
            for e in events
            if e.HasField("activity_task_scheduled_event_attributes")
        ],
        local_activities=[
            json.loads(e.marker_recorded_event_attributes.details["data"].payloads[0].data)["activity_type"]
            for e in events
            if e.marker_recorded_event_attributes.marker_name == "core_local_activity"
        ],
        markers=[
            e.marker_recorded_event_attributes.marker_name
            for e in events
            if e.HasField("marker_recorded_event_attributes")
        ],
        upserts=[
            set(e.upsert_workflow_search_attributes_event_attributes.search_attributes.indexed_fields)
            for e in events
            if e.HasField("upsert_workflow_search_attributes_event_attributes")
        ],
        started_with=set(
            events[0].workflow_execution_started_event_attributes.search_attributes.indexed_fields
        ),
    )


def patient_data() -> list[str]:
    """Every personnummer, name and mobile number of the demo directory, in the spellings a body might
    hold them."""
    found: list[str] = []
    for patient in fx.demo_document()["patients"]:
        pnr = patient["patient_id"]
        found += [pnr, pnr.replace("-", ""), pnr[2:]]
        for person in [patient, *patient.get("guardians", [])]:
            found += [v for k, v in person.items() if "name" in k and isinstance(v, str)]
            if mobile := person.get("mobile"):
                found += [mobile, mobile.replace("-", ""), fx.e164(mobile)]
    return [f for f in found if f]


def assert_no_patient_data(bodies: list[str]) -> None:
    for body in bodies:
        for datum in patient_data():
            assert datum not in body, "an event body holds patient data"
