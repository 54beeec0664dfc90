"""The events of the webhooks (contracts/events.py): one id per change, only the booking system's own
ids in the body (S16: no personnummer, name or number)."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta, timezone

from contracts.events import (
    Event,
    EventType,
    cancel_requested,
    delivery_event,
    event_workflow_id,
    invitation_message_event,
    invitation_state_event,
    message_event,
    reminder_skipped,
)
from contracts.workflow_ids import (
    booking_reminder_id,
    group_booking_id,
    invitation_id,
    sms_key,
    team_reminder_id,
)
from domain.invitation import InvitationState
from domain.status import Delivery, MessageChannel, MessageKind, Outcome, Reason, RecipientRole

AT = datetime(2027, 3, 28, 10, 0, tzinfo=timezone(timedelta(hours=2)))
KEY = sms_key(booking_reminder_id("kir", "B1"), 2, RecipientRole.GUARDIAN_1)


def test_the_same_change_has_the_same_event_id_and_another_change_another() -> None:
    sent = message_event(EventType.MESSAGE_SENT, KEY, AT)
    again = message_event(EventType.MESSAGE_SENT, KEY, AT + timedelta(minutes=5))
    assert sent is not None and again is not None
    assert sent.id == again.id and sent.id.startswith("evt_")
    other_type = message_event(EventType.MESSAGE_FAILED, KEY, AT)
    other_version = message_event(
        EventType.MESSAGE_SENT, sms_key(booking_reminder_id("kir", "B1"), 3, RecipientRole.GUARDIAN_1), AT
    )
    other_clinic = message_event(
        EventType.MESSAGE_SENT, sms_key(booking_reminder_id("onh", "B1"), 2, RecipientRole.GUARDIAN_1), AT
    )
    ids = {e.id for e in (sent, other_type, other_version, other_clinic) if e}
    assert len(ids) == 4
    assert event_workflow_id(sent) == f"webhook-event:{sent.id}"


def test_the_body_is_type_timestamp_and_the_booking_systems_own_ids() -> None:
    event = message_event(EventType.MESSAGE_FAILED, KEY, AT, reason=Reason.INVALID_NUMBER)
    assert event is not None
    assert json.loads(event.body()) == {
        "type": "message.failed",
        "timestamp": "2027-03-28T08:00:00.000Z",
        "data": {
            "clinic_id": "kir",
            "booking_id": "B1",
            "message": "sms_reminder",
            "channel": "sms",
            "recipient": "guardian_1",
            "visit_version": 2,
            "reason": "invalid_number",
        },
    }


def test_team_visits_and_legacy_ids_name_the_issued_id_and_the_clinic() -> None:
    team = message_event(
        EventType.MESSAGE_SENT, sms_key(team_reminder_id("kir", "T1"), 1, RecipientRole.PATIENT), AT
    )
    assert team is not None and team.data.team_visit_id == "T1" and team.data.booking_id is None
    legacy_key = sms_key("sms-reminder-B7", 1, RecipientRole.PATIENT)
    assert message_event(EventType.MESSAGE_SENT, legacy_key, AT) is None  # no clinic known
    legacy = message_event(EventType.MESSAGE_SENT, legacy_key, AT, clinic_id="kir")
    assert legacy is not None and (legacy.data.clinic_id, legacy.data.booking_id) == ("kir", "B7")
    assert message_event(EventType.MESSAGE_SENT, "not-a-key", AT) is None
    assert (
        message_event(
            EventType.MESSAGE_SENT, sms_key(group_booking_id("kir", "G"), 1, RecipientRole.PATIENT), AT
        )
        is not None
    )


def test_a_reminder_skipped_as_a_whole_names_no_recipient_and_its_reason() -> None:
    event = reminder_skipped(booking_reminder_id("kir", "B1"), 1, Reason.SMS_FLAG_OFF, AT)
    assert event is not None and event.type is EventType.MESSAGE_SKIPPED
    data = json.loads(event.body())["data"]
    assert data == {
        "clinic_id": "kir",
        "booking_id": "B1",
        "message": "sms_reminder",
        "channel": "sms",
        "visit_version": 1,
        "reason": "sms_flag_off",
    }
    assert event.id != reminder_skipped(booking_reminder_id("kir", "B1"), 2, Reason.SMS_FLAG_OFF, AT).id


def test_delivery_reports_make_delivered_and_undelivered_but_pending_nothing() -> None:
    delivered = delivery_event(KEY, Delivery.DELIVERED, AT.astimezone(UTC))
    undelivered = delivery_event(KEY, Delivery.FAILED, AT)
    assert delivered is not None and delivered.type is EventType.MESSAGE_DELIVERED
    assert undelivered is not None and undelivered.type is EventType.MESSAGE_UNDELIVERED
    assert delivered.id != undelivered.id
    assert delivery_event(KEY, Delivery.PENDING, AT) is None


REQUEST = invitation_id("kir", "R1")


def message(
    channel: MessageChannel, outcome: Outcome = Outcome.SENT, kind: MessageKind = MessageKind.INVITATION
) -> Event | None:
    step = kind.value
    state = {"invitation": "invited", "reminder_1": "reminded_1", "reminder_2": "reminded_2"}[step]
    reason = None if outcome is Outcome.SENT else Reason.NO_POSTAL_ADDRESS
    return invitation_message_event(
        f"{REQUEST}/{step}",
        kind,
        channel,
        outcome,
        InvitationState(state),
        AT,
        clinic_id="kir",
        reason=reason,
    )


def test_an_invitation_message_is_invited_reminded_letter_or_failed_with_one_id_whichever_it_was() -> None:
    """V5: a retry that found the inbox gone and sent a letter repeats the first event's id."""
    inbox, letter = message(MessageChannel.INBOX_1177), message(MessageChannel.LETTER)
    failed = message(MessageChannel.LETTER, Outcome.FAILED)
    reminded = message(MessageChannel.INBOX_1177, kind=MessageKind.REMINDER_2)
    assert inbox and letter and failed and reminded
    assert [e.type for e in (inbox, letter, failed, reminded)] == [
        EventType.INVITATION_INVITED,
        EventType.INVITATION_LETTER,
        EventType.MESSAGE_FAILED,
        EventType.INVITATION_REMINDED,
    ]
    assert inbox.id == letter.id == failed.id != reminded.id
    assert json.loads(failed.body())["data"] == {
        "clinic_id": "kir",
        "request_id": "R1",
        "state": "invited",
        "message": "invitation",
        "channel": "letter",
        "reason": "no_postal_address",
    }
    assert json.loads(reminded.body())["data"]["state"] == "reminded_2"


