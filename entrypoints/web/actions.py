"""The staff page's actions: forms posted with the session's CSRF token, each checked against the
user's clinics on the server, audited, and answered by a redirect to the page with what was done
(post/redirect/get). A refusal answers the Swedish message instead, and nothing changes."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from datetime import date, time
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Form, Path, Request
from fastapi.responses import RedirectResponse, Response

import application
from application import Target, targets
from application.replies import staff_reply_handled
from contracts.workflow_ids import IssuedId
from domain.invitation import Contact, Conversion, InvitationBooking, RequestChange
from domain.timing import at_local
from domain.types import SystemId
from entrypoints.shared.context import RequestContext, request_context
from entrypoints.web.session import StaffUser, check_csrf, flash, staff_user

router = APIRouter(prefix="/staff", dependencies=[Depends(check_csrf)])
User = Annotated[StaffUser, Depends(staff_user)]
With = Annotated[RequestContext, Depends(request_context)]
Text = Annotated[str, Form(max_length=200)]
Call = Callable[[Target], Awaitable[Any]]  # given what the user acts on
InboundId = Annotated[str, Path(pattern="^[A-Za-z0-9_-]{1,100}$")]  # the provider's id of an SMS


def limits_form(
    first_date: Annotated[date, Form()],
    last_date: Annotated[date, Form()],
    time_of_day: Annotated[str, Form()] = "any",
    weekdays: Annotated[list[str] | None, Form()] = None,
) -> dict[str, Any]:
    """The window and limits as the form shows them (no weekday ticked: any day)."""
    window = {"first_date": first_date, "last_date": last_date}
    return {"window": window, "weekdays": weekdays or [], "time_of_day": time_of_day}


Limits = Annotated[dict[str, Any], Depends(limits_form)]


class Acts:
    """One action of `user` on a workflow: refused with 403 outside the user's clinics, audited as
    `web.<action>`, then back to the workflow's page with `done`."""

    def __init__(self, request: Request, user: User, ctx: With) -> None:
        self.request, self.user, self.ctx = request, user, ctx

    async def on_request(self, request_id: str, action: str, call: Call, done: str) -> Response:
        return await self._act(targets.request(request_id), f"request.{action}", call, done,
                               "staff_request_page", request_id=request_id)  # fmt: skip

    async def on_visit(self, booking_id: str, action: str, call: Call, done: str) -> Response:
        return await self._act(targets.visit(booking_id), f"visit.{action}", call, done,
                               "staff_visit_page", booking_id=booking_id)  # fmt: skip

    async def _act(
        self, issued: IssuedId, action: str, call: Call, done: str, page: str, **ids: str
    ) -> Response:
        async with self.ctx.on_workflow(self.user.caller, f"web.{action}", issued) as target:
            await call(await application.located(self.ctx.client, target))  # found before the form is read
        flash(self.request, done)
        return RedirectResponse(self.request.url_for(page, **ids), status_code=303)


Act = Annotated[Acts, Depends()]


# --- a care invitation or booking request (V7–V14) ---


@router.post("/requests/{request_id}/contact", name="staff_record_contact")
async def record_contact(request_id: SystemId, act: Act, note: Text = "") -> Response:
    """V7: the patient called; no more reminders."""
    contact = Contact(note=note.strip() or None)
    return await act.on_request(
        request_id, "contact", lambda target: application.record_contact(act.ctx.client, target, contact),
        "Kontakten är registrerad: inga fler påminnelser skickas.",
    )  # fmt: skip


@router.post("/requests/{request_id}/cancel", name="staff_cancel_request")
async def cancel_request(request_id: SystemId, act: Act, reason: Text = "") -> Response:
    """V14: nothing more is sent."""
    return await act.on_request(
        request_id, "cancel", lambda t: application.cancel(act.ctx.client, t, reason=reason.strip() or None),
        "Ärendet är makulerat: inget mer skickas.",
    )  # fmt: skip


