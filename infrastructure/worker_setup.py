"""The worker's assembly: its workflows, its activities wired to the configured adapters, its options
(the composition root every worker process, the tests and the benchmarks share)."""

from __future__ import annotations

from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from temporalio.client import Client
from temporalio.worker import PollerBehaviorAutoscaling, UnsandboxedWorkflowRunner, Worker, WorkflowRunner
from temporalio.worker.workflow_sandbox import SandboxedWorkflowRunner

from activities.directory_reads import DirectoryActivities
from activities.events import EventActivities
from activities.invitations import InvitationActivities
from activities.reminders import ReminderActivities
from activities.replies import ReplyActivities
from adapters.directory import Directory
from adapters.inbox import Inbox
from adapters.letters import LetterService, build_letters
from adapters.mailbox import DigitalMailbox
from adapters.replies import Replies
from adapters.sms import SmsGateway
from adapters.webhook_sender import HttpWebhookSender
from adapters.webhooks import Webhooks, WebhookSender
from contracts.events import EventPublisher, NoEvents
from infrastructure.config import Settings
from infrastructure.stores import Stores, inbox, mailbox, sms_gateway
from workflows.events import EventDelivery
from workflows.group_booking import GroupBookingWorkflow
from workflows.reminder.generations import REMINDER_TYPES
from workflows.request.generations import REQUEST_TYPES

WORKFLOWS = [*REMINDER_TYPES, GroupBookingWorkflow, *REQUEST_TYPES, EventDelivery]
MAX_CONCURRENT_ACTIVITIES = 32


def workflow_runner(sandboxed: bool) -> WorkflowRunner:
    """Production runs the workflows unsandboxed (22–24 % less worker CPU per reminder, issue 13); tests
    run them in the SDK's sandbox with its default restrictions, which re-imports the workflow modules
    for every run and refuses clocks, randomness and I/O at run time. The whole guard that takes the
    sandbox's place is in docs/changing-workflows.md."""
    return SandboxedWorkflowRunner() if sandboxed else UnsandboxedWorkflowRunner()


@dataclass(frozen=True)
class Activities:
    """Every activity of the worker, each class bound to the services it uses (tests swap these)."""

    directory_reads: DirectoryActivities
    reminders: ReminderActivities
    invitations: InvitationActivities
    events: EventActivities
    replies: ReplyActivities

    @classmethod
    def wired(
        cls,
        directory: Directory,
        sms: SmsGateway,
        sender: str,
        inbox: Inbox,
        letters: LetterService,
        *,
        mailbox: DigitalMailbox,
        webhooks: Webhooks | None = None,
        publisher: EventPublisher | None = None,
        webhook_sender: WebhookSender | None = None,
        admits: Callable[[str], bool] | None = None,
        replies: Replies | None = None,
    ) -> Activities:
        """Without `webhooks` no clinic has a webhook; without `publisher` no event leaves; without
        `replies` no SMS is sent from a reply number (issue 28); `admits`: which clients' webhooks this
        traffic's events go to (all without it). `directory` also takes the consents a "STOPP" reply
        withdraws (`adapters.directory.ConsentRecords`)."""
        return cls(
            directory_reads=DirectoryActivities(directory),
            reminders=ReminderActivities(directory, sms, sender, publisher or NoEvents(), replies),
            invitations=InvitationActivities(
                directory,
                inbox,
                letters,
                publisher or NoEvents(),
                mailbox=mailbox,
                sms=sms,
                sms_sender=sender,
            ),
            events=EventActivities(webhooks, webhook_sender or HttpWebhookSender(), admits),
            replies=ReplyActivities(directory, directory, sms, sender, publisher or NoEvents()),
        )

    def callables(self) -> list[Any]:
        return [
            self.directory_reads.load_clinic,
            self.directory_reads.plan_recipients,
            self.reminders.send_reminder_sms,
            self.reminders.send_reminders,
            self.reminders.tell_reminder_decision,
            self.invitations.send_invitation_message,
            self.invitations.tell_invitation_state,
            self.invitations.invitation_message_read,
            self.events.webhooks_at_clinic,
            self.events.deliver_event,
            self.events.give_up_delivery,
            self.replies.answer_reply,
            self.replies.stop_sms_consent,
            self.replies.tell_cancel_request,
        ]


def activities_for(settings: Settings, stores: Stores, publisher: EventPublisher | None = None) -> Activities:
    """The activities wired to the configured stores (SQLite files, or the shared PostgreSQL
    database), SMS gateway, 1177 inbox and digital mailbox, the letters folder and the webhooks; the
    events of the reminders' SMS and of the invitations go to `publisher` (the worker's
    `infrastructure.events.TemporalEventPublisher`), to live clients' webhooks only (test clients get
    test traffic's, `infrastructure.test_mode`)."""
    return Activities.wired(
        stores.directory,
        sms_gateway(settings, stores),
        settings.sms_sender,
        inbox(settings, stores),
        build_letters(settings.data_dir),
        mailbox=mailbox(settings, stores),
        webhooks=stores.webhooks,
        publisher=publisher,
        admits=live_clients(stores),
        replies=stores.replies,
    )


def live_clients(stores: Stores) -> Callable[[str], bool]:
    """Whether a client is live (not a test key's): read at each event, so a new test key counts at once."""
    return lambda client_id: client_id not in stores.api_keys.test_clients()


def build_worker(
    client: Client,
    task_queue: str,
    activities: Activities,
    executor: ThreadPoolExecutor,
    *,
    max_cached_workflows: int,
    sandboxed: bool,
    sticky_timeout: timedelta = timedelta(seconds=10),
    poller_autoscaling: bool = False,
) -> Worker:
    """The worker of all workflows and activities. `sandboxed`: tests run the workflows in the sandbox,
    production does not (`workflow_runner`). The SMS provider's rate is kept by the SMS gateway
    (`PM_SMS_RATE_LIMIT`), since a reminder sends its SMS as local activities.

    For a wave of reminders waking at one moment (the 09:00 storm, docs/performance.md §3):
    `sticky_timeout` (`PM_STICKY_TIMEOUT`, the SDK's 10 s by default) is how long a woken task waits
    on this worker's own queue before it goes to the shared one, whole history and all; and
    `poller_autoscaling` (`PM_POLLER_AUTOSCALING`) lets the SDK add pollers while tasks queue up,
    instead of its fixed five (one of them on the shared queue)."""
    return Worker(
        client,
        task_queue=task_queue,
        workflows=WORKFLOWS,
        activities=activities.callables(),
        activity_executor=executor,
        max_concurrent_activities=MAX_CONCURRENT_ACTIVITIES,
        max_cached_workflows=max_cached_workflows,
        workflow_runner=workflow_runner(sandboxed),
        **wave_options(sticky_timeout, poller_autoscaling),
    )


def wave_options(sticky_timeout: timedelta, poller_autoscaling: bool) -> dict[str, Any]:
    """The `Worker` options of `PM_STICKY_TIMEOUT` and `PM_POLLER_AUTOSCALING` (also for the bare
    worker of `bench.run`, so that both are measured alike)."""
    options: dict[str, Any] = {"sticky_queue_schedule_to_start_timeout": sticky_timeout}
    if poller_autoscaling:
        options["workflow_task_poller_behavior"] = PollerBehaviorAutoscaling()
    return options
