"""Custom search attributes for operations and work lists: system ids and states, never patient data
(their values are stored in the clear). Workflows upsert them, starts set them, work lists read them."""

from __future__ import annotations

from datetime import datetime

from temporalio.common import (
    SearchAttributeKey,
    SearchAttributePair,
    SearchAttributeUpdate,
    TypedSearchAttributes,
)

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
