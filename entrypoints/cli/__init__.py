"""The command line (`starter.py`): parse, call the application layer, print.

Bad input gets one line on stderr saying what is wrong, exit code 2, and nothing is started or changed;
so does a failure on the server's side, with what to do about it. Every command on patients' data is
in the audit trail under the operator's name (`entrypoints.cli.audit`).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import sys
from typing import Any, NoReturn

import psycopg
from pydantic import ValidationError
from temporalio.exceptions import TemporalError
from temporalio.service import RPCError, RPCStatusCode

import application
from domain.identity import InvalidPatientId
from domain.types import describe_validation_error
from entrypoints.cli.audit import CliAudit, audit_for, outcome
from entrypoints.cli.commands import Command
from entrypoints.cli.output import print_result
from entrypoints.cli.parser import build_parser
from infrastructure.config import Settings
from infrastructure.stores import SchemaNotReadyError, SchemaOutOfDateError, Stores
from security.files import tighten
from security.keyring import KeyringError, MissingKeyError

PREPARE = "prepare the namespace with `python starter.py admin prepare-namespace`"


def main(argv: list[str] | None = None, demo: Command | None = None) -> int:
    """Run one command (`demo`: what `starter.py demo` runs); the exit code."""
    args = build_parser(demo).parse_args(argv)
    stores: Stores | None = None
    try:
        settings = Settings.from_env()
        tighten(settings.data_dir)
        args.audit = audit_for(args)  # who: refused here, before anything runs, if unknown
        stores = Stores(settings)
        result = run_audited(args, settings, stores)
    except Exception as err:  # each refusal as one line; anything unforeseen still raises
        message = refusal(err)
        if message is None:
            raise
        print(f"error: {' '.join(message.split())}", file=sys.stderr)  # one line, whatever the message
        return 2
    finally:
        if stores is not None:
            stores.close()
    print_result(result, args.json)
    return 0


def run_audited(args: argparse.Namespace, settings: Settings, stores: Stores) -> Any:
    """Run the command; then its audit row, refused or not (a row that cannot be written fails a
    command that succeeded, and never hides the refusal of one that did not)."""
    entry: CliAudit | None = args.audit
    try:
        result = asyncio.run(args.func(args, settings, stores))
    except Exception as err:
        if entry is not None:
            with contextlib.suppress(Exception):  # the refusal is what the operator must see
                stores.audit.record(entry.record(outcome(err)))
        raise
    if entry is not None:
        stores.audit.record(entry.record("ok"))
    return result


def refusal(err: Exception) -> str | None:
    """The one line that says what is wrong (and what to do), or None for an error that is a bug."""
    if isinstance(err, application.DirectoryLoadError):
        return err.one_line()
    if isinstance(
        err,
        application.InputError
        | InvalidPatientId
        | application.UnknownPatientError
        | MissingKeyError
        | KeyringError,
    ):
        return str(err)
    if isinstance(err, ValidationError):
        return f"invalid input: {describe_validation_error(err)}"
    if isinstance(err, RPCError):
        return server_refusal(err)
    if isinstance(err, OSError | TemporalError | SchemaOutOfDateError | SchemaNotReadyError):
        return str(err)
    if isinstance(err, psycopg.Error):
        return f"the service database refused the call: {str(err).splitlines()[0]}"
    return None


def server_refusal(err: RPCError) -> str:
    """A failure on the Temporal server's side, with what to do about it."""
    if "search attribute" in err.message.lower():
        return f"the Temporal namespace lacks this service's search attributes: {PREPARE}"
    if err.status in (RPCStatusCode.UNAVAILABLE, RPCStatusCode.DEADLINE_EXCEEDED):
        return f"Temporal did not answer ({err.message}): is the server running at TEMPORAL_ADDRESS?"
    if err.status in (RPCStatusCode.UNAUTHENTICATED, RPCStatusCode.PERMISSION_DENIED):
        return f"Temporal refused the credentials ({err.message}): check TEMPORAL_API_KEY or the TLS settings"
    if err.status is RPCStatusCode.NOT_FOUND and "namespace" in err.message.lower():
        return f"{err.message}: create the namespace, or set TEMPORAL_NAMESPACE, then {PREPARE}"
    return f"the Temporal server refused the call ({err.status.name.lower()}): {err.message}"


def exit_now(code: int) -> NoReturn:
    """Exit without interpreter teardown: the Temporal client's Rust threads can otherwise abort the
    finished process during finalization ("Fatal Python error: PyGILState_Release", exit 134;
    temporalio/sdk-python#300). Everything this process writes is committed or flushed before this."""
    for stream in (sys.stdout, sys.stderr):
        with contextlib.suppress(OSError):  # e.g. a closed pipe (`| head`)
            stream.flush()
    os._exit(code)
