"""structlog set-up: JSON lines in production, readable lines in a terminal.

Log events carry booking, request, clinic and workflow ids and outcomes, never patient data. As a
second line of defence, every log line passes `redact`, which masks anything shaped like a
personnummer, samordningsnummer, reservnummer or phone number (also in the SDK's stdlib logs).
"""

from __future__ import annotations

import logging
import re
import sys
from collections.abc import MutableMapping
from typing import Any, Literal, TextIO

import structlog
from temporalio import activity

MASK = "[redacted]"

_HEX = "[0-9A-Fa-f]"
_UUID_GROUPS = [f"{_HEX}{{{n}}}" for n in (8, 4, 4, 4, 12)]


def _uuid_from_group(k: int) -> str:
    """A UUID's groups from the k-th on, the groups before it just behind."""
    behind = "-".join(_UUID_GROUPS[:k])
    return (f"(?<={behind}-)" if k else "") + "-".join(_UUID_GROUPS[k:]) + f"(?!{_HEX})"


_NOT_IN_UUID = "(?!" + "|".join(_uuid_from_group(k) for k in range(len(_UUID_GROUPS))) + ")"
"""No match starts at a group of a UUID (8-4-4-4-12 hex, e.g. a Temporal run id); as no match starts
inside a word either, a UUID's digits are never masked, even in groups of digits only."""

_PATIENT_ID = re.compile(
    r"(?<![\w])" + _NOT_IN_UUID + r"(?:"
    r"(?:19|20)\d{6}[-+ ]?\d{4}"  # personnummer / samordningsnummer with a 4-digit year
    r"|\d{6}[-+]\d{4}|\d{10}"  # ... with a 2-digit year
    r"|(?:19|20)\d{6}-?(?=[0-9A-Z]{0,3}[A-Z])[0-9A-Z]{4}"  # reservnummer: a letter in the last four
    r")(?![\w])",
    re.IGNORECASE,
)
_PHONE = re.compile(
    r"(?<![\w+])" + _NOT_IN_UUID + r"(?:(?:\+|00)46[\s-]*(?:\(0\)[\s-]*)?|46|0)[1-9](?:[\s-]?\d){6,9}"
    r"(?![\dA-Fa-f])"
)
"""Swedish phone numbers: +46, 0046, 46 or a national 0, with spaces, dashes or (0); not part of a hex
word."""


def redact_text(text: str) -> str:
    return _PHONE.sub(MASK, _PATIENT_ID.sub(MASK, text))


def _redact(value: Any) -> Any:
    if isinstance(value, str):
        return redact_text(value)
    if isinstance(value, dict):
        return {k: _redact(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return type(value)(_redact(v) for v in value)
    return value


def add_temporal_context(_: Any, __: str, event: MutableMapping[str, Any]) -> MutableMapping[str, Any]:
    """Inside an activity: the workflow id, run id and activity type the line belongs to."""
    if activity.in_activity():
        info = activity.info()
        event.setdefault("workflow_id", info.workflow_id)
        event.setdefault("run_id", info.workflow_run_id)
        event.setdefault("activity", info.activity_type)
    return event


def redact(_: Any, __: str, event: MutableMapping[str, Any]) -> MutableMapping[str, Any]:
    """structlog processor: mask patient-data shapes in every value of the event."""
    return {key: _redact(value) for key, value in event.items()}


class RedactingFilter(logging.Filter):
    """The same masking for stdlib log records (the Temporal SDK and workflow loggers)."""

    def filter(self, record: logging.LogRecord) -> bool:
        record.msg = redact_text(record.getMessage())
        record.args = None
        return True


def configure_logging(
    fmt: Literal["json", "console", "auto"] = "auto", level: int = logging.INFO, stream: TextIO | None = None
) -> None:
    stream = stream or sys.stderr
    as_json = fmt == "json" or (fmt == "auto" and not stream.isatty())
    renderer: structlog.typing.Processor = (
        structlog.processors.JSONRenderer() if as_json else structlog.dev.ConsoleRenderer(colors=False)
    )
    structlog.configure(
        processors=[
            structlog.contextvars.merge_contextvars,
            structlog.processors.add_log_level,
            structlog.processors.TimeStamper(fmt="iso", utc=True),
            structlog.processors.format_exc_info,
            add_temporal_context,
            redact,
            renderer,
        ],
        wrapper_class=structlog.make_filtering_bound_logger(level),
        logger_factory=structlog.PrintLoggerFactory(file=stream),
        cache_logger_on_first_use=True,
    )
    handler = logging.StreamHandler(stream)
    handler.addFilter(RedactingFilter())
    logging.basicConfig(level=logging.WARNING, handlers=[handler], force=True)
