"""The tenant boundary over a real uvicorn server, two clinics and their keys (issue 24): an id
belongs to the clinic that issued it, the same request again is harmless, other content under a used
id is a 409 naming the fields (never their values), and another clinic's ids answer as ids nobody
issued. Every id kind: visits, team visits, groups, requests; REST and FHIR."""

from __future__ import annotations

from datetime import UTC, timedelta
from typing import Any

from contracts.workflow_ids import (
    booking_reminder_id,
    group_booking_id,
    invitation_id,
    team_reminder_id,
)
from demo import data as fx
from domain.booking import ReminderStart
from tests.http.conftest import Api, booking, request_body
from workflows.reminder.generations import VisitReminderV2

KIR, ONH = fx.CLINIC_CONNECTED, fx.CLINIC_NOT_CONNECTED
AT_ONH = {"clinic_id": ONH, "reception_id": fx.RECEPTION_NOT_CONNECTED}


def group(group_id: str, start: str, **extra: Any) -> dict[str, Any]:
    return {
        "group_booking_id": group_id,
        "clinic_id": KIR,
        "reception_id": fx.RECEPTION_GENERAL,
        "start": start,
        "participants": [
            {"booking_id": f"{group_id}-p1", "patient_id": fx.PNR_ADULT_1177},
            {"booking_id": f"{group_id}-p2", "patient_id": fx.PNR_ADULT_VAS},
        ],
        **extra,
    }


async def test_the_same_booking_id_at_two_clinics_is_two_independent_reminders(api: Api) -> None:
    start = (await api.harness.local(days=4, hour=10)).isoformat()
    at_onh = await api.post("/v1/visits", booking("SQ1", start, **AT_ONH), token=api.other_token)
    assert at_onh.status_code == 201 and at_onh.json()["workflow_id"] == booking_reminder_id(ONH, "SQ1")
    other_patient = booking("SQ1", start, patient_id=fx.PNR_ADULT_VAS)
    at_kir = await api.post("/v1/visits", other_patient)
    assert at_kir.status_code == 201 and at_kir.json()["workflow_id"] == booking_reminder_id(KIR, "SQ1")
    kir_view = (await api.get("/v1/visits/SQ1")).json()
    onh_view = (await api.get("/v1/visits/SQ1", token=api.other_token)).json()
    assert (kir_view["clinic_id"], onh_view["clinic_id"]) == (KIR, ONH)
    assert (await api.post("/v1/visits/SQ1/cancel", {}, token=api.other_token)).status_code == 202
    assert (await api.get("/v1/visits/SQ1")).json()["state"] == "scheduled"  # kir's is not onh's
    # A caller for every clinic names the one it means when both issued the id.
    ambiguous = await api.get("/v1/visits/SQ1", token=api.all_token)
    assert ambiguous.status_code == 422 and "clinic_id" in ambiguous.json()["detail"]
    named = await api.get(f"/v1/visits/SQ1?clinic_id={KIR}", token=api.all_token)
    assert named.status_code == 200 and named.json()["clinic_id"] == KIR


async def test_S11_a_team_visit_id_of_another_clinic_is_not_joined_and_cannot_be_changed_by_it(
    api: Api,
) -> None:
    start = (await api.harness.local(days=4, hour=10)).isoformat()
    onh = await api.post(
        "/v1/visits", booking("O1", start, team_visit_id="TT2", **AT_ONH), token=api.other_token
    )
    assert onh.status_code == 201 and onh.json()["workflow_id"] == team_reminder_id(ONH, "TT2")
    kir = await api.post("/v1/visits", booking("K1", start, team_visit_id="TT2"))
    assert kir.status_code == 201 and kir.json()["workflow_id"] == team_reminder_id(KIR, "TT2")
    theirs = (await api.get("/v1/team-visits/TT2", token=api.other_token)).json()
    assert [b["booking_id"] for b in theirs["bookings"]] == ["O1"]
    flag = await api.put(
        "/v1/team-visits/TT2/bookings/K1/sms-flag", {"sms_flag": False}, token=api.other_token
    )
    assert flag.status_code == 409  # K1 is not part of onh's team visit
    ours = (await api.get("/v1/team-visits/TT2")).json()
    assert [(b["booking_id"], b["sms_flag"]) for b in ours["bookings"]] == [("K1", True)]


async def test_idempotent_not_blind_the_same_booking_again_is_200_other_content_is_409_naming_fields(
    api: Api,
) -> None:
    start = await api.harness.local(days=4, hour=10)
    body = booking("B1", start.isoformat())
    assert (await api.post("/v1/visits", body)).status_code == 201
    same_instant = booking("B1", start.astimezone(UTC).isoformat())  # the same moment, another offset
    assert (await api.post("/v1/visits", same_instant)).status_code == 200
    other = booking("B1", (start + timedelta(days=1)).isoformat(), patient_id=fx.PNR_ADULT_VAS)
    refused = await api.post("/v1/visits", other)
    assert refused.status_code == 409, refused.text
    detail = refused.json()["detail"]
    assert "patient_id" in detail and "start" in detail and "reschedule" in detail
    assert fx.PNR_ADULT_VAS not in refused.text and fx.PNR_ADULT_1177 not in refused.text
    status = (await api.get("/v1/visits/B1")).json()
    assert status["visit_version"] == 1 and status["start"] == start.isoformat()
    flag_off = await api.post("/v1/visits", booking("B1", start.isoformat(), sms_flag=False))
    assert flag_off.status_code == 409 and "sms_flag" in flag_off.json()["detail"]


