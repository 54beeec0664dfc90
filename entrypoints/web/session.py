"""Who is using the staff page: the logged-in staff member in a session kept by the service
(`ServerSessions`: a row of the service's store, `adapters/staff_sessions.py`), and the CSRF token
every form carries.

The cookie (`Secure`, `HttpOnly`, `SameSite=Lax`, path `/staff`) holds only the session's random id;
the row holds the user's id, name and clinics (from the OpenID Connect ID token, or a demo user of
`dev.py run`), a random CSRF token checked against the `csrf` field of every POST (synchronizer token
pattern), a flash message and the login's OIDC state. Login gives a new id (no fixation); logout
deletes the row, so the old cookie is refused at once on every replica. Every page and action checks
the clinic on the server.
"""

from __future__ import annotations

import json
import re
import secrets
from collections.abc import Callable
from datetime import timedelta
from typing import Any

from fastapi import Request
from pydantic import BaseModel
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import MutableHeaders
from starlette.requests import cookie_parser
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from application import StaffSessions
from entrypoints.shared.auth import Caller

SESSION_COOKIE = "pm_staff"
CSRF_FIELD = "csrf"
SESSION_ID = re.compile(r"[A-Za-z0-9_-]{20,100}")


class StaffUser(BaseModel):
    user_id: str  # the identity provider's subject (or a demo user's id): what the audit trail names
    name: str
    clinics: list[str]

    @property
    def caller(self) -> Caller:
        """The user as the services see a caller: the audit trail's actor and the clinic check."""
        return Caller(f"staff:{self.user_id}", frozenset(self.clinics))


class LoginRequired(Exception):
    """No staff member is logged in: the page sends the browser to the login page."""


class CsrfRefused(Exception):
    """A form without this session's CSRF token: 403, nothing changed."""


class SessionData(dict[str, Any]):
    """`request.session`: the row's data; `renew()` ends the row and gives the data a new id."""

    renewed = False

    def renew(self) -> None:
        self.renewed = True


def log_in(request: Request, user: StaffUser) -> None:
    session = request.session
    session.clear()  # a new session, under a new id, at login: nothing from before survives (fixation)
    if isinstance(session, SessionData):
        session.renew()
    session["user"] = user.model_dump()
    ensure_csrf_token(request)


def ensure_csrf_token(request: Request) -> None:
    """A CSRF token for this session's forms (the login form's too, before anyone is logged in)."""
    if not request.session.get(CSRF_FIELD):
        request.session[CSRF_FIELD] = secrets.token_urlsafe(32)


def log_out(request: Request) -> None:
    """End the session: its row is deleted, so its cookie is refused at once everywhere."""
    session = request.session
    session.clear()
    if isinstance(session, SessionData):
        session.renew()


def staff_user(request: Request) -> StaffUser:
    """FastAPI dependency: the logged-in staff member, or `LoginRequired`."""
    found = request.session.get("user")
    if not found:
        raise LoginRequired
    return StaffUser.model_validate(found)


def csrf_token(request: Request) -> str:
    return str(request.session.get(CSRF_FIELD, ""))


async def check_csrf(request: Request) -> None:
    """FastAPI dependency of every POST: the form's token must be this session's."""
    form = await request.form()
    sent = form.get(CSRF_FIELD)
    expected = csrf_token(request)
    if not expected or not isinstance(sent, str) or not secrets.compare_digest(sent, expected):
        raise CsrfRefused


def flash(request: Request, message: str) -> None:
    """A message for the next page (after a redirect): what was done."""
    request.session["flash"] = message


def take_flash(request: Request) -> str | None:
    return request.session.pop("flash", None)


class ServerSessions:
    """ASGI middleware of the paths under `prefix`: `scope["session"]` is the row of the cookie's
    session id (empty when there is none, or it ended or expired); what a request changed is written
    back before its answer starts. Stylesheets and images under `prefix/static/` read no session."""

    def __init__(
        self, app: ASGIApp, store: Callable[[], StaffSessions], lifetime: timedelta, prefix: str
    ) -> None:
        self.app, self._store, self.lifetime, self.prefix = app, store, lifetime, prefix

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        path = scope.get("path", "")
        if scope["type"] != "http" or not (path == self.prefix or path.startswith(self.prefix + "/")):
            await self.app(scope, receive, send)
            return
        if path.startswith(f"{self.prefix}/static/"):
            scope["session"] = SessionData()
            await self.app(scope, receive, send)
            return
        cookies = cookie_parser(MutableHeaders(scope=scope).get("cookie", ""))
        session_id = cookies.get(SESSION_COOKIE) or None
        if session_id is not None and not SESSION_ID.fullmatch(session_id):
            session_id = None
        found = await run_in_threadpool(self._store().find, session_id) if session_id else None
        session = scope["session"] = SessionData(found or {})
        before = json.dumps(found, sort_keys=True) if found is not None else None
        sent_cookie = SESSION_COOKIE in cookies

        async def send_saved(message: Message) -> None:
            if message["type"] == "http.response.start":
                cookie = await self._save(session_id if found is not None else None, before, session)
                if cookie is None and found is None and sent_cookie and not session:
                    cookie = self._cookie("", 0)  # an ended or unknown session's cookie: drop it
                if cookie is not None:
                    MutableHeaders(scope=message).append("set-cookie", cookie)
            await send(message)

        await self.app(scope, receive, send_saved)

    async def _save(self, session_id: str | None, before: str | None, session: SessionData) -> str | None:
        """Write what changed; the `Set-Cookie` value when the id changed, else None."""
        store = self._store()
        if session_id is not None:
            if not session.renewed and session and json.dumps(session, sort_keys=True) == before:
                return None
            if not session.renewed and session:
                await run_in_threadpool(store.update, session_id, dict(session))  # never revives an ended one
                return None
            await run_in_threadpool(store.delete, session_id)  # logout, login, or emptied
            if not session:
                return self._cookie("", 0)
        if not session:
            return None
        user_id = (session.get("user") or {}).get("user_id")
        new_id = await run_in_threadpool(store.create, dict(session), user_id, self.lifetime)
        return self._cookie(new_id, max(1, int(self.lifetime.total_seconds())))

    def _cookie(self, value: str, max_age: int) -> str:
        return (
            f"{SESSION_COOKIE}={value}; Path={self.prefix}; Max-Age={max_age}; HttpOnly; Secure; SameSite=lax"
        )
