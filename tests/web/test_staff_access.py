"""The staff page's doors, checked on the server: login, session cookie, CSRF, per-clinic access,
masking and the audited "Visa", each action and its Swedish refusal — against the real uvicorn
server, a worker and the time-skipping Temporal server. The browser tests (tests/e2e) drive the
same pages in Chromium."""

from __future__ import annotations

from datetime import datetime

from contracts.workflow_ids import invitation_id
from demo import data as fx
from domain.timing import STOCKHOLM
from tests.harness import eventually
from tests.http.conftest import booking
from tests.web.conftest import Site


async def _state(site: Site, request_id: str) -> str:
    return (await site.api.get(f"/v1/requests/{request_id}")).json()["state"]


async def test_staff_page_needs_a_login_and_its_cookie_is_secure_httponly_and_same_site(site: Site) -> None:
    root = await site.staff.get("/")
    assert root.status_code == 303 and root.headers["location"].endswith("/staff/")
    anonymous = await site.staff.get("/staff/")
    assert anonymous.status_code == 303 and anonymous.headers["location"].endswith("/staff/login")
    assert (await site.staff.log_in("sara")).status_code == 303
    cookie = site.staff.set_cookies[-1].lower()
    assert {"secure", "httponly", "samesite=lax", "path=/staff"} <= {p.strip() for p in cookie.split(";")}
    assert (await site.staff.get("/staff/")).headers["location"].endswith("/staff/clinics/kir")
    assert (await site.staff.post("/staff/logout")).status_code == 303
    assert (await site.staff.get("/staff/")).headers["location"].endswith("/staff/login")


async def test_a_form_without_the_sessions_csrf_token_is_refused_and_changes_nothing(site: Site) -> None:
    await site.request("R-csrf")
    await site.staff.log_in("sara")
    before = await _state(site, "R-csrf")
    forged = await site.staff.post("/staff/requests/R-csrf/contact", {"note": "x"}, csrf="forged")
    assert forged.status_code == 403 and "Formuläret" in forged.text
    missing = await site.staff.post("/staff/requests/R-csrf/cancel", {"reason": "x"}, csrf="")
    assert missing.status_code == 403
    assert await _state(site, "R-csrf") == before
    demo_login_forged = await site.other.post("/staff/login/demo", {"user": "olle"}, csrf="forged")
    assert demo_login_forged.status_code == 403  # the login form carries a token too


async def test_a_clinic_A_user_gets_403_on_clinic_B_lists_and_404_on_its_ids_and_nothing_changes(
    site: Site,
) -> None:
    """Another clinic's lists are 403; its request ids are unknown to this user, exactly as ids nobody
    issued (404, no existence oracle), and every refusal changes nothing."""
    await site.other.log_in("olle")  # clinic onh
    unknown = await site.other.get("/staff/requests/R-other")
    await site.request("R-other")
    page = await site.other.get("/staff/requests/R-other")
    assert page.status_code == 404 and page.text == unknown.text and fx.PNR_ADULT_1177 not in page.text
    assert (await site.other.get(f"/staff/clinics/{fx.CLINIC_CONNECTED}")).status_code == 403
    assert (await site.other.post("/staff/requests/R-other/identity")).status_code == 404
    before = await _state(site, "R-other")
    cancelled = await site.other.post("/staff/requests/R-other/cancel", {"reason": "fel klinik"})
    assert cancelled.status_code == 404
    assert await _state(site, "R-other") == before != "cancelled"
    asked = invitation_id(fx.CLINIC_NOT_CONNECTED, "R-other")  # what olle asked for: at olle's clinic
    refused = [r for r in site.api.stores.audit.records(workflow_id=asked) if r.actor == "staff:demo-olle"]
    assert {r.action for r in refused} == {"web.request.view", "web.patient.reveal", "web.request.cancel"}
    assert {r.outcome for r in refused} == {"refused:404"}


