"""V12, V13: a work list on the staff page, filtered by reception, sorted by a column and paged
(the rows themselves come from visibility: tests/e2e/test_staff_browser.py shows them in Chromium)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import application as app
from entrypoints.web.pages import PAGE_SIZE, page_of

T0 = datetime(2026, 12, 1, 8, tzinfo=UTC)


def item(n: int, reception: str = "kir-allm", next_in: int | None = None) -> app.WorkListItem:
    return app.WorkListItem(
        request_id=f"R{n:03}",
        workflow_id=f"care-invitation-R{n:03}",
        reception_id=reception,
        state="invited",
        next_action="reminder_1",
        next_action_at=None if next_in is None else T0 + timedelta(days=next_in),
        waiting_since=T0 - timedelta(days=n),
    )


def test_V12_a_list_page_shows_one_reception_sorted_and_twenty_rows_at_a_time() -> None:
    items = [item(n, "kir-obes" if n % 3 == 0 else "kir-allm", next_in=50 - n) for n in range(1, 46)]
    shown, pages = page_of(items, "", "next", 1)
    assert pages == 3 and len(shown) == PAGE_SIZE == 20
    assert [i.request_id for i in shown[:2]] == ["R045", "R044"]  # the soonest next step first
    last, _ = page_of(items, "", "next", 3)
    assert len(last) == 45 - 40 and last[-1].request_id == "R001"
    obes, obes_pages = page_of(items, "kir-obes", "-waited", 1)
    assert obes_pages == 1 and {i.reception_id for i in obes} == {"kir-obes"} and len(obes) == 15
    assert obes[0].request_id == "R003"  # descending "waited": the newest first
    longest, _ = page_of(items, "", "waited", 1)
    assert longest[0].request_id == "R045"  # waited longest first
    assert page_of(items, "kir-none", "id", 1) == ([], 1)


def test_V13_rows_without_a_next_step_sort_last() -> None:
    items = [item(1), item(2, next_in=3), item(3, next_in=1)]
    assert [i.request_id for i in page_of(items, "", "next", 1)[0]] == ["R003", "R002", "R001"]
