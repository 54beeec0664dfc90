"""The command line's commands: each parses its arguments, calls the application layer and returns
what to print. Bad input is refused before anything connects to Temporal."""

from __future__ import annotations

import argparse
import asyncio
from collections.abc import Awaitable, Callable
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

from temporalio.client import Client

import application as app
from adapters.audit import ApiClient
from adapters.directory import load_directory_file
from contracts.workflow_ids import IdKind, IssuedId, group_booking_id, invitation_id, reminder_id
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
from infrastructure.namespace_setup import prepare_namespace
from infrastructure.stores import Stores
from infrastructure.temporal_client import connect

Command = Callable[[argparse.Namespace, Settings, Stores], Awaitable[Any]]


async def cmd_directory_load(args: argparse.Namespace, settings: Settings, stores: Stores) -> Any:
    return load_directory_file(Path(args.file), stores.directory)


async def cmd_directory_withdraw(args: argparse.Namespace, settings: Settings, stores: Stores) -> Any:
    source = "1177" if args.clinic is None else "VAS"
    count = stores.directory.withdraw_consent(args.patient_id, args.clinic, source, datetime.now(UTC))
    return {"withdrawn": count}


def _visit_from_args(args: argparse.Namespace) -> VisitBooking:
    if args.file:
        return validate_json(VisitBooking, Path(args.file).read_bytes())
    missing = [
        f for f in ("booking_id", "patient_id", "clinic", "reception", "start") if not getattr(args, f)
    ]
    if missing:
        raise app.InputError("missing " + ", ".join("--" + m.replace("_", "-") for m in missing))
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
    note(args, workflow_id=reminder_id(booking), clinic_id=booking.clinic_id)
    directory = stores.directory
    app.check_visit_booking(directory, booking)  # bad input is refused before anything connects
    booked = await app.book_visit(await connect(settings), settings.task_queue, directory, booking)
    note(args, workflow_id=booked.workflow_id)  # a workflow from before ids were scoped keeps its id
    return {"workflow_id": booked.workflow_id}


async def _find(args: argparse.Namespace, client: Client, stores: Stores, issued: IssuedId) -> app.Found:
    """The workflow of an issued id at `--clinic`, or at whichever clinic of the directory issued it
    (the command line acts for every clinic; two that did: name one); noted for the audit row."""
    if args.clinic:
        clinics = [app.check_system_id(args.clinic.strip(), "--clinic")]
        note(args, workflow_id=issued.at(clinics[0]))
    else:
        clinics = [c.clinic_id for c in stores.directory.clinics()]
    found = await app.find(client, issued, clinics)
    note(args, workflow_id=found.workflow_id, clinic_id=found.status.clinic_id)
    return found


def _visit(args: argparse.Namespace) -> IssuedId:
    """The visit named by --booking-id or --team-visit-id (refused before anything connects)."""
    if args.team_visit_id:
        return IssuedId(IdKind.TEAM_VISIT, app.check_system_id(args.team_visit_id, "--team-visit-id"))
    if args.booking_id:
        return IssuedId(IdKind.VISIT, app.check_system_id(args.booking_id, "--booking-id"))
    raise app.InputError("name the visit: a booking id, or a team visit id")


async def _visit_target(args: argparse.Namespace, stores: Stores, client: Client) -> tuple[str, str | None]:
    """The workflow id and, for a team visit, the HOSP booking the change is about."""
    found = await _find(args, client, stores, _visit(args))
    return found.workflow_id, (args.booking_id if args.team_visit_id else None)


async def cmd_visit_reschedule(args: argparse.Namespace, settings: Settings, stores: Stores) -> Any:
    _visit(args)
    start = _future_start(args.start)  # refused before anything connects
    client = await connect(settings)
    workflow_id, _ = await _visit_target(args, stores, client)
    return await app.reschedule(client, workflow_id, start)


async def cmd_visit_sms_flag(args: argparse.Namespace, settings: Settings, stores: Stores) -> Any:
    _visit(args)
    client = await connect(settings)
    workflow_id, booking_id = await _visit_target(args, stores, client)
    return await app.set_sms_flag(client, workflow_id, args.flag == "on", booking_id)


async def cmd_visit_cancel(args: argparse.Namespace, settings: Settings, stores: Stores) -> Any:
    _visit(args)
    client = await connect(settings)
    workflow_id, booking_id = await _visit_target(args, stores, client)
    await app.cancel(client, workflow_id, booking_id, args.reason)
    return {"workflow_id": workflow_id, "cancel": "sent"}


async def cmd_visit_status(args: argparse.Namespace, settings: Settings, stores: Stores) -> Any:
    _visit(args)
    client = await connect(settings)
    workflow_id, _ = await _visit_target(args, stores, client)
    return await app.status(client, workflow_id)


