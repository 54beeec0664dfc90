"""The command line's edge: bad input gets exit code 2 and one clear line, never patient data (SPEC §6).

In-process through `starter.main`; Temporal points at a closed port, so a check that only happens after
connecting fails these tests instead of passing silently.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

import application as app
import starter
from adapters.directory import SqliteDirectory
from demo import data as fx
from domain.timing import local_date
from security.keyring import ENV_VAR, Keyring

BAD_CHECK_DIGIT = fx.PNR_ADULT_1177[:-1] + str((int(fx.PNR_ADULT_1177[-1]) + 1) % 10)
NOT_IN_DIRECTORY = fx.luhn_pnr("19661111", "678")
SECRETS = [
    fx.PNR_ADULT_1177,
    BAD_CHECK_DIGIT,
    NOT_IN_DIRECTORY,
    fx.PNR_ADULT_1177.replace("-", ""),
    BAD_CHECK_DIGIT.replace("-", ""),
    NOT_IN_DIRECTORY.replace("-", ""),
    fx.MOBILE_ADULT_1177,
    fx.e164(fx.MOBILE_ADULT_1177),
    "040-628 04 01",
    "+46406280401",
]


@pytest.fixture
def data_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """An empty data dir; Temporal at a port where nothing listens (any connect fails)."""
    directory = tmp_path / "data"
    monkeypatch.setenv("PM_DATA_DIR", str(directory))
    monkeypatch.setenv("TEMPORAL_ADDRESS", "127.0.0.1:1")
    for name in ("TEMPORAL_NAMESPACE", "TEMPORAL_TASK_QUEUE", "PM_SMS_GATEWAY"):
        monkeypatch.delenv(name, raising=False)
    return directory


def write_json(path: Path, document: Any) -> str:
    path.write_text(json.dumps(document, ensure_ascii=False), encoding="utf-8")
    return str(path)


@pytest.fixture
def loaded(data_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> SqliteDirectory:
    """The demo directory, loaded through the CLI."""
    assert starter.main(["directory", "load", write_json(tmp_path / "demo.json", fx.demo_document())]) == 0
    capsys.readouterr()
    return SqliteDirectory(data_dir / "directory.sqlite3")


def refused(argv: list[str], capsys: pytest.CaptureFixture[str]) -> str:
    """Run the CLI, expect exit code 2 and one `error: ...` line without patient data; return it."""
    code = starter.main(argv)
    out, err = capsys.readouterr()
    assert code == 2, f"exit {code}, stderr: {err!r}"
    assert out == ""
    lines = err.splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), err
    for secret in SECRETS:
        assert secret not in err
    return lines[0]


def future(hours: int = 48) -> str:
    return (datetime.now(UTC) + timedelta(hours=hours)).replace(microsecond=0).isoformat()


def book(**options: str) -> list[str]:
    """`visit book` with valid options, changed or removed (value "") by `options`."""
    values = {
        "--booking-id": "b1",
        "--patient-id": fx.PNR_ADULT_1177,
        "--clinic": fx.CLINIC_CONNECTED,
        "--reception": fx.RECEPTION_GENERAL,
        "--start": future(),
    } | {"--" + k.replace("_", "-"): v for k, v in options.items()}
    return ["visit", "book", *[part for k, v in values.items() if v for part in (k, v)]]


def test_cli_json_directory_load_prints_counts(
    data_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = write_json(tmp_path / "demo.json", fx.demo_document())
    assert starter.main(["--json", "directory", "load", path]) == 0
    summary = json.loads(capsys.readouterr().out)
    assert summary["clinics"] == 3 and summary["patients"] == 6 and summary["consents"] == 6
    assert summary["consents_added"] == 6 and summary["consents_withdrawn"] == 0


def test_cli_refuses_invalid_personnummer(
    loaded: SqliteDirectory, capsys: pytest.CaptureFixture[str]
) -> None:
    line = refused(book(patient_id=BAD_CHECK_DIGIT), capsys)
    assert "patient_id" in line and "check digit" in line


def test_cli_refuses_unknown_clinic(loaded: SqliteDirectory, capsys: pytest.CaptureFixture[str]) -> None:
    assert "unknown clinic 'nope'" in refused(book(clinic="nope"), capsys)


def test_cli_refuses_unknown_reception_of_a_known_clinic(
    loaded: SqliteDirectory, capsys: pytest.CaptureFixture[str]
) -> None:
    line = refused(book(reception="kir-nope"), capsys)
    assert f"clinic '{fx.CLINIC_CONNECTED}' has no reception 'kir-nope'" in line


def test_cli_refuses_start_in_the_past(loaded: SqliteDirectory, capsys: pytest.CaptureFixture[str]) -> None:
    assert "already passed" in refused(book(start=future(hours=-1)), capsys)


def test_cli_refuses_start_without_utc_offset(
    loaded: SqliteDirectory, capsys: pytest.CaptureFixture[str]
) -> None:
    line = refused(book(start="2030-03-29T10:00:00"), capsys)
    assert "--start" in line and "UTC offset" in line


def test_cli_refuses_start_that_is_not_iso(
    loaded: SqliteDirectory, capsys: pytest.CaptureFixture[str]
) -> None:
    line = refused(book(start="29/3 kl 10"), capsys)
    assert "--start" in line and "ISO 8601" in line


def test_cli_refuses_reschedule_to_the_past_without_connecting(
    loaded: SqliteDirectory, capsys: pytest.CaptureFixture[str]
) -> None:
    argv = ["visit", "reschedule", "--booking-id", "b1", "--start", future(hours=-1)]
    assert "already passed" in refused(argv, capsys)


def test_cli_refuses_missing_booking_id(loaded: SqliteDirectory, capsys: pytest.CaptureFixture[str]) -> None:
    assert "missing --booking-id" in refused(book(booking_id=""), capsys)


def test_S8_cli_refuses_1177_booking_without_sms(
    loaded: SqliteDirectory, capsys: pytest.CaptureFixture[str]
) -> None:
    line = refused([*book(), "--channel", "1177", "--no-sms"], capsys)
    assert "1177 cannot be turned off (S8)" in line


def test_cli_refuses_patient_not_in_the_directory(
    loaded: SqliteDirectory, capsys: pytest.CaptureFixture[str]
) -> None:
    assert "not in the directory" in refused(book(patient_id=NOT_IN_DIRECTORY), capsys)


def test_cli_refuses_a_landline_in_the_directory_and_loads_nothing(
    loaded: SqliteDirectory, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    before = (loaded.clinics(), loaded.patient_ids(), loaded.patient(fx.PNR_ADULT_1177))
    document = fx.demo_document()
    document["clinics"][0]["name"] = "Renamed"
    document["patients"][0]["mobile"] = "040-628 04 01"  # a landline (PTS range for fiction)
    document["patients"].append({"patient_id": NOT_IN_DIRECTORY, "given_name": "Ny", "family_name": "Nysson"})
    line = refused(["directory", "load", write_json(tmp_path / "landline.json", document)], capsys)
    assert "patients[0]" in line and "mobile" in line and "landline" in line
    assert (loaded.clinics(), loaded.patient_ids(), loaded.patient(fx.PNR_ADULT_1177)) == before


def test_cli_refuses_a_directory_file_with_a_json_syntax_error(
    loaded: SqliteDirectory, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "broken.json"
    path.write_text('{"clinics": [\n  {"clinic_id": "kir",}\n]}\n', encoding="utf-8")
    line = refused(["directory", "load", str(path)], capsys)
    assert "invalid JSON at line 2" in line


def test_cli_refuses_a_missing_directory_file(
    loaded: SqliteDirectory, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    line = refused(["directory", "load", str(tmp_path / "nowhere.json")], capsys)
    assert "nowhere.json" in line and "No such file" in line


def test_cli_refuses_withdraw_consent_of_an_unknown_patient(
    loaded: SqliteDirectory, capsys: pytest.CaptureFixture[str]
) -> None:
    argv = ["directory", "withdraw-consent", "--patient-id", NOT_IN_DIRECTORY]
    assert "not in the directory" in refused(argv, capsys)


def test_cli_refuses_withdraw_consent_with_an_invalid_patient_id(
    loaded: SqliteDirectory, capsys: pytest.CaptureFixture[str]
) -> None:
    argv = ["directory", "withdraw-consent", "--patient-id", BAD_CHECK_DIGIT]
    assert "not a valid personnummer" in refused(argv, capsys)
    assert loaded.patient(fx.PNR_ADULT_1177) is not None


def test_cli_refuses_group_booking_at_an_unknown_clinic(
    loaded: SqliteDirectory, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    group = {
        "group_booking_id": "g1",
        "clinic_id": "nope",
        "reception_id": fx.RECEPTION_GENERAL,
        "start": future(),
        "participants": [{"booking_id": "g1-1", "patient_id": fx.PNR_ADULT_1177}],
    }
    line = refused(["group", "book", write_json(tmp_path / "group.json", group)], capsys)
    assert "unknown clinic 'nope'" in line


# --- care invitations (V1-V14) and work lists (V12, V13) ---


def window(first: int, last: int) -> dict[str, str]:
    """A window `first` to `last` days from today (Stockholm local date)."""
    today = local_date(datetime.now(UTC))
    return {
        "first_date": (today + timedelta(days=first)).isoformat(),
        "last_date": (today + timedelta(days=last)).isoformat(),
    }


def invitation(**fields: Any) -> dict[str, Any]:
    """A valid care invitation document (SPEC §5), changed by `fields` (value None: left out)."""
    document = {
        "request_id": "r1",
        "referral_id": "ref-1",
        "patient_id": fx.PNR_ADULT_1177,
        "clinic_id": fx.CLINIC_CONNECTED,
        "reception_id": fx.RECEPTION_GENERAL,
        "visit_kind": "new",
        "visit_type": "KIR LÄK nybesök",
        "reason": "Ljumskbråck",
        "window": window(70, 100),
    } | fields
    return {k: v for k, v in document.items() if v is not None}


def create(tmp_path: Path, **fields: Any) -> list[str]:
    return ["invitation", "create", write_json(tmp_path / "invitation.json", invitation(**fields))]


def test_V1_cli_refuses_an_invitation_without_a_referral(
    loaded: SqliteDirectory, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    line = refused(create(tmp_path, referral_id=None), capsys)
    assert "referral" in line and "(V1)" in line


def test_V1_cli_refuses_an_invitation_with_a_blank_referral(
    loaded: SqliteDirectory, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    line = refused(create(tmp_path, referral_id="  "), capsys)
    assert "referral" in line and "(V1)" in line


def test_V12_cli_passes_a_plain_request_without_a_referral_to_temporal(
    loaded: SqliteDirectory,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The edge checks accept it: the only error left is that no Temporal listens on port 1."""
    monkeypatch.setenv(ENV_VAR, Keyring.generate().to_text())
    line = refused(create(tmp_path, referral_id=None, invitation=False), capsys)
    assert "cannot reach Temporal" in line