async def test_S11_a_team_booking_of_another_patient_or_time_is_refused_by_the_reminder(api: Api) -> None:
    start = await api.harness.local(days=4, hour=10)
    assert (
        await api.post("/v1/visits", booking("T1-a", start.isoformat(), team_visit_id="T1"))
    ).status_code == 201
    again = await api.post("/v1/visits", booking("T1-a", start.isoformat(), team_visit_id="T1"))
    assert again.status_code == 200  # the same HOSP booking again
    for other in (
        booking("T1-b", start.isoformat(), team_visit_id="T1", patient_id=fx.PNR_ADULT_VAS),
        booking("T1-c", (start + timedelta(hours=1)).isoformat(), team_visit_id="T1"),
        booking("T1-a", start.isoformat(), team_visit_id="T1", series_id="s9"),
    ):
        refused = await api.post("/v1/visits", other)
        assert refused.status_code == 409, refused.text
        assert fx.PNR_ADULT_VAS not in refused.text
    joined = await api.post("/v1/visits", booking("T1-d", start.isoformat(), team_visit_id="T1"))
    assert joined.status_code == 201
    status = (await api.get("/v1/team-visits/T1")).json()
    assert [b["booking_id"] for b in status["bookings"]] == ["T1-a", "T1-d"]


async def test_a_single_visit_team_x_and_a_team_visit_x_are_two_workflows(api: Api) -> None:
    start = (await api.harness.local(days=4, hour=10)).isoformat()
    single = await api.post("/v1/visits", booking("team-TT1", start))
    team = await api.post("/v1/visits", booking("H-TT1", start, team_visit_id="TT1"))
    assert (single.status_code, team.status_code) == (201, 201)
    assert single.json()["workflow_id"] != team.json()["workflow_id"]


async def test_groups_and_requests_are_scoped_idempotent_and_409_on_other_content(api: Api) -> None:
    start = await api.harness.local(days=4, hour=15)
    body = group("G1", start.isoformat())
    created = await api.post("/v1/groups", body)
    assert created.status_code == 201 and created.json()["workflow_id"] == group_booking_id(KIR, "G1")
    assert (await api.post("/v1/groups", body)).status_code == 200
    assert "sms_flag" in (await api.post("/v1/groups", {**body, "sms_flag": False})).json()["detail"]
    assert (await api.get("/v1/groups/G1", token=api.other_token)).status_code == 404
    # A participant whose booking id already has a reminder at the clinic belongs to that booking.
    assert (await api.post("/v1/visits", booking("B-taken", start.isoformat()))).status_code == 201
    taken = group("G2", start.isoformat())
    taken["participants"][0]["booking_id"] = "B-taken"
    refused = await api.post("/v1/groups", taken)
    assert refused.status_code == 409 and "B-taken" in refused.json()["detail"]
    assert (await api.get("/v1/groups/G2")).status_code == 404

    request = await request_body(api, "R1")
    made = await api.post("/v1/requests", request)
    assert made.status_code == 201 and made.json()["workflow_id"] == invitation_id(KIR, "R1")
    assert (await api.post("/v1/requests", request)).status_code == 200
    changed = await api.post("/v1/requests", {**request, "reason": "Ett annat skäl"})
    assert changed.status_code == 409 and "reason" in changed.json()["detail"]
    assert "Ett annat" not in changed.text
    assert (await api.get("/v1/requests/R1", token=api.other_token)).status_code == 404


async def test_a_reminder_started_before_ids_were_scoped_is_found_at_its_own_clinic_only(api: Api) -> None:
    """Workflows started under the old ids `sms-reminder-<id>` keep them: found by their clinic,
    booked again without a second reminder, unknown to another clinic."""
    start = await api.harness.local(days=4, hour=10)
    visit = booking("L1", start.isoformat())
    await api.harness.client.start_workflow(
        VisitReminderV2.run,
        ReminderStart.model_validate(visit),
        id="sms-reminder-L1",
        task_queue=api.harness.task_queue,
    )
    found = await api.get("/v1/visits/L1")
    assert found.status_code == 200 and found.json()["clinic_id"] == KIR
    again = await api.post("/v1/visits", visit)
    assert again.status_code == 200 and again.json() == {"workflow_id": "sms-reminder-L1"}
    assert (await api.get("/v1/visits/L1", token=api.other_token)).status_code == 404
    moved = await api.post("/v1/visits/L1/reschedule", {"start": (start + timedelta(days=1)).isoformat()})
    assert moved.status_code == 200 and moved.json()["visit_version"] == 2
    at_onh = await api.post("/v1/visits", booking("L1", start.isoformat(), **AT_ONH), token=api.other_token)
    assert at_onh.status_code == 201 and at_onh.json()["workflow_id"] == booking_reminder_id(ONH, "L1")
