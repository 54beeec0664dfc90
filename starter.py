"""Command line for booking systems, staff and scripts; and `connect()` for Python callers (SPEC §5).

    python starter.py directory load directory.json
    python starter.py visit book --booking-id B1 --patient-id 19121212-1212 --clinic kir \
        --reception kir-allm --start 2027-03-29T10:00:00+02:00
    python starter.py visit reschedule --booking-id B1 --start 2027-03-30T10:00:00+02:00
    python starter.py --json visit status --booking-id B1
    python starter.py invitation create invitation.json
    python starter.py invitation book --request-id R1 --booking-id B2 \
        --start 2027-05-03T09:00:00+02:00 --by patient
    python starter.py worklist --clinic kir

Bad input gets one line on stderr saying what is wrong, exit code 2, and nothing is started or changed.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import sys
from collections.abc import Awaitable, Callable
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any, NoReturn

from pydantic import BaseModel, TypeAdapter, ValidationError
from temporalio.client import Client

import operations as ops
from config import Settings
from connection import connect_client
from domain.booking import GroupBooking, VisitBooking
from domain.identity import InvalidPatientId
from domain.invitation import (
    CareInvitation,
    Contact,
    Conversion,
    DateWindow,
    InvitationBooking,
    RequestChange,
    TimeOfDay,
    check_new_window,
)
from domain.timing import local_date, to_local
from domain.types import SystemId, describe_validation_error
from security.keyring import KeyringError, MissingKeyError
from services.directory import DirectoryLoadError, SqliteDirectory, UnknownPatientError, load_directory_file
from workflows.ids import group_booking_id, invitation_id


async def connect(settings: Settings | None = None) -> Client:
    """A Temporal client configured exactly as the worker's (address, namespace, TLS, data converter
    with payload encryption)."""
    return await connect_client(settings or Settings.from_env())


# --- commands ---

Command = Callable[[argparse.Namespace, Settings], Awaitable[Any]]


def _directory(settings: Settings) -> SqliteDirectory:
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    return SqliteDirectory(settings.directory_path)


async def cmd_directory_load(args: argparse.Namespace, settings: Settings) -> Any:
    return load_directory_file(Path(args.file), _directory(settings))


async def cmd_directory_withdraw(args: argparse.Namespace, settings: Settings) -> Any:
    source = "1177" if args.clinic is None else "VAS"
    count = _directory(settings).withdraw_consent(args.patient_id, args.clinic, source, datetime.now(UTC))
    return {"withdrawn": count}


def _visit_from_args(args: argparse.Namespace) -> VisitBooking:
    if args.file:
        return VisitBooking.model_validate_json(Path(args.file).read_bytes())
    missing = [
        f for f in ("booking_id", "patient_id", "clinic", "reception", "start") if not getattr(args, f)
    ]
    if missing:
        raise ops.InputError("missing " + ", ".join("--" + m.replace("_", "-") for m in missing))
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


async def cmd_visit_book(args: argparse.Namespace, settings: Settings) -> Any:
    booking = _visit_from_args(args)
    directory = _directory(settings)
    ops.check_booking(directory, booking)  # bad input is refused before anything connects
    workflow_id = await ops.book_visit(await connect(settings), settings.task_queue, directory, booking)
    return {"workflow_id": workflow_id}


def _visit_target(args: argparse.Namespace) -> tuple[str, str | None]:
    """The workflow id and, for a team visit, the HOSP booking the change is about."""
    workflow_id = ops.visit_workflow_id(args.booking_id, args.team_visit_id)
    return workflow_id, (args.booking_id if args.team_visit_id else None)


async def cmd_visit_reschedule(args: argparse.Namespace, settings: Settings) -> Any:
    workflow_id, _ = _visit_target(args)
    start = _future_start(args.start)  # refused before anything connects
    return await ops.reschedule(await connect(settings), workflow_id, start)


async def cmd_visit_sms_flag(args: argparse.Namespace, settings: Settings) -> Any:
    workflow_id, booking_id = _visit_target(args)
    return await ops.set_sms_flag(await connect(settings), workflow_id, args.flag == "on", booking_id)


async def cmd_visit_cancel(args: argparse.Namespace, settings: Settings) -> Any:
    workflow_id, booking_id = _visit_target(args)
    await ops.cancel(await connect(settings), workflow_id, booking_id, args.reason)
    return {"workflow_id": workflow_id, "cancel": "sent"}


async def cmd_visit_status(args: argparse.Namespace, settings: Settings) -> Any:
    workflow_id, _ = _visit_target(args)
    return await ops.status(await connect(settings), workflow_id)


async def cmd_group_book(args: argparse.Namespace, settings: Settings) -> Any:
    group = GroupBooking.model_validate_json(Path(args.file).read_bytes())
    directory = _directory(settings)
    ops.check_group(directory, group)  # bad input is refused before anything connects
    return {
        "workflow_id": await ops.book_group(await connect(settings), settings.task_queue, directory, group)
    }


def _group_id(args: argparse.Namespace) -> str:
    return group_booking_id(args.group_booking_id)


async def cmd_group_reschedule(args: argparse.Namespace, settings: Settings) -> Any:
    start = _future_start(args.start)  # refused before anything connects
    return await ops.reschedule(await connect(settings), _group_id(args), start)


async def cmd_group_sms_flag(args: argparse.Namespace, settings: Settings) -> Any:
    return await ops.set_sms_flag(await connect(settings), _group_id(args), args.flag == "on")


async def cmd_group_cancel(args: argparse.Namespace, settings: Settings) -> Any:
    await ops.cancel(await connect(settings), _group_id(args), args.booking_id, args.reason)
    return {"workflow_id": _group_id(args), "cancel": "sent"}


async def cmd_group_status(args: argparse.Namespace, settings: Settings) -> Any:
    return await ops.status(await connect(settings), _group_id(args))


# --- care invitations and booking requests (V1-V14) ---


_SYSTEM_ID: TypeAdapter[str] = TypeAdapter(SystemId)


def _system_id(value: str, option: str) -> str:
    """A request or clinic id as given by `option`, refused unless it is a system id (never patient data)."""
    try:
        return _SYSTEM_ID.validate_python(value)
    except ValidationError:
        raise ops.InputError(
            f"{option} must be a system id: up to 64 letters, digits, '.', '_' or '-', "
            "starting with a letter or digit"
        ) from None


def _request_id(args: argparse.Namespace) -> str:
    return _system_id(args.request_id, "--request-id")


def _parse_date(text: str, option: str) -> date:
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise ops.InputError(f"{option} must be an ISO date, e.g. 2027-05-03") from None


def _window_from_args(args: argparse.Namespace) -> DateWindow | None:
    """`--first-date` and `--last-date` together, or neither; a window that has ended is refused."""
    if args.first_date is None and args.last_date is None:
        return None
    if args.first_date is None or args.last_date is None:
        raise ops.InputError("give both --first-date and --last-date to change the window")
    first, last = _parse_date(args.first_date, "--first-date"), _parse_date(args.last_date, "--last-date")
    if first > last:
        raise ops.InputError(f"--first-date {first} is after --last-date {last}")
    window = DateWindow(first_date=first, last_date=last)
    try:
        check_new_window(window, local_date(datetime.now(UTC)))
    except ValueError as err:
        raise ops.InputError(str(err)) from None
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


async def cmd_invitation_create(args: argparse.Namespace, settings: Settings) -> Any:
    request = CareInvitation.model_validate_json(Path(args.file).read_bytes())
    directory = _directory(settings)
    ops.check_request(directory, request)  # bad input is refused before anything connects
    workflow_id = await ops.create_request(await connect(settings), settings.task_queue, directory, request)
    return {"workflow_id": workflow_id, "invitation": request.invitation}


async def cmd_invitation_convert(args: argparse.Namespace, settings: Settings) -> Any:
    request_id = _request_id(args)
    conversion = Conversion(**_limits(args), referral_id=args.referral_id)  # refused before connecting
    return await ops.convert_request(await connect(settings), request_id, conversion)


async def cmd_invitation_change(args: argparse.Namespace, settings: Settings) -> Any:
    request_id = _request_id(args)
    change = RequestChange(**_limits(args))  # refused before anything connects
    return await ops.change_request(await connect(settings), request_id, change)


async def cmd_invitation_book(args: argparse.Namespace, settings: Settings) -> Any:
    request_id = _request_id(args)
    booking = InvitationBooking(booking_id=args.booking_id, start=_future_start(args.start), by=args.by)
    return await ops.book_invitation(await connect(settings), request_id, booking)


async def cmd_invitation_contacted(args: argparse.Namespace, settings: Settings) -> Any:
    request_id = _request_id(args)
    contact = Contact(note=args.note)
    await ops.record_contact(await connect(settings), request_id, contact)
    return {"workflow_id": invitation_id(request_id), "contacted": "sent"}


async def cmd_invitation_cancel(args: argparse.Namespace, settings: Settings) -> Any:
    workflow_id = invitation_id(_request_id(args))
    await ops.cancel(await connect(settings), workflow_id, None, args.reason)
    return {"workflow_id": workflow_id, "cancel": "sent"}


async def cmd_invitation_status(args: argparse.Namespace, settings: Settings) -> Any:
    workflow_id = invitation_id(_request_id(args))
    return await ops.status(await connect(settings), workflow_id)


async def cmd_worklist(args: argparse.Namespace, settings: Settings) -> Any:
    clinic_id = _system_id(args.clinic, "--clinic")
    if _directory(settings).clinic(clinic_id) is None:
        raise ops.InputError(f"unknown clinic '{clinic_id}'")
    return await ops.work_lists(await connect(settings), clinic_id)


async def cmd_demo(args: argparse.Namespace, settings: Settings) -> Any:
    import demo

    return await demo.load_and_book(await connect(settings), settings, _directory(settings))


def _parse_start(text: str) -> datetime:
    try:
        start = datetime.fromisoformat(text)
    except ValueError:
        raise ops.InputError("--start must be an ISO 8601 time, e.g. 2027-03-29T10:00:00+02:00") from None
    if start.tzinfo is None:
        raise ops.InputError("--start needs a UTC offset, e.g. 2027-03-29T10:00:00+02:00")
    return start


def _future_start(text: str) -> datetime:
    """A parsed `--start` that has not passed yet (checked before connecting)."""
    start = _parse_start(text)
    ops.check_future(start)
    return start


# --- argument parsing ---


def _visit_selector(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--booking-id", help="the booking (for a team visit: the HOSP booking)")
    parser.add_argument("--team-visit-id", help="the team visit (S11) the booking belongs to")


def _request_selector(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--request-id", required=True, help="the request (workflow care-invitation-<id>)")


def _limit_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--first-date", help="new window: first date (give --last-date too)")
    parser.add_argument("--last-date", help="new window: last date (give --first-date too)")
    parser.add_argument("--weekdays", help='preferred weekdays, e.g. mon,wed; "" removes the limit')
    parser.add_argument("--time-of-day", choices=[t.value for t in TimeOfDay])


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="starter.py", description=__doc__.split("\n")[0])
    parser.add_argument("--json", action="store_true", help="machine-readable output")
    groups = parser.add_subparsers(dest="area", required=True)

    directory = groups.add_parser("directory", help="the embedded directory of clinics and patients")
    dsub = directory.add_subparsers(dest="action", required=True)
    load = dsub.add_parser("load", help="load or update the directory from a JSON document")
    load.add_argument("file")
    load.set_defaults(func=cmd_directory_load)
    withdraw = dsub.add_parser("withdraw-consent", help="withdraw an SMS consent (S9)")
    withdraw.add_argument("--patient-id", required=True)
    withdraw.add_argument("--clinic", help="the clinic of a VAS consent; omit for a 1177 consent")
    withdraw.set_defaults(func=cmd_directory_withdraw)

    visit = groups.add_parser("visit", help="SMS reminders of booked visits (S1-S16)")
    vsub = visit.add_subparsers(dest="action", required=True)
    book = vsub.add_parser("book", help="book a visit: starts its SMS reminder")
    book.add_argument("--file", help="a JSON visit booking (SPEC §5) instead of the options below")
    book.add_argument("--booking-id")
    book.add_argument("--patient-id")
    book.add_argument("--clinic")
    book.add_argument("--reception")
    book.add_argument("--start", help="ISO 8601 with offset")
    book.add_argument("--channel", choices=["vas", "an27_quick", "1177"], default="vas")
    book.add_argument("--no-sms", action="store_true", help="book with the SMS flag off (S10)")
    book.add_argument("--team-visit-id")
    book.add_argument("--series-id")
    book.set_defaults(func=cmd_visit_book)
    move = vsub.add_parser("reschedule", help="move a visit (S15)")
    _visit_selector(move)
    move.add_argument("--start", required=True)
    move.set_defaults(func=cmd_visit_reschedule)
    flag = vsub.add_parser("sms-flag", help="turn a visit's SMS reminder on or off (S10, S8)")
    _visit_selector(flag)
    flag.add_argument("flag", choices=["on", "off"])
    flag.set_defaults(func=cmd_visit_sms_flag)
    stop = vsub.add_parser("cancel", help="cancel a visit (S15)")
    _visit_selector(stop)
    stop.add_argument("--reason")
    stop.set_defaults(func=cmd_visit_cancel)
    show = vsub.add_parser("status", help="show a reminder's status")
    _visit_selector(show)
    show.set_defaults(func=cmd_visit_status)

    group = groups.add_parser("group", help="group bookings (S13)")
    gsub = group.add_subparsers(dest="action", required=True)
    gbook = gsub.add_parser("book", help="book a group from a JSON group booking (SPEC §5)")
    gbook.add_argument("file")
    gbook.set_defaults(func=cmd_group_book)
    for name, func, help_text in [
        ("reschedule", cmd_group_reschedule, "move the group's visit"),
        ("sms-flag", cmd_group_sms_flag, "the group's one SMS flag"),
        ("cancel", cmd_group_cancel, "cancel the group, or one participant"),
        ("status", cmd_group_status, "show the group's status"),
    ]:
        sub = gsub.add_parser(name, help=help_text)
        sub.add_argument("--group-booking-id", required=True)
        if name == "reschedule":
            sub.add_argument("--start", required=True)
        if name == "sms-flag":
            sub.add_argument("flag", choices=["on", "off"])
        if name == "cancel":
            sub.add_argument("--booking-id", help="cancel only this participant")
            sub.add_argument("--reason")
        sub.set_defaults(func=func)

    invitation = groups.add_parser(
        "invitation", help="care invitations (vårdinbjudan) and plain booking requests (V1-V14)"
    )
    isub = invitation.add_subparsers(dest="action", required=True)
    create = isub.add_parser("create", help="create an invitation or a plain booking request from JSON")
    create.add_argument("file", help='a JSON care invitation (SPEC §5); "invitation": false: a plain request')
    create.set_defaults(func=cmd_invitation_create)
    convert = isub.add_parser("convert", help="turn a plain booking request into an invitation (V11)")
    _request_selector(convert)
    _limit_options(convert)
    convert.add_argument("--referral-id", help="the referral, when the request has none (V1)")
    convert.set_defaults(func=cmd_invitation_convert)
    change = isub.add_parser("change", help="change the window or limits of an open request (V10)")
    _request_selector(change)
    _limit_options(change)
    change.set_defaults(func=cmd_invitation_change)
    ibook = isub.add_parser("book", help="book the invitation's visit: starts its SMS reminder (V7-V9)")
    _request_selector(ibook)
    ibook.add_argument("--booking-id", required=True)
    ibook.add_argument("--start", required=True, help="ISO 8601 with offset")
    ibook.add_argument(
        "--by", required=True, choices=["patient", "staff"], help="patient: checked against the request (V8)"
    )
    ibook.set_defaults(func=cmd_invitation_book)
    contacted = isub.add_parser("contacted", help="the patient contacted the clinic: reminders end (V7)")
    _request_selector(contacted)
    contacted.add_argument("--note", help="a short note (at most 200 characters, no patient data)")
    contacted.set_defaults(func=cmd_invitation_contacted)
    icancel = isub.add_parser("cancel", help="cancel an invitation or request (V14)")
    _request_selector(icancel)
    icancel.add_argument("--reason")
    icancel.set_defaults(func=cmd_invitation_cancel)
    ishow = isub.add_parser("status", help="show an invitation's or request's status")
    _request_selector(ishow)
    ishow.set_defaults(func=cmd_invitation_status)

    worklist = groups.add_parser("worklist", help="a clinic's staff work lists (V12, V13)")
    worklist.add_argument("--clinic", required=True)
    worklist.set_defaults(func=cmd_worklist)

    demo = groups.add_parser("demo", help="load the demo directory and book demo visits")
    demo.set_defaults(func=cmd_demo)
    return parser


def _print(result: Any, as_json: bool) -> None:
    if isinstance(result, ops.WorkLists) and not as_json:
        _print_work_lists(result)
        return
    if isinstance(result, BaseModel):
        result = result.model_dump(mode="json")
    if as_json:
        print(json.dumps(result, ensure_ascii=False, indent=2))
    else:
        _print_plain(result)


def _print_plain(result: Any, indent: str = "") -> None:
    if isinstance(result, dict):
        for key, value in result.items():
            if isinstance(value, dict | list) and value:
                print(f"{indent}{key}:")
                _print_plain(value, indent + "  ")
            else:
                print(f"{indent}{key}: {value}")
    elif isinstance(result, list):
        for item in result:
            if isinstance(item, dict):
                print(f"{indent}- " + ", ".join(f"{k}={v}" for k, v in item.items() if v is not None))
            else:
                print(f"{indent}- {item}")
    else:
        print(f"{indent}{result}")


WORK_LIST_HEADINGS = {
    "vardinbjudan": "Vårdinbjudan",
    "bokningsbegaran": "Bokningsbegäran",
    "uppfoljning": "Uppföljning",
}


def _print_work_lists(lists: ops.WorkLists) -> None:
    """V12, V13: the three lists of a clinic, in aligned columns; times in Stockholm local time."""
    rows = {
        field: [
            (
                item.request_id,
                item.state or "-",
                item.next_action or "-",
                to_local(item.next_action_at).strftime("%Y-%m-%d %H:%M") if item.next_action_at else "-",
                item.reception_id or "-",
            )
            for item in getattr(lists, field)
        ]
        for field in WORK_LIST_HEADINGS
    }
    widths = [max((len(row[i]) for group in rows.values() for row in group), default=0) for i in range(4)]
    print(f"Mitt arbetsflöde: {lists.clinic_id}")
    for field, heading in WORK_LIST_HEADINGS.items():
        print(f"\n{heading} ({len(rows[field])})")
        if not rows[field]:
            print("  (inga)")
        for request_id, state, action, at, reception in rows[field]:
            print(
                f"  {request_id:<{widths[0]}}  {state:<{widths[1]}}  {action:<{widths[2]}} {at:<{widths[3]}}"
                f"  {reception}"
            )


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    settings = Settings.from_env()
    try:
        result = asyncio.run(args.func(args, settings))
    except DirectoryLoadError as err:
        count = len(err.problems)
        problems = "; ".join(err.problems)
        print(
            f"error: directory document refused ({count} problem{'s' * (count != 1)}): {problems}",
            file=sys.stderr,
        )
        return 2
    except (ops.InputError, InvalidPatientId, UnknownPatientError, MissingKeyError, KeyringError) as err:
        print(f"error: {' '.join(str(err).split())}", file=sys.stderr)  # one line, whatever the message
        return 2
    except ValidationError as err:
        print(f"error: invalid input: {describe_validation_error(err)}", file=sys.stderr)
        return 2
    except OSError as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    _print(result, args.json)
    return 0


def _exit(code: int) -> NoReturn:
    """Exit without interpreter teardown: the Temporal client's Rust threads can otherwise abort the
    finished process during finalization ("Fatal Python error: PyGILState_Release", exit 134;
    temporalio/sdk-python#300). Everything this process writes is committed or flushed before this."""
    for stream in (sys.stdout, sys.stderr):
        with contextlib.suppress(OSError):  # e.g. a closed pipe (`| head`)
            stream.flush()
    os._exit(code)


if __name__ == "__main__":
    try:
        exit_code = main()
    except BrokenPipeError:  # the reader went away (`| head`): not an error of ours
        exit_code = 0
    _exit(exit_code)
