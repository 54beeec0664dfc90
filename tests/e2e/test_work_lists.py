"""V12: the staff work lists per clinic, read from visibility on the real Temporal CLI dev server.

The time-skipping test server has no visibility queries, so this runs one dev server (with the custom
search attributes), one worker and a handful of requests per module. The follow-up list (V13) needs
weeks to pass and is tested on the time-skipping server; here it only has to exist and be empty.
"""

from __future__ import annotations

import json
import subprocess
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path
from typing import Any

import pytest
import pytest_asyncio
from temporalio.testing import WorkflowEnvironment

import application as app
from contracts import search_attributes as search
from contracts.workflow_ids import invitation_id
from demo import data as fx
from domain.invitation import CareInvitation, Conversion, DateWindow, InvitationBooking, InvitationState
from domain.timing import at_local, local_date
from security.codec import data_converter
from security.keyring import Keyring
from testkit.processes import SERVER_STARTUP, run_starter, venv_binary
from tests.harness import Harness, eventually, target

pytestmark = pytest.mark.e2e

ROOT = Path(__file__).resolve().parents[2]
CLINIC = fx.CLINIC_CONNECTED
VISIBILITY_TIMEOUT_S = 15.0
SEND_TIME = time(8, 0)  # the demo clinics' invitation send time


@dataclass
class Clinic:
    """A dev server with a worker, and the requests created on it (relative to `today`)."""

    env: WorkflowEnvironment
    harness: Harness
    data_dir: Path
    today: date
    keyring: Keyring

    @property
    def address(self) -> str:
        return self.env.client.service_client.config.target_host


def request(request_id: str, today: date, first: int, last: int, **fields: Any) -> CareInvitation:
    return CareInvitation.model_validate(
        {
            "request_id": request_id,
            "referral_id": f"ref-{request_id}",
            "patient_id": fx.PNR_ADULT_1177,
            "clinic_id": CLINIC,
            "reception_id": fx.RECEPTION_GENERAL,
            "visit_kind": "new",
            "visit_type": "KIR LÄK nybesök",
            "reason": "Ljumskbråck",
            "window": DateWindow(
                first_date=today + timedelta(days=first), last_date=today + timedelta(days=last)
            ),
        }
        | fields
    )


