"""The worker: runs the workflows and their activities on task queue `patient-messaging`.

python worker.py    (settings from the environment: README, Configuration)
"""

from __future__ import annotations

import asyncio
import contextlib
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import psycopg
import structlog
from pydantic import ValidationError

from domain.types import describe_validation_error
from infrastructure import test_mode, worker_setup
from infrastructure.config import Settings
from infrastructure.events import TemporalEventPublisher
from infrastructure.logging_setup import configure_logging
from infrastructure.stores import SchemaOutOfDateError, Stores
from infrastructure.temporal_client import connect_client, metrics_runtime
from security.files import private_process, tighten
from security.keyring import KeyringError, MissingKeyError

log = structlog.get_logger(__name__)


async def main() -> None:
    private_process()  # before anything is written: every file 0600, every folder 0700
    try:
        settings = Settings.from_env()
    except ValidationError as err:  # e.g. PM_SMS_SENDER that the provider would refuse
        configure_logging()
        log.error("worker_refused_to_start", reason=describe_validation_error(err))
        raise SystemExit(2) from None
    configure_logging(settings.log_format)
    tighten(settings.data_dir)
    stores = Stores(settings)
    try:
        stores.require_current_schema()
        publisher = TemporalEventPublisher(stores.webhooks, settings.task_queue)
        activities = worker_setup.activities_for(settings, stores, publisher)
    except (SchemaOutOfDateError, ValueError, OSError, psycopg.Error) as err:
        log.error("worker_refused_to_start", reason=str(err).splitlines()[0])
        raise SystemExit(2) from None
    try:
        client = await connect_client(settings, runtime=metrics_runtime(settings))
    except (MissingKeyError, KeyringError, ConnectionError) as err:  # no silent plaintext outside local mode
        log.error("worker_refused_to_start", reason=str(err))
        stores.close()
        raise SystemExit(2) from None
    publisher.bind(client)  # the SMS activities' events start their deliveries through this client
    tester = await test_mode.test_client(client, settings)
    with ThreadPoolExecutor(max_workers=worker_setup.MAX_CONCURRENT_ACTIVITIES) as executor:
        options: dict[str, Any] = {
            "max_cached_workflows": settings.max_cached_workflows,
            "sandboxed": settings.workflow_sandbox,
            "sticky_timeout": settings.sticky_queue_timeout,
            "poller_autoscaling": settings.poller_autoscaling,
        }
        workers = [worker_setup.build_worker(client, settings.task_queue, activities, executor, **options)]
        if tester is None:
            log.warning("test_mode_off", reason=test_mode.off_reason(settings))
        else:  # the same workflows on the same task queue name, in the test namespace (docs/test-mode.md)
            test_events = TemporalEventPublisher(stores.webhooks, settings.task_queue)
            test_events.bind(tester)
            reports = test_mode.SimulatedDeliveries(test_events)
            reports.bind(tester)
            simulated = test_mode.test_activities(settings, stores, test_events, reports)
            queue = settings.task_queue
            workers.append(worker_setup.build_worker(tester, queue, simulated, executor, **options))
            log.info("test_mode_on", namespace=tester.namespace)
        log.info(
            "worker_started",
            task_queue=settings.task_queue,
            namespace=settings.namespace,
            metrics=settings.metrics_bind,
            sms_rate_limit=settings.sms_rate_limit,
            sticky_timeout=settings.sticky_timeout,
            poller_autoscaling=settings.poller_autoscaling,
            workflow_sandbox=settings.workflow_sandbox,
            stores="postgresql" if settings.database_url else "sqlite",
        )
        try:
            await asyncio.gather(*(worker.run() for worker in workers))
        finally:
            stores.close()


if __name__ == "__main__":
    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(main())
