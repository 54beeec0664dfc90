"""Use cases of the webhooks (docs/webhooks.md): a booking system registers one webhook per clinic it
acts for, lists and removes its own, and reads the deliveries of its events (the failed ones first of
all). An API client sees only its own webhooks at its own clinics: a clinic outside the caller's
answers as unknown, as one the directory does not hold.

`clinics` is the caller's clinics, or None for a caller acting for every clinic.
"""

from __future__ import annotations

import re
from collections.abc import Collection
from urllib.parse import urlsplit

from adapters.directory import Directory
from adapters.webhooks import DeliveryRecord, DeliveryStatus, Registered, Webhook, Webhooks
from application.errors import InputError, NotFoundError

__all__ = [
    "DeliveryRecord",
    "DeliveryStatus",
    "Registered",
    "Webhook",
    "deliveries",
    "register_webhook",
    "remove_webhook",
    "webhooks_of",
]

MAX_URL = 2000
LOOPBACK = frozenset({"127.0.0.1", "localhost", "::1"})
URL_PATTERN = (
    r"^(https://[A-Za-z0-9.-]+|http://(127\.0\.0\.1|localhost))"
    r"(:([0-9]{1,4}|[1-5][0-9]{4}|6[0-4][0-9]{3}|65[0-4][0-9]{2}|655[0-2][0-9]|6553[0-5]))?"
    r"(/[A-Za-z0-9._~!$&'()*+,;=:@%/-]*)?(\?[A-Za-z0-9._~!$&'()*+,;=:@%/?-]*)?$"
)
"""The receiver URLs accepted (the OpenAPI document states it): `check_webhook_url` refuses any other,
and its other checks hold for every URL this matches."""
URL_RULE = "an https:// URL (http:// only to 127.0.0.1 or localhost), without user, password or fragment"


def check_webhook_url(url: str) -> str:
    """A receiver's URL: https, or http to this host (tests, local use); no credentials (the events are
    signed), no fragment. The refusal does not repeat the URL."""
    if len(url) > MAX_URL or not re.fullmatch(URL_PATTERN, url):
        raise InputError(f"url: must be {URL_RULE}")
    try:
        parts = urlsplit(url)
        host = parts.hostname
        parts.port  # noqa: B018  (a port that is no number raises here)
    except ValueError:
        raise InputError(f"url: must be {URL_RULE}") from None
    plain_to_here = parts.scheme == "http" and host in LOOPBACK
    if len(url) > MAX_URL or not host or not (parts.scheme == "https" or plain_to_here):
        raise InputError(f"url: must be {URL_RULE}")
    if parts.username is not None or parts.password is not None or parts.fragment:
        raise InputError(f"url: must be {URL_RULE}")
    return url


def _require_clinic(directory: Directory, clinics: Collection[str] | None, clinic_id: str) -> None:
    """The clinic is the caller's and in the directory; else it is unknown here (404)."""
    if (clinics is not None and clinic_id not in clinics) or directory.clinic(clinic_id) is None:
        raise NotFoundError(f"unknown clinic '{clinic_id}'")


def register_webhook(
    webhooks: Webhooks,
    directory: Directory,
    client_id: str,
    clinics: Collection[str] | None,
    clinic_id: str,
    url: str,
) -> Registered:
    """Make the caller's webhook at the clinic (its secret returned once), or point it at `url` (the
    same secret, not shown again)."""
    url = check_webhook_url(url)
    _require_clinic(directory, clinics, clinic_id)
    return webhooks.register(client_id, clinic_id, url)


def webhooks_of(webhooks: Webhooks, client_id: str, clinics: Collection[str] | None) -> list[Webhook]:
    """The caller's webhooks at its clinics (without their secrets)."""
    return webhooks.of_client(client_id, None if clinics is None else list(clinics))


def remove_webhook(
    webhooks: Webhooks, client_id: str, clinics: Collection[str] | None, clinic_id: str
) -> None:
    """Remove the caller's webhook at the clinic; NotFoundError when it has none there (or the clinic
    is not the caller's). Events not delivered yet are given up."""
    if (clinics is not None and clinic_id not in clinics) or not webhooks.remove(client_id, clinic_id):
        raise NotFoundError(f"no webhook at clinic '{clinic_id}'")


def deliveries(
    webhooks: Webhooks,
    client_id: str,
    clinics: Collection[str] | None,
    status: DeliveryStatus | None,
    clinic_id: str | None = None,
    limit: int = 100,
) -> list[DeliveryRecord]:
    """The deliveries of the caller's events at its clinics (or at `clinic_id`, one of them), of one
    status when given, the latest attempt first."""
    if clinic_id is not None:
        if clinics is not None and clinic_id not in clinics:
            return []  # another clinic's: as one without deliveries
        clinics = [clinic_id]
    return webhooks.deliveries(client_id, None if clinics is None else list(clinics), status, limit)
