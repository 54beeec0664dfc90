"""Booking an offered time on a real uvicorn server (issue 27, V8 the offer): `POST
/v1/requests/{id}/booking` with a `slot_id` takes the slot for the booking and books the request at its
start. Of two concurrent bookings of one slot exactly one wins (the other 409, its request unchanged);
a booking the workflow refuses gives the slot back; another clinic's slot is unknown."""

from __future__ import annotations

import asyncio
from datetime import datetime, timedelta
from typing import Any

import httpx

from demo import bookings
from demo import data as fx
from domain.invitation_offer import Slot
from tests.harness import eventually
from tests.http.conftest import Api, request_body
from tests.http.test_offered_times import VISIT_TYPE, fhir_slot, offered, put_slot


def by_slot(booking_id: str, slot_id: str, by: str = "patient", **extra: Any) -> dict[str, Any]:
    return {"booking_id": booking_id, "slot_id": slot_id, "by": by, **extra}


async def book(api: Api, request_id: str, body: dict[str, Any], token: str | None = None) -> httpx.Response:
    return await api.post(f"/v1/requests/{request_id}/booking", body, token=token)


async def offered_ids(api: Api, request_id: str) -> list[str]:
    answer = await offered(api, request_id, "?limit=100")
    assert answer.status_code == 200, answer.text
    return [t["slot_id"] for t in answer.json()["times"]]


async def new_request(api: Api, request_id: str, **extra: Any) -> None:
    assert (await api.post("/v1/requests", await request_body(api, request_id, **extra))).status_code == 201


def is_free(api: Api, slot_id: str, clinic_id: str = fx.CLINIC_CONNECTED) -> bool:
    slot = api.stores.slots.get(clinic_id, slot_id)
    assert slot is not None
    return slot.free


async def test_V8_offer_booking_by_slot_takes_it_from_everyone_and_a_second_booking_of_it_is_409(
    api: Api,
) -> None:
    await new_request(api, "SB1")
    await new_request(api, "SB2")
    first, second = await api.harness.local(days=25, hour=10), await api.harness.local(days=26, hour=10)
    for slot_id, start in (("sb-a", first), ("sb-b", second)):
        assert (await put_slot(api, fhir_slot(slot_id, start))).status_code == 201
    assert await offered_ids(api, "SB1") == await offered_ids(api, "SB2") == ["sb-a", "sb-b"]

    booked = await book(api, "SB1", by_slot("B-SB1", "sb-a"))
    assert booked.status_code == 200, booked.text
    assert booked.json()["state"] == "booked"
    assert datetime.fromisoformat(booked.json()["booked"]["start"]) == first
    assert await offered_ids(api, "SB2") == ["sb-b"]  # the booked slot is offered to no one
    assert not is_free(api, "sb-a")

    again = await book(api, "SB1", by_slot("B-SB1", "sb-a"))  # the same booking again: as by start
    assert again.status_code == 409 and "has ended" in again.json()["detail"]
    assert not is_free(api, "sb-a")  # a repeat never frees the booked time

    taken = await book(api, "SB2", by_slot("B-SB2", "sb-a"))
    assert taken.status_code == 409, taken.text
    assert taken.json()["detail"] == "the time is no longer free (slot 'sb-a')"
    status = (await api.get("/v1/requests/SB2")).json()
    assert status["state"] != "booked" and status["booked"] is None  # the refusal changed nothing
    assert await offered_ids(api, "SB2") == ["sb-b"]

    differ = await book(api, "SB2", by_slot("B-SB2", "sb-b", start=first.isoformat()))
    assert differ.status_code == 422 and "slot_id and start name different times" in differ.json()["detail"]
    neither = await book(api, "SB2", {"booking_id": "B-SB2", "by": "patient"})
    assert neither.status_code == 422 and "start or slot_id" in neither.json()["detail"]
    assert is_free(api, "sb-b")
    both = await book(api, "SB2", by_slot("B-SB2", "sb-b", start=second.isoformat()))  # both, agreeing
    assert both.status_code == 200, both.text
    assert await offered_ids(api, "SB1") == await offered_ids(api, "SB2") == []


