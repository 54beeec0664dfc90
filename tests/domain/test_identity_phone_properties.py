"""Property-based tests of patient ids and mobile numbers (hypothesis; S2–S5)."""

from __future__ import annotations

import re
from datetime import date

import pytest
from hypothesis import example, given
from hypothesis import strategies as st

from domain.directory import Guardian
from domain.identity import IdKind, InvalidPatientId, parse_patient_id
from domain.phone import InvalidMobileNumber, normalize_mobile
from tests.domain.strategies import (
    FAST,
    MEDIUM,
    birth_dates,
    broken_personnummer,
    id_styles,
    landlines,
    personnummer_ids,
    pnr_parts,
    reservnummer_ids,
    serials,
    spell_id,
    swedish_mobiles,
)

# --- S2/S5: patient ids ----------------------------------------------------------------------------


def assert_refusal_does_not_echo(raw: str, message: str) -> None:
    digits = re.sub(r"\D", "", raw)
    if len(digits) >= 2:
        assert digits not in re.sub(r"\D", "", message)
        assert raw.strip() not in message


id_like_text = st.one_of(
    st.text(max_size=20),
    st.from_regex(r"\A\s?\d{8}[-+ ]?[0-9A-Za-z]{4}\s?\Z"),
    st.from_regex(r"\A[0-9]{6,14}\Z"),
    personnummer_ids(),
    reservnummer_ids(),
    broken_personnummer(),
)


@MEDIUM
@given(raw=id_like_text)
def test_S2_S5_property_parse_patient_id_returns_an_id_or_refuses_without_echo(raw: str) -> None:
    try:
        parsed = parse_patient_id(raw)
    except InvalidPatientId as err:
        assert_refusal_does_not_echo(raw, str(err))
        return
    value = parsed.value
    assert len(value) == 13
    assert value[8] == "-"
    assert parse_patient_id(value) == parsed  # the canonical value round-trips
    y, m, d = int(value[:4]), int(value[4:6]), int(value[6:8])
    if parsed.kind is IdKind.SAMORDNINGSNUMMER:
        d -= 60
    assert parsed.birth_date == date(y, m, d)
    assert parsed.is_reservnummer == (parsed.kind is IdKind.RESERVNUMMER)
    assert parsed.is_reservnummer == any(c.isalpha() for c in value[9:])


@MEDIUM
@given(raw=id_like_text)
@example(raw="１９１２１２１２-１２１２")
def test_S2_property_parsed_patient_id_is_ascii_canonical(raw: str) -> None:
    try:
        parsed = parse_patient_id(raw)
    except InvalidPatientId:
        return
    assert re.fullmatch(r"[0-9]{8}-[0-9A-Z]{4}", parsed.value, flags=re.ASCII)


@MEDIUM
@given(birth=birth_dates, serial=serials, style=id_styles, coordination=st.booleans())
def test_S2_property_valid_personnummer_and_samordningsnummer_always_parse(
    birth: date, serial: str, style: int, coordination: bool
) -> None:
    head, tail = pnr_parts(birth, serial, coordination=coordination)
    parsed = parse_patient_id(spell_id(head, tail, style))
    assert parsed.value == f"{head}-{tail}"
    assert parse_patient_id(parsed.value) == parsed
    assert parsed.birth_date == birth
    assert parsed.kind is (IdKind.SAMORDNINGSNUMMER if coordination else IdKind.PERSONNUMMER)
    assert not parsed.is_reservnummer


@FAST
@given(raw=broken_personnummer())
def test_S2_property_personnummer_with_one_wrong_digit_is_refused_without_echo(raw: str) -> None:
    with pytest.raises(InvalidPatientId) as err:
        parse_patient_id(raw)
    assert_refusal_does_not_echo(raw, str(err.value))


# --- S3/S4: mobile numbers --------------------------------------------------------------------------

phone_like_text = st.one_of(
    st.text(max_size=25),
    st.from_regex(r"\A\+?[0-9 ()-]{1,20}\Z"),
    landlines,
    swedish_mobiles().map(lambda pair: pair[0]),
)


@MEDIUM
@given(raw=phone_like_text)
def test_S3_property_normalize_mobile_returns_e164_or_refuses_without_echo(raw: str) -> None:
    """Numbers written with a country code keep it (a foreign mobile is accepted); without one,
    they are read as Swedish."""
    try:
        e164 = normalize_mobile(raw)
    except InvalidMobileNumber as err:
        assert_refusal_does_not_echo(raw, str(err))
        return
    assert re.fullmatch(r"\+[1-9][0-9]{6,14}", e164, flags=re.ASCII)
    assert normalize_mobile(e164) == e164


@MEDIUM
@given(first=swedish_mobiles(), second_spelling=st.data())
def test_S3_S4_property_swedish_mobile_spellings_normalise_to_the_same_e164(
    first: tuple[str, str], second_spelling: st.DataObject
) -> None:
    spelling, expected = first
    assert normalize_mobile(spelling) == expected
    assert re.fullmatch(r"\+467[0236][0-9]{7}", expected)
    # Another spelling of the same number gives the same E.164 (S15 compares these).
    national = expected[3:]
    other = second_spelling.draw(
        st.sampled_from(
            [f"0{national}", f"+46 {national}", f"0046-{national}", f"0{national[:2]}-{national[2:]}"]
        )
    )
    assert normalize_mobile(other) == expected
    assert Guardian(rank=1, name="Karin", mobile=spelling).mobile == expected
