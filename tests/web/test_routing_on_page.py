"""The staff page's request shows which channel each message took and when the 1177 message was read
(issue 27, item 3), with the demo's routed request at the ÖNH clinic (`demo-routed`, docs/routing.md)."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from demo import bookings
from tests.harness import eventually
from tests.web.conftest import Site


async def test_routing_the_request_page_shows_the_channel_and_when_the_message_was_read(site: Site) -> None:
    routed = next(r for r in bookings.demo_requests() if r.request_id == bookings.DEMO_ROUTED)
    made = await site.api.post("/v1/requests", routed.model_dump(mode="json"), token=site.api.other_token)
    assert made.status_code == 201, made.text
    path = f"/v1/requests/{routed.request_id}"

    async def status() -> dict[str, Any]:
        return (await site.api.get(path, token=site.api.other_token)).json()

    invited = await eventually(status, lambda s: s["state"] == "invited")
    assert [m["channel"] for m in invited["messages"]] == ["1177"] and invited["messages"][0][
        "read_at"
    ] is None
    assert site.api.harness.inbox.mark_read(f"{made.json()['workflow_id']}/invitation")
    harness = site.api.harness
    await harness.sleep_until(await harness.now() + timedelta(minutes=2))  # the plan's check, a minute on
    read = await eventually(status, lambda s: s["messages"][0]["read_at"] is not None)
    assert [m["channel"] for m in read["messages"]] == ["1177"]  # read: no SMS notice followed

    await site.other.log_in("olle")
    page = (await site.other.get(f"/staff/requests/{routed.request_id}")).text
    timeline = page.split('<table class="timeline">', 1)[1].split("</table>", 1)[0]
    [row] = timeline.split("<tbody>", 1)[1].split("</tr>")[:-1]
    assert "1177-inkorgen" in row and "läst " in row
