"""The command line's commands on the service itself: the directory, the namespace and the database,
the callers' credentials, the staff page's sessions and the audit trail."""

from __future__ import annotations

import argparse
import asyncio
from pathlib import Path
from typing import Any

from temporalio.service import RPCError

import application
from application import replies
from infrastructure.config import Settings
from infrastructure.namespace_setup import ensure_namespace, prepare_namespace
from infrastructure.stores import Stores
from infrastructure.temporal_client import connect


async def cmd_directory_load(args: argparse.Namespace, settings: Settings, stores: Stores) -> Any:
    return application.load_directory_file(stores.directory, Path(args.file))


async def cmd_directory_withdraw(args: argparse.Namespace, settings: Settings, stores: Stores) -> Any:
    return {"withdrawn": application.withdraw_consent(stores.directory, args.patient_id, args.clinic)}


async def cmd_admin_prepare_namespace(args: argparse.Namespace, settings: Settings, stores: Stores) -> Any:
    """The namespace's search attributes; and the test namespace (made when missing) with its own, or
    why test mode stays off when the cluster refuses that (the live namespace is prepared all the same)."""
    client = await connect(settings)
    added = await prepare_namespace(client, settings.namespace)
    prepared: dict[str, Any] = {"namespace": settings.namespace, "search_attributes_added": added}
    test = settings.test_mode_namespace
    if test is None:
        return prepared | {"test_namespace": None}
    try:
        created = await ensure_namespace(client, test)
        test_added = await prepare_namespace(client, test)
    except RPCError as err:  # e.g. a cluster where only its operators make namespaces: live is prepared
        return prepared | {"test_namespace": test, "test_mode": f"off: {err.message} (make the namespace)"}
    return prepared | {
        "test_namespace": test,
        "test_namespace_created": created,
        "test_search_attributes_added": test_added,
    }


async def cmd_admin_migrate(args: argparse.Namespace, settings: Settings, stores: Stores) -> Any:
    if not settings.database_url:
        raise application.InputError("set PM_DATABASE_URL to the service's PostgreSQL database to migrate it")
    applied = await asyncio.to_thread(stores.migrate)
    return {"migrations_applied": applied}


async def cmd_admin_reply_url(args: argparse.Namespace, settings: Settings, stores: Stores) -> Any:
    """Issue 28: the `sms_url` to set on a clinic's 46elks virtual number (docs/replies.md)."""
    return replies.reply_url(stores.directory, args.clinic, settings.delivery_secret, settings.public_url)


async def cmd_api_key_create(args: argparse.Namespace, settings: Settings, stores: Stores) -> Any:
    """A new API key for a system: printed once, stored only as its hash; `--test`: a test key, whose
    workflows run in the test namespace and send through the simulator (docs/test-mode.md)."""
    client_id = application.check_system_id(args.client_id.strip(), "--client-id")
    clinics = (
        ["*"]
        if args.all_clinics
        else [application.check_system_id(c.strip(), "--clinic") for c in args.clinic]
    )
    if not clinics:
        raise application.InputError(
            "name the clinics the client may act for: --clinic ID (repeatable) or --all-clinics"
        )
    client = application.ApiClient(client_id=client_id, clinics=clinics, test=args.test)
    try:
        token = await asyncio.to_thread(stores.api_keys.create, client)
    except application.KindConflict as conflict:
        raise application.InputError(str(conflict)) from None
    made = {"client_id": client_id, "clinics": clinics, "api_key": token}
    return made | {"kind": "test", "namespace": settings.test_mode_namespace} if args.test else made


async def cmd_api_key_revoke(args: argparse.Namespace, settings: Settings, stores: Stores) -> Any:
    client_id = application.check_system_id(args.client_id.strip(), "--client-id")
    return {"client_id": client_id, "revoked": await asyncio.to_thread(stores.api_keys.revoke, client_id)}


async def cmd_sessions_revoke(args: argparse.Namespace, settings: Settings, stores: Stores) -> Any:
    """End every staff-page session of a user (e.g. a lost laptop, a user who left) on every replica."""
    user_id = args.user.strip().removeprefix("staff:")
    if not user_id or len(user_id) > 200 or not user_id.isprintable():
        raise application.InputError("--user: the staff user's id, as the audit trail names it (staff:<id>)")
    return {"user": user_id, "revoked": await asyncio.to_thread(stores.staff_sessions.revoke_user, user_id)}


async def cmd_audit(args: argparse.Namespace, settings: Settings, stores: Stores) -> Any:
    """The audit trail, newest last: who read or changed which workflow, when, with which outcome."""
    found = await asyncio.to_thread(
        application.audit_records, stores.audit, args.workflow_id, args.limit, "--workflow-id"
    )
    return [r.model_dump(mode="json") for r in found]
