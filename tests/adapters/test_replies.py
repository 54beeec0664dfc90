"""Issue 28: the reply store on both backends — the reminder SMS sent from a virtual number, found by
the number they went to (stored only as a keyed digest), and the inbound replies kept once per
provider id with the sender and the text sealed."""

from __future__ import annotations

import sqlite3
from datetime import UTC, datetime, timedelta

import psycopg

from adapters.replies import InboundReply
from contracts.workflow_ids import parse_sms_key, sms_key
from domain.replies import MatchOutcome, ReplyWord, SentReminderSms, match_reply
from domain.status import RecipientRole
from infrastructure.stores import Stores
from security.keyring import Keyring
from tests.adapters.conftest import Backend

KEYRING = Keyring.generate()


def opened(backend: Backend, keyring: Keyring = KEYRING) -> Stores:
    """The state as another process (or replica) opens it, with the service's keyring."""
    stores = Stores(backend.settings, keyring)
    backend._opened.append(stores)
    return stores


VIRTUAL, OTHER_VIRTUAL = "+46766860001", "+46766860002"
MOBILE, GUARDIAN = "+46701740605", "+46701740606"
T0 = datetime(2027, 3, 1, 9, 0, tzinfo=UTC)
VISIT = T0 + timedelta(days=1)


def sms_at(key: str, at: datetime) -> SentReminderSms:
    parts = parse_sms_key(key)
    assert parts is not None
    return SentReminderSms(
        workflow_id=parts.workflow_id,
        version=parts.version,
        role=parts.role,
        clinic_id="kir",
        sent_at=at,
        visit_start=VISIT,
    )


def stored_text(backend: Backend) -> str:
    """Every value of the two tables, as one string (what a database read would give)."""
    tables = ("reply_sms", "inbound_replies")
    if backend.settings.database_url:
        with psycopg.connect(backend.settings.database_url) as conn:
            found = [r for t in tables for r in conn.execute(f"SELECT * FROM {t}").fetchall()]
    else:
        with sqlite3.connect(backend.settings.data_dir / "replies.sqlite3") as conn:
            found = [r for t in tables for r in conn.execute(f"SELECT * FROM {t}").fetchall()]
    return " ".join(str(v) for row in found for v in row)


def test_issue28_sent_sms_are_found_by_virtual_and_number_on_another_replica(backend: Backend) -> None:
    here, replica = opened(backend).replies, opened(backend).replies
    key = sms_key("sms-reminder-b1", 1, RecipientRole.PATIENT)
    here.record_sent(key, VIRTUAL, MOBILE, sms_at(key, T0))
    here.record_sent(key, VIRTUAL, MOBILE, sms_at(key, T0 + timedelta(hours=2)))  # a retry: kept first
    guardian_key = sms_key("sms-reminder-b2", 1, RecipientRole.GUARDIAN_1)
    here.record_sent(guardian_key, VIRTUAL, GUARDIAN, sms_at(guardian_key, T0))
    [sent] = replica.sent_to(VIRTUAL, MOBILE)
    assert (sent.workflow_id, sent.version, sent.role, sent.sent_at) == (
        "sms-reminder-b1",
        1,
        RecipientRole.PATIENT,
        T0,
    )
    assert replica.sent_to(OTHER_VIRTUAL, MOBILE) == []  # another virtual number: another conversation
    assert [s.role for s in replica.sent_to(VIRTUAL, GUARDIAN)] == [RecipientRole.GUARDIAN_1]
    assert MOBILE not in stored_text(backend) and MOBILE.removeprefix("+") not in stored_text(backend)


def test_issue28_an_inbound_reply_is_kept_once_per_id_sealed(backend: Backend) -> None:
    replies = opened(backend).replies
    reply = InboundReply(
        inbound_id="s1", reply_number=VIRTUAL, sender=MOBILE, text="Kan jag byta tid? /Anna", received_at=T0
    )
    kept, new = replies.keep(reply, "kir", ReplyWord.OTHER, MatchOutcome.UNMATCHED, None)
    assert new and kept.outcome is MatchOutcome.UNMATCHED and kept.text is None  # not opened
    again, new = replies.keep(
        reply.model_copy(update={"text": "AVBOKA"}), "kir", ReplyWord.CANCEL, MatchOutcome.MATCHED, None
    )
    assert not new and again.word is ReplyWord.OTHER  # the same id again changes nothing
    [listed] = opened(backend).replies.for_staff("kir")
    assert (listed.text, listed.sender) == ("Kan jag byta tid? /Anna", MOBILE)
    assert opened(backend).replies.for_staff("onh") == []  # only the clinic's own
    text = stored_text(backend)
    assert "Anna" not in text and MOBILE not in text and "pm-sealed:v1:" in text


