"""The command-line options of the fault benchmarks' 46elks-shaped provider (`testkit.fake_provider`)
that model a lost answer and a lagging history (issue 29)."""

from __future__ import annotations

import argparse
from typing import get_args

from testkit.fake_provider import LostMode


def add_lost_answer_options(parser: argparse.ArgumentParser) -> None:
    """`--lost-mode` and `--history-lag`."""
    parser.add_argument(
        "--lost-mode",
        choices=get_args(LostMode),
        default="timeout",
        help="a lost answer comes after the client's timeout, or the connection is reset at once",
    )
    parser.add_argument(
        "--history-lag", type=float, default=0.0, help="s before the provider's history shows a message"
    )
