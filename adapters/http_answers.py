"""Reading the answers of the HTTP endpoints we deliver to (1177 inbox, digital mailbox): a reason
code is taken from an answer only when it looks like one, so free text (which may name a patient) is
never echoed into an exception or a log line."""

from __future__ import annotations

import re

import httpx

REASON = re.compile(r"^[a-z][a-z0-9_]{0,63}$")
"""What a reason code taken from an endpoint's answer must look like."""


def error_code(response: httpx.Response, default: str = "rejected") -> str:
    """The `error` code of a JSON error answer when it looks like a code, else `default`."""
    try:
        code = response.json().get("error")
    except (ValueError, AttributeError):
        return default
    return code if isinstance(code, str) and REASON.match(code) else default
