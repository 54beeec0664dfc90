"""The command line's commands on patients' messages: each parses its arguments, calls the application
layer and returns what to print. Bad input is refused before anything connects to Temporal. A visit,
group or request is named by the id its clinic issued (`application.targets`), looked up at `--clinic`
or at whichever clinic of the directory issued it; the application finds the workflow."""

from __future__ import annotations

import argparse
from collections.abc import Awaitable, Callable
from datetime import date, datetime
from pathlib import Path
from typing import Any

import application
from application import targets
from contracts.workflow_ids import IssuedId
from domain.booking import GroupBooking, VisitBooking
from domain.invitation import (
    CareInvitation,
    Contact,
    Conversion,
    DateWindow,
    InvitationBooking,
    RequestChange,
)
from entrypoints.cli.audit import note
from entrypoints.strict import validate_json
from infrastructure.config import Settings
from infrastructure.stores import Stores
from infrastructure.temporal_client import connect

Command = Callable[[argparse.Namespace, Settings, Stores], Awaitable[Any]]


def _target(args: argparse.Namespace, stores: Stores, issued: IssuedId) -> application.Target:
    """An issued id at `--clinic`, or at whichever clinic of the directory issued it (the command line
    acts for every clinic; two that did: name one); the command's audit row is told what is found."""
    if args.clinic:
        clinics = [application.check_system_id(args.clinic.strip(), "--clinic")]
        note(args, workflow_id=application.asked_for(issued, clinics)[0])
    else:
        clinics = application.clinic_ids(stores.directory)
    return application.Target(issued, tuple(clinics), seen=getattr(args, "audit", None))


# --- visits, team visits (S11) and groups (S13) ---


def _visit_from_args(args: argparse.Namespace) -> VisitBooking:
    if args.file:
        return validate_json(VisitBooking, Path(args.file).read_bytes())
    missing = [
        f for f in ("booking_id", "patient_id", "clinic", "reception", "start") if not getattr(args, f)
    ]
    if missing:
        raise application.InputError("missing " + ", ".join("--" + m.replace("_", "-") for m in missing))
    return VisitBooking(
        booking_id=args.booking_id,
        patient_id=args.patient_id,
        clinic_id=args.clinic,
        reception_id=args.reception,
        start=_parse_start(args.start),
        channel=args.channel,
        sms_flag=not args.no_sms,
        team_visit_id=args.team_visit_id,
        series_id=args.series_id,
    )


async def cmd_visit_book(args: argparse.Namespace, settings: Settings, stores: Stores) -> Any:
    booking = _visit_from_args(args)
    note(args, workflow_id=application.scoped_workflow_id(booking), clinic_id=booking.clinic_id)
    directory = stores.directory
    application.check_visit_booking(directory, booking)  # bad input is refused before anything connects
    booked = await application.book_visit(await connect(settings), settings.task_queue, directory, booking)
    note(args, workflow_id=booked.workflow_id)  # a workflow from before ids were scoped keeps its id
    return {"workflow_id": booked.workflow_id}


def _visit(args: argparse.Namespace) -> IssuedId:
    """The visit named by --booking-id or --team-visit-id (refused before anything connects)."""
    if args.team_visit_id:
        return targets.team_visit(application.check_system_id(args.team_visit_id, "--team-visit-id"))
    if args.booking_id:
        return targets.visit(application.check_system_id(args.booking_id, "--booking-id"))
    raise application.InputError("name the visit: a booking id, or a team visit id")


def _team_booking(args: argparse.Namespace) -> str | None:
    """For a team visit, the HOSP booking the change is about."""
    return args.booking_id if args.team_visit_id else None


async def cmd_visit_reschedule(args: argparse.Namespace, settings: Settings, stores: Stores) -> Any:
    visit = _visit(args)
    start = _future_start(args.start)  # refused before anything connects
    client = await connect(settings)
    return await application.reschedule(client, _target(args, stores, visit), start)


async def cmd_visit_sms_flag(args: argparse.Namespace, settings: Settings, stores: Stores) -> Any:
    visit = _visit(args)
    client = await connect(settings)
    target = _target(args, stores, visit)
    return await application.set_sms_flag(client, target, args.flag == "on", _team_booking(args))


async def cmd_visit_cancel(args: argparse.Namespace, settings: Settings, stores: Stores) -> Any:
    visit = _visit(args)
    client = await connect(settings)
    target = _target(args, stores, visit)
    workflow_id = await application.cancel(client, target, _team_booking(args), args.reason)
    return {"workflow_id": workflow_id, "cancel": "sent"}


async def cmd_visit_status(args: argparse.Namespace, settings: Settings, stores: Stores) -> Any:
    visit = _visit(args)
    client = await connect(settings)
    return await application.status(client, _target(args, stores, visit))


async def cmd_group_book(args: argparse.Namespace, settings: Settings, stores: Stores) -> Any:
    group = validate_json(GroupBooking, Path(args.file).read_bytes())
    note(args, workflow_id=application.scoped_workflow_id(group), clinic_id=group.clinic_id)
    directory = stores.directory
    application.check_group(directory, group)  # bad input is refused before anything connects
    booked = await application.book_group(await connect(settings), settings.task_queue, directory, group)
    note(args, workflow_id=booked.workflow_id)  # a workflow from before ids were scoped keeps its id
    return {"workflow_id": booked.workflow_id}


def _group(args: argparse.Namespace) -> IssuedId:
    return targets.group(application.check_system_id(args.group_booking_id, "--group-booking-id"))


async def cmd_group_reschedule(args: argparse.Namespace, settings: Settings, stores: Stores) -> Any:
    group = _group(args)
    start = _future_start(args.start)  # refused before anything connects
    client = await connect(settings)
    return await application.reschedule(client, _target(args, stores, group), start)


