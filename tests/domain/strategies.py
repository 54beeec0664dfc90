"""What the property tests of the domain share (hypothesis): independent helpers, settings and the
strategies for patient ids and mobile numbers.

The property tests live next to the example tests of each rule family (`test_*_properties.py`): each
test names the rule it concerns, and expectations are computed independently of the domain code where
that is practical (Stockholm local time via `zoneinfo`, ages, consent scopes, windows).
"""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta, timezone
from zoneinfo import ZoneInfo

from hypothesis import HealthCheck, settings
from hypothesis import strategies as st

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
tod = st.sampled_from(["any", "morning", "afternoon"])