def test_V2_cli_refuses_an_invitation_whose_window_is_reversed(
    loaded: SqliteDirectory, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    line = refused(create(tmp_path, window=window(100, 70)), capsys)
    assert "window" in line and "first_date is after last_date" in line


def test_V2_cli_refuses_an_invitation_whose_window_has_ended(
    loaded: SqliteDirectory, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    line = refused(create(tmp_path, window=window(-30, -1)), capsys)
    assert "window has already ended" in line


def test_cli_refuses_an_invitation_at_an_unknown_clinic(
    loaded: SqliteDirectory, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert "unknown clinic 'nope'" in refused(create(tmp_path, clinic_id="nope"), capsys)


def test_cli_refuses_an_invitation_at_an_unknown_reception(
    loaded: SqliteDirectory, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    line = refused(create(tmp_path, reception_id="kir-nope"), capsys)
    assert f"clinic '{fx.CLINIC_CONNECTED}' has no reception 'kir-nope'" in line


def test_cli_refuses_an_invitation_for_a_patient_not_in_the_directory(
    loaded: SqliteDirectory, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert "not in the directory" in refused(create(tmp_path, patient_id=NOT_IN_DIRECTORY), capsys)


def test_cli_refuses_an_invitation_with_an_invalid_personnummer(
    loaded: SqliteDirectory, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    line = refused(create(tmp_path, patient_id=BAD_CHECK_DIGIT), capsys)
    assert "patient_id" in line and "check digit" in line


def test_cli_refuses_an_invitation_file_with_a_json_syntax_error(
    loaded: SqliteDirectory, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "broken.json"
    path.write_text(json.dumps(invitation())[:-1] + ",}\n", encoding="utf-8")
    line = refused(["invitation", "create", str(path)], capsys)
    assert "invalid input" in line and "JSON" in line


def test_cli_refuses_a_missing_invitation_file(
    loaded: SqliteDirectory, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    line = refused(["invitation", "create", str(tmp_path / "nowhere.json")], capsys)
    assert "nowhere.json" in line and "No such file" in line


def test_V8_cli_book_by_someone_else_is_refused_by_argparse(
    loaded: SqliteDirectory, capsys: pytest.CaptureFixture[str]
) -> None:
    argv = ["invitation", "book", "--request-id", "r1", "--booking-id", "b1", "--start", future()]
    with pytest.raises(SystemExit) as exited:
        starter.main([*argv, "--by", "someone"])
    assert exited.value.code == 2
    err = capsys.readouterr().err
    assert "--by" in err and "invalid choice: 'someone'" in err


def test_cli_refuses_invitation_book_in_the_past_without_connecting(
    loaded: SqliteDirectory, capsys: pytest.CaptureFixture[str]
) -> None:
    argv = ["invitation", "book", "--request-id", "r1", "--booking-id", "b1"]
    assert "already passed" in refused([*argv, "--start", future(hours=-1), "--by", "staff"], capsys)


def test_cli_refuses_convert_with_only_one_window_date(
    loaded: SqliteDirectory, capsys: pytest.CaptureFixture[str]
) -> None:
    first = window(70, 100)["first_date"]
    line = refused(["invitation", "convert", "--request-id", "r1", "--first-date", first], capsys)
    assert "--first-date and --last-date" in line


def test_cli_refuses_change_with_only_the_last_date(
    loaded: SqliteDirectory, capsys: pytest.CaptureFixture[str]
) -> None:
    last = window(70, 100)["last_date"]
    line = refused(["invitation", "change", "--request-id", "r1", "--last-date", last], capsys)
    assert "--first-date and --last-date" in line


def test_V10_cli_refuses_a_change_to_a_window_that_has_ended(
    loaded: SqliteDirectory, capsys: pytest.CaptureFixture[str]
) -> None:
    ended = window(-30, -1)
    argv = ["invitation", "change", "--request-id", "r1"]
    line = refused([*argv, "--first-date", ended["first_date"], "--last-date", ended["last_date"]], capsys)
    assert "window has already ended" in line


def test_V10_cli_refuses_a_change_that_changes_nothing(
    loaded: SqliteDirectory, capsys: pytest.CaptureFixture[str]
) -> None:
    line = refused(["invitation", "change", "--request-id", "r1"], capsys)
    assert "at least one of window, weekdays and time_of_day (V10)" in line


def test_cli_refuses_an_unknown_weekday(loaded: SqliteDirectory, capsys: pytest.CaptureFixture[str]) -> None:
    line = refused(["invitation", "change", "--request-id", "r1", "--weekdays", "mon,someday"], capsys)
    assert "weekdays" in line and "'mon'" in line


def test_cli_refuses_a_request_id_that_is_not_a_system_id(
    loaded: SqliteDirectory, capsys: pytest.CaptureFixture[str]
) -> None:
    line = refused(["invitation", "status", "--request-id", "r 1"], capsys)
    assert "--request-id must be a system id" in line


def test_V12_cli_refuses_the_work_lists_of_an_unknown_clinic(
    loaded: SqliteDirectory, capsys: pytest.CaptureFixture[str]
) -> None:
    assert "unknown clinic 'nope'" in refused(["worklist", "--clinic", "nope"], capsys)


def test_V12_cli_refuses_a_clinic_id_that_would_change_the_visibility_query(
    loaded: SqliteDirectory, capsys: pytest.CaptureFixture[str]
) -> None:
    line = refused(["worklist", "--clinic", "kir' OR ClinicId != 'x"], capsys)
    assert "--clinic must be a system id" in line


def test_cli_prints_a_multi_line_rejection_on_one_line(
    loaded: SqliteDirectory, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    def reject(*_: object) -> None:
        raise app.InputError("book rejected:\n  first problem\n  second problem\n")

    monkeypatch.setattr(app, "check_visit_booking", reject)
    assert refused(book(), capsys) == "error: book rejected: first problem second problem"