async def test_the_request_page_shows_what_GET_v1_shows_with_the_patient_masked(site: Site) -> None:
    await site.request("R-view", weekdays=["mon", "thu"], time_of_day="morning")
    await site.staff.log_in("sara")
    api = (await site.api.get("/v1/requests/R-view")).json()
    page = (await site.staff.get("/staff/requests/R-view")).text
    window = f"{api['window']['first_date']} – {api['window']['last_date']}"
    assert window in page and api["visit_type"] in page and api["patient"] in page
    assert "mån, tor" in page and "förmiddag" in page
    assert fx.PNR_ADULT_1177 not in page and "Testsson" not in page
    [view] = [
        r
        for r in site.api.stores.audit.records(workflow_id=invitation_id(fx.CLINIC_CONNECTED, "R-view"))
        if r.action == "web.request.view"
    ]
    assert (view.actor, view.clinic_id, view.outcome) == ("staff:demo-sara", fx.CLINIC_CONNECTED, "ok")


async def test_visa_shows_the_full_identity_only_on_request_and_audits_it_without_the_patient_data(
    site: Site,
) -> None:
    await site.request("R-visa")
    await site.staff.log_in("sara")
    shown = await site.staff.post("/staff/requests/R-visa/identity")
    assert shown.status_code == 200
    assert fx.PNR_ADULT_1177 in shown.text and "Testa Testsson" in shown.text and "loggad" in shown.text
    assert shown.headers["cache-control"] == "no-store"
    records = site.api.stores.audit.records(workflow_id=invitation_id(fx.CLINIC_CONNECTED, "R-visa"))
    assert [(r.action, r.outcome, r.clinic_id) for r in records if r.action == "web.patient.reveal"] == [
        ("web.patient.reveal", "ok", fx.CLINIC_CONNECTED)
    ]
    audit_text = repr(site.api.stores.audit.records())
    assert fx.PNR_ADULT_1177 not in audit_text and "Testsson" not in audit_text
    again = await site.staff.get("/staff/requests/R-visa")
    assert fx.PNR_ADULT_1177 not in again.text  # masked again on the next view


async def test_V7_recording_a_contact_on_the_page_ends_the_reminders(site: Site) -> None:
    await site.request("R-call")
    await site.staff.log_in("sara")
    done = await site.staff.post("/staff/requests/R-call/contact", {"note": "ringde"})
    assert done.status_code == 303 and done.headers["location"].endswith("/staff/requests/R-call")
    page = (await site.staff.get("/staff/requests/R-call")).text
    assert "Kontakten är registrerad" in page and "Patienten har hört av sig" in page
    status = (await site.api.get("/v1/requests/R-call")).json()
    assert status["state"] == "contacted" and status["next_action"] is None


async def test_V11_converting_a_plain_request_on_the_page_makes_it_an_invitation(site: Site) -> None:
    await site.request("R-plain", invitation=False, referral_id=None)
    await site.staff.log_in("sara")
    window = (await site.api.get("/v1/requests/R-plain")).json()["window"]
    form = {
        "first_date": window["first_date"],
        "last_date": window["last_date"],
        "time_of_day": "any",
        "referral_id": "ref-plain",
    }
    assert (await site.staff.post("/staff/requests/R-plain/convert", form)).status_code == 303
    status = (await site.api.get("/v1/requests/R-plain")).json()
    assert status["work_list"] == "vardinbjudan" and status["state"] != "request"


async def test_V10_a_refused_change_answers_in_swedish_and_changes_nothing(site: Site) -> None:
    await site.request("R-change")
    await site.staff.log_in("sara")
    before = (await site.api.get("/v1/requests/R-change")).json()["window"]
    backwards = {"first_date": before["last_date"], "last_date": before["first_date"], "time_of_day": "any"}
    refused = await site.staff.post("/staff/requests/R-change/change", backwards)
    assert refused.status_code == 422 and "Första dagen ligger efter sista dagen." in refused.text
    assert "Traceback" not in refused.text
    assert (await site.api.get("/v1/requests/R-change")).json()["window"] == before
    bad_day = await site.staff.post(
        "/staff/requests/R-change/change", {"first_date": "igår", "last_date": "x"}
    )
    assert bad_day.status_code == 422 and "Ange ett giltigt datum" in bad_day.text
    limits = {**before, "time_of_day": "afternoon", "weekdays": ["tue", "fri"]}
    assert (await site.staff.post("/staff/requests/R-change/change", limits)).status_code == 303
    changed = (await site.api.get("/v1/requests/R-change")).json()
    assert changed["weekdays"] == ["tue", "fri"] and changed["time_of_day"] == "afternoon"


