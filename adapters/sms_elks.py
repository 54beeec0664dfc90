"""SMS through an HTTP API shaped like 46elks', made idempotent per key by the SMS ledger (S15,
adapters/sms_ledger.py).

46elks takes no idempotency key: `ElksSmsGateway` records in the `SentLedger` which keys the provider
accepted and which attempts are unanswered, and resolves an unanswered attempt from the provider's
history before sending again. With a callback each message asks for 46elks' delivery reports
(`whendelivered`) at a URL of its own, which carries the message's key and a token made for that key
only (`DeliveryCallback`, docs/delivery-reports.md); the ledger maps the reports back to message keys.
Errors are split into permanent (do not retry) and transient (retry); no exception message or log line
here contains a phone number, a message text, the callback's secret or a message's token.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import re
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from types import TracebackType
from urllib.parse import quote, urlsplit, urlunsplit

import httpx
import structlog

from adapters.sms import PermanentSmsError, SmsMessage, SmsReceipt, TransientSmsError
from adapters.sms_ledger import SentLedger

__all__ = [
    "DELIVERY_USER",
    "DeliveryCallback",
    "ElksSmsGateway",
    "delivery_callback_url",
    "delivery_token",
    "same_text",
]

log = structlog.get_logger(__name__)

ELKS_TIME = "%Y-%m-%dT%H:%M:%S.%f"
"""46elks' timestamps: UTC without an offset."""
DELIVERY_USER = "46elks"
"""The Basic-auth user name of the delivery-report callback (its password is the message's token)."""
KEY_PARAMETER = "key"
"""The query parameter of the callback URL that names the message (its idempotency key)."""
_TOKEN_CONTEXT = b"pm/46elks-delivery-report/v1\n"
"""What the token's HMAC covers before the key: the secret signs nothing else with the same input."""
_URL_SAFE_SECRET = re.compile(r"[A-Za-z0-9._~-]{16,}")


def same_text(text: str) -> str:
    """`text` as the history match compares it: line ends and runs of whitespace made one space,
    none at either end (46elks may store a message's whitespace otherwise than it was sent)."""
    return " ".join(text.split())


def delivery_token(secret: str, key: str) -> str:
    """The delivery-report token of the message `key`: HMAC-SHA256 keyed by `PM_DELIVERY_SECRET`, in
    unpadded base64url (43 characters of A-Z a-z 0-9 - _). It opens the callback for that message only."""
    digest = hmac.new(secret.encode(), _TOKEN_CONTEXT + key.encode(), hashlib.sha256).digest()
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode()


@dataclass(frozen=True)
class DeliveryCallback:
    """The `whendelivered` URL of each message: `url` (the public URL of `POST /callbacks/sms/46elks`)
    with the message's key in the query and its token as the Basic-auth password 46elks presents
    (`https://46elks:<token>@host/callbacks/sms/46elks?key=<key>`, as 46elks documents). The key holds
    system ids only (`<workflow id>/v<n>/<role>`); the secret itself is never in a URL."""

    url: str
    secret: str = field(repr=False)

    def url_for(self, key: str) -> str:
        """The callback URL of the message `key` (holds its token: never logged)."""
        parts = urlsplit(self.url)
        token = delivery_token(self.secret, key)
        return urlunsplit(
            parts._replace(
                netloc=f"{DELIVERY_USER}:{token}@{parts.netloc}",
                query=f"{KEY_PARAMETER}={quote(key, safe='')}",
            )
        )


def delivery_callback_url(url: str, secret: str) -> DeliveryCallback:
    """The per-message callback of `PM_DELIVERY_URL` and `PM_DELIVERY_SECRET`, both checked: an http(s)
    URL without user, password, query or fragment, and a secret of at least 16 URL-safe characters.
    The errors name the setting, never its value."""
    parts = urlsplit(url)
    if (
        parts.scheme not in ("http", "https")
        or not parts.hostname
        or "@" in parts.netloc
        or parts.query
        or parts.fragment
    ):
        raise ValueError(
            "PM_DELIVERY_URL must be an http(s) URL without user name, password, query or fragment"
        )
    if not _URL_SAFE_SECRET.fullmatch(secret):
        raise ValueError(
            "PM_DELIVERY_SECRET must be at least 16 characters of A-Z a-z 0-9 . _ ~ - "
            "(e.g. python -c 'import secrets; print(secrets.token_urlsafe(32))')"
        )
    return DeliveryCallback(url, secret)


