"""Issue 28, the patients' SMS replies end to end on a real uvicorn server: the demo clinic gets a
reply number, its reminder goes from that number with the reply words, and a 46elks-shaped sender on
127.0.0.1 posts the inbound SMS to `POST /callbacks/sms/46elks/replies` with the number's token.
A matched reply reaches the reminder as the signal `patient_reply` (kept in the history; what it
does: tests/workflows/test_replies.py); an unmatched or ambiguous one goes to the clinic's staff
list; a refused call, or the same id again, changes nothing."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest_asyncio
from temporalio.api.enums.v1 import EventType

from application.replies import reply_token
from demo import data as fx
from domain.phone import mask_mobile, normalize_mobile
from testkit.processes import HOST, free_port
from tests.harness import eventually
from tests.http.conftest import Api, booking, running_api
from tests.web.conftest import DEMO_LOGIN, Staff

SECRET = "dlr-replies-test-secret"
VIRTUAL = "+46766860001"
PATH = "/callbacks/sms/46elks/replies"
ADULT = normalize_mobile(fx.MOBILE_ADULT_1177)
GUARDIAN_1 = normalize_mobile(fx.MOBILE_GUARDIAN_1)


@pytest_asyncio.fixture
async def api(tmp_path: Path) -> AsyncIterator[Api]:
    """The API (delivery secret set) whose demo clinic `kir` takes replies on `VIRTUAL`."""
    async with running_api(tmp_path, delivery_secret=SECRET) as running:
        document = fx.demo_document()
        document["clinics"][0]["reply_number"] = VIRTUAL
        running.stores.directory.load_document(document)
        yield running


def form(inbound_id: str, sender: str, message: str, to: str = VIRTUAL) -> dict[str, str]:
    """What 46elks posts for an SMS to a virtual number."""
    return {
        "direction": "incoming",
        "id": inbound_id,
        "from": sender,
        "to": to,
        "message": message,
        "created": "",
    }


async def reply(api: Api, body: dict[str, str], auth: Any = None) -> httpx.Response:
    """POST as 46elks does: the number's token as the Basic password of user 46elks."""
    auth = auth or ("46elks", reply_token(SECRET, body["to"]))
    return await api.http.post(PATH, data=body, auth=auth)


async def reminded(api: Api, *bookings: dict[str, Any]) -> None:
    """Book the visits (in two days), then let their SMS go the day before at 09:00."""
    for body in bookings:
        assert (await api.post("/v1/visits", body)).status_code == 201, body
    await api.harness.sleep_until(await api.harness.local(days=1, hour=9, minute=1))
    for body in bookings:

        async def state(booking_id: str = body["booking_id"]) -> str:
            return (await api.get(f"/v1/visits/{booking_id}")).json()["state"]

        assert await eventually(state, lambda s: s != "scheduled") == "sent"


async def signals(api: Api, workflow_id: str) -> list[Any]:
    """The `patient_reply` signals in the reminder's history, their input decoded."""
    handle = api.harness.client.get_workflow_handle(workflow_id)
    history = await handle.fetch_history()
    found = []
    for event in history.events:
        if event.event_type == EventType.EVENT_TYPE_WORKFLOW_EXECUTION_SIGNALED:
            attributes = event.workflow_execution_signaled_event_attributes
            if attributes.signal_name == "patient_reply":
                [decoded] = await api.harness.client.data_converter.decode(attributes.input.payloads)
                found.append(decoded)
    return found


async def visit_start(api: Api) -> str:
    return (await api.harness.local(days=2, hour=10)).isoformat()


