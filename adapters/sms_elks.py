"""SMS through an HTTP API shaped like 46elks', made idempotent per key by a ledger (S15).

46elks takes no idempotency key: `SentLedger` remembers which keys the provider accepted and which
attempts are unanswered, and `ElksSmsGateway` resolves an unanswered attempt from the provider's
history before sending again. Errors are split into permanent (do not retry) and transient (retry);
no exception message or log line here contains a phone number or a message text.
"""

from __future__ import annotations

import fcntl
import threading
import zlib
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from types import TracebackType

import httpx
import structlog

from adapters.postgres import PostgresTable
from adapters.sms import PermanentSmsError, SmsMessage, SmsReceipt, TransientSmsError
from adapters.sql import Connection
from adapters.sqlite import SqliteFile

__all__ = ["ElksSmsGateway", "PostgresSentLedger", "SentLedger", "SqliteSentLedger"]

log = structlog.get_logger(__name__)

ELKS_TIME = "%Y-%m-%dT%H:%M:%S.%f"
"""46elks' timestamps: UTC without an offset."""


def _now() -> datetime:
    return datetime.now(UTC)


class SentLedger:
    """Key → receipt of messages the provider accepted (the first receipt for a key is kept), and
    key → moment of the first attempt whose outcome is not known yet; one send of a key at a time.

    Shared by every worker when it lives in PostgreSQL, so a retry on any host resolves an attempt
    made on another (S15). The `sms_delivery` table has room for the provider's delivery reports.
    """

    def get(self, key: str) -> SmsReceipt | None:
        with self._read() as conn:
            row = conn.execute("SELECT provider_id, sent_at FROM sent WHERE key = ?", (key,)).fetchone()
        return SmsReceipt(key=key, provider_id=row["provider_id"], sent_at=row["sent_at"]) if row else None

    def put(self, receipt: SmsReceipt) -> None:
        with self._write() as conn:
            conn.execute(
                "INSERT INTO sent (key, provider_id, sent_at) VALUES (?, ?, ?) ON CONFLICT (key) DO NOTHING",
                (receipt.key, receipt.provider_id, receipt.sent_at.isoformat()),
            )
            conn.execute("DELETE FROM attempted WHERE key = ?", (receipt.key,))

    def attempt(self, key: str, at: datetime) -> None:
        """Note that `key` is about to be sent; the first moment is kept until a receipt is put."""
        with self._write() as conn:
            conn.execute(
                "INSERT INTO attempted (key, first_at) VALUES (?, ?) ON CONFLICT (key) DO NOTHING",
                (key, at.isoformat()),
            )

    def attempted_since(self, key: str) -> datetime | None:
        """The first unanswered attempt for `key`, if an earlier send may have reached the provider."""
        with self._read() as conn:
            row = conn.execute("SELECT first_at FROM attempted WHERE key = ?", (key,)).fetchone()
        return datetime.fromisoformat(row["first_at"]) if row else None

    def claimed(self, provider_id: str) -> bool:
        """Whether a receipt with this provider id is already recorded (for any key)."""
        with self._read() as conn:
            return (
                conn.execute("SELECT 1 FROM sent WHERE provider_id = ?", (provider_id,)).fetchone()
                is not None
            )

    def key_of(self, provider_id: str) -> str | None:
        """The message key the provider's id was recorded for (to map a delivery report)."""
        with self._read() as conn:
            row = conn.execute("SELECT key FROM sent WHERE provider_id = ?", (provider_id,)).fetchone()
        return row["key"] if row else None

    def exclusive(self, key: str) -> AbstractContextManager[None]:
        """While held, no other thread or process (on this host, or any host sharing the ledger) sends
        `key`."""
        raise NotImplementedError

    _read: Callable[[], AbstractContextManager[Connection]]  # from the backend (adapters/sql.py)
    _write: Callable[[], AbstractContextManager[Connection]]


class SqliteSentLedger(SentLedger, SqliteFile):
    """The ledger in an SQLite file of one host (`sms-ledger.sqlite3`): exclusive per key across the
    threads and processes of this host, through stripes of a lock file."""

    SCHEMA = """
        CREATE TABLE IF NOT EXISTS sent (
            key TEXT PRIMARY KEY,
            provider_id TEXT NOT NULL,
            sent_at TEXT NOT NULL
        );
        CREATE INDEX IF NOT EXISTS sent_provider_id ON sent (provider_id);
        CREATE TABLE IF NOT EXISTS attempted (
            key TEXT PRIMARY KEY,
            first_at TEXT NOT NULL
        );
        CREATE TABLE IF NOT EXISTS sms_delivery (
            provider_id TEXT PRIMARY KEY,
            status TEXT NOT NULL,
            delivered_at TEXT,
            updated_at TEXT NOT NULL
        );
    """
    _STRIPES = 64

    def __init__(self, path: Path | str, **options: float) -> None:
        super().__init__(path, **options)
        self._locks = [threading.Lock() for _ in range(self._STRIPES)]

    @contextmanager
    def exclusive(self, key: str) -> Iterator[None]:
        stripe = zlib.crc32(key.encode()) % self._STRIPES
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with self._locks[stripe], open(self.path.with_suffix(".lock"), "a+b") as lock_file:
            fcntl.lockf(lock_file, fcntl.LOCK_EX, 1, stripe)  # released when the file closes
            yield


