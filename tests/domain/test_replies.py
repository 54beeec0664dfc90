"""Issue 28: reading a patient's reply (`read_reply`): the words, as pure functions and properties."""

from __future__ import annotations

import re
import unicodedata

import pytest
from hypothesis import given
from hypothesis import strategies as st

from domain.directory import Clinic
from domain.replies import ReplyWord, read_reply
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
