"""The HTTP API on a real uvicorn server on 127.0.0.1, a worker and the time-skipping Temporal server
(or, with `running_api(..., dev_server=True)`, the Temporal CLI dev server, whose visibility the work
lists need); API keys for a client of the demo clinic (`api.token`), of another clinic
(`api.other_token`) and for every clinic (`api.all_token`)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
import pytest_asyncio
from temporalio.converter import DataConverter
from temporalio.testing import WorkflowEnvironment

from adapters.audit import ApiClient
from contracts import search_attributes as search
from demo import data as fx
from entrypoints.asgi import create_app
from infrastructure.config import Settings
from infrastructure.namespace_setup import register_search_attributes
from infrastructure.stores import Stores
from security.codec import data_converter
from security.keyring import ENV_VAR, Keyring
from testkit.http_server import UvicornThread
from testkit.processes import HOST, SERVER_STARTUP, free_port, start_time_skipping, venv_binary
from tests.harness import Harness


def booking(booking_id: str, start: str, **extra: Any) -> dict[str, Any]:
    """A visit booking body of the demo patient at the demo reception."""
    return {
        "booking_id": booking_id,
        "patient_id": fx.PNR_ADULT_1177,
        "clinic_id": fx.CLINIC_CONNECTED,
        "reception_id": fx.RECEPTION_GENERAL,
        "start": start,
        **extra,
    }


def request_fields(request_id: str, today: date, **extra: Any) -> dict[str, Any]:
    """A care invitation's body for `POST /v1/requests`, its window 20–40 days after `today`."""
    return {
        "request_id": request_id,
        "referral_id": f"ref-{request_id}",
        "patient_id": fx.PNR_ADULT_1177,
        "clinic_id": fx.CLINIC_CONNECTED,
        "reception_id": fx.RECEPTION_GENERAL,
        "visit_kind": "new",
        "visit_type": "Nybesök kirurgi",
        "reason": "Bedömning efter remiss",
        "window": {
            "first_date": (today + timedelta(days=20)).isoformat(),
            "last_date": (today + timedelta(days=40)).isoformat(),
        },
        **extra,
    }


async def request_body(api: Api, request_id: str, **extra: Any) -> dict[str, Any]:
    """`request_fields` as of the harness's (time-skipping) today."""
    return request_fields(request_id, (await api.harness.local(days=0, hour=12)).date(), **extra)


@dataclass
class Api:
    url: str
    http: httpx.AsyncClient
    harness: Harness
    stores: Stores
    token: str
    other_token: str
    all_token: str

    def auth(self, token: str | None = None) -> dict[str, str]:
        return {"Authorization": f"Bearer {token or self.token}"}

    async def get(self, path: str, token: str | None = None) -> httpx.Response:
        return await self.http.get(path, headers=self.auth(token))

    async def post(self, path: str, body: Any, token: str | None = None) -> httpx.Response:
        return await self.http.post(path, json=body, headers=self.auth(token))

    async def put(self, path: str, body: Any, token: str | None = None) -> httpx.Response:
        return await self.http.put(path, json=body, headers=self.auth(token))


async def start_dev_server(converter: DataConverter) -> WorkflowEnvironment:
    """The Temporal CLI dev server `dev.py` installs, with the service's search attributes."""
    return await WorkflowEnvironment.start_local(
        dev_server_existing_path=venv_binary("temporal"),
        dev_server_startup_timeout=SERVER_STARTUP,
        data_converter=converter,
        search_attributes=search.ALL,
        ui=False,
    )


