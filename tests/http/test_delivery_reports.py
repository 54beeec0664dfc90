"""Delivery reports end to end on a real uvicorn server: the worker sends through the 46elks adapter
to the fake 46elks, which calls back `POST /callbacks/sms/46elks` like the real one; the report shows
as `delivery` on the visit's status. Wrong credentials and malformed forms change nothing."""

from __future__ import annotations

import asyncio
from typing import Any

import httpx

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


async def report(api: ElksApi, form: dict[str, str], auth: Any = None) -> httpx.Response:
    return await api.http.post(CALLBACK, data=form, auth=auth or ("46elks", api.secret))


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
    assert sent["form"]["whendelivered"] == api.callback.replace("://", f"://46elks:{api.secret}@")
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


async def test_a_wrong_or_missing_secret_is_401_and_changes_nothing(api_with_elks: ElksApi) -> None:
    api = api_with_elks
    api.elks.reports = ("sent",)  # the fake reports `sent` only: the message stays pending
    await reminded(api)
    await eventually(lambda: _calls(api), lambda n: n == 1)
    form = {"id": PROVIDER_ID, "status": "failed"}
    refusals = [
        await report(api, form, auth=("46elks", "wrong-" + api.secret)),
        await report(api, form, auth=("someone", api.secret)),
        await api.http.post(CALLBACK, data=form),
        await api.http.post(CALLBACK, data=form, headers=api.auth()),  # an API bearer token
        await api.http.post(CALLBACK, data=form, headers={"Authorization": "Basic !!!"}),
    ]
    for refused in refusals:
        assert refused.status_code == 401, refused.text
        assert refused.headers["content-type"] == "application/problem+json"
        assert refused.headers["www-authenticate"].startswith("Basic")
        assert api.secret not in refused.text
    status = await visit(api, "D1")
    assert status["messages"][0]["delivery"] == "pending"
    assert api.stores.sms_ledger.delivery(PROVIDER_ID) == "sent"


async def test_a_report_for_an_unknown_id_is_204_and_changes_nothing(api_with_elks: ElksApi) -> None:
    api = api_with_elks
    api.elks.reports = ()
    await reminded(api)
    answer = await report(
        api, {"id": "s-not-ours", "status": "delivered", "delivered": "2027-03-28 07:00:01.5"}
    )
    assert answer.status_code == 204 and answer.content == b""
    status = await visit(api, "D1")
    assert status["messages"][0]["delivery"] == "pending"


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
    await asyncio.wait_for(api.harness.client.get_workflow_handle("sms-reminder-D1").result(), 30)
    answer = await report(api, {"id": PROVIDER_ID, "status": "delivered"})
    assert answer.status_code == 204
    assert api.stores.sms_ledger.delivery(PROVIDER_ID) == "delivered"  # kept in the ledger all the same
