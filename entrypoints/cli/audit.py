"""The command line's audit rows (Patientdatalagen): every command that reads or changes patients'
messages, the directory or the service's credentials is recorded as the HTTP door records its calls:
who (`cli:<name>`: `--as NAME`, else the OS user), the action (`cli.<area>.<action>`), the workflow
and the clinic once known, and the outcome, refusals included. Never patient data."""

from __future__ import annotations

import argparse
import getpass
from dataclasses import dataclass
from datetime import UTC, datetime

from pydantic import ValidationError

import application
from application import AuditRecord, DirectoryLoadError, UnknownPatientError
from domain.identity import InvalidPatientId
from domain.types import SYSTEM_ID_RULE, is_system_id

ACTOR_PREFIX = "cli:"
ALL_CLINICS = "*"  # the command line acts for every clinic: a row whose clinic is not known (yet)
NOT_AUDITED = {("audit",), ("admin", "prepare-namespace"), ("admin", "migrate")}  # no patient data
SUBCOMMANDS = ("area", "action", "key_action", "session_action", "codec_token_action")


@dataclass
class CliAudit:
    """The row a command will leave: the command notes its workflow and clinic once it knows them."""

    actor: str
    action: str
    clinic_id: str = ALL_CLINICS
    workflow_id: str | None = None

    def found(self, workflow_id: str, clinic_id: str) -> None:
        """The workflow a command found, and its clinic (`application.Finding`)."""
        self.workflow_id, self.clinic_id = workflow_id, clinic_id

    def record(self, outcome: str) -> AuditRecord:
        return AuditRecord(
            at=datetime.now(UTC),
            actor=self.actor,
            action=self.action,
            workflow_id=self.workflow_id,
            clinic_id=self.clinic_id,
            outcome=outcome,
        )


def audit_for(args: argparse.Namespace) -> CliAudit | None:
    """The audit row of the parsed command (None for one that touches no patient's data); a bad
    `--as` or an OS user that is no system id is refused here, before anything runs."""
    path = tuple(str(v) for name in SUBCOMMANDS if (v := getattr(args, name, None)) is not None)
    if path in NOT_AUDITED:
        return None
    return CliAudit(
        actor=ACTOR_PREFIX + operator_name(args.acting_as),
        action=".".join(("cli", *path)),
        clinic_id=_asked_clinic(getattr(args, "clinic", None)),
    )


def operator_name(given: str | None) -> str:
    """Who runs the command: `--as NAME`, else the OS user; a system id (never a personnummer)."""
    if given is not None:
        name = given.strip()
        if not is_system_id(name):
            raise application.InputError(f"--as must be your user id, a system id: {SYSTEM_ID_RULE}")
        return name
    try:
        name = getpass.getuser()
    except (OSError, KeyError):  # no user name in the environment or the password database
        raise application.InputError("cannot tell who you are: name yourself with --as YOUR-ID") from None
    if not is_system_id(name):
        raise application.InputError("your OS user name is not a system id: name yourself with --as YOUR-ID")
    return name


def note(args: argparse.Namespace, *, workflow_id: str | None = None, clinic_id: str | None = None) -> None:
    """The workflow and clinic a command found or named, for its audit row."""
    entry: CliAudit | None = getattr(args, "audit", None)
    if entry is None:
        return
    if workflow_id:
        entry.workflow_id = workflow_id
    if clinic_id:
        entry.clinic_id = clinic_id


def outcome(err: Exception) -> str:
    """The audit outcome of a refusal, with the HTTP API's status for the same refusal."""
    if isinstance(err, application.NotFoundError):
        return "refused:404"
    if isinstance(err, application.EndedError | application.RejectedError):
        return "refused:409"
    if isinstance(
        err,
        application.InputError
        | InvalidPatientId
        | UnknownPatientError
        | ValidationError
        | DirectoryLoadError,
    ):
        return "refused:422"
    return "error"


def _asked_clinic(given: str | list[str] | None) -> str:
    """The clinic(s) named by `--clinic`, when they are system ids; else every clinic (`*`)."""
    clinics = [given] if isinstance(given, str) else list(given or [])
    named = sorted({c.strip() for c in clinics if is_system_id(c.strip())})
    return ",".join(named) if named else ALL_CLINICS
