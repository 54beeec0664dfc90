"""The staff page ("Mitt arbetsflöde") under `/staff`, mounted beside the HTTP API in one app
(`entrypoints.asgi`): Swedish pages over the same application layer as `/v1`, with an OpenID Connect
login (or demo users locally), per-clinic access, CSRF-checked forms and an audit record of every
view and action."""

from __future__ import annotations

from datetime import timedelta

from fastapi import FastAPI, Request
from fastapi.responses import RedirectResponse, Response
from fastapi.staticfiles import StaticFiles

from entrypoints.shared.problems import is_under, status_and_detail
from entrypoints.web import actions, login, pages
from entrypoints.web.session import CsrfRefused, LoginRequired, ServerSessions
from entrypoints.web.swedish import refusal
from entrypoints.web.templates import HERE, render
from infrastructure.config import Settings
from infrastructure.stores import Stores

PREFIX = "/staff"


def install(api: FastAPI, settings: Settings, stores: Stores) -> None:
    """Add the staff page's routes, static files, server-side sessions and refusal pages to `api`."""
    api.add_middleware(
        ServerSessions,
        store=lambda: stores.staff_sessions,
        lifetime=timedelta(hours=settings.web_session_hours),
        prefix=PREFIX,
    )
    api.state.oidc = login.oidc_client(settings)
    api.mount(f"{PREFIX}/static", StaticFiles(directory=HERE / "static"), name="static")
    api.add_api_route("/", _to_staff_page, include_in_schema=False)  # `dev.py run` opens on the lists
    api.include_router(login.router)
    api.include_router(pages.router)
    api.include_router(actions.router)
    api.add_exception_handler(LoginRequired, _to_login)
    api.add_exception_handler(CsrfRefused, _csrf_refused)


def is_staff_page(request: Request) -> bool:
    return is_under(request, PREFIX)


async def _to_staff_page(request: Request) -> Response:
    return RedirectResponse(request.url_for("staff_home"), status_code=303)


async def _to_login(request: Request, err: Exception) -> Response:
    return RedirectResponse(request.url_for("staff_login_page"), status_code=303)


async def _csrf_refused(request: Request, err: Exception) -> Response:
    message = "Formuläret har gått ut eller kom inte från den här sidan. Ladda om sidan och försök igen."
    return render(request, "message.html", status_code=403, title="Inget ändrades", message=message)


async def refused(request: Request, err: Exception) -> Response | None:
    """A refusal on a staff page as a Swedish page (status as the API's); None for a bug."""
    found = status_and_detail(err)
    if found is None:
        return None
    status, detail = found
    posted = request.method == "POST"
    back = request.headers.get("referer") if posted else None
    return render(
        request,
        "message.html",
        status_code=status,
        title="Inget ändrades" if posted else "Kan inte visas",
        message=refusal(err, detail),
        back=_same_site(request, back),
    )


def _same_site(request: Request, url: str | None) -> str | None:
    """The page to go back to, only when it is one of ours."""
    base = str(request.base_url).rstrip("/")
    return url if url and url.startswith(base + PREFIX + "/") else None
