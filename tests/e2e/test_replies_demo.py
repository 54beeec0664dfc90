"""Issue 28's done-when on `dev.py run --demo`: the demo clinic `ort` sends its demo visit's reminder
from its reply number at once; a scripted 46elks-shaped reply "Avboka tack" from the patient's number,
posted to the running API with the number's token, puts the cancellation request on the reminder's
status and on the clinic's Uppföljning list, tells the booking system's webhook (a receiver on
127.0.0.1 that verifies the signature) `reminder.cancel_requested`, and the patient gets one
confirmation SMS. Then, in
headless Chromium, the clinic's user takes it off the list, and sees (masked) a reply no reminder
took, which another clinic's user cannot see or handle.
"""

from __future__ import annotations

import json
import time
from dataclasses import replace
from typing import Any

import httpx
import pytest
from playwright.sync_api import Page, expect

from adapters.sms import OutboxEntry, SqliteOutbox
from contracts.workflow_ids import booking_reminder_id
from demo import data as fx
from demo.bookings import DEMO_REPLY
from domain.phone import mask_mobile
from testkit.webhook_receiver import WebhookReceiver
from tests.e2e.conftest import DevRun
from tests.e2e.test_staff_browser import browser, log_in, page, shot, staff_url

__all__ = ["browser", "page"]  # the browser test's fixtures, used here
pytestmark = pytest.mark.e2e
DEV_RUN_ENV = {"PM_DELIVERY_SECRET": "e2e-replies-demo-secret"}
REMINDER = booking_reminder_id(fx.CLINIC_REPLIES, DEMO_REPLY)
PATIENT = fx.e164(fx.MOBILE_ADULT_1177)
STRANGER = "+46701740681"  # PTS's range for fiction; no reminder of ours went to it
TIMEOUT_S = 60.0


def outbox(dev_run: DevRun, prefix: str) -> list[OutboxEntry]:
    path = dev_run.data_dir / "outbox.sqlite3"
    return [m for m in SqliteOutbox(path).messages() if m.key.startswith(prefix)] if path.exists() else []


def waited_for(what: str, found: Any) -> Any:
    """`found()` once it is truthy, within `TIMEOUT_S`."""
    deadline = time.monotonic() + TIMEOUT_S
    while not (value := found()):
        assert time.monotonic() < deadline, f"no {what} within {TIMEOUT_S:.0f} s"
        time.sleep(0.3)
    return value


def post_reply(dev_run: DevRun, inbound_id: str, sender: str, message: str) -> httpx.Response:
    """What 46elks posts for an SMS to the clinic's virtual number, to the URL `admin reply-url` prints
    (its Basic credentials: user 46elks, the number's token)."""
    public = {"PM_PUBLIC_URL": f"http://127.0.0.1:{dev_run.env['PM_API_PORT']}"}
    shown = replace(dev_run, env=dev_run.env | public).starter(
        "--json", "admin", "reply-url", "--clinic", fx.CLINIC_REPLIES
    )
    assert shown.returncode == 0, shown.stderr
    url = httpx.URL(json.loads(shown.stdout)["sms_url"])
    assert url.host == "127.0.0.1" and url.username == "46elks"
    form = {"direction": "incoming", "id": inbound_id, "from": sender, "to": fx.REPLY_NUMBER,
            "message": message, "created": ""}  # fmt: skip
    return httpx.post(url.copy_with(username=None, password=None), data=form,
                      auth=(url.username, url.password), timeout=30)  # fmt: skip


def avboka_answered(dev_run: DevRun) -> None:
    """Once the demo reminder has gone from the reply number, the patient answers "Avboka tack" (the
    same 46elks id each time: a repeat changes nothing)."""
    [sent] = waited_for("reminder SMS", lambda: outbox(dev_run, f"{REMINDER}/v"))
    assert (sent.to, sent.sender) == (PATIENT, fx.REPLY_NUMBER)
    assert "Svara AVBOKA" in sent.text
    assert post_reply(dev_run, "demo-avboka-1", PATIENT, "Avboka tack").status_code == 204


