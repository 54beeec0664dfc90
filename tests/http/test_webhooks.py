"""Events out end to end on a real uvicorn server, a worker on the time-skipping server and receivers on
127.0.0.1 that verify every signature with the `standardwebhooks` library: registration (`PUT`, `GET`,
`DELETE /v1/webhooks`, the caller's clinics only, audited), one signed event per change from the
reminder's SMS (S15), its skips with the reason (S10) and the provider's delivery reports, a receiver
that is down for a while, one down past the deadline in `GET /v1/webhooks/deliveries?status=failed`,
another clinic's webhook receiving nothing, and no patient data of the demo in any event (S16)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import timedelta
from typing import Any

from demo import data as fx
from testkit.webhook_receiver import WebhookReceiver
from tests.harness import assert_no_patient_data, eventually
from tests.http.conftest import Api, ElksApi, booking
from workflows.events import DELIVERY_DEADLINE

KIR, ONH = fx.CLINIC_CONNECTED, fx.CLINIC_NOT_CONNECTED


@asynccontextmanager
async def registered(
    api: Api, clinic_id: str = KIR, token: str | None = None
) -> AsyncIterator[WebhookReceiver]:
    """A receiver registered as the webhook of the caller of `token` at `clinic_id`."""
    with WebhookReceiver() as receiver:
        answer = await api.put("/v1/webhooks", {"clinic_id": clinic_id, "url": receiver.url}, token)
        assert answer.status_code == 201, answer.text
        receiver.secret = answer.json()["secret"]
        yield receiver


async def reminded(api: Api, booking_id: str, **fields: Any) -> None:
    """Book a visit in two days and let the day before's 09:00 pass (its SMS goes then)."""
    start = await api.harness.local(days=2, hour=10)
    created = await api.post("/v1/visits", booking(booking_id, start.isoformat(), **fields))
    assert created.status_code == 201, created.text
    await api.harness.sleep_until(await api.harness.local(days=1, hour=9, minute=1))


async def deliveries(api: Api, status: str, token: str | None = None) -> list[dict[str, Any]]:
    answer = await api.get(f"/v1/webhooks/deliveries?status={status}", token)
    assert answer.status_code == 200, answer.text
    return answer.json()["deliveries"]


async def taken(receiver: WebhookReceiver, count: int, timeout: float = 15.0) -> list[dict[str, Any]]:
    async def events() -> list[dict[str, Any]]:
        return receiver.events

    return await eventually(events, lambda found: len(found) >= count, timeout)


async def test_a_webhook_is_registered_once_per_clinic_its_secret_shown_once_and_listed_without_it(
    api: Api,
) -> None:
    url = "https://booking.example/hooks/kir"
    made = await api.put("/v1/webhooks", {"clinic_id": KIR, "url": url})
    assert made.status_code == 201 and made.json()["secret"].startswith("whsec_")
    again = await api.put("/v1/webhooks", {"clinic_id": KIR, "url": url})
    assert again.status_code == 200 and "secret" not in again.json()
    moved = await api.put("/v1/webhooks", {"clinic_id": KIR, "url": url + "/v2"})
    assert moved.status_code == 200 and moved.json()["url"] == url + "/v2" and "secret" not in moved.json()
    listed = await api.get("/v1/webhooks")
    assert [(w["clinic_id"], w["url"]) for w in listed.json()["webhooks"]] == [(KIR, url + "/v2")]
    assert "secret" not in listed.text and made.json()["secret"] not in listed.text
    assert (await api.get("/v1/webhooks", api.other_token)).json() == {"webhooks": []}
    other = await api.http.delete("/v1/webhooks?clinic_id=kir", headers=api.auth(api.other_token))
    assert other.status_code == 404
    assert (await api.http.delete("/v1/webhooks?clinic_id=kir", headers=api.auth())).status_code == 204
    gone = await api.http.delete("/v1/webhooks?clinic_id=kir", headers=api.auth())
    assert gone.status_code == 404 and gone.headers["content-type"] == "application/problem+json"
    actions = [(r.action, r.outcome) for r in api.stores.audit.records() if r.action.startswith("webhook.")]
    assert actions[:3] == [("webhook.register", "ok")] * 3 and ("webhook.remove", "refused:404") in actions


async def test_a_registration_is_refused_in_one_line_for_another_clinic_a_bad_url_or_an_unknown_field(
    api: Api,
) -> None:
    cases = [
        ({"clinic_id": ONH, "url": "https://booking.example/h"}, 404, "unknown clinic 'onh'"),
        ({"clinic_id": "nowhere", "url": "https://booking.example/h"}, 404, "unknown clinic"),
        ({"clinic_id": KIR, "url": "http://booking.example/h"}, 422, "url: must be an https:// URL"),
        ({"clinic_id": KIR, "url": "https://user:pw@booking.example/h"}, 422, "without user, password"),
        ({"clinic_id": KIR, "url": "https://booking.example:x/h"}, 422, "url: must be"),
        ({"clinic_id": KIR, "url": "ftp://booking.example/h"}, 422, "url: must be"),
        (
            {"clinic_id": KIR, "url": "https://booking.example/h", "secret": "mine"},
            422,
            "secret: Extra inputs",
        ),
        ({"clinic_id": fx.PNR_ADULT_1177, "url": "https://booking.example/h"}, 422, "clinic_id"),
    ]
    for body, code, detail in cases:
        answer = await api.put("/v1/webhooks", body)
        assert answer.status_code == code, (body, answer.text)
        assert detail in answer.json()["detail"] and "\n" not in answer.json()["detail"]
        assert "user:pw" not in answer.text and fx.PNR_ADULT_1177 not in answer.text
    assert (await api.get("/v1/webhooks")).json() == {"webhooks": []}