async def test_V8_V9_staff_book_outside_the_window_on_the_page_and_the_visit_gets_its_reminder(
    site: Site,
) -> None:
    await site.request("R-book", time_of_day="morning")
    await site.staff.log_in("sara")
    outside = (await site.api.harness.local(days=3, hour=15)).date()  # before the window, afternoon
    form = {"booking_id": "B-book", "day": outside.isoformat(), "at": "15:30"}
    assert (await site.staff.post("/staff/requests/R-book/book", form)).status_code == 303
    assert (await site.api.get("/v1/requests/R-book")).json()["state"] == "booked"

    async def visit_page() -> int:
        return (await site.staff.get("/staff/visits/B-book")).status_code

    assert await eventually(visit_page, lambda code: code == 200) == 200
    page = (await site.staff.get("/staff/visits/B-book")).text
    assert "SMS-påminnelse för besök B-book" in page and f"{outside.isoformat()} 15:30" in page


async def test_S8_the_page_refuses_turning_off_the_sms_of_a_1177_booking_in_swedish(site: Site) -> None:
    start = (await site.api.harness.local(days=4, hour=10)).isoformat()
    assert (await site.api.post("/v1/visits", booking("V-1177", start, channel="1177"))).status_code == 201
    assert (await site.api.post("/v1/visits", booking("V-vas", start))).status_code == 201
    await site.staff.log_in("sara")
    refused = await site.staff.post("/staff/visits/V-1177/sms-flag", {"sms_flag": "off"})
    assert refused.status_code == 409
    assert "kan inte stängas av (S8)" in refused.text and "Inget ändrades" in refused.text
    flags = (await site.api.get("/v1/visits/V-1177")).json()["bookings"]
    assert [b["sms_flag"] for b in flags] == [True]
    assert (await site.staff.post("/staff/visits/V-vas/sms-flag", {"sms_flag": "off"})).status_code == 303
    assert [b["sms_flag"] for b in (await site.api.get("/v1/visits/V-vas")).json()["bookings"]] == [False]
    page = (await site.staff.get("/staff/visits/V-vas")).text
    assert "SMS-påminnelsen är avstängd." in page and "Slå på SMS-påminnelsen" in page


async def test_S15_cancelling_a_visit_on_the_page_and_numbers_stay_masked(site: Site) -> None:
    start = await site.api.harness.local(days=2, hour=10)
    assert (await site.api.post("/v1/visits", booking("V-soon", start.isoformat()))).status_code == 201
    await site.staff.log_in("sara")
    planned = (await site.api.get("/v1/visits/V-soon")).json()["next_action"]["at"]
    assert (
        datetime.fromisoformat(planned).astimezone(STOCKHOLM).strftime("%Y-%m-%d %H:%M")
        in (await site.staff.get("/staff/visits/V-soon")).text
    )
    await site.api.harness.sleep_until(datetime.fromisoformat(planned))  # the day before (S1)

    async def sent() -> list[dict[str, object]]:
        return (await site.api.get("/v1/visits/V-soon")).json()["messages"]

    [message] = await eventually(sent, bool)
    page = (await site.staff.get("/staff/visits/V-soon")).text
    assert str(message["to"]) in page and fx.MOBILE_ADULT_1177 not in page and "Skickad" in page
    assert fx.e164(fx.MOBILE_ADULT_1177) not in page
    assert (await site.staff.post("/staff/visits/V-soon/cancel", {"reason": "avbokad"})).status_code == 303

    async def state() -> str:
        return (await site.api.get("/v1/visits/V-soon")).json()["state"]

    assert await eventually(state, lambda s: s == "cancelled") == "cancelled"
    assert "Besöket är avbokat" in (await site.staff.get("/staff/visits/V-soon")).text
