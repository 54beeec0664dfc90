"""Offered times on a real uvicorn server (issue 27, V8 the offer): the booking system PUTs FHIR Slots,
`GET /v1/requests/{id}/offered-times` answers the free ones that fit the request, earliest first and
paged, at the caller's clinic only; refusals are OperationOutcomes and change nothing."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

import httpx

from demo import bookings
from demo import data as fx
from entrypoints.http.fhir_mapping import HSA_ID
from tests.http.conftest import Api, request_body
from tests.http.test_fhir import FHIR_JSON, outcome

VISIT_TYPE = "Nybesök kirurgi"  # the visit type of `request_body`


def fhir_slot(slot_id: str, start: datetime, minutes: int = 30, **extra: Any) -> dict[str, Any]:
    return {
        "resourceType": "Slot",
        "id": slot_id,
        "schedule": {"identifier": {"system": HSA_ID, "value": fx.HSA_GENERAL}},
        "serviceType": [{"text": VISIT_TYPE}],
        "status": "free",
        "start": start.isoformat(),
        "end": (start + timedelta(minutes=minutes)).isoformat(),
        **extra,
    }


async def put_slot(api: Api, resource: dict[str, Any], token: str | None = None, **kw: Any) -> httpx.Response:
    headers = {**api.auth(token), "content-type": FHIR_JSON}
    return await api.http.put(
        f"/fhir/Slot/{kw.get('slot_id', resource['id'])}", json=resource, headers=headers
    )


async def offered(api: Api, request_id: str, query: str = "", token: str | None = None) -> httpx.Response:
    return await api.get(f"/v1/requests/{request_id}/offered-times{query}", token=token)


async def weekday_at(api: Api, after_days: int, weekday: int, hour: int, minute: int = 0) -> datetime:
    """The first `weekday` (0 = Monday) at least `after_days` days ahead, at `hour` Stockholm time."""
    first = await api.harness.local(days=after_days, hour=hour, minute=minute)
    return await api.harness.local(
        days=after_days + (weekday - first.weekday()) % 7, hour=hour, minute=minute
    )


async def test_V8_offer_the_free_slots_that_fit_the_request_earliest_first_paged(api: Api) -> None:
    body = await request_body(api, "OT1", weekdays=["mon", "wed"], time_of_day="afternoon")
    assert (await api.post("/v1/requests", body)).status_code == 201
    monday, wednesday = await weekday_at(api, 22, 0, 13), await weekday_at(api, 22, 2, 14, 30)
    fits = {"mon-13": monday, "wed-1430": wednesday}
    misfits = {
        "mon-0900": monday - timedelta(hours=4),  # morning
        "tue-1300": monday + timedelta(days=1),  # a Tuesday
        "late": monday + timedelta(days=60),  # after the window
    }
    for slot_id, start in {**fits, **misfits}.items():
        assert (await put_slot(api, fhir_slot(slot_id, start))).status_code == 201
    other_type = fhir_slot("other-type", monday, serviceType=[{"text": "Återbesök"}])
    busy = fhir_slot("busy", monday, status="busy")
    for resource in (other_type, busy):
        assert (await put_slot(api, resource)).status_code == 201
    again = await put_slot(api, fhir_slot("mon-13", monday))
    assert again.status_code == 200 and again.headers["content-type"] == FHIR_JSON
    assert again.json()["id"] == "mon-13"

    answer = await offered(api, "OT1")
    assert answer.status_code == 200, answer.text
    times = answer.json()
    expected = sorted(fits, key=lambda s: fits[s])
    assert [t["slot_id"] for t in times["times"]] == expected and times["total"] == 2
    assert datetime.fromisoformat(times["times"][0]["start"]) == min(fits.values())
    first = (await offered(api, "OT1", "?limit=1")).json()
    assert [t["slot_id"] for t in first["times"]] == expected[:1] and first["next_offset"] == 1
    second = (await offered(api, "OT1", "?limit=1&offset=1")).json()
    assert [t["slot_id"] for t in second["times"]] == expected[1:] and second["next_offset"] is None
    assert (await offered(api, "OT1", "?visit_minutes=45")).json()["times"] == []  # 30-minute slots

    taken = await put_slot(api, fhir_slot("mon-13", monday, status="busy"))  # booked in the booking system
    assert taken.status_code == 200
    assert [t["slot_id"] for t in (await offered(api, "OT1")).json()["times"]] == ["wed-1430"]


async def test_V8_offer_another_clinics_request_is_unknown_and_its_key_cannot_write_our_slots(
    api: Api,
) -> None:
    assert (await api.post("/v1/requests", await request_body(api, "OT2"))).status_code == 201
    start = await api.harness.local(days=25, hour=10)
    assert (await put_slot(api, fhir_slot("s1", start))).status_code == 201
    assert len((await offered(api, "OT2")).json()["times"]) == 1
    unknown = await offered(api, "OT2", token=api.other_token)
    assert unknown.status_code == 404, unknown.text
    refused = await put_slot(api, fhir_slot("s1", start, status="busy"), token=api.other_token)
    assert refused.status_code == 403, refused.text
    assert len((await offered(api, "OT2")).json()["times"]) == 1  # the refused call changed nothing
    assert (await offered(api, "nobody")).status_code == 404


async def test_V8_offer_a_booked_request_offers_nothing(api: Api) -> None:
    assert (await api.post("/v1/requests", await request_body(api, "OT3"))).status_code == 201
    start = await api.harness.local(days=25, hour=10)
    assert (await put_slot(api, fhir_slot("s3", start))).status_code == 201
    assert (await offered(api, "OT3")).json()["total"] == 1
    booking = {"booking_id": "B-OT3", "start": start.isoformat(), "by": "staff"}
    assert (await api.post("/v1/requests/OT3/booking", booking)).status_code == 200
    assert (await offered(api, "OT3")).json() | {"request_id": None} == {
        "request_id": None,
        "visit_minutes": 1,
        "total": 0,
        "offset": 0,
        "next_offset": None,
        "times": [],
    }


async def test_V8_offer_a_slot_the_service_cannot_map_is_refused_with_one_clear_message(api: Api) -> None:
    start = await api.harness.local(days=25, hour=10)
    cases = {
        "id of the URL": (fhir_slot("s4", start), "other-id"),
        "reception's HSA-id": (fhir_slot("s4", start, schedule={"reference": "Schedule/x"}), "s4"),
        "single reception": (
            fhir_slot("s4", start, schedule={"identifier": {"system": HSA_ID, "value": "SE2321000016-NONE"}}),
            "s4",
        ),
        "visit type": (fhir_slot("s4", start, serviceType=[]), "s4"),
        "status must be": (fhir_slot("s4", start, status="maybe"), "s4"),
        "end must be after its start": (fhir_slot("s4", start, minutes=-30), "s4"),
        "start": (fhir_slot("s4", start) | {"start": None}, "s4"),
    }
    for expected, (resource, slot_id) in cases.items():
        refused = await put_slot(api, resource, slot_id=slot_id)
        assert expected in outcome(refused, 422, "invalid"), (expected, refused.text)
    wrong_type = await api.http.put(
        "/fhir/Slot/s4", content=b"{}", headers={**api.auth(), "content-type": "text/plain"}
    )
    assert wrong_type.status_code == 415


async def test_V8_offer_the_demo_request_is_offered_the_demo_slots_that_fit_it(api: Api) -> None:
    """`demo-far` (Mondays and Wednesdays, afternoons) is offered the demo's 14:00 slots on those days
    (`dev.py run --demo` puts `demo_slots` in the store)."""
    far = next(r for r in bookings.demo_requests() if r.request_id == "demo-far")
    assert (await api.post("/v1/requests", far.model_dump(mode="json"))).status_code == 201
    for slot in bookings.demo_slots():
        api.stores.slots.put(slot)
    answer = await offered(api, "demo-far", "?visit_minutes=45&limit=100")
    assert answer.status_code == 200, answer.text
    starts = [datetime.fromisoformat(t["start"]) for t in answer.json()["times"]]
    fitting = {(0, 14), (2, 14)}
    expected = [s.start for s in bookings.demo_slots() if (s.start.weekday(), s.start.hour) in fitting]
    assert starts == sorted(expected) and len(starts) == 4  # two weeks of Mondays and Wednesdays
