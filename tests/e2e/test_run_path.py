"""End to end through the README's run path: `dev.py run --demo` on the real Temporal CLI dev server.

One dev server, worker and demo per module; the CLI is driven as a subprocess exactly as a person would.
"""

from __future__ import annotations

import json
import subprocess
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from temporalio.worker import Replayer

from adapters.sms import OutboxEntry, SqliteOutbox
from contracts.workflow_ids import booking_reminder_id, group_booking_id, invitation_id, team_reminder_id
from demo import data as fx
from infrastructure.config import Settings
from infrastructure.temporal_client import connect
from infrastructure.worker_setup import WORKFLOWS, workflow_runner
from tests.e2e.conftest import ROOT, TEMPORAL, DevRun
from workflows.reminder.generations import REMINDER_TYPES
from workflows.request.generations import REQUEST_TYPES

pytestmark = pytest.mark.e2e
SEND_TIMEOUT_S = 60.0


def test_run_path_demo_shows_workflows(dev_run: DevRun) -> None:
    listed = subprocess.run(
        [
            str(TEMPORAL),
            "workflow",
            "list",
            "--address",
            dev_run.address,
            "--namespace",
            "default",
            "-o",
            "json",
        ],
        capture_output=True,
        text=True,
        timeout=30,
        check=True,
    )
    ids = {item["execution"]["workflowId"] for item in json.loads(listed.stdout)}
    kir = fx.CLINIC_CONNECTED
    expected = {
        booking_reminder_id(kir, "demo-adult"),
        team_reminder_id(kir, "demo-team"),
        group_booking_id(kir, "demo-group"),
        *(invitation_id(kir, f"demo-{r}") for r in ("plain", "far", "near", "letter", "booked")),
        booking_reminder_id(
            kir, "demo-booked-visit"
        ),  # V9: the booked invitation's visit has its SMS reminder
    }
    assert expected <= ids, f"missing {expected - ids} in {sorted(ids)}"


def test_V12_run_path_demo_fills_the_work_lists_and_runs_twice_harmlessly(dev_run: DevRun) -> None:
    again = dev_run.starter("demo")  # every id is fixed; the booked invitation is not booked twice
    assert again.returncode == 0, again.stderr

    deadline = time.monotonic() + 15.0  # visibility is eventually consistent
    while True:
        shown = dev_run.starter("--json", "worklist", "--clinic", fx.CLINIC_CONNECTED)
        assert shown.returncode == 0, shown.stderr
        lists = json.loads(shown.stdout)
        listed = {
            name: {i["request_id"] for i in lists[name]} for name in ("vardinbjudan", "bokningsbegaran")
        }
        if listed["vardinbjudan"] == {"demo-far", "demo-near", "demo-letter"} or time.monotonic() > deadline:
            break
        time.sleep(0.3)
    assert listed == {
        "vardinbjudan": {"demo-far", "demo-near", "demo-letter"},
        "bokningsbegaran": {"demo-plain"},
    }
    assert lists["uppfoljning"] == []

    booked = dev_run.starter("--json", "invitation", "status", "--request-id", "demo-booked")
    assert booked.returncode == 0, booked.stderr
    status = json.loads(booked.stdout)
    assert status["state"] == "booked" and status["booked"]["by"] == "patient"
    assert status["booked"]["reminder_workflow_id"] == booking_reminder_id(
        fx.CLINIC_CONNECTED, "demo-booked-visit"
    )
    assert fx.PNR_ADULT_1177 not in booked.stdout


E2E_PATIENT = fx.luhn_pnr("19850312", "789")
E2E_MOBILE = "070-1740620"


def e2e_document() -> dict[str, Any]:
    """A clinic whose sending window is the whole day, and one adult with a 1177 consent."""
    return {
        "clinics": [
            {
                "clinic_id": "e2e",
                "name": "E2E-kliniken",
                "sms_connected": True,
                "sms_days_before": 1,
                "sms_window_start": "00:00",
                "sms_window_end": "23:59:59",
                "receptions": [{"reception_id": "e2e-mott", "name": "E2E-mottagningen", "sms_enabled": True}],
            }
        ],
        "patients": [
            {
                "patient_id": E2E_PATIENT,
                "given_name": "Ände",
                "family_name": "Tillsson",
                "mobile": E2E_MOBILE,
                "uses_1177": True,
                "sms_consents": [
                    {"clinic_id": None, "source": "1177", "given_at": "2024-01-10T12:00:00+01:00"}
                ],
            }
        ],
    }


