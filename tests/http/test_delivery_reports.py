"""Delivery reports end to end on a real uvicorn server: the worker sends through the 46elks adapter
to the fake 46elks, which calls back `POST /callbacks/sms/46elks?key=…` like the real one, with the
message's own token; the report shows as `delivery` on the visit's status. A token moves only its own
message: another message's token, the old static secret, wrong credentials and malformed forms change
nothing."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from typing import Any
from urllib.parse import quote, unquote, urlsplit

import httpx

from adapters.sms_elks import delivery_token
from domain.status import ReminderState
from tests.harness import eventually
from tests.http.conftest import ElksApi, booking

CALLBACK = "/callbacks/sms/46elks"
PROVIDER_ID = "s0a1b2c3d4"  # the fake 46elks' id of every message it accepts


async def reminded(api: ElksApi, booking_id: str = "D1") -> dict[str, Any]:
    """Book a visit in two days, let its SMS go the day before at 09:00; the status once sent."""
    harness = api.harness
    start = await harness.local(days=2, hour=10)
    assert (await api.post("/v1/visits", booking(booking_id, start.isoformat()))).status_code == 201
    await harness.sleep_until(await harness.local(days=1, hour=9, minute=1))
    status = await visit(api, booking_id, lambda s: s["state"] != ReminderState.SCHEDULED.value)
    assert status["state"] == "sent"
    return status


async def visit(api: ElksApi, booking_id: str, done: Any = lambda s: True) -> dict[str, Any]:
    async def get() -> dict[str, Any]:
        return (await api.get(f"/v1/visits/{booking_id}")).json()

    return await eventually(get, done)


def delivered(status: dict[str, Any]) -> bool:
    return bool(status["messages"]) and status["messages"][0]["delivery"] == "delivered"


def key_of(api: ElksApi, sent: int = 0) -> str:
    """The message key in the `whendelivered` URL of the fake 46elks' `sent`-th request."""
    url = str(api.elks.requests[sent]["form"]["whendelivered"])  # type: ignore[index]
    return unquote(urlsplit(url).query.removeprefix("key="))


async def report(
    api: ElksApi, form: dict[str, str], key: str | None = None, auth: Any = None
) -> httpx.Response:
    """POST `form` as 46elks would for the message `key` (default: the first sent): to the callback
    with the key in the query and the key's token as the Basic password, unless `auth` says otherwise."""
    key = key if key is not None else key_of(api)
    auth = auth or ("46elks", delivery_token(api.secret, key))
    return await api.http.post(f"{CALLBACK}?key={quote(key, safe='')}", data=form, auth=auth)


async def test_S15_book_then_sms_then_the_fake_46elks_calls_back_and_the_status_shows_delivered(
    api_with_elks: ElksApi,
) -> None:
    api = api_with_elks
    await reminded(api)
    status = await visit(api, "D1", delivered)
    [message] = status["messages"]
    assert message["outcome"] == "sent" and message["delivery"] == "delivered"
    assert message["delivery_at"] is not None
    [sent] = api.elks.requests
    key = key_of(api)
    assert key.endswith("/v1/patient")
    token = delivery_token(api.secret, key)
    assert sent["form"]["whendelivered"] == (
        api.callback.replace("://", f"://46elks:{token}@") + f"?key={quote(key, safe='')}"
    )
    assert api.secret not in str(sent["form"]["whendelivered"])
    assert [code for _, code in api.elks.callbacks] == [204]
    assert api.stores.sms_ledger.delivery(PROVIDER_ID) == "delivered"
    assert api.secret not in str(status)


async def test_out_of_order_reports_delivered_then_sent_stay_delivered(api_with_elks: ElksApi) -> None:
    api = api_with_elks
    api.elks.reports = ("delivered", "sent")
    await reminded(api)
    await eventually(lambda: _calls(api), lambda n: n == 2)
    again = await report(api, {"id": PROVIDER_ID, "status": "sent"})  # a late repeat of `sent`
    assert again.status_code == 204
    failed = await report(api, {"id": PROVIDER_ID, "status": "failed"})
    assert failed.status_code == 204
    status = await visit(api, "D1", delivered)
    assert status["messages"][0]["delivery"] == "delivered"
    assert [code for _, code in api.elks.callbacks] == [204, 204]
    assert api.stores.sms_ledger.delivery(PROVIDER_ID) == "delivered"


