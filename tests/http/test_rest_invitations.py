"""REST v1 for care invitations (V1–V14) on a real uvicorn server: create, convert, change, book (the
visit's SMS reminder starts, V9), contact, cancel; refusals as problem+json."""

from __future__ import annotations

from demo import data as fx
from tests.harness import eventually
from tests.http.conftest import Api, request_body


async def test_V9_staff_book_the_invitation_over_http_and_the_visit_gets_its_sms_reminder(
    api: Api,
) -> None:
    created = await api.post("/v1/requests", await request_body(api, "R1"))
    assert created.status_code == 201, created.text
    assert (await api.post("/v1/requests", await request_body(api, "R1"))).status_code == 200
    status = (await api.get("/v1/requests/R1")).json()
    assert status["work_list"] == "vardinbjudan" and status["patient"] != fx.PNR_ADULT_1177
    start = await api.harness.local(days=25, hour=10)
    booked = await api.post(
        "/v1/requests/R1/booking", {"booking_id": "B-R1", "start": start.isoformat(), "by": "staff"}
    )
    assert booked.status_code == 200, booked.text
    assert booked.json()["state"] == "booked"

    async def reminder() -> int:
        return (await api.get("/v1/visits/B-R1")).status_code

    assert await eventually(reminder, lambda code: code == 200) == 200
    again = await api.post("/v1/requests/R1/contact", {"note": "ringde"})
    assert again.status_code == 409 and "has ended" in again.json()["detail"]  # booked: it is over
    assert (await api.get("/v1/requests/R1")).json()["state"] == "booked"


async def test_V11_V10_convert_then_change_a_plain_request_over_http(api: Api) -> None:
    body = await request_body(api, "R2", invitation=False, referral_id=None)
    assert (await api.post("/v1/requests", body)).status_code == 201
    assert (await api.get("/v1/requests/R2")).json()["work_list"] == "bokningsbegaran"
    refused = await api.post("/v1/requests/R2/convert", {})  # V1: an invitation needs a referral
    assert refused.status_code in (409, 422) and "referral" in refused.json()["detail"]
    converted = await api.post("/v1/requests/R2/convert", {"referral_id": "ref-R2"})
    assert converted.status_code == 200, converted.text
    assert converted.json()["work_list"] == "vardinbjudan"
    changed = await api.post("/v1/requests/R2/change", {"weekdays": ["mon", "wed"]})
    assert changed.status_code == 200 and changed.json()["weekdays"] == ["mon", "wed"]


async def test_V7_V14_contact_and_cancel_end_the_reminders_and_others_are_refused(api: Api) -> None:
    assert (await api.post("/v1/requests", await request_body(api, "R3"))).status_code == 201
    assert (await api.get("/v1/requests/R3", token=api.other_token)).status_code == 404  # not theirs
    assert (await api.post("/v1/requests/R3/cancel", {}, token=api.other_token)).status_code == 404
    assert (await api.post("/v1/requests/R3/contact", {"note": "ringde"})).status_code == 202

    async def state() -> str:
        return (await api.get("/v1/requests/R3")).json()["state"]

    assert await eventually(state, lambda s: s == "contacted") == "contacted"
    start = await api.harness.local(days=25, hour=10)
    late = await api.post(
        "/v1/requests/R3/booking", {"booking_id": "B-R3", "start": start.isoformat(), "by": "staff"}
    )
    assert late.status_code == 409
    assert (await api.get("/v1/requests/nope")).status_code == 404
    bad = await api.post("/v1/requests", await request_body(api, "R4", window={"first_date": "2020-01-01"}))
    assert bad.status_code == 422 and fx.PNR_ADULT_1177 not in bad.text