def sent_for(outbox: SqliteOutbox, booking_id: str) -> list[OutboxEntry]:
    """Outbox entries of one booking (the demo's own visits may send too, depending on the hour)."""
    return [m for m in outbox.messages() if m.key.startswith(booking_reminder_id("e2e", booking_id) + "/")]


def test_S6_run_path_books_a_visit_due_in_seconds_and_the_outbox_receives_it(
    dev_run: DevRun, tmp_path: Path
) -> None:
    document = tmp_path / "directory.json"
    document.write_text(json.dumps(e2e_document(), ensure_ascii=False), encoding="utf-8")
    loaded = dev_run.starter("directory", "load", str(document))
    assert loaded.returncode == 0, loaded.stderr

    start = (datetime.now(UTC) + timedelta(hours=3)).replace(microsecond=0).isoformat()
    book = (
        *("visit", "book", "--booking-id", "e2e-1", "--patient-id", E2E_PATIENT),
        *("--clinic", "e2e", "--reception", "e2e-mott", "--start", start),
    )
    booked = dev_run.starter(*book)
    assert booked.returncode == 0, booked.stderr

    # The day-before moment has passed and the window is the whole day: S6 sends at once.
    outbox_path = dev_run.data_dir / "outbox.sqlite3"
    deadline = time.monotonic() + SEND_TIMEOUT_S
    while not (outbox_path.exists() and sent_for(SqliteOutbox(outbox_path), "e2e-1")):
        assert time.monotonic() < deadline, f"no SMS in the outbox within {SEND_TIMEOUT_S:.0f} s"
        time.sleep(0.2)
    outbox = SqliteOutbox(outbox_path)
    [entry] = sent_for(outbox, "e2e-1")
    assert entry.to == fx.e164(E2E_MOBILE) == "+46701740620"
    assert entry.key.startswith(booking_reminder_id("e2e", "e2e-1") + "/")

    shown = dev_run.starter("--json", "visit", "status", "--booking-id", "e2e-1")
    assert shown.returncode == 0, shown.stderr
    status = json.loads(shown.stdout)
    assert status["state"] == "sent"
    [message] = status["messages"]
    assert message["outcome"] == "sent" and message["to"]
    assert "+46701740620" not in message["to"] and "701740620" not in message["to"]
    assert E2E_PATIENT not in shown.stdout

    again = dev_run.starter(*book)
    assert again.returncode == 0, again.stderr
    time.sleep(1.0)  # a second reminder, if one were started, would send at once too
    assert len(sent_for(outbox, "e2e-1")) == 1


def patient_data_shapes(patient: dict[str, Any]) -> set[str]:
    """Every spelling of a demo patient's data that must not reach the Temporal database."""
    pnr = patient["patient_id"]
    values = {pnr, pnr.replace("-", ""), pnr[2:], pnr[2:].replace("-", ""), patient["family_name"]}
    for mobile in [patient.get("mobile")] + [g.get("mobile") for g in patient.get("guardians", [])]:
        if mobile:
            national = mobile.replace("-", "").replace(" ", "")
            values |= {national, "+46" + national[1:]}
    return values


def test_run_path_stores_no_patient_data_in_the_temporal_database(dev_run: DevRun) -> None:
    """Payloads are encrypted before they reach the server; ids and search attributes hold none."""
    database = b"".join(p.read_bytes() for p in dev_run.data_dir.glob("temporal.sqlite3*"))
    assert (
        booking_reminder_id(fx.CLINIC_CONNECTED, "demo-adult").encode() in database
    )  # the demo did write here
    hits = [
        value[:4] + "…"
        for patient in fx.demo_document()["patients"]
        for value in patient_data_shapes(patient)
        if value.encode() in database
    ]
    assert hits == []
    assert b"binary/encrypted" in database


