"""What the doors name: an id a clinic issued (a booking, team visit, group or request id), to be looked
up at the caller's clinics. Every use case on a running workflow takes such a `Target` and finds the
workflow itself (`locate`); the doors never build or parse a workflow id.

An id that only another clinic issued answers as one nobody issued (`application.lookup.find`). The
door's audit row learns which workflow was used through the target's `seen` (told once it is found,
before the call that may be refused), and what was asked for before it is found (`asked_for`).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace
from typing import Protocol

from temporalio.client import Client

from application.lookup import Found, find
from application.workflow_calls import Status
from contracts.workflow_ids import IdKind, IssuedId


class Finding(Protocol):
    """Told which workflow (and clinic) a call is about once it is known: a door's audit row."""

    def found(self, workflow_id: str, clinic_id: str) -> None: ...


def visit(booking_id: str) -> IssuedId:
    """A booked visit, by the booking id its clinic issued."""
    return IssuedId(IdKind.VISIT, booking_id)


def team_visit(team_visit_id: str) -> IssuedId:
    """A team visit (S11), by its team visit id."""
    return IssuedId(IdKind.TEAM_VISIT, team_visit_id)


def group(group_booking_id: str) -> IssuedId:
    """A group booking (S13), by its group booking id."""
    return IssuedId(IdKind.GROUP, group_booking_id)


def request(request_id: str) -> IssuedId:
    """A care invitation or plain booking request, by its request id."""
    return IssuedId(IdKind.REQUEST, request_id)


@dataclass(frozen=True)
class Target:
    """An issued id, to be found among `clinics` (the caller's, or the one it named); `seen` is told
    the workflow once it is found. `found`: already looked up (`located`)."""

    issued: IssuedId
    clinics: tuple[str, ...]
    seen: Finding | None = None
    found: Found | None = None


def asked_for(
    issued: IssuedId, clinics: Sequence[str], clinic_id: str | None = None
) -> tuple[str | None, str | None]:
    """The workflow and clinic a call asks for, for its audit row before it is found: known when it
    names its clinic (`clinic_id`) or the caller acts for one clinic (else only once found)."""
    if clinic_id is not None:
        return issued.at(clinic_id), clinic_id
    return (issued.at(clinics[0]), clinics[0]) if len(clinics) == 1 else (None, None)


async def locate(client: Client, target: Target) -> Found:
    """The workflow of `target` with its status (NotFoundError: none of its clinics issued the id;
    InputError: several did), told to `target.seen`."""
    if target.found is not None:
        return target.found
    found = await find(client, target.issued, target.clinics)
    if target.seen is not None:
        target.seen.found(found.workflow_id, found.status.clinic_id)
    return found


async def located(client: Client, target: Target) -> Target:
    """`target`, looked up now: for a door that must know the workflow exists before it reads the
    rest of its input (a form), so that an unknown id is refused as unknown whatever the form."""
    return replace(target, found=await locate(client, target))


async def workflow_of(client: Client, target: Target) -> str:
    """The workflow id of a target (found)."""
    return (await locate(client, target)).workflow_id


async def status(client: Client, target: Target) -> Status:
    """The status of the workflow a target names (its lookup answers it: no second query)."""
    return (await locate(client, target)).status
