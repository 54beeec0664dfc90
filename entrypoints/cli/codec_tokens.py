"""`starter.py admin codec-token create|revoke`: personal codec tokens of named operators, with which
the Temporal CLI (and `dev.py run`) reads decrypted payloads through the codec server (docs/encryption.md).
The token is printed once and stored hashed; every decode with it is audited under the operator's name."""

from __future__ import annotations

import argparse
import asyncio
from typing import Any

import application
from infrastructure.config import Settings
from infrastructure.stores import Stores

CODEC_AUTH = 'temporal workflow show --detailed -w ID --codec-endpoint URL --codec-auth "Bearer TOKEN"'


async def cmd_codec_token_create(args: argparse.Namespace, settings: Settings, stores: Stores) -> Any:
    """A new personal codec token for one person: printed once, stored only as its hash."""
    operator = application.check_system_id(args.operator.strip(), "--operator")
    token = await asyncio.to_thread(stores.operator_tokens.create, operator)
    return {"operator": operator, "codec_token": token, "use": CODEC_AUTH}


async def cmd_codec_token_revoke(args: argparse.Namespace, settings: Settings, stores: Stores) -> Any:
    operator = application.check_system_id(args.operator.strip(), "--operator")
    return {"operator": operator, "revoked": await asyncio.to_thread(stores.operator_tokens.revoke, operator)}


def add_parser(admin: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """The `codec-token` group under `admin`."""
    tokens = admin.add_parser(
        "codec-token", help="personal tokens for reading payloads through the codec server"
    )
    tsub = tokens.add_subparsers(dest="codec_token_action", required=True)
    create = tsub.add_parser("create", help="make a token for one person (printed once, stored hashed)")
    create.add_argument(
        "--operator", required=True, help="who: a user id the audit trail names, e.g. anna.lind"
    )
    create.set_defaults(func=cmd_codec_token_create)
    revoke = tsub.add_parser("revoke", help="revoke every codec token of a person")
    revoke.add_argument("--operator", required=True)
    revoke.set_defaults(func=cmd_codec_token_revoke)