def test_run_path_codec_server_decodes_only_for_a_named_operator_and_audits_it(dev_run: DevRun) -> None:
    """No header a local process can forge opens the local codec server; a personal codec token does,
    with the Temporal CLI as docs/encryption.md prints it, and the audit trail names the operator."""
    port = int(dev_run.env["PM_CODEC_PORT"])
    endpoint = f"http://127.0.0.1:{port}"
    ui = f"http://localhost:{dev_run.env['PM_UI_PORT']}"
    payload = {"payloads": [{"metadata": {"encoding": "YmluYXJ5L3BsYWlu"}, "data": "e30="}]}  # passes through
    forged = httpx.post(f"{endpoint}/decode", json=payload, headers={"Origin": ui, "X-Namespace": "default"})
    assert forged.status_code == 401
    assert (
        httpx.post(f"{endpoint}/decode", json=payload, headers={"Origin": "http://evil.test"}).status_code
        == 403
    )

    made = dev_run.starter("--json", "admin", "codec-token", "create", "--operator", "e2e.operator")
    assert made.returncode == 0, made.stderr
    token = json.loads(made.stdout)["codec_token"]
    listed = subprocess.run(
        [str(TEMPORAL), "workflow", "list", "--address", dev_run.address, "--limit", "1", "-o", "json"],
        capture_output=True,
        text=True,
        timeout=30,
        check=True,
    )
    workflow_id = json.loads(listed.stdout)[0]["execution"]["workflowId"]
    describe = [
        str(TEMPORAL),
        "workflow",
        "describe",
        "--workflow-id",
        workflow_id,
        "--address",
        dev_run.address,
    ]
    codec = ["--codec-endpoint", endpoint, "--codec-auth", f"Bearer {token}"]
    plain = subprocess.run([*describe, *codec, "-o", "json"], capture_output=True, text=True, timeout=30)
    assert plain.returncode == 0, plain.stderr
    encrypted_marker = "YmluYXJ5L2VuY3J5cHRlZA=="  # base64 of binary/encrypted
    assert encrypted_marker not in plain.stdout
    without = subprocess.run(
        [*describe, "-o", "json"], capture_output=True, text=True, timeout=30, check=True
    )
    assert encrypted_marker in without.stdout  # the same summary, still encrypted without the token

    audit = dev_run.starter("--json", "audit", "--limit", "50")
    assert audit.returncode == 0, audit.stderr
    reads = [r for r in json.loads(audit.stdout) if r["action"] == "codec.decode"]
    assert reads and {(r["actor"], r["namespace"], r["outcome"]) for r in reads} == {
        ("operator:e2e.operator", "default", "ok")
    }
    assert all(r["payloads"] >= 1 for r in reads)


def test_run_path_serves_the_http_api_and_its_docs_and_books_with_a_local_api_key(dev_run: DevRun) -> None:
    """The README's curl booking, with a key made by `starter.py admin api-key create`."""
    made = dev_run.starter("--json", "admin", "api-key", "create", "--client-id", "vas", "--clinic", "kir")
    assert made.returncode == 0, made.stderr
    key = json.loads(made.stdout)["api_key"]
    api = f"http://127.0.0.1:{dev_run.env['PM_API_PORT']}"
    assert httpx.get(f"{api}/docs", timeout=10).status_code == 200
    assert "/v1/visits" in httpx.get(f"{api}/openapi.json", timeout=10).json()["paths"]
    start = (datetime.now(UTC) + timedelta(days=3)).replace(microsecond=0).isoformat()
    body = {
        "booking_id": "curl-1",
        "patient_id": fx.PNR_ADULT_1177,
        "clinic_id": fx.CLINIC_CONNECTED,
        "reception_id": fx.RECEPTION_GENERAL,
        "start": start,
    }
    booked = httpx.post(f"{api}/v1/visits", json=body, headers={"Authorization": f"Bearer {key}"}, timeout=30)
    assert booked.status_code == 201, booked.text
    status = httpx.get(f"{api}/v1/visits/curl-1", headers={"Authorization": f"Bearer {key}"}, timeout=30)
    assert status.status_code == 200 and status.json()["clinic_id"] == fx.CLINIC_CONNECTED
    assert httpx.post(f"{api}/v1/visits", json=body, timeout=30).status_code == 401
    lists = httpx.get(
        f"{api}/v1/clinics/kir/work-lists", headers={"Authorization": f"Bearer {key}"}, timeout=30
    )
    assert lists.status_code == 200 and "demo-plain" in {
        i["request_id"] for i in lists.json()["bokningsbegaran"]
    }
    other = httpx.get(
        f"{api}/v1/clinics/onh/work-lists", headers={"Authorization": f"Bearer {key}"}, timeout=30
    )
    assert other.status_code == 403