async def cmd_group_book(args: argparse.Namespace, settings: Settings, stores: Stores) -> Any:
    group = validate_json(GroupBooking, Path(args.file).read_bytes())
    clinic_id = group.clinic_id
    note(args, workflow_id=group_booking_id(clinic_id, group.group_booking_id), clinic_id=clinic_id)
    directory = stores.directory
    app.check_group(directory, group)  # bad input is refused before anything connects
    booked = await app.book_group(await connect(settings), settings.task_queue, directory, group)
    note(args, workflow_id=booked.workflow_id)  # a workflow from before ids were scoped keeps its id
    return {"workflow_id": booked.workflow_id}


def _group_ref(args: argparse.Namespace) -> IssuedId:
    return IssuedId(IdKind.GROUP, app.check_system_id(args.group_booking_id, "--group-booking-id"))


async def _group(args: argparse.Namespace, stores: Stores, client: Client) -> str:
    return (await _find(args, client, stores, _group_ref(args))).workflow_id


async def cmd_group_reschedule(args: argparse.Namespace, settings: Settings, stores: Stores) -> Any:
    _group_ref(args)
    start = _future_start(args.start)  # refused before anything connects
    client = await connect(settings)
    return await app.reschedule(client, await _group(args, stores, client), start)


async def cmd_group_sms_flag(args: argparse.Namespace, settings: Settings, stores: Stores) -> Any:
    _group_ref(args)
    client = await connect(settings)
    return await app.set_sms_flag(client, await _group(args, stores, client), args.flag == "on")


async def cmd_group_cancel(args: argparse.Namespace, settings: Settings, stores: Stores) -> Any:
    _group_ref(args)
    client = await connect(settings)
    workflow_id = await _group(args, stores, client)
    await app.cancel(client, workflow_id, args.booking_id, args.reason)
    return {"workflow_id": workflow_id, "cancel": "sent"}


async def cmd_group_status(args: argparse.Namespace, settings: Settings, stores: Stores) -> Any:
    _group_ref(args)
    client = await connect(settings)
    return await app.status(client, await _group(args, stores, client))


# --- care invitations and booking requests (V1-V14) ---


def _request_id(args: argparse.Namespace) -> str:
    return app.check_system_id(args.request_id.strip(), "--request-id")


async def _request(args: argparse.Namespace, stores: Stores, client: Client) -> str:
    issued = IssuedId(IdKind.REQUEST, _request_id(args))
    return (await _find(args, client, stores, issued)).workflow_id


def _parse_date(text: str, option: str) -> date:
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise app.InputError(f"{option} must be an ISO date, e.g. 2027-05-03") from None


def _window_from_args(args: argparse.Namespace) -> DateWindow | None:
    """`--first-date` and `--last-date` together, or neither; a window that has ended is refused."""
    if args.first_date is None and args.last_date is None:
        return None
    if args.first_date is None or args.last_date is None:
        raise app.InputError("give both --first-date and --last-date to change the window")
    first, last = _parse_date(args.first_date, "--first-date"), _parse_date(args.last_date, "--last-date")
    if first > last:
        raise app.InputError(f"--first-date {first} is after --last-date {last}")
    window = DateWindow(first_date=first, last_date=last)
    app.check_window(window)  # before connecting (the use cases check it again)
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
    note(args, workflow_id=invitation_id(request.clinic_id, request.request_id), clinic_id=request.clinic_id)
    directory = stores.directory
    app.check_request(directory, request)  # bad input is refused before anything connects
    made = await app.create_request(await connect(settings), settings.task_queue, directory, request)
    note(args, workflow_id=made.workflow_id)  # a workflow from before ids were scoped keeps its id
    return {"workflow_id": made.workflow_id, "invitation": request.invitation}


async def cmd_invitation_convert(args: argparse.Namespace, settings: Settings, stores: Stores) -> Any:
    _request_id(args)
    conversion = Conversion(**_limits(args), referral_id=args.referral_id)  # refused before connecting
    client = await connect(settings)
    return await app.convert_request(client, await _request(args, stores, client), conversion)


async def cmd_invitation_change(args: argparse.Namespace, settings: Settings, stores: Stores) -> Any:
    _request_id(args)
    change = RequestChange(**_limits(args))  # refused before anything connects
    client = await connect(settings)
    return await app.change_request(client, await _request(args, stores, client), change)


async def cmd_invitation_book(args: argparse.Namespace, settings: Settings, stores: Stores) -> Any:
    _request_id(args)
    booking = InvitationBooking(booking_id=args.booking_id, start=_future_start(args.start), by=args.by)
    client = await connect(settings)
    return await app.book_invitation(client, await _request(args, stores, client), booking)


