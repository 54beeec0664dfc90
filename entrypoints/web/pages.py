"""The staff page's views ("Mitt arbetsflöde"): a clinic's work lists, one request, one visit reminder.

Each view reads through the same application layer as `GET /v1/...`, checks the user's clinic on the
server first, and is recorded in the audit trail. Patient ids are masked; the full identity only
after "Visa" (a POST, audited as `web.patient.reveal`).
"""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from typing import Annotated

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import RedirectResponse, Response

import application
from application import PatientIdentity, targets
from application.offered_times import offer_for
from application.replies import staff_replies
from contracts.workflow_ids import IssuedId
from domain.invitation import InvitationState, InvitationStatus, is_open
from domain.types import SystemId
from entrypoints.shared.context import RequestContext, request_context
from entrypoints.web import paging, swedish
from entrypoints.web.session import StaffUser, check_csrf, csrf_token, staff_user, take_flash
from entrypoints.web.templates import render

router = APIRouter(prefix="/staff")
User = Annotated[StaffUser, Depends(staff_user)]
With = Annotated[RequestContext, Depends(request_context)]
PAGE_SIZE = 20
WAITED = {0: "Alla", 7: "Minst en vecka", 14: "Minst två veckor", 30: "Minst 30 dagar", 90: "Minst 90 dagar"}
"""The filter "Väntat": requests that came in at least this many days ago."""


@router.get("/", name="staff_home")
async def home(request: Request, user: User) -> Response:
    return RedirectResponse(request.url_for("staff_work_lists", clinic_id=user.clinics[0]), status_code=303)