def test_issue28_a_matched_reply_is_not_on_the_staff_list_and_remembers_its_signal(backend: Backend) -> None:
    replies = opened(backend).replies
    key = sms_key("sms-reminder-b1", 2, RecipientRole.PATIENT)
    replies.record_sent(key, VIRTUAL, MOBILE, sms_at(key, T0))
    match = match_reply(replies.sent_to(VIRTUAL, MOBILE), T0 + timedelta(hours=1))
    assert match.outcome is MatchOutcome.MATCHED
    reply = InboundReply(inbound_id="s2", reply_number=VIRTUAL, sender=MOBILE, text="avboka", received_at=T0)
    kept, _ = replies.keep(reply, "kir", ReplyWord.CANCEL, match.outcome, match.sms)
    assert (kept.workflow_id, kept.version, kept.role, kept.signalled) == (
        "sms-reminder-b1",
        2,
        RecipientRole.PATIENT,
        False,
    )
    replies.mark_signalled("s2")
    assert replies.reply("s2").signalled
    assert replies.for_staff("kir") == []


def test_issue28_a_rotated_keyring_still_finds_the_sms_and_opens_the_replies(backend: Backend) -> None:
    key = sms_key("sms-reminder-b1", 1, RecipientRole.PATIENT)
    opened(backend).replies.record_sent(key, VIRTUAL, MOBILE, sms_at(key, T0))
    reply = InboundReply(inbound_id="s3", reply_number=VIRTUAL, sender=MOBILE, text="hej", received_at=T0)
    opened(backend).replies.keep(reply, "kir", ReplyWord.OTHER, MatchOutcome.UNMATCHED, None)
    rotated = opened(backend, KEYRING.rotated()).replies
    assert [s.workflow_id for s in rotated.sent_to(VIRTUAL, MOBILE)] == ["sms-reminder-b1"]
    assert [r.text for r in rotated.for_staff("kir")] == ["hej"]
    assert opened(backend, Keyring.generate()).replies.sent_to(VIRTUAL, MOBILE) == []  # another keyring


def test_issue28_a_reply_marked_handled_is_kept_but_off_the_clinics_list(backend: Backend) -> None:
    replies = opened(backend).replies
    for inbound_id in ("h1", "h2"):
        reply = InboundReply(
            inbound_id=inbound_id, reply_number=VIRTUAL, sender=MOBILE, text="hej", received_at=T0
        )
        replies.keep(reply, "kir", ReplyWord.OTHER, MatchOutcome.UNMATCHED, None)
    assert not replies.mark_handled("h1", "onh", T0)  # another clinic's reply: unknown, nothing changes
    assert not replies.mark_handled("nope", "kir", T0)
    assert {r.inbound_id for r in replies.for_staff("kir")} == {"h1", "h2"}
    assert replies.mark_handled("h1", "kir", T0 + timedelta(minutes=5))
    assert replies.mark_handled("h1", "kir", T0 + timedelta(hours=1))  # a repeat: harmless, first time kept
    assert [r.inbound_id for r in opened(backend).replies.for_staff("kir")] == ["h2"]
    kept = opened(backend).replies.reply("h1")
    assert kept is not None and kept.handled_at == T0 + timedelta(minutes=5)


def test_issue28_a_matched_reply_cannot_be_marked_handled_on_the_list(backend: Backend) -> None:
    replies = opened(backend).replies
    key = sms_key("sms-reminder-b1", 1, RecipientRole.PATIENT)
    replies.record_sent(key, VIRTUAL, MOBILE, sms_at(key, T0))
    match = match_reply(replies.sent_to(VIRTUAL, MOBILE), T0 + timedelta(hours=1))
    reply = InboundReply(inbound_id="h3", reply_number=VIRTUAL, sender=MOBILE, text="avboka", received_at=T0)
    replies.keep(reply, "kir", ReplyWord.CANCEL, match.outcome, match.sms)
    assert not replies.mark_handled("h3", "kir", T0)  # the reminder's own: handled on the visit page
    assert replies.reply("h3").handled_at is None
