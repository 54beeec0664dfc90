"""How an invitation message finds the patient (issue 27, item 2; V5, V6): the clinic's routing plan.

A plan is an ordered list of channels. Each message of an invitation (the invitation and its two
reminders, V6) walks it: the first step whose channel can reach the patient is used at once; a later
step with an `after` is taken when the message is still unread in 1177 that long after the last step
used, and a step without one only stands in for the steps before it that cannot reach the patient.
Whether a message was read is known only of the 1177 inbox, so a walk goes on only while its 1177
message is unread (a patient without 1177 gets the first channel that reaches them, as V5 says). The
plan without fallback, `V5_PLAN` (1177, else a letter), is every clinic's until its directory entry
says otherwise.

Minors and protected identities (skyddade personuppgifter) are never routed to an SMS notice or a
digital mailbox, which could reach someone else or reveal the contact to a third party: they get the
1177 inbox (signed in with e-legitimation) or a letter. Pure code: no I/O, no Temporal.
"""

from __future__ import annotations

from datetime import timedelta
from enum import StrEnum

from pydantic import Field, model_validator

from domain.status import MessageChannel, Reason
from domain.types import ContractModel

REMINDER_INTERVAL = timedelta(days=14)
"""V6: the next message follows 14 days after the previous one; a walk must end before it."""
SHORTEST_WAIT = timedelta(minutes=1)


class RouteChannel(StrEnum):
    INBOX_1177 = "1177"
    SMS_NOTICE = "sms_notice"  # an SMS saying a message waits in 1177 (S9 consent applies)
    DIGITAL_MAILBOX = "digital_mailbox"  # Kivra, Min myndighetspost… found through the FaR register
    LETTER = "letter"

    @property
    def message_channel(self) -> MessageChannel:
        """The channel a message record shows."""
        return _RECORDED[self]


_RECORDED = {
    RouteChannel.INBOX_1177: MessageChannel.INBOX_1177,
    RouteChannel.SMS_NOTICE: MessageChannel.SMS,
    RouteChannel.DIGITAL_MAILBOX: MessageChannel.DIGITAL_MAILBOX,
    RouteChannel.LETTER: MessageChannel.LETTER,
}


class RouteStep(ContractModel):
    channel: RouteChannel
    after: timedelta | None = Field(
        default=None,
        description="taken when the message is still unread in 1177 this long after the last step used "
        "(ISO 8601, e.g. P3D); without it the step only stands in for earlier steps that cannot reach "
        "the patient",
    )


class RoutingPlan(ContractModel):
    """A clinic's channels in order (the directory's `routing`)."""

    steps: list[RouteStep] = Field(min_length=1, max_length=len(RouteChannel))

    @model_validator(mode="after")
    def _walkable(self) -> RoutingPlan:
        channels = [s.channel for s in self.steps]
        if len(set(channels)) != len(channels):
            raise ValueError("routing: each channel at most once")
        if self.steps[0].after is not None:
            raise ValueError("routing: the first step is taken at once (no 'after')")
        waits = [s.after for s in self.steps if s.after is not None]
        if any(w < SHORTEST_WAIT for w in waits):
            raise ValueError("routing: an 'after' must be at least one minute")
        if sum(waits, timedelta()) >= REMINDER_INTERVAL:
            raise ValueError("routing: the waits must add up to less than the 14 days between messages (V6)")
        if RouteChannel.SMS_NOTICE in channels and (
            RouteChannel.INBOX_1177 not in channels
            or channels.index(RouteChannel.SMS_NOTICE) < channels.index(RouteChannel.INBOX_1177)
        ):
            raise ValueError("routing: an sms_notice points to the 1177 message, so it comes after 1177")
        return self


V5_PLAN = RoutingPlan(
    steps=[RouteStep(channel=RouteChannel.INBOX_1177), RouteStep(channel=RouteChannel.LETTER)]
)
"""V5 as a plan: the 1177 inbox for a patient who uses it, else a letter; no fallback on unread."""


class Reach(ContractModel):
    """What is known of the patient when a step is due (the activity reads it then, as V5 says)."""

    uses_1177: bool
    minor: bool  # S2, by the reception's age limit
    protected_identity: bool
    sms_allowed: bool  # the patient's own mobile and an SMS consent in force for the clinic (S3, S9)
    has_mailbox: bool | None = None  # the FaR register's answer; None: not asked
    has_address: bool
    inbox_message: bool = False  # this message already waits in the patient's 1177 inbox


def refusal(channel: RouteChannel, reach: Reach) -> Reason | None:
    """Why `channel` cannot carry this message to the patient now (None: it can)."""
    shielded = reach.minor or reach.protected_identity
    if channel is RouteChannel.INBOX_1177:
        return None if reach.uses_1177 else Reason.NOT_1177_USER
    if channel is RouteChannel.SMS_NOTICE:
        if shielded:
            return Reason.SHIELDED
        if not reach.inbox_message:
            return Reason.NOT_1177_USER
        return None if reach.sms_allowed else Reason.NO_CONSENT
    if channel is RouteChannel.DIGITAL_MAILBOX:
        if shielded:
            return Reason.SHIELDED
        return None if reach.has_mailbox else Reason.NO_MAILBOX
    return None if reach.has_address else Reason.NO_POSTAL_ADDRESS


def asks_register(plan: RoutingPlan, start: int, reach: Reach) -> bool:
    """Whether the walk from `start` may need the FaR register's answer (never for a shielded patient)."""
    channels = [s.channel for s in plan.steps[start:]]
    return RouteChannel.DIGITAL_MAILBOX in channels and not (reach.minor or reach.protected_identity)


class Choice(ContractModel):
    """The step a walk takes: its position in the plan, or none (`reason`: why the last one could not)."""

    position: int | None
    reason: Reason | None = None


def choose(plan: RoutingPlan, start: int, reach: Reach) -> Choice:
    """The first step at or after `start` whose channel can reach the patient."""
    reason: Reason | None = None
    for position in range(start, len(plan.steps)):
        reason = refusal(plan.steps[position].channel, reach)
        if reason is None:
            return Choice(position=position)
    return Choice(position=None, reason=reason)


def wait_after(plan: RoutingPlan, position: int, channel_reports_reading: bool) -> timedelta | None:
    """How long the message may stay unread after the step at `position` before the next step, or
    None when the walk ends there: no later step with an `after`, or no 1177 message to read."""
    if not channel_reports_reading:
        return None
    later = plan.steps[position + 1 :]
    return later[0].after if later else None
