"""The fake population: patients and clinics for the benchmarks and the tests that run the real worker.

Fake patients: personnummer with a valid check digit (`demo.data.luhn_pnr`, birth dates 1940–1989),
names "<Given> Bänk<abc>sson" and mobile numbers 070-174 00 00 … 070-174 99 99 (index i → 070-174 iiii).
That block contains the 95 numbers PTS reserves for fiction (070-174 06 05 … 99); the others are
ordinary-looking numbers. None of them ever leaves this machine: the SMS gateway is the embedded
outbox or a fake provider on 127.0.0.1 (`testkit.real_worker.require_loopback` refuses anything else).
"""

from __future__ import annotations

from datetime import date, datetime, timedelta
from datetime import time as dtime
from typing import Any

from demo.data import luhn_pnr
from domain.timing import local_date, local_time

MAX_PATIENTS = 10_000  # the mobile block 070-174 0000 … 9999
GIVEN_NAMES = ["Testa", "Prova", "Mätta", "Belasta", "Kolla", "Granska", "Räkna", "Simulera"]
RECEPTION = "rec"


def _letters(i: int) -> str:
    a, rest = divmod(i, 26 * 26)
    b, c = divmod(rest, 26)
    return "".join(chr(ord("a") + x % 26) for x in (a, b, c))


def fake_pnr(i: int) -> str:
    """A distinct valid personnummer per index (birth dates 1940-01-01 … 1989-04-14)."""
    day, serial = i % 18_000, 100 + i // 18_000
    born = date(1940, 1, 1) + timedelta(days=day)
    return luhn_pnr(born.strftime("%Y%m%d"), f"{serial:03d}")


def fake_mobile(i: int) -> str:
    """070-174 iiii (national form); see the module docstring."""
    if not 0 <= i < MAX_PATIENTS:
        raise ValueError("fake mobiles exist for 0 <= i < 10000")
    return f"070-174{i:04d}"


def e164(national: str) -> str:
    return "+46" + national.replace("-", "")[1:]


def fake_patient(i: int, uses_1177: bool = True, consent: bool = True) -> dict[str, Any]:
    return {
        "patient_id": fake_pnr(i),
        "given_name": GIVEN_NAMES[i % len(GIVEN_NAMES)],
        "family_name": f"Bänk{_letters(i)}sson",
        "mobile": fake_mobile(i),
        "uses_1177": uses_1177,
        "postal_address": {"street": f"Mätvägen {i % 200 + 1}", "postal_code": "222 22", "city": "Lund"},
        "guardians": [],
        "sms_consents": (
            [{"clinic_id": None, "source": "1177", "given_at": "2024-01-10T12:00:00+01:00"}]
            if consent
            else []
        ),
    }


def fake_clinic(
    clinic_id: str,
    *,
    sms_send_time: dtime = dtime(9, 0),
    days_before: int = 1,
    whole_day: bool = False,
    invitation_send_time: dtime = dtime(8, 0),
) -> dict[str, Any]:
    """A connected clinic with one SMS-enabled reception `rec`; `whole_day`: window 00:00–23:59:59."""
    return {
        "clinic_id": clinic_id,
        "name": f"Mätkliniken {clinic_id}",
        "phone": "040-628 04 00",
        "sms_connected": True,
        "sms_days_before": days_before,
        "sms_send_time": sms_send_time.isoformat(),
        "sms_window_start": "00:00:00" if whole_day else "08:00:00",
        "sms_window_end": "23:59:59" if whole_day else "20:00:00",
        "invitation_send_time": invitation_send_time.isoformat(),
        "receptions": [
            {"reception_id": RECEPTION, "name": "Mätmottagningen", "sms_enabled": True, "minor_age_limit": 18}
        ],
    }


def clinic_due_at(clinic_id: str, due: datetime, visit: datetime) -> dict[str, Any]:
    """A clinic whose S6 moment for a visit at `visit` is exactly `due` (send time = due's local time,
    days before = the calendar days between them, sending window the whole day)."""
    days = (local_date(visit) - local_date(due)).days
    return fake_clinic(clinic_id, sms_send_time=local_time(due), days_before=days, whole_day=True)