@pytest_asyncio.fixture(scope="module")
async def clinic(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[Clinic]:
    data_dir = tmp_path_factory.mktemp("work-lists")
    keyring = Keyring.generate()  # payloads encrypted as in production; the CLI gets the same key
    async with await WorkflowEnvironment.start_local(
        dev_server_existing_path=venv_binary("temporal"),
        dev_server_startup_timeout=SERVER_STARTUP,
        data_converter=data_converter(keyring),
        search_attributes=search.ALL,
        ui=False,
    ) as env:
        harness = Harness(env, data_dir, fx.demo_document())
        async with harness.worker():
            today = local_date(datetime.now(UTC))
            requests = [
                request("R-plain", today, 30, 60, referral_id=None, invitation=False),
                request("R-far", today, 70, 100, patient_id=fx.PNR_ADULT_VAS),
                request("R-near", today, 21, 35),
                request("R-booked", today, 21, 35),
                request(
                    "R-other",
                    today,
                    21,
                    35,
                    clinic_id=fx.CLINIC_NOT_CONNECTED,
                    reception_id=fx.RECEPTION_NOT_CONNECTED,
                ),
            ]
            for r in requests:
                await app.create_request(env.client, harness.task_queue, harness.directory, r)
            booking = InvitationBooking(
                booking_id="B-booked", start=at_local(today + timedelta(days=25), time(10, 0)), by="staff"
            )
            booked = await app.book_invitation(
                env.client, target(invitation_id(fx.CLINIC_CONNECTED, "R-booked")), booking
            )
            assert booked.state is InvitationState.BOOKED
            yield Clinic(env, harness, data_dir, today, keyring)


def ids(items: list[app.WorkListItem]) -> list[str]:
    return [i.request_id for i in items]


async def lists_when(clinic: Clinic, done: Callable[[app.WorkLists], bool]) -> app.WorkLists:
    """The clinic's lists once `done` holds (visibility is eventually consistent), or after the timeout."""
    return await eventually(
        lambda: app.work_lists(clinic.env.client, CLINIC), done, timeout=VISIBILITY_TIMEOUT_S
    )


def settled(lists: app.WorkLists) -> bool:
    states = {i.request_id: i.state for i in lists.vardinbjudan + lists.bokningsbegaran}
    return states == {"R-near": "invited", "R-far": "scheduled", "R-plain": "request"} and all(
        i.next_action for i in lists.vardinbjudan
    )


async def test_V12_work_lists_per_clinic_from_visibility(clinic: Clinic) -> None:
    lists = await lists_when(clinic, settled)
    assert lists.clinic_id == CLINIC
    # Sorted by the next action: R-near's first reminder (14 days) before R-far's invitation (28 days).
    assert ids(lists.vardinbjudan) == ["R-near", "R-far"], lists
    near, far = lists.vardinbjudan
    assert (near.state, near.next_action) == ("invited", "reminder_1")
    assert near.next_action_at == at_local(clinic.today + timedelta(days=14), SEND_TIME)  # V6
    assert (far.state, far.next_action) == ("scheduled", "invitation")
    assert far.next_action_at == at_local(clinic.today + timedelta(days=70 - 42), SEND_TIME)  # V3
    assert near.reception_id == far.reception_id == fx.RECEPTION_GENERAL
    assert near.workflow_id == invitation_id(fx.CLINIC_CONNECTED, "R-near")

    [plain] = lists.bokningsbegaran
    assert (plain.request_id, plain.state, plain.next_action, plain.next_action_at) == (
        "R-plain",
        "request",
        None,
        None,
    )
    assert lists.uppfoljning == []  # V13 needs weeks: see the time-skipping tests
    everywhere = ids(lists.vardinbjudan + lists.bokningsbegaran + lists.uppfoljning)
    assert "R-booked" not in everywhere  # closed: in no list
    assert "R-other" not in everywhere  # another clinic's

    other = await eventually(
        lambda: app.work_lists(clinic.env.client, fx.CLINIC_NOT_CONNECTED),
        lambda found: ids(found.vardinbjudan) == ["R-other"],
        timeout=VISIBILITY_TIMEOUT_S,
    )
    assert ids(other.vardinbjudan) == ["R-other"] and other.bokningsbegaran == other.uppfoljning == []


async def test_V12_cli_prints_the_work_lists_as_json_and_in_swedish(clinic: Clinic) -> None:
    await lists_when(clinic, lambda found: "R-near" in ids(found.vardinbjudan))
    shown = await starter(clinic, "--json", "worklist", "--clinic", CLINIC)
    assert shown.returncode == 0, shown.stderr
    lists = json.loads(shown.stdout)
    assert lists["clinic_id"] == CLINIC
    assert {"vardinbjudan", "bokningsbegaran", "uppfoljning"} <= lists.keys()
    assert "R-near" in [i["request_id"] for i in lists["vardinbjudan"]]
    assert all(i["request_id"] not in ("R-booked", "R-other") for i in lists["vardinbjudan"])
    assert fx.PNR_ADULT_1177 not in shown.stdout

    plain = await starter(clinic, "worklist", "--clinic", CLINIC)
    assert plain.returncode == 0, plain.stderr
    for heading in ("Vårdinbjudan", "Bokningsbegäran", "Uppföljning"):
        assert heading in plain.stdout
    [near] = [line.split() for line in plain.stdout.splitlines() if line.strip().startswith("R-near")]
    reminder_at = at_local(clinic.today + timedelta(days=14), SEND_TIME)
    assert near == [
        "R-near",
        "invited",
        "reminder_1",
        *reminder_at.strftime("%Y-%m-%d %H:%M").split(),
        fx.RECEPTION_GENERAL,
    ]


async def test_V8_cli_prints_the_update_validators_rejection_of_a_patient_booking(clinic: Clinic) -> None:
    outside = at_local(clinic.today + timedelta(days=30), time(10, 0)).isoformat()  # R-far: days 70-100
    argv = ("invitation", "book", "--request-id", "R-far", "--booking-id", "B-far", "--start", outside)
    refused = await starter(clinic, *argv, "--by", "patient")
    assert refused.returncode == 2 and refused.stdout == ""
    [line] = refused.stderr.splitlines()
    assert line.startswith("error: book rejected: the visit must be between") and line.endswith("(V8)")
    shown = await starter(clinic, "--json", "invitation", "status", "--request-id", "R-far")
    assert shown.returncode == 0, shown.stderr
    status = json.loads(shown.stdout)
    assert (status["state"], status["booked"], status["work_list"]) == ("scheduled", None, "vardinbjudan")
    assert fx.PNR_ADULT_VAS not in shown.stdout


async def test_V11_V12_a_converted_request_moves_to_the_invitation_list(clinic: Clinic) -> None:
    await lists_when(clinic, settled)
    with pytest.raises(app.InputError, match=r"(?s)convert rejected: .*referral.*\(V1\)"):
        await app.convert_request(
            clinic.env.client, target(invitation_id(fx.CLINIC_CONNECTED, "R-plain")), Conversion()
        )  # it has no referral
    refused = await starter(clinic, "invitation", "convert", "--request-id", "R-plain")
    assert refused.returncode == 2 and refused.stdout == ""
    assert refused.stderr.splitlines() == [
        "error: convert rejected: a care invitation needs a referral (referral_id) (V1)"
    ]
    converted = await app.convert_request(
        clinic.env.client,
        target(invitation_id(fx.CLINIC_CONNECTED, "R-plain")),
        Conversion(referral_id="ref-plain"),
    )
    # The window starts in 30 days, less than six weeks away: the invitation goes out at once (V4).
    assert converted.state in (InvitationState.SCHEDULED, InvitationState.INVITED)
    lists = await lists_when(
        clinic, lambda found: not found.bokningsbegaran and "R-plain" in ids(found.vardinbjudan)
    )
    assert lists.bokningsbegaran == []
    assert set(ids(lists.vardinbjudan)) == {"R-plain", "R-near", "R-far"}
    assert lists.uppfoljning == []


async def starter(clinic: Clinic, *args: str) -> subprocess.CompletedProcess[str]:
    """`starter.py ARGS` as a separate process against the module's dev server and data folder."""
    return await run_starter(clinic.address, clinic.data_dir, clinic.keyring.to_text(), *args)
