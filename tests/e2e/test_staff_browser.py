"""The staff page in a real browser: Playwright driving Debian's headless Chromium (never a
downloaded one) against `dev.py run --demo` — the real Temporal CLI dev server, worker and API.

A clinic user logs in with the keyboard, sees the demo lists, converts the plain request and watches
it move to Vårdinbjudan, records a contact and sees the reminders stop, asks to see a patient's
identity, is refused turning off the SMS of a 1177 booking (S8); a user of another clinic is
refused. Every form control has a label. Each page is saved as a screenshot in `.artifacts/`.

The API's docs, Swagger UI at `/docs`, render the OpenAPI document from assets the service serves
itself. Every request a page makes, staff pages and docs alike, goes to
127.0.0.1 (recorded by the `page` fixture), and no page meets a refusal of its Content-Security-Policy.
"""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from datetime import date, timedelta
from urllib.parse import urlsplit

import pytest
from playwright.sync_api import Browser, Page, expect, sync_playwright

from contracts.workflow_ids import invitation_id
from demo import data as fx
from tests.e2e.conftest import ROOT, DevRun

pytestmark = pytest.mark.e2e
SCREENSHOTS = ROOT / ".artifacts" / "screenshots"
CHROMIUM_ARGS = [
    "--no-sandbox",  # CI runs as root
    "--disable-gpu",
    "--disable-background-networking",  # no calls to Google's hosts on a closed network
    "--disable-component-update",
    "--disable-sync",
]
UNLABELLED = """() => [...document.querySelectorAll('input:not([type=hidden]), select, textarea')]
    .filter(c => c.labels.length === 0).map(c => c.name || c.id)"""
UNREACHABLE = """() => [...document.querySelectorAll('a[href], button, input:not([type=hidden]), select')]
    .filter(c => c.tabIndex < 0 || c.disabled).map(c => c.outerHTML.slice(0, 80))"""
NO_SCRIPT = "() => document.scripts.length"  # no script: every action is a link or a form's button


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    executable = shutil.which("chromium")
    assert executable, "Chromium is not installed: `python3 dev.py test` installs Debian's `chromium`"
    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=executable, args=CHROMIUM_ARGS)
        yield launched
        launched.close()


@pytest.fixture
def page(browser: Browser) -> Iterator[Page]:
    """A page whose every request and every refusal of the Content-Security-Policy is recorded: after
    the test, none may have gone to another host than 127.0.0.1, and none may have been refused."""
    context = browser.new_context(
        locale="sv-SE", timezone_id="Europe/Stockholm", viewport={"width": 1200, "height": 900}
    )
    context.set_default_timeout(20_000)
    requested: list[str] = []
    refused: list[str] = []
    context.on("request", lambda request: requested.append(request.url))
    opened = context.new_page()
    opened.on(
        "console",
        lambda message: refused.append(message.text) if "Content Security Policy" in message.text else None,
    )
    yield opened
    context.close()
    web = [url for url in requested if urlsplit(url).scheme in ("http", "https", "ws", "wss")]
    assert web, "the test made no request"
    assert [url for url in web if urlsplit(url).hostname != "127.0.0.1"] == []
    assert refused == []


def staff_url(dev_run: DevRun, path: str = "/staff/") -> str:
    return f"http://127.0.0.1:{dev_run.env['PM_API_PORT']}{path}"


def shot(page: Page, name: str) -> None:
    """Save the page as a test artefact, and check that every form control on it has a label and
    every control is in the keyboard's tab order (native links and buttons, no script)."""
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=SCREENSHOTS / f"{name}.png", full_page=True)
    assert page.evaluate(UNLABELLED) == [], f"form controls without a label on {page.url}"
    assert page.evaluate(UNREACHABLE) == [], f"controls the keyboard cannot reach on {page.url}"
    assert page.evaluate(NO_SCRIPT) == 0


def log_in(page: Page, dev_run: DevRun, user: str) -> None:
    """Log in with the keyboard only: choose the user, Tab to the button, Enter."""
    page.goto(staff_url(dev_run))
    expect(page.get_by_role("heading", name="Logga in")).to_be_visible()
    shot(page, "01-login")
    page.get_by_label("Demoanvändare").select_option(user)
    page.get_by_label("Demoanvändare").focus()
    page.keyboard.press("Tab")
    expect(page.get_by_role("button", name="Logga in")).to_be_focused()
    page.keyboard.press("Enter")
    expect(page.get_by_role("button", name="Logga ut")).to_be_visible()