@router.post("/requests/{request_id}/book", name="staff_book_request")
async def book_request(
    request_id: SystemId,
    act: Act,
    booking_id: Annotated[str, Form()],
    day: Annotated[date, Form()],
    at: Annotated[time, Form()],
) -> Response:
    """V7–V9: staff book the visit (any time, V8); its SMS reminder starts."""

    async def book(target: Target) -> None:
        fields = {"booking_id": booking_id.strip(), "start": at_local(day, at), "by": "staff"}
        await application.book_invitation(act.ctx.client, target, InvitationBooking.model_validate(fields))

    return await act.on_request(request_id, "book", book, "Besöket är bokat och dess SMS-påminnelse startad.")


@router.post("/requests/{request_id}/change", name="staff_change_request")
async def change_request(request_id: SystemId, act: Act, limits: Limits) -> Response:
    """V10: the window and limits as the form shows them."""

    async def change(target: Target) -> None:
        await application.change_request(act.ctx.client, target, RequestChange.model_validate(limits))

    return await act.on_request(request_id, "change", change, "Begäran är ändrad.")


@router.post("/requests/{request_id}/convert", name="staff_convert_request")
async def convert_request(
    request_id: SystemId, act: Act, limits: Limits, referral_id: Annotated[str, Form()] = ""
) -> Response:
    """V11: "Ändra begäran – vårdinbjudan": the plain request becomes a care invitation."""

    async def convert(target: Target) -> None:
        conversion = Conversion.model_validate(limits | {"referral_id": referral_id.strip() or None})
        await application.convert_request(act.ctx.client, target, conversion)

    return await act.on_request(request_id, "convert", convert, "Begäran är nu en vårdinbjudan.")


# --- a visit reminder (S10, S8, S15) ---


@router.post("/visits/{booking_id}/sms-flag", name="staff_visit_sms_flag")
async def visit_sms_flag(
    booking_id: SystemId, act: Act, sms_flag: Annotated[str, Form(pattern="^(on|off)$")]
) -> Response:
    """S10: staff turn the SMS off or on again; S8: never off for a booking made in 1177."""
    on = sms_flag == "on"
    return await act.on_visit(
        booking_id, "sms_flag", lambda target: application.set_sms_flag(act.ctx.client, target, on),
        f"SMS-påminnelsen är {'påslagen' if on else 'avstängd'}.",
    )  # fmt: skip


@router.post("/visits/{booking_id}/cancel", name="staff_cancel_visit")
async def cancel_visit(booking_id: SystemId, act: Act, reason: Text = "") -> Response:
    """S15: a cancelled visit gets no reminder."""
    return await act.on_visit(
        booking_id, "cancel", lambda t: application.cancel(act.ctx.client, t, reason=reason.strip() or None),
        "Besöket är avbokat: ingen påminnelse skickas.",
    )  # fmt: skip


@router.post("/visits/{booking_id}/reply-handled", name="staff_visit_reply_handled")
async def visit_reply_handled(booking_id: SystemId, act: Act) -> Response:
    """Issue 28: the patient's reply (AVBOKA, or one we could not read) is handled: off Uppföljning."""
    return await act.on_visit(
        booking_id, "reply_handled", lambda target: application.reply_handled(act.ctx.client, target),
        "Svaret är hanterat.",
    )  # fmt: skip


# --- an SMS reply no reminder took (issue 28) ---


@router.post("/clinics/{clinic_id}/replies/{inbound_id}/handled", name="staff_reply_handled")
async def reply_handled(
    request: Request, clinic_id: SystemId, inbound_id: InboundId, user: User, ctx: With
) -> Response:
    """The reply on the clinic's list is handled: kept, off the list; audited as `web.replies.handled`."""
    async with ctx.audited(user.caller, "web.replies.handled", clinic_id=clinic_id):
        user.caller.require_clinic(clinic_id)
        application.check_clinic(ctx.stores.directory, clinic_id)
        await asyncio.to_thread(staff_reply_handled, ctx.stores.replies, clinic_id, inbound_id)
    flash(request, "Svaret är hanterat och borttaget från listan.")
    return RedirectResponse(request.url_for("staff_replies", clinic_id=clinic_id), status_code=303)
