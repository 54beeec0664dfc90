"""Issue 28: an inbound SMS reply, taken from the provider's webhook (`POST /callbacks/sms/46elks/
replies`, docs/replies.md): read (`domain.replies.read_reply`), matched to the reminder whose SMS went
to that number from that virtual number most recently (`match_reply`), kept once per provider id
(the sender and the text sealed), then signalled to that reminder (`patient_reply`, a `PatientReply`:
the word, the role, the version; never the text). A reply no reminder can take (no SMS, or two
reminders not clearly ordered) goes to the clinic's staff list, never to a guess.

Every reply is audited (actor `46elks`, action `sms.reply`, outcome the match; never its text or
number) and counted (`patient_replies` by clinic, word and match, on the process's Temporal runtime).
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from datetime import UTC, datetime
from enum import Enum

import structlog
from temporalio.client import Client
from temporalio.runtime import Runtime
from temporalio.service import RPCError

from adapters.audit import AuditRecord, AuditTrail
from adapters.directory import Directory
from adapters.replies import InboundReply, Replies, StoredReply
from adapters.sms_elks import delivery_token
from application import workflow_calls
from application.errors import EndedError, InputError, NotFoundError
from domain.phone import mask_mobile
from domain.replies import MatchOutcome, PatientReply, ReplyWord, match_reply, read_reply
from domain.types import ContractModel

__all__ = [
    "REPLIES_PATH",
    "SIGNAL",
    "InboundReply",
    "ReplyServices",
    "StaffReply",
    "Taken",
    "reply_clinic",
    "reply_token",
    "reply_url",
    "staff_replies",
    "staff_reply_handled",
    "take_reply",
]

log = structlog.get_logger(__name__)

REPLIES_PATH = "/callbacks/sms/46elks/replies"
"""The door 46elks posts a clinic's inbound SMS to (`entrypoints/http/replies.py`)."""
SIGNAL = "patient_reply"
"""The reminder's signal a matched reply is sent as (its handler is the reminder workflow's)."""
ACTOR = "46elks"


class Taken(Enum):
    """What became of an inbound reply."""

    SIGNALLED = "signalled"  # matched (or late), kept, and the reminder told
    STAFF = "staff"  # kept on the clinic's staff list (unmatched or ambiguous)
    CLOSED = "closed"  # matched, kept; the reminder has ended: nothing to tell
    REPEAT = "repeat"  # the same provider id again: nothing changed
    NO_CLINIC = "no_clinic"  # no clinic takes replies on that number: nothing kept
    UNREACHABLE = "unreachable"  # kept, but Temporal cannot be reached: the provider should try again


@dataclass(frozen=True)
class ReplyServices:
    client: Client
    directory: Directory
    replies: Replies
    audit: AuditTrail


def reply_token(secret: str, number: str) -> str:
    """The Basic password of the replies' URL of the virtual number `number` (E.164): an HMAC-SHA256
    under `PM_DELIVERY_SECRET`, in another domain than any message's delivery token (a key of an SMS
    is `<workflow id>/v<n>/<role>`, never `replies:<number>`)."""
    return delivery_token(secret, f"replies:{number}")


def reply_url(
    directory: Directory, clinic_id: str, secret: str | None, public_url: str | None
) -> dict[str, str]:
    """What to set as `sms_url` on the clinic's 46elks virtual number: the replies' URL of the
    service's public address with the number's token as the Basic password (user `46elks`)."""
    clinic = directory.clinic(clinic_id)
    if clinic is None:
        raise InputError(f"unknown clinic '{clinic_id}'")
    if clinic.reply_number is None:
        raise InputError(f"clinic '{clinic_id}' has no reply_number: set one in the directory first")
    if not secret or not public_url:
        raise InputError("set PM_DELIVERY_SECRET and PM_PUBLIC_URL: the URL is made of both")
    scheme, _, host = public_url.rstrip("/").partition("://")
    token = reply_token(secret, clinic.reply_number)
    return {
        "clinic_id": clinic_id,
        "reply_number": clinic.reply_number,
        "sms_url": f"{scheme}://46elks:{token}@{host}{REPLIES_PATH}",
    }


def reply_clinic(directory: Directory, reply_number: str) -> str | None:
    """The clinic whose virtual number `reply_number` is (`Clinic.reply_number`), or None."""
    return next((c.clinic_id for c in directory.clinics() if c.reply_number == reply_number), None)