async def _calls(api: ElksApi) -> int:
    return len(api.elks.callbacks)


async def test_without_basic_credentials_of_46elks_a_report_is_401_and_changes_nothing(
    api_with_elks: ElksApi,
) -> None:
    api = api_with_elks
    api.elks.reports = ("sent",)  # the fake reports `sent` only: the message stays pending
    await reminded(api)
    await eventually(lambda: _calls(api), lambda n: n == 1)
    form, key = {"id": PROVIDER_ID, "status": "failed"}, key_of(api)
    url = f"{CALLBACK}?key={quote(key, safe='')}"
    refusals = [
        await report(api, form, auth=("someone", delivery_token(api.secret, key))),
        await api.http.post(url, data=form),
        await api.http.post(url, data=form, headers=api.auth()),  # an API bearer token
        await api.http.post(url, data=form, headers={"Authorization": "Basic !!!"}),
    ]
    for refused in refusals:
        assert refused.status_code == 401, refused.text
        assert refused.headers["content-type"] == "application/problem+json"
        assert refused.headers["www-authenticate"].startswith("Basic")
    status = await visit(api, "D1")
    assert status["messages"][0]["delivery"] == "pending"
    assert api.stores.sms_ledger.delivery(PROVIDER_ID) == "sent"


async def test_the_old_static_secret_form_is_refused_with_403_and_changes_nothing(
    api_with_elks: ElksApi,
) -> None:
    api = api_with_elks
    api.elks.reports = ("sent",)
    await reminded(api)
    await eventually(lambda: _calls(api), lambda n: n == 1)
    form, key = {"id": PROVIDER_ID, "status": "delivered"}, key_of(api)
    refusals = [
        await api.http.post(CALLBACK, data=form, auth=("46elks", api.secret)),  # the URL before
        await report(api, form, auth=("46elks", api.secret)),  # the secret as the message's token
        await report(api, form, auth=("46elks", "wrong-" + delivery_token(api.secret, key))),
        await report(api, form, key="", auth=("46elks", delivery_token(api.secret, ""))),
        await api.http.post(  # the key twice
            f"{CALLBACK}?key={quote(key, safe='')}&key=x",
            data=form,
            auth=("46elks", delivery_token(api.secret, key)),
        ),
    ]
    for refused in refusals:
        assert refused.status_code == 403, refused.text
        assert refused.headers["content-type"] == "application/problem+json"
        assert len(refused.json()["detail"].splitlines()) == 1
        assert api.secret not in refused.text and delivery_token(api.secret, key) not in refused.text
    status = await visit(api, "D1")
    assert status["messages"][0]["delivery"] == "pending"
    assert api.stores.sms_ledger.delivery(PROVIDER_ID) == "sent"


async def test_a_report_with_its_messages_token_moves_that_messages_delivery(api_with_elks: ElksApi) -> None:
    api = api_with_elks
    api.elks.reports = ()
    await reminded(api)
    assert (await visit(api, "D1"))["messages"][0]["delivery"] == "pending"
    answer = await report(
        api, {"id": PROVIDER_ID, "status": "delivered", "delivered": "2027-03-28 07:00:01.5"}
    )
    assert answer.status_code == 204 and answer.content == b""
    status = await visit(api, "D1", delivered)
    assert status["messages"][0]["delivery"] == "delivered"
    assert api.stores.sms_ledger.delivery(PROVIDER_ID) == "delivered"