async def cmd_group_sms_flag(args: argparse.Namespace, settings: Settings, stores: Stores) -> Any:
    group = _group(args)
    client = await connect(settings)
    return await application.set_sms_flag(client, _target(args, stores, group), args.flag == "on")


async def cmd_group_cancel(args: argparse.Namespace, settings: Settings, stores: Stores) -> Any:
    group = _group(args)
    client = await connect(settings)
    target = _target(args, stores, group)
    workflow_id = await application.cancel(client, target, args.booking_id, args.reason)
    return {"workflow_id": workflow_id, "cancel": "sent"}


async def cmd_group_status(args: argparse.Namespace, settings: Settings, stores: Stores) -> Any:
    group = _group(args)
    client = await connect(settings)
    return await application.status(client, _target(args, stores, group))


# --- care invitations and booking requests (V1-V14) ---


def _request(args: argparse.Namespace) -> IssuedId:
    return targets.request(application.check_system_id(args.request_id.strip(), "--request-id"))


def _parse_date(text: str, option: str) -> date:
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise application.InputError(f"{option} must be an ISO date, e.g. 2027-05-03") from None


def _window_from_args(args: argparse.Namespace) -> DateWindow | None:
    """`--first-date` and `--last-date` together, or neither; a window that has ended is refused."""
    if args.first_date is None and args.last_date is None:
        return None
    if args.first_date is None or args.last_date is None:
        raise application.InputError("give both --first-date and --last-date to change the window")
    first, last = _parse_date(args.first_date, "--first-date"), _parse_date(args.last_date, "--last-date")
    if first > last:
        raise application.InputError(f"--first-date {first} is after --last-date {last}")
    window = DateWindow(first_date=first, last_date=last)
    application.check_window(window)  # before connecting (the use cases check it again)
    return window


def _weekdays_from_args(args: argparse.Namespace) -> list[str] | None:
    """`--weekdays mon,wed`; `--weekdays ""` removes the weekday limit; left out keeps it."""
    if args.weekdays is None:
        return None
    return [day.strip().lower() for day in args.weekdays.split(",") if day.strip()]


def _limits(args: argparse.Namespace) -> dict[str, Any]:
    return {
        "window": _window_from_args(args),
        "weekdays": _weekdays_from_args(args),
        "time_of_day": args.time_of_day,
    }


async def cmd_invitation_create(args: argparse.Namespace, settings: Settings, stores: Stores) -> Any:
    request = validate_json(CareInvitation, Path(args.file).read_bytes())
    note(args, workflow_id=application.scoped_workflow_id(request), clinic_id=request.clinic_id)
    directory = stores.directory
    application.check_request(directory, request)  # bad input is refused before anything connects
    made = await application.create_request(await connect(settings), settings.task_queue, directory, request)
    note(args, workflow_id=made.workflow_id)  # a workflow from before ids were scoped keeps its id
    return {"workflow_id": made.workflow_id, "invitation": request.invitation}


async def cmd_invitation_convert(args: argparse.Namespace, settings: Settings, stores: Stores) -> Any:
    request = _request(args)
    conversion = Conversion(**_limits(args), referral_id=args.referral_id)  # refused before connecting
    client = await connect(settings)
    return await application.convert_request(client, _target(args, stores, request), conversion)


async def cmd_invitation_change(args: argparse.Namespace, settings: Settings, stores: Stores) -> Any:
    request = _request(args)
    change = RequestChange(**_limits(args))  # refused before anything connects
    client = await connect(settings)
    return await application.change_request(client, _target(args, stores, request), change)


async def cmd_invitation_book(args: argparse.Namespace, settings: Settings, stores: Stores) -> Any:
    request = _request(args)
    booking = InvitationBooking(booking_id=args.booking_id, start=_future_start(args.start), by=args.by)
    client = await connect(settings)
    return await application.book_invitation(client, _target(args, stores, request), booking)


async def cmd_invitation_contacted(args: argparse.Namespace, settings: Settings, stores: Stores) -> Any:
    request = _request(args)
    contact = Contact(note=args.note)
    client = await connect(settings)
    workflow_id = await application.record_contact(client, _target(args, stores, request), contact)
    return {"workflow_id": workflow_id, "contacted": "sent"}


async def cmd_invitation_cancel(args: argparse.Namespace, settings: Settings, stores: Stores) -> Any:
    request = _request(args)  # refused before anything connects
    client = await connect(settings)
    workflow_id = await application.cancel(client, _target(args, stores, request), None, args.reason)
    return {"workflow_id": workflow_id, "cancel": "sent"}


async def cmd_invitation_status(args: argparse.Namespace, settings: Settings, stores: Stores) -> Any:
    request = _request(args)  # refused before anything connects
    client = await connect(settings)
    return await application.status(client, _target(args, stores, request))


async def cmd_worklist(args: argparse.Namespace, settings: Settings, stores: Stores) -> Any:
    clinic_id = application.check_system_id(args.clinic.strip(), "--clinic")
    application.check_clinic(stores.directory, clinic_id)
    return await application.work_lists(await connect(settings), clinic_id)


def _parse_start(text: str) -> datetime:
    try:
        start = datetime.fromisoformat(text)
    except ValueError:
        raise application.InputError(
            "--start must be an ISO 8601 time, e.g. 2027-03-29T10:00:00+02:00"
        ) from None
    if start.tzinfo is None:
        raise application.InputError("--start needs a UTC offset, e.g. 2027-03-29T10:00:00+02:00")
    return start


def _future_start(text: str) -> datetime:
    """A parsed `--start` that has not passed yet (checked before connecting)."""
    start = _parse_start(text)
    application.check_future(start)
    return start
