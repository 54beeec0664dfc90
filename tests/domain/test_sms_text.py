"""S16: the reminder text, and GSM-7 length and segment counting."""

from __future__ import annotations

import re
from datetime import UTC, date, datetime, timedelta, timezone

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from domain.directory import Reception
from domain.sms_text import gsm7_length, is_gsm7, reminder_text, sms_segments, to_gsm7
from tests.domain.ids import personnummer

CET = timezone(timedelta(hours=1))
CEST = timezone(timedelta(hours=2))
VISIT = datetime(2027, 1, 12, 9, 30, tzinfo=CET)  # a Tuesday


def test_S16_text_names_reception_date_and_time() -> None:
    text = reminder_text("Vårdcentralen Norr", VISIT)
    assert text.startswith("Påminnelse: tid hos Vårdcentralen Norr tis 12 jan kl 09:30.")
    assert "1177" in text
    assert is_gsm7(text)
    assert gsm7_length(text) <= 160
    assert sms_segments(text) == 1


def test_S16_time_is_stockholm_local_time_also_across_dst() -> None:
    summer = datetime(2027, 3, 29, 8, 0, tzinfo=UTC)  # Monday 10:00 CEST
    assert "mån 29 mar kl 10:00" in reminder_text("Mottagningen", summer)
    winter = datetime(2027, 11, 1, 8, 0, tzinfo=UTC)  # Monday 09:00 CET
    assert "mån 1 nov kl 09:00" in reminder_text("Mottagningen", winter)
    late = datetime(2027, 6, 14, 22, 30, tzinfo=UTC)  # Tuesday 15 June 00:30 local
    assert "tis 15 jun kl 00:30" in reminder_text("Mottagningen", late)


@pytest.mark.parametrize(
    ("day", "expected"),
    [
        (date(2027, 1, 11), "mån 11 jan"),
        (date(2027, 2, 17), "ons 17 feb"),
        (date(2027, 4, 15), "tor 15 apr"),
        (date(2027, 5, 14), "fre 14 maj"),
        (date(2027, 7, 17), "lör 17 jul"),
        (date(2027, 8, 22), "sön 22 aug"),
        (date(2027, 9, 7), "tis 7 sep"),
        (date(2027, 10, 5), "tis 5 okt"),
        (date(2027, 12, 24), "fre 24 dec"),
        (date(2027, 6, 1), "tis 1 jun"),
    ],
)
def test_S16_swedish_weekday_and_month_abbreviations(day: date, expected: str) -> None:
    visit = datetime(day.year, day.month, day.day, 14, 5, tzinfo=CEST)
    assert f"{expected} kl " in reminder_text("Mottagningen", visit)


def test_S16_display_name_used_instead_of_name() -> None:
    rec = Reception(reception_id="r1", name="Beroendemottagningen", display_name="Mottagning 3")
    text = reminder_text(rec.sms_name, VISIT)
    assert "Mottagning 3" in text
    assert "Beroende" not in text


def test_S16_reception_name_used_when_no_display_name() -> None:
    rec = Reception(reception_id="r1", name="Barnmottagningen")
    assert "Barnmottagningen" in reminder_text(rec.sms_name, VISIT)


def test_S16_guardian_text_names_child_by_given_name_only() -> None:
    text = reminder_text("Barnmottagningen", VISIT, child_given_name="Elsa")
    assert text.startswith("Påminnelse: Elsa har en tid hos Barnmottagningen tis 12 jan kl 09:30.")
    assert is_gsm7(text)
    assert gsm7_length(text) <= 160


def test_S16_guardian_text_carries_no_personnummer() -> None:
    child_id = personnummer(date(2015, 3, 10))
    text = reminder_text("Barnmottagningen", VISIT, child_given_name="Elsa")
    assert child_id not in text
    assert child_id[2:8] not in text  # not even the birth date
    assert not re.search(r"\d{6}", text)  # no run of digits that could be an id
    assert re.findall(r"\d+", text) == ["12", "09", "30", "1177"]


@pytest.mark.parametrize("length", [1, 20, 40])
def test_S16_full_text_fits_one_segment_for_names_up_to_40(length: int) -> None:
    name = ("Vårdcentralen Öster " * 3)[:length].strip() or "V"
    text = reminder_text(name, VISIT)
    assert name in text
    assert "Svara inte på detta SMS." in text
    assert gsm7_length(text) <= 160