async def test_run_path_histories_of_the_unsandboxed_worker_replay_in_the_sandbox(dev_run: DevRun) -> None:
    """The guard of the unsandboxed production runner (issue 13): what the worker of the run path
    recorded, for every workflow type of the demo, replays in the SDK's sandbox with its default
    restrictions, where a clock read, a random number or I/O in workflow code would fail."""
    assert any('"workflow_sandbox": false' in line for line in dev_run.output), dev_run.log()
    client = await connect(Settings(temporal_address=dev_run.address, data_dir=dev_run.data_dir, local=True))
    replayer = Replayer(
        workflows=WORKFLOWS, data_converter=client.data_converter, workflow_runner=workflow_runner(True)
    )
    types, failures = set(), {}
    async with replayer.workflow_replay_iterator(client.list_workflows().map_histories()) as results:
        async for result in results:
            started = result.history.events[0].workflow_execution_started_event_attributes
            types.add(started.workflow_type.name)
            if result.replay_failure is not None:
                failures[result.history.workflow_id] = str(result.replay_failure)
    # the types of the reminders and requests created before: nothing starts them now (a group
    # booking's and an invitation's children are `VisitReminderV2` since `children-newest-reminder`)
    not_started = {w.__name__ for w in (*REMINDER_TYPES[1:], *REQUEST_TYPES[1:])}
    not_started.add("EventDelivery")  # only for a clinic with a webhook; the demo registers none
    assert types == {w.__name__ for w in WORKFLOWS} - not_started
    assert failures == {}


def test_run_path_data_folder_is_private_and_keeps_no_clear_personnummer(dev_run: DevRun) -> None:
    """At rest (issue 24, item 9), after `dev.py run --demo`, a FHIR booking and CLI actions: every
    file the run wrote (Temporal's database and log, the stores with their -wal/-shm, the key file,
    letters) is 0600 or stricter in 0700 folders; the FHIR store holds no personnummer in clear;
    the CLI's actions are audited under the operator's name; every audit row names its clinic."""
    made = dev_run.starter("--json", "admin", "api-key", "create", "--client-id", "fhir-e2e", "--clinic=kir")
    assert made.returncode == 0, made.stderr
    key = json.loads(made.stdout)["api_key"]
    api = f"http://127.0.0.1:{dev_run.env['PM_API_PORT']}"
    start = (datetime.now(UTC) + timedelta(days=3)).replace(microsecond=0)
    digits = fx.PNR_ADULT_1177.replace("-", "")
    appointment = {
        "resourceType": "Appointment",
        "id": "fhir-e2e-1",
        "status": "booked",
        "start": start.isoformat(),
        "end": (start + timedelta(minutes=30)).isoformat(),
        "participant": [
            {"actor": {"identifier": {"system": "http://electronichealth.se/identifier/personnummer",
                                      "value": digits}}, "status": "accepted"},
            {"actor": {"identifier": {"system": "urn:oid:1.2.752.29.4.19", "value": "SE2321000016-KIR1"}},
             "status": "accepted"},
        ],
    }  # fmt: skip
    headers = {"Authorization": f"Bearer {key}", "Content-Type": "application/fhir+json"}
    put = httpx.put(f"{api}/fhir/Appointment/fhir-e2e-1", json=appointment, headers=headers, timeout=30)
    assert put.status_code == 201, put.text
    got = httpx.get(f"{api}/fhir/Appointment/fhir-e2e-1", headers=headers, timeout=30)
    assert got.status_code == 200 and got.json()["participant"][0]["actor"]["identifier"]["value"] == digits
    shown = dev_run.starter("--as", "e2e.operator", "visit", "status", "--booking-id", "fhir-e2e-1")
    assert shown.returncode == 0, shown.stderr

    stored = b"".join(p.read_bytes() for p in dev_run.data_dir.glob("fhir.sqlite3*"))
    for spelling in (digits, fx.PNR_ADULT_1177, digits[2:], f"{digits[2:8]}-{digits[8:]}"):
        assert spelling.encode() not in stored

    loose = {}
    for path in [dev_run.data_dir, *dev_run.data_dir.rglob("*")]:
        mode = path.lstat().st_mode & 0o777
        if (path.is_dir() and mode != 0o700) or (not path.is_dir() and mode & ~0o600):
            loose[str(path.relative_to(dev_run.data_dir))] = f"{mode:04o}"
    names = {p.name for p in dev_run.data_dir.iterdir()}
    assert {"temporal.sqlite3", "temporal-server.log", "keys.txt", "fhir.sqlite3", "audit.sqlite3"} <= names
    assert loose == {}, f"group or others may read: {loose}"

    audit = dev_run.starter("--json", "audit", "--limit", "1000")
    assert audit.returncode == 0, audit.stderr
    rows = json.loads(audit.stdout)
    assert [r for r in rows if not r["clinic_id"]] == []  # (a codec refusal of a person with no clinic aside)
    assert {(r["actor"], r["action"], r["clinic_id"], r["outcome"]) for r in rows} >= {
        ("cli:e2e.operator", "cli.visit.status", fx.CLINIC_CONNECTED, "ok"),
        ("fhir-e2e", "fhir.appointment.put", fx.CLINIC_CONNECTED, "ok"),
    }
    assert any(r["actor"].startswith("cli:") and r["action"] == "cli.demo" for r in rows)  # dev.py's demo
    assert fx.PNR_ADULT_1177 not in audit.stdout and digits not in audit.stdout


