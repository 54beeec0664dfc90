"""Swedish patient identifiers: personnummer, samordningsnummer and reservnummer (S2, S5).

Identifiers are patient data: error messages here never repeat the value they refuse.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date
from enum import StrEnum

from personnummer import personnummer


class IdKind(StrEnum):
    PERSONNUMMER = "personnummer"
    SAMORDNINGSNUMMER = "samordningsnummer"
    RESERVNUMMER = "reservnummer"


class InvalidPatientId(ValueError):
    """A patient id that is none of the three kinds; the message never contains the id."""


@dataclass(frozen=True)
class PatientId:
    """A validated patient id in canonical form `YYYYMMDD-NNNN` (reservnummer `YYYYMMDD-XXXX`)."""

    value: str
    kind: IdKind
    birth_date: date

    @property
    def is_reservnummer(self) -> bool:
        return self.kind is IdKind.RESERVNUMMER


# ASCII digits only, and the separators the `personnummer` library accepts with 12 digits: `-`, `+` or
# none (no space or other character inside); a reservnummer takes the same separators.
_NUMBER = re.compile(r"^([0-9]{8})[-+]?([0-9]{4})$")
_RESERV = re.compile(r"^([0-9]{8})[-+]?([0-9A-Z]{4})$")


def parse_patient_id(raw: str) -> PatientId:
    """Parse a patient id written with a 4-digit year and `-`, `+` or no separator (whitespace around
    it is trimmed; a space inside is refused, as the `personnummer` library refuses it).

    Personnummer and samordningsnummer (day + 60) need a valid date and Luhn check digit;
    a reservnummer starts with the birth date and has at least one letter in the last
    four characters (for example `19550101-A749`).
    """
    text = raw.strip().upper()
    if match := _NUMBER.match(text):
        digits = match.group(1) + match.group(2)
        try:
            number = personnummer.parse(digits)
        except personnummer.PersonnummerException:
            raise InvalidPatientId(
                "patient id is not a valid personnummer or samordningsnummer (date or check digit is wrong)"
            ) from None
        kind = IdKind.SAMORDNINGSNUMMER if number.is_coordination_number() else IdKind.PERSONNUMMER
        return PatientId(f"{match.group(1)}-{match.group(2)}", kind, number.get_date())
    if (match := _RESERV.match(text)) and any(c.isalpha() for c in match.group(2)):
        birth = _date_of(match.group(1))
        if birth is None:
            raise InvalidPatientId("reservnummer must start with a valid birth date YYYYMMDD")
        return PatientId(f"{match.group(1)}-{match.group(2)}", IdKind.RESERVNUMMER, birth)
    raise InvalidPatientId(
        "patient id must be a personnummer or samordningsnummer with a 4-digit year "
        "(YYYYMMDD-NNNN) or a reservnummer (YYYYMMDD-XXXX with a letter)"
    )


def _date_of(yyyymmdd: str) -> date | None:
    try:
        return date(int(yyyymmdd[:4]), int(yyyymmdd[4:6]), int(yyyymmdd[6:8]))
    except ValueError:
        return None


def age_on(birth_date: date, day: date) -> int:
    """Age in whole years on `day` (S2: counted on the visit's local date).

    Someone born on 29 February has their birthday on 1 March in common years.
    """
    years = day.year - birth_date.year
    if (day.month, day.day) < (birth_date.month, birth_date.day):
        years -= 1
    return years


def mask_patient_id(value: str) -> str:
    """Show only the birth date part: `19121212-****` (for query results and staff output)."""
    return f"{value[:8]}-****"
