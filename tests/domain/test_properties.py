"""Property-based tests of the domain rules (hypothesis).

Each test names the rule it concerns. Expectations are computed independently of the domain code
where that is practical (Stockholm local time via `zoneinfo`, ages, consent scopes, windows).
Existing example and property tests live next to this module; these extend them (fuzzed contract
models, random clinic windows at minute resolution in any input time zone, random recipients, …).
"""

from __future__ import annotations

import itertools
import re
from datetime import UTC, date, datetime, time, timedelta, timezone
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st
from pydantic import BaseModel, ValidationError

from domain.booking import GroupBooking, VisitBooking
from domain.directory import Clinic, DirectoryDocument, Guardian, Patient, Reception, SmsConsent
from domain.identity import IdKind, InvalidPatientId, parse_patient_id
from domain.invitation import (
    BookedBy,
    CareInvitation,
    Conversion,
    DateWindow,
    InvitationBooking,
    RequestChange,
    check_booking,
)
from domain.invitation_schedule import Step, next_step, window_end
from domain.phone import InvalidMobileNumber, normalize_mobile
from domain.recipients import reminder_recipients
from domain.sms_text import GSM7_BASIC, gsm7_length, is_gsm7, reminder_text, sms_segments, to_gsm7
from domain.status import Reason, RecipientRole
from domain.timing import plan_sms_send
from domain.types import describe_validation_error
from tests.domain.ids import luhn_digit

SE = ZoneInfo("Europe/Stockholm")
ZONES = [
    UTC,
    SE,
    timezone(timedelta(hours=1)),
    timezone(timedelta(hours=2)),
    timezone(timedelta(hours=-5)),
    timezone(timedelta(hours=5, minutes=30)),
    timezone(timedelta(hours=14)),
]
DST_SPRING = [date(2026, 3, 29), date(2027, 3, 28), date(2028, 3, 26)]
DST_AUTUMN = [date(2026, 10, 25), date(2027, 10, 31), date(2028, 10, 29)]

FAST = settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])
MEDIUM = settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])


# --- independent helpers ---------------------------------------------------------------------------


def sthlm(dt: datetime) -> datetime:
    """The Stockholm wall clock (ZoneInfo, fold set) of an aware instant."""
    return dt.astimezone(UTC).astimezone(SE)


def utc(dt: datetime) -> datetime:
    return dt.astimezone(UTC)


def age(birth: date, day: date) -> int:
    return day.year - birth.year - ((day.month, day.day) < (birth.month, birth.day))


def minutes(t: int) -> time:
    return time(t // 60, t % 60)


# --- strategies: patient ids and mobile numbers ------------------------------------------------------

birth_dates = st.dates(min_value=date(1900, 1, 1), max_value=date(2025, 12, 31))
serials = st.integers(min_value=1, max_value=999).map(lambda n: f"{n:03d}")


def pnr_parts(birth: date, serial: str, *, coordination: bool = False) -> tuple[str, str]:
    """(YYYYMMDD, NNNC) of a personnummer, or of a samordningsnummer (day + 60)."""
    day = birth.day + (60 if coordination else 0)
    nine = f"{birth:%y%m}{day:02d}{serial}"
    return f"{birth:%Y%m}{day:02d}", serial + luhn_digit(nine)


def spell_id(head: str, tail: str, style: int) -> str:
    return [
        f"{head}-{tail}",
        f"{head}{tail}",
        f"{head}+{tail}",
        f" {head}{tail} ",
        f"{head}-{tail.lower()}",
        f"\t{head}-{tail}\n",
    ][style]


id_styles = st.integers(min_value=0, max_value=5)


@st.composite
def personnummer_ids(draw: st.DrawFn, coordination: bool | None = None) -> str:
    coord = draw(st.booleans()) if coordination is None else coordination
    head, tail = pnr_parts(draw(birth_dates), draw(serials), coordination=coord)
    return spell_id(head, tail, draw(id_styles))


@st.composite
def reservnummer_ids(draw: st.DrawFn, births: st.SearchStrategy[date] = birth_dates) -> str:
    chars = draw(st.lists(st.sampled_from("0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ"), min_size=4, max_size=4))
    chars[draw(st.integers(0, 3))] = draw(st.sampled_from("ABCDEFGHIJKLMNOPQRSTUVWXYZ"))
    return spell_id(f"{draw(births):%Y%m%d}", "".join(chars), draw(st.sampled_from([0, 1, 3])))


@st.composite
def broken_personnummer(draw: st.DrawFn) -> str:
    """A personnummer with one digit of YYMMDDNNNC changed: the Luhn check catches every such error
    (the century digits are not covered by the check digit, so they are left alone)."""
    head, tail = pnr_parts(draw(birth_dates), draw(serials))
    digits = list(head + tail)
    i = draw(st.integers(2, 11))
    digits[i] = draw(st.sampled_from([d for d in "0123456789" if d != digits[i]]))
    joined = "".join(digits)
    return spell_id(joined[:8], joined[8:], draw(id_styles))


patient_id_fuzz = st.one_of(
    personnummer_ids(),
    reservnummer_ids(),
    broken_personnummer(),
    st.from_regex(r"\A[0-9]{6,8}[-+ ]?[0-9A-Z]{2,5}\Z"),
    st.text(max_size=20),
)


@st.composite
def swedish_mobiles(draw: st.DrawFn) -> tuple[str, str]:
    """(spelling, expected E.164) of a Swedish mobile number 07[0236] + 7 digits."""
    prefix = draw(st.sampled_from("0236"))
    rest = draw(st.from_regex(r"\A[0-9]{7}\Z"))
    national = f"7{prefix}{rest}"
    a, b, c = national[:2], national[2:5], national[5:]
    spelling = draw(
        st.sampled_from(
            [
                f"0{national}",
                f"0{a}-{b} {c[:2]} {c[2:]}",
                f"0{a}-{b}{c}",
                f"0{a} {b} {c}",
                f"+46{national}",
                f"+46 {a} {b} {c[:2]} {c[2:]}",
                f"+46-{a}-{b}{c}",
                f"+46 (0){a} {b} {c}",
                f"0046{national}",
                f"0046 {a} {b} {c}",
                f"(0{a}) {b} {c}",
                f" 0{a}.{b}.{c} ",
            ]
        )
    )
    return spelling, f"+46{national}"


landlines = st.from_regex(r"\A0(8|31|40|90)-[1-9][0-9]{5,6}\Z")
mobile_fuzz = st.one_of(
    swedish_mobiles().map(lambda pair: pair[0]),
    landlines,
    st.from_regex(r"\A\+?[0-9 -]{4,20}\Z"),
    st.text(max_size=20),
)

# --- strategies: JSON-ish values and near-valid records -------------------------------------------

json_scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(2**63), max_value=2**63),
    st.floats(allow_nan=True, allow_infinity=True),
    st.text(max_size=20),
)
json_values = st.recursive(
    json_scalars,
    lambda inner: st.one_of(
        st.lists(inner, max_size=3), st.dictionaries(st.text(max_size=6), inner, max_size=3)
    ),
    max_leaves=6,
)

