"""S2/S5 patient ids and S3/S4 mobile numbers: parsing, refusal, and no patient data in errors."""

from __future__ import annotations

import re
from datetime import date

import pytest
from personnummer import personnummer as reference
from pydantic import ValidationError

from domain.directory import Guardian, Patient
from domain.identity import IdKind, InvalidPatientId, age_on, mask_patient_id, parse_patient_id
from domain.phone import InvalidMobileNumber, mask_mobile, normalize_mobile
from tests.domain.ids import luhn_digit, personnummer, samordningsnummer


def test_S2_luhn_helper_matches_skatteverket_test_number() -> None:
    assert luhn_digit("121212121") == "2"
    assert parse_patient_id("19121212-1212").kind is IdKind.PERSONNUMMER


@pytest.mark.parametrize("raw", ["19121212-1212", "191212121212", " 19121212-1212 ", "19121212+1212"])
def test_S2_personnummer_with_valid_luhn_is_accepted_in_common_spellings(raw: str) -> None:
    parsed = parse_patient_id(raw)
    assert parsed.value == "19121212-1212"
    assert parsed.kind is IdKind.PERSONNUMMER
    assert parsed.birth_date == date(1912, 12, 12)
    assert not parsed.is_reservnummer


def test_S2_personnummer_of_a_child_gives_birth_date() -> None:
    pnr = personnummer(date(2015, 3, 10))
    parsed = parse_patient_id(pnr)
    assert parsed.birth_date == date(2015, 3, 10)
    assert parsed.kind is IdKind.PERSONNUMMER


def test_S2_samordningsnummer_day_plus_60_gives_real_birth_date() -> None:
    snr = samordningsnummer(date(1990, 4, 7))
    assert snr.startswith("19900467-")
    parsed = parse_patient_id(snr)
    assert parsed.kind is IdKind.SAMORDNINGSNUMMER
    assert parsed.birth_date == date(1990, 4, 7)


def test_S5_reservnummer_from_seed_is_recognised() -> None:
    parsed = parse_patient_id("19550101-A749")
    assert parsed.kind is IdKind.RESERVNUMMER
    assert parsed.is_reservnummer
    assert parsed.birth_date == date(1955, 1, 1)
    assert parse_patient_id("19550101a749").value == "19550101-A749"


@pytest.mark.parametrize(
    "raw",
    [
        "19121212-1213",  # wrong check digit
        "19121312-1212",  # month 13
        "1912121212",  # two-digit year is not accepted
        "19550132-A749",  # reservnummer with an invalid date
        "19550101-1234X",
        "",
    ],
)
def test_S2_invalid_patient_id_is_refused_without_echoing_digits(raw: str) -> None:
    with pytest.raises(InvalidPatientId) as err:
        parse_patient_id(raw)
    message = str(err.value)
    digits = re.sub(r"\D", "", raw)
    if digits:
        assert digits not in re.sub(r"\D", "", message)
    assert not re.search(r"\d{4}", message)


@pytest.mark.parametrize(
    "raw",
    [
        "19090527-1474",
        "190905271474",
        "19090527+1474",
        "19900467-2383",  # samordningsnummer
        " 19090527-1474\n",  # outer whitespace is trimmed
        "19090527 1474",
        "19900467 2383",
        "19121212 -1212",
        "19121212+ 1212",
        "1912 1212-1212",
        "19121212\t1212",
        "19121212\u00a01212",  # no-break space
        "19121212--1212",
    ],
)
def test_S2_patient_id_is_accepted_in_exactly_the_forms_the_personnummer_library_accepts(raw: str) -> None:
    try:
        value = parse_patient_id(raw).value
    except InvalidPatientId as err:
        assert not reference.valid(raw.strip())
        message = str(err)
        assert re.sub(r"\D", "", raw)[:8] not in re.sub(r"\D", "", message)
        assert not re.search(r"\d{4}", message)
    else:
        assert reference.valid(raw.strip())
        assert value == f"{raw.strip()[:8]}-{raw.strip()[-4:]}"


@pytest.mark.parametrize("raw", ["19550101 A749", "19550101\tA749", "1955 0101-A749", "19550101--A749"])
def test_S5_reservnummer_with_a_space_inside_is_refused(raw: str) -> None:
    with pytest.raises(InvalidPatientId) as err:
        parse_patient_id(raw)
    assert not re.search(r"\d{4}", str(err.value))


@pytest.mark.parametrize("raw", ["19550101-A749", "19550101A749", "19550101+A749", " 19550101-a749 "])
def test_S5_reservnummer_takes_the_separators_of_a_personnummer(raw: str) -> None:
    parsed = parse_patient_id(raw)
    assert (parsed.value, parsed.kind) == ("19550101-A749", IdKind.RESERVNUMMER)


def test_S2_invalid_patient_id_in_a_model_is_not_echoed_by_pydantic() -> None:
    with pytest.raises(ValidationError) as err:
        Patient(patient_id="19121212-1213", given_name="Anna", family_name="Andersson")
    assert "1213" not in str(err.value)
    assert "19121212" not in str(err.value)


def test_S2_age_counted_in_whole_years_birthday_inclusive() -> None:
    birth = date(2009, 6, 15)
    assert age_on(birth, date(2027, 6, 14)) == 17
    assert age_on(birth, date(2027, 6, 15)) == 18


def test_S2_age_of_someone_born_29_february_turns_on_1_march() -> None:
    birth = date(2008, 2, 29)
    assert age_on(birth, date(2026, 2, 28)) == 17
    assert age_on(birth, date(2026, 3, 1)) == 18


def test_S2_masked_patient_id_hides_the_last_four() -> None:
    assert mask_patient_id("19121212-1212") == "19121212-****"


@pytest.mark.parametrize("raw", ["070-123 45 67", "+46 70 123 45 67", "0046701234567", "0701234567"])
def test_S3_mobile_number_is_normalised_to_e164(raw: str) -> None:
    assert normalize_mobile(raw) == "+46701234567"


@pytest.mark.parametrize("raw", ["08-123 456 78", "031-123 45 67"])
def test_S3_landline_is_refused_without_echoing_the_number(raw: str) -> None:
    with pytest.raises(InvalidMobileNumber) as err:
        normalize_mobile(raw)
    message = str(err.value)
    assert "landline" in message
    assert not re.search(r"\d{3}", message)


@pytest.mark.parametrize("raw", ["not a number", "070-12", "+46 70 123 45 67 89 00"])
def test_S3_garbage_number_is_refused_without_echoing_it(raw: str) -> None:
    with pytest.raises(InvalidMobileNumber) as err:
        normalize_mobile(raw)
    digits = re.sub(r"\D", "", raw)
    if digits:
        assert digits not in str(err.value)


def test_S4_guardian_mobile_is_normalised_and_landline_refused_in_model() -> None:
    assert Guardian(rank=1, name="Karin", mobile="070-123 45 67").mobile == "+46701234567"
    with pytest.raises(ValidationError) as err:
        Guardian(rank=1, name="Karin", mobile="08-123 456 78")
    assert "12345678" not in re.sub(r"\D", "", str(err.value))


def test_S3_masked_mobile_keeps_only_country_code_and_last_two() -> None:
    assert mask_mobile("+46701234567") == "+46*******67"
