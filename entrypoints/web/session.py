"""Who is using the staff page: the logged-in staff member in a signed session cookie (Starlette's
`SessionMiddleware`: `Secure`, `HttpOnly`, `SameSite=Lax`), and the CSRF token every form carries.

The session holds the user's id, name and clinics (from the OpenID Connect ID token, or a demo user
of `dev.py run`), and a random CSRF token checked against the `csrf` field of every POST
(synchronizer token pattern). Every page and action checks the clinic on the server.
"""

from __future__ import annotations

import secrets

from fastapi import Request
from pydantic import BaseModel

from entrypoints.http.auth import Caller

SESSION_COOKIE = "pm_staff"
CSRF_FIELD = "csrf"


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


def log_in(request: Request, user: StaffUser) -> None:
    request.session.clear()  # a new session at login: nothing from before survives (fixation)
    request.session["user"] = user.model_dump()
    ensure_csrf_token(request)


def ensure_csrf_token(request: Request) -> None:
    """A CSRF token for this session's forms (the login form's too, before anyone is logged in)."""
    if not request.session.get(CSRF_FIELD):
        request.session[CSRF_FIELD] = secrets.token_urlsafe(32)


def log_out(request: Request) -> None:
    request.session.clear()


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