async def test_issue28_a_reminder_from_the_reply_number_and_avboka_signals_that_reminder_once(
    api: Api,
) -> None:
    await reminded(api, booking("R1", await visit_start(api)))
    [sms] = api.harness.outbox.messages()
    assert sms.sender == VIRTUAL and "Svara AVBOKA" in sms.text and sms.to == ADULT

    answered = await reply(api, form("sr1", ADULT, "Avboka tack!"))
    assert answered.status_code == 204 and answered.content == b""  # a body would go back as an SMS
    again = await reply(api, form("sr1", ADULT, "Avboka tack!"))  # 46elks retries
    assert again.status_code == 204
    [signal] = await signals(api, "sms-reminder:kir:R1")
    assert {k: signal[k] for k in ("inbound_id", "word", "role", "version")} == {
        "inbound_id": "sr1",
        "word": "avboka",
        "role": "patient",
        "version": 1,
    }
    assert "Avboka tack" not in str(signal)  # never the text
    [audited] = [
        r for r in api.stores.audit.records(workflow_id="sms-reminder:kir:R1") if r.actor == "46elks"
    ]
    assert (audited.action, audited.outcome, audited.clinic_id) == ("sms.reply.avboka", "matched", "kir")
    assert api.stores.replies.for_staff("kir") == []

    stop = await reply(api, form("sr2", ADULT, "STOPP"))
    assert stop.status_code == 204
    assert [s["word"] for s in await signals(api, "sms-reminder:kir:R1")] == ["avboka", "stopp"]


async def test_issue28_each_reply_is_counted_on_the_apis_metrics_endpoint(tmp_path: Path) -> None:
    """`patient_replies` by clinic, word and match, on the API's Prometheus endpoint."""
    port = free_port()
    async with running_api(tmp_path, delivery_secret=SECRET, api_metrics_bind=f"{HOST}:{port}") as api:
        document = fx.demo_document()
        document["clinics"][0]["reply_number"] = VIRTUAL
        api.stores.directory.load_document(document)
        for inbound_id in ("sm1", "sm2", "sm2"):  # the repeat is not counted again
            assert (await reply(api, form(inbound_id, "+46701111111", "STOPP"))).status_code == 204
        async with httpx.AsyncClient() as prometheus:
            metrics = (await prometheus.get(f"http://{HOST}:{port}/metrics")).text
    [line] = [m for m in metrics.splitlines() if m.startswith("patient_replies") and "word=" in m]
    assert 'clinic_id="kir"' in line and 'word="stopp"' in line and 'outcome="unmatched"' in line
    assert line.rsplit(" ", 1)[1] == "2"
    assert "+46701111111" not in metrics


async def test_issue28_refused_calls_change_nothing(api: Api) -> None:
    body = form("sr9", ADULT, "avboka")
    refusals = {
        401: [
            await api.http.post(PATH, data=body),
            await reply(api, body, auth=("someone", reply_token(SECRET, VIRTUAL))),
        ],
        403: [
            await reply(api, body, auth=("46elks", reply_token(SECRET, "+46766860002"))),  # another number's
            await reply(api, body, auth=("46elks", reply_token("another-secret", VIRTUAL))),
            await reply(api, body | {"to": "not-a-number"}, auth=("46elks", reply_token(SECRET, VIRTUAL))),
        ],
        422: [
            await reply(api, body | {"id": "bad id!"}),
            await reply(api, body | {"from": "0701740605"}),
            await reply(api, {k: v for k, v in body.items() if k != "message"}),
        ],
        404: [await reply(api, body | {"to": "+46766860002"})],  # its token fits, but no clinic has it
    }
    for code, answers in refusals.items():
        for answer in answers:
            assert answer.status_code == code, answer.text
            assert answer.headers["content-type"] == "application/problem+json"
            assert ADULT not in answer.text and "avboka" not in answer.text
    assert api.stores.replies.reply("sr9") is None
    assert [r for r in api.stores.audit.records() if r.actor == "46elks"] == []


