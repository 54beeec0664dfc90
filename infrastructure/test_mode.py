"""Test mode (issue 26, item 4; docs/test-mode.md): test keys' workflows run in a namespace of their
own (`Settings.test_mode_namespace`, default `<namespace>-test`), the same workflow code on the same
task queue name, worked by a second `Worker` whose activities send through the SMS simulator
(`adapters.sms_simulator`) and put 1177 messages and letters in a folder of their own: test traffic
never reaches a patient, the live outbox, the live SMS ledger or the live provider (with 46elks: only
`dryrun=yes`). Its events go to test clients' webhooks only; live events never to theirs.

The namespace isolates ids completely: a test booking `B1` is another workflow than the live `B1`.
"""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from pathlib import Path

import structlog
from temporalio.api.workflowservice.v1 import DescribeNamespaceRequest
from temporalio.client import Client
from temporalio.service import RPCError, RPCStatusCode

from adapters.inbox import SqliteInbox
from adapters.letters import build_letters
from adapters.mailbox import SqliteMailbox
from adapters.sms import SqliteOutbox
from adapters.sms_elks import ElksSmsGateway
from adapters.sms_ledger import SqliteSentLedger
from adapters.sms_simulator import SmsSimulator
from contracts.events import delivery_event
from contracts.workflow_ids import parse_sms_key
from domain.status import Delivery, DeliveryReport
from infrastructure.config import Settings
from infrastructure.events import TemporalEventPublisher, running_on
from infrastructure.stores import ELKS_TIMEOUT_S, Stores
from infrastructure.worker_setup import Activities
from workflows.reminder.process import Reminder

log = structlog.get_logger(__name__)

SIGNAL_TIMEOUT_S = 30.0


class TestModeOff(Exception):
    """503: test mode is off (no test namespace); the message says what to do."""

    __test__ = False  # not a pytest class


def test_data_dir(settings: Settings) -> Path:
    """Where test traffic's simulated SMS, 1177 messages and letters are kept: apart from the live ones."""
    return settings.data_dir / "test-mode"


async def test_client(live: Client, settings: Settings) -> Client | None:
    """A client of the test namespace on the live client's connection (same data converter); None when
    test mode is off or the namespace does not exist (`starter.py admin prepare-namespace` makes it)."""
    namespace = settings.test_mode_namespace
    if namespace is None:
        return None
    try:
        await live.workflow_service.describe_namespace(DescribeNamespaceRequest(namespace=namespace))
    except RPCError as err:
        if err.status is RPCStatusCode.NOT_FOUND:
            return None
        raise
    return Client(live.service_client, namespace=namespace, data_converter=live.data_converter)


def off_reason(settings: Settings) -> str:
    """Why test mode is off, and what to do (the worker's log line, the API's 503)."""
    namespace = settings.test_mode_namespace
    if namespace is None:
        return "test mode is switched off here (PM_TEST_NAMESPACE=off)"
    return (
        f"test mode is off: the namespace '{namespace}' does not exist;"
        " run `starter.py admin prepare-namespace`"
    )


class SimulatedDeliveries:
    """The simulator's delivery reports (`adapters.sms_simulator.DeliveryReporter`), told as the
    provider's callback would: the event (`message.delivered` / `.undelivered`) to the test clients'
    webhooks, then the signal `delivery_report` to the reminder. Called from an activity's thread; the
    signal goes through the test client on its event loop (`bind`)."""

    def __init__(self, publisher: TemporalEventPublisher) -> None:
        self._publisher = publisher
        self._client: Client | None = None
        self._loop: asyncio.AbstractEventLoop | None = None

    def bind(self, client: Client) -> None:
        self._client, self._loop = client, asyncio.get_running_loop()

    def __call__(self, key: str, status: Delivery) -> None:
        report = DeliveryReport(key=key, status=status, at=_now())
        event = delivery_event(key, status, report.at)
        self._publisher.publish([event] if event else [])
        parsed = parse_sms_key(key)
        client, loop = self._client, self._loop
        if parsed is None or client is None or loop is None or running_on(loop):
            log.warning("simulated_delivery_not_told", key=key)
            return
        signal = client.get_workflow_handle(parsed.workflow_id).signal(Reminder.delivery_report, report)
        told = asyncio.run_coroutine_threadsafe(signal, loop)
        try:
            told.result(timeout=SIGNAL_TIMEOUT_S)
        except Exception as err:  # the reminder ended, or Temporal did not answer: the send stands
            told.cancel()
            log.warning("simulated_delivery_not_told", key=key, error=type(err).__name__)


def test_activities(
    settings: Settings, stores: Stores, publisher: TemporalEventPublisher, reports: SimulatedDeliveries
) -> Activities:
    """The test worker's activities: the same directory, the simulator for SMS (46elks with `dryrun`
    when that is the configured provider, with a ledger of its own), the embedded 1177 inbox and the
    letters in `test_data_dir`, events to test clients' webhooks."""
    folder = test_data_dir(settings)
    passthrough = None
    if settings.sms_gateway == "46elks" and settings.elks_username and settings.elks_password:
        ledger = SqliteSentLedger(str(folder / "sms-ledger.sqlite3"))
        passthrough = ElksSmsGateway(
            settings.elks_url,
            settings.elks_username,
            settings.elks_password,
            ledger,
            timeout=ELKS_TIMEOUT_S,
            rate=settings.sms_rate_limit,
            dryrun=True,
            history_wait=timedelta(0),  # a dry run sends nothing and never shows in the history: no wait
        )
    simulator = SmsSimulator(SqliteOutbox(str(folder / "simulated-sms.sqlite3")), passthrough, reports)
    return Activities.wired(
        stores.directory,
        simulator,
        settings.sms_sender,
        SqliteInbox(str(folder / "inbox-1177.sqlite3")),
        build_letters(folder),
        mailbox=SqliteMailbox(str(folder / "mailbox.sqlite3")),
        webhooks=stores.webhooks,
        publisher=publisher,
        admits=lambda client_id: client_id in stores.api_keys.test_clients(),
    )


def _now() -> datetime:
    return datetime.now(UTC)
