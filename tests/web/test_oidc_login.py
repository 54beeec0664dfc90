"""The production login of the staff page: OpenID Connect's authorization code flow (authlib)
against a local identity provider on 127.0.0.1 with a real RSA key (testkit/fake_oidc.py). The
user's clinics come from the ID token's claim; state, nonce, signature and the client secret are
checked; a user with no clinic, a forged state or a wrong secret gets no session."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
import pytest_asyncio

from contracts.workflow_ids import invitation_id
from demo import data as fx
from testkit.fake_oidc import CLIENT_ID, CLIENT_SECRET, FakeOidc, fake_oidc
from tests.http.conftest import running_api
from tests.web.conftest import Site, Staff

SARA = {"sub": "hsa-SE2321000016-S1", "name": "Sara Lind", "clinics": [fx.CLINIC_CONNECTED]}


@dataclass
class OidcSite(Site):
    provider: FakeOidc | None = None


@pytest.fixture
def provider() -> Iterator[FakeOidc]:
    with fake_oidc(SARA) as running:
        yield running


async def _site(tmp_path: Path, provider: FakeOidc, secret: str) -> AsyncIterator[OidcSite]:
    settings = {
        "oidc_metadata_url": provider.metadata_url,
        "oidc_client_id": CLIENT_ID,
        "oidc_client_secret": secret,
    }
    async with (
        running_api(tmp_path, **settings) as api,
        httpx.AsyncClient(base_url=api.url, timeout=30) as browser,
        httpx.AsyncClient(timeout=30) as other,
    ):
        yield OidcSite(api, Staff(browser), Staff(other), provider)


@pytest_asyncio.fixture
async def site(tmp_path: Path, provider: FakeOidc) -> AsyncIterator[OidcSite]:
    async for running in _site(tmp_path, provider, CLIENT_SECRET):
        yield running


async def _log_in(site: OidcSite, tamper_state: bool = False) -> httpx.Response:
    """Follow the redirects as a browser: to the provider, back to the callback with the code."""
    page = await site.staff.get("/staff/login")
    assert "regionens inloggning" in page.text and "Demoanvändare" not in page.text  # no demo login
    to_provider = await site.staff.get("/staff/login/oidc")
    assert to_provider.status_code == 302
    assert to_provider.headers["location"].startswith(f"{site.provider.url}/authorize?")  # type: ignore[union-attr]
    redirect_uri = httpx.URL(to_provider.headers["location"]).params["redirect_uri"]
    assert redirect_uri == f"{site.api.url}/staff/auth/callback"  # from PM_PUBLIC_URL
    back = await site.other.http.get(to_provider.headers["location"])
    assert back.status_code == 302
    callback = httpx.URL(back.headers["location"])
    if tamper_state:
        callback = callback.copy_set_param("state", "forged")
    return await site.staff.get(callback.raw_path.decode())


async def test_oidc_login_gives_a_session_with_the_clinics_of_the_id_token(site: OidcSite) -> None:
    await site.request("R-oidc")
    logged_in = await _log_in(site)
    assert logged_in.status_code == 303 and logged_in.headers["location"].endswith("/staff/")
    assert (
        (await site.staff.get("/staff/"))
        .headers["location"]
        .endswith(f"/staff/clinics/{fx.CLINIC_CONNECTED}")
    )
    page = await site.staff.get("/staff/requests/R-oidc")
    assert page.status_code == 200 and "Sara Lind" in page.text
    [view] = [
        r
        for r in site.api.stores.audit.records(workflow_id=invitation_id(fx.CLINIC_CONNECTED, "R-oidc"))
        if r.action == "web.request.view"
    ]
    assert view.actor == f"staff:{SARA['sub']}"


async def test_oidc_login_refuses_a_forged_state_and_a_user_without_clinics(site: OidcSite) -> None:
    forged = await _log_in(site, tamper_state=True)
    assert forged.status_code == 403 and "kunde inte bekräftas" in forged.text
    assert (await site.staff.get("/staff/")).status_code == 303  # still not logged in: to the login page
    site.provider.user = {"sub": "hsa-no-clinic", "name": "Utan Klinik"}  # type: ignore[union-attr]
    nowhere = await _log_in(site)
    assert nowhere.status_code == 403 and "inte knutet till någon klinik" in nowhere.text
    assert (await site.staff.get("/staff/")).headers["location"].endswith("/staff/login")


async def test_oidc_login_with_a_wrong_client_secret_gets_no_session(
    tmp_path: Path, provider: FakeOidc
) -> None:
    async for site in _site(tmp_path, provider, "not-the-secret"):
        refused = await _log_in(site)
        assert refused.status_code == 403 and provider.tokens_issued == 0
        assert (await site.staff.get("/staff/")).headers["location"].endswith("/staff/login")
