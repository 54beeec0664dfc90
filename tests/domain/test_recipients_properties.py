"""Property-based tests of who gets the reminder (hypothesis; S2–S5, S9, S15)."""

from __future__ import annotations

from datetime import date, datetime, timedelta

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from domain.directory import Guardian, Patient, Reception, SmsConsent
from domain.recipients import reminder_recipients
from domain.status import Reason, RecipientRole
from tests.domain.strategies import ZONES, age, pnr_parts, reservnummer_ids, serials, sthlm, utc

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