async def test_issue28_an_unknown_number_and_two_close_reminders_go_to_the_staff_list(api: Api) -> None:
    start = await visit_start(api)
    child = booking("C1", start) | {"patient_id": fx.PNR_CHILD}
    sibling = booking("C2", start) | {"patient_id": fx.PNR_CHILD, "start": start.replace("T10:", "T11:")}
    await reminded(api, child, sibling)

    stranger = await reply(api, form("su1", "+46701111111", "Hej, vem är detta?"))
    assert stranger.status_code == 204
    ambiguous = await reply(api, form("sa1", GUARDIAN_1, "avboka"))  # both reminders reached guardian 1
    assert ambiguous.status_code == 204
    listed = {r.inbound_id: r for r in api.stores.replies.for_staff("kir")}
    assert set(listed) == {"su1", "sa1"}
    assert (listed["su1"].outcome.value, listed["sa1"].outcome.value) == ("unmatched", "ambiguous")
    assert listed["sa1"].word.value == "avboka" and listed["su1"].text == "Hej, vem är detta?"
    assert await signals(api, "sms-reminder:kir:C1") == [] and await signals(api, "sms-reminder:kir:C2") == []
    assert api.stores.replies.for_staff("onh") == []


async def test_issue28_a_guardians_reply_acts_for_the_minors_reminder_as_the_guardian(api: Api) -> None:
    await reminded(api, booking("G1", await visit_start(api)) | {"patient_id": fx.PNR_CHILD})
    senders = {m.to: m.sender for m in api.harness.outbox.messages()}
    assert senders.get(GUARDIAN_1) == VIRTUAL
    assert (await reply(api, form("sg1", GUARDIAN_1, "avboka."))).status_code == 204
    [signal] = await signals(api, "sms-reminder:kir:G1")
    assert (signal["role"], signal["word"]) == ("guardian_1", "avboka")


async def test_issue28_the_staff_page_lists_the_clinics_unmatched_replies_masked_only_to_its_staff(
    tmp_path: Path,
) -> None:
    """The rendered page `/staff/clinics/kir/replies`: Sara (clinic kir) sees the reply with the number
    masked and its text; Olle (clinic onh) is refused and sees nothing of it."""
    async with (
        running_api(tmp_path, delivery_secret=SECRET, **DEMO_LOGIN) as api,
        httpx.AsyncClient(base_url=api.url, timeout=30) as sara_http,
        httpx.AsyncClient(base_url=api.url, timeout=30) as olle_http,
    ):
        document = fx.demo_document()
        document["clinics"][0]["reply_number"] = VIRTUAL
        api.stores.directory.load_document(document)
        assert (await reply(api, form("sp1", "+46701111111", "Kan jag byta tid?"))).status_code == 204
        sara, olle = Staff(sara_http), Staff(olle_http)
        await sara.log_in("sara")
        await olle.log_in("olle")
        page = await sara.get("/staff/clinics/kir/replies")
        assert page.status_code == 200
        assert "Kan jag byta tid?" in page.text and "Ingen påminnelse till numret" in page.text
        assert "+46701111111" not in page.text and "0701111111" not in page.text
        assert mask_mobile("+46701111111") in page.text
        refused = await olle.get("/staff/clinics/kir/replies")
        assert refused.status_code == 403 and "Kan jag byta tid?" not in refused.text
        assert "Kan jag byta tid?" not in (await olle.get("/staff/clinics/onh/replies")).text
        audited = [r for r in api.stores.audit.records() if r.action == "web.replies"]
        assert {(r.actor, r.outcome) for r in audited} >= {
            ("staff:demo-sara", "ok"),
            ("staff:demo-olle", "refused:403"),
        }


