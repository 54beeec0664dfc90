"""Demo: load the demo directory, book a handful of visits and create care invitations and booking
requests in different states, so the Web UI and the work lists (`starter.py worklist --clinic kir`)
show workflows at once.

Run by `python3 dev.py run --demo` (or `python3 dev.py cli demo` against a running server). Booking and
request ids are fixed, so running it twice books and creates nothing new.
"""

from __future__ import annotations

import contextlib
from collections.abc import Awaitable
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

from temporalio.client import Client

import application as app
from adapters.directory import SqliteDirectory
from adapters.mailbox import SqlMailbox
from application import offered_times as app_slots
from application import targets
from application.offered_times import SlotStore
from contracts.workflow_ids import booking_reminder_id
from demo import data as fx
from domain.booking import Channel, GroupBooking, GroupParticipant, VisitBooking
from domain.invitation import CareInvitation, DateWindow, InvitationBooking, PatientInfo
from domain.invitation_offer import Slot
from domain.timing import at_local, local_date
from infrastructure.config import Settings


def _local(days: int, hour: int, minute: int = 0) -> datetime:
    return at_local(local_date(datetime.now(UTC)) + timedelta(days=days), time(hour, minute))


DEMO_REPLY = "demo-reply"
"""The demo visit whose reminder goes from the reply number of clinic `ort` at once (issue 28)."""


def demo_visits() -> list[VisitBooking]:
    """Visits in different situations: scheduled, sent at once, skipped, team visit (S11), series (S12)."""
    general = {"clinic_id": fx.CLINIC_CONNECTED, "reception_id": fx.RECEPTION_GENERAL}
    soon = datetime.now(UTC).replace(microsecond=0) + timedelta(hours=3)
    return [
        VisitBooking(booking_id="demo-adult", patient_id=fx.PNR_ADULT_1177, start=_local(2, 10), **general),
        VisitBooking(booking_id="demo-soon", patient_id=fx.PNR_ADULT_VAS, start=soon, **general),
        VisitBooking(booking_id="demo-child", patient_id=fx.PNR_CHILD, start=_local(1, 14, 30), **general),
        VisitBooking(
            booking_id="demo-hidden",
            patient_id=fx.PNR_ADULT_1177,
            clinic_id=fx.CLINIC_CONNECTED,
            reception_id=fx.RECEPTION_HIDDEN,
            start=_local(3, 8, 15),
            channel=Channel.SELF_1177,
        ),
        VisitBooking(
            booking_id="demo-quick",
            patient_id=fx.PNR_ADULT_VAS,
            start=_local(1, 11),
            channel="an27_quick",
            **general,
        ),
        VisitBooking(
            booking_id="demo-onh",
            patient_id=fx.PNR_ADULT_1177,
            clinic_id=fx.CLINIC_NOT_CONNECTED,
            reception_id=fx.RECEPTION_NOT_CONNECTED,
            start=_local(4, 9),
        ),
        # Issue 28: reminded at once from the clinic's reply number, so a scripted reply can cancel it.
        VisitBooking(
            booking_id=DEMO_REPLY,
            patient_id=fx.PNR_ADULT_1177,
            clinic_id=fx.CLINIC_REPLIES,
            reception_id=fx.RECEPTION_REPLIES,
            start=soon,
        ),
        *[
            VisitBooking(
                booking_id=f"demo-team-hosp-{n}",
                patient_id=fx.PNR_CHILD,
                start=_local(5, 13),
                team_visit_id="demo-team",
                sms_flag=n == 1,
                **general,
            )
            for n in (1, 2, 3)
        ],
        *[
            VisitBooking(
                booking_id=f"demo-series-{n}",
                patient_id=fx.PNR_ADULT_VAS,
                start=_local(2 + 7 * n, 9, 30),
                series_id="demo-series",
                **general,
            )
            for n in (0, 1, 2)
        ],
    ]


def demo_group() -> GroupBooking:
    return GroupBooking(
        group_booking_id="demo-group",
        clinic_id=fx.CLINIC_CONNECTED,
        reception_id=fx.RECEPTION_GENERAL,
        start=_local(3, 15),
        participants=[
            GroupParticipant(booking_id=f"demo-group-{n}", patient_id=pid)
            for n, pid in enumerate([fx.PNR_ADULT_1177, fx.PNR_ADULT_VAS, fx.PNR_ADULT_WITHDRAWN])
        ],
    )


def _day(days: int) -> date:
    return local_date(datetime.now(UTC)) + timedelta(days=days)


def _request(request_id: str, patient_id: str, first: int, last: int, **fields: Any) -> CareInvitation:
    """A request at the connected clinic whose window is `first` to `last` days from today."""
    values: dict[str, Any] = {
        "request_id": request_id,
        "referral_id": f"{request_id}-ref",
        "patient_id": patient_id,
        "clinic_id": fx.CLINIC_CONNECTED,
        "reception_id": fx.RECEPTION_GENERAL,
        "visit_kind": "new",
        "visit_type": "KIR LÄK nybesök",
        "reason": "Ljumskbråck",
        "window": DateWindow(first_date=_day(first), last_date=_day(last)),
    }
    return CareInvitation.model_validate(values | fields)


DEMO_BOOKED = "demo-booked"
"""The demo invitation that the patient books in 1177, inside its window (V7–V9)."""
DEMO_ROUTED = "demo-routed"
"""The demo invitation that walks its clinic's routing plan while unread (issue 27)."""
DEMO_MAILBOX_HOLDERS = (fx.PNR_ADULT_1177,)
"""The demo patients the embedded FaR register knows a digital mailbox of."""