@asynccontextmanager
async def running_api(tmp_path: Path, *, dev_server: bool = False, **settings: Any) -> AsyncIterator[Api]:
    """The API with `settings` (e.g. the JWT ones) over a fresh time-skipping server (or dev server)
    and a worker; its public URL (`PM_PUBLIC_URL`) is its own address."""
    port = free_port()
    settings.setdefault("public_url", f"http://{HOST}:{port}")
    keyring = Keyring.generate()
    start_server = start_dev_server if dev_server else start_time_skipping
    with pytest.MonkeyPatch.context() as monkeypatch:
        monkeypatch.setenv(ENV_VAR, keyring.to_text())  # the app's client encrypts with the same keys
        async with await start_server(data_converter(keyring)) as env:
            await register_search_attributes(env.client, "default")
            harness = Harness(env, tmp_path, fx.demo_document())
            config = Settings(
                temporal_address=env.client.service_client.config.target_host,
                data_dir=tmp_path,
                task_queue=harness.task_queue,
                local=True,
                **settings,
            )
            stores = Stores(config)
            keys = stores.api_keys
            token = keys.create(ApiClient(client_id="vas-kir", clinics=[fx.CLINIC_CONNECTED]))
            other = keys.create(ApiClient(client_id="vas-onh", clinics=[fx.CLINIC_NOT_CONNECTED]))
            every = keys.create(ApiClient(client_id="directory-feed", clinics=["*"]))
            async with harness.worker(webhooks=stores.webhooks, replies=stores.replies):
                with UvicornThread(create_app(config, stores), port=port) as server:
                    async with httpx.AsyncClient(base_url=server.url, timeout=30) as http:
                        yield Api(server.url, http, harness, stores, token, other, every)


@pytest_asyncio.fixture
async def api(tmp_path: Path) -> AsyncIterator[Api]:
    async with running_api(tmp_path) as running:
        yield running


@dataclass
class ElksApi(Api):
    """The API with delivery reports on: the worker sends through the 46elks adapter to the fake
    46elks (`elks`, a `testkit.fake_provider.FakeProvider`), which calls back `callback` with the Basic
    credentials of `secret`."""

    elks: Any = None
    secret: str = ""
    callback: str = ""


@pytest_asyncio.fixture
async def api_with_elks(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, elks: Any) -> AsyncIterator[ElksApi]:
    """As `api`, with `PM_SMS_GATEWAY=46elks` against the fake 46elks and delivery reports to the
    API's own `POST /callbacks/sms/46elks` (PM_DELIVERY_URL, PM_DELIVERY_SECRET)."""
    import uuid

    from infrastructure.stores import sms_gateway

    keyring = Keyring.generate()
    monkeypatch.setenv(ENV_VAR, keyring.to_text())
    secret = "dlr-" + uuid.uuid4().hex
    port = free_port()
    callback = f"http://{HOST}:{port}/callbacks/sms/46elks"
    async with await start_time_skipping(data_converter(keyring)) as env:
        await register_search_attributes(env.client, "default")
        harness = Harness(env, tmp_path, fx.demo_document())
        settings = Settings(
            temporal_address=env.client.service_client.config.target_host,
            data_dir=tmp_path,
            task_queue=harness.task_queue,
            local=True,
            sms_gateway="46elks",
            elks_url=elks.url,
            elks_username="u-test",
            elks_password="p-test",
            delivery_secret=secret,
            delivery_url=callback,
            public_url=f"http://{HOST}:{port}",
        )
        stores = Stores(settings)
        keys = stores.api_keys
        token = keys.create(ApiClient(client_id="vas-kir", clinics=[fx.CLINIC_CONNECTED]))
        other = keys.create(ApiClient(client_id="vas-onh", clinics=[fx.CLINIC_NOT_CONNECTED]))
        every = keys.create(ApiClient(client_id="directory-feed", clinics=["*"]))
        gateway = sms_gateway(settings, stores)
        async with harness.worker(sms=gateway, webhooks=stores.webhooks):
            with UvicornThread(create_app(settings, stores), port=port) as server:
                async with httpx.AsyncClient(base_url=server.url, timeout=30) as http:
                    yield ElksApi(
                        server.url, http, harness, stores, token, other, every, elks, secret, callback
                    )