MISSING = object()


def near_valid(
    valid: dict[str, st.SearchStrategy[Any]],
    fuzz: dict[str, st.SearchStrategy[Any]] | None = None,
    only_own_fuzz: frozenset[str] = frozenset(),
) -> st.SearchStrategy[Any]:
    """A record with every field valid, fuzzed (field-specific or any JSON value) or left out.

    Fields shrink towards valid, so a failing example keeps only the fields that matter. Rarely the
    whole record is replaced by any JSON value. Keys in `only_own_fuzz` get only their own fuzz (used
    to keep a known bug, tested separately, out of a test of everything else).
    """
    fuzz = fuzz or {}

    @st.composite
    def build(draw: st.DrawFn) -> Any:
        if draw(st.integers(0, 30)) == 30:
            return draw(json_values)
        record: dict[str, Any] = dict(draw(st.dictionaries(st.text(max_size=8), json_scalars, max_size=2)))
        for key, strategy in valid.items():
            choice = draw(st.integers(0, 9))
            if choice <= 5:
                value = draw(strategy)
            elif (choice <= 7 or key in only_own_fuzz) and key in fuzz:
                value = draw(fuzz[key])
            elif choice <= 8:
                value = draw(json_values)
            else:
                value = MISSING
            if value is MISSING:
                record.pop(key, None)
            else:
                record[key] = value
        return record

    return build()


system_ids = st.from_regex(r"\A[A-Za-z0-9][A-Za-z0-9._-]{0,12}\Z")
system_id_fuzz = st.one_of(system_ids, st.text(max_size=70), st.just(" x" * 40), st.just("id with space"))
aware_instants = st.datetimes(
    min_value=datetime(1990, 1, 1), max_value=datetime(2035, 1, 1), timezones=st.sampled_from(ZONES)
)
aware_iso = aware_instants.map(lambda d: d.isoformat())
datetime_fuzz = st.one_of(
    st.datetimes().map(lambda d: d.isoformat()),  # naive: refused by AwareDatetime
    st.from_regex(
        r"\A20[0-9]{2}-[0-9]{2}-[0-9]{2}([T ][0-9]{2}:[0-9]{2}(:[0-9]{2})?)?(Z|[+-][0-9]{2}:?[0-9]{2})?\Z"
    ),
    st.integers(),
    st.text(max_size=30),
)
iso_dates = st.dates(min_value=date(2020, 1, 1), max_value=date(2030, 12, 31)).map(date.isoformat)
date_fuzz = st.one_of(st.dates().map(date.isoformat), st.from_regex(r"\A[0-9]{4}-[0-9]{1,2}-[0-9]{1,2}\Z"))
naive_times = st.integers(0, 24 * 60 - 1).map(lambda m: minutes(m).isoformat(timespec="minutes"))
naive_time_fuzz = st.from_regex(r"\A[0-9]{1,2}:[0-9]{1,2}(:[0-9]{1,2}(\.[0-9]{1,6})?)?\Z")
"""Times without a UTC offset (numbers and offsets are refused: see the clinic-times test)."""
TIME_KEYS = frozenset({"sms_send_time", "sms_window_start", "sms_window_end", "invitation_send_time"})
bool_fuzz = st.sampled_from(["yes", "no", "true", "false", "0", "1", 0, 1, 2, "on", "off", "", None])
text_fuzz = st.one_of(st.text(max_size=600), st.just(""), st.just("   "))
weekday_names = st.sampled_from(["mon", "tue", "wed", "thu", "fri", "sat", "sun"])
weekday_lists = st.one_of(
    st.none(), st.lists(weekday_names, max_size=8), st.lists(st.one_of(weekday_names, st.text(max_size=5)))
)
tod = st.sampled_from(["any", "morning", "afternoon"])
tod_fuzz = st.one_of(st.sampled_from(["evening", "ANY", "Morning", ""]), st.text(max_size=10))

