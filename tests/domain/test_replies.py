"""Issue 28: reading a patient's reply (`read_reply`): the words, as pure functions and properties."""

from __future__ import annotations

import re
import unicodedata
from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from domain.directory import Clinic, DirectoryDocument
from domain.replies import (
    CLEARLY_APART,
    LOOK_BACK,
    MatchOutcome,
    ReplyMatch,
    ReplyWord,
    SentReminderSms,
    match_reply,
    read_reply,
)
from domain.status import RecipientRole
from tests.domain.strategies import MEDIUM

CANCELS = [
    "AVBOKA",
    "avboka",
    "Avboka",
    "avboka.",
    "Avboka tack",
    "AVBOKA!",
    "  avboka  ",
    "Avböka",
    "avbokà",
    '"Avboka"',
    "avboka, tack!",
    "Avboka 🙏",
    "avboka\n",
]
STOPS = ["STOPP", "stopp", "stopp.", "Stopp!", " STOPP ", "Stöpp", "stop", "STOP tack"]
OTHERS = [
    "",
    "   ",
    "?",
    "Ja",
    "Tack!",
    "Jag kommer",
    "Kan jag byta tid?",
    "avboka inte",
    "Stoppa inte",
    "inte avboka",
    "jag vill inte avboka",
    "avbokade",
    "stoppa",
    "okej stopp",
    "12345",
    "AVBOK",
]


@pytest.mark.parametrize("text", CANCELS)
def test_issue28_avboka_in_any_case_spacing_punctuation_or_marks_is_cancel(text: str) -> None:
    assert read_reply(text) is ReplyWord.CANCEL


@pytest.mark.parametrize("text", STOPS)
def test_issue28_stopp_and_stop_are_stop(text: str) -> None:
    assert read_reply(text) is ReplyWord.STOP


@pytest.mark.parametrize("text", OTHERS)
def test_issue28_anything_else_empty_or_negated_is_other(text: str) -> None:
    assert read_reply(text) is ReplyWord.OTHER


_CASES = st.sampled_from([str.upper, str.lower, str.title, lambda s: s])
_PUNCT = st.text(alphabet=" .,!?\"'()-:;\n\t", max_size=4)
_POLITE = st.sampled_from(["", " tack", " Tack så mycket", " hälsningar", " 🙂"])


@MEDIUM
@given(case=_CASES, before=_PUNCT, after=_PUNCT, polite=_POLITE)
def test_issue28_property_avboka_with_any_case_punctuation_and_politeness_is_cancel(
    case, before: str, after: str, polite: str
) -> None:
    assert read_reply(f"{before}{case('avboka')}{after}{polite}") is ReplyWord.CANCEL


@MEDIUM
@given(case=_CASES, before=_PUNCT, after=_PUNCT, word=st.sampled_from(["stopp", "stop"]))
def test_issue28_property_stopp_with_any_case_and_punctuation_is_stop(
    case, before: str, after: str, word: str
) -> None:
    assert read_reply(f"{before}{case(word)}{after}") is ReplyWord.STOP


@MEDIUM
@given(text=st.text(max_size=300))
def test_issue28_property_any_text_reads_as_one_word_and_cancel_only_when_it_starts_avboka(text: str) -> None:
    """Never an error; CANCEL only for a reply whose first letters (case and marks aside) are a
    cancel word, never for one that carries a negation."""
    word = read_reply(text)
    assert word in set(ReplyWord)
    if word is ReplyWord.CANCEL:
        plain = "".join(c for c in unicodedata.normalize("NFKD", text.casefold()) if c.isascii())
        assert "avbok" in plain
        assert " inte" not in f" {text.casefold()}"


@MEDIUM
@given(text=st.text(alphabet=st.characters(blacklist_categories=["L"]), max_size=50))
def test_issue28_property_a_reply_without_letters_is_other(text: str) -> None:
    assert read_reply(text) is ReplyWord.OTHER


@pytest.mark.parametrize("number", ["+46766861234", "+4676686123", "+46812345678"])
def test_issue28_a_clinic_reply_number_is_a_swedish_e164_number(number: str) -> None:
    assert Clinic(clinic_id="c", name="C", reply_number=number).reply_number == number
    assert Clinic(clinic_id="c", name="C").reply_number is None  # replies off: the sender stays a name


