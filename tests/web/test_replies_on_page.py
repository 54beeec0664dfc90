"""Issue 28 on the staff page: a patient's AVBOKA shows on the visit's page until a person marks it
handled (audited `web.visit.reply_handled`; its row on Uppföljning: test_work_list_page.py); marking
a visit without a reply is refused in Swedish, and another clinic's user gets 404 and changes
nothing — against the real uvicorn server."""

from __future__ import annotations

from typing import Any

from temporalio.client import WorkflowHandle

from contracts import search_attributes as search
from contracts.workflow_ids import booking_reminder_id
from demo import data as fx
from domain.replies import PatientReply, ReplyWord
from domain.status import RecipientRole, ReminderStatus
from tests.harness import eventually
from tests.http.conftest import booking
from tests.web.conftest import Site


async def test_replies_avboka_on_the_visit_page_until_staff_mark_it_handled(site: Site) -> None:
    harness = site.api.harness
    start = await harness.local(days=2, hour=10)
    assert (await site.api.post("/v1/visits", booking("V-reply", start.isoformat()))).status_code == 201
    await site.staff.log_in("sara")
    refused = await site.staff.post("/staff/visits/V-reply/reply-handled")
    assert "Patienten har inte svarat" in refused.text and "Traceback" not in refused.text
    handle = harness.client.get_workflow_handle(booking_reminder_id(fx.CLINIC_CONNECTED, "V-reply"))
    reply = PatientReply(
        inbound_id="in-page", word=ReplyWord.CANCEL, role=RecipientRole.PATIENT, version=1,
        received_at=await harness.now(),
    )  # fmt: skip
    await handle.signal("patient_reply", reply)

    async def page() -> str:
        return (await site.staff.get("/staff/visits/V-reply")).text

    shown = await eventually(page, lambda text: "AVBOKA" in text)
    assert "Markera svaret som hanterat" in shown
    assert await eventually(
        lambda: _work_list(handle), lambda w: w == "uppfoljning"
    ) == "uppfoljning"  # fmt: skip
    await site.other.log_in("olle")  # clinic onh: the visit is unknown to this user
    assert (await site.other.post("/staff/visits/V-reply/reply-handled")).status_code == 404
    assert not (await handle.query("status", result_type=ReminderStatus)).replies[0].handled
    done = await site.staff.post("/staff/visits/V-reply/reply-handled")
    assert done.status_code == 303
    after = await page()
    assert "Svaret är hanterat" in after and "Markera svaret som hanterat" not in after
    assert (await handle.query("status", result_type=ReminderStatus)).replies[0].handled
    assert await eventually(lambda: _work_list(handle), lambda w: w is None) is None
    audited = site.api.stores.audit.records(workflow_id=handle.id)
    assert {(r.action, r.outcome) for r in audited if r.actor == "staff:demo-sara"} >= {
        ("web.visit.reply_handled", "ok")
    }


async def _work_list(handle: WorkflowHandle[Any, Any]) -> str | None:
    return (await handle.describe()).typed_search_attributes.get(search.WORK_LIST)