window_records = near_valid(
    {"first_date": iso_dates, "last_date": iso_dates}, {"first_date": date_fuzz, "last_date": date_fuzz}
)

visit_booking_records = near_valid(
    {
        "booking_id": system_ids,
        "patient_id": personnummer_ids(),
        "clinic_id": system_ids,
        "reception_id": system_ids,
        "start": aware_iso,
        "channel": st.sampled_from(["vas", "an27_quick", "1177"]),
        "sms_flag": st.booleans(),
        "team_visit_id": st.one_of(st.none(), system_ids),
        "series_id": st.one_of(st.none(), system_ids),
    },
    {
        "booking_id": system_id_fuzz,
        "patient_id": patient_id_fuzz,
        "clinic_id": system_id_fuzz,
        "reception_id": system_id_fuzz,
        "start": datetime_fuzz,
        "channel": st.sampled_from(["VAS", "sms", "an27", "1178", ""]),
        "sms_flag": bool_fuzz,
        "team_visit_id": system_id_fuzz,
        "series_id": system_id_fuzz,
    },
)

participant_records = near_valid(
    {"booking_id": st.sampled_from(["b1", "b2", "b3"]), "patient_id": personnummer_ids()},
    {"booking_id": system_id_fuzz, "patient_id": patient_id_fuzz},
)
group_booking_records = near_valid(
    {
        "group_booking_id": system_ids,
        "clinic_id": system_ids,
        "reception_id": system_ids,
        "start": aware_iso,
        "sms_flag": st.booleans(),
        "participants": st.lists(participant_records, min_size=1, max_size=4),
    },
    {
        "group_booking_id": system_id_fuzz,
        "start": datetime_fuzz,
        "sms_flag": bool_fuzz,
        "participants": st.lists(participant_records, max_size=2),
    },
)

patient_info_records = near_valid(
    {"visit_length": st.text(max_size=40), "visit_details": st.text(max_size=40)},
    {"visit_length": text_fuzz, "visit_details": text_fuzz, "tests_before_visit": text_fuzz},
)
care_invitation_records = near_valid(
    {
        "request_id": system_ids,
        "referral_id": st.one_of(system_ids, st.none(), st.just(" ")),
        "patient_id": personnummer_ids(),
        "clinic_id": system_ids,
        "reception_id": system_ids,
        "visit_kind": st.sampled_from(["new", "follow_up"]),
        "visit_type": st.text(min_size=1, max_size=80),
        "reason": st.text(min_size=1, max_size=200),
        "window": window_records,
        "weekdays": weekday_lists,
        "time_of_day": tod,
        "patient_info": st.one_of(st.none(), patient_info_records),
        "invitation": st.booleans(),
    },
    {
        "request_id": system_id_fuzz,
        "referral_id": system_id_fuzz,
        "patient_id": patient_id_fuzz,
        "visit_kind": st.sampled_from(["NEW", "återbesök", ""]),
        "visit_type": text_fuzz,
        "reason": text_fuzz,
        "weekdays": st.lists(json_scalars, max_size=3),
        "time_of_day": tod_fuzz,
        "invitation": bool_fuzz,
    },
)
change_fields = {"window": window_records, "weekdays": weekday_lists, "time_of_day": tod}
change_fuzz = {"weekdays": st.lists(json_scalars, max_size=3), "time_of_day": tod_fuzz}
request_change_records = near_valid(change_fields, change_fuzz)
conversion_records = near_valid(
    {
        **change_fields,
        "reason": st.text(min_size=1, max_size=200),
        "referral_id": st.one_of(st.none(), system_ids),
    },
    {**change_fuzz, "reason": text_fuzz, "referral_id": system_id_fuzz},
)
invitation_booking_records = near_valid(
    {"booking_id": system_ids, "start": aware_iso, "by": st.sampled_from(["patient", "staff"])},
    {
        "booking_id": system_id_fuzz,
        "start": datetime_fuzz,
        "by": st.sampled_from(["Patient", "1177", "vas", ""]),
    },
)

reception_records = near_valid(
    {
        "reception_id": st.sampled_from(["r1", "r2", "r3"]),
        "name": st.text(min_size=1, max_size=30),
        "display_name": st.one_of(st.none(), st.text(max_size=30)),
        "sms_enabled": st.booleans(),
        "minor_age_limit": st.integers(1, 25),
    },
    {
        "reception_id": system_id_fuzz,
        "name": text_fuzz,
        "sms_enabled": bool_fuzz,
        "minor_age_limit": st.integers(),
    },
)


