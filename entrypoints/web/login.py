"""Logging in to the staff page: OpenID Connect's authorization code flow against the region's
identity provider (authlib: discovery, state, nonce, ID token signature and claims), or, under
`dev.py run` only (PM_WEB_DEMO_LOGIN), a choice of the demo users it names (PM_WEB_DEMO_USERS). A
user's clinics come from the ID token's claim `PM_OIDC_CLINICS_CLAIM`; a user with none is not let
in."""

from __future__ import annotations

from typing import Annotated, Any

import structlog
from authlib.integrations.starlette_client import OAuth, OAuthError
from fastapi import APIRouter, Depends, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from entrypoints.web.session import (
    StaffUser,
    check_csrf,
    csrf_token,
    ensure_csrf_token,
    flash,
    log_in,
    log_out,
    take_flash,
)
from entrypoints.web.templates import render
from infrastructure.config import Settings

log = structlog.get_logger(__name__)
router = APIRouter(prefix="/staff")


def oidc_client(settings: Settings) -> Any:
    """The identity provider's client, or None when none is configured."""
    if not (settings.oidc_metadata_url and settings.oidc_client_id):
        return None
    oauth = OAuth()
    return oauth.register(
        "region",
        server_metadata_url=settings.oidc_metadata_url,
        client_id=settings.oidc_client_id,
        client_secret=settings.oidc_client_secret,
        client_kwargs={"scope": "openid profile"},
    )


def _settings(request: Request) -> Settings:
    return request.app.state.context.settings


@router.get("/login", response_class=HTMLResponse, name="staff_login_page")
async def login_page(request: Request) -> Response:
    ensure_csrf_token(request)
    settings = _settings(request)
    demo = sorted(settings.web_demo_users.items()) if settings.web_demo_login else []
    return render(
        request,
        "login.html",
        oidc=request.app.state.oidc is not None,
        demo_users=demo,
        flash=take_flash(request),
        csrf=csrf_token(request),
    )


@router.post("/login/demo", dependencies=[Depends(check_csrf)], name="staff_demo_login")
async def demo_login(request: Request, user: Annotated[str, Form()]) -> Response:
    settings = _settings(request)
    if not settings.web_demo_login or user not in settings.web_demo_users:
        return render(
            request, "message.html", status_code=403, title="Inloggning", message="Okänd användare."
        )
    name, clinics = settings.web_demo_users[user]
    log_in(request, StaffUser(user_id=f"demo-{user}", name=name, clinics=clinics))
    log.info("staff_login", user=f"demo-{user}", method="demo")
    return RedirectResponse(request.url_for("staff_home"), status_code=303)


@router.get("/login/oidc", name="staff_oidc_login")
async def oidc_login(request: Request) -> Response:
    oidc = request.app.state.oidc
    if oidc is None:
        return RedirectResponse(request.url_for("staff_login_page"), status_code=303)
    return await oidc.authorize_redirect(request, str(request.url_for("staff_oidc_callback")))


@router.get("/auth/callback", name="staff_oidc_callback")
async def oidc_callback(request: Request) -> Response:
    oidc = request.app.state.oidc
    refused = {"status_code": 403, "title": "Inloggningen misslyckades"}
    if oidc is None:
        return RedirectResponse(request.url_for("staff_login_page"), status_code=303)
    try:
        token = await oidc.authorize_access_token(request)
    except OAuthError as err:
        log.info("staff_login_refused", error=err.error)
        return render(request, "message.html", **refused, message="Inloggningen kunde inte bekräftas.")
    claims = token.get("userinfo") or {}
    clinics = claims.get(_settings(request).oidc_clinics_claim) or []
    if isinstance(clinics, str):
        clinics = clinics.split()
    if not claims.get("sub") or not isinstance(clinics, list) or not clinics:
        return render(
            request, "message.html", **refused, message="Ditt konto är inte knutet till någon klinik."
        )
    name = str(claims.get("name") or claims.get("preferred_username") or claims["sub"])
    log_in(request, StaffUser(user_id=str(claims["sub"]), name=name, clinics=[str(c) for c in clinics]))
    log.info("staff_login", user=str(claims["sub"]), method="oidc")
    return RedirectResponse(request.url_for("staff_home"), status_code=303)


@router.post("/logout", dependencies=[Depends(check_csrf)], name="staff_logout")
async def logout(request: Request) -> Response:
    log_out(request)
    flash(request, "Du är utloggad.")
    return RedirectResponse(request.url_for("staff_login_page"), status_code=303)
