"""V12, V13: a work list on the staff page reads one page from visibility, not the whole list: 20 rows
a page, newest first, filtered by reception and waiting time, paged by a signed token in the query
string; the tabs' counts come from Count. The real uvicorn server over the real Temporal CLI dev
server (the time-skipping server has no visibility queries) with a worker and 48 requests at `kir`.
tests/e2e/test_staff_browser.py shows the lists in Chromium."""

from __future__ import annotations

import asyncio
import html
import re
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import httpx
import pytest
import pytest_asyncio
from temporalio.testing import WorkflowEnvironment

import application as app
from contracts import search_attributes as search
from demo import data as fx
from domain.booking import VisitBooking
from domain.invitation import CareInvitation
from domain.replies import PatientReply, ReplyWord
from domain.status import RecipientRole
from domain.timing import local_date
from entrypoints.asgi import create_app
from entrypoints.web import paging
from entrypoints.web.pages import PAGE_SIZE
from infrastructure.config import Settings
from infrastructure.stores import Stores
from security.codec import data_converter
from security.keyring import ENV_VAR, Keyring
from testkit.http_server import UvicornThread
from testkit.processes import HOST, SERVER_STARTUP, free_port, venv_binary
from tests.harness import Harness, eventually, target
from tests.http.conftest import request_fields
from tests.web.conftest import Staff

INVITATIONS = 45  # three pages of Vårdinbjudan: 20, 20, 5
OBESITY = 15  # of them at the reception kir-obes
PLAIN = 3  # Bokningsbegäran
USERS = fx.DEMO_STAFF | {"anna": ("Anna Ek", [fx.CLINIC_CONNECTED, fx.CLINIC_NOT_CONNECTED])}
ROW = re.compile(r'href="[^"]*/staff/requests/([^"]+)"')
NEXT = re.compile(r'<a href="([^"]+)" rel="next">')
PREVIOUS = re.compile(r'<a href="([^"]+)" rel="prev">')
LIST_URL = f"/staff/clinics/{fx.CLINIC_CONNECTED}?list=vardinbjudan"


@dataclass
class Lists:
    url: str  # the staff page's server
    harness: Harness  # its worker runs while the module's tests do


def _request(request_id: str, reception: str, invitation: bool = True) -> CareInvitation:
    """A request whose window opens in 100 days: it sleeps (its invitation is due in 58 days)."""
    today = local_date(datetime.now(UTC))
    window = {
        "first_date": (today + timedelta(days=100)).isoformat(),
        "last_date": (today + timedelta(days=130)).isoformat(),
    }
    fields = request_fields(request_id, today, reception_id=reception, window=window, invitation=invitation)
    if not invitation:
        fields["referral_id"] = None
    return CareInvitation.model_validate(fields)