class PostgresSentLedger(SentLedger, PostgresTable):
    """The ledger in the service's PostgreSQL database, shared by every worker on every host."""

    def exclusive(self, key: str) -> AbstractContextManager[None]:
        return self.database.exclusive(f"sms-key:{key}")


class ElksSmsGateway:
    """An adapter for an SMS API shaped like 46elks': `POST {base_url}/a1/sms`, basic auth, form fields.

    Idempotent through the `SentLedger`: a key already accepted by the provider is not sent again.
    46elks takes no idempotency key, so an attempt whose answer never arrived (a timeout, a crash
    between the answer and the ledger write) is resolved before sending again: the provider's history
    (`GET /a1/sms?to=…`) since that attempt is searched for the same sender and text, and a match that
    no other key has claimed counts as sent. Sends of one key are serialised by the ledger (across
    the threads and processes that share it).
    """

    CLOCK_SLACK = timedelta(minutes=5)
    """How far before our first attempt the provider's clock may have stamped the message."""
    HISTORY_PAGES = 10
    """At most this many history pages (100 messages each) are read for one recipient."""

    def __init__(
        self, base_url: str, username: str, password: str, ledger: SentLedger, timeout: float = 10.0
    ) -> None:
        self._url = base_url.rstrip("/") + "/a1/sms"
        self._ledger = ledger
        self._client = httpx.Client(auth=(username, password), timeout=httpx.Timeout(timeout))

    def close(self) -> None:
        self._client.close()

    def __enter__(self) -> ElksSmsGateway:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()

    def send(self, message: SmsMessage) -> SmsReceipt:
        with self._ledger.exclusive(message.key):
            if (earlier := self._ledger.get(message.key)) is not None:
                return earlier.model_copy(update={"duplicate": True})
            if (since := self._ledger.attempted_since(message.key)) is not None and (
                found := self._find_in_history(message, since - self.CLOCK_SLACK)
            ):
                log.info("sms_found_in_provider_history", key=message.key, provider_id=found)
                return self._record(message.key, found)
            self._ledger.attempt(message.key, _now())
            provider_id = self._post(message)
            log.info("sms_sent", key=message.key, provider_id=provider_id)
            return self._record(message.key, provider_id)

    def _record(self, key: str, provider_id: str) -> SmsReceipt:
        receipt = SmsReceipt(key=key, provider_id=provider_id, sent_at=_now())
        self._ledger.put(receipt)
        # Another process may have recorded this key first: the first receipt is the one that counts.
        return self._ledger.get(key) or receipt

    def _find_in_history(self, message: SmsMessage, since: datetime) -> str | None:
        """The provider id of an outgoing message like `message` created after `since` and not yet
        claimed by another key; None if there is none. Raises TransientSmsError when the history
        cannot be read (sending blind could send twice)."""
        params = {"to": message.to, "end": since.astimezone(UTC).strftime(ELKS_TIME), "limit": "100"}
        for _ in range(self.HISTORY_PAGES):
            try:
                response = self._client.get(self._url, params=params)
                response.raise_for_status()
                page = response.json()
            except (httpx.HTTPError, ValueError) as e:
                raise TransientSmsError(
                    f"could not read the SMS provider's history ({type(e).__name__})", reason="history"
                ) from None
            for sent in page.get("data", []):
                if (
                    sent.get("direction") == "outgoing"
                    and sent.get("to") == message.to
                    and sent.get("from") == message.sender
                    and sent.get("message") == message.text
                    and not self._ledger.claimed(str(sent.get("id")))
                ):
                    return str(sent["id"])
            if not page.get("next"):
                return None
            params["start"] = page["next"]
        return None

    def _post(self, message: SmsMessage) -> str:
        """POST the message; return the provider's id or raise a Permanent/TransientSmsError."""
        form = {"from": message.sender, "to": message.to, "message": message.text}
        try:
            response = self._client.post(self._url, data=form)
        except httpx.TimeoutException:
            raise TransientSmsError("SMS provider did not answer in time", reason="timeout") from None
        except httpx.TransportError as e:
            raise TransientSmsError(
                f"could not reach the SMS provider ({type(e).__name__})", reason="connection"
            ) from None
        status = response.status_code
        if 200 <= status < 300:
            try:
                body = response.json()
                provider_id = str(body["id"])
            except (ValueError, KeyError, TypeError):
                # Accepted, so it may well be on its way: record it rather than risk sending it twice.
                log.warning("sms_provider_answer_without_id", key=message.key, status=status)
                provider_id = "unknown"
            return provider_id
        if status in (401, 403):
            raise TransientSmsError(
                f"SMS provider refused the credentials (HTTP {status})", reason="provider_auth"
            )
        if status == 402:
            raise TransientSmsError(
                "SMS provider account cannot pay for the message (HTTP 402)", "provider_credit"
            )
        if status == 429:
            raise TransientSmsError("SMS provider is rate limiting (HTTP 429)", reason="rate_limited")
        if status == 408 or status >= 500:
            raise TransientSmsError(f"SMS provider failed (HTTP {status})", reason="provider_error")
        if 400 <= status < 500:
            text = response.text.lower()
            if "to number" in text or "invalid to" in text or ('"to"' in text and "invalid" in text):
                raise PermanentSmsError(
                    "invalid_number", f"SMS provider refused the recipient number (HTTP {status})"
                )
            raise PermanentSmsError("rejected", f"SMS provider rejected the message (HTTP {status})")
        raise TransientSmsError(
            f"unexpected answer from the SMS provider (HTTP {status}); check the provider URL",
            reason="provider_error",
        )
