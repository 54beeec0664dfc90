"""Strict edges (issue 24, item 5): on every `/v1` body an unknown field, and a flag that is no JSON
boolean, is 422 naming the field (never the value), and the refused call starts or changes nothing;
the same for the directory document, the FHIR sms-reminder extension and the command line's JSON
files. The domain models stay lenient: they are the workflows' inputs and results too."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

import starter
from contracts.workflow_ids import booking_reminder_id
from demo import data as fx
from domain.booking import GroupBooking, ReminderStart, VisitBooking
from domain.invitation import CareInvitation, DateWindow
from entrypoints.asgi import create_app
from entrypoints.http.fhir_mapping import SMS_EXTENSION
from entrypoints.strict import from_strict, strict
from infrastructure.config import Settings
from security.keyring import ENV_VAR, Keyring
from tests.http.conftest import Api, booking, request_body
from tests.http.test_fhir import FHIR_JSON, appointment, directory_with_hsa_ids, outcome, put

PROBLEM = "application/problem+json"
EXTRA = "extra inputs are not permitted"
NOT_A_BOOLEAN = "input should be a valid boolean"
LAX_BOOLEANS: tuple[Any, ...] = (0, "false", 1)
"""What pydantic's lax mode would read as a flag: each is refused."""


def refused(response: Any, *expected: str) -> str:
    """The answer is a 422 problem whose detail names each of `expected` (case-insensitive)."""
    assert response.status_code == 422, response.text
    assert response.headers["content-type"] == PROBLEM
    detail = str(response.json()["detail"])
    for text in expected:
        assert text.lower() in detail.lower(), (text, detail)
    return detail


def group_body(group_id: str, start: str, **extra: Any) -> dict[str, Any]:
    return {
        "group_booking_id": group_id,
        "clinic_id": fx.CLINIC_CONNECTED,
        "reception_id": fx.RECEPTION_GENERAL,
        "start": start,
        "participants": [
            {"booking_id": f"{group_id}p1", "patient_id": fx.PNR_ADULT_1177},
            {"booking_id": f"{group_id}p2", "patient_id": fx.PNR_ADULT_VAS},
        ],
        **extra,
    }


async def existing(api: Api) -> tuple[str, dict[str, str]]:
    """A visit `SX`, a team visit `ST` (HOSP booking `STh`), a group `SG` and an invitation `SR`;
    the start of a reschedule, and the status path of each."""
    start = (await api.harness.local(days=6, hour=10)).isoformat()
    for path, body in (
        ("/v1/visits", booking("SX", start)),
        ("/v1/visits", booking("STh", start, team_visit_id="ST")),
        ("/v1/groups", group_body("SG", start)),
        ("/v1/requests", await request_body(api, "SR")),
    ):
        created = await api.post(path, body)
        assert created.status_code == 201, created.text
    moved = (await api.harness.local(days=7, hour=10)).isoformat()
    paths = {
        "visit": "/v1/visits/SX",
        "team": "/v1/team-visits/ST",
        "group": "/v1/groups/SG",
        "request": "/v1/requests/SR",
    }
    return moved, paths


async def statuses(api: Api, paths: dict[str, str]) -> dict[str, Any]:
    answers = {name: await api.get(path) for name, path in paths.items()}
    assert all(a.status_code == 200 for a in answers.values()), {n: a.text for n, a in answers.items()}
    return {name: a.json() for name, a in answers.items()}


async def send(api: Api, method: str, path: str, body: Any) -> Any:
    return await api.http.request(method, path, json=body, headers=api.auth())


