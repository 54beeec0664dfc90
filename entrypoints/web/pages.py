"""The staff page's views ("Mitt arbetsflöde"): a clinic's work lists, one request, one visit reminder.

Each view reads through the same application layer as `GET /v1/...`, checks the user's clinic on the
server first, and is recorded in the audit trail. Patient ids are masked; the full identity only
after "Visa" (a POST, audited as `web.patient.reveal`).
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import RedirectResponse, Response

import application
from application import PatientIdentity, targets
from contracts.workflow_ids import IssuedId
from domain.invitation import InvitationState, is_open
from domain.types import SystemId
from entrypoints.shared.context import RequestContext, request_context
from entrypoints.web import swedish
from entrypoints.web.session import StaffUser, check_csrf, staff_user, take_flash
from entrypoints.web.templates import render

router = APIRouter(prefix="/staff")
User = Annotated[StaffUser, Depends(staff_user)]
With = Annotated[RequestContext, Depends(request_context)]
PAGE_SIZE = 20
SORTS = {
    "next": lambda i: (i.next_action_at is None, i.next_action_at or datetime.max.replace(tzinfo=UTC)),
    "waited": lambda i: i.waiting_since or datetime.max.replace(tzinfo=UTC),  # longest waiting first
    "state": lambda i: (i.state or "", i.request_id),
    "id": lambda i: i.request_id,
}


def page_of(
    items: list[application.WorkListItem], reception: str, sort: str, page: int
) -> tuple[list[application.WorkListItem], int]:
    """The rows of page `page` (from 1) of a list: of one reception (blank: all), sorted by `sort`
    (`-` first: descending); and the number of pages (at least 1)."""
    chosen = sorted(
        (i for i in items if reception in ("", i.reception_id)),
        key=SORTS[sort.lstrip("-")],
        reverse=sort.startswith("-"),
    )
    pages = max(1, -(-len(chosen) // PAGE_SIZE))
    return chosen[(page - 1) * PAGE_SIZE : page * PAGE_SIZE], pages


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
    sort: Annotated[str, Query(pattern="^-?(next|waited|state|id)$")] = "next",
    page: Annotated[int, Query(ge=1, le=10_000)] = 1,
) -> Response:
    """V12, V13: the three lists with counts; the chosen one filtered, sorted and paged."""
    async with ctx.audited(user.caller, "web.work_lists", clinic_id=clinic_id):
        user.caller.require_clinic(clinic_id)
        clinic = application.check_clinic(ctx.stores.directory, clinic_id)
        lists = await application.work_lists(ctx.client, clinic_id)
    shown, pages = page_of(getattr(lists, tab), reception, sort, page)
    details = await application.item_statuses(ctx.client, shown)
    now = datetime.now(UTC)
    rows = [
        {"item": item, "status": found, "waited": swedish.waited(item.waiting_since, now)}
        for item, found in zip(shown, details, strict=True)
    ]
    counts = {name: len(getattr(lists, name)) for name in swedish.LISTS}
    return render(
        request,
        "lists.html",
        clinic=clinic,
        tab=tab,
        rows=rows,
        counts=counts,
        reception=reception,
        sort=sort,
        page=page,
        pages=pages,
        flash=take_flash(request),
    )


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
    return render(
        request, "request.html", status=found, identity=identity, flash=take_flash(request),
        open=is_open(state), plain=state is InvitationState.REQUEST,
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