def clinic_records(time_strategy: st.SearchStrategy[Any]) -> st.SearchStrategy[Any]:
    return near_valid(
        {
            "clinic_id": system_ids,
            "name": st.text(min_size=1, max_size=30),
            "phone": st.one_of(st.none(), st.text(max_size=15)),
            "sms_connected": st.booleans(),
            "sms_days_before": st.integers(0, 14),
            "sms_send_time": naive_times,
            "sms_window_start": naive_times,
            "sms_window_end": naive_times,
            "invitation_send_time": naive_times,
            "receptions": st.lists(reception_records, max_size=3),
        },
        {
            "clinic_id": system_id_fuzz,
            "name": text_fuzz,
            "sms_connected": bool_fuzz,
            "sms_days_before": st.integers(),
            "sms_send_time": time_strategy,
            "sms_window_start": time_strategy,
            "sms_window_end": time_strategy,
            "invitation_send_time": time_strategy,
        },
        only_own_fuzz=TIME_KEYS,
    )


guardian_records = near_valid(
    {
        "rank": st.sampled_from([1, 2]),
        "name": st.text(min_size=1, max_size=20),
        "mobile": st.one_of(st.none(), swedish_mobiles().map(lambda pair: pair[0])),
    },
    {
        "rank": st.one_of(st.integers(), st.sampled_from(["1", "first"])),
        "name": text_fuzz,
        "mobile": mobile_fuzz,
    },
)
consent_records = near_valid(
    {
        "clinic_id": st.one_of(st.none(), system_ids),
        "source": st.sampled_from(["VAS", "1177"]),
        "given_at": aware_iso,
        "withdrawn_at": st.one_of(st.none(), aware_iso),
    },
    {"clinic_id": system_id_fuzz, "source": st.sampled_from(["vas", "1178", ""]), "given_at": datetime_fuzz},
)
address_records = near_valid(
    {
        "street": st.text(min_size=1, max_size=20),
        "postal_code": st.from_regex(r"\A[0-9]{3} ?[0-9]{2}\Z"),
        "city": st.text(min_size=1, max_size=20),
    },
    {"postal_code": st.text(max_size=8), "street": text_fuzz},
)
patient_records = near_valid(
    {
        "patient_id": st.one_of(personnummer_ids(), reservnummer_ids()),
        "given_name": st.text(min_size=1, max_size=20),
        "family_name": st.text(min_size=1, max_size=20),
        "mobile": st.one_of(st.none(), swedish_mobiles().map(lambda pair: pair[0])),
        "uses_1177": st.booleans(),
        "postal_address": st.one_of(st.none(), address_records),
        "guardians": st.lists(guardian_records, max_size=3),
        "sms_consents": st.lists(consent_records, max_size=3),
    },
    {"patient_id": patient_id_fuzz, "mobile": mobile_fuzz, "given_name": text_fuzz, "uses_1177": bool_fuzz},
)
directory_records = near_valid(
    {
        "clinics": st.lists(clinic_records(naive_time_fuzz), max_size=2),
        "patients": st.lists(patient_records, max_size=3),
    }
)

SECRET_KEYS = {"patient_id", "mobile"}


def secrets_in(data: Any) -> list[str]:
    """Every string given as a patient id or mobile number anywhere in `data`."""
    found: list[str] = []
    if isinstance(data, dict):
        for key, value in data.items():
            if key in SECRET_KEYS and isinstance(value, str):
                found.append(value)
            found.extend(secrets_in(value))
    elif isinstance(data, list):
        for value in data:
            found.extend(secrets_in(value))
    return found


def assert_validates_or_refuses_quietly(model: type[BaseModel], data: Any) -> None:
    """`model_validate` succeeds or raises `ValidationError` (anything else propagates and fails),
    and the error text never repeats a patient id or a mobile number of the input."""
    try:
        model.model_validate(data)
    except ValidationError as err:
        texts = (str(err), describe_validation_error(err))
        for secret in secrets_in(data):
            runs = re.findall(r"\d{4,}", secret)
            for text in texts:
                for run in runs:
                    assert run not in text, (secret, text)
                if runs:
                    assert secret.strip() not in text, (secret, text)


# --- contract models: no input crashes a validator, no error echoes patient data -------------------


@FAST
@given(data=visit_booking_records)
def test_S2_S8_property_visit_booking_validates_or_refuses_without_echo(data: Any) -> None:
    assert_validates_or_refuses_quietly(VisitBooking, data)


@FAST
@given(data=group_booking_records)
def test_S13_property_group_booking_validates_or_refuses_without_echo(data: Any) -> None:
    assert_validates_or_refuses_quietly(GroupBooking, data)


@FAST
@given(data=care_invitation_records)
def test_V1_V2_property_care_invitation_validates_or_refuses_without_echo(data: Any) -> None:
    assert_validates_or_refuses_quietly(CareInvitation, data)


@FAST
@given(data=request_change_records)
def test_V10_property_request_change_validates_or_refuses(data: Any) -> None:
    assert_validates_or_refuses_quietly(RequestChange, data)


@FAST
@given(data=conversion_records)
def test_V11_property_conversion_validates_or_refuses(data: Any) -> None:
    assert_validates_or_refuses_quietly(Conversion, data)


@FAST
@given(data=invitation_booking_records)
def test_V8_property_invitation_booking_validates_or_refuses(data: Any) -> None:
    assert_validates_or_refuses_quietly(InvitationBooking, data)


@FAST
@given(data=patient_records)
def test_S2_S4_S9_property_patient_validates_or_refuses_without_echo(data: Any) -> None:
    assert_validates_or_refuses_quietly(Patient, data)


