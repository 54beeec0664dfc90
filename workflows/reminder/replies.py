"""What a patient's reply does to the reminder (issue 28, signal `patient_reply`): workflow code only.

Each reply (by the provider's `inbound_id`) counts once. After the visit has started (or once it is
cancelled) a reply only logs. Otherwise:

- `avboka`: a cancellation request, shown in the status and on the staff list Uppföljning until a
  person marks it handled (update `reply_handled`); the booking system hears `reminder.cancel_requested`;
  one confirmation SMS per visit version;
- `stopp`: the SMS consent for the clinic withdrawn (source `sms`, S9) and one confirmation;
- anything else: on the Uppföljning list too, and at most one "vi kunde inte läsa ditt svar" per reminder.

The commands run only when a reply arrives, behind patch `patient-replies` (docs/changing-workflows.md).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, TypeVar

from temporalio import workflow
from temporalio.common import RetryPolicy
from temporalio.exceptions import ActivityError

with workflow.unsafe.imports_passed_through():
    from contracts import search_attributes as search
    from contracts.reply_activities import (
        CancelRequest,
        ConsentStop,
        ReplyActions,
        ReplyAnswer,
        reply_key,
    )
    from domain.booking import ReminderStart
    from domain.invitation_status import WorkList
    from domain.replies import PatientReply, ReplyWord
    from domain.status import ReplyView
    from workflows.mechanics import upsert

A = TypeVar("A")

PATIENT_REPLIES = "patient-replies"
"""Patch id of every reminder type: the commands of a reply (activities, the work-list upsert). Read
only when a reply arrives, so a reminder nobody answers takes no marker."""
REPLY_TIMEOUT = timedelta(seconds=30)
REPLY_DEADLINE = timedelta(days=1)
REPLY_RETRY = RetryPolicy(initial_interval=timedelta(seconds=2), maximum_interval=timedelta(minutes=5))


@dataclass(frozen=True)
class Replied:
    """What a reply reads of its reminder (`process.Reminder`) as it arrives."""

    visit: ReminderStart
    visit_start: datetime
    visit_version: int
    visit_cancelled: bool
    lean: bool  # upsert only the search attributes that change


class Replies:
    """The replies of one reminder: those seen, what they did, and the staff's follow-up."""

    def __init__(self) -> None:
        self.views: list[ReplyView] = []
        self._seen: set[str] = set()
        self._done: set[tuple[ReplyWord, int]] = set()  # (word, visit version) answered; OTHER: version 0

    def waiting(self) -> bool:
        """A reply staff have not handled yet (the reminder is on the Uppföljning list)."""
        return any(not v.handled for v in self.views)

    async def take(self, reminder: Replied, reply: PatientReply) -> None:
        """Act on `reply` once (by its inbound id)."""
        if reply.inbound_id in self._seen:
            workflow.logger.info("reply already taken", extra={"word": reply.word.value})
            return
        self._seen.add(reply.inbound_id)
        late = reminder.visit_cancelled or max(workflow.now(), reply.received_at) >= reminder.visit_start
        _count(reply, late)
        if late:
            workflow.logger.info("reply after the visit: nothing done", extra={"word": reply.word.value})
            return
        if not workflow.patched(PATIENT_REPLIES):
            return  # unreachable: no history from before the patch holds a reply
        view = ReplyView(
            word=reply.word.value,
            role=reply.role,
            at=reply.received_at,
            visit_version=reply.version,
            handled=reply.word is ReplyWord.STOP,
        )
        self.views.append(view)
        self.publish(reminder)
        once = (reply.word, 0 if reply.word is ReplyWord.OTHER else reminder.visit_version)
        if once in self._done:
            workflow.logger.info("reply answered before: no SMS", extra={"word": reply.word.value})
            return
        self._done.add(once)
        if reply.word is ReplyWord.CANCEL:
            await _run(ReplyActions.tell_cancel_request, _cancel_request(reminder, reply))
        elif reply.word is ReplyWord.STOP:
            stop = ConsentStop(
                patient_id=reminder.visit.patient_id, clinic_id=reminder.visit.clinic_id, at=reply.received_at
            )
            await _run(ReplyActions.stop_sms_consent, stop)
        await _run(ReplyActions.answer_reply, _answer(reminder, reply))

    def handle(self, reminder: Replied) -> None:
        """Staff have handled every reply waiting (update `reply_handled`); a repeat changes nothing."""
        if not self.waiting():
            return
        self.views = [v.model_copy(update={"handled": True}) for v in self.views]
        self.publish(reminder)

    def publish(self, reminder: Replied) -> None:
        """The reminder on the Uppföljning list while a reply waits, off it when none does."""
        if self.waiting():
            upsert([search.WORK_LIST.value_set(WorkList.UPPFOLJNING.value)], only_changed=reminder.lean)
        else:
            upsert([search.WORK_LIST.value_unset()], only_changed=reminder.lean)


def _cancel_request(reminder: Replied, reply: PatientReply) -> CancelRequest:
    return CancelRequest(
        workflow_id=workflow.info().workflow_id,
        clinic_id=reminder.visit.clinic_id,
        inbound_id=reply.inbound_id,
        version=reply.version,
        role=reply.role,
        at=reply.received_at,
    )


def _answer(reminder: Replied, reply: PatientReply) -> ReplyAnswer:
    visit = reminder.visit
    return ReplyAnswer(
        key=reply_key(workflow.info().workflow_id, reply.inbound_id),
        word=reply.word,
        role=reply.role,
        patient_id=visit.patient_id,
        clinic_id=visit.clinic_id,
        reception_id=visit.reception_id,
        start=reminder.visit_start,
    )


async def _run(activity: Callable[[ReplyActions, A], Any], arg: A) -> None:
    """One reply activity, retried for a day; one given up is logged (the reply stays in the status)."""
    try:
        await workflow.execute_activity_method(
            activity,
            arg,
            start_to_close_timeout=REPLY_TIMEOUT,
            schedule_to_close_timeout=REPLY_DEADLINE,
            retry_policy=REPLY_RETRY,
        )
    except ActivityError:
        workflow.logger.warning("reply activity given up", extra={"activity": activity.__name__})


def _count(reply: PatientReply, late: bool) -> None:
    """Count the reply by word, role and whether it came too late (after the visit, or a cancelled
    one) on the SDK's replay-safe meter, as `mechanics.record_message` counts messages."""
    counter = workflow.metric_meter().create_counter(
        "patient_replies", "Patients' replies to SMS reminders, by word, role and lateness"
    )
    counter.add(1, {"word": reply.word.value, "role": reply.role.value, "late": str(late).lower()})