@pytest.mark.parametrize("child", [None, "Elsa", "Maximiliana-Josefina"])
@pytest.mark.parametrize("length", [41, 50, 60])
def test_S16_names_up_to_60_fit_uncut_by_shortening_the_ending(length: int, child: str | None) -> None:
    name = ("Kvinnokliniken Södra Älvsborgs Sjukhus " * 3)[:length]
    text = reminder_text(name, VISIT, child)
    assert is_gsm7(text)
    assert gsm7_length(text) <= 160
    assert to_gsm7(name) in text
    assert "tis 12 jan kl 09:30" in text


@pytest.mark.parametrize("child", [None, "Elsa", "A" * 80])
def test_S16_very_long_names_are_cut_with_a_dot_and_still_fit(child: str | None) -> None:
    name = "Mottagningen för " + "x" * 200
    text = reminder_text(name, VISIT, child)
    assert gsm7_length(text) <= 160
    assert is_gsm7(text)
    assert "…" not in text
    assert "Mottagningen för x" in text
    assert "tis 12 jan kl 09:30" in text


def test_S16_extension_characters_in_name_count_double_and_still_fit() -> None:
    name = "[" * 150
    text = reminder_text(name, VISIT)
    assert gsm7_length(text) <= 160
    assert is_gsm7(text)


def test_S16_non_gsm_characters_in_names_are_transliterated() -> None:
    text = reminder_text("Łódź “Café” – Ärlig", VISIT, child_given_name="Zoë")
    assert is_gsm7(text)
    assert 'Lodz "Café" - Ärlig' in text
    assert text.startswith("Påminnelse: Zoe har en tid hos ")  # ë is not GSM-7, é is


def test_S16_naive_visit_start_is_refused() -> None:
    with pytest.raises(ValueError):
        reminder_text("Mottagningen", datetime(2027, 1, 12, 9, 30))


@settings(max_examples=300, deadline=None)
@given(
    name=st.text(min_size=1, max_size=120),
    child=st.one_of(st.none(), st.text(min_size=0, max_size=60)),
    minute=st.integers(min_value=0, max_value=60 * 24 * 730),
)
def test_S16_property_any_names_give_gsm7_text_within_160(name: str, child: str | None, minute: int) -> None:
    visit = datetime(2027, 1, 1, tzinfo=UTC) + timedelta(minutes=minute)
    text = reminder_text(name, visit, child)
    assert is_gsm7(text)
    assert gsm7_length(text) <= 160
    assert sms_segments(text) == 1
    assert text.startswith("Påminnelse: ")


# --- GSM-7 arithmetic ----------------------------------------------------------------------------


def test_S16_swedish_letters_are_gsm7_basic() -> None:
    text = "åäöÅÄÖéÉüÜ"
    assert is_gsm7(text)
    assert gsm7_length(text) == len(text)


def test_S16_extension_characters_count_two() -> None:
    assert is_gsm7("€[]{}\\~^|")
    assert gsm7_length("€") == 2
    assert gsm7_length("a€b") == 4


@pytest.mark.parametrize("text", ["ł", "😀", "á", "ê", "\x1b", "“"])
def test_S16_non_gsm7_characters_are_detected(text: str) -> None:
    assert not is_gsm7(text)
    with pytest.raises(ValueError):
        gsm7_length(text)


def test_S16_gsm7_segments_160_then_153() -> None:
    assert sms_segments("a" * 160) == 1
    assert sms_segments("a" * 161) == 2
    assert sms_segments("a" * 306) == 2
    assert sms_segments("a" * 307) == 3
    assert sms_segments("€" * 80) == 1
    assert sms_segments("€" * 81) == 2


def test_S16_escape_pair_is_not_split_across_segments() -> None:
    # 152 plain septets then "€" (2): the pair cannot start at position 153 of the first part.
    assert sms_segments("a" * 152 + "€" + "a" * 151) == 2
    assert sms_segments("a" * 152 + "€" + "a" * 152) == 3


def test_S16_ucs2_segments_70_then_67() -> None:
    assert sms_segments("ł" * 70) == 1
    assert sms_segments("ł" * 71) == 2
    assert sms_segments("ł" * 134) == 2
    assert sms_segments("ł" * 135) == 3
    assert sms_segments("😀" * 35) == 1  # surrogate pairs count two
    assert sms_segments("😀" * 36) == 2


def test_S16_to_gsm7_keeps_gsm_text_and_collapses_whitespace() -> None:
    assert to_gsm7("Vårdcentralen  Norr\n") == "Vårdcentralen Norr"
    assert to_gsm7("Śród") == "Srod"
    assert is_gsm7(to_gsm7("Ærø ŁŃ ñ 日本"))
