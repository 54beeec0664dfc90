"""The staff page's actions: forms posted with the session's CSRF token, each checked against the
user's clinics on the server, audited, and answered by a redirect to the page with what was done
(post/redirect/get). A refusal answers the Swedish message instead, and nothing changes."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import date, time
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Form, Request
from fastapi.responses import RedirectResponse, Response

import application as app
from contracts.workflow_ids import booking_reminder_id, invitation_id
from domain.invitation import Contact, Conversion, DateWindow, InvitationBooking, RequestChange
from domain.timing import at_local
from domain.types import SystemId
from entrypoints.http.service import Service, service
from entrypoints.web.session import StaffUser, check_csrf, flash, staff_user

router = APIRouter(prefix="/staff", dependencies=[Depends(check_csrf)])
User = Annotated[StaffUser, Depends(staff_user)]
With = Annotated[Service, Depends(service)]
Text = Annotated[str, Form(max_length=200)]
Day = Annotated[date, Form()]


async def _act(
    request: Request,
    user: StaffUser,
    svc: Service,
    action: str,
    workflow_id: str,
    call: Callable[[], Awaitable[Any]],
    done: str,
    page: str,
    **page_ids: str,
) -> Response:
    """Run `call` on the workflow (refused with 403 outside the user's clinics), audited as `action`,
    then back to `page` with `done`."""
    async with svc.on_workflow(user.caller, f"web.{action}", workflow_id):
        await call()
    flash(request, done)
    return RedirectResponse(request.url_for(page, **page_ids), status_code=303)


def _window(first_date: date | None, last_date: date | None) -> DateWindow | None:
    if first_date is None and last_date is None:
        return None
    return DateWindow.model_validate({"first_date": first_date, "last_date": last_date})


# --- a care invitation or booking request (V7–V14) ---


@router.post("/requests/{request_id}/contact", name="staff_record_contact")
async def record_contact(
    request: Request, request_id: SystemId, user: User, svc: With, note: Text = ""
) -> Response:
    """V7: the patient called; no more reminders."""
    contact = Contact(note=note.strip() or None)
    return await _act(
        request,
        user,
        svc,
        "request.contact",
        invitation_id(request_id),
        lambda: app.record_contact(svc.client, request_id, contact),
        "Kontakten är registrerad: inga fler påminnelser skickas.",
        "staff_request_page",
        request_id=request_id,
    )


@router.post("/requests/{request_id}/cancel", name="staff_cancel_request")
async def cancel_request(
    request: Request, request_id: SystemId, user: User, svc: With, reason: Text = ""
) -> Response:
    """V14: nothing more is sent."""
    workflow_id = invitation_id(request_id)
    return await _act(
        request,
        user,
        svc,
        "request.cancel",
        workflow_id,
        lambda: app.cancel(svc.client, workflow_id, reason=reason.strip() or None),
        "Ärendet är makulerat: inget mer skickas.",
        "staff_request_page",
        request_id=request_id,
    )


@router.post("/requests/{request_id}/book", name="staff_book_request")
async def book_request(
    request: Request,
    request_id: SystemId,
    user: User,
    svc: With,
    booking_id: Annotated[str, Form()],
    day: Day,
    at: Annotated[time, Form()],
) -> Response:
    """V7–V9: staff book the visit (any time, V8); its SMS reminder starts."""

    async def book() -> None:
        booking = InvitationBooking.model_validate(
            {"booking_id": booking_id.strip(), "start": at_local(day, at), "by": "staff"}
        )
        await app.book_invitation(svc.client, request_id, booking)

    return await _act(
        request,
        user,
        svc,
        "request.book",
        invitation_id(request_id),
        book,
        "Besöket är bokat och dess SMS-påminnelse startad.",
        "staff_request_page",
        request_id=request_id,
    )


@router.post("/requests/{request_id}/change", name="staff_change_request")
async def change_request(
    request: Request,
    request_id: SystemId,
    user: User,
    svc: With,
    first_date: Day,
    last_date: Day,
    time_of_day: Annotated[str, Form()] = "any",
    weekdays: Annotated[list[str] | None, Form()] = None,
) -> Response:
    """V10: the window and limits as the form shows them (no weekday ticked: any day)."""

    async def change() -> None:
        fields = {
            "window": _window(first_date, last_date),
            "weekdays": weekdays or [],
            "time_of_day": time_of_day,
        }
        change = RequestChange.model_validate(fields)
        if change.window is not None:
            app.check_window(change.window)
        await app.change_request(svc.client, request_id, change)

    return await _act(
        request,
        user,
        svc,
        "request.change",
        invitation_id(request_id),
        change,
        "Begäran är ändrad.",
        "staff_request_page",
        request_id=request_id,
    )


@router.post("/requests/{request_id}/convert", name="staff_convert_request")
async def convert_request(
    request: Request,
    request_id: SystemId,
    user: User,
    svc: With,
    first_date: Day,
    last_date: Day,
    time_of_day: Annotated[str, Form()] = "any",
    weekdays: Annotated[list[str] | None, Form()] = None,
    referral_id: Annotated[str, Form()] = "",
) -> Response:
    """V11: "Ändra begäran – vårdinbjudan": the plain request becomes a care invitation."""

    async def convert() -> None:
        fields = {
            "window": _window(first_date, last_date),
            "weekdays": weekdays or [],
            "time_of_day": time_of_day,
            "referral_id": referral_id.strip() or None,
        }
        conversion = Conversion.model_validate(fields)
        if conversion.window is not None:
            app.check_window(conversion.window)
        await app.convert_request(svc.client, request_id, conversion)

    return await _act(
        request,
        user,
        svc,
        "request.convert",
        invitation_id(request_id),
        convert,
        "Begäran är nu en vårdinbjudan.",
        "staff_request_page",
        request_id=request_id,
    )


# --- a visit reminder (S10, S8, S15) ---


@router.post("/visits/{booking_id}/sms-flag", name="staff_visit_sms_flag")
async def visit_sms_flag(
    request: Request,
    booking_id: SystemId,
    user: User,
    svc: With,
    sms_flag: Annotated[str, Form(pattern="^(on|off)$")],
) -> Response:
    """S10: staff turn the SMS off or on again; S8: never off for a booking made in 1177."""
    workflow_id = booking_reminder_id(booking_id)
    on = sms_flag == "on"
    return await _act(
        request,
        user,
        svc,
        "visit.sms_flag",
        workflow_id,
        lambda: app.set_sms_flag(svc.client, workflow_id, on),
        f"SMS-påminnelsen är {'påslagen' if on else 'avstängd'}.",
        "staff_visit_page",
        booking_id=booking_id,
    )


@router.post("/visits/{booking_id}/cancel", name="staff_cancel_visit")
async def cancel_visit(
    request: Request, booking_id: SystemId, user: User, svc: With, reason: Text = ""
) -> Response:
    """S15: a cancelled visit gets no reminder."""
    workflow_id = booking_reminder_id(booking_id)
    return await _act(
        request,
        user,
        svc,
        "visit.cancel",
        workflow_id,
        lambda: app.cancel(svc.client, workflow_id, reason=reason.strip() or None),
        "Besöket är avbokat: ingen påminnelse skickas.",
        "staff_visit_page",
        booking_id=booking_id,
    )