async def test_V8_offer_of_two_concurrent_bookings_of_one_slot_one_wins_and_the_other_is_409(
    api: Api,
) -> None:
    start = await api.harness.local(days=25, hour=14)
    for n in range(3):
        slot_id, requests = f"race-{n}", (f"RA{n}", f"RB{n}")
        for request_id in requests:
            await new_request(api, request_id)
        assert (await put_slot(api, fhir_slot(slot_id, start + timedelta(hours=n)))).status_code == 201
        answers = await asyncio.gather(*(book(api, r, by_slot(f"B-{r}", slot_id)) for r in requests))
        assert sorted(a.status_code for a in answers) == [200, 409], [a.text for a in answers]
        loser = requests[[a.status_code for a in answers].index(409)]
        assert "no longer free" in answers[[a.status_code for a in answers].index(409)].json()["detail"]
        status = (await api.get(f"/v1/requests/{loser}")).json()
        assert status["state"] in ("invited", "scheduled") and status["booked"] is None  # open, unbooked
        assert slot_id not in await offered_ids(api, loser)


async def test_V8_offer_a_booking_the_workflow_refuses_gives_the_slot_back(api: Api) -> None:
    await new_request(api, "SR1", time_of_day="morning")
    await new_request(api, "SR2")
    afternoon = await api.harness.local(days=25, hour=15)
    assert (await put_slot(api, fhir_slot("sr-pm", afternoon))).status_code == 201
    refused = await book(api, "SR1", by_slot("B-SR1", "sr-pm"))  # the patient, outside the limits (V8)
    assert refused.status_code == 409 and "(V8)" in refused.json()["detail"], refused.text
    assert is_free(api, "sr-pm") and await offered_ids(api, "SR2") == ["sr-pm"]
    assert (await api.get("/v1/requests/SR1")).json()["booked"] is None

    assert (await api.post("/v1/requests/SR2/cancel", {"reason": "remissen återkallad"})).status_code == 202

    async def state() -> str:
        return (await api.get("/v1/requests/SR2")).json()["state"]

    assert await eventually(state, lambda s: s == "cancelled") == "cancelled"
    code = (await book(api, "SR2", by_slot("B-SR2", "sr-pm", by="staff"))).status_code
    assert code == 409 and is_free(api, "sr-pm")  # not open: refused, and the slot is free again


async def test_V8_offer_another_clinics_slot_is_unknown_and_another_visit_types_is_no_time_of_the_request(
    api: Api,
) -> None:
    await new_request(api, "SC1")
    start = await api.harness.local(days=25, hour=10)
    theirs = Slot(
        slot_id="sc-x",
        clinic_id=fx.CLINIC_NOT_CONNECTED,
        reception_id="onh-mott",
        visit_type=VISIT_TYPE,
        start=start,
        end=start + timedelta(minutes=30),
    )
    api.stores.slots.put(theirs)
    unknown = await book(api, "SC1", by_slot("B-SC1", "sc-x"))
    assert unknown.status_code == 404 and unknown.json()["detail"] == "no slot 'sc-x' at the request's clinic"
    assert is_free(api, "sc-x", fx.CLINIC_NOT_CONNECTED)
    other_type = fhir_slot("sc-y", start, serviceType=[{"text": "Återbesök"}])
    assert (await put_slot(api, other_type)).status_code == 201
    wrong = await book(api, "SC1", by_slot("B-SC1", "sc-y", by="staff"))
    assert wrong.status_code == 409 and "is not a time of request 'SC1'" in wrong.json()["detail"]
    assert is_free(api, "sc-y")
    assert (await book(api, "SC1", by_slot("B-SC1", "sc-y"), token=api.other_token)).status_code == 404
    assert (await api.get("/v1/requests/SC1")).json()["booked"] is None


async def test_V8_offer_the_demo_request_books_one_of_its_demo_slots_and_it_leaves_the_offer(
    api: Api,
) -> None:
    """`dev.py run --demo`: `demo-far` is offered the demo's slots; booking one through the API takes it
    out of the offer."""
    far = next(r for r in bookings.demo_requests() if r.request_id == "demo-far")
    assert (await api.post("/v1/requests", far.model_dump(mode="json"))).status_code == 201
    for slot in bookings.demo_slots():
        api.stores.slots.put(slot)
    offer = await offered_ids(api, "demo-far")
    assert len(offer) == 4
    booked = await book(api, "demo-far", by_slot("demo-far-visit", offer[1]))
    assert booked.status_code == 200, booked.text
    assert await offered_ids(api, "demo-far") == []  # booked: nothing more is offered
    assert not is_free(api, offer[1]) and all(is_free(api, s) for s in offer if s != offer[1])
