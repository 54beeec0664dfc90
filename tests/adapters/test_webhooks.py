"""The webhooks and their deliveries on both backends: one webhook per client and clinic, its secret
shown once and sealed at rest (bound to its row), the deliveries' attempts and final status, each
client seeing only its own."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta

import psycopg
import pytest
from standardwebhooks import Webhook as Verifier

from adapters.webhooks import DeliveryStatus, Webhooks
from contracts.events import Event, EventType, message_event
from contracts.workflow_ids import booking_reminder_id, sms_key
from domain.status import RecipientRole
from infrastructure.stores import Stores
from security.at_rest import SealedDataError
from security.keyring import Keyring
from tests.adapters.conftest import Backend

AT = datetime(2027, 3, 28, 8, 0, tzinfo=UTC)
URL = "https://booking.example/hooks/kir"


def event(booking_id: str = "B1", clinic_id: str = "kir") -> Event:
    key = sms_key(booking_reminder_id(clinic_id, booking_id), 1, RecipientRole.PATIENT)
    made = message_event(EventType.MESSAGE_SENT, key, AT)
    assert made is not None
    return made


@contextmanager
def webhooks(backend: Backend, keyring: Keyring) -> Iterator[Webhooks]:
    stores = Stores(backend.settings, keyring)
    try:
        yield stores.webhooks
    finally:
        stores.close()


def stored_text(backend: Backend) -> bytes:
    if backend.settings.database_url is None:
        return b"".join(p.read_bytes() for p in backend.settings.data_dir.glob("webhooks.sqlite3*"))
    with psycopg.connect(backend.settings.database_url) as conn:
        return "\n".join(r[0] for r in conn.execute("SELECT t::text FROM webhooks t")).encode()


def test_a_webhook_is_made_once_per_client_and_clinic_its_secret_shown_once_and_sealed(
    backend: Backend,
) -> None:
    keyring = Keyring.generate()
    with webhooks(backend, keyring) as store:
        made = store.register("vas-kir", "kir", URL, at=AT)
        assert made.new and made.secret is not None and made.secret.startswith("whsec_")
        Verifier(made.secret)  # a secret any Standard Webhooks library takes
        again = store.register("vas-kir", "kir", URL, at=AT + timedelta(hours=1))
        assert not again.new and again.secret is None and again.webhook.created_at == AT
        moved = store.register("vas-kir", "kir", URL + "/v2")
        assert not moved.new and moved.secret is None
        other = store.register("vas-onh", "kir", URL)
        assert other.secret != made.secret
    with webhooks(backend, keyring) as store:
        signing = store.signing("vas-kir", "kir")
        assert signing is not None and signing.secret == made.secret and signing.url == URL + "/v2"
        assert [w.clinic_id for w in store.of_client("vas-kir", None)] == ["kir"]
        assert store.of_client("vas-kir", ["onh"]) == []
        assert store.at_clinic("kir") == ["vas-kir", "vas-onh"] and store.clinics() == {"kir"}
    assert made.secret.removeprefix("whsec_").encode() not in stored_text(backend)
    with webhooks(backend, Keyring.generate()) as stranger, pytest.raises(SealedDataError):
        stranger.signing("vas-kir", "kir")  # another keyring: the secret does not open
    with webhooks(backend, keyring) as store:
        assert store.remove("vas-kir", "kir") and not store.remove("vas-kir", "kir")
        assert store.signing("vas-kir", "kir") is None and store.at_clinic("kir") == ["vas-onh"]


def test_a_delivery_counts_its_attempts_and_delivered_is_final(backend: Backend) -> None:
    with webhooks(backend, Keyring.generate()) as store:
        sent = event()
        store.record_attempt(sent, "vas-kir", status=DeliveryStatus.PENDING, error="ConnectError", at=AT)
        store.record_attempt(
            sent, "vas-kir", status=DeliveryStatus.PENDING, status_code=503, error="HTTP 503", at=AT
        )
        pending = store.delivery(sent.id, "vas-kir", "kir")
        assert pending is not None
        assert (pending.status, pending.attempts, pending.last_status_code, pending.last_error) == (
            DeliveryStatus.PENDING,
            2,
            503,
            "HTTP 503",
        )
        later = AT + timedelta(minutes=1)
        store.record_attempt(sent, "vas-kir", status=DeliveryStatus.DELIVERED, status_code=204, at=later)
        store.record_attempt(sent, "vas-kir", status=DeliveryStatus.FAILED, error="given up")
        done = store.delivery(sent.id, "vas-kir", "kir")
        assert done is not None
        assert (done.status, done.attempts, done.last_status_code, done.last_error) == (
            DeliveryStatus.DELIVERED,
            3,
            204,
            None,
        )
        assert done.delivered_at == later and done.first_attempt_at == AT and done.body == sent.body()


def test_failed_deliveries_are_listed_to_their_client_at_its_clinics_only(backend: Backend) -> None:
    with webhooks(backend, Keyring.generate()) as store:
        lost, fine, elsewhere = event("B1"), event("B2"), event("B3", clinic_id="onh")
        store.record_attempt(lost, "vas-kir", status=DeliveryStatus.PENDING, error="ConnectError", at=AT)
        store.record_attempt(lost, "vas-kir", status=DeliveryStatus.FAILED, error="retries exhausted")
        store.record_attempt(fine, "vas-kir", status=DeliveryStatus.DELIVERED, status_code=200)
        store.record_attempt(elsewhere, "vas-kir", status=DeliveryStatus.FAILED, error="retries exhausted")
        store.record_attempt(lost, "vas-onh", status=DeliveryStatus.FAILED, error="retries exhausted")
        failed = store.deliveries("vas-kir", ["kir"], DeliveryStatus.FAILED)
        assert [(d.event_id, d.client_id, d.attempts) for d in failed] == [(lost.id, "vas-kir", 1)]
        assert {d.event_id for d in store.deliveries("vas-kir", None)} == {lost.id, fine.id, elsewhere.id}
        assert store.deliveries("vas-kir", []) == []