@FAST
@given(data=clinic_records(naive_time_fuzz))
def test_S6_S14_property_clinic_validates_or_refuses(data: Any) -> None:
    assert_validates_or_refuses_quietly(Clinic, data)


@settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=directory_records)
def test_S2_S3_S9_property_directory_document_validates_or_refuses_without_echo(data: Any) -> None:
    assert_validates_or_refuses_quietly(DirectoryDocument, data)


offset_times = st.one_of(
    st.tuples(st.integers(0, 23), st.integers(0, 59), st.sampled_from(["", "Z", "+01:00", "-05:00"])).map(
        lambda t: f"{t[0]:02d}:{t[1]:02d}{t[2]}"
    ),
    st.integers(0, 86399),  # pydantic reads a number as seconds since midnight, UTC
)


@FAST
@given(start=offset_times, end=offset_times, send=offset_times)
@example(start=28800, end="20:00", send="09:00")
@example(start="08:00+01:00", end="20:00+01:00", send="09:00+01:00")
def test_S6_property_clinic_times_with_utc_offset_are_refused_or_usable(
    start: str | int, end: str | int, send: str | int
) -> None:
    data = {
        "clinic_id": "kl1",
        "name": "Klinik",
        "sms_window_start": start,
        "sms_window_end": end,
        "sms_send_time": send,
    }
    try:
        clinic = Clinic.model_validate(data)
    except ValidationError:
        return
    visit = datetime(2027, 1, 12, 12, 0, tzinfo=UTC)
    plan_sms_send(visit, visit - timedelta(days=3), clinic)


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


# --- S6: send moment with random clinic windows ------------------------------------------------------


@st.composite
def local_instants(draw: st.DrawFn, first: date, last: date) -> datetime:
    """An aware instant from a Stockholm wall clock (often near a DST change), shown in any zone."""
    if draw(st.booleans()):
        day = draw(st.sampled_from(DST_SPRING + DST_AUTUMN)) + timedelta(days=draw(st.integers(-3, 3)))
    else:
        day = draw(st.dates(min_value=first, max_value=last))
    wall = datetime.combine(day, minutes(draw(st.integers(0, 24 * 60 - 1))), tzinfo=SE)
    wall = wall.replace(fold=draw(st.integers(0, 1)))
    return wall.astimezone(draw(st.sampled_from(ZONES)))


@st.composite
def clinic_settings(draw: st.DrawFn) -> Clinic:
    start = draw(st.integers(0, 24 * 60 - 2))
    end = draw(st.integers(start + 1, 24 * 60 - 1))
    return Clinic(
        clinic_id="kl1",
        name="Klinik",
        sms_connected=True,
        sms_days_before=draw(st.integers(0, 7)),
        sms_send_time=minutes(draw(st.integers(0, 24 * 60 - 1))),
        sms_window_start=minutes(start),
        sms_window_end=minutes(end),
    )


leads = st.one_of(
    st.timedeltas(min_value=timedelta(0), max_value=timedelta(hours=30)),
    st.timedeltas(min_value=timedelta(0), max_value=timedelta(days=10)),
    st.integers(0, 10 * 24 * 60).map(lambda m: timedelta(minutes=m)),
)


def first_valid_moment(clinic: Clinic, now: datetime, deadline: datetime) -> datetime | None:
    """Brute force: the first instant in [now, deadline] whose Stockholm wall clock is inside the
    window (window bounds are whole minutes, so checking `now` and each minute boundary suffices)."""
    t = now
    while t <= deadline:
        if clinic.sms_window_start <= sthlm(t).time() < clinic.sms_window_end:
            return t
        t = (t + timedelta(minutes=1)).replace(second=0, microsecond=0)
    return None


def assert_s6_plan(visit: datetime, now: datetime, clinic: Clinic) -> None:
    plan = plan_sms_send(visit, now, clinic)
    deadline = utc(visit) - timedelta(hours=2)  # S6: at least 2 hours before the visit
    if plan.at is None:
        assert plan.reason is Reason.TOO_LATE
        # A late reminder is better than none: TOO_LATE only when no moment in [now, visit - 2 h]
        # lies inside the window (a window occurs every day, so the span must be short).
        if deadline >= utc(now):
            assert deadline - utc(now) <= timedelta(hours=26)
            assert first_valid_moment(clinic, utc(now), deadline) is None
        return
    at = utc(plan.at)
    assert utc(now) <= at <= deadline
    assert clinic.sms_window_start <= sthlm(at).time() < clinic.sms_window_end
    assert plan.at.utcoffset() == sthlm(at).utcoffset()  # carries the Stockholm offset of that instant
    # The workflow re-plans when its timer fires on time: same moment.
    assert plan_sms_send(visit, plan.at, clinic).at == plan.at


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    visit=local_instants(date(2026, 1, 1), date(2028, 12, 31)),
    lead=leads,
    clinic=clinic_settings(),
)
def test_S6_property_random_clinic_window_in_any_zone_is_respected_and_too_late_only_when_impossible(
    visit: datetime, lead: timedelta, clinic: Clinic
) -> None:
    """Extends test_timing's property (whole hours, UTC visits, lead ≤ 16 days) to minute-resolution
    send times and windows, visits given in any zone around DST changes, and checks TOO_LATE is only
    given when no moment inside the window remains before visit - 2 h."""
    now = utc(visit) - lead
    assert_s6_plan(visit, now, clinic)