async def test_the_token_of_message_a_cannot_report_message_b_and_changes_nothing(
    api_with_elks: ElksApi,
) -> None:
    """Two reminders' SMS with provider ids `sA…` and `sB…`: A's URL (key and token) with B's id, and
    B's key with A's token, are both 403; B stays pending, and B's own token then moves it."""
    api = api_with_elks
    api.elks.reports = ()
    api.elks.scripted = [(200, '{"id": "sAAAA0001", "status": "created"}'), (200, '{"id": "sBBBB0002"}')]
    start = await api.harness.local(days=2, hour=10)
    for booking_id in ("DA", "DB"):
        assert (await api.post("/v1/visits", booking(booking_id, start.isoformat()))).status_code == 201
    await api.harness.sleep_until(await api.harness.local(days=1, hour=9, minute=1))
    for booking_id in ("DA", "DB"):
        await visit(api, booking_id, lambda s: s["state"] == "sent")
    ledger = api.stores.sms_ledger
    keys = {ledger.get(key_of(api, n)).provider_id: key_of(api, n) for n in (0, 1)}  # type: ignore[union-attr]
    key_a, key_b = keys["sAAAA0001"], keys["sBBBB0002"]
    b_delivered = {"id": "sBBBB0002", "status": "delivered"}
    refusals = [
        await report(api, b_delivered, key=key_a),  # A's URL, B's id
        await report(api, b_delivered, key=key_b, auth=("46elks", delivery_token(api.secret, key_a))),
    ]
    for refused in refusals:
        assert refused.status_code == 403, refused.text
        assert refused.headers["content-type"] == "application/problem+json"
    assert ledger.delivery("sBBBB0002") is None and ledger.delivery("sAAAA0001") is None
    booking_b = "DB" if "DB" in key_b else "DA"
    assert (await visit(api, booking_b))["messages"][0]["delivery"] == "pending"
    assert (await report(api, b_delivered, key=key_b)).status_code == 204
    assert (await visit(api, booking_b, delivered))["messages"][0]["delivery"] == "delivered"
    assert ledger.delivery("sAAAA0001") is None


async def test_a_report_before_its_send_is_recorded_is_503_so_46elks_retries(api_with_elks: ElksApi) -> None:
    api = api_with_elks
    api.elks.reports = ()
    await reminded(api)
    answer = await report(api, {"id": "s-early", "status": "delivered"}, key="sms-reminder-X9/v1/patient")
    assert answer.status_code == 503 and answer.headers["retry-after"] == "30"
    assert api.stores.sms_ledger.delivery("s-early") is None


async def test_S15_a_report_for_an_unanswered_attempt_records_the_keys_message(
    api_with_elks: ElksApi,
) -> None:
    """Issue 29: the answer to the key's send was lost and its retry waits for 46elks' history; the
    report at the key's own callback (its token) shows the attempt reached 46elks: the key is sent."""
    api = api_with_elks
    api.elks.reports = ()
    await reminded(api)
    key, ledger = "sms-reminder-X9/v1/patient", api.stores.sms_ledger
    ledger.attempt(key, datetime.now(UTC))
    answer = await report(api, {"id": "s-lost-answer", "status": "delivered"}, key=key)
    assert answer.status_code == 204  # recorded; no reminder of that key to tell
    receipt = ledger.get(key)
    assert receipt is not None and receipt.provider_id == "s-lost-answer"
    assert ledger.attempted(key) is None and ledger.delivery("s-lost-answer") == "delivered"
    again = await report(api, {"id": "s-other", "status": "delivered"}, key=key)  # a second id: not it
    assert again.status_code == 403 and ledger.get(key) == receipt


async def test_a_malformed_report_is_422_and_records_nothing(api_with_elks: ElksApi) -> None:
    api = api_with_elks
    api.elks.reports = ()
    await reminded(api)
    for form in (
        {"status": "delivered"},
        {"id": PROVIDER_ID},
        {"id": PROVIDER_ID, "status": "queued"},
        {"id": "bad id with spaces", "status": "delivered"},
    ):
        refused = await report(api, form)
        assert refused.status_code == 422, form
        assert refused.headers["content-type"] == "application/problem+json"
    assert api.stores.sms_ledger.delivery(PROVIDER_ID) is None
    assert (await visit(api, "D1"))["messages"][0]["delivery"] == "pending"


async def test_a_report_for_a_reminder_that_has_ended_is_204(api_with_elks: ElksApi) -> None:
    api = api_with_elks
    api.elks.reports = ()
    await reminded(api)
    await api.harness.sleep_until(await api.harness.local(days=2, hour=10, minute=5))  # the visit started
    workflow_id = key_of(api).rsplit("/", 2)[0]  # the key is `<workflow id>/v<n>/<role>`
    await asyncio.wait_for(api.harness.client.get_workflow_handle(workflow_id).result(), 30)
    answer = await report(api, {"id": PROVIDER_ID, "status": "delivered"})
    assert answer.status_code == 204
    assert api.stores.sms_ledger.delivery(PROVIDER_ID) == "delivered"  # kept in the ledger all the same
