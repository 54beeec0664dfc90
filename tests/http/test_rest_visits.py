"""REST v1 for visit reminders on a real uvicorn server: the CLI scenarios over HTTP, and the doors'
refusals (401, 403, 404, 409, 422) — each changing nothing and audited."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from contracts.workflow_ids import booking_reminder_id
from demo import data as fx
from domain.status import ReminderState
from tests.harness import eventually
from tests.http.conftest import Api, booking


async def test_S6_S15_book_over_http_then_the_sms_the_day_before_at_09_then_status(api: Api) -> None:
    harness = api.harness
    start = await harness.local(days=3, hour=10)
    created = await api.post("/v1/visits", booking("H1", start.isoformat()))
    assert created.status_code == 201, created.text
    assert created.json() == {"workflow_id": booking_reminder_id(fx.CLINIC_CONNECTED, "H1")}
    again = await api.post("/v1/visits", booking("H1", start.isoformat()))
    assert again.status_code == 200 and again.json() == created.json()

    async def planned() -> dict[str, Any]:
        return (await api.get("/v1/visits/H1")).json()

    status = await eventually(planned, lambda s: s.get("next_action") is not None)
    expected = await harness.local(days=2, hour=9)
    assert status["next_action"]["at"] == expected.isoformat()
    assert status["patient"] != fx.PNR_ADULT_1177 and fx.PNR_ADULT_1177[:8] not in status["patient"][9:]
    await harness.sleep_until(expected + timedelta(minutes=1))
    status = await eventually(planned, lambda s: s["state"] != ReminderState.SCHEDULED.value)
    assert status["state"] == "sent"
    assert harness.sent_to() == [fx.e164(fx.MOBILE_ADULT_1177)]
    assert fx.e164(fx.MOBILE_ADULT_1177) not in str(status)  # numbers masked


async def test_S15_reschedule_and_cancel_over_http(api: Api) -> None:
    harness = api.harness
    start = await harness.local(days=5, hour=10)
    assert (await api.post("/v1/visits", booking("H2", start.isoformat()))).status_code == 201
    moved = await api.post("/v1/visits/H2/reschedule", {"start": (start + timedelta(days=1)).isoformat()})
    assert moved.status_code == 200, moved.text
    assert moved.json()["visit_version"] == 2
    assert moved.json()["next_action"]["at"] == (await harness.local(days=5, hour=9)).isoformat()
    cancelled = await api.post("/v1/visits/H2/cancel", {"reason": "patienten avbokade"})
    assert cancelled.status_code == 202

    async def state() -> str:
        return (await api.get("/v1/visits/H2")).json()["state"]

    assert await eventually(state, lambda s: s == "cancelled") == "cancelled"
    after = await api.post("/v1/visits/H2/reschedule", {"start": (start + timedelta(days=2)).isoformat()})
    assert after.status_code == 409 and after.headers["content-type"] == "application/problem+json"
    assert "has ended" in after.json()["detail"] or "cancelled" in after.json()["detail"]


async def test_S8_turning_off_the_flag_of_a_1177_booking_is_409_and_changes_nothing(api: Api) -> None:
    start = await api.harness.local(days=4, hour=10)
    body = booking("H3", start.isoformat(), channel="1177")
    assert (await api.post("/v1/visits", body)).status_code == 201
    refused = await api.put("/v1/visits/H3/sms-flag", {"sms_flag": False})
    assert refused.status_code == 409
    assert "(S8)" in refused.json()["detail"]
    status = (await api.get("/v1/visits/H3")).json()
    assert [b["sms_flag"] for b in status["bookings"]] == [True]


async def test_every_v1_call_needs_a_valid_bearer_token(api: Api) -> None:
    start = await api.harness.local(days=3, hour=10)
    for headers in ({}, {"Authorization": "Bearer pmk_wrong"}, {"Authorization": "Basic dTpw"}):
        refused = await api.http.post("/v1/visits", json=booking("H4", start.isoformat()), headers=headers)
        assert refused.status_code == 401
        assert refused.headers["www-authenticate"] == "Bearer"
        assert refused.json()["status"] == 401
    assert (await api.get("/v1/visits/H4")).status_code == 404  # nothing was started


async def test_a_clinic_outside_the_callers_claim_is_403_and_starts_nothing(api: Api) -> None:
    """Booking for another clinic is 403; that clinic's ids answer another caller exactly as ids
    nobody issued (404, the same body before and after they exist: no existence oracle)."""
    start = await api.harness.local(days=3, hour=10)
    refused = await api.post("/v1/visits", booking("H5", start.isoformat()), token=api.other_token)
    assert refused.status_code == 403 and "may not act for clinic" in refused.json()["detail"]
    assert (await api.get("/v1/visits/H5")).status_code == 404

    async def others_calls() -> list[tuple[int, Any]]:
        answers = [
            await api.get("/v1/visits/H5", token=api.other_token),
            await api.post("/v1/visits/H5/cancel", {}, token=api.other_token),
            await api.put("/v1/visits/H5/sms-flag", {"sms_flag": False}, token=api.other_token),
            await api.get(f"/v1/visits/H5?clinic_id={fx.CLINIC_CONNECTED}", token=api.other_token),
        ]
        return [(a.status_code, a.json()) for a in answers]

    before = await others_calls()
    assert (await api.post("/v1/visits", booking("H5", start.isoformat()))).status_code == 201
    assert await others_calls() == before
    assert {code for code, _ in before} == {404}
    status = (await api.get("/v1/visits/H5")).json()
    assert status["state"] == "scheduled" and status["bookings"][0]["sms_flag"] is True


async def test_invalid_input_is_one_422_problem_without_the_patient_data(api: Api) -> None:
    start = await api.harness.local(days=3, hour=10)
    bad_id = fx.PNR_ADULT_1177[:-1] + str((int(fx.PNR_ADULT_1177[-1]) + 1) % 10)
    for body in (
        booking("H6", start.isoformat(), patient_id=bad_id),
        booking("H6", "2027-03-29T10:00:00"),  # no offset
        booking("H6", (start - timedelta(days=30)).isoformat()),  # passed
        booking("H6", start.isoformat(), reception_id="nope"),
        {"booking_id": "H6"},
        [1, 2, 3],
    ):
        refused = await api.post("/v1/visits", body)
        assert refused.status_code == 422, (body, refused.text)
        problem = refused.json()
        assert (
            problem["status"] == 422 and problem["title"] == "Invalid input" and "\n" not in problem["detail"]
        )
        assert bad_id not in refused.text and fx.PNR_ADULT_1177 not in refused.text
    garbled = await api.http.post(
        "/v1/visits", content=b"{not json", headers={**api.auth(), "content-type": "application/json"}
    )
    assert garbled.status_code == 422
    assert (await api.get("/v1/visits/H6")).status_code == 404


async def test_unknown_ids_are_404_and_large_bodies_413(api: Api) -> None:
    assert (await api.get("/v1/visits/nope")).status_code == 404
    assert (
        await api.post("/v1/visits/nope/reschedule", {"start": "2030-01-01T10:00:00+01:00"})
    ).status_code == 404
    assert (await api.get("/v1/visits/bad%20id")).status_code == 422  # not a system id
    huge = await api.http.post(
        "/v1/visits", content=b" " * 300_000, headers={**api.auth(), "content-type": "application/json"}
    )
    assert huge.status_code == 413


async def test_each_call_on_a_patients_messages_is_audited_without_patient_data(api: Api) -> None:
    start = await api.harness.local(days=3, hour=10)
    await api.post("/v1/visits", booking("H7", start.isoformat()))
    await api.get("/v1/visits/H7")
    await api.get("/v1/visits/H7", token=api.other_token)
    records = [r for r in api.stores.audit.records() if r.action.startswith("visit.")]
    workflow_id = booking_reminder_id(fx.CLINIC_CONNECTED, "H7")
    assert [(r.actor, r.action, r.workflow_id, r.clinic_id, r.outcome) for r in records[-3:]] == [
        ("vas-kir", "visit.book", workflow_id, fx.CLINIC_CONNECTED, "ok"),
        ("vas-kir", "visit.status", workflow_id, fx.CLINIC_CONNECTED, "ok"),
        (
            "vas-onh",
            "visit.status",
            booking_reminder_id(fx.CLINIC_NOT_CONNECTED, "H7"),
            fx.CLINIC_NOT_CONNECTED,
            "refused:404",
        ),  # unknown at onh
    ]
    assert fx.PNR_ADULT_1177 not in str(records)


async def test_openapi_and_docs_are_served(api: Api) -> None:
    spec = (await api.http.get("/openapi.json")).json()
    assert {"/v1/visits", "/v1/visits/{booking_id}/reschedule", "/v1/requests"} <= set(spec["paths"])
    assert (await api.http.get("/docs")).status_code == 200