@st.composite
def dst_hour_case(draw: st.DrawFn, days: list[date]) -> tuple[datetime, datetime, Clinic]:
    day = draw(st.sampled_from(days))
    start = draw(st.integers(120, 179))
    end = draw(st.integers(start + 1, 180 if days is DST_SPRING else 24 * 60 - 1))
    clinic = Clinic(
        clinic_id="kl1",
        name="Klinik",
        sms_days_before=draw(st.integers(0, 2)),
        sms_send_time=minutes(start),
        sms_window_start=minutes(start),
        sms_window_end=minutes(end),
    )
    now = datetime.combine(day, time(0, 0), tzinfo=SE).astimezone(UTC) + timedelta(
        minutes=draw(st.integers(0, 240))
    )
    visit = now + timedelta(hours=draw(st.integers(3, 30)))
    return visit, now, clinic


@FAST
@given(case=dst_hour_case(DST_SPRING))
@example(
    case=(
        datetime(2027, 3, 28, 10, 0, tzinfo=UTC),
        datetime(2027, 3, 27, 23, 0, tzinfo=UTC),
        Clinic(
            clinic_id="kl1",
            name="Klinik",
            sms_days_before=0,
            sms_send_time=time(2, 0),
            sms_window_start=time(2, 0),
            sms_window_end=time(2, 45),
        ),
    )
)
def test_S6_property_window_in_the_skipped_spring_hour_is_never_used(
    case: tuple[datetime, datetime, Clinic],
) -> None:
    assert_s6_plan(*case)


@FAST
@given(case=dst_hour_case(DST_AUTUMN))
@example(
    case=(
        datetime(2027, 10, 31, 12, 0, tzinfo=UTC),
        datetime(2027, 10, 31, 1, 30, tzinfo=UTC),
        Clinic(
            clinic_id="kl1",
            name="Klinik",
            sms_days_before=0,
            sms_send_time=time(2, 45),
            sms_window_start=time(2, 45),
            sms_window_end=time(20, 0),
        ),
    )
)
def test_S6_property_window_opening_in_the_repeated_autumn_hour_is_never_before_now(
    case: tuple[datetime, datetime, Clinic],
) -> None:
    assert_s6_plan(*case)


# --- S2–S5, S9, S15: who gets the reminder ---------------------------------------------------------

MOBILE_POOL = ["070-111 11 11", "+46701111111", "0046 70 222 22 22", "073-333 33 33"]  # 1 and 2: same
pool_mobiles = st.one_of(st.none(), st.sampled_from(MOBILE_POOL))
recipient_instants = st.datetimes(
    min_value=datetime(2026, 1, 1), max_value=datetime(2028, 12, 31), timezones=st.sampled_from(ZONES)
)
consent_instants = st.datetimes(
    min_value=datetime(2024, 1, 1), max_value=datetime(2027, 6, 30), timezones=st.sampled_from(ZONES)
)


@st.composite
def consents(draw: st.DrawFn) -> SmsConsent:
    source = draw(st.sampled_from(["VAS", "1177"]))
    given_at = draw(consent_instants)
    withdrawn = draw(
        st.one_of(st.none(), st.none(), st.timedeltas(min_value=timedelta(0), max_value=timedelta(days=900)))
    )
    return SmsConsent(
        source=source,
        clinic_id=draw(st.sampled_from(["kl1", "kl2"])) if source == "VAS" else None,
        given_at=given_at,
        withdrawn_at=None if withdrawn is None else given_at + withdrawn,
    )


@st.composite
def patients(draw: st.DrawFn) -> tuple[Patient, date, bool]:
    """(patient, birth date, has a reservnummer)."""
    birth = draw(
        st.one_of(
            st.dates(min_value=date(1930, 1, 1), max_value=date(2004, 12, 31)),
            st.dates(min_value=date(2005, 1, 1), max_value=date(2027, 12, 31)),
        )
    )
    kind = draw(st.sampled_from(["pnr", "snr", "reserv"]))
    if kind == "reserv":
        patient_id = draw(reservnummer_ids(st.just(birth)))
    else:
        head, tail = pnr_parts(birth, draw(serials), coordination=kind == "snr")
        patient_id = f"{head}-{tail}"
    ranks = draw(st.sampled_from([[], [1], [2], [1, 2], [2, 1]]))
    guardians = [Guardian(rank=r, name=f"Närstående {r}", mobile=draw(pool_mobiles)) for r in ranks]
    patient = Patient(
        patient_id=patient_id,
        given_name="Elsa",
        family_name="Andersson",
        mobile=draw(pool_mobiles),
        guardians=guardians,
        sms_consents=draw(st.lists(consents(), min_size=draw(st.integers(0, 1)), max_size=3)),
    )
    return patient, birth, kind == "reserv"


