"""The audit trail at rest (issue 24, item 9): the command line records its actions under the
operator's name (`--as`, else the OS user), and every row names its clinic — the HTTP API's, the
FHIR door's and the command line's, refusals included — on a real uvicorn server, worker and
time-skipping Temporal server."""

from __future__ import annotations

import asyncio
import getpass
import json
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
import pytest_asyncio

import starter
from adapters.audit import AuditRecord
from demo import data as fx
from tests.http.conftest import Api, booking, running_api

KIR, ONH = fx.CLINIC_CONNECTED, fx.CLINIC_NOT_CONNECTED
PATIENT_DATA = [
    fx.PNR_ADULT_1177,
    fx.PNR_ADULT_1177.replace("-", ""),
    fx.MOBILE_ADULT_1177,
    fx.e164(fx.MOBILE_ADULT_1177),
    "Testa",
]


@pytest_asyncio.fixture
async def api(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> AsyncIterator[Api]:
    """The API, its worker, and the command line's environment pointing at the same server and data."""
    async with running_api(tmp_path) as running:
        monkeypatch.setenv("PM_DATA_DIR", str(tmp_path))
        monkeypatch.setenv("TEMPORAL_ADDRESS", running.harness.client.service_client.config.target_host)
        monkeypatch.setenv("TEMPORAL_TASK_QUEUE", running.harness.task_queue)
        for name in ("PM_DATABASE_URL", "TEMPORAL_NAMESPACE"):
            monkeypatch.delenv(name, raising=False)
        yield running


async def cli(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    """`starter.py ARGV` in this process, as an operator runs it."""
    capsys.readouterr()
    code = await asyncio.to_thread(starter.main, list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def rows(api: Api) -> list[AuditRecord]:
    return api.stores.audit.records()


async def test_cli_actions_are_audited_under_the_operators_name_refusals_included(
    api: Api, capsys: pytest.CaptureFixture[str]
) -> None:
    start = (await api.harness.local(days=3, hour=10)).isoformat()
    assert (await api.post("/v1/visits", booking("B1", start))).status_code == 201

    code, out, _ = await cli(capsys, "--as", "anna.lind", "--json", "visit", "status", "--booking-id", "B1")
    assert code == 0 and json.loads(out)["clinic_id"] == KIR
    code, _, err = await cli(capsys, "visit", "status", "--booking-id", "NOPE")  # the OS user
    assert code == 2 and err.startswith("error: ") and len(err.splitlines()) == 1
    bad_pnr = fx.PNR_ADULT_1177[:-1] + str((int(fx.PNR_ADULT_1177[-1]) + 1) % 10)
    refused_book = [
        "--as", "anna.lind", "visit", "book", "--booking-id", "B2", "--patient-id", bad_pnr,
        "--clinic", KIR, "--reception", fx.RECEPTION_GENERAL, "--start", start,
    ]  # fmt: skip
    code, _, err = await cli(capsys, *refused_book)
    assert code == 2 and len(err.splitlines()) == 1
    code, _, _ = await cli(capsys, "--as", "anna.lind", "visit", "sms-flag", "--booking-id", "B1", "off")
    assert code == 0
    status = ["invitation", "status", "--request-id", "R9", "--clinic", KIR]
    assert (await cli(capsys, "--as", "anna.lind", *status))[0] == 2
    code, _, _ = await cli(capsys, "--as", "anna.lind", "audit")  # reading the trail is not itself a row
    assert code == 0

    before = len(rows(api))
    for who in (fx.PNR_ADULT_1177, "anna lind", ""):  # never a personnummer, only a system id
        code, out, err = await cli(capsys, "--as", who, "visit", "status", "--booking-id", "B1")
        assert (code, out) == (2, "") and err.startswith("error: --as must be") and len(err.splitlines()) == 1
        assert fx.PNR_ADULT_1177 not in err
    assert len(rows(api)) == before  # refused before anything ran: nobody to name

    cli_rows = [r for r in rows(api) if r.actor.startswith("cli:")]
    assert [(r.actor, r.action, r.workflow_id, r.clinic_id, r.outcome) for r in cli_rows] == [
        ("cli:anna.lind", "cli.visit.status", f"sms-reminder:{KIR}:B1", KIR, "ok"),
        (f"cli:{getpass.getuser()}", "cli.visit.status", None, "*", "refused:404"),
        ("cli:anna.lind", "cli.visit.book", None, KIR, "refused:422"),  # no booking: the clinic asked for
        ("cli:anna.lind", "cli.visit.sms-flag", f"sms-reminder:{KIR}:B1", KIR, "ok"),
        ("cli:anna.lind", "cli.invitation.status", f"care-invitation:{KIR}:R9", KIR, "refused:404"),
    ]
    printed = await cli(capsys, "--json", "audit", "--workflow-id", f"sms-reminder:{KIR}:B1")
    assert [r["actor"] for r in json.loads(printed[1])] == ["vas-kir", "cli:anna.lind", "cli:anna.lind"]
    assert_no_patient_data(api)


async def test_every_audit_row_names_its_clinic(api: Api, capsys: pytest.CaptureFixture[str]) -> None:
    """REST, FHIR and the command line, by callers of one clinic, of another and of every clinic,
    found and not found: no row without a clinic (the one exception, a codec refusal of a person
    without any clinic, is in tests/security/test_codec_server.py)."""
    start = (await api.harness.local(days=3, hour=10)).isoformat()
    assert (await api.post("/v1/visits", booking("B1", start))).status_code == 201
    calls = [
        (api.token, "/v1/visits/B1", 200),
        (api.token, "/v1/visits/NOPE", 404),
        (api.token, f"/v1/visits/B1?clinic_id={ONH}", 404),  # another clinic's scope: what it asked for
        (api.other_token, "/v1/visits/B1", 404),
        (api.all_token, "/v1/visits/B1", 200),
        (api.all_token, "/v1/visits/NOPE", 404),  # looked up at every clinic, found at none: `*`
        (api.all_token, "/v1/requests/NOPE", 404),
        (api.all_token, "/fhir/Appointment/NOPE", 404),
        (api.other_token, "/fhir/Appointment/NOPE", 404),
        (api.all_token, "/v1/groups/NOPE", 404),
    ]
    for token, path, expected in calls:
        assert (await api.get(path, token)).status_code == expected, path
    refused = await api.http.put(
        "/fhir/Appointment/F1",
        content=b'{"resourceType": "Appointment"',
        headers={**api.auth(api.all_token), "Content-Type": "application/fhir+json"},
    )
    assert refused.status_code in (400, 422)
    assert (await api.put("/v1/directory", fx.demo_document(), api.all_token)).status_code == 200
    assert (await cli(capsys, "--as", "ops.1", "directory", "withdraw-consent", "--patient-id", "x"))[0] == 2
    assert (await cli(capsys, "--as", "ops.1", "visit", "cancel", "--booking-id", "B1"))[0] == 0

    found = rows(api)
    assert len(found) == len(calls) + 5  # book, the refused PUT, the directory, two commands
    assert [r for r in found if not r.clinic_id] == []
    by_call = [(r.actor, r.action, r.clinic_id, r.outcome) for r in found]
    assert ("vas-onh", "visit.status", ONH, "refused:404") in by_call
    assert ("vas-kir", "visit.status", ONH, "refused:404") in by_call
    assert ("directory-feed", "visit.status", "*", "refused:404") in by_call
    assert ("directory-feed", "visit.status", KIR, "ok") in by_call
    assert ("directory-feed", "directory.load", "*", "ok") in by_call
    assert ("cli:ops.1", "cli.directory.withdraw-consent", "*", "refused:422") in by_call
    assert ("cli:ops.1", "cli.visit.cancel", KIR, "ok") in by_call
    assert_no_patient_data(api)


def assert_no_patient_data(api: Api) -> None:
    printed = json.dumps([r.model_dump(mode="json") for r in rows(api)], ensure_ascii=False)
    for datum in PATIENT_DATA:
        assert datum not in printed
