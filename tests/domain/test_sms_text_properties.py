"""Property-based tests of the SMS text (hypothesis; S16)."""

from __future__ import annotations

from datetime import datetime

from hypothesis import example, given
from hypothesis import strategies as st

from domain.sms_text import GSM7_BASIC, gsm7_length, is_gsm7, reminder_text, sms_segments, to_gsm7
from tests.domain.strategies import FAST, MEDIUM, SE, ZONES, sthlm

# --- S16: the SMS text -------------------------------------------------------------------------------

_WEEKDAYS_SV = ("mån", "tis", "ons", "tor", "fre", "lör", "sön")
_MONTHS_SV = ("jan", "feb", "mar", "apr", "maj", "jun", "jul", "aug", "sep", "okt", "nov", "dec")
GSM7_PRINTABLE = sorted(GSM7_BASIC - {"\n", "\r", "\x1b"})
any_zone_visits = st.datetimes(
    min_value=datetime(2026, 1, 1),
    max_value=datetime(2028, 12, 31),
    timezones=st.sampled_from(ZONES),
    allow_imaginary=False,  # a skipped Stockholm wall time has its own test below
)


def when_text(visit: datetime) -> str:
    local = sthlm(visit)
    return f"{_WEEKDAYS_SV[local.weekday()]} {local.day} {_MONTHS_SV[local.month - 1]} kl {local:%H:%M}"


@MEDIUM
@given(
    name=st.text(min_size=1, max_size=60),
    child=st.one_of(st.none(), st.text(max_size=60)),
    visit=any_zone_visits,
)
def test_S16_property_names_up_to_60_in_any_zone_give_one_gsm7_segment_with_local_date_and_time(
    name: str, child: str | None, visit: datetime
) -> None:
    """Extends test_sms_text's property (UTC visits) to visits given in any zone: the text always
    carries the Stockholm local weekday, date and time."""
    text = reminder_text(name, visit, child)
    assert is_gsm7(text)
    assert gsm7_length(text) <= 160
    assert sms_segments(text) == 1
    assert f" {when_text(visit)}." in text


@MEDIUM
@given(
    name=st.text(alphabet=GSM7_PRINTABLE, min_size=1, max_size=60),
    child=st.one_of(st.none(), st.text(alphabet=GSM7_PRINTABLE, max_size=20)),
    visit=any_zone_visits,
)
def test_S16_property_gsm7_names_up_to_60_are_never_cut(
    name: str, child: str | None, visit: datetime
) -> None:
    """A reception name of up to 60 GSM-7 basic characters (and a child name up to 20) fits uncut:
    only the fixed ending is shortened."""
    text = reminder_text(name, visit, child)
    assert gsm7_length(text) <= 160
    reception = to_gsm7(name) or "mottagningen"
    assert f" {reception} {when_text(visit)}." in text
    if child is not None:
        assert text.startswith(f"Påminnelse: {to_gsm7(child) or 'ditt barn'} har en tid hos ")


@FAST
@given(
    visit=st.datetimes(
        min_value=datetime(2026, 1, 1), max_value=datetime(2028, 12, 31), timezones=st.just(SE)
    )
)
@example(visit=datetime(2026, 3, 29, 2, 0, tzinfo=SE))
def test_S16_property_visit_in_stockholm_zoneinfo_is_shown_at_its_real_local_time(visit: datetime) -> None:
    assert f" {when_text(visit)}." in reminder_text("Mottagningen", visit)


# --- issue 28: the reply words of a clinic with a reply number ---------------------------------------


@MEDIUM
@given(
    name=st.text(min_size=1, max_size=80),
    child=st.one_of(st.none(), st.text(max_size=60)),
    visit=any_zone_visits,
)
def test_S16_issue28_property_reply_text_keeps_the_reply_word_date_and_one_segment(
    name: str, child: str | None, visit: datetime
) -> None:
    """With `replies=True` every text, whatever the names, still fits one GSM-7 segment, keeps the
    local date and time, ends with the invitation to answer AVBOKA, and never says "do not reply"."""
    text = reminder_text(name, visit, child, replies=True)
    assert is_gsm7(text)
    assert gsm7_length(text) <= 160
    assert sms_segments(text) == 1
    assert f" {when_text(visit)}." in text
    assert " Svara AVBOKA " in text
    assert text.endswith(".")
    assert "Svara inte" not in text


@MEDIUM
@given(name=st.text(alphabet=GSM7_PRINTABLE, min_size=1, max_size=40), visit=any_zone_visits)
def test_S16_issue28_property_short_names_get_both_reply_words(name: str, visit: datetime) -> None:
    """A reception name of up to 40 GSM-7 basic characters leaves room for AVBOKA and STOPP."""
    text = reminder_text(name, visit, replies=True)
    assert "AVBOKA" in text and "STOPP" in text
    assert reminder_text(name, visit) != text  # without replies: the one-way ending