def consent_in_force(patient: Patient, clinic_id: str, at: datetime) -> bool:
    """S9, computed independently of `SmsConsent.covers`."""
    t = utc(at)
    return any(
        (c.source == "1177" or c.clinic_id == clinic_id)
        and utc(c.given_at) <= t
        and (c.withdrawn_at is None or t < utc(c.withdrawn_at))
        for c in patient.sms_consents
    )


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    case=patients(),
    clinic_id=st.sampled_from(["kl1", "kl2"]),
    limit=st.one_of(st.just(18), st.integers(1, 25)),
    visit=recipient_instants,
    at=recipient_instants,
    on_a_boundary=st.data(),
)
def test_S2_S3_S4_S5_S9_S15_property_reminder_recipients(
    case: tuple[Patient, date, bool],
    clinic_id: str,
    limit: int,
    visit: datetime,
    at: datetime,
    on_a_boundary: st.DataObject,
) -> None:
    patient, birth, reserv = case
    boundaries = [c.given_at for c in patient.sms_consents] + [
        c.withdrawn_at for c in patient.sms_consents if c.withdrawn_at is not None
    ]
    if boundaries and on_a_boundary.draw(st.booleans()):
        at = on_a_boundary.draw(st.sampled_from(boundaries))  # given (in force) or withdrawn (not)
    reception = Reception(reception_id="r1", name="Mottagning", sms_enabled=True, minor_age_limit=limit)
    decision = reminder_recipients(patient, clinic_id, reception, visit, at)
    minor = age(birth, sthlm(visit).date()) < limit  # S2: on the visit's local date
    consent = consent_in_force(patient, clinic_id, at)
    mobiles = [r.mobile for r in decision.recipients]
    roles = [r.role for r in decision.recipients]
    guardian_roles = {RecipientRole.GUARDIAN_1, RecipientRole.GUARDIAN_2}

    if decision.recipients:
        assert consent  # S9: never without a consent covering this clinic at `at`
    if not minor:
        assert not guardian_roles & set(roles)  # S3: an adult's guardians get nothing
    if minor and reserv:
        assert decision.recipients == []  # S5
        assert [s.reason for s in decision.skipped] == [Reason.MINOR_RESERVNUMMER]
    assert len(mobiles) == len(set(mobiles))  # S15: never the same number twice

    # Each recipient's number is the one registered for its role, and nobody is left out.
    sources = {RecipientRole.PATIENT: patient.mobile}
    for rank, role in ((1, RecipientRole.GUARDIAN_1), (2, RecipientRole.GUARDIAN_2)):
        g = patient.guardian(rank)
        sources[role] = g.mobile if g is not None else None
    for r in decision.recipients:
        assert sources[r.role] == r.mobile
    if not consent or (minor and reserv):
        assert decision.recipients == []
    elif not minor:
        assert roles == ([RecipientRole.PATIENT] if patient.mobile else [])
    else:
        wanted = [sources[role] for role in (RecipientRole.PATIENT, *sorted(guardian_roles))]
        assert mobiles == list(dict.fromkeys(m for m in wanted if m))  # S4 + S15, in role order


# --- V3, V6, V13: the schedule of an invitation -----------------------------------------------------


def stockholm_instant(day: date, t: time) -> tuple[datetime, bool]:
    """(the instant of wall clock `t` on `day`, whether `t` is skipped that day)."""
    wall = datetime.combine(day, t, tzinfo=SE)
    skipped = sthlm(wall).replace(tzinfo=None) != wall.replace(tzinfo=None)
    return wall, skipped


def send_instant(day: date, send_time: time) -> datetime:
    """When a message at `send_time` on `day` goes out: a time in the spring-forward gap at 03:00."""
    wall, skipped = stockholm_instant(day, send_time)
    return datetime.combine(day, time(3, 0), tzinfo=SE) if skipped else wall