@router.get("/clinics/{clinic_id}", name="staff_work_lists")
async def work_lists(
    request: Request,
    clinic_id: SystemId,
    user: User,
    ctx: With,
    tab: Annotated[str, Query(alias="list", pattern="^(vardinbjudan|bokningsbegaran|uppfoljning)$")] = (
        "vardinbjudan"
    ),
    reception: Annotated[str, Query(max_length=64)] = "",  # blank: every reception
    waited: Annotated[int, Query(ge=0, le=3650)] = 0,  # days; 0: however long
    page: Annotated[str, Query(max_length=paging.MAX_LENGTH)] = "",  # a page link's token; blank: the first
) -> Response:
    """V12, V13: the three lists with counts; one page of the chosen one, newest first, filtered by
    reception and waiting time (one page read from visibility, whatever the clinic's size). The
    counts are read on a list's first page; its next pages show those (their link carries them)."""
    key = csrf_token(request)
    async with ctx.audited(user.caller, "web.work_lists", clinic_id=clinic_id):
        user.caller.require_clinic(clinic_id)
        clinic = application.check_clinic(ctx.stores.directory, clinic_id)
        view = paging.ListView(clinic_id, tab, reception, waited)
        at = paging.read(page, view, key) if page not in ("", "1") else paging.PageAt(view)  # 1: old links
        now = datetime.now(UTC)
        found = await application.work_list_page(
            ctx.client, clinic_id, tab, reception=reception, page_token=at.token, page_size=PAGE_SIZE,
            started_before=now - timedelta(days=waited) if waited else None, counted=at.counted,
        )  # fmt: skip
    rows = [
        {"item": item, "status": status, "waited": swedish.waited(item.waiting_since, now)}
        for item, status in zip(found.items, found.statuses, strict=True)
    ]
    counted = application.ListCounts(found.counts, found.matching)
    pages = max(1, -(-found.matching // PAGE_SIZE), at.number)
    more = found.next_page_token is not None and at.number < pages
    before = at.previous()
    return render(
        request, "lists.html", clinic=clinic, tab=tab, rows=rows, counts=found.counts, reception=reception,
        waited=waited, waited_choices=WAITED, page=at.number, pages=pages, flash=take_flash(request),
        next_page=paging.write(at.following(found.next_page_token, counted), key) if more else None,
        previous_page=None if before is None else (paging.write(before, key) if before.number > 1 else ""),
    )  # fmt: skip


@router.get("/clinics/{clinic_id}/replies", name="staff_replies")
async def replies_page(request: Request, clinic_id: SystemId, user: User, ctx: With) -> Response:
    """Issue 28: the clinic's SMS replies that no reminder took (no SMS of ours to that number, or
    two reminders not clearly ordered), newest first, the number masked; audited as `web.replies`."""
    async with ctx.audited(user.caller, "web.replies", clinic_id=clinic_id):
        user.caller.require_clinic(clinic_id)
        clinic = application.check_clinic(ctx.stores.directory, clinic_id)
        found = await asyncio.to_thread(staff_replies, ctx.stores.replies, clinic_id)
    return render(request, "replies.html", clinic=clinic, replies=found, flash=take_flash(request))


@router.get("/visits", name="staff_find_visit")
async def find_visit(request: Request, user: User, booking_id: Annotated[SystemId, Query()]) -> Response:
    """The search box of the lists page: a visit reminder by its booking id."""
    return RedirectResponse(request.url_for("staff_visit_page", booking_id=booking_id), status_code=303)


@router.get("/requests/{request_id}", name="staff_request_page")
async def request_page(request: Request, request_id: SystemId, user: User, ctx: With) -> Response:
    return await _request_view(request, request_id, user, ctx, None)


@router.post(
    "/requests/{request_id}/identity", dependencies=[Depends(check_csrf)], name="staff_request_identity"
)
async def request_identity(request: Request, request_id: SystemId, user: User, ctx: With) -> Response:
    identity = await _reveal(ctx, user, targets.request(request_id))
    return await _request_view(request, request_id, user, ctx, identity)


@router.get("/visits/{booking_id}", name="staff_visit_page")
async def visit_page(request: Request, booking_id: SystemId, user: User, ctx: With) -> Response:
    return await _visit_view(request, booking_id, user, ctx, None)


@router.post("/visits/{booking_id}/identity", dependencies=[Depends(check_csrf)], name="staff_visit_identity")
async def visit_identity(request: Request, booking_id: SystemId, user: User, ctx: With) -> Response:
    identity = await _reveal(ctx, user, targets.visit(booking_id))
    return await _visit_view(request, booking_id, user, ctx, identity)


async def _reveal(ctx: RequestContext, user: StaffUser, issued: IssuedId) -> PatientIdentity:
    """The full identity, for a user of the workflow's clinic: audited."""
    async with ctx.on_workflow(user.caller, "web.patient.reveal", issued) as target:
        return await application.patient_identity(ctx.client, ctx.stores.directory, target)


async def _viewed(ctx: RequestContext, user: StaffUser, what: str, issued: IssuedId) -> application.Status:
    """The workflow's status for a user of its clinic (else unknown: 404), audited as
    `web.<what>.view`."""
    async with ctx.on_workflow(user.caller, f"web.{what}.view", issued) as target:
        return await application.status(ctx.client, target)


async def _request_view(
    request: Request, request_id: str, user: StaffUser, ctx: RequestContext, identity: PatientIdentity | None
) -> Response:
    found = await _viewed(ctx, user, "request", targets.request(request_id))
    state = InvitationState(found.state)
    offer = (
        await offer_for(ctx.stores.slots, found)
        if isinstance(found, InvitationStatus) and is_open(state)
        else None
    )
    return render(
        request, "request.html", status=found, identity=identity, flash=take_flash(request),
        open=is_open(state), plain=state is InvitationState.REQUEST, offer=offer,
    )  # fmt: skip


async def _visit_view(
    request: Request, booking_id: str, user: StaffUser, ctx: RequestContext, identity: PatientIdentity | None
) -> Response:
    found = await _viewed(ctx, user, "visit", targets.visit(booking_id))
    booking = next((b for b in found.bookings if b.booking_id == booking_id), None)
    return render(
        request, "visit.html", status=found, booking=booking, booking_id=booking_id, identity=identity,
        flash=take_flash(request),
    )  # fmt: skip