def test_run_path_serves_a_test_key_from_the_test_namespace_apart_from_live_traffic(dev_run: DevRun) -> None:
    """Test mode (docs/test-mode.md): `dev.py run` makes and prepares `default-test` and the worker
    works it; a test key's booking is a workflow there (the CLI finds it in that namespace only), and
    its work lists read that namespace's visibility (its search attributes exist)."""
    made = dev_run.starter(
        "--json", "admin", "api-key", "create", "--client-id", "sandbox", "--clinic", "kir", "--test"
    )
    assert made.returncode == 0, made.stderr
    auth = {"Authorization": f"Bearer {json.loads(made.stdout)['api_key']}"}
    api = f"http://127.0.0.1:{dev_run.env['PM_API_PORT']}"
    start = (datetime.now(UTC) + timedelta(days=3)).replace(microsecond=0).isoformat()
    body = {
        "booking_id": "tm-run-1",
        "patient_id": fx.PNR_ADULT_1177,
        "clinic_id": fx.CLINIC_CONNECTED,
        "reception_id": fx.RECEPTION_GENERAL,
        "start": start,
    }
    booked = httpx.post(f"{api}/v1/visits", json=body, headers=auth, timeout=30)
    assert booked.status_code == 201 and booked.headers["pm-test-mode"] == "true", booked.text
    lists = httpx.get(f"{api}/v1/clinics/kir/work-lists", headers=auth, timeout=30)
    assert lists.status_code == 200, lists.text
    assert "demo-plain" not in {i["request_id"] for i in lists.json()["bokningsbegaran"]}  # live demo data
    as_test = dev_run.starter("--json", "visit", "status", "--booking-id", "tm-run-1")
    assert as_test.returncode == 2  # not in the live namespace
    in_test = subprocess.run(
        [sys.executable, str(ROOT / "starter.py"), "--json", "visit", "status", "--booking-id", "tm-run-1"],
        cwd=ROOT,
        env=dev_run.env | {"TEMPORAL_NAMESPACE": "default-test"},
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert in_test.returncode == 0 and json.loads(in_test.stdout)["state"] == "scheduled", in_test.stderr


def test_run_path_the_demo_invitation_left_unread_walks_its_routing_plan(dev_run: DevRun) -> None:
    """Issue 27 (docs/routing.md): `demo-routed`, at the ÖNH clinic whose plan waits a minute per step,
    is sent to 1177 at once; left unread, the SMS notice follows a minute later, by the real worker's
    durable timer (the whole walk, and every branch of it, on the time-skipping server:
    tests/workflows/test_invitation_routing.py)."""
    deadline = time.monotonic() + 150.0
    while True:
        shown = dev_run.starter(
            "--json",
            "invitation",
            "status",
            "--request-id",
            "demo-routed",
            "--clinic",
            fx.CLINIC_NOT_CONNECTED,
        )
        assert shown.returncode == 0, shown.stderr
        messages = json.loads(shown.stdout)["messages"]
        if [m["channel"] for m in messages][:2] == ["1177", "sms"] or time.monotonic() > deadline:
            break
        time.sleep(2.0)
    assert [(m["kind"], m["channel"], m["outcome"]) for m in messages][:2] == [
        ("invitation", "1177", "sent"),
        ("invitation", "sms", "sent"),
    ]
    first, notice = (datetime.fromisoformat(m["at"]) for m in messages[:2])
    assert notice - first >= timedelta(minutes=1)
    assert fx.PNR_ADULT_1177 not in shown.stdout and fx.MOBILE_ADULT_1177 not in shown.stdout
