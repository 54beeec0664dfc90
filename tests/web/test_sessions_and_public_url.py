"""Staff sessions kept by the service, the public URL and the security headers, on the API's real
uvicorn server (and a second one on the same store: another replica): logout and revocation end a
session at once everywhere, an expired one is refused, a request for another host is refused and
no URL the service makes names the request's host, every answer carries the security headers. The
last test drives the pages in Debian's headless Chromium (Playwright; never a downloaded browser)."""

from __future__ import annotations

import asyncio
import json
import shutil
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
import pytest
from playwright.async_api import async_playwright

import starter
from entrypoints.asgi import create_app
from infrastructure.stores import Stores
from testkit.http_server import UvicornThread
from tests.http.conftest import Api, running_api
from tests.web.conftest import DEMO_LOGIN, Site, Staff

PUBLIC = "https://pm.region.example"


@contextmanager
def replica(api: Api) -> Iterator[str]:
    """A second API process of the same deployment (same settings and store): its URL."""
    settings = api.stores.settings
    with UvicornThread(create_app(settings, Stores(settings))) as server:
        yield server.url


async def landing(http: httpx.AsyncClient, cookie: str, **headers: str) -> str:
    """Where `/staff/` sends a browser with `cookie`: the user's clinic, or the login page."""
    found = await http.get("/staff/", headers={"Cookie": cookie, **headers})
    assert found.status_code == 303, found.text
    return found.headers["location"]


async def test_logout_ends_the_session_at_once_on_every_replica(site: Site) -> None:
    await site.staff.get("/staff/login")
    before_login = site.staff.cookie
    await site.staff.log_in("sara")
    cookie, csrf = site.staff.cookie, site.staff.csrf
    assert cookie != before_login  # a new session id at login (no fixation) …
    assert (await landing(site.api.http, before_login)).endswith("/staff/login")  # … the old one ended
    with replica(site.api) as elsewhere:
        async with httpx.AsyncClient(base_url=elsewhere, timeout=30) as other:
            assert await landing(other, cookie) == f"{site.api.url}/staff/clinics/kir"  # one session
            assert (await site.staff.post("/staff/logout")).status_code == 303
            for http in (site.api.http, other):
                again = await http.get("/staff/", headers={"Cookie": cookie})
                assert again.status_code == 303 and again.headers["location"] == f"{site.api.url}/staff/login"
                assert again.headers["set-cookie"].startswith("pm_staff=; ")  # the browser drops it
                form = {"csrf": csrf, "note": "x"}
                refused = await http.post("/staff/requests/R1/contact", data=form, headers={"Cookie": cookie})
                assert refused.status_code == 403 and "Inget ändrades" in refused.text


