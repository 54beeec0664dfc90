"""Command line for booking systems, staff and scripts (SPEC §5; README, Command line).

    python starter.py directory load directory.json
    python starter.py visit book --booking-id B1 --patient-id 19121212-1212 --clinic kir \
        --reception kir-allm --start 2027-03-29T10:00:00+02:00
    python starter.py visit reschedule --booking-id B1 --start 2027-03-30T10:00:00+02:00
    python starter.py --json visit status --booking-id B1
    python starter.py invitation create invitation.json
    python starter.py invitation book --request-id R1 --booking-id B2 \
        --start 2027-05-03T09:00:00+02:00 --by patient
    python starter.py worklist --clinic kir
    python starter.py admin prepare-namespace

Bad input gets one line on stderr saying what is wrong, exit code 2, and nothing is started or changed.
"""

from __future__ import annotations

import argparse
from typing import Any

from entrypoints import cli
from entrypoints.cli import exit_now
from infrastructure.config import Settings
from infrastructure.stores import Stores
from security.files import private_process


async def demo(args: argparse.Namespace, settings: Settings, stores: Stores) -> Any:
    """`starter.py demo`: the demo directory, visits and invitations (`demo/`), booked on the server.
    Here, not in the command line's package: a door does not depend on the demo data."""
    from demo.bookings import load_and_book
    from infrastructure.temporal_client import connect

    return await load_and_book(await connect(settings), settings, stores.directory)


def main(argv: list[str] | None = None) -> int:
    """The command line (`entrypoints.cli`), with the demo command."""
    return cli.main(argv, demo=demo)


if __name__ == "__main__":
    private_process()  # every file 0600, every folder 0700 (docs/security.md, "At rest")
    try:
        exit_code = main()
    except BrokenPipeError:  # the reader went away (`| head`): not an error of ours
        exit_code = 0
    exit_now(exit_code)