async def test_S15_S16_a_sent_reminder_yields_one_signed_message_sent_and_another_clinics_webhook_nothing(
    api: Api,
) -> None:
    async with registered(api) as receiver, registered(api, ONH, api.other_token) as other:
        await reminded(api, "W1")
        [event] = await taken(receiver, 1)
        await api.harness.sleep_until(await api.harness.local(days=1, hour=12))
    assert event["type"] == "message.sent" and event["id"].startswith("evt_")
    assert event["data"] == {
        "clinic_id": KIR,
        "booking_id": "W1",
        "message": "sms_reminder",
        "channel": "sms",
        "recipient": "patient",
        "visit_version": 1,
    }
    assert len(receiver.requests) == 1 and receiver.requests[0].verified
    assert other.requests == []
    assert_no_patient_data([r.body for r in receiver.requests])
    [delivery] = await eventually(lambda: deliveries(api, "delivered"), lambda found: len(found) == 1)
    assert (delivery["event_id"], delivery["attempts"], delivery["event"]) == (
        event["id"],
        1,
        {k: v for k, v in event.items() if k != "id"},
    )
    assert (await api.get("/v1/webhooks/deliveries", api.other_token)).json() == {"deliveries": []}


async def test_S10_a_skip_yields_message_skipped_with_its_reason(api: Api) -> None:
    async with registered(api) as receiver:
        start = await api.harness.local(days=2, hour=10)
        assert (await api.post("/v1/visits", booking("W2", start.isoformat()))).status_code == 201
        assert (await api.put("/v1/visits/W2/sms-flag", {"sms_flag": False})).status_code == 200
        await api.harness.sleep_until(await api.harness.local(days=1, hour=9, minute=1))
        [event] = await taken(receiver, 1)
    assert (event["type"], event["data"]["reason"], event["data"]["booking_id"]) == (
        "message.skipped",
        "sms_flag_off",
        "W2",
    )
    assert "recipient" not in event["data"]


async def test_a_delivery_report_yields_message_delivered(api_with_elks: ElksApi) -> None:
    api = api_with_elks
    async with registered(api) as receiver:
        await reminded(api, "W3")
        events = await taken(receiver, 2)
    assert [e["type"] for e in events] == ["message.sent", "message.delivered"]
    assert events[1]["data"] == events[0]["data"] and events[0]["id"] != events[1]["id"]
    assert_no_patient_data([r.body for r in receiver.requests])


async def test_a_receiver_down_then_answering_503_then_up_gets_each_event_once(api: Api) -> None:
    async with registered(api) as receiver:
        receiver.down()
        await reminded(api, "W4")
        await api.harness.env.sleep(timedelta(seconds=35))  # tries after 0, 10, 30 s…: refused
        [tried] = await eventually(
            lambda: deliveries(api, "pending"), lambda found: len(found) == 1 and found[0]["attempts"] >= 2
        )
        assert tried["last_status_code"] is None and "ConnectError" in tried["last_error"]
        receiver.scripted = [503, 503]
        receiver.up()
        await api.harness.env.sleep(timedelta(minutes=20))  # two tries answered 503, the next taken
        [event] = await taken(receiver, 1)
    assert [r.status for r in receiver.requests] == [503, 503, 204]
    assert {r.headers["webhook-id"] for r in receiver.requests} == {event["id"]}
    [delivery] = await eventually(lambda: deliveries(api, "delivered"), lambda found: len(found) == 1)
    assert delivery["attempts"] >= 5 and delivery["last_status_code"] == 204


async def test_a_receiver_down_past_the_deadline_is_listed_as_failed(api: Api) -> None:
    async with registered(api) as receiver:
        receiver.down()
        await reminded(api, "W5")
        await api.harness.env.sleep(DELIVERY_DEADLINE + timedelta(hours=1))
        [lost] = await eventually(lambda: deliveries(api, "failed"), lambda found: len(found) == 1)
    assert lost["event_type"] == "message.sent" and lost["event"]["data"]["booking_id"] == "W5"
    assert lost["attempts"] > 10 and "ConnectError" in lost["last_error"] and receiver.requests == []
    assert await deliveries(api, "failed", api.other_token) == []
    assert (await api.get("/v1/webhooks/deliveries?status=lost")).status_code == 422