async def cmd_invitation_contacted(args: argparse.Namespace, settings: Settings, stores: Stores) -> Any:
    _request_id(args)
    contact = Contact(note=args.note)
    client = await connect(settings)
    workflow_id = await _request(args, stores, client)
    await app.record_contact(client, workflow_id, contact)
    return {"workflow_id": workflow_id, "contacted": "sent"}


async def cmd_invitation_cancel(args: argparse.Namespace, settings: Settings, stores: Stores) -> Any:
    _request_id(args)  # refused before anything connects
    client = await connect(settings)
    workflow_id = await _request(args, stores, client)
    await app.cancel(client, workflow_id, None, args.reason)
    return {"workflow_id": workflow_id, "cancel": "sent"}


async def cmd_invitation_status(args: argparse.Namespace, settings: Settings, stores: Stores) -> Any:
    _request_id(args)  # refused before anything connects
    client = await connect(settings)
    return await app.status(client, await _request(args, stores, client))


async def cmd_worklist(args: argparse.Namespace, settings: Settings, stores: Stores) -> Any:
    clinic_id = app.check_system_id(args.clinic.strip(), "--clinic")
    app.check_clinic(stores.directory, clinic_id)
    return await app.work_lists(await connect(settings), clinic_id)


async def cmd_demo(args: argparse.Namespace, settings: Settings, stores: Stores) -> Any:
    from demo.bookings import load_and_book

    return await load_and_book(await connect(settings), settings, stores.directory)


def _parse_start(text: str) -> datetime:
    try:
        start = datetime.fromisoformat(text)
    except ValueError:
        raise app.InputError("--start must be an ISO 8601 time, e.g. 2027-03-29T10:00:00+02:00") from None
    if start.tzinfo is None:
        raise app.InputError("--start needs a UTC offset, e.g. 2027-03-29T10:00:00+02:00")
    return start


def _future_start(text: str) -> datetime:
    """A parsed `--start` that has not passed yet (checked before connecting)."""
    start = _parse_start(text)
    app.check_future(start)
    return start


async def cmd_admin_prepare_namespace(args: argparse.Namespace, settings: Settings, stores: Stores) -> Any:
    client = await connect(settings)
    added = await prepare_namespace(client, settings.namespace)
    return {"namespace": settings.namespace, "search_attributes_added": added}


async def cmd_admin_migrate(args: argparse.Namespace, settings: Settings, stores: Stores) -> Any:
    if not settings.database_url:
        raise app.InputError("set PM_DATABASE_URL to the service's PostgreSQL database to migrate it")
    applied = await asyncio.to_thread(stores.migrate)
    return {"migrations_applied": applied}


async def cmd_api_key_create(args: argparse.Namespace, settings: Settings, stores: Stores) -> Any:
    """A new API key for a system: printed once, stored only as its hash."""
    client_id = app.check_system_id(args.client_id.strip(), "--client-id")
    clinics = ["*"] if args.all_clinics else [app.check_system_id(c.strip(), "--clinic") for c in args.clinic]
    if not clinics:
        raise app.InputError(
            "name the clinics the client may act for: --clinic ID (repeatable) or --all-clinics"
        )
    token = await asyncio.to_thread(stores.api_keys.create, ApiClient(client_id=client_id, clinics=clinics))
    return {"client_id": client_id, "clinics": clinics, "api_key": token}


async def cmd_api_key_revoke(args: argparse.Namespace, settings: Settings, stores: Stores) -> Any:
    client_id = app.check_system_id(args.client_id.strip(), "--client-id")
    return {"client_id": client_id, "revoked": await asyncio.to_thread(stores.api_keys.revoke, client_id)}


async def cmd_sessions_revoke(args: argparse.Namespace, settings: Settings, stores: Stores) -> Any:
    """End every staff-page session of a user (e.g. a lost laptop, a user who left) on every replica."""
    user_id = args.user.strip().removeprefix("staff:")
    if not user_id or len(user_id) > 200 or not user_id.isprintable():
        raise app.InputError("--user: the staff user's id, as the audit trail names it (staff:<id>)")
    return {"user": user_id, "revoked": await asyncio.to_thread(stores.staff_sessions.revoke_user, user_id)}


async def cmd_audit(args: argparse.Namespace, settings: Settings, stores: Stores) -> Any:
    """The audit trail, newest last: who read or changed which workflow, when, with which outcome."""
    workflow_id = args.workflow_id and app.check_workflow_id(args.workflow_id.strip(), "--workflow-id")
    found = await asyncio.to_thread(stores.audit.records, workflow_id=workflow_id, limit=args.limit)
    return [r.model_dump(mode="json") for r in found]
