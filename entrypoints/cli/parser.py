"""The command line's arguments: one sub-command per use case (README, Command line)."""

from __future__ import annotations

import argparse

from application import InputError
from domain.invitation import TimeOfDay
from entrypoints.cli import admin as a
from entrypoints.cli import codec_tokens
from entrypoints.cli import commands as c
from entrypoints.cli.commands import Command

DESCRIPTION = "Command line for booking systems, staff and scripts (SPEC §5)"


def _visit_selector(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--booking-id", help="the booking (for a team visit: the HOSP booking)")
    parser.add_argument("--team-visit-id", help="the team visit (S11) the booking belongs to")
    _clinic_selector(parser)


def _clinic_selector(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--clinic", help="the clinic that issued the id (needed when several did)")


def _request_selector(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--request-id", required=True, help="the request id its clinic issued")
    _clinic_selector(parser)


def _limit_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--first-date", help="new window: first date (give --last-date too)")
    parser.add_argument("--last-date", help="new window: last date (give --first-date too)")
    parser.add_argument("--weekdays", help='preferred weekdays, e.g. mon,wed; "" removes the limit')
    parser.add_argument("--time-of-day", choices=[t.value for t in TimeOfDay])


async def _no_demo(*_: object) -> None:
    raise InputError("the demo is booked by `python3 dev.py cli demo`")


def build_parser(demo: Command | None = None) -> argparse.ArgumentParser:
    """The parser; `demo` runs `starter.py demo` (given by `starter.py`, which may use the demo data)."""
    parser = argparse.ArgumentParser(prog="starter.py", description=DESCRIPTION)
    parser.add_argument("--json", action="store_true", help="machine-readable output")
    parser.add_argument(
        "--as",
        dest="acting_as",
        metavar="NAME",
        help="who runs the command, as the audit trail names you (default: your OS user name)",
    )
    groups = parser.add_subparsers(dest="area", required=True)

    directory = groups.add_parser("directory", help="the embedded directory of clinics and patients")
    dsub = directory.add_subparsers(dest="action", required=True)
    load = dsub.add_parser("load", help="load or update the directory from a JSON document")
    load.add_argument("file")
    load.set_defaults(func=a.cmd_directory_load)
    withdraw = dsub.add_parser("withdraw-consent", help="withdraw an SMS consent (S9)")
    withdraw.add_argument("--patient-id", required=True)
    withdraw.add_argument("--clinic", help="the clinic of a VAS consent; omit for a 1177 consent")
    withdraw.set_defaults(func=a.cmd_directory_withdraw)

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
    book.set_defaults(func=c.cmd_visit_book)
    move = vsub.add_parser("reschedule", help="move a visit (S15)")
    _visit_selector(move)
    move.add_argument("--start", required=True)
    move.set_defaults(func=c.cmd_visit_reschedule)
    flag = vsub.add_parser("sms-flag", help="turn a visit's SMS reminder on or off (S10, S8)")
    _visit_selector(flag)
    flag.add_argument("flag", choices=["on", "off"])
    flag.set_defaults(func=c.cmd_visit_sms_flag)
    stop = vsub.add_parser("cancel", help="cancel a visit (S15)")
    _visit_selector(stop)
    stop.add_argument("--reason")
    stop.set_defaults(func=c.cmd_visit_cancel)
    show = vsub.add_parser("status", help="show a reminder's status")
    _visit_selector(show)
    show.set_defaults(func=c.cmd_visit_status)

    group = groups.add_parser("group", help="group bookings (S13)")
    gsub = group.add_subparsers(dest="action", required=True)
    gbook = gsub.add_parser("book", help="book a group from a JSON group booking (SPEC §5)")
    gbook.add_argument("file")
    gbook.set_defaults(func=c.cmd_group_book)
    for name, func, help_text in [
        ("reschedule", c.cmd_group_reschedule, "move the group's visit"),
        ("sms-flag", c.cmd_group_sms_flag, "the group's one SMS flag"),
        ("cancel", c.cmd_group_cancel, "cancel the group, or one participant"),
        ("status", c.cmd_group_status, "show the group's status"),
    ]:
        sub = gsub.add_parser(name, help=help_text)
        sub.add_argument("--group-booking-id", required=True)
        _clinic_selector(sub)
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
    create.set_defaults(func=c.cmd_invitation_create)
    convert = isub.add_parser("convert", help="turn a plain booking request into an invitation (V11)")
    _request_selector(convert)
    _limit_options(convert)
    convert.add_argument("--referral-id", help="the referral, when the request has none (V1)")
    convert.set_defaults(func=c.cmd_invitation_convert)
    change = isub.add_parser("change", help="change the window or limits of an open request (V10)")
    _request_selector(change)
    _limit_options(change)
    change.set_defaults(func=c.cmd_invitation_change)
    ibook = isub.add_parser("book", help="book the invitation's visit: starts its SMS reminder (V7-V9)")
    _request_selector(ibook)
    ibook.add_argument("--booking-id", required=True)
    ibook.add_argument("--start", required=True, help="ISO 8601 with offset")
    ibook.add_argument(
        "--by", required=True, choices=["patient", "staff"], help="patient: checked against the request (V8)"
    )
    ibook.set_defaults(func=c.cmd_invitation_book)
    contacted = isub.add_parser("contacted", help="the patient contacted the clinic: reminders end (V7)")
    _request_selector(contacted)
    contacted.add_argument("--note", help="a short note (at most 200 characters, no patient data)")
    contacted.set_defaults(func=c.cmd_invitation_contacted)
    icancel = isub.add_parser("cancel", help="cancel an invitation or request (V14)")
    _request_selector(icancel)
    icancel.add_argument("--reason")
    icancel.set_defaults(func=c.cmd_invitation_cancel)
    ishow = isub.add_parser("status", help="show an invitation's or request's status")
    _request_selector(ishow)
    ishow.set_defaults(func=c.cmd_invitation_status)

    worklist = groups.add_parser("worklist", help="a clinic's staff work lists (V12, V13)")
    worklist.add_argument("--clinic", required=True)
    worklist.set_defaults(func=c.cmd_worklist)

    admin = groups.add_parser("admin", help="prepare a Temporal namespace and the service database")
    asub = admin.add_subparsers(dest="action", required=True)
    prepare = asub.add_parser(
        "prepare-namespace", help="add the custom search attributes the service needs (idempotent)"
    )
    prepare.set_defaults(func=a.cmd_admin_prepare_namespace)
    migrate = asub.add_parser(
        "migrate", help="apply the missing schema migrations to PM_DATABASE_URL (idempotent)"
    )
    migrate.set_defaults(func=a.cmd_admin_migrate)
    reply_url = asub.add_parser(
        "reply-url", help="the sms_url to set on a clinic's 46elks virtual number (SMS replies, issue 28)"
    )
    reply_url.add_argument("--clinic", required=True)
    reply_url.set_defaults(func=a.cmd_admin_reply_url)
    keys = asub.add_parser("api-key", help="API keys of the systems calling the HTTP API")
    ksub = keys.add_subparsers(dest="key_action", required=True)
    create_key = ksub.add_parser("create", help="make a key (printed once, stored hashed)")
    create_key.add_argument("--client-id", required=True, help="the calling system, e.g. vas-region")
    create_key.add_argument("--clinic", action="append", default=[], help="a clinic it may act for (repeat)")
    create_key.add_argument(
        "--all-clinics", action="store_true", help="every clinic (e.g. the directory feed)"
    )
    create_key.add_argument(
        "--test",
        action="store_true",
        help="a test key: simulated sends in the test namespace (docs/test-mode.md)",
    )
    create_key.set_defaults(func=a.cmd_api_key_create)
    revoke_key = ksub.add_parser("revoke", help="revoke every key of a client")
    revoke_key.add_argument("--client-id", required=True)
    revoke_key.set_defaults(func=a.cmd_api_key_revoke)
    codec_tokens.add_parser(asub)
    sessions = asub.add_parser("sessions", help="the staff page's login sessions")
    ssub = sessions.add_subparsers(dest="session_action", required=True)
    revoke_sessions = ssub.add_parser("revoke", help="end every session of a staff user at once")
    revoke_sessions.add_argument("--user", required=True, help="the user id, as the audit trail names it")
    revoke_sessions.set_defaults(func=a.cmd_sessions_revoke)

    audit = groups.add_parser("audit", help="the audit trail: who read or changed a patient's messages")
    audit.add_argument("--workflow-id", help="only this workflow, e.g. sms-reminder:kir:B1")
    audit.add_argument("--limit", type=int, default=200, help="the newest N records (default 200)")
    audit.set_defaults(func=a.cmd_audit)

    demo_parser = groups.add_parser("demo", help="load the demo directory and book demo visits")
    demo_parser.set_defaults(func=demo or _no_demo)
    return parser
