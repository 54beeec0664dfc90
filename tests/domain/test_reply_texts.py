"""The answers to a patient's reply (issue 28): Swedish, GSM-7 in one segment, the reception named (S16)."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from domain.replies import ReplyWord
from domain.reply_texts import cancel_confirmation, reply_text, stop_confirmation, unreadable_reply
from domain.sms_text import MAX_TEXT, gsm7_length, sms_segments

VISIT = datetime(2027, 3, 1, 9, 0, tzinfo=UTC)  # mån 1 mar kl 10:00 in Stockholm


@pytest.mark.parametrize("word", list(ReplyWord))
@pytest.mark.parametrize("name", ["Allmänkirurgisk mottagning", "Ö" * 300, "Mottagning {€}", ""])
def test_S16_replies_answers_are_one_gsm7_segment(word: ReplyWord, name: str) -> None:
    text = reply_text(word, name, VISIT)
    assert gsm7_length(text) <= MAX_TEXT and sms_segments(text) == 1


def test_replies_cancel_confirmation_names_the_reception_and_the_time() -> None:
    text = cancel_confirmation("Allmänkirurgisk mottagning", VISIT)
    assert "Allmänkirurgisk mottagning" in text and "mån 1 mar kl 10:00" in text and "avbokning" in text


def test_replies_stop_confirmation_says_no_more_reminders_from_the_reception() -> None:
    text = stop_confirmation("Kirurgmottagning 2")
    assert "Kirurgmottagning 2" in text and "inte fler SMS-påminnelser" in text


def test_replies_unreadable_answer_names_the_words_that_work() -> None:
    text = unreadable_reply("Kirurgmottagning 2")
    assert "kunde inte läsa" in text and "AVBOKA" in text and "STOPP" in text


def test_replies_an_empty_reception_name_reads_mottagningen() -> None:
    assert "till mottagningen." in unreadable_reply("")
