"""The service's own state and the gateways built on it, chosen by the settings: SQLite files in the
data folder (the default, one host), or one PostgreSQL database shared by every worker, the CLI and
the doors (`PM_DATABASE_URL`; the schema from `starter.py admin migrate`).

Adding a store: its queries class in `adapters/` written against `adapters/sql.py`, one class per
backend, a migration in `adapters/migrations/versions/`, and a method here (docs/stores.md).
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from functools import cached_property
from typing import TypeVar

from adapters.audit import (
    ApiKeys,
    AuditTrail,
    PostgresApiKeys,
    PostgresAuditTrail,
    SqliteApiKeys,
    SqliteAuditTrail,
)
from adapters.directory import PostgresDirectory, SqlDirectory, SqliteDirectory
from adapters.fhir_appointments import FhirAppointments, PostgresFhirAppointments, SqliteFhirAppointments
from adapters.inbox import (
    HttpInbox,
    Inbox,
    InboxLedger,
    PostgresInbox,
    PostgresInboxLedger,
    SqlInbox,
    SqliteInbox,
    SqliteInboxLedger,
)
from adapters.mailbox import (
    DigitalMailbox,
    HttpMailbox,
    MailboxLedger,
    PostgresMailbox,
    PostgresMailboxLedger,
    SqliteMailbox,
    SqliteMailboxLedger,
    SqlMailbox,
)
from adapters.operator_tokens import OperatorTokens, PostgresOperatorTokens, SqliteOperatorTokens
from adapters.postgres import PostgresDatabase
from adapters.postgres import SchemaNotReadyError as SchemaNotReadyError  # for the doors
from adapters.replies import PostgresReplies, Replies, SqliteReplies
from adapters.slots import ClinicSlots, PostgresClinicSlots, SqliteClinicSlots
from adapters.sms import PostgresOutbox, SmsGateway, SqliteOutbox, SqlOutbox
from adapters.sms_elks import ElksSmsGateway, delivery_callback_url
from adapters.sms_ledger import PostgresSentLedger, SentLedger, SqliteSentLedger
from adapters.staff_sessions import PostgresStaffSessions, SqliteStaffSessions, StaffSessions
from adapters.webhooks import PostgresWebhooks, SqliteWebhooks, Webhooks
from infrastructure.config import Settings
from infrastructure.temporal_client import keyring_for
from security.files import private_dir
from security.keyring import Keyring

ELKS_TIMEOUT_S = 10.0
T = TypeVar("T")


class SchemaOutOfDateError(RuntimeError):
    """The PostgreSQL schema lacks migrations; the message says which command applies them."""


class Stores:
    """One instance per process: each store once, on one PostgreSQL pool or in the data folder."""

    def __init__(self, settings: Settings, keyring: Keyring | None = None) -> None:
        self.settings = settings
        self._keyring = keyring

    @cached_property
    def keyring(self) -> Keyring:
        """The payload keyring (`keyring_for`), which also seals the patient data of the stores."""
        return self._keyring or keyring_for(self.settings)

    @cached_property
    def database(self) -> PostgresDatabase | None:
        url = self.settings.database_url
        return PostgresDatabase(url) if url else None

    def _open(
        self, postgres: Callable[[PostgresDatabase], T], sqlite: Callable[[str], T], file_name: str
    ) -> T:
        """The store in the shared database, or in its file of the data folder."""
        if self.database is not None:
            return postgres(self.database)
        private_dir(self.settings.data_dir)
        return sqlite(str(self.settings.data_dir / file_name))

    @cached_property
    def directory(self) -> SqlDirectory:
        return self._open(PostgresDirectory, SqliteDirectory, "directory.sqlite3")

    @cached_property
    def sms_ledger(self) -> SentLedger:
        return self._open(PostgresSentLedger, SqliteSentLedger, "sms-ledger.sqlite3")

    @cached_property
    def outbox(self) -> SqlOutbox:
        return self._open(PostgresOutbox, SqliteOutbox, "outbox.sqlite3")

    @cached_property
    def inbox_ledger(self) -> InboxLedger:
        return self._open(PostgresInboxLedger, SqliteInboxLedger, "inbox-ledger.sqlite3")

    @cached_property
    def embedded_inbox(self) -> SqlInbox:
        return self._open(PostgresInbox, SqliteInbox, "inbox-1177.sqlite3")

    @cached_property
    def mailbox_ledger(self) -> MailboxLedger:
        return self._open(PostgresMailboxLedger, SqliteMailboxLedger, "mailbox-ledger.sqlite3")

    @cached_property
    def embedded_mailbox(self) -> SqlMailbox:
        """The embedded digital mailbox: its holders and the messages delivered to them."""
        return self._open(PostgresMailbox, SqliteMailbox, "mailbox.sqlite3")

    @cached_property
    def audit(self) -> AuditTrail:
        return self._open(PostgresAuditTrail, SqliteAuditTrail, "audit.sqlite3")

    @cached_property
    def api_keys(self) -> ApiKeys:
        return self._open(PostgresApiKeys, SqliteApiKeys, "api-keys.sqlite3")

    @cached_property
    def operator_tokens(self) -> OperatorTokens:
        return self._open(PostgresOperatorTokens, SqliteOperatorTokens, "operator-tokens.sqlite3")

    @cached_property
    def fhir_appointments(self) -> FhirAppointments:
        """Sealed with the keyring; rows an earlier release stored in clear are sealed on opening."""
        store = self._open(PostgresFhirAppointments, SqliteFhirAppointments, "fhir.sqlite3")
        store.keyring = self.keyring
        store.seal_clear_rows()
        return store

    @cached_property
    def staff_sessions(self) -> StaffSessions:
        return self._open(PostgresStaffSessions, SqliteStaffSessions, "staff-sessions.sqlite3")

    @cached_property
    def webhooks(self) -> Webhooks:
        """The booking systems' webhooks (their signing secrets sealed with the keyring) and the
        deliveries of their events."""
        store = self._open(PostgresWebhooks, SqliteWebhooks, "webhooks.sqlite3")
        store.keyring = lambda: self.keyring  # read when a secret is sealed or opened, not before
        return store

    @cached_property
    def slots(self) -> ClinicSlots:
        """The clinics' free and busy slots, as the booking system writes them (issue 27)."""
        return self._open(PostgresClinicSlots, SqliteClinicSlots, "slots.sqlite3")

    @cached_property
    def replies(self) -> Replies:
        """Issue 28: the reminder SMS sent from virtual numbers and the inbound replies (numbers as
        keyed digests, the sender and the text sealed with the keyring)."""
        store = self._open(PostgresReplies, SqliteReplies, "replies.sqlite3")
        store.keyring = lambda: self.keyring
        return store

    def close(self) -> None:
        if self.database is not None:
            self.database.close()

    # --- the schema ---

    def migrate(self) -> list[str]:
        """Apply the missing migrations (PostgreSQL); returns the revisions applied."""
        url = self.settings.database_url
        if not url:
            return []
        from adapters import migrations  # Alembic and SQLAlchemy: 0.6 s of imports, only when needed

        return migrations.upgrade(url)

    def require_current_schema(self) -> None:
        """Refuse to run on a PostgreSQL schema that lacks migrations (or migrate when asked to)."""
        url = self.settings.database_url
        if not url:
            return
        from adapters import migrations  # (see `migrate`)

        if self.settings.migrate_on_start:
            self.migrate()
        elif missing := migrations.pending(url):
            raise SchemaOutOfDateError(
                f"the service database lacks migrations {', '.join(missing)}: run "
                "`python starter.py admin migrate` (or start with PM_MIGRATE_ON_START=1)"
            )


