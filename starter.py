"""Command line for booking systems, staff and scripts; and `connect()` for Python callers (SPEC §5).

    python starter.py directory load directory.json
    python starter.py visit book --booking-id B1 --patient-id 19121212-1212 --clinic kir \
        --reception kir-allm --start 2027-03-29T10:00:00+02:00
    python starter.py visit reschedule --booking-id B1 --start 2027-03-30T10:00:00+02:00
    python starter.py --json visit status --booking-id B1

Bad input gets one line on stderr saying what is wrong, exit code 2, and nothing is started or changed.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ValidationError
from temporalio.client import Client
from temporalio.contrib.pydantic import pydantic_data_converter

import operations as ops
from config import Settings
from domain.booking import GroupBooking, VisitBooking
from domain.identity import InvalidPatientId
from services.directory import DirectoryLoadError, SqliteDirectory, UnknownPatientError, load_directory_file
from workflows.ids import group_booking_id


async def connect(settings: Settings | None = None) -> Client:
    """A Temporal client configured exactly as the worker's (address, namespace, data converter)."""
    settings = settings or Settings.from_env()
    try:
        return await Client.connect(
            settings.temporal_address, namespace=settings.namespace, data_converter=pydantic_data_converter
        )
    except RuntimeError as err:
        raise ConnectionError(f"cannot reach Temporal at {settings.temporal_address}: {err}") from None


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

    demo = groups.add_parser("demo", help="load the demo directory and book demo visits")
    demo.set_defaults(func=cmd_demo)
    return parser


def _print(result: Any, as_json: bool) -> None:
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
    except (ops.InputError, InvalidPatientId, UnknownPatientError) as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    except ValidationError as err:
        print(f"error: invalid input: {_describe(err)}", file=sys.stderr)
        return 2
    except OSError as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    _print(result, args.json)
    return 0


def _describe(err: ValidationError) -> str:
    """Each problem as `field: reason` (a whole-record rule as just its reason), without the input."""
    problems = []
    for e in err.errors(include_url=False, include_input=False, include_context=False):
        where, msg = ".".join(str(p) for p in e["loc"]), str(e["msg"]).removeprefix("Value error, ")
        problems.append(f"{where}: {msg}" if where else msg)
    return "; ".join(problems)


if __name__ == "__main__":
    sys.exit(main())
