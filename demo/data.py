"""Demo and test data: valid fake personnummer and a realistic directory document (SPEC §5).

All names are clearly fake. Mobile numbers are in 070-1740605 … 070-1740699 and the clinic's phone
in 040-628 04 00 … 99, ranges PTS reserves for fiction, so a test can never reach a real person.
"""

from __future__ import annotations

from typing import Any

CLINIC_CONNECTED = "kir"
CLINIC_NOT_CONNECTED = "onh"
RECEPTION_GENERAL = "kir-allm"  # sms_enabled, minor_age_limit 18
HSA_GENERAL = "SE2321000016-KIR1"  # its HSA-id (FHIR Appointment participants)
RECEPTION_HIDDEN = "kir-obes"  # sms_enabled, display_name hides the speciality, minor_age_limit 16
RECEPTION_NOT_CONNECTED = "onh-mott"  # sms_enabled, but its clinic is not connected (S14)
CLINIC_REPLIES = "ort"  # issue 28: sends its reminders from a reply number, at once (whole-day window)
RECEPTION_REPLIES = "ort-mott"
REPLY_NUMBER = "+46701740680"  # the clinic's virtual number: 070-174 06 80, PTS's range for fiction


def luhn_pnr(yyyymmdd: str, serial: str = "123") -> str:
    """A valid personnummer `YYYYMMDD-NNNN` for a birth date and a 3-digit serial (check digit added)."""
    if len(yyyymmdd) != 8 or not yyyymmdd.isdigit() or len(serial) != 3 or not serial.isdigit():
        raise ValueError("luhn_pnr needs YYYYMMDD and a 3-digit serial")
    digits = yyyymmdd[2:] + serial
    total = 0
    for index, char in enumerate(digits):
        product = int(char) * (2 if index % 2 == 0 else 1)
        total += product - 9 if product > 9 else product
    return f"{yyyymmdd}-{serial}{(10 - total % 10) % 10}"


PNR_ADULT_1177 = luhn_pnr("19800101", "123")
PNR_ADULT_VAS = luhn_pnr("19750515", "234")
PNR_CHILD = luhn_pnr("20150610", "345")
RESERVNUMMER_CHILD = "20160301-R001"
PNR_ADULT_NO_MOBILE = luhn_pnr("19501224", "456")
PNR_ADULT_WITHDRAWN = luhn_pnr("19900909", "567")

MOBILE_ADULT_1177 = "070-1740605"
MOBILE_ADULT_VAS = "070-1740606"
MOBILE_GUARDIAN_1 = "070-1740607"
MOBILE_GUARDIAN_2 = "070-1740608"
MOBILE_ADULT_WITHDRAWN = "070-1740609"
MOBILE_RESERV_GUARDIAN = "070-1740610"


def e164(national: str) -> str:
    """`070-1740605` → `+46701740605`."""
    return "+46" + national.replace("-", "").replace(" ", "")[1:]


DEMO_ROUTING = {
    "steps": [
        {"channel": "1177"},
        {"channel": "sms_notice", "after": "PT1M"},
        {"channel": "digital_mailbox", "after": "PT1M"},
        {"channel": "letter", "after": "PT1M"},
    ]
}
"""The ÖNH clinic's routing plan (issue 27)."""


