"""Log lines never carry patient data: the redaction processor masks every common spelling."""

from __future__ import annotations

import io
import json
import logging
from collections.abc import Iterator

import pytest
import structlog

from logging_setup import MASK, RedactingFilter, configure_logging, redact, redact_text

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