def demo_requests() -> list[CareInvitation]:
    """Care invitations and a plain booking request at the connected clinic, for its work lists (V12),
    and one at the ÖNH clinic that walks its routing plan."""
    return [
        # Bokningsbegäran: a plain request without a referral; sends nothing until converted (V11).
        _request("demo-plain", fx.PNR_ADULT_1177, 30, 60, referral_id=None, invitation=False),
        # Window in 10 weeks: scheduled, the invitation goes out 6 weeks before it (V3).
        _request(
            "demo-far",
            fx.PNR_ADULT_1177,
            70,
            100,
            weekdays=["mon", "wed"],
            time_of_day="afternoon",
            patient_info=PatientInfo(visit_length="ca 45 minuter", tests_before_visit="Blodprov (Hb)"),
        ),
        # Window in 3 weeks: invited at once (V4), in the 1177 inbox (the patient uses 1177, V5).
        _request("demo-near", fx.PNR_ADULT_1177, 21, 35),
        # The patient does not use 1177: a letter (a PDF in the data folder) instead (V5).
        _request(
            "demo-letter",
            fx.PNR_ADULT_VAS,
            21,
            35,
            visit_kind="follow_up",
            visit_type="KIR LÄK återbesök",
            reason="Kontroll efter operation",
        ),
        # Booked by the patient in 1177 inside the window (V8): closed, with its SMS reminder (V9).
        _request(DEMO_BOOKED, fx.PNR_ADULT_1177, 14, 28, time_of_day="morning"),
        # At the ÖNH clinic, whose routing plan (issue 27) walks on while the 1177 message is unread:
        # an SMS notice, the digital mailbox (the patient has one, `DEMO_MAILBOX_HOLDERS`), a letter.
        _request(
            DEMO_ROUTED,
            fx.PNR_ADULT_1177,
            21,
            35,
            clinic_id=fx.CLINIC_NOT_CONNECTED,
            reception_id=fx.RECEPTION_NOT_CONNECTED,
            visit_type="ÖNH LÄK nybesök",
            reason="Hörselnedsättning",
        ),
    ]


def demo_invitation_booking() -> InvitationBooking:
    """The patient's booking of `DEMO_BOOKED`: 09:00 on the window's second day (inside it, V8)."""
    return InvitationBooking(
        booking_id="demo-booked-visit", start=at_local(_day(15), time(9, 0)), by="patient"
    )


async def _kept(booking: Awaitable[app.Started], workflow_id: str) -> str:
    """A demo id booked by an earlier run, at times relative to that run's now: kept as it was (the
    service refuses other content under a used id)."""
    try:
        return (await booking).workflow_id
    except app.ConflictError:
        return workflow_id


def demo_slots() -> list[Slot]:
    """The demo reception's free times for `KIR LÄK nybesök` in the first two weeks of `demo-far`'s
    window (70–100 days ahead, Mondays and Wednesdays, afternoons), 45 minutes each, at 09:00 and
    14:00 every weekday: the afternoons of Mondays and Wednesdays are its offer (V8)."""
    slots = []
    for days in range(70, 84):
        day = _day(days)
        if day.weekday() >= 5:
            continue
        for hour in (9, 14):
            start = at_local(day, time(hour, 0))
            slots.append(
                Slot(
                    slot_id=f"demo-slot-{day:%Y%m%d}-{hour:02d}",
                    clinic_id=fx.CLINIC_CONNECTED,
                    reception_id=fx.RECEPTION_GENERAL,
                    visit_type="KIR LÄK nybesök",
                    start=start,
                    end=start + timedelta(minutes=45),
                )
            )
    return slots


async def load_and_book(
    client: Client,
    settings: Settings,
    directory: SqliteDirectory,
    slots: SlotStore | None = None,
    mailbox: SqlMailbox | None = None,
) -> dict[str, Any]:
    """The demo directory, visits, requests and (given the stores) the demo reception's free slots and
    the digital mailboxes the embedded FaR register knows."""
    summary = directory.load_document(fx.demo_document())
    for patient_id in DEMO_MAILBOX_HOLDERS if mailbox is not None else ():
        mailbox.register(patient_id)
    for slot in demo_slots() if slots is not None else []:
        await app_slots.put_slot(slots, slot)
    queue = settings.task_queue
    started = [
        await _kept(app.book_visit(client, queue, directory, v), app.scoped_workflow_id(v))
        for v in demo_visits()
    ]
    group = demo_group()
    started.append(
        await _kept(
            app.book_group(client, queue, directory, group),
            app.scoped_workflow_id(group),
        )
    )
    started += [
        await _kept(app.create_request(client, queue, directory, r), app.scoped_workflow_id(r))
        for r in demo_requests()
    ]
    booking = demo_invitation_booking()
    clinic_id = next(r.clinic_id for r in demo_requests() if r.request_id == DEMO_BOOKED)
    with contextlib.suppress(app.InputError):  # booked by an earlier run of the demo: nothing to do
        booked = app.Target(targets.request(DEMO_BOOKED), (clinic_id,))
        await app.book_invitation(client, booked, booking)
    started.append(booking_reminder_id(clinic_id, booking.booking_id))
    return {"directory": summary.model_dump(), "workflows": sorted(set(started))}
