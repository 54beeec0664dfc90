"""The activities of a patient's reply to a reminder (issue 28): their inputs and signatures, which
the reminder calls by these typed references and `activities/replies.py` implements.

Inputs carry system ids, the patient id (a payload, encrypted by the codec; never a workflow id,
search attribute or log line) and the reply's word: never its text, a name or a number.
"""

from __future__ import annotations

from datetime import datetime

from pydantic import Field
from temporalio import activity

from contracts.activities import NOT_IMPLEMENTED, SendResult
from domain.replies import ReplyWord
from domain.status import RecipientRole
from domain.types import ContractModel


def reply_key(workflow_id: str, inbound_id: str) -> str:
    """The idempotency key of the SMS that answers the reply `inbound_id` (one per reply)."""
    return f"{workflow_id}/reply/{inbound_id}"


class ReplyAnswer(ContractModel):
    """The one SMS that answers a reply, to the number of `role` as the directory has it now."""

    key: str = Field(min_length=1, max_length=200)
    word: ReplyWord
    role: RecipientRole
    patient_id: str
    clinic_id: str
    reception_id: str
    start: datetime  # the visit, as the reminder knows it


class ConsentStop(ContractModel):
    """STOPP: the SMS consent for `clinic_id` withdrawn by the patient's reply at `at` (S9, source `sms`)."""

    patient_id: str
    clinic_id: str
    at: datetime


class CancelRequest(ContractModel):
    """AVBOKA: told to the clinic's webhooks as `reminder.cancel_requested`."""

    workflow_id: str
    clinic_id: str
    inbound_id: str
    version: int
    role: RecipientRole
    at: datetime


class ReplyActions:
    """What a reply does outside the reminder: an SMS back, the consent, the booking system told."""

    @activity.defn
    def answer_reply(self, answer: ReplyAnswer) -> SendResult:
        """Send the answer under its key (a retry sends nothing twice); a refused number is a result."""
        raise NotImplementedError(NOT_IMPLEMENTED)

    @activity.defn
    def stop_sms_consent(self, stop: ConsentStop) -> bool:
        """Record the withdrawal; True if it is new (the same reply again records nothing)."""
        raise NotImplementedError(NOT_IMPLEMENTED)

    @activity.defn
    def tell_cancel_request(self, request: CancelRequest) -> None:
        """Publish `reminder.cancel_requested` (docs/webhooks.md); raises when it could not be handed on."""
        raise NotImplementedError(NOT_IMPLEMENTED)