async def test_strict_edges_unknown_fields_are_422_naming_the_field_on_every_v1_body(api: Api) -> None:
    moved, paths = await existing(api)
    before = await statuses(api, paths)
    start = (await api.harness.local(days=5, hour=10)).isoformat()
    window = {"first_date": "2031-01-10", "last_date": "2031-01-20"}
    on_existing: list[tuple[str, str, dict[str, Any]]] = [
        ("POST", "/v1/visits/SX/reschedule", {"start": moved}),
        ("PUT", "/v1/visits/SX/sms-flag", {"sms_flag": False}),
        ("POST", "/v1/visits/SX/cancel", {"reason": "avbokad"}),
        ("POST", "/v1/team-visits/ST/reschedule", {"start": moved}),
        ("PUT", "/v1/team-visits/ST/bookings/STh/sms-flag", {"sms_flag": False}),
        ("POST", "/v1/team-visits/ST/bookings/STh/cancel", {"reason": "avbokad"}),
        ("POST", "/v1/groups/SG/reschedule", {"start": moved}),
        ("PUT", "/v1/groups/SG/sms-flag", {"sms_flag": False}),
        ("POST", "/v1/groups/SG/cancel", {"booking_id": "SGp1"}),
        ("POST", "/v1/requests/SR/convert", {"referral_id": "ref-SR"}),
        ("POST", "/v1/requests/SR/change", {"window": window}),
        ("POST", "/v1/requests/SR/booking", {"booking_id": "SRb", "start": start, "by": "staff"}),
        ("POST", "/v1/requests/SR/contact", {"note": "ringde"}),
        ("POST", "/v1/requests/SR/cancel", {"reason": "avbokad"}),
    ]
    creating: list[tuple[str, str, dict[str, Any]]] = [
        ("POST", "/v1/visits", booking("SN1", start)),
        ("POST", "/v1/groups", group_body("SN2", start)),
        ("POST", "/v1/requests", await request_body(api, "SN3")),
    ]
    for method, path, body in on_existing + creating:
        refused(await send(api, method, path, {**body, "smsflag": False}), f"smsflag: {EXTRA}")

    nested: list[tuple[str, str, dict[str, Any], str]] = [
        ("POST", "/v1/requests/SR/change", {"window": {**window, "last": "2031-01-21"}}, "window.last"),
        ("POST", "/v1/requests/SR/convert", {"window": {**window, "days": 3}}, "window.days"),
        ("POST", "/v1/requests", await request_body(api, "SN3", window={**window, "x": 1}), "window.x"),
        (
            "POST",
            "/v1/requests",
            await request_body(api, "SN3", patient_info={"visit_length": "30 min", "fasting": True}),
            "patient_info.fasting",
        ),
    ]
    participants = group_body("SN2", start)["participants"]
    participants[1]["sms_flag"] = False
    group = group_body("SN2", start, participants=participants)
    nested.append(("POST", "/v1/groups", group, "participants.1.sms_flag"))
    for method, path, body, where in nested:
        refused(await send(api, method, path, body), f"{where}", EXTRA)

    assert await statuses(api, paths) == before  # nothing changed
    for path in ("/v1/visits/SN1", "/v1/groups/SN2", "/v1/visits/SN2p1", "/v1/requests/SN3"):
        assert (await api.get(path)).status_code == 404, path  # nothing started

    for method, path, body in creating:  # the same bodies without the unknown field are taken
        taken = await send(api, method, path, body)
        assert taken.status_code == 201, taken.text
    flag = await send(api, "PUT", "/v1/visits/SX/sms-flag", {"sms_flag": False})
    assert flag.status_code == 200 and [b["sms_flag"] for b in flag.json()["bookings"]] == [False]


async def test_strict_edges_sms_flag_and_invitation_must_be_json_booleans_and_a_refusal_changes_nothing(
    api: Api,
) -> None:
    _, paths = await existing(api)
    before = await statuses(api, paths)
    start = (await api.harness.local(days=5, hour=10)).isoformat()
    for value in LAX_BOOLEANS:
        for method, path, body in (
            ("POST", "/v1/visits", booking("SF1", start, sms_flag=value)),
            ("POST", "/v1/groups", group_body("SF2", start, sms_flag=value)),
            ("PUT", "/v1/visits/SX/sms-flag", {"sms_flag": value}),
            ("PUT", "/v1/team-visits/ST/bookings/STh/sms-flag", {"sms_flag": value}),
            ("PUT", "/v1/groups/SG/sms-flag", {"sms_flag": value}),
        ):
            detail = refused(await send(api, method, path, body), f"sms_flag: {NOT_A_BOOLEAN}")
            assert repr(value) not in detail and f": {value}" not in detail  # the value is not echoed
        plain = await request_body(api, "SF3", invitation=value, referral_id=None)
        refused(await send(api, "POST", "/v1/requests", plain), f"invitation: {NOT_A_BOOLEAN}")

    assert await statuses(api, paths) == before
    for path in ("/v1/visits/SF1", "/v1/groups/SF2", "/v1/requests/SF3"):
        assert (await api.get(path)).status_code == 404, path

    off = await send(api, "POST", "/v1/visits", booking("SF1", start, sms_flag=False))
    assert off.status_code == 201, off.text
    assert off.json() == {"workflow_id": booking_reminder_id(fx.CLINIC_CONNECTED, "SF1")}
    plain = await send(api, "POST", "/v1/requests", await request_body(api, "SF3", invitation=False))
    assert plain.status_code == 201, plain.text
    group_off = await send(api, "PUT", "/v1/groups/SG/sms-flag", {"sms_flag": False})
    assert group_off.status_code == 200 and group_off.json()["sms_flag"] is False