def sms_gateway(settings: Settings, stores: Stores) -> SmsGateway:
    """The embedded outbox, or 46elks with the ledger of `stores` (S15); with `PM_DELIVERY_URL`, each
    SMS asks for delivery reports to that URL, with a token of its own made with `PM_DELIVERY_SECRET`; with
    `PM_SMS_RATE_LIMIT`, the requests of every worker sharing the ledger stay within that rate; a retry
    after an unanswered attempt waits up to `PM_SMS_HISTORY_WAIT` s for 46elks' history to show it, and
    looks back `PM_SMS_CLOCK_MARGIN` s before it (docs/delivery-reports.md)."""
    if settings.sms_gateway == "outbox":
        return stores.outbox
    if not settings.elks_username or not settings.elks_password:
        raise ValueError("the 46elks SMS gateway needs ELKS_USERNAME and ELKS_PASSWORD")
    callback = None
    if settings.delivery_url:
        if not settings.delivery_secret:
            raise ValueError("PM_DELIVERY_URL needs PM_DELIVERY_SECRET (the key of the callbacks' tokens)")
        callback = delivery_callback_url(settings.delivery_url, settings.delivery_secret)
    return ElksSmsGateway(
        settings.elks_url,
        settings.elks_username,
        settings.elks_password,
        stores.sms_ledger,
        timeout=ELKS_TIMEOUT_S,
        delivery=callback,
        rate=settings.sms_rate_limit,
        history_wait=timedelta(seconds=settings.sms_history_wait),
        clock_margin=timedelta(seconds=settings.sms_clock_margin),
    )


def inbox(settings: Settings, stores: Stores) -> Inbox:
    """The embedded 1177 inbox, or the HTTP one with the ledger of `stores`."""
    if settings.inbox == "embedded":
        return stores.embedded_inbox
    if not settings.inbox_url or not settings.inbox_token:
        raise ValueError("the 1177 inbox over HTTP needs INBOX_1177_URL and INBOX_1177_TOKEN")
    return HttpInbox(settings.inbox_url, settings.inbox_token, stores.inbox_ledger)


def mailbox(settings: Settings, stores: Stores) -> DigitalMailbox:
    """The embedded digital mailbox, or FaR and the suppliers over HTTP with the ledger of `stores`."""
    if settings.mailbox == "embedded":
        return stores.embedded_mailbox
    if not settings.far_url or not settings.far_token:
        raise ValueError("the digital mailbox over HTTP needs FAR_URL and FAR_TOKEN")
    return HttpMailbox(settings.far_url, settings.far_token, stores.mailbox_ledger)
