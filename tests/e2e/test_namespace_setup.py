"""A namespace that lacks the service's search attributes: the CLI says so in one line and how to fix it
(`starter.py admin prepare-namespace`), starts nothing, and works once the namespace is prepared.

Against the real Temporal CLI dev server started without `--search-attribute` flags, as a real
cluster's new namespace would be; `starter.py` runs as a separate process.
"""

from __future__ import annotations

import json
import subprocess
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import pytest_asyncio
from temporalio.service import RPCError, RPCStatusCode
from temporalio.testing import WorkflowEnvironment

from contracts import search_attributes as search
from contracts.workflow_ids import booking_reminder_id
from demo import data as fx
from security.codec import data_converter
from security.keyring import Keyring
from testkit.processes import SERVER_STARTUP, run_starter, venv_binary

ROOT = Path(__file__).resolve().parents[2]


@dataclass
class Cluster:
    env: WorkflowEnvironment
    data_dir: Path
    keyring: Keyring

    @property
    def address(self) -> str:
        return self.env.client.service_client.config.target_host

    async def starter(self, *args: str) -> subprocess.CompletedProcess[str]:
        return await run_starter(self.address, self.data_dir, self.keyring.to_text(), *args)


@pytest_asyncio.fixture
async def cluster(tmp_path: Path) -> AsyncIterator[Cluster]:
    keyring = Keyring.generate()
    async with await WorkflowEnvironment.start_local(
        dev_server_existing_path=venv_binary("temporal"),
        dev_server_startup_timeout=SERVER_STARTUP,
        data_converter=data_converter(keyring),
        ui=False,
    ) as env:
        yield Cluster(env, tmp_path / "data", keyring)


def booking_args(booking_id: str) -> list[str]:
    start = (datetime.now(UTC) + timedelta(days=3)).replace(microsecond=0).isoformat()
    return [
        "visit",
        "book",
        "--booking-id",
        booking_id,
        "--patient-id",
        fx.PNR_ADULT_1177,
        "--clinic",
        fx.CLINIC_CONNECTED,
        "--reception",
        fx.RECEPTION_GENERAL,
        "--start",
        start,
    ]


async def test_booking_on_an_unprepared_namespace_is_one_error_line_and_prepare_namespace_fixes_it(
    cluster: Cluster, tmp_path: Path
) -> None:
    document = tmp_path / "directory.json"
    document.write_text(json.dumps(fx.demo_document(), ensure_ascii=False), encoding="utf-8")
    assert (await cluster.starter("directory", "load", str(document))).returncode == 0

    refused = await cluster.starter(*booking_args("B-unprepared"))
    assert refused.returncode == 2
    assert "Traceback" not in refused.stderr
    assert refused.stderr.count("\n") == 1 and refused.stderr.startswith("error: ")
    assert "starter.py admin prepare-namespace" in refused.stderr
    assert fx.PNR_ADULT_1177 not in refused.stderr
    with pytest.raises(RPCError) as missing:  # nothing was started
        await cluster.env.client.get_workflow_handle(
            booking_reminder_id(fx.CLINIC_CONNECTED, "B-unprepared")
        ).describe()
    assert missing.value.status is RPCStatusCode.NOT_FOUND

    prepared = await cluster.starter("--json", "admin", "prepare-namespace")
    assert prepared.returncode == 0, prepared.stderr
    made = json.loads(prepared.stdout)
    assert made["search_attributes_added"] == sorted(key.name for key in search.ALL)
    # test mode (docs/test-mode.md): the test namespace is made, with its own search attributes
    assert (made["test_namespace"], made["test_namespace_created"]) == ("default-test", True)
    assert made["test_search_attributes_added"] == sorted(key.name for key in search.ALL)
    again = await cluster.starter("--json", "admin", "prepare-namespace")  # idempotent
    assert json.loads(again.stdout)["search_attributes_added"] == []
    assert json.loads(again.stdout)["test_namespace_created"] is False
    assert json.loads(again.stdout)["test_search_attributes_added"] == []

    booked = await cluster.starter(*booking_args("B-prepared"))
    assert booked.returncode == 0, booked.stderr
    description = await cluster.env.client.get_workflow_handle(
        booking_reminder_id(fx.CLINIC_CONNECTED, "B-prepared")
    ).describe()
    assert description.typed_search_attributes.get(search.CLINIC) == fx.CLINIC_CONNECTED