async def take_reply(services: ReplyServices, reply: InboundReply) -> Taken:
    """Keep, match and signal one inbound reply (the door has checked its credentials); the same
    provider id again changes nothing, except that a match not yet told is told now."""
    clinic_id = await asyncio.to_thread(reply_clinic, services.directory, reply.reply_number)
    if clinic_id is None:
        log.warning("sms_reply_to_unknown_number", inbound_id=reply.inbound_id)
        return Taken.NO_CLINIC
    word = read_reply(reply.text)
    sent = await asyncio.to_thread(services.replies.sent_to, reply.reply_number, reply.sender)
    match = match_reply([s for s in sent if s.clinic_id == clinic_id], reply.received_at)
    kept, new = await asyncio.to_thread(
        services.replies.keep, reply, clinic_id, word, match.outcome, match.sms
    )
    if not new and (kept.signalled or kept.workflow_id is None):
        log.info("sms_reply_repeated", inbound_id=reply.inbound_id, outcome=kept.outcome.value)
        return Taken.REPEAT
    taken = await _tell(services, kept) if kept.workflow_id else Taken.STAFF
    if new:
        await asyncio.to_thread(_audit, services.audit, kept)
        _count(services.client, kept)
    log.info(
        "sms_reply",
        inbound_id=kept.inbound_id,
        clinic_id=clinic_id,
        word=kept.word.value,
        outcome=kept.outcome.value,
        workflow_id=kept.workflow_id,
        taken=taken.value,
    )
    return taken


async def _tell(services: ReplyServices, kept: StoredReply) -> Taken:
    """Signal the matched reply to its reminder, and remember that it was told."""
    assert kept.workflow_id and kept.version and kept.role
    answer = PatientReply(
        inbound_id=kept.inbound_id,
        word=kept.word,
        role=kept.role,
        version=kept.version,
        received_at=kept.received_at,
    )
    try:
        await workflow_calls.signal_named(services.client, kept.workflow_id, SIGNAL, answer)
    except (EndedError, NotFoundError):
        taken = Taken.CLOSED
    except RPCError as err:
        log.warning("sms_reply_not_signalled", inbound_id=kept.inbound_id, error=type(err).__name__)
        return Taken.UNREACHABLE
    else:
        taken = Taken.SIGNALLED
    await asyncio.to_thread(services.replies.mark_signalled, kept.inbound_id)
    return taken


class StaffReply(ContractModel):
    """A reply on the clinic's staff list: the number masked; the text as the patient wrote it."""

    inbound_id: str
    received_at: datetime
    to: str  # masked
    word: ReplyWord
    outcome: MatchOutcome
    text: str


def staff_replies(replies: Replies, clinic_id: str) -> list[StaffReply]:
    """The clinic's replies no reminder took (unmatched, ambiguous), newest first, numbers masked."""
    return [
        StaffReply(
            inbound_id=r.inbound_id,
            received_at=r.received_at,
            to=mask_mobile(r.sender or ""),
            word=r.word,
            outcome=r.outcome,
            text=r.text or "",
        )
        for r in replies.for_staff(clinic_id)
    ]


def staff_reply_handled(replies: Replies, clinic_id: str, inbound_id: str) -> None:
    """Staff have handled a reply of the clinic's list: the store keeps it, the list stops showing
    it; a repeat changes nothing. Another clinic's reply, a matched one or an unknown id: unknown."""
    if not replies.mark_handled(inbound_id, clinic_id, datetime.now(UTC)):
        raise NotFoundError(f"no reply '{inbound_id}' on the replies list of clinic '{clinic_id}'")


def _audit(audit: AuditTrail, kept: StoredReply) -> None:
    """The reply's audit row: who (the provider), what, which reminder, the match; never the text."""
    audit.record(
        AuditRecord(
            at=datetime.now(UTC),
            actor=ACTOR,
            action=f"sms.reply.{kept.word.value}",
            workflow_id=kept.workflow_id,
            clinic_id=kept.clinic_id,
            outcome=kept.outcome.value,
        )
    )


def _count(client: Client, kept: StoredReply) -> None:
    """Count the reply on the process's Temporal runtime (exported with `PM_METRICS_BIND`)."""
    runtime = client.service_client.config.runtime or Runtime.default()
    meter = runtime.metric_meter
    counter = meter.create_counter("patient_replies", "SMS replies by clinic, word and match")
    counter.with_additional_attributes({"clinic_id": kept.clinic_id or ""}).add(
        1, {"word": kept.word.value, "outcome": kept.outcome.value}
    )
