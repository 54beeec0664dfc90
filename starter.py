"""Command line for booking systems, staff and scripts (SPEC §5; README, Command line), run as
`python3 dev.py cli …` (or `.venv/bin/python starter.py …`):

    python3 dev.py cli directory load examples/directory.json
    python3 dev.py cli visit book --booking-id B1 --patient-id 19800101-1231 --clinic kir \
        --reception kir-allm --start 2027-10-04T10:00:00+02:00
    python3 dev.py cli visit reschedule --booking-id B1 --start 2027-10-05T10:00:00+02:00
    python3 dev.py cli --json visit status --booking-id B1
    python3 dev.py cli invitation create examples/request.json
    python3 dev.py cli invitation book --request-id R1 --booking-id B9 \
        --start 2027-10-11T09:00:00+02:00 --by patient
    python3 dev.py cli worklist --clinic kir
    python3 dev.py cli admin prepare-namespace

Bad input gets one line on stderr saying what is wrong, exit code 2, and nothing is started or changed.
"""

from __future__ import annotations

import argparse
import os
from typing import Any

from entrypoints import cli
from entrypoints.cli import exit_now
from infrastructure.config import Settings
from infrastructure.logging_setup import configure_logging
from infrastructure.stores import Stores
from security.files import private_process


async def demo(args: argparse.Namespace, settings: Settings, stores: Stores) -> Any:
    """`starter.py demo`: the demo directory, visits and invitations (`demo/`), booked on the server.
    Here, not in the command line's package: a door does not depend on the demo data."""
    from demo.bookings import load_and_book
    from infrastructure.temporal_client import connect

    return await load_and_book(
        await connect(settings), settings, stores.directory, stores.slots, stores.embedded_mailbox
    )


def main(argv: list[str] | None = None) -> int:
    """The command line (`entrypoints.cli`), with the demo command."""
    return cli.main(argv, demo=demo)


if __name__ == "__main__":
    private_process()  # every file 0600, every folder 0700 (docs/security.md, "At rest")
    # Log lines (e.g. `already_started`) on stderr, masked like every process's: stdout is the result.
    log_format = os.environ.get("PM_LOG_FORMAT", "")
    configure_logging("json" if log_format == "json" else "console" if log_format == "console" else "auto")
    try:
        exit_code = main()
    except BrokenPipeError:  # the reader went away (`| head`): not an error of ours
        exit_code = 0
    exit_now(exit_code)
