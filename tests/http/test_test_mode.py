"""Test mode (issue 26, item 4; docs/test-mode.md) end to end, on one rig for the module: the HTTP API on
a real uvicorn server, the time-skipping server with the namespaces `default` and `default-test`, the
live worker and the test worker as `worker.py` assembles them, the fake 46elks as the configured
provider and webhook receivers that verify every signature.

A test key's reminders go through the simulator (each magic number to its outcome, in the status and
as events to the test key's webhook; any other number to 46elks with `dryrun=yes` only), live traffic
never with `dryrun`; the same booking id of a live and a test key is two workflows, and neither key
sees the other's (404); a test key may not load the directory (403); the audit trail names the test
namespace; a test key's call is 503 while test mode is off; `admin api-key create --test`."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
import pytest_asyncio
from temporalio.client import Client

import starter
from adapters.audit import ApiClient, KindConflict
from adapters.inbox import SqliteInbox
from adapters.sms import PermanentSmsError, SmsMessage, SqliteOutbox, TransientSmsError
from adapters.sms_simulator import MAGIC_NUMBERS, Simulated, SmsSimulator
from demo import data as fx
from domain.status import Delivery
from entrypoints.asgi import create_app
from infrastructure import test_mode, worker_setup
from infrastructure.config import Settings
from infrastructure.events import TemporalEventPublisher
from infrastructure.namespace_setup import register_search_attributes
from infrastructure.stores import Stores
from security.codec import data_converter
from security.keyring import ENV_VAR, Keyring
from testkit.fake_http import serve
from testkit.fake_provider import FakeProvider, read_form
from testkit.http_server import UvicornThread
from testkit.processes import HOST, TEST_NS, free_port, start_time_skipping
from testkit.webhook_receiver import WebhookReceiver
from tests.harness import Harness, eventually
from tests.http.conftest import booking, request_fields

KIR = fx.CLINIC_CONNECTED
NUMBER = {outcome: number for number, outcome in MAGIC_NUMBERS.items()}
PATIENT = {outcome: fx.luhn_pnr("19800101", f"{301 + 2 * i}") for i, outcome in enumerate(Simulated)}


def national(e164: str) -> str:
    """`+46701740690` → `070-1740690` (the directory's form)."""
    digits = "0" + e164.removeprefix("+46")
    return f"{digits[:3]}-{digits[3:]}"


def magic_document() -> dict[str, Any]:
    """The demo directory and one patient per magic number (consent in 1177, every clinic)."""
    document = fx.demo_document()
    adult = next(p for p in document["patients"] if p["patient_id"] == fx.PNR_ADULT_1177)
    for outcome, patient_id in PATIENT.items():
        document["patients"].append(adult | {"patient_id": patient_id, "mobile": national(NUMBER[outcome])})
    return document


@dataclass
class Rig:
    http: httpx.AsyncClient
    harness: Harness
    stores: Stores
    settings: Settings
    elks: FakeProvider
    tester: Client
    simulator: SmsSimulator
    live: str  # a live key of kir
    test: str  # a test key of kir
    test_other: str  # a test key of another clinic

    def auth(self, token: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {token}"}

    async def get(self, path: str, token: str) -> httpx.Response:
        return await self.http.get(path, headers=self.auth(token))

    async def post(self, path: str, body: Any, token: str) -> httpx.Response:
        return await self.http.post(path, json=body, headers=self.auth(token))


def simulator(activities: worker_setup.Activities) -> SmsSimulator:
    """The test worker's simulator, to count its tries."""
    gateway = activities.reminders._sms
    assert isinstance(gateway, SmsSimulator)
    return gateway


@pytest.fixture(scope="module")
def elks() -> Iterator[FakeProvider]:
    yield from serve(FakeProvider(reports=()), read_form)


@pytest_asyncio.fixture(scope="module")
async def rig(tmp_path_factory: pytest.TempPathFactory, elks: FakeProvider) -> AsyncIterator[Rig]:
    tmp_path = tmp_path_factory.mktemp("test-mode")
    keyring = Keyring.generate()
    port = free_port()
    with pytest.MonkeyPatch.context() as monkeypatch:
        monkeypatch.setenv(ENV_VAR, keyring.to_text())
        async with await start_time_skipping(data_converter(keyring)) as env:
            await register_search_attributes(env.client, "default")  # the test server's are server-wide
            harness = Harness(env, tmp_path, magic_document())
            settings = Settings(
                temporal_address=env.client.service_client.config.target_host,
                data_dir=tmp_path,
                task_queue=harness.task_queue,
                local=True,
                sms_gateway="46elks",
                elks_url=elks.url,
                elks_username="u-test",
                elks_password="p-test",
                public_url=f"http://{HOST}:{port}",
            )
            stores = Stores(settings, keyring)
            keys = stores.api_keys
            live = keys.create(ApiClient(client_id="vas-kir", clinics=[KIR]))
            test = keys.create(ApiClient(client_id="vas-kir-test", clinics=[KIR], test=True))
            other = keys.create(
                ApiClient(client_id="vas-onh-test", clinics=[fx.CLINIC_NOT_CONNECTED], test=True)
            )
            tester = await test_mode.test_client(env.client, settings)
            assert tester is not None and tester.namespace == TEST_NS
            live_events = TemporalEventPublisher(stores.webhooks, settings.task_queue)
            live_events.bind(env.client)
            test_events = TemporalEventPublisher(stores.webhooks, settings.task_queue)
            test_events.bind(tester)
            reports = test_mode.SimulatedDeliveries(test_events)
            reports.bind(tester)
            options: dict[str, Any] = {"max_cached_workflows": 1000, "sandboxed": True}
            with ThreadPoolExecutor(max_workers=worker_setup.MAX_CONCURRENT_ACTIVITIES) as executor:
                activities = worker_setup.activities_for(settings, stores, live_events)
                simulated = test_mode.test_activities(settings, stores, test_events, reports)
                queue = settings.task_queue
                async with (
                    worker_setup.build_worker(env.client, queue, activities, executor, **options),
                    worker_setup.build_worker(tester, queue, simulated, executor, **options),
                ):
                    with UvicornThread(create_app(settings, stores), port=port) as server:
                        async with httpx.AsyncClient(base_url=server.url, timeout=30) as http:
                            yield Rig(
                                http,
                                harness,
                                stores,
                                settings,
                                elks,
                                tester,
                                simulator(simulated),
                                live,
                                test,
                                other,
                            )


async def test_the_same_booking_id_of_a_live_and_a_test_key_is_two_workflows_each_unknown_to_the_other(
    rig: Rig,
) -> None:
    start = (await rig.harness.local(days=3, hour=10)).isoformat()
    live = await rig.post("/v1/visits", booking("TM-B1", start), rig.live)
    other_patient = booking("TM-B1", start, patient_id=PATIENT[Simulated.DELIVERED])
    test = await rig.post("/v1/visits", other_patient, rig.test)  # other content: no 409, another workflow
    assert (live.status_code, test.status_code) == (201, 201), (live.text, test.text)
    assert test.headers["pm-test-mode"] == "true" and "pm-test-mode" not in live.headers
    cancelled = await rig.post("/v1/visits/TM-B1/cancel", {}, rig.test)
    assert cancelled.status_code == 202, cancelled.text

    async def state(token: str) -> str:
        return (await rig.get("/v1/visits/TM-B1", token)).json()["state"]

    assert await eventually(lambda: state(rig.test), lambda found: found == "cancelled") == "cancelled"
    assert (await rig.get("/v1/visits/TM-B1", rig.live)).json()["state"] == "scheduled"  # untouched
    only_test = await rig.post("/v1/visits", booking("TM-T2", start), rig.test)
    only_live = await rig.post("/v1/visits", booking("TM-L3", start), rig.live)
    assert (only_test.status_code, only_live.status_code) == (201, 201)
    assert (await rig.get("/v1/visits/TM-T2", rig.live)).status_code == 404
    assert (await rig.get("/v1/visits/TM-L3", rig.test)).status_code == 404
    assert (await rig.get("/v1/visits/TM-T2", rig.test_other)).status_code == 404  # another clinic's test key
    read = await rig.get("/v1/visits/TM-T2", rig.test)
    assert read.status_code == 200 and read.headers["pm-test-mode"] == "true"


async def test_a_test_keys_reminders_go_through_the_simulator_each_magic_number_to_its_outcome_and_webhook(
    rig: Rig,
) -> None:
    start = (await rig.harness.local(days=2, hour=10)).isoformat()
    with WebhookReceiver() as test_hook, WebhookReceiver() as live_hook:
        for token, receiver in ((rig.test, test_hook), (rig.live, live_hook)):
            made = await rig.http.put(
                "/v1/webhooks", json={"clinic_id": KIR, "url": receiver.url}, headers=rig.auth(token)
            )
            assert made.status_code == 201, made.text
            receiver.secret = made.json()["secret"]
        for outcome, patient_id in PATIENT.items():
            if outcome is Simulated.PROVIDER_DOWN:  # booked below: its retries would hold the clock
                continue
            body = booking(f"TM-{outcome}", start, patient_id=patient_id)
            assert (await rig.post("/v1/visits", body, rig.test)).status_code == 201
        assert (await rig.post("/v1/visits", booking("TM-PLAIN", start), rig.test)).status_code == 201
        assert (await rig.post("/v1/visits", booking("TM-LIVE", start), rig.live)).status_code == 201
        await rig.harness.sleep_until(await rig.harness.local(days=1, hour=9, minute=1))

        async def message(booking_id: str, token: str) -> dict[str, Any]:
            answer = await rig.get(f"/v1/visits/{booking_id}", token)
            messages = answer.json()["messages"]
            return messages[-1] if messages else {}

        def settled(found: dict[str, Any]) -> bool:
            return found.get("outcome") == "failed" or found.get("delivery") in ("delivered", "failed")

        delivered = await eventually(lambda: message("TM-delivered", rig.test), settled, 20)
        undelivered = await eventually(lambda: message("TM-undelivered", rig.test), settled, 20)
        invalid = await eventually(lambda: message("TM-invalid_number", rig.test), settled, 20)
        plain = await eventually(lambda: message("TM-PLAIN", rig.test), settled, 20)
        assert (delivered["outcome"], delivered["delivery"]) == ("sent", "delivered")
        assert (undelivered["outcome"], undelivered["delivery"]) == ("sent", "failed")
        assert (invalid["outcome"], invalid["reason"]) == ("failed", "invalid_number")
        assert (plain["outcome"], plain["delivery"]) == ("sent", "delivered")
        live = await eventually(
            lambda: message("TM-LIVE", rig.live), lambda m: m.get("outcome") == "sent", 20
        )
        assert live["outcome"] == "sent"

        # The provider: the test traffic's plain number with dryrun only, no magic number ever; live without.
        forms = [r["form"] for r in rig.elks.requests if isinstance(r["form"], dict)]
        assert not any(f.get("to") in MAGIC_NUMBERS for f in forms)
        plain_number = "+46701740605"  # the demo adult's: both the live and the test visit
        assert sorted(f.get("dryrun", "no") for f in forms if f.get("to") == plain_number) == ["no", "yes"]
        assert rig.elks.stats.dryruns == 1 and rig.elks.stats.delivered == 1  # the live SMS only

        # Events: each outcome to the test key's webhook, none to the live key's; and the reverse.
        def kinds(receiver: WebhookReceiver, booking_id: str) -> list[str]:
            return sorted(e["type"] for e in receiver.events if e["data"]["booking_id"] == booking_id)

        await eventually(lambda: _events(test_hook), lambda found: len(found) >= 8, 20)
        assert kinds(test_hook, "TM-delivered") == ["message.delivered", "message.sent"]
        assert kinds(test_hook, "TM-undelivered") == ["message.sent", "message.undelivered"]
        assert kinds(test_hook, "TM-invalid_number") == ["message.failed"]
        await eventually(lambda: _events(live_hook), lambda found: len(found) >= 1, 20)
        assert {e["data"]["booking_id"] for e in live_hook.events} == {"TM-LIVE"}
        assert "TM-LIVE" not in {e["data"]["booking_id"] for e in test_hook.events}

        # Provider down: sent at once (the day before, after 09:00), refused, retried with backoff;
        # nothing recorded as sent and no event meanwhile (it fails as `provider_unavailable` at the
        # visit: the deadline of a local activity runs on the worker's clock, which this server cannot
        # move, tests/workflows/test_sms_provider.py).
        body = booking("TM-provider_down", start, patient_id=PATIENT[Simulated.PROVIDER_DOWN])
        assert (await rig.post("/v1/visits", body, rig.test)).status_code == 201
        key = "sms-reminder:kir:TM-provider_down/v1/patient"

        async def tries() -> int:
            return rig.simulator.tries(key)

        assert await eventually(tries, lambda n: n >= 3, 20) >= 3
        down = await rig.get("/v1/visits/TM-provider_down", rig.test)
        assert down.json()["messages"] == [] and down.json()["state"] == "scheduled"
        assert "TM-provider_down" not in {e["data"]["booking_id"] for e in test_hook.events}
        assert (await rig.post("/v1/visits/TM-provider_down/cancel", {}, rig.test)).status_code == 202


async def test_a_test_keys_invitation_goes_to_the_inbox_of_test_mode_never_the_live_one(rig: Rig) -> None:
    """V4 at once, by the same rules; 1177 messages of test traffic stay in `test-mode/` (no patient)."""
    body = request_fields("TM-R1", (await rig.harness.local(days=0, hour=12)).date())
    made = await rig.post("/v1/requests", body, rig.test)
    assert made.status_code == 201, made.text

    async def state() -> str:
        return (await rig.get("/v1/requests/TM-R1", rig.test)).json()["state"]

    assert await eventually(state, lambda found: found == "invited", 20) == "invited"
    test_inbox = SqliteInbox(rig.settings.data_dir / "test-mode" / "inbox-1177.sqlite3")
    assert [m.key.startswith("care-invitation:kir:TM-R1") for m in test_inbox.messages()] == [True]
    assert rig.stores.embedded_inbox.count() == 0
    assert (await rig.get("/v1/requests/TM-R1", rig.live)).status_code == 404


async def _events(receiver: WebhookReceiver) -> list[dict[str, Any]]:
    return receiver.events


async def test_a_test_key_may_not_load_the_directory_and_nothing_changes(rig: Rig) -> None:
    everywhere = rig.stores.api_keys.create(ApiClient(client_id="feed-test", clinics=["*"], test=True))
    before = rig.stores.directory.patient(fx.PNR_ADULT_1177)
    answer = await rig.http.put(
        "/v1/directory", json={"clinics": [], "patients": []}, headers=rig.auth(everywhere)
    )
    assert answer.status_code == 403 and answer.headers["content-type"] == "application/problem+json"
    assert "test key may not load the directory" in answer.json()["detail"]
    assert rig.stores.directory.patient(fx.PNR_ADULT_1177) == before


async def test_the_audit_trail_names_the_test_namespace_of_a_test_keys_calls_and_none_of_live_ones(
    rig: Rig,
) -> None:
    assert (await rig.get("/v1/visits/TM-AUDIT", rig.test)).status_code == 404
    assert (await rig.get("/v1/visits/TM-AUDIT", rig.live)).status_code == 404
    rows = [
        r for r in rig.stores.audit.records() if r.action == "visit.status" and r.outcome == "refused:404"
    ]
    by_actor = {r.actor: r.namespace for r in rows}
    assert by_actor["vas-kir-test"] == TEST_NS and by_actor["vas-kir"] is None


async def test_a_test_keys_call_is_503_in_one_line_while_test_mode_is_off_and_a_live_keys_works(
    rig: Rig,
) -> None:
    off = rig.settings.model_copy(update={"test_namespace": "off"})
    with UvicornThread(create_app(off, rig.stores), port=free_port()) as server:
        async with httpx.AsyncClient(base_url=server.url, timeout=30) as http:
            refused = await http.get("/v1/visits/TM-L3", headers=rig.auth(rig.test))
            served = await http.get("/v1/visits/TM-L3", headers=rig.auth(rig.live))
    assert refused.status_code == 503 and refused.headers["content-type"] == "application/problem+json"
    assert "test mode is switched off" in refused.json()["detail"]
    assert served.status_code == 200


def test_the_simulator_with_the_embedded_outbox_records_once_per_key_and_never_touches_the_live_outbox(
    tmp_path: Path,
) -> None:
    live = SqliteOutbox(tmp_path / "outbox.sqlite3")
    told: list[tuple[str, Delivery]] = []
    simulator = SmsSimulator(
        SqliteOutbox(tmp_path / "test-mode" / "sms.sqlite3"), None, lambda k, s: told.append((k, s))
    )

    def message(key: str, to: str) -> SmsMessage:
        return SmsMessage(key=key, to=to, text="Påminnelse", sender="Varden")

    first = simulator.send(message("k1", "+46701740605"))
    again = simulator.send(message("k1", "+46701740605"))
    assert first.delivery_pending and again.duplicate and simulator.messages() == ["k1"]
    assert simulator.send(message("k2", NUMBER[Simulated.UNDELIVERED])).delivery_pending
    with pytest.raises(PermanentSmsError) as refused:
        simulator.send(message("k3", NUMBER[Simulated.INVALID_NUMBER]))
    assert refused.value.reason == "invalid_number"
    with pytest.raises(TransientSmsError):
        simulator.send(message("k4", NUMBER[Simulated.PROVIDER_DOWN]))
    assert told == [("k1", Delivery.DELIVERED), ("k1", Delivery.DELIVERED), ("k2", Delivery.FAILED)]
    assert live.count() == 0


def test_admin_api_key_create_test_prints_a_test_key_and_a_client_is_live_or_test(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("PM_DATA_DIR", str(tmp_path))
    monkeypatch.delenv("PM_DATABASE_URL", raising=False)
    monkeypatch.delenv("PM_TEST_NAMESPACE", raising=False)
    monkeypatch.setenv("TEMPORAL_ADDRESS", "127.0.0.1:1")  # nothing here needs Temporal
    argv = ["--json", "admin", "api-key", "create", "--client-id", "sandbox", "--clinic", KIR, "--test"]
    assert starter.main(argv) == 0
    made = json.loads(capsys.readouterr().out)
    assert made["api_key"].startswith("pmk_test_") and made["kind"] == "test"
    assert made["namespace"] == "default-test"
    client = Stores(Settings(data_dir=tmp_path)).api_keys.client(made["api_key"])
    assert client is not None and client.test
    assert starter.main(["admin", "api-key", "create", "--client-id", "sandbox", "--clinic", KIR]) == 2
    assert "either live or test" in capsys.readouterr().err
    with pytest.raises(KindConflict):
        Stores(Settings(data_dir=tmp_path)).api_keys.create(ApiClient(client_id="sandbox", clinics=[KIR]))
