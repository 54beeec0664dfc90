"""The worker: runs the reminder workflows and their activities on task queue `patient-messaging`."""

from __future__ import annotations

import asyncio
import contextlib
from concurrent.futures import ThreadPoolExecutor

import structlog
from pydantic import ValidationError
from temporalio.client import Client
from temporalio.worker import Worker
from temporalio.worker.workflow_sandbox import SandboxedWorkflowRunner, SandboxRestrictions

from activities.invitations import InvitationActivities
from activities.reminders import ReminderActivities
from config import Settings
from connection import connect_client, metrics_runtime
from domain.types import describe_validation_error
from logging_setup import configure_logging
from security.keyring import KeyringError, MissingKeyError
from services.directory import SqliteDirectory
from services.inbox import InboxSettings, build_inbox
from services.letters import build_letters
from services.sms import SmsSettings, build_sms_gateway
from workflows.care_invitation import CareInvitationWorkflow
from workflows.group_booking import GroupBookingWorkflow
from workflows.sms_reminder import SmsReminderWorkflow

log = structlog.get_logger(__name__)

WORKFLOWS = [SmsReminderWorkflow, GroupBookingWorkflow, CareInvitationWorkflow]
MAX_CONCURRENT_ACTIVITIES = 32


def workflow_runner() -> SandboxedWorkflowRunner:
    """The sandbox, with its restrictions on non-deterministic calls, but without re-importing the
    workflow modules for every workflow run (that cost a third of the worker's CPU). Safe here because
    the workflow modules hold constants and classes only and import everything else passed through."""
    return SandboxedWorkflowRunner(restrictions=SandboxRestrictions.default.with_passthrough_all_modules())


def reminder_activities(settings: Settings) -> ReminderActivities:
    """The activities wired to the embedded directory and the configured SMS gateway."""
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    sms = build_sms_gateway(
        SmsSettings(
            gateway=settings.sms_gateway,
            data_dir=settings.data_dir,
            elks_url=settings.elks_url,
            elks_username=settings.elks_username,
            elks_password=settings.elks_password,
        )
    )
    return ReminderActivities(SqliteDirectory(settings.directory_path), sms, settings.sms_sender)


def invitation_activities(settings: Settings) -> InvitationActivities:
    """The activities wired to the embedded directory, the configured 1177 inbox and the letters folder."""
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    inbox = build_inbox(
        InboxSettings(
            kind=settings.inbox,
            data_dir=settings.data_dir,
            url=settings.inbox_url,
            token=settings.inbox_token,
        )
    )
    return InvitationActivities(
        SqliteDirectory(settings.directory_path), inbox, build_letters(settings.data_dir)
    )


def build_worker(
    client: Client,
    task_queue: str,
    reminders: ReminderActivities,
    invitations: InvitationActivities,
    executor: ThreadPoolExecutor,
    *,
    max_cached_workflows: int,
    activities_per_second: float | None = None,
) -> Worker:
    """The worker of all workflows and activities. `activities_per_second` caps the activities of the
    whole task queue, server-side: the SMS provider's rate (the 09:00 storm). With the directory reads
    as local activities, what it counts are the sends: SMS, 1177 messages and letters."""
    return Worker(
        client,
        task_queue=task_queue,
        workflows=WORKFLOWS,
        activities=[
            reminders.load_clinic,
            reminders.plan_recipients,
            reminders.send_reminder_sms,
            invitations.send_invitation_message,
        ],
        activity_executor=executor,
        max_concurrent_activities=MAX_CONCURRENT_ACTIVITIES,
        max_cached_workflows=max_cached_workflows,
        workflow_runner=workflow_runner(),
        max_task_queue_activities_per_second=activities_per_second,
    )


async def main() -> None:
    try:
        settings = Settings.from_env()
    except ValidationError as err:  # e.g. PM_SMS_SENDER that the provider would refuse
        configure_logging()
        log.error("worker_refused_to_start", reason=describe_validation_error(err))
        raise SystemExit(2) from None
    configure_logging(settings.log_format)
    try:
        client = await connect_client(settings, runtime=metrics_runtime(settings))
    except (MissingKeyError, KeyringError) as err:  # no silent plaintext outside local mode
        log.error("worker_refused_to_start", reason=str(err))
        raise SystemExit(2) from None
    with ThreadPoolExecutor(max_workers=MAX_CONCURRENT_ACTIVITIES) as executor:
        worker = build_worker(
            client,
            settings.task_queue,
            reminder_activities(settings),
            invitation_activities(settings),
            executor,
            max_cached_workflows=settings.max_cached_workflows,
            activities_per_second=settings.sms_rate_limit,
        )
        log.info(
            "worker_started",
            task_queue=settings.task_queue,
            namespace=settings.namespace,
            metrics=settings.metrics_bind,
            activities_per_second=settings.sms_rate_limit,
        )
        await worker.run()


if __name__ == "__main__":
    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(main())