def test_issue28_demo_a_scripted_avboka_reaches_status_uppfoljning_event_and_the_confirmation(
    dev_run: DevRun,
) -> None:
    made = dev_run.starter("--json", "admin", "api-key", "create", "--client-id", "ort-booking",
                           "--clinic", fx.CLINIC_REPLIES)  # fmt: skip
    assert made.returncode == 0, made.stderr
    api = f"http://127.0.0.1:{dev_run.env['PM_API_PORT']}"
    bearer = {"Authorization": f"Bearer {json.loads(made.stdout)['api_key']}"}
    with WebhookReceiver() as receiver:  # the booking system's webhook, registered before the reply
        body = {"clinic_id": fx.CLINIC_REPLIES, "url": receiver.url}
        registered = httpx.put(f"{api}/v1/webhooks", json=body, headers=bearer, timeout=30)
        assert registered.status_code == 201, registered.text
        receiver.secret = registered.json()["secret"]
        avboka_answered(dev_run)
        events = waited_for("cancel_requested event", lambda: [
            e for e in receiver.events if e["type"] == "reminder.cancel_requested"
        ])  # fmt: skip
    [event] = events
    assert event["data"]["booking_id"] == DEMO_REPLY and event["data"]["recipient"] == "patient"
    assert "Avboka" not in json.dumps(event) and PATIENT not in json.dumps(event)
    assert all(d.verified for d in receiver.taken)

    def replies() -> list[dict[str, Any]]:
        shown = dev_run.starter("--json", "visit", "status", "--booking-id", DEMO_REPLY)
        assert shown.returncode == 0, shown.stderr
        assert fx.PNR_ADULT_1177 not in shown.stdout
        return json.loads(shown.stdout)["replies"]

    [answered] = waited_for("reply on the status", replies)
    assert (answered["word"], answered["role"], answered["handled"]) == ("avboka", "patient", False)

    def uppfoljning() -> list[dict[str, Any]]:
        shown = dev_run.starter("--json", "worklist", "--clinic", fx.CLINIC_REPLIES)
        assert shown.returncode == 0, shown.stderr
        return json.loads(shown.stdout)["uppfoljning"]

    [item] = waited_for("row on Uppföljning", uppfoljning)  # visibility is eventually consistent
    assert (item["kind"], item["request_id"]) == ("visit", DEMO_REPLY)

    [confirmation] = waited_for("confirmation SMS", lambda: outbox(dev_run, f"{REMINDER}/reply/"))
    assert (confirmation.to, confirmation.sender) == (PATIENT, fx.REPLY_NUMBER)
    assert confirmation.text.startswith("Tack! Vi har fått din avbokning")

    assert post_reply(dev_run, "demo-avboka-1", PATIENT, "Avboka tack").status_code == 204  # 46elks retries
    time.sleep(1.0)
    assert len(outbox(dev_run, f"{REMINDER}/reply/")) == 1 and len(replies()) == 1


def test_issue28_demo_staff_handle_the_reply_in_the_browser_and_see_the_unmatched_one(
    dev_run: DevRun, page: Page
) -> None:
    avboka_answered(dev_run)
    assert post_reply(dev_run, "demo-unmatched-1", STRANGER, "Vem är detta?").status_code == 204

    log_in(page, dev_run, "rut")
    expect(page.get_by_role("heading", name=f"Klinik {fx.CLINIC_REPLIES}")).to_be_visible()
    uppfoljning = page.get_by_role("navigation", name="Arbetslistor").get_by_role("link", name="Uppföljning")
    for _ in range(60):  # visibility is eventually consistent: reload until the row is there
        uppfoljning.click()
        if page.get_by_role("link", name=DEMO_REPLY).count():
            break
        page.wait_for_timeout(500)
    expect(page.get_by_text("SMS-svar: AVBOKA")).to_be_visible()
    shot(page, "21-replies-uppfoljning")

    page.get_by_role("link", name=DEMO_REPLY).click()
    expect(page.get_by_role("heading", name="Svar från patienten")).to_be_visible()
    shot(page, "22-replies-visit")
    page.get_by_role("button", name="Markera svaret som hanterat").click()
    expect(page.get_by_text("Svaret är hanterat.")).to_be_visible()
    expect(page.get_by_role("button", name="Markera svaret som hanterat")).to_have_count(0)
    for _ in range(60):
        page.goto(staff_url(dev_run, f"/staff/clinics/{fx.CLINIC_REPLIES}?list=uppfoljning"))
        if not page.get_by_role("link", name=DEMO_REPLY).count():
            break
        page.wait_for_timeout(500)
    expect(page.get_by_role("link", name=DEMO_REPLY)).to_have_count(0)

    page.get_by_role("link", name="SMS-svar att hantera").click()
    expect(page.get_by_role("cell", name="Vem är detta?")).to_be_visible()
    expect(page.get_by_role("cell", name=mask_mobile(STRANGER))).to_be_visible()
    assert STRANGER not in page.content() and STRANGER.replace("+46", "0") not in page.content()
    shot(page, "23-replies-unmatched")
    page.get_by_role("button", name="Markera som hanterat").first.click()
    expect(page.get_by_text("Svaret är hanterat och borttaget från listan.")).to_be_visible()
    expect(page.get_by_role("cell", name="Vem är detta?")).to_have_count(0)


def test_issue28_demo_another_clinics_user_cannot_see_the_clinics_replies(
    dev_run: DevRun, page: Page
) -> None:
    assert post_reply(dev_run, "demo-unmatched-2", STRANGER, "Hallå?").status_code == 204
    log_in(page, dev_run, "sara")
    refused = page.goto(staff_url(dev_run, f"/staff/clinics/{fx.CLINIC_REPLIES}/replies"))
    assert refused is not None and refused.status == 403
    assert "Hallå?" not in page.content()
    page.goto(staff_url(dev_run, f"/staff/clinics/{fx.CLINIC_CONNECTED}/replies"))
    expect(page.get_by_role("heading", name="SMS-svar att hantera")).to_be_visible()
    assert "Hallå?" not in page.content()