async def test_strict_edges_an_unknown_key_that_is_no_field_name_is_not_repeated(api: Api) -> None:
    start = (await api.harness.local(days=5, hour=10)).isoformat()
    digits = fx.PNR_ADULT_1177.replace("-", "")
    for key in (fx.PNR_ADULT_1177, digits, "Anna Svensson"):
        answer = await send(api, "POST", "/v1/visits", {**booking("SK1", start), key: True})
        refused(answer, f"(unknown field): {EXTRA}")
        assert key not in answer.text and digits not in answer.text
    assert (await api.get("/v1/visits/SK1")).status_code == 404


async def test_strict_edges_the_directory_document_refuses_unknown_fields_and_non_boolean_flags(
    api: Api,
) -> None:
    document = fx.demo_document()
    clinic = document["clinics"][0]
    name = api.stores.directory.clinic(clinic["clinic_id"])
    clinic["name"] = "Ändrad klinik"  # would be written if the document were taken
    clinic["sms_conected"] = True
    clinic["receptions"][0]["sms_enabled"] = "false"
    document["patients"][0]["uses_1177"] = 1
    document["patients"][0][fx.PNR_ADULT_1177] = "x"
    answer = await api.put("/v1/directory", document, token=api.all_token)
    detail = refused(
        answer,
        f"sms_conected: {EXTRA}",
        f"receptions.0.sms_enabled: {NOT_A_BOOLEAN}",
        f"uses_1177: {NOT_A_BOOLEAN}",
        f"(unknown field): {EXTRA}",
    )
    assert fx.PNR_ADULT_1177 not in answer.text and "directory document refused (4 problems)" in detail
    assert api.stores.directory.clinic(clinic["clinic_id"]) == name  # nothing written
    taken = await api.put("/v1/directory", fx.demo_document(), token=api.all_token)
    assert taken.status_code == 200, taken.text


async def test_strict_edges_fhir_an_unknown_element_and_a_non_boolean_sms_extension_are_422(api: Api) -> None:
    loaded = await api.put("/v1/directory", directory_with_hsa_ids(), token=api.all_token)
    assert loaded.status_code == 200, loaded.text
    start = await api.harness.local(days=4, hour=10)
    unknown = outcome(await put(api, appointment("SFH", start, smsflag=False)), 422, "invalid")
    assert f"smsflag: {EXTRA}" in unknown.lower()
    for value in LAX_BOOLEANS:
        resource = appointment("SFH", start, sms=False)
        resource["extension"][0]["valueBoolean"] = value
        diagnostics = outcome(await put(api, resource), 422, "invalid")
        assert "extension.0.valueBoolean" in diagnostics and NOT_A_BOOLEAN in diagnostics.lower()
        assert SMS_EXTENSION in diagnostics
    assert (await api.get("/v1/visits/SFH")).status_code == 404  # nothing booked
    booked = await put(api, appointment("SFH", start, sms=False))
    assert booked.status_code == 201 and booked.headers["content-type"] == FHIR_JSON, booked.text
    status = (await api.get("/v1/visits/SFH")).json()
    assert [b["sms_flag"] for b in status["bookings"]] == [False]