async def test_revoking_a_user_ends_their_sessions_at_once(
    site: Site, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    await site.staff.log_in("sara")
    await site.other.log_in("olle")
    monkeypatch.setenv("PM_DATA_DIR", str(site.api.stores.settings.data_dir))
    monkeypatch.delenv("PM_DATABASE_URL", raising=False)
    monkeypatch.setenv("TEMPORAL_ADDRESS", "127.0.0.1:1")  # revoking needs no Temporal
    argv = ["--json", "admin", "sessions", "revoke", "--user", "staff:demo-olle"]
    capsys.readouterr()  # (the logins' log lines)
    assert await asyncio.to_thread(starter.main, argv) == 0
    printed = capsys.readouterr().out
    assert json.loads(printed[printed.index("{") :]) == {"user": "demo-olle", "revoked": 1}
    assert (await landing(site.api.http, site.other.cookie)).endswith("/staff/login")
    assert (await landing(site.api.http, site.staff.cookie)).endswith("/staff/clinics/kir")
    assert await asyncio.to_thread(starter.main, ["admin", "sessions", "revoke", "--user", " "]) == 2
    assert "--user" in capsys.readouterr().err


async def test_a_request_for_another_host_is_refused_and_no_url_names_the_requests_host(site: Site) -> None:
    http = site.api.http
    for host in ("evil.example", "evil.example:8000", "127.0.0.1.evil.example", "[::2]", ""):
        for path in ("/", "/staff/login", "/staff/", "/v1/visits/B1", "/fhir/Appointment/B1", "/docs"):
            refused = await http.get(path, headers={"Host": host})
            assert refused.status_code == 400 and "location" not in refused.headers, (host, path)
            assert "evil" not in refused.text and "\n" not in refused.text.strip()
            assert refused.headers["x-frame-options"] == "DENY"
    assert (await site.staff.get("/")).headers["location"] == f"{site.api.url}/staff/"
    assert (await site.staff.get("/staff/")).headers["location"] == f"{site.api.url}/staff/login"
    # Another name of this host (loopback) serves the API, but the staff pages only at the public URL.
    port = site.api.url.rsplit(":", 1)[1]
    moved = await http.get("/staff/login?x=1", headers={"Host": f"localhost:{port}"})
    assert moved.status_code == 308 and moved.headers["location"] == f"{site.api.url}/staff/login?x=1"
    answered = await http.get("/v1/visits/B1", headers={"Host": f"localhost:{port}"})
    assert answered.status_code == 401


async def test_behind_a_proxy_every_url_is_the_public_one_and_a_session_expires(tmp_path: Path) -> None:
    """PM_PUBLIC_URL=https://pm.region.example; the proxy passes that Host on; logins last 4 s."""
    lifetime = 4.0
    async with (
        running_api(tmp_path, **DEMO_LOGIN, public_url=PUBLIC, web_session_hours=lifetime / 3600) as api,
        httpx.AsyncClient(base_url=api.url, timeout=30, headers={"Host": "pm.region.example"}) as browser,
    ):
        sara = Staff(browser)
        await sara.get("/staff/login")
        assert f'action="{PUBLIC}/staff/login/demo"' in (await sara.get("/staff/login")).text
        logged_in = await sara.log_in("sara")
        at = time.monotonic()
        assert logged_in.headers["location"] == f"{PUBLIC}/staff/"
        assert logged_in.headers["strict-transport-security"].startswith("max-age=")
        assert await landing(browser, sara.cookie) == f"{PUBLIC}/staff/clinics/kir"
        direct = await api.http.get("/staff/login")  # the loopback address, not the public one
        assert direct.status_code == 308 and direct.headers["location"] == f"{PUBLIC}/staff/login"
        assert (await api.http.get("/staff/", headers={"Host": "evil.example"})).status_code == 400
        await asyncio.sleep(max(0.0, at + lifetime + 0.5 - time.monotonic()))
        assert await landing(browser, sara.cookie) == f"{PUBLIC}/staff/login"


async def test_every_answer_carries_the_security_headers(site: Site) -> None:
    await site.staff.log_in("sara")
    staff_answers = [
        await site.staff.get("/staff/login"),
        await site.staff.get("/staff/"),
        await site.staff.get("/staff/static/style.css"),
        await site.staff.get("/staff/no-such-page"),
        await site.staff.post("/staff/requests/R1/contact", csrf="forged"),
    ]
    api_answers = [
        await site.api.http.get("/v1/visits/B1"),
        await site.api.get("/v1/visits/no-such-booking"),
        await site.api.http.get("/openapi.json"),
        await site.api.http.get("/fhir/Appointment/B1"),
    ]
    docs = await site.api.http.get("/docs")
    for answer in [*staff_answers, *api_answers, docs]:
        assert answer.headers["x-content-type-options"] == "nosniff", answer.url
        assert answer.headers["referrer-policy"] == "same-origin"
        assert answer.headers["x-frame-options"] == "DENY"
        assert "frame-ancestors 'none'" in answer.headers["content-security-policy"]
    for answer in staff_answers:
        csp = answer.headers["content-security-policy"]
        assert "default-src 'self'" in csp and "script-src 'none'" in csp, answer.url
    for answer in api_answers:
        assert answer.headers["content-security-policy"].startswith("default-src 'none'")
    assert "https:" not in docs.headers["content-security-policy"]  # Swagger UI from the service itself
    assert "strict-transport-security" not in docs.headers  # http://127.0.0.1: no HSTS


async def test_in_chromium_the_pages_work_under_their_policy_and_an_old_cookie_is_refused(site: Site) -> None:
    executable = shutil.which("chromium")
    assert executable, "Chromium is not installed: `python3 dev.py test` installs Debian's `chromium`"
    url = site.api.url
    async with async_playwright() as playwright:
        browser = await playwright.chromium.launch(executable_path=executable, args=["--no-sandbox"])
        try:
            context = await browser.new_context(locale="sv-SE")
            page = await context.new_page()
            console: list[str] = []
            page.on("console", lambda message: console.append(message.text))
            await page.goto(f"{url}/staff/")
            assert page.url == f"{url}/staff/login"
            background = "getComputedStyle(document.body).backgroundColor"
            assert await page.evaluate(background) == "rgb(246, 248, 250)"  # the stylesheet applies
            await page.get_by_label("Demoanvändare").select_option("sara")
            async with page.expect_navigation():
                await page.get_by_role("button", name="Logga in").click()
            await page.goto(f"{url}/staff/no-such-page")  # a page of ours that needs no visibility store
            await page.get_by_role("button", name="Logga ut").wait_for()
            logged_in = await context.cookies()
            await page.get_by_role("button", name="Logga ut").click()
            await page.get_by_text("Du är utloggad.").wait_for()
            await context.clear_cookies()
            await context.add_cookies(logged_in)  # the cookie of before the logout, kept by someone
            await page.goto(f"{url}/staff/")
            assert page.url == f"{url}/staff/login"
            assert not [m for m in console if "Content Security Policy" in m], console

            await page.set_content(f'<iframe src="{url}/staff/login"></iframe>')  # framing is refused
            await page.wait_for_timeout(500)
            assert [m for m in console if "frame-ancestors" in m]
            assert "Logga in" not in await page.frames[-1].content()

            console.clear()  # /docs: Swagger UI's bundle, served by the service itself, runs
            await page.route("https://**/*", lambda route: route.abort())  # no other host is needed
            await page.goto(f"{url}/docs")
            await page.locator(".information-container .title").get_by_text("Patient messaging").wait_for()
            assert not [m for m in console if "Content Security Policy" in m], console
        finally:
            await browser.close()
