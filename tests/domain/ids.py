"""Test helpers: valid Swedish patient ids computed with the Luhn check digit."""

from __future__ import annotations

from datetime import date


def luhn_digit(nine: str) -> str:
    """The Luhn check digit of the 9 digits YYMMDDNNN."""
    total = 0
    for i, ch in enumerate(nine):
        d = int(ch) * (2 if i % 2 == 0 else 1)
        total += d - 9 if d > 9 else d
    return str((10 - total % 10) % 10)


def personnummer(birth: date, serial: str = "238") -> str:
    """A valid personnummer `YYYYMMDD-NNNC` for `birth`."""
    nine = f"{birth:%y%m%d}{serial}"
    return f"{birth:%Y%m%d}-{serial}{luhn_digit(nine)}"


def samordningsnummer(birth: date, serial: str = "238") -> str:
    """A valid samordningsnummer: the day of birth plus 60."""
    day = birth.day + 60
    nine = f"{birth:%y%m}{day:02d}{serial}"
    return f"{birth:%Y%m}{day:02d}-{serial}{luhn_digit(nine)}"