def test_V12_a_clinic_user_works_through_the_demo_lists_in_the_browser(dev_run: DevRun, page: Page) -> None:
    log_in(page, dev_run, "sara")
    expect(page.get_by_role("heading", name=f"Klinik {fx.CLINIC_CONNECTED}")).to_be_visible()
    lists = page.get_by_role("navigation", name="Arbetslistor")
    expect(lists.get_by_role("link", name="Vårdinbjudan 3")).to_be_visible()
    expect(lists.get_by_role("link", name="Bokningsbegäran 1")).to_be_visible()
    expect(page.get_by_role("link", name="demo-far")).to_be_visible()
    shot(page, "02-work-lists")

    # V11: convert the plain request, from the keyboard (Enter in the form's last field submits it).
    lists.get_by_role("link", name="Bokningsbegäran 1").click()
    page.get_by_role("link", name="demo-plain").click()
    expect(page.get_by_role("heading", name="Bokningsbegäran demo-plain")).to_be_visible()
    shot(page, "03-request")
    page.get_by_label("Remiss-id (om begäran saknar remiss)").fill("demo-plain-ref")
    page.get_by_label("Remiss-id (om begäran saknar remiss)").press("Enter")
    expect(page.get_by_role("status")).to_have_text("Begäran är nu en vårdinbjudan.")
    expect(page.get_by_role("heading", name="Vårdinbjudan demo-plain")).to_be_visible()
    page.get_by_role("link", name="← Vårdinbjudan").click()
    expect(lists.get_by_role("link", name="Vårdinbjudan 4")).to_be_visible()
    expect(page.get_by_role("link", name="demo-plain")).to_be_visible()

    # V7: the patient called about demo-near: no more reminders, and it leaves the lists.
    page.get_by_role("link", name="demo-near").click()
    expect(page.locator("#next")).to_contain_text("Skicka första påminnelsen")
    page.get_by_label("Anteckning (ingen patientinformation)").fill("ringde och bokar själv")
    page.get_by_role("button", name="Registrera kontakt").click()
    expect(page.get_by_role("status")).to_contain_text("inga fler påminnelser")
    expect(page.locator("#state")).to_have_text("Patienten har hört av sig")
    expect(page.locator("#next")).to_have_text("–")
    expect(page.get_by_role("heading", name="Åtgärder")).to_have_count(0)
    shot(page, "04-contacted")
    page.goto(staff_url(dev_run, f"/staff/clinics/{fx.CLINIC_CONNECTED}"))
    expect(page.get_by_role("link", name="demo-near")).to_have_count(0)

    # The patient is masked until "Visa", which shows the full identity (and is audited).
    page.get_by_role("link", name="demo-far").click()
    expect(page.get_by_text(fx.PNR_ADULT_1177)).to_have_count(0)
    # V8, the offer: the demo's Monday and Wednesday afternoons fit demo-far (Stockholm time).
    expect(page.locator("#offer-count")).to_have_text("4")
    expect(page.locator("#offer-next")).to_contain_text("14:00")
    page.get_by_role("button", name="Visa personnummer och namn").click()
    expect(page.get_by_text(fx.PNR_ADULT_1177)).to_be_visible()
    expect(page.get_by_text("Visningen är loggad.")).to_be_visible()
    shot(page, "05-identity")
    audit = dev_run.starter("audit", "--workflow-id", invitation_id(fx.CLINIC_CONNECTED, "demo-far"))
    assert "web.patient.reveal" in audit.stdout and fx.PNR_ADULT_1177 not in audit.stdout, audit.stderr

    # S8: the visit booked in 1177 keeps its SMS; a VAS booking's can be turned off.
    page.get_by_label("Besök (boknings-id)").fill("demo-hidden")
    page.get_by_label("Besök (boknings-id)").press("Enter")
    expect(page.get_by_role("heading", name="SMS-påminnelse för besök demo-hidden")).to_be_visible()
    shot(page, "06-visit")
    page.get_by_role("button", name="Stäng av SMS-påminnelsen").click()
    expect(page.get_by_role("alert")).to_contain_text("kan inte stängas av (S8)")
    shot(page, "07-refused")
    page.get_by_role("link", name="Tillbaka").click()
    expect(page.locator("#flag")).to_have_text("på")
    page.get_by_label("Besök (boknings-id)").fill("demo-adult")
    page.get_by_label("Besök (boknings-id)").press("Enter")
    page.get_by_role("button", name="Stäng av SMS-påminnelsen").click()
    expect(page.get_by_role("status")).to_have_text("SMS-påminnelsen är avstängd.")
    expect(page.locator("#flag")).to_have_text("av")

    page.get_by_role("button", name="Logga ut").click()
    expect(page.get_by_role("status")).to_have_text("Du är utloggad.")


