"""Sending one event to one webhook, signed as Standard Webhooks prescribe (docs/webhooks.md): the JSON
body, `webhook-id` (the event id), `webhook-timestamp` (seconds since the epoch, now) and
`webhook-signature` (`v1,<base64 HMAC-SHA256 of "<id>.<timestamp>.<body>">` under the secret), made
by the `standardwebhooks` package, so any Standard Webhooks library verifies it.

Anything but a 2xx answer within the timeouts raises `DeliveryFailed` (the activity retries): the
message names the status or the kind of error, never the URL or the receiver's answer. Redirects are
not followed (a 3xx is not a delivery).
"""

from __future__ import annotations

from datetime import UTC, datetime

import httpx
from standardwebhooks import Webhook as Signer

from adapters.webhooks import DeliveryFailed, Event

CONNECT_TIMEOUT_S = 5.0
ANSWER_TIMEOUT_S = 10.0
USER_AGENT = "patient-messaging-webhooks/1"


def signed_headers(secret: str, event_id: str, body: str, at: datetime) -> dict[str, str]:
    """The Standard Webhooks headers of `body` sent at `at`."""
    moment = at.astimezone(UTC)
    return {
        "webhook-id": event_id,
        "webhook-timestamp": str(int(moment.timestamp())),
        "webhook-signature": Signer(secret).sign(event_id, moment, body),
    }


class HttpWebhookSender:
    """POSTs events with httpx; one connection pool per process, safe from the activities' threads."""

    def __init__(self, *, connect_timeout: float = CONNECT_TIMEOUT_S, timeout: float = ANSWER_TIMEOUT_S):
        self._http = httpx.Client(
            timeout=httpx.Timeout(timeout, connect=connect_timeout),
            follow_redirects=False,
            headers={"User-Agent": USER_AGENT},
        )

    def send(self, url: str, secret: str, event: Event) -> int:
        """Deliver `event`; returns the receiver's 2xx status, else raises `DeliveryFailed`."""
        body = event.body()
        headers = {
            "Content-Type": "application/json",
            **signed_headers(secret, event.id, body, datetime.now(UTC)),
        }
        try:
            answer = self._http.post(url, content=body.encode(), headers=headers)
        except httpx.TimeoutException as err:
            raise DeliveryFailed(f"no answer in time ({type(err).__name__})") from None
        except httpx.HTTPError as err:
            raise DeliveryFailed(f"no answer ({type(err).__name__})") from None
        if not 200 <= answer.status_code < 300:
            raise DeliveryFailed(f"answered HTTP {answer.status_code}", answer.status_code)
        return answer.status_code

    def close(self) -> None:
        self._http.close()