@pytest.mark.parametrize(
    "number", ["0766861234", "+4766861234", "46766861234", "+46 76 686 12 34", "+460766861234", ""]
)
def test_issue28_another_reply_number_is_refused_with_one_clear_message(number: str) -> None:
    with pytest.raises(
        ValueError, match=re.escape("reply_number must be a Swedish number in E.164, e.g. +46766861234")
    ):
        Clinic(clinic_id="c", name="C", reply_number=number)


# --- matching (pure) ---------------------------------------------------------------------------------

T0 = datetime(2027, 3, 1, 9, 0, tzinfo=UTC)


def sms(workflow: str, sent_at: datetime, version: int = 1, role: str = "patient") -> SentReminderSms:
    return SentReminderSms(
        workflow_id=workflow,
        version=version,
        role=RecipientRole(role),
        clinic_id="kir",
        sent_at=sent_at,
        visit_start=T0 + timedelta(days=1),
    )


def test_issue28_no_sms_to_that_number_is_unmatched() -> None:
    assert match_reply([], T0).outcome is MatchOutcome.UNMATCHED


def test_issue28_the_reminder_whose_sms_went_last_is_answered() -> None:
    older, newer = (
        sms("sms-reminder-a", T0 - timedelta(days=2)),
        sms("sms-reminder-b", T0 - timedelta(hours=3)),
    )
    match = match_reply([newer, older], T0)
    assert match.outcome is MatchOutcome.MATCHED and match.sms == newer


def test_issue28_two_reminders_sent_close_together_are_ambiguous_never_a_guess() -> None:
    a, b = (
        sms("sms-reminder-a", T0 - timedelta(hours=3)),
        sms("sms-reminder-b", T0 - timedelta(hours=2, minutes=5)),
    )
    assert match_reply([a, b], T0) == ReplyMatch(outcome=MatchOutcome.AMBIGUOUS)


def test_issue28_a_reminders_own_versions_are_one_reminder_the_latest_version_answered() -> None:
    v1, v2 = sms("sms-reminder-a", T0 - timedelta(hours=3)), sms("sms-reminder-a", T0 - timedelta(hours=2), 2)
    assert match_reply([v1, v2], T0).sms == v2


def test_issue28_a_guardians_reply_answers_as_the_guardian() -> None:
    match = match_reply([sms("sms-reminder-a", T0 - timedelta(hours=1), role="guardian_1")], T0)
    assert match.sms is not None and match.sms.role is RecipientRole.GUARDIAN_1


def test_issue28_a_reply_after_the_visit_started_is_late() -> None:
    match = match_reply([sms("sms-reminder-a", T0 - timedelta(hours=1))], T0 + timedelta(days=1))
    assert match.outcome is MatchOutcome.LATE and match.sms is not None


def test_issue28_an_sms_older_than_the_look_back_or_after_the_reply_matches_nothing() -> None:
    old = sms("sms-reminder-a", T0 - LOOK_BACK - timedelta(minutes=1))
    future = sms("sms-reminder-b", T0 + timedelta(minutes=1))
    assert match_reply([old, future], T0).outcome is MatchOutcome.UNMATCHED


@MEDIUM
@given(
    offsets=st.lists(
        st.tuples(st.sampled_from(["a", "b", "c"]), st.integers(min_value=0, max_value=60 * 24 * 20)),
        max_size=6,
    )
)
def test_issue28_property_a_match_is_the_latest_reminder_and_clearly_ahead_of_every_other(offsets) -> None:
    """Whatever the sends: a matched reply names the reminder with the latest SMS, and every other
    reminder's latest SMS is at least CLEARLY_APART older; otherwise it is not matched."""
    sent = [sms(f"sms-reminder-{w}", T0 - timedelta(minutes=m)) for w, m in offsets]
    match = match_reply(sent, T0)
    latest = {}
    for s in sent:
        latest[s.workflow_id] = max(latest.get(s.workflow_id, s.sent_at), s.sent_at)
    ranked = sorted(latest.values(), reverse=True)
    clear = bool(ranked) and (len(ranked) == 1 or ranked[0] - ranked[1] >= CLEARLY_APART)
    assert (match.outcome is MatchOutcome.MATCHED) == clear
    if clear:
        assert match.sms is not None and match.sms.sent_at == ranked[0]
        assert latest[match.sms.workflow_id] == ranked[0]


def test_issue28_two_clinics_cannot_share_a_reply_number() -> None:
    clinics = [{"clinic_id": c, "name": c, "reply_number": "+46766861234"} for c in ("a", "b")]
    with pytest.raises(ValueError, match="reply_number must be unique"):
        DirectoryDocument.model_validate({"clinics": clinics})