def test_a_user_of_another_clinic_is_refused_the_demo_clinic_in_the_browser(
    dev_run: DevRun, page: Page
) -> None:
    """Another clinic's lists are forbidden; its ids are unknown here (404), as ids nobody issued."""
    log_in(page, dev_run, "olle")
    for path, code in (
        (f"/staff/clinics/{fx.CLINIC_CONNECTED}", 403),
        ("/staff/requests/demo-far", 404),
        ("/staff/visits/demo-adult", 404),
    ):
        answer = page.goto(staff_url(dev_run, path))
        assert answer is not None and answer.status == code, path
        expect(page.get_by_role("alert")).to_be_visible()
    shot(page, "08-forbidden")


def test_V8_V10_V14_staff_change_book_and_cancel_in_the_browser(dev_run: DevRun, page: Page) -> None:
    log_in(page, dev_run, "sara")

    # V10: new limits for demo-far: Tuesdays, mornings.
    page.goto(staff_url(dev_run, "/staff/requests/demo-far"))
    change = page.locator("form", has=page.get_by_role("button", name="Spara ändring"))
    change.get_by_label("tis", exact=True).check()
    change.get_by_label("Tid på dagen").select_option("morning")
    change.get_by_role("button", name="Spara ändring").click()
    expect(page.get_by_role("status")).to_have_text("Begäran är ändrad.")
    expect(page.locator(".facts")).to_contain_text("förmiddag")
    expect(page.locator("#offer-count")).to_have_text("6")  # the offer follows: mon, tue, wed at 09:00
    expect(page.locator("#offer-next")).to_contain_text("09:00")

    # V8, V9: staff book demo-letter outside its window; the visit gets its reminder, then is cancelled.
    page.goto(staff_url(dev_run, "/staff/requests/demo-letter"))
    first_day = page.locator("#window").inner_text().split(" – ")[0]
    visit_day = (date.today() + timedelta(days=2)).isoformat()  # weeks before the window: staff may
    assert visit_day < first_day
    page.get_by_label("Boknings-id (från VAS)").fill("demo-letter-visit")
    page.get_by_label("Dag", exact=True).fill(visit_day)
    page.get_by_label("Tid", exact=True).fill("16:30")
    page.get_by_role("button", name="Boka besök").click()
    expect(page.get_by_role("status")).to_contain_text("Besöket är bokat")
    expect(page.locator("#state")).to_have_text("Bokad")
    page.get_by_role("link", name="demo-letter-visit").click()
    expect(page.get_by_role("heading", name="SMS-påminnelse för besök demo-letter-visit")).to_be_visible()
    expect(page.locator(".facts")).to_contain_text(f"{visit_day} 16:30")
    page.get_by_label("Orsak").fill("patienten avbokade")
    page.get_by_role("button", name="Avboka besöket").click()
    expect(page.get_by_role("status")).to_contain_text("Besöket är avbokat")
    expect(page.locator("#state")).to_have_text("Makulerad")

    # V14: a request is cancelled with a reason; nothing more is sent.
    page.goto(staff_url(dev_run, "/staff/requests/demo-plain"))
    page.get_by_label("Orsak").fill("remissen återkallad")
    page.get_by_role("button", name="Makulera ärendet").click()
    expect(page.get_by_role("status")).to_contain_text("Ärendet är makulerat")
    expect(page.locator("#state")).to_have_text("Makulerad")
    shot(page, "09-cancelled")


def test_the_api_docs_work_offline_in_the_browser(dev_run: DevRun, page: Page) -> None:
    """Swagger UI, from the assets `fastapi-offline` installs: the contract renders with no other host
    asked (the `page` fixture checks every request) and within the docs' CSP; an operation opens."""
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.goto(staff_url(dev_run, "/docs"))
    expect(page.locator(".information-container .title")).to_contain_text("Patient messaging")
    expect(page.get_by_text("/v1/visits/{booking_id}/reschedule")).to_be_visible()
    expect(page.get_by_role("button", name="Authorize")).to_be_visible()
    page.get_by_text("/v1/visits/{booking_id}/reschedule").click()
    expect(page.get_by_text("application/problem+json").first).to_be_attached()
    page.screenshot(path=SCREENSHOTS / "10-api-docs.png", full_page=False)
