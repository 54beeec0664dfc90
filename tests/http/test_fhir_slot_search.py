"""The FHIR Slot search for a request on a real uvicorn server (issue 27, V8 the offer): `GET
/fhir/Slot?request=<id>` answers a searchset Bundle of the request's offered Slots, in the order and by
the rule of `GET /v1/requests/{id}/offered-times`, paged by `_count` and `_offset` with a `next` link;
another clinic's request is unknown (404, an OperationOutcome)."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import httpx
from fhir.resources.R4B.bundle import Bundle

from demo import data as fx
from entrypoints.http.fhir_mapping import HSA_ID
from tests.http.conftest import Api, request_body
from tests.http.test_fhir import FHIR_JSON, outcome
from tests.http.test_offered_times import VISIT_TYPE, fhir_slot, offered, put_slot, weekday_at


async def search(api: Api, query: str, token: str | None = None) -> httpx.Response:
    return await api.get(f"/fhir/Slot?{query}", token=token)


def bundle_of(answer: httpx.Response) -> dict[str, Any]:
    assert answer.status_code == 200, answer.text
    assert answer.headers["content-type"] == FHIR_JSON
    found = answer.json()
    Bundle.model_validate(found)  # a valid R4 Bundle (R4B's models)
    assert found["type"] == "searchset"
    return found


def ids(bundle: dict[str, Any]) -> list[str]:
    return [e["resource"]["id"] for e in bundle.get("entry", [])]


def links(bundle: dict[str, Any]) -> dict[str, str]:
    return {link["relation"]: link["url"] for link in bundle.get("link", [])}


async def test_V8_offer_the_slot_search_answers_the_offer_as_a_paged_searchset_bundle(api: Api) -> None:
    body = await request_body(api, "FS1", weekdays=["mon", "wed"], time_of_day="afternoon")
    assert (await api.post("/v1/requests", body)).status_code == 201
    monday = await weekday_at(api, 22, 0, 13)
    starts = {"fs-1": monday, "fs-2": monday + timedelta(days=2), "fs-3": monday + timedelta(days=7)}
    for slot_id, start in starts.items():
        assert (await put_slot(api, fhir_slot(slot_id, start))).status_code == 201
    misfit = fhir_slot("fs-morning", monday - timedelta(hours=4))
    assert (await put_slot(api, misfit)).status_code == 201

    whole = bundle_of(await search(api, "request=FS1"))
    rest = (await offered(api, "FS1")).json()
    assert ids(whole) == [t["slot_id"] for t in rest["times"]] == ["fs-1", "fs-2", "fs-3"]
    assert whole["total"] == 3 and "next" not in links(whole)
    first = whole["entry"][0]
    assert first["search"] == {"mode": "match"} and first["fullUrl"].endswith("/fhir/Slot/fs-1")
    assert first["resource"] | {"start": None, "end": None} == {
        "resourceType": "Slot",
        "id": "fs-1",
        "schedule": {"identifier": {"system": HSA_ID, "value": fx.HSA_GENERAL}},
        "serviceType": [{"text": VISIT_TYPE}],
        "status": "free",
        "start": None,
        "end": None,
    }
    assert first["resource"]["start"] == monday.isoformat()

    page = bundle_of(await search(api, "request=FS1&_count=2"))
    assert ids(page) == ["fs-1", "fs-2"] and page["total"] == 3
    next_url = links(page)["next"]
    assert "_count=2" in next_url and "_offset=2" in next_url
    last = bundle_of(await api.http.get(next_url, headers=api.auth()))
    assert ids(last) == ["fs-3"] and "next" not in links(last)

    booked = await api.post(
        "/v1/requests/FS1/booking", {"booking_id": "B-FS1", "slot_id": "fs-2", "by": "patient"}
    )
    assert booked.status_code == 200, booked.text
    closed = bundle_of(await search(api, "request=FS1"))  # booked: nothing more is offered
    assert closed["total"] == 0 and ids(closed) == []


async def test_V8_offer_the_slot_search_for_another_clinics_or_no_request_is_unknown(api: Api) -> None:
    assert (await api.post("/v1/requests", await request_body(api, "FS2"))).status_code == 201
    assert (
        await put_slot(api, fhir_slot("fs-x", await api.harness.local(days=25, hour=10)))
    ).status_code == 201
    assert bundle_of(await search(api, "request=FS2"))["total"] == 1
    theirs = outcome(await search(api, "request=FS2", token=api.other_token), 404, "not-found")
    assert theirs == outcome(await search(api, "request=nobody"), 404, "not-found").replace("nobody", "FS2")
    for query in ("", "request=FS2&_count=0", "request=FS2&_count=101", "request=FS2&_offset=-1"):
        outcome(await search(api, query), 422, "invalid")
