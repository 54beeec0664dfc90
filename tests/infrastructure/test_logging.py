"""Log lines never carry patient data: the redaction processor masks every common spelling."""

from __future__ import annotations

import io
import json
import logging
import os
import time
import uuid
from collections.abc import Iterator

import pytest
import structlog
from hypothesis import given
from hypothesis import strategies as st

from infrastructure.logging_setup import MASK, RedactingFilter, configure_logging, redact, redact_text

PATIENT_IDS = [
    "19121212-1212",  # personnummer, 4-digit year
    "191212121212",
    "121212-1212",  # 2-digit year
    "121212+1212",  # over 100 years old
    "1212121212",
    "19121272-1219",  # samordningsnummer (day + 60)
    "191212721219",
    "19550101-A749",  # reservnummer
    "20160301R001",
]
PHONES = [
    "+46701740605",
    "+46 70 174 06 05",
    "+46 (0)70-174 06 05",
    "0046701740605",
    "070-174 06 05",
    "070-1740605",
    "0701740605",
    "46701740605",  # country code without + or 00
    "070 174 06 05",
    "08-123 456 78",  # landline
]
HARMLESS = [
    "2027-03-28T09:00:00+02:00",
    "2026-11-21T21:15:07.520089Z",
    "sms-reminder-b1/v1/guardian_1",
    "care-invitation-r1/reminder_2",
    "group-booking-demo-group",
    "clinic_id=kir reception_id=kir-allm",
]


@pytest.mark.parametrize("value", PATIENT_IDS + PHONES)
def test_redaction_masks_personnummer_samordningsnummer_reservnummer_and_phone_numbers(value: str) -> None:
    line = f"sending to {value} now"
    assert redact_text(line) == f"sending to {MASK} now"


@pytest.mark.parametrize("value", HARMLESS)
def test_redaction_keeps_ids_and_times(value: str) -> None:
    assert redact_text(value) == value


def uuid7() -> uuid.UUID:
    """A version-7 UUID (Temporal's run ids): 48 bits of Unix milliseconds, then random bits."""
    random = int.from_bytes(os.urandom(10))
    value = (
        time.time_ns() // 1_000_000 << 80 | 0x7 << 76 | (random >> 68) << 64 | 0b10 << 62 | random % (1 << 62)
    )
    return uuid.UUID(int=value)


UUIDS = [
    "0193a5c2-7d1e-7000-8000-467012345678",  # a run id whose last group is a +46 number without the +
    "0193a5c2-0701-4234-8123-456789012345",  # a group shaped like 070-1 42 34
    "12345678-1234-1234-1234-123456789012",  # digits only
    "19121212-1212-4121-8121-191212121212",  # groups shaped like personnummer
    "20160301-0701-7401-0605-121212121212",
    "00467017-4060-5070-1740-605070174060",
    "00121212-1212-abcd-ef01-234567890123",
    "0193A5C2-0701-4234-8123-46701740605A",  # upper case
    str(uuid.uuid4()),
    str(uuid.uuid4()),
    str(uuid7()),
    str(uuid7()),
]


@pytest.mark.parametrize("value", UUIDS, ids=[f"u{n}" for n in range(len(UUIDS))])  # same ids each run
def test_redaction_keeps_uuids_such_as_run_ids(value: str) -> None:
    line = f"run_id={value} workflow_id=sms-reminder-{value} ({value})"
    assert redact_text(line) == line


@given(st.uuids() | st.from_regex(r"[0-9]{8}-[0-9]{4}-[0-9]{4}-[0-9]{4}-[0-9]{12}", fullmatch=True))
def test_redaction_keeps_every_uuid(value: uuid.UUID | str) -> None:
    line = f"run {value}, {str(value).upper()}: done"
    assert redact_text(line) == line


@pytest.mark.parametrize("value", PATIENT_IDS + PHONES)
def test_redaction_still_masks_next_to_uuids_and_hex_words(value: str) -> None:
    run_id = UUIDS[2]
    assert redact_text(f"{run_id} {value}; {value} {run_id}") == f"{run_id} {MASK}; {MASK} {run_id}"
    assert redact_text(f"{value}-{run_id}") == f"{MASK}-{run_id}"


@pytest.mark.parametrize("value", ["0701740605ab", "c0ffee0701740605", "191212121212abcd"])
def test_redaction_keeps_digits_inside_hex_words(value: str) -> None:
    assert redact_text(value) == value


def test_redaction_processor_masks_nested_event_values() -> None:
    event = {"event": "x 19121212-1212", "extra": {"to": ["+46701740605"]}, "count": 3}
    assert redact(None, "info", event) == {"event": f"x {MASK}", "extra": {"to": [MASK]}, "count": 3}


@pytest.fixture
def log_stream() -> Iterator[io.StringIO]:
    """Logging configured for one test into a buffer, then the defaults restored."""
    handlers = logging.getLogger().handlers[:]
    stream = io.StringIO()
    configure_logging("json", stream=stream)
    yield stream
    structlog.reset_defaults()
    logging.getLogger().handlers[:] = handlers


def test_configured_json_logs_and_stdlib_logs_are_redacted(log_stream: io.StringIO) -> None:
    structlog.get_logger("t").warning("refused", detail="patient 19550101-A749 at 070-174 06 05")
    logging.getLogger("temporalio.workflow").warning("guardian %s", "+46 70 174 06 05")
    lines = log_stream.getvalue().strip().splitlines()
    record = json.loads(lines[0])
    assert record["detail"] == f"patient {MASK} at {MASK}" and record["level"] == "warning"
    assert lines[1].endswith(f"guardian {MASK}")
    assert any(isinstance(f, RedactingFilter) for h in logging.getLogger().handlers for f in h.filters)