def assert_at_send_time(at: datetime, day: date, send_time: time) -> None:
    """`at` is on `day` at the send time's wall clock (03:00 when the send time is skipped that day)."""
    expected = sthlm(send_instant(day, send_time))
    assert sthlm(at).replace(tzinfo=None) == expected.replace(tzinfo=None)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    start=st.datetimes(
        min_value=datetime(2026, 1, 1), max_value=datetime(2027, 12, 31), timezones=st.just(UTC)
    ),
    ahead=st.integers(0, 200),
    length=st.integers(0, 120),
    send_minute=st.integers(0, 24 * 60 - 1),
    early=st.lists(st.floats(min_value=0, max_value=1), min_size=4, max_size=4),
)
@example(  # the follow-up falls on the spring-forward night: at 03:00, as every message (found by hypothesis)
    start=datetime(2026, 1, 26, tzinfo=UTC), ahead=62, length=0, send_minute=121, early=[0.0] * 4
)
def test_V3_V6_V13_property_messages_sent_on_time_follow_in_order_14_days_apart_inside_the_window(
    start: datetime, ahead: int, length: int, send_minute: int, early: list[float]
) -> None:
    """A worker that always wakes exactly at `at` and sends. Extends test_invitation_schedule's run
    (late wake-ups) with minute-resolution send times (also in the DST hour), windows up to 200 days
    ahead, exact 14-day spacing, and early re-evaluation (a change wakes the workflow before `at`)."""
    send_time = minutes(send_minute)
    first = sthlm(start).date() + timedelta(days=ahead)
    win = DateWindow(first_date=first, last_date=first + timedelta(days=length))
    end = datetime.combine(win.last_date + timedelta(days=1), time(0, 0), tzinfo=SE)  # local midnight
    assert utc(window_end(win)) == utc(end)

    now = start
    sent: dict[Step, datetime] = {}
    seen: list[Step] = []
    for fraction in early:
        step = next_step(win, send_time, sent, now)
        seen.append(step.step)
        assert utc(step.at) >= utc(now)
        assert step.at.utcoffset() == sthlm(step.at).utcoffset()
        # Asked again earlier than `at` (any moment since `now`), the answer is the same.
        between = utc(now) + (utc(step.at) - utc(now)) * fraction
        assert next_step(win, send_time, sent, between) == step
        if step.step is Step.FOLLOW_UP:
            break
        assert utc(step.at) < utc(end)  # V13: no message from the window's end on
        sent[step.step] = step.at
        now = step.at
    else:
        pytest.fail("no follow_up after three messages")

    messages = [Step.INVITATION, Step.REMINDER_1, Step.REMINDER_2]
    assert seen == [*messages[: len(seen) - 1], Step.FOLLOW_UP]
    assert Step.INVITATION in sent  # the window has not ended when the invitation is created
    nominal_day = first - timedelta(days=42)
    nominal, _ = stockholm_instant(nominal_day, send_time)
    if utc(nominal) >= utc(start) or sthlm(start).date() < nominal_day:
        assert_at_send_time(sent[Step.INVITATION], nominal_day, send_time)  # V3
    else:
        assert sent[Step.INVITATION] == start  # V4: at once
    for before, after in itertools.pairwise(messages):
        if after in sent:  # V6: 14 local calendar days after the previous message, at the send time
            assert_at_send_time(sent[after], sthlm(sent[before]).date() + timedelta(days=14), send_time)
        elif before in sent:  # the next one would fall on or after the window's end (V13)
            due = send_instant(sthlm(sent[before]).date() + timedelta(days=14), send_time)
            assert utc(due) >= utc(end) or sthlm(due).date() > win.last_date
    follow_up = next_step(win, send_time, sent, now)
    assert follow_up.step is Step.FOLLOW_UP
    if Step.REMINDER_2 in sent:
        due = send_instant(sthlm(sent[Step.REMINDER_2]).date() + timedelta(days=14), send_time)
        assert utc(follow_up.at) == max(min(utc(due), utc(end)), utc(now))
    else:
        assert utc(follow_up.at) == utc(end)


# --- V8: which bookings the patient may make --------------------------------------------------------

WEEKDAY_NAMES = ["mon", "tue", "wed", "thu", "fri", "sat", "sun"]


@st.composite
def invitations_and_starts(draw: st.DrawFn) -> tuple[CareInvitation, datetime]:
    first = draw(st.sampled_from(DST_SPRING + DST_AUTUMN + [date(2027, 1, 1)])) + timedelta(
        days=draw(st.integers(-40, 40))
    )
    if draw(st.booleans()):
        first = draw(st.dates(min_value=date(2026, 1, 1), max_value=date(2028, 12, 31)))
    last = first + timedelta(days=draw(st.integers(0, 120)))
    weekdays = draw(
        st.one_of(st.none(), st.lists(st.sampled_from(WEEKDAY_NAMES), min_size=1, max_size=7, unique=True))
    )
    request = CareInvitation(
        request_id="req1",
        referral_id="ref1",
        patient_id="19121212-1212",
        clinic_id="kl1",
        reception_id="rec1",
        visit_kind="new",
        visit_type="Nybesök",
        reason="Kontroll",
        window={"first_date": first, "last_date": last},
        weekdays=weekdays,
        time_of_day=draw(tod),
    )
    # A start near the window's edges, midnight or noon, given in any zone.
    day = draw(st.sampled_from([first, last])) + timedelta(days=draw(st.integers(-2, 2)))
    if draw(st.booleans()):
        day = draw(st.dates(min_value=first - timedelta(days=3), max_value=last + timedelta(days=3)))
    around = draw(st.sampled_from([0, 12 * 60, 24 * 60]))
    minute = draw(st.one_of(st.integers(around - 3, around + 2), st.integers(0, 24 * 60 - 1)))
    wall = datetime.combine(day, time(0, 0), tzinfo=SE) + timedelta(minutes=minute)  # wall clock arithmetic
    second = draw(st.integers(0, 59))
    start = (wall + timedelta(seconds=second)).astimezone(draw(st.sampled_from(ZONES)))
    return request, start


def v8_allows(request: CareInvitation, start: datetime) -> bool:
    local = sthlm(start)
    weekdays = request.weekdays
    in_window = request.window.first_date <= local.date() <= request.window.last_date
    on_weekday = not weekdays or WEEKDAY_NAMES[local.weekday()] in weekdays
    clock = local.time()
    in_time = {"any": True, "morning": clock < time(12, 0), "afternoon": clock >= time(12, 0)}[
        request.time_of_day
    ]
    return in_window and on_weekday and in_time


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(case=invitations_and_starts())
def test_V8_property_patient_booking_accepted_exactly_inside_window_weekdays_and_time_of_day(
    case: tuple[CareInvitation, datetime],
) -> None:
    request, start = case
    booking = InvitationBooking(booking_id="b1", start=start, by=BookedBy.PATIENT)
    if v8_allows(request, start):
        check_booking(request, booking)
    else:
        with pytest.raises(ValueError, match=r"\(V8\)"):
            check_booking(request, booking)
    check_booking(request, booking.model_copy(update={"by": BookedBy.STAFF}))  # V9: staff always


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
