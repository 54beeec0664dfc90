"""The SMS gateway of test mode (docs/test-mode.md): outcomes chosen by magic numbers, nothing sent.

Test keys' workflows (the test namespace) send through `SmsSimulator`, never through the live gateway:

| number | outcome |
|---|---|
| `+46701740690` (070-174 06 90) | sent, then delivered (a delivery report `delivered`) |
| `+46701740691` (070-174 06 91) | sent, then undelivered (a delivery report `failed`) |
| `+46701740692` (070-174 06 92) | refused for good: `invalid_number` (not retried) |
| `+46701740693` (070-174 06 93) | provider down: a transient error, retried up to the workflow's deadline |
| any other | simulated: recorded (or, with 46elks, sent with `dryrun=yes`), then delivered |

The magic numbers are in 070-174 06 05 … 99, the range PTS reserves for fiction: none reaches a person.
Idempotent per key like the other gateways: the simulator's own outbox (a store apart from the live
one) keeps each key once. Errors and logs name the key and the outcome, never the number or the text.
"""

from __future__ import annotations

from collections import Counter
from enum import StrEnum
from typing import Protocol

import structlog

from adapters.sms import PermanentSmsError, SmsGateway, SmsMessage, SmsReceipt, SqlOutbox, TransientSmsError
from domain.status import Delivery

__all__ = ["MAGIC_NUMBERS", "DeliveryReporter", "Simulated", "SmsSimulator"]

log = structlog.get_logger(__name__)


class Simulated(StrEnum):
    """What the simulator does with a message to a magic number."""

    DELIVERED = "delivered"
    UNDELIVERED = "undelivered"
    INVALID_NUMBER = "invalid_number"
    PROVIDER_DOWN = "provider_down"


MAGIC_NUMBERS: dict[str, Simulated] = {
    "+46701740690": Simulated.DELIVERED,
    "+46701740691": Simulated.UNDELIVERED,
    "+46701740692": Simulated.INVALID_NUMBER,
    "+46701740693": Simulated.PROVIDER_DOWN,
}


class DeliveryReporter(Protocol):
    """Tells a simulated delivery report on the SMS of `key` (as the provider's callback would)."""

    def __call__(self, key: str, status: Delivery) -> None: ...


class SmsSimulator:
    """The test-mode gateway: magic numbers give their outcome; any other number goes to `passthrough`
    (the 46elks gateway with `dryrun=yes`) when there is one, else is only recorded. A sent message is
    recorded in `outbox` (the simulator's own) and its delivery told to `reports`."""

    def __init__(
        self,
        outbox: SqlOutbox,
        passthrough: SmsGateway | None = None,
        reports: DeliveryReporter | None = None,
    ) -> None:
        self._outbox = outbox
        self._passthrough = passthrough
        self._reports = reports
        self._tries: Counter[str] = Counter()

    def send(self, message: SmsMessage) -> SmsReceipt:
        simulated = MAGIC_NUMBERS.get(message.to)
        self._tries[message.key] += 1
        if simulated is Simulated.INVALID_NUMBER:
            raise PermanentSmsError(
                "invalid_number", "simulated: the provider refused the number (test mode)"
            )
        if simulated is Simulated.PROVIDER_DOWN:
            raise TransientSmsError("simulated: the SMS provider is down (test mode)")
        if simulated is None and self._passthrough is not None:
            self._passthrough.send(message)  # validated by the provider, never sent (dryrun)
        receipt = self._outbox.send(message)
        status = Delivery.FAILED if simulated is Simulated.UNDELIVERED else Delivery.DELIVERED
        log.info(
            "sms_simulated",
            key=message.key,
            outcome=str(simulated or "simulated"),
            duplicate=receipt.duplicate,
        )
        if self._reports is None:
            return receipt
        self._reports(message.key, status)
        return receipt.model_copy(update={"delivery_pending": True})

    def tries(self, key: str) -> int:
        """How often this process was asked to send `key` (a provider-down number's retries show here)."""
        return self._tries[key]

    def messages(self) -> list[str]:
        """The keys the simulator took, oldest first."""
        return [m.key for m in self._outbox.messages()]