async def test_issue28_staff_mark_an_unmatched_reply_handled_it_is_kept_and_leaves_the_list(
    tmp_path: Path,
) -> None:
    """ "Markera som hanterat" on `/staff/clinics/kir/replies`: a form with the session's CSRF token;
    the reply stays in the store, the list stops showing it, audited `web.replies.handled`. Without
    the token, from another clinic's user, or for an id the clinic's list does not hold: refused,
    nothing changes."""
    async with (
        running_api(tmp_path, delivery_secret=SECRET, **DEMO_LOGIN) as api,
        httpx.AsyncClient(base_url=api.url, timeout=30) as sara_http,
        httpx.AsyncClient(base_url=api.url, timeout=30) as olle_http,
    ):
        document = fx.demo_document()
        document["clinics"][0]["reply_number"] = VIRTUAL
        api.stores.directory.load_document(document)
        assert (await reply(api, form("sh1", "+46701111111", "Kan jag byta tid?"))).status_code == 204
        sara, olle = Staff(sara_http), Staff(olle_http)
        await sara.log_in("sara")
        await olle.log_in("olle")
        handled = "/staff/clinics/kir/replies/sh1/handled"
        assert "Markera som hanterat" in (await sara.get("/staff/clinics/kir/replies")).text

        assert (await sara.post(handled, csrf="forged")).status_code == 403
        assert (await olle.post(handled)).status_code == 403
        assert (await olle.post("/staff/clinics/onh/replies/sh1/handled")).status_code == 404
        assert (await sara.post("/staff/clinics/kir/replies/unknown-id/handled")).status_code == 404
        assert api.stores.replies.reply("sh1").handled_at is None  # every refusal changed nothing

        done = await sara.post(handled)
        assert done.status_code == 303 and done.headers["location"].endswith("/staff/clinics/kir/replies")
        page = await sara.get("/staff/clinics/kir/replies")
        assert "Svaret är hanterat" in page.text and "Kan jag byta tid?" not in page.text
        assert "Listan är tom." in page.text
        assert api.stores.replies.reply("sh1").handled_at is not None  # kept, marked
        assert (await sara.post(handled)).status_code == 303  # the same again: harmless
        audited = [r for r in api.stores.audit.records() if r.action == "web.replies.handled"]
        assert {(r.actor, r.outcome) for r in audited} == {
            ("staff:demo-sara", "ok"),
            ("staff:demo-olle", "refused:403"),
            ("staff:demo-olle", "refused:404"),
            ("staff:demo-sara", "refused:404"),
        }


async def test_issue28_the_booking_system_marks_a_visits_replies_handled_over_rest(api: Api) -> None:
    """`POST /v1/visits/{id}/reply-handled`, the staff page's button for a booking system: another
    clinic's key finds no such visit and changes nothing; a visit nobody replied to is 409; a repeat is
    harmless."""
    start = await visit_start(api)
    await reminded(api, booking("H1", start))
    assert (await reply(api, form("sh1", ADULT, "AVBOKA"))).status_code == 204

    async def replies() -> list[dict[str, Any]]:
        return (await api.get("/v1/visits/H1")).json()["replies"]

    [waiting] = await eventually(replies, bool)
    assert (waiting["word"], waiting["handled"]) == ("avboka", False)
    path = "/v1/visits/H1/reply-handled"
    foreign = await api.http.post(path, headers=api.auth(api.other_token))
    assert foreign.status_code == 404 and [r["handled"] for r in await replies()] == [False]

    handled = await api.http.post(path, headers=api.auth())
    assert handled.status_code == 200, handled.text
    assert [(r["word"], r["handled"]) for r in handled.json()["replies"]] == [("avboka", True)]
    again = await api.http.post(path, headers=api.auth())
    assert again.status_code == 200 and again.json()["replies"] == handled.json()["replies"]

    assert (await api.post("/v1/visits", booking("H2", start.replace("T10:", "T14:")))).status_code == 201
    unanswered = await api.http.post("/v1/visits/H2/reply-handled", headers=api.auth())
    assert unanswered.status_code == 409
    assert "has not replied" in unanswered.json()["detail"]
    actions = {r.action for r in api.stores.audit.records(workflow_id="sms-reminder:kir:H1")}
    assert "visit.reply_handled" in actions