def test_V13_each_state_a_request_reaches_has_one_id_and_other_states_make_none() -> None:
    events = {
        state: invitation_state_event(REQUEST, state, AT, clinic_id="kir")
        for state in (
            InvitationState.BOOKED,
            InvitationState.CONTACTED,
            InvitationState.CANCELLED,
            InvitationState.FOLLOW_UP,
        )
    }
    assert all(events.values()) and len({e.id for e in events.values() if e}) == 4
    expired = events[InvitationState.FOLLOW_UP]
    assert expired is not None and expired.type is EventType.INVITATION_EXPIRED
    again = invitation_state_event(
        REQUEST, InvitationState.FOLLOW_UP, AT + timedelta(days=1), clinic_id="kir"
    )
    assert again is not None and again.id == expired.id
    assert invitation_state_event(REQUEST, InvitationState.INVITED, AT, clinic_id="kir") is None
    assert (
        invitation_state_event(booking_reminder_id("kir", "B1"), InvitationState.BOOKED, AT, clinic_id="kir")
        is None
    )
    assert json.loads(expired.body())["data"] == {
        "clinic_id": "kir",
        "request_id": "R1",
        "state": "follow_up",
    }


def test_replies_cancel_requested_names_the_booking_and_is_the_same_event_for_the_same_reply() -> None:
    workflow_id = booking_reminder_id("kir", "B1")
    event = cancel_requested(workflow_id, "in-1", 2, RecipientRole.GUARDIAN_1, AT, clinic_id="kir")
    assert event is not None and event.type is EventType.REMINDER_CANCEL_REQUESTED
    assert json.loads(event.body())["data"] == {
        "clinic_id": "kir",
        "booking_id": "B1",
        "message": "sms_reminder",
        "channel": "sms",
        "recipient": "guardian_1",
        "visit_version": 2,
    }
    again = cancel_requested(workflow_id, "in-1", 2, RecipientRole.GUARDIAN_1, AT, clinic_id="kir")
    other = cancel_requested(workflow_id, "in-2", 2, RecipientRole.GUARDIAN_1, AT, clinic_id="kir")
    assert again is not None and other is not None and again.id == event.id != other.id
    assert (
        cancel_requested(invitation_id("kir", "R1"), "in-1", 1, RecipientRole.PATIENT, AT, clinic_id="kir")
        is None
    )
