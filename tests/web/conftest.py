"""The staff page on the API's real uvicorn server (tests/http/conftest.py), spoken to as a browser
would, without one: a session cookie kept by hand (it is `Secure`, which httpx keeps for https
only) and the CSRF token read from the page's forms."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest_asyncio

from demo import data as fx
from tests.harness import eventually
from tests.http.conftest import Api, request_body, running_api

CSRF = re.compile(r'name="csrf" value="([^"]+)"')
DEMO_LOGIN: dict[str, Any] = {"web_demo_login": True, "web_demo_users": fx.DEMO_STAFF}
"""The settings `dev.py run` gives the staff page: its demo users, without a password."""


@dataclass
class Staff:
    """One browser's session on the staff page."""

    http: httpx.AsyncClient
    cookie: str = ""
    csrf: str = ""
    set_cookies: list[str] = field(default_factory=list)

    async def get(self, path: str) -> httpx.Response:
        return self._keep(await self.http.get(path, headers=self._headers()))

    async def post(
        self, path: str, data: dict[str, Any] | None = None, csrf: str | None = None
    ) -> httpx.Response:
        form = {"csrf": self.csrf if csrf is None else csrf} | (data or {})
        return self._keep(await self.http.post(path, data=form, headers=self._headers()))

    async def log_in(self, user: str) -> httpx.Response:
        await self.get("/staff/login")
        logged_in = await self.post("/staff/login/demo", {"user": user})
        await self.get("/staff/login")  # any page: the new session's CSRF token
        return logged_in

    def _headers(self) -> dict[str, str]:
        return {"Cookie": self.cookie} if self.cookie else {}

    def _keep(self, response: httpx.Response) -> httpx.Response:
        for header in response.headers.get_list("set-cookie"):
            self.set_cookies.append(header)
            self.cookie = header.split(";", 1)[0]
        found = CSRF.search(response.text)
        if found:
            self.csrf = found.group(1)
        return response


@dataclass
class Site:
    api: Api
    staff: Staff  # Sara, of the demo clinic `kir`, once logged in
    other: Staff  # Olle, of clinic `onh`

    async def request(self, request_id: str, **extra: Any) -> None:
        """Create a request at the demo clinic and wait for its first step (an invitation in the
        window's six weeks is sent at once, V4)."""
        created = await self.api.post("/v1/requests", await request_body(self.api, request_id, **extra))
        assert created.status_code == 201, created.text

        async def state() -> str:
            return (await self.api.get(f"/v1/requests/{request_id}")).json()["state"]

        assert await eventually(state, lambda s: s != "scheduled") in ("invited", "request")


@pytest_asyncio.fixture
async def site(tmp_path: Path) -> AsyncIterator[Site]:
    async with (
        running_api(tmp_path, **DEMO_LOGIN) as api,
        httpx.AsyncClient(base_url=api.url, timeout=30) as sara,
        httpx.AsyncClient(base_url=api.url, timeout=30) as olle,
    ):
        yield Site(api, Staff(sara), Staff(olle))