class ElksSmsGateway:
    """An adapter for an SMS API shaped like 46elks': `POST {base_url}/a1/sms`, basic auth, form fields.

    Idempotent through the `SentLedger`: a key already accepted by the provider is not sent again.
    46elks takes no idempotency key, so an attempt whose answer never arrived (a timeout, a crash
    between the answer and the ledger write) is resolved before sending again: the provider's history
    (`GET /a1/sms?to=…`) from that attempt less `clock_margin` is searched for the same sender and text
    (whitespace aside), and a match is claimed for the key in one insert that no other key can have won.
    Until `history_wait` has passed since the latest unanswered attempt, a retry that finds nothing
    raises a transient error instead of posting (46elks' history may lag); after it, it sends again.
    Sends of one key are serialised by the ledger (across the threads and processes that share it).

    With `delivery` (from `delivery_callback_url`) every message asks for delivery reports
    (`whendelivered`) at its own URL, whose token opens the callback for that message only (never
    logged), and its receipt says so.

    With `dryrun` (test mode, docs/test-mode.md) every message carries 46elks' `dryrun=yes`: validated,
    never sent, never charged.

    With `rate` (requests per second), every request to the provider waits for its slot in the
    ledger's sequence (`SentLedger.reserve_slot`), which every worker sharing the ledger draws from:
    together they stay within the provider's rate, however many there are (the 09:00 storm).
    """

    CLOCK_MARGIN = timedelta(minutes=15)
    """How far before our first attempt the provider's clock may have stamped the message (a provider
    clock that many minutes behind ours is still matched; `PM_SMS_CLOCK_MARGIN`)."""
    HISTORY_WAIT = timedelta(minutes=5)
    """How long after an unanswered attempt a retry waits for the provider's history to show it before
    sending again (`PM_SMS_HISTORY_WAIT`, docs/delivery-reports.md)."""
    HISTORY_PAGES = 10
    """At most this many history pages (100 messages each) are read for one recipient."""
    RATE_NAME = "46elks"
    """The ledger's name for the provider's rate limit."""

    def __init__(
        self,
        base_url: str,
        username: str,
        password: str,
        ledger: SentLedger,
        timeout: float = 10.0,
        delivery: DeliveryCallback | None = None,
        rate: float | None = None,
        dryrun: bool = False,
        history_wait: timedelta = HISTORY_WAIT,
        clock_margin: timedelta = CLOCK_MARGIN,
    ) -> None:
        self._history_wait = history_wait
        self._clock_margin = clock_margin
        self._url = base_url.rstrip("/") + "/a1/sms"
        self._dryrun = dryrun
        self._ledger = ledger
        self._delivery = delivery
        self._interval = 1.0 / rate if rate else None
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
        receipt = self._send(message)
        return receipt.model_copy(update={"delivery_pending": self._delivery is not None})

    def _send(self, message: SmsMessage) -> SmsReceipt:
        with self._ledger.exclusive(message.key):
            if (earlier := self._ledger.get(message.key)) is not None:
                return earlier.model_copy(update={"duplicate": True})
            if (attempt := self._ledger.attempted(message.key)) is not None:
                if found := self._find_in_history(message, attempt.first_at - self._clock_margin):
                    log.info("sms_found_in_provider_history", key=message.key, provider_id=found.provider_id)
                    return found
                if datetime.now(UTC) - attempt.last_at < self._history_wait:
                    log.info("sms_waiting_for_provider_history", key=message.key)
                    raise TransientSmsError(
                        "the SMS provider's history does not show the unanswered attempt yet; "
                        "not sending again before it has had time to",
                        reason="history_wait",
                    )
            at = datetime.now(UTC)
            earlier = self._ledger.attempt(message.key, at)
            try:
                provider_id = self._post(message)
            except TransientSmsError as e:
                if not e.unanswered:
                    self._ledger.refused(message.key, at, earlier)
                raise
            except PermanentSmsError:
                self._ledger.refused(message.key, at, earlier)
                raise
            return self._record(message.key, provider_id)

    def _record(self, key: str, provider_id: str) -> SmsReceipt:
        receipt = SmsReceipt(key=key, provider_id=provider_id, sent_at=datetime.now(UTC))
        # Another process may have recorded this key first: the first receipt is the one that counts.
        return self._ledger.claim(key, provider_id, receipt.sent_at) or receipt

    def _find_in_history(self, message: SmsMessage, since: datetime) -> SmsReceipt | None:
        """The key's receipt after claiming an outgoing message like `message` (same number and sender,
        the same text but for whitespace and line ends) created after `since`: a message another key
        has claimed is passed over. None if there is none. Raises TransientSmsError when the history
        cannot be read (sending blind could send twice)."""
        text = same_text(message.text)
        params = {"to": message.to, "end": since.astimezone(UTC).strftime(ELKS_TIME), "limit": "100"}
        for _ in range(self.HISTORY_PAGES):
            self._wait_for_slot()
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
                    and same_text(str(sent.get("message", ""))) == text
                    and (receipt := self._ledger.claim(message.key, str(sent.get("id")), datetime.now(UTC)))
                ):
                    return receipt
            if not page.get("next"):
                return None
            params["start"] = page["next"]
        return None

    def _wait_for_slot(self) -> None:
        """Wait for this request's slot of the provider's rate (no wait without a rate)."""
        if self._interval is None:
            return
        now = time.time()
        slot = self._ledger.reserve_slot(self.RATE_NAME, self._interval, now)
        if slot > now:
            time.sleep(slot - now)

    def _post(self, message: SmsMessage) -> str:
        """POST the message; return the provider's id or raise a Permanent/TransientSmsError."""
        form = {"from": message.sender, "to": message.to, "message": message.text}
        if self._dryrun:  # test mode: 46elks validates the message, sends nothing and charges nothing
            form["dryrun"] = "yes"
        if self._delivery is not None:
            form["whendelivered"] = self._delivery.url_for(message.key)
        self._wait_for_slot()
        try:
            response = self._client.post(self._url, data=form)
        except httpx.TimeoutException:
            raise TransientSmsError(
                "SMS provider did not answer in time", reason="timeout", unanswered=True
            ) from None
        except httpx.ConnectError as e:  # nothing was sent
            raise TransientSmsError(
                f"could not reach the SMS provider ({type(e).__name__})", reason="connection"
            ) from None
        except httpx.TransportError as e:  # the connection broke after the request went out
            raise TransientSmsError(
                f"the SMS provider's answer was lost ({type(e).__name__})",
                reason="connection",
                unanswered=True,
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
        if status in (502, 504):  # a gateway in front of the provider: the provider may have taken it
            raise TransientSmsError(
                f"SMS provider failed (HTTP {status})", reason="provider_error", unanswered=True
            )
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
