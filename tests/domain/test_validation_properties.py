"""Property-based tests of the contract models (hypothesis): no input crashes a validator, no error
echoes patient data (S2, S4, S6, S8, S9, S13, S14, V1, V2, V8, V10, V11)."""

from __future__ import annotations

import re
from datetime import UTC, date, datetime, timedelta
from typing import Any

from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st
from pydantic import BaseModel, ValidationError

from domain.booking import GroupBooking, VisitBooking
from domain.directory import Clinic, DirectoryDocument, Patient
from domain.invitation import (
    CareInvitation,
    Conversion,
    InvitationBooking,
    RequestChange,
)
from domain.timing import plan_sms_send
from domain.types import describe_validation_error
from tests.domain.strategies import (
    FAST,
    ZONES,
    minutes,
    mobile_fuzz,
    patient_id_fuzz,
    personnummer_ids,
    reservnummer_ids,
    swedish_mobiles,
    tod,
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
