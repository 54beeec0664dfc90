"""Server-rendered pages (Jinja2, autoescaped) with the Swedish names of `swedish.py` as filters."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from fastapi import Request
from fastapi.templating import Jinja2Templates
from starlette.responses import Response

from entrypoints.web import swedish
from entrypoints.web.session import csrf_token

HERE = Path(__file__).resolve().parent
templates = Jinja2Templates(directory=HERE / "templates")
filters = templates.env.filters
filters["when"] = swedish.when
filters["state"] = lambda v: swedish.label(swedish.STATES, v)
filters["next_action"] = lambda v: swedish.label(swedish.NEXT_ACTIONS, v)
filters["kind"] = lambda v: swedish.label(swedish.KINDS, v)
filters["channel"] = lambda v: swedish.label(swedish.CHANNELS, v)
filters["booked_via"] = lambda v: swedish.label(swedish.BOOKED_VIA, v)
filters["recipient"] = lambda v: swedish.label(swedish.RECIPIENTS, v)
filters["delivery"] = lambda v: swedish.label(swedish.DELIVERIES, v)
filters["reason"] = lambda v: swedish.label(swedish.REASONS, v)
filters["weekday"] = lambda v: swedish.label(swedish.WEEKDAYS, v)
filters["time_of_day"] = lambda v: swedish.label(swedish.TIMES_OF_DAY, v)
filters["reply_word"] = lambda v: swedish.label(swedish.REPLY_WORDS, v)
templates.env.globals["LISTS"] = swedish.LISTS
templates.env.globals["WEEKDAYS"] = swedish.WEEKDAYS
templates.env.globals["TIMES_OF_DAY"] = swedish.TIMES_OF_DAY


def render(request: Request, name: str, status_code: int = 200, **context: Any) -> Response:
    """A page; every page knows the logged-in user (if any) and the session's CSRF token."""
    context.setdefault("user", request.session.get("user"))
    context.setdefault("csrf", csrf_token(request))
    response = templates.TemplateResponse(request, name, context, status_code=status_code)
    response.headers["Cache-Control"] = "no-store"  # pages with patient data stay out of caches
    return response
