"""Swedish mobile numbers (S3, S4): normalised to E.164, landlines refused, masked for display."""

from __future__ import annotations

import phonenumbers
from phonenumbers import PhoneNumberType


class InvalidMobileNumber(ValueError):
    """A number that is not a usable mobile number; the message never contains the number."""


_MOBILE_TYPES = {PhoneNumberType.MOBILE, PhoneNumberType.FIXED_LINE_OR_MOBILE}


def normalize_mobile(raw: str) -> str:
    """Return the E.164 form (`+46701234567`) of a mobile number written in any common way.

    Numbers without a country code are read as Swedish. Landlines and invalid numbers are refused.
    """
    try:
        number = phonenumbers.parse(raw, "SE")
    except phonenumbers.NumberParseException:
        raise InvalidMobileNumber("mobile number could not be read as a phone number") from None
    if not phonenumbers.is_valid_number(number):
        raise InvalidMobileNumber("mobile number is not a valid phone number")
    if phonenumbers.number_type(number) not in _MOBILE_TYPES:
        raise InvalidMobileNumber("number is not a mobile number (landlines cannot receive SMS)")
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


def mask_mobile(e164: str) -> str:
    """Keep the country code and the last two digits: `+46*******67`."""
    if len(e164) <= 5:
        return "*" * len(e164)
    return e164[:3] + "*" * (len(e164) - 5) + e164[-2:]
