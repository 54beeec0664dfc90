"""The staff page's request shows its offer (issue 27, V8 the offer): how many free times fit an open
request and the first of them, in Stockholm local time and Swedish; nothing once it is closed. With the
demo's data (`dev.py run --demo`: `demo-far` and the demo reception's slots)."""

from __future__ import annotations

import re
from datetime import datetime

from demo import bookings
from entrypoints.web.swedish import when
from tests.web.conftest import Site


def offer_of(page: str) -> tuple[str, str] | None:
    """The page's count of fitting times and its first time (None: the page shows no offer)."""
    count = re.search(r'<dd id="offer-count">([^<]*)</dd>', page)
    first = re.search(r'<dd id="offer-next">([^<]*)</dd>', page)
    return (count.group(1), first.group(1)) if count and first else None


async def test_V8_offer_the_request_page_shows_how_many_times_fit_and_the_first_until_it_is_booked(
    site: Site,
) -> None:
    far = next(r for r in bookings.demo_requests() if r.request_id == "demo-far")
    assert (await site.api.post("/v1/requests", far.model_dump(mode="json"))).status_code == 201
    for slot in bookings.demo_slots():
        site.api.stores.slots.put(slot)
    offer = (await site.api.get("/v1/requests/demo-far/offered-times")).json()["times"]
    assert len(offer) == 4
    await site.staff.log_in("sara")
    page = (await site.staff.get("/staff/requests/demo-far")).text
    first = when(datetime.fromisoformat(offer[0]["start"]))
    assert offer_of(page) == ("4", first) and "Lediga tider som passar" in page
    assert first.endswith("14:00")  # Stockholm wall-clock time, as the slots were published

    booking = {"booking_id": "demo-far-visit", "slot_id": offer[0]["slot_id"], "by": "patient"}
    assert (await site.api.post("/v1/requests/demo-far/booking", booking)).status_code == 200
    booked = (await site.staff.get("/staff/requests/demo-far")).text
    assert "Bokat besök" in booked and offer_of(booked) is None  # closed: no offer shown


async def test_V8_offer_an_open_request_without_fitting_times_says_so(site: Site) -> None:
    await site.request("R-none")
    await site.staff.log_in("sara")
    page = (await site.staff.get("/staff/requests/R-none")).text
    assert offer_of(page) == ("0", "ingen just nu")
