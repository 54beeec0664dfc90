"""Custom search attributes for operations and work lists: system ids and states, never patient data.

Registered on the dev server by `dev.py run` and in tests (`register_search_attributes`).
"""

from __future__ import annotations

from datetime import datetime

from temporalio import workflow
from temporalio.api.enums.v1 import IndexedValueType
from temporalio.api.operatorservice.v1 import AddSearchAttributesRequest, ListSearchAttributesRequest
from temporalio.client import Client
from temporalio.common import (
    SearchAttributeKey,
    SearchAttributePair,
    SearchAttributeUpdate,
    TypedSearchAttributes,
)
from temporalio.service import RPCError, RPCStatusCode

CLINIC = SearchAttributeKey.for_keyword("ClinicId")
RECEPTION = SearchAttributeKey.for_keyword("ReceptionId")
STATE = SearchAttributeKey.for_keyword("WorkflowState")
NEXT_ACTION_AT = SearchAttributeKey.for_datetime("NextActionAt")
NEXT_ACTION = SearchAttributeKey.for_keyword("NextAction")
BOOKING_CHANNEL = SearchAttributeKey.for_keyword("BookingChannel")
WORK_LIST = SearchAttributeKey.for_keyword("WorkList")

ALL: list[SearchAttributeKey] = [
    CLINIC,
    RECEPTION,
    STATE,
    NEXT_ACTION_AT,
    NEXT_ACTION,
    BOOKING_CHANNEL,
    WORK_LIST,
]


def visit_place(clinic_id: str, reception_id: str, channel: str) -> list[SearchAttributeUpdate]:
    """The attributes of a visit that a reminder keeps all its life (a start may set them already)."""
    return [
        CLINIC.value_set(clinic_id),
        RECEPTION.value_set(reception_id),
        BOOKING_CHANNEL.value_set(channel),
    ]


def request_place(clinic_id: str, reception_id: str) -> list[SearchAttributeUpdate]:
    """The attributes of a booking request or care invitation that it keeps all its life."""
    return [CLINIC.value_set(clinic_id), RECEPTION.value_set(reception_id)]


def at_start(updates: list[SearchAttributeUpdate]) -> TypedSearchAttributes:
    """The attributes to set when a workflow is started, so that it need not upsert them itself."""
    return TypedSearchAttributes(
        [SearchAttributePair(u.key, u.value) for u in updates if u.value is not None]
    )


def progress(state: str, next_kind: str | None, next_at: datetime | None) -> list[SearchAttributeUpdate]:
    """The attributes that change with a workflow's progress."""
    updates: list[SearchAttributeUpdate] = [STATE.value_set(state)]
    if next_kind is None or next_at is None:
        updates += [NEXT_ACTION.value_unset(), NEXT_ACTION_AT.value_unset()]
    else:
        updates += [NEXT_ACTION.value_set(next_kind), NEXT_ACTION_AT.value_set(next_at)]
    return updates


def upsert(updates: list[SearchAttributeUpdate], *, only_changed: bool) -> None:
    """Upsert from workflow code; with `only_changed`, only the attributes that differ from the
    current ones (a start may have set them), and nothing at all when none does."""
    if only_changed:
        current = workflow.info().typed_search_attributes
        updates = [u for u in updates if current.get(u.key) != u.value]
        if not updates:
            return
    workflow.upsert_search_attributes(updates)


def dev_server_flags() -> list[str]:
    """`--search-attribute` flags of `temporal server start-dev` (used when the namespace is created)."""
    return [
        arg
        for key in ALL
        for arg in ("--search-attribute", f"{key.name}={key.indexed_value_type.name.title()}")
    ]


async def register_search_attributes(client: Client, namespace: str) -> None:
    """Add the attributes that the namespace does not have yet (idempotent)."""
    try:
        listed = await client.operator_service.list_search_attributes(
            ListSearchAttributesRequest(namespace=namespace)
        )
        existing = set(listed.custom_attributes)
    except RPCError as err:  # the time-skipping test server cannot list them, only add
        if err.status is not RPCStatusCode.UNIMPLEMENTED:
            raise
        existing = set()
    missing = {
        key.name: IndexedValueType.ValueType(key.indexed_value_type.value)
        for key in ALL
        if key.name not in existing
    }
    if missing:
        await client.operator_service.add_search_attributes(
            AddSearchAttributesRequest(namespace=namespace, search_attributes=missing)
        )