def test_strict_edges_the_openapi_bodies_forbid_additional_properties_and_type_flags_as_booleans(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(ENV_VAR, Keyring.generate().to_text())
    spec = create_app(Settings(data_dir=tmp_path)).openapi()
    schemas = spec["components"]["schemas"]
    json_bodies = [
        op["requestBody"]["content"].get("application/json", {}).get("schema", {})
        for path, ops in spec["paths"].items()
        if path.startswith("/v1/")
        for op in ops.values()
        if "requestBody" in op
    ]
    bodies = {schema["$ref"].rsplit("/", 1)[-1] for schema in json_bodies if "$ref" in schema}
    assert {"VisitBooking", "GroupBooking", "CareInvitation", "FlagChange", "GroupCancel"} <= bodies
    for name in (*bodies, "GroupParticipant", "DateWindow-Input", "PatientInfo-Input"):
        assert schemas[name]["additionalProperties"] is False, name
    assert "additionalProperties" not in schemas["DateWindow-Output"]  # the answers are not changed
    assert schemas["VisitBooking"]["properties"]["sms_flag"]["type"] == "boolean"
    assert schemas["CareInvitation"]["properties"]["invitation"]["type"] == "boolean"


def test_strict_edges_leave_the_domain_models_lenient_for_histories_and_other_versions() -> None:
    """SPEC §5: extra fields may be added; a saved history or a newer client's payload still decodes."""
    body = {**booking("SD1", "2031-01-10T10:00:00+01:00"), "smsflag": False, "added_later": 1}
    assert VisitBooking.model_validate(body).sms_flag is True
    assert ReminderStart.model_validate({**body, "sms_timing": None}).booking_id == "SD1"
    variant = strict(VisitBooking)
    assert strict(VisitBooking) is variant and variant.__name__ == "VisitBooking"
    with pytest.raises(ValueError, match="smsflag"):
        variant.model_validate(body)
    clean = {k: v for k, v in body.items() if k not in ("smsflag", "added_later")}
    taken = from_strict(VisitBooking, variant.model_validate(clean))
    assert type(taken) is VisitBooking and taken == VisitBooking.model_validate(clean)
    window = strict(CareInvitation).model_fields["window"].annotation
    assert window is strict(DateWindow) and issubclass(window, DateWindow)
    assert VisitBooking.model_config.get("extra") is None and GroupBooking.model_config.get("extra") is None


def test_strict_edges_the_command_line_refuses_unknown_fields_and_non_boolean_flags_in_json_files(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("PM_DATA_DIR", str(tmp_path))
    monkeypatch.delenv("PM_DATABASE_URL", raising=False)
    monkeypatch.setenv("TEMPORAL_ADDRESS", "127.0.0.1:1")  # refused before anything connects
    monkeypatch.setenv(ENV_VAR, Keyring.generate().to_text())
    start = "2031-01-10T10:00:00+01:00"
    request = {
        "request_id": "SC3",
        "referral_id": "ref-SC3",
        "patient_id": fx.PNR_ADULT_1177,
        "clinic_id": fx.CLINIC_CONNECTED,
        "reception_id": fx.RECEPTION_GENERAL,
        "visit_kind": "new",
        "visit_type": "Nybesök",
        "reason": "Bedömning",
        "window": {"first_date": "2031-01-01", "last_date": "2031-01-20"},
    }
    cases: list[tuple[list[str], dict[str, Any], str]] = [
        (["visit", "book", "--file"], {**booking("SC1", start), "smsflag": False}, f"smsflag: {EXTRA}"),
        (["visit", "book", "--file"], booking("SC1", start, sms_flag=0), f"sms_flag: {NOT_A_BOOLEAN}"),
        (["group", "book"], group_body("SC2", start, sms_flag="false"), f"sms_flag: {NOT_A_BOOLEAN}"),
        (["invitation", "create"], {**request, "invitation": 1}, f"invitation: {NOT_A_BOOLEAN}"),
    ]
    for n, (command, body, expected) in enumerate(cases):
        file = tmp_path / f"body{n}.json"
        file.write_text(json.dumps(body), encoding="utf-8")
        assert starter.main([*command, str(file)]) == 2
        err = capsys.readouterr().err
        assert expected in err.lower() and err.count("\n") == 1, err
        assert fx.PNR_ADULT_1177 not in err