@pytest_asyncio.fixture(scope="module")
async def lists(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[Lists]:
    data_dir = tmp_path_factory.mktemp("work-list-pages")
    keyring = Keyring.generate()
    port = free_port()
    with pytest.MonkeyPatch.context() as monkeypatch:
        monkeypatch.setenv(ENV_VAR, keyring.to_text())  # the app's client encrypts with the same keys
        async with await WorkflowEnvironment.start_local(
            dev_server_existing_path=venv_binary("temporal"),
            dev_server_startup_timeout=SERVER_STARTUP,
            data_converter=data_converter(keyring),
            search_attributes=search.ALL,
            ui=False,
        ) as env:
            harness = Harness(env, data_dir, fx.demo_document())
            config = Settings(
                temporal_address=env.client.service_client.config.target_host,
                data_dir=data_dir,
                task_queue=harness.task_queue,
                local=True,
                public_url=f"http://{HOST}:{port}",
                web_demo_login=True,
                web_demo_users=USERS,
            )
            async with harness.worker():
                requests = [
                    _request(f"R{n:02}", fx.RECEPTION_HIDDEN if n < OBESITY else fx.RECEPTION_GENERAL)
                    for n in range(INVITATIONS)
                ] + [_request(f"P{n}", fx.RECEPTION_GENERAL, invitation=False) for n in range(PLAIN)]
                start = harness.task_queue, harness.directory
                await asyncio.gather(*(app.create_request(env.client, *start, r) for r in requests))
                counted = await eventually(
                    lambda: app.work_list_page(env.client, fx.CLINIC_CONNECTED, "vardinbjudan"),
                    lambda page: page.counts == {"vardinbjudan": INVITATIONS, "bokningsbegaran": PLAIN,
                                                 "uppfoljning": 0},
                    timeout=30,
                )  # fmt: skip
                assert counted.counts["vardinbjudan"] == INVITATIONS, counted.counts
                with UvicornThread(create_app(config, Stores(config)), port=port) as server:
                    yield Lists(server.url, harness)


async def _logged_in(lists: Lists, user: str) -> AsyncIterator[Staff]:
    async with httpx.AsyncClient(base_url=lists.url, timeout=30) as http:
        staff = Staff(http)
        await staff.log_in(user)
        yield staff


@pytest_asyncio.fixture
async def sara(lists: Lists) -> AsyncIterator[Staff]:
    async for staff in _logged_in(lists, "sara"):
        yield staff


@pytest_asyncio.fixture
async def anna(lists: Lists) -> AsyncIterator[Staff]:
    async for staff in _logged_in(lists, "anna"):
        yield staff


def rows(page: httpx.Response) -> list[str]:
    assert page.status_code == 200, page.text
    return ROW.findall(page.text)


def link(pattern: re.Pattern[str], page: httpx.Response) -> str | None:
    found = pattern.search(page.text)
    return html.unescape(found.group(1)) if found else None


async def test_V12_a_list_pages_through_visibility_twenty_rows_at_a_time_with_counts(sara: Staff) -> None:
    first = await sara.get(LIST_URL)
    assert len(rows(first)) == PAGE_SIZE == 20
    assert "Sida 1 av 3" in first.text and "Senast inkomna först" in first.text
    for name, count in (("Vårdinbjudan", INVITATIONS), ("Bokningsbegäran", PLAIN), ("Uppföljning", 0)):
        assert re.search(rf'{name} <span class="count">{count}</span>', first.text), name
    assert link(PREVIOUS, first) is None

    second = await sara.get(link(NEXT, first) or "")
    assert "Sida 2 av 3" in second.text and len(rows(second)) == PAGE_SIZE
    assert not set(rows(second)) & set(rows(first))  # the second page differs from the first
    assert f'Vårdinbjudan <span class="count">{INVITATIONS}</span>' in second.text  # the first page's counts
    third = await sara.get(link(NEXT, second) or "")
    assert "Sida 3 av 3" in third.text and link(NEXT, third) is None
    assert sorted(rows(first) + rows(second) + rows(third)) == [f"R{n:02}" for n in range(INVITATIONS)]
    assert "Första sidan" in third.text
    back = await sara.get(link(PREVIOUS, third) or "")
    assert rows(back) == rows(second) and "Sida 2 av 3" in back.text
    again = await sara.get(link(PREVIOUS, second) or "")
    assert rows(again) == rows(first)
    assert all(fx.PNR_ADULT_1177 not in url for url in (link(NEXT, first) or "", link(NEXT, second) or ""))


async def test_V12_filters_by_reception_and_waiting_time_are_counted(sara: Staff) -> None:
    obesity = await sara.get(f"{LIST_URL}&reception={fx.RECEPTION_HIDDEN}")
    assert sorted(rows(obesity)) == [f"R{n:02}" for n in range(OBESITY)]
    assert "Sida 1 av 1" not in obesity.text and link(NEXT, obesity) is None  # one page: no page links
    assert f'Vårdinbjudan <span class="count">{INVITATIONS}</span>' in obesity.text  # the tabs unfiltered
    general = await sara.get(f"{LIST_URL}&reception={fx.RECEPTION_GENERAL}")
    assert "Sida 1 av 2" in general.text and len(rows(general)) == PAGE_SIZE
    plain = await sara.get(f"/staff/clinics/{fx.CLINIC_CONNECTED}?list=bokningsbegaran")
    assert sorted(rows(plain)) == [f"P{n}" for n in range(PLAIN)]
    waited = await sara.get(f"{LIST_URL}&waited=7")  # all came in just now
    assert rows(waited) == [] and "Listan är tom." in waited.text
    bad = await sara.get(f"{LIST_URL}&reception=x'%20OR%20'1'='1")
    assert bad.status_code == 422 and "Ett id består av" in bad.text


async def test_a_page_token_of_another_clinic_list_or_session_or_a_forged_one_is_refused(
    sara: Staff, anna: Staff
) -> None:
    """Bad input (422, one Swedish sentence, no traceback), and nothing reaches the Temporal server."""
    token = (link(NEXT, await anna.get(LIST_URL)) or "").split("page=")[1]
    assert (await anna.get(f"{LIST_URL}&page={token}")).status_code == 200
    refused = [
        await anna.get(f"/staff/clinics/{fx.CLINIC_NOT_CONNECTED}?list=vardinbjudan&page={token}"),
        await anna.get(f"/staff/clinics/{fx.CLINIC_CONNECTED}?list=bokningsbegaran&page={token}"),
        await anna.get(f"{LIST_URL}&reception={fx.RECEPTION_GENERAL}&page={token}"),
        await sara.get(f"{LIST_URL}&page={token}"),  # another session's link
        await sara.get(f"{LIST_URL}&page=forged"),
        await sara.get(f"{LIST_URL}&page={token[:-4]}AAAA"),
        await sara.get(f"{LIST_URL}&page=%00%ff"),
    ]
    for page in refused:
        assert page.status_code == 422, page.text
        assert "hör inte till den här listan" in page.text and "Traceback" not in page.text


def test_a_page_link_keeps_the_last_pages_and_names_its_list() -> None:
    view = paging.ListView(fx.CLINIC_CONNECTED, "vardinbjudan", "", 0)
    at = paging.PageAt(view)
    assert at.token is None and at.previous() is None and at.counted is None
    counted = app.ListCounts({"vardinbjudan": 300, "bokningsbegaran": 2, "uppfoljning": 0}, 300)
    for n in range(2, 15):
        at = at.following(f"token-{n}".encode(), counted)
    assert at.number == 14 and at.token == b"token-14" and len(at.tokens) == paging.TRAIL
    assert paging.read(paging.write(at, "key"), view, "key") == at and at.counted == counted
    back = at
    while (before := back.previous()) is not None and before.number > 1:
        back = before
    assert back.number == 14 - paging.TRAIL + 1  # back as far as the link knows, then "Första sidan"
    second = paging.PageAt(view).following(b"t2", counted)
    assert second.previous() == paging.PageAt(view)
    with pytest.raises(app.InputError):
        paging.read(paging.write(at, "key"), view, "other session")
    with pytest.raises(app.InputError):
        paging.read(paging.write(at, "key"), paging.ListView("onh", "vardinbjudan", "", 0), "key")


async def test_replies_a_reminder_with_a_reply_waiting_is_on_uppfoljning_until_handled(
    lists: Lists, sara: Staff
) -> None:
    """Issue 28: a visit whose patient answered AVBOKA is a row of Uppföljning, linked to its visit
    page, counted, and leaves the list once staff mark the reply handled (last: the counts return)."""
    harness = lists.harness
    start = datetime.now(UTC) + timedelta(days=3)
    booking = VisitBooking(
        booking_id="V-listed", patient_id=fx.PNR_ADULT_1177, clinic_id=fx.CLINIC_CONNECTED,
        reception_id=fx.RECEPTION_GENERAL, start=start,
    )  # fmt: skip
    handle = await harness.book(booking)
    reply = PatientReply(
        inbound_id="in-listed", word=ReplyWord.CANCEL, role=RecipientRole.PATIENT, version=1,
        received_at=datetime.now(UTC),
    )  # fmt: skip
    await handle.signal("patient_reply", reply)
    url = f"/staff/clinics/{fx.CLINIC_CONNECTED}?list=uppfoljning"

    async def listed() -> str:
        return (await sara.get(url)).text

    page = await eventually(listed, lambda text: "V-listed" in text, timeout=30)
    assert "/staff/visits/V-listed" in page and "SMS-svar: AVBOKA" in page
    assert '<span class="count">1</span>' in page
    await app.reply_handled(harness.client, target(handle.id))
    assert "V-listed" not in await eventually(listed, lambda text: "V-listed" not in text, timeout=30)