def demo_document() -> dict[str, Any]:
    """A fresh directory document (SPEC §5): 3 clinics and 6 patients covering S3, S4, S5, S9, S14, V5,
    and a clinic that takes SMS replies (issue 28)."""
    return {
        "clinics": [
            {
                "clinic_id": CLINIC_CONNECTED,
                "name": "Kirurgkliniken Demo",
                "phone": "040-628 04 00",  # PTS range for fiction
                "sms_connected": True,
                "sms_days_before": 1,
                "sms_send_time": "09:00",
                "invitation_send_time": "08:00",
                "receptions": [
                    {
                        "reception_id": RECEPTION_GENERAL,
                        "name": "Allmänkirurgisk mottagning",
                        "display_name": None,
                        "sms_enabled": True,
                        "minor_age_limit": 18,
                        "hsa_id": HSA_GENERAL,
                    },
                    {
                        "reception_id": RECEPTION_HIDDEN,
                        "name": "Obesitasmottagningen",
                        "display_name": "Kirurgmottagning 2",
                        "sms_enabled": True,
                        "minor_age_limit": 16,
                    },
                ],
            },
            {
                "clinic_id": CLINIC_NOT_CONNECTED,
                "name": "ÖNH-kliniken Demo",
                "sms_connected": False,
                "sms_days_before": 2,
                "sms_send_time": "10:00",
                "invitation_send_time": "08:00",
                # Issue 27: unread in 1177, an SMS notice, then the digital mailbox, then a letter. The
                # waits are minutes so that `dev.py run --demo` shows the walk; a real clinic's are days.
                "routing": DEMO_ROUTING,
                "receptions": [
                    {
                        "reception_id": RECEPTION_NOT_CONNECTED,
                        "name": "ÖNH-mottagningen",
                        "display_name": None,
                        "sms_enabled": True,
                        "minor_age_limit": 18,
                    }
                ],
            },
            {
                # Issue 28: reminders from a virtual number that takes the replies (AVBOKA, STOPP). The
                # whole day is its sending window and the send time has passed by the day before the
                # visit, so the demo's visit a few hours ahead is reminded at once (S6).
                "clinic_id": CLINIC_REPLIES,
                "name": "Ortopedkliniken Demo",
                "phone": "040-628 04 01",  # PTS range for fiction
                "sms_connected": True,
                "sms_days_before": 1,
                "sms_send_time": "00:00",
                "sms_window_start": "00:00",
                "sms_window_end": "23:59:59",
                "invitation_send_time": "08:00",
                "reply_number": REPLY_NUMBER,
                "receptions": [
                    {
                        "reception_id": RECEPTION_REPLIES,
                        "name": "Ortopedmottagningen",
                        "display_name": None,
                        "sms_enabled": True,
                        "minor_age_limit": 18,
                    }
                ],
            },
        ],
        "patients": [
            {
                # Adult, own mobile, consent in 1177 (all clinics), uses 1177.
                "patient_id": PNR_ADULT_1177,
                "given_name": "Testa",
                "family_name": "Testsson",
                "mobile": MOBILE_ADULT_1177,
                "uses_1177": True,
                "postal_address": {"street": "Påhittegatan 1", "postal_code": "222 22", "city": "Lund"},
                "guardians": [],
                "sms_consents": [
                    {"clinic_id": None, "source": "1177", "given_at": "2024-01-10T12:00:00+01:00"}
                ],
            },
            {
                # Adult, own mobile, consent registered in VAS by the connected clinic only.
                "patient_id": PNR_ADULT_VAS,
                "given_name": "Demo",
                "family_name": "Demosson",
                "mobile": MOBILE_ADULT_VAS,
                "uses_1177": False,
                "postal_address": {"street": "Låtsasvägen 2", "postal_code": "22223", "city": "Lund"},
                "guardians": [],
                "sms_consents": [
                    {"clinic_id": CLINIC_CONNECTED, "source": "VAS", "given_at": "2024-03-05T09:30:00+01:00"}
                ],
            },
            {
                # Child born 2015: no own mobile, two guardians with mobiles, VAS consent.
                "patient_id": PNR_CHILD,
                "given_name": "Lilla",
                "family_name": "Exempelsson",
                "mobile": None,
                "uses_1177": False,
                "postal_address": {"street": "Fiktivgränd 3", "postal_code": "222 24", "city": "Lund"},
                "guardians": [
                    {"rank": 1, "name": "Förälder Ett Exempelsson", "mobile": MOBILE_GUARDIAN_1},
                    {"rank": 2, "name": "Förälder Två Exempelsson", "mobile": MOBILE_GUARDIAN_2},
                ],
                "sms_consents": [
                    {"clinic_id": CLINIC_CONNECTED, "source": "VAS", "given_at": "2024-05-20T14:15:00+02:00"}
                ],
            },
            {
                # Child with a reservnummer (S5: no SMS), even with a guardian mobile and consent.
                "patient_id": RESERVNUMMER_CHILD,
                "given_name": "Okänd",
                "family_name": "Reservsson",
                "mobile": None,
                "uses_1177": False,
                "postal_address": None,
                "guardians": [
                    {"rank": 1, "name": "Vårdnadshavare Reservsson", "mobile": MOBILE_RESERV_GUARDIAN}
                ],
                "sms_consents": [
                    {"clinic_id": CLINIC_CONNECTED, "source": "VAS", "given_at": "2024-06-01T10:00:00+02:00"}
                ],
            },
            {
                # Adult without a mobile and without 1177: letters by post (V5), no SMS (S3).
                "patient_id": PNR_ADULT_NO_MOBILE,
                "given_name": "Utan",
                "family_name": "Mobilsson",
                "mobile": None,
                "uses_1177": False,
                "postal_address": {
                    "street": "Brevlådevägen 4",
                    "postal_code": "222 25",
                    "city": "Lund",
                    "care_of": "Fiktiva Boendet",
                },
                "guardians": [],
                "sms_consents": [
                    {"clinic_id": None, "source": "1177", "given_at": "2023-11-01T08:00:00+01:00"}
                ],
            },
            {
                # Adult with a mobile whose VAS consent was withdrawn (S9).
                "patient_id": PNR_ADULT_WITHDRAWN,
                "given_name": "Ångra",
                "family_name": "Återkallsson",
                "mobile": MOBILE_ADULT_WITHDRAWN,
                "uses_1177": True,
                "postal_address": {"street": "Exempelvägen 5", "postal_code": "222 26", "city": "Lund"},
                "guardians": [],
                "sms_consents": [
                    {
                        "clinic_id": CLINIC_CONNECTED,
                        "source": "VAS",
                        "given_at": "2024-02-01T10:00:00+01:00",
                        "withdrawn_at": "2024-08-15T16:45:00+02:00",
                    }
                ],
            },
        ],
    }


DEMO_STAFF = {
    "sara": ("Sara Lind", [CLINIC_CONNECTED]),
    "olle": ("Olle Berg", [CLINIC_NOT_CONNECTED]),
    "rut": ("Rut Ek", [CLINIC_REPLIES]),
}
"""The local login of `dev.py run` (PM_WEB_DEMO_LOGIN): user id → (name, clinics). Sara works at the
demo clinic with the demo data; Olle at the other one, to show that a page of clinic `kir` refuses him;
Rut at the clinic that takes SMS replies (issue 28)."""
