"""Who gets an SMS reminder: S1–S5, S7, S8, S9, S10, S11, S13, S14, S15."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta, timezone

import pytest
from pydantic import ValidationError

from domain.booking import Channel, GroupBooking, GroupParticipant, VisitBooking
from domain.directory import Clinic, Guardian, Patient, Reception, SmsConsent
from domain.recipients import Recipient, RecipientDecision, Skip, booking_blocker, reminder_recipients
from domain.status import BookingView, Reason, RecipientRole
from tests.domain.ids import personnummer, samordningsnummer

CEST = timezone(timedelta(hours=2))
VISIT = datetime(2027, 6, 15, 10, 0, tzinfo=CEST)
SEND_AT = datetime(2027, 6, 14, 9, 0, tzinfo=CEST)
BOOKED = datetime(2027, 5, 1, 12, 0, tzinfo=UTC)
CLINIC_ID = "kl1"

PATIENT_MOBILE = "+46701234567"
G1_MOBILE = "+46702222222"
G2_MOBILE = "+46703333333"

P = RecipientRole.PATIENT
G1 = RecipientRole.GUARDIAN_1
G2 = RecipientRole.GUARDIAN_2

ADULT_ID = personnummer(date(1980, 2, 3))
CHILD_ID = personnummer(date(2015, 3, 10))


def consent_1177(given: datetime = BOOKED, withdrawn: datetime | None = None) -> SmsConsent:
    return SmsConsent(source="1177", given_at=given, withdrawn_at=withdrawn)


def consent_vas(clinic_id: str = CLINIC_ID, given: datetime = BOOKED) -> SmsConsent:
    return SmsConsent(source="VAS", clinic_id=clinic_id, given_at=given)


def patient(
    patient_id: str = ADULT_ID,
    mobile: str | None = PATIENT_MOBILE,
    guardians: tuple[str | None, str | None] | None = None,
    consents: list[SmsConsent] | None = None,
) -> Patient:
    guardian_list = []
    if guardians is not None:
        for rank, number in ((1, guardians[0]), (2, guardians[1])):
            guardian_list.append(Guardian(rank=rank, name=f"Närstående {rank}", mobile=number))
    return Patient(
        patient_id=patient_id,
        given_name="Elsa",
        family_name="Andersson",
        mobile=mobile,
        guardians=guardian_list,
        sms_consents=[consent_1177()] if consents is None else consents,
    )


def reception(limit: int = 18, enabled: bool = True, rid: str = "rec1") -> Reception:
    return Reception(reception_id=rid, name="Läkarmottagning", sms_enabled=enabled, minor_age_limit=limit)


def decide(p: Patient | None, rec: Reception | None = None, visit: datetime = VISIT) -> RecipientDecision:
    return reminder_recipients(p, CLINIC_ID, rec or reception(), visit, SEND_AT)


def roles(decision: RecipientDecision) -> list[RecipientRole]:
    return [r.role for r in decision.recipients]


def make_clinic(connected: bool = True, receptions: list[Reception] | None = None) -> Clinic:
    return Clinic(
        clinic_id=CLINIC_ID,
        name="Vårdcentralen Norr",
        sms_connected=connected,
        receptions=receptions if receptions is not None else [reception()],
    )


def view(
    booking_id: str = "b1", channel: str = "vas", flag: bool = True, cancelled: bool = False
) -> BookingView:
    return BookingView(booking_id=booking_id, channel=channel, sms_flag=flag, cancelled=cancelled)


# --- booking_blocker: S1, S7, S8, S10, S11, S13, S14 ---------------------------------------------


def test_S1_S14_connected_clinic_enabled_reception_flag_on_is_not_blocked() -> None:
    assert booking_blocker(make_clinic(), "rec1", [view()]) is None


def test_S14_clinic_not_connected() -> None:
    assert booking_blocker(make_clinic(connected=False), "rec1", [view()]) is Reason.CLINIC_NOT_CONNECTED


def test_S14_clinic_not_connected_wins_over_reception_not_enabled() -> None:
    c = make_clinic(connected=False, receptions=[reception(enabled=False)])
    assert booking_blocker(c, "rec1", [view()]) is Reason.CLINIC_NOT_CONNECTED


def test_S1_reception_not_enabled() -> None:
    c = make_clinic(receptions=[reception(enabled=False)])
    assert booking_blocker(c, "rec1", [view()]) is Reason.RECEPTION_NOT_ENABLED


def test_S1_receptions_of_one_clinic_are_enabled_separately() -> None:
    c = make_clinic(
        receptions=[reception(rid="lak"), reception(rid="dsk"), reception(rid="bvc", enabled=False)]
    )
    assert booking_blocker(c, "lak", [view()]) is None
    assert booking_blocker(c, "dsk", [view()]) is None
    assert booking_blocker(c, "bvc", [view()]) is Reason.RECEPTION_NOT_ENABLED


def test_S1_unknown_clinic_and_unknown_reception() -> None:
    assert booking_blocker(None, "rec1", [view()]) is Reason.UNKNOWN_CLINIC
    assert booking_blocker(make_clinic(), "nope", [view()]) is Reason.UNKNOWN_RECEPTION


def test_S7_quick_booking() -> None:
    assert booking_blocker(make_clinic(), "rec1", [view(channel=Channel.AN27_QUICK)]) is Reason.QUICK_BOOKING


def test_S7_quick_booking_with_flag_off_is_still_reported_as_quick_booking() -> None:
    bookings = [view(channel="an27_quick", flag=False)]
    assert booking_blocker(make_clinic(), "rec1", bookings) is Reason.QUICK_BOOKING


def test_S8_1177_booking_gets_reminder_by_same_rules() -> None:
    assert booking_blocker(make_clinic(), "rec1", [view(channel=Channel.SELF_1177)]) is None
    c = make_clinic(receptions=[reception(enabled=False)])
    assert booking_blocker(c, "rec1", [view(channel="1177")]) is Reason.RECEPTION_NOT_ENABLED


def test_S10_flag_turned_off_for_one_visit() -> None:
    assert booking_blocker(make_clinic(), "rec1", [view(flag=False)]) is Reason.SMS_FLAG_OFF


def test_S10_no_active_booking_is_flag_off() -> None:
    assert booking_blocker(make_clinic(), "rec1", []) is Reason.SMS_FLAG_OFF


def test_S11_team_visit_one_flag_on_sends() -> None:
    bookings = [view("hosp1", flag=False), view("hosp2", flag=True), view("hosp3", flag=False)]
    assert booking_blocker(make_clinic(), "rec1", bookings) is None


def test_S11_team_visit_all_flags_off_sends_nothing() -> None:
    bookings = [view("hosp1", flag=False), view("hosp2", flag=False)]
    assert booking_blocker(make_clinic(), "rec1", bookings) is Reason.SMS_FLAG_OFF


def test_S11_team_visit_cancelled_booking_with_flag_on_does_not_count() -> None:
    bookings = [view("hosp1", flag=True, cancelled=True), view("hosp2", flag=False)]
    assert booking_blocker(make_clinic(), "rec1", bookings) is Reason.SMS_FLAG_OFF


def test_S11_team_visit_quick_booking_with_flag_on_does_not_count() -> None:
    bookings = [view("hosp1", channel="an27_quick"), view("hosp2", flag=False)]
    assert booking_blocker(make_clinic(), "rec1", bookings) is Reason.SMS_FLAG_OFF
    bookings = [view("hosp1", channel="an27_quick"), view("hosp2", flag=True)]
    assert booking_blocker(make_clinic(), "rec1", bookings) is None


def _group_view(sms_flag: bool) -> BookingView:
    group = GroupBooking(
        group_booking_id="g1",
        clinic_id=CLINIC_ID,
        reception_id="rec1",
        start=VISIT,
        sms_flag=sms_flag,
        participants=[GroupParticipant(booking_id="gp1", patient_id=ADULT_ID)],
    )
    booking: VisitBooking = group.participant_booking(group.participants[0])
    return view(booking.booking_id, channel=booking.channel, flag=booking.sms_flag)


def test_S13_group_flag_off() -> None:
    assert booking_blocker(make_clinic(), "rec1", [_group_view(sms_flag=False)]) is Reason.SMS_FLAG_OFF


def test_S13_group_flag_on_sends() -> None:
    assert booking_blocker(make_clinic(), "rec1", [_group_view(sms_flag=True)]) is None


def test_S13_group_participants_need_their_own_consent_and_number() -> None:
    with_all = patient(personnummer(date(1970, 1, 1)))
    no_consent = patient(personnummer(date(1971, 1, 1)), mobile="+46704444444", consents=[])
    no_mobile = patient(personnummer(date(1972, 1, 1)), mobile=None)
    assert decide(with_all).recipients == [Recipient(role=P, mobile=PATIENT_MOBILE)]
    assert decide(no_consent).skipped == [Skip(role=P, reason=Reason.NO_CONSENT)]
    assert decide(no_mobile).skipped == [Skip(role=P, reason=Reason.NO_MOBILE)]


# --- adults: S3 ----------------------------------------------------------------------------------


def test_S3_adult_gets_reminder_on_own_mobile() -> None:
    decision = decide(patient())
    assert decision == RecipientDecision(recipients=[Recipient(role=P, mobile=PATIENT_MOBILE)], skipped=[])


def test_S3_adult_without_mobile_is_skipped() -> None:
    decision = decide(patient(mobile=None))
    assert decision.recipients == []
    assert decision.skipped == [Skip(role=P, reason=Reason.NO_MOBILE)]


def test_S3_adult_guardians_get_nothing() -> None:
    decision = decide(patient(guardians=(G1_MOBILE, G2_MOBILE)))
    assert roles(decision) == [P]


def test_S3_unknown_patient_is_skipped() -> None:
    assert decide(None).skipped == [Skip(role=P, reason=Reason.UNKNOWN_PATIENT)]


def test_S3_samordningsnummer_adult_is_reminded() -> None:
    decision = decide(patient(samordningsnummer(date(1985, 5, 5))))
    assert roles(decision) == [P]


# --- minors: S2, S4 ------------------------------------------------------------------------------


def test_S4_minor_guardian_1_only() -> None:
    decision = decide(patient(CHILD_ID, mobile=None, guardians=(G1_MOBILE, None)))
    assert decision.recipients == [Recipient(role=G1, mobile=G1_MOBILE)]
    assert decision.skipped == []


def test_S4_minor_guardian_2_only() -> None:
    decision = decide(patient(CHILD_ID, mobile=None, guardians=(None, G2_MOBILE)))
    assert decision.recipients == [Recipient(role=G2, mobile=G2_MOBILE)]


def test_S4_minor_both_guardians() -> None:
    decision = decide(patient(CHILD_ID, mobile=None, guardians=(G1_MOBILE, G2_MOBILE)))
    assert decision.recipients == [Recipient(role=G1, mobile=G1_MOBILE), Recipient(role=G2, mobile=G2_MOBILE)]
    assert decision.skipped == []


def test_S4_minor_with_own_mobile_also_gets_one() -> None:
    decision = decide(patient(CHILD_ID, mobile=PATIENT_MOBILE, guardians=(G1_MOBILE, G2_MOBILE)))
    assert decision.recipients == [
        Recipient(role=P, mobile=PATIENT_MOBILE),
        Recipient(role=G1, mobile=G1_MOBILE),
        Recipient(role=G2, mobile=G2_MOBILE),
    ]


def test_S4_minor_needs_no_own_mobile() -> None:
    decision = decide(patient(CHILD_ID, mobile=None, guardians=(G1_MOBILE, None)))
    assert Skip(role=P, reason=Reason.NO_MOBILE) not in decision.skipped
    assert roles(decision) == [G1]


def test_S4_minor_without_guardian_mobile_is_recorded() -> None:
    decision = decide(patient(CHILD_ID, mobile=None, guardians=(None, None)))
    assert decision.recipients == []
    assert decision.skipped == [Skip(role=G1, reason=Reason.NO_GUARDIAN_MOBILE)]


def test_S4_minor_without_guardians_but_own_mobile_gets_it_and_gap_is_recorded() -> None:
    decision = decide(patient(CHILD_ID, mobile=PATIENT_MOBILE))
    assert decision.recipients == [Recipient(role=P, mobile=PATIENT_MOBILE)]
    assert decision.skipped == [Skip(role=G1, reason=Reason.NO_GUARDIAN_MOBILE)]


def test_S4_minor_own_mobile_is_not_used_as_adult_would() -> None:
    # A minor with own mobile and guardians: the guardians are not replaced by the minor's number.
    decision = decide(patient(CHILD_ID, mobile=PATIENT_MOBILE, guardians=(G1_MOBILE, None)))
    assert G1 in roles(decision)


def test_S2_default_age_limit_is_18() -> None:
    assert Reception(reception_id="r", name="R").minor_age_limit == 18
    seventeen = patient(personnummer(date(2010, 1, 1)), guardians=(G1_MOBILE, None))
    assert roles(decide(seventeen, Reception(reception_id="r", name="R"))) == [P, G1]


def test_S2_age_limit_set_per_reception() -> None:
    sixteen = patient(personnummer(date(2011, 1, 1)), guardians=(G1_MOBILE, G2_MOBILE))
    youth = reception(limit=16, rid="ungdom")
    child = reception(limit=18, rid="barn")
    assert roles(decide(sixteen, youth)) == [P]  # adult at the youth reception
    assert roles(decide(sixteen, child)) == [P, G1, G2]  # minor at the other one


def test_S2_age_counted_on_visit_local_date_birthday_on_visit_day_is_adult() -> None:
    eighteen_today = patient(personnummer(date(2009, 6, 15)), guardians=(G1_MOBILE, None))
    assert roles(decide(eighteen_today, visit=datetime(2027, 6, 15, 10, 0, tzinfo=CEST))) == [P]
    assert roles(decide(eighteen_today, visit=datetime(2027, 6, 14, 10, 0, tzinfo=CEST))) == [P, G1]


def test_S2_age_counted_on_visit_local_date_not_utc_date() -> None:
    eighteen_today = patient(personnummer(date(2009, 6, 15)), mobile=None, guardians=(G1_MOBILE, None))
    visit = datetime(2027, 6, 14, 22, 30, tzinfo=UTC)  # 00:30 on 15 June in Stockholm
    decision = decide(eighteen_today, visit=visit)
    assert decision.recipients == []  # an adult: no guardian SMS even though the UTC date is the 14th
    assert decision.skipped == [Skip(role=P, reason=Reason.NO_MOBILE)]


# --- reservnummer: S5 ----------------------------------------------------------------------------


def test_S5_minor_with_reservnummer_gets_nothing() -> None:
    minor_reserv = patient("20150310-A123", mobile=PATIENT_MOBILE, guardians=(G1_MOBILE, G2_MOBILE))
    decision = decide(minor_reserv)
    assert decision.recipients == []
    assert decision.skipped == [Skip(role=P, reason=Reason.MINOR_RESERVNUMMER)]


def test_S5_adult_with_reservnummer_is_reminded() -> None:
    decision = decide(patient("19550101-A749"))
    assert decision.recipients == [Recipient(role=P, mobile=PATIENT_MOBILE)]


def test_S5_reservnummer_minor_status_follows_reception_age_limit() -> None:
    sixteen_reserv = patient("20110101-B001", guardians=(G1_MOBILE, None))
    assert roles(decide(sixteen_reserv, reception(limit=16))) == [P]
    assert decide(sixteen_reserv, reception(limit=18)).skipped == [
        Skip(role=P, reason=Reason.MINOR_RESERVNUMMER)
    ]


# --- consent: S9 ---------------------------------------------------------------------------------


def test_S9_consent_from_vas_is_per_clinic() -> None:
    p = patient(consents=[consent_vas("kl1")])
    assert roles(reminder_recipients(p, "kl1", reception(), VISIT, SEND_AT)) == [P]
    other = reminder_recipients(p, "kl2", reception(), VISIT, SEND_AT)
    assert other.recipients == []
    assert other.skipped == [Skip(role=P, reason=Reason.NO_CONSENT)]


def test_S9_consent_from_1177_covers_every_clinic() -> None:
    p = patient(consents=[consent_1177()])
    for clinic_id in ("kl1", "kl2", "annan-klinik"):
        assert roles(reminder_recipients(p, clinic_id, reception(), VISIT, SEND_AT)) == [P]


def test_S9_no_consent_stops_sms() -> None:
    decision = decide(patient(consents=[]))
    assert decision.recipients == []
    assert decision.skipped == [Skip(role=P, reason=Reason.NO_CONSENT)]


def test_S9_withdrawn_consent_stops_sms() -> None:
    withdrawn = patient(consents=[consent_1177(withdrawn=SEND_AT - timedelta(days=1))])
    assert decide(withdrawn).skipped == [Skip(role=P, reason=Reason.NO_CONSENT)]
    assert decide(withdrawn).recipients == []


def test_S9_consent_checked_at_send_time_not_booking_time() -> None:
    # In force when booked, withdrawn before sending: no SMS.
    p = patient(consents=[consent_1177(given=BOOKED, withdrawn=SEND_AT - timedelta(minutes=1))])
    assert reminder_recipients(p, CLINIC_ID, reception(), VISIT, BOOKED + timedelta(days=1)).recipients
    assert reminder_recipients(p, CLINIC_ID, reception(), VISIT, SEND_AT).recipients == []
    # Given after booking but before sending: SMS.
    late = patient(consents=[consent_1177(given=SEND_AT - timedelta(hours=1))])
    assert roles(reminder_recipients(late, CLINIC_ID, reception(), VISIT, SEND_AT)) == [P]


def test_S9_withdrawn_vas_consent_but_1177_consent_still_covers() -> None:
    withdrawn_vas = SmsConsent(source="VAS", clinic_id=CLINIC_ID, given_at=BOOKED, withdrawn_at=BOOKED)
    assert roles(decide(patient(consents=[withdrawn_vas, consent_1177()]))) == [P]


def test_S9_removed_number_stops_sms() -> None:
    assert decide(patient(mobile=None)).recipients == []


def test_S9_minor_without_consent_guardians_get_nothing_either() -> None:
    decision = decide(patient(CHILD_ID, mobile=None, guardians=(G1_MOBILE, G2_MOBILE), consents=[]))
    assert decision.recipients == []
    assert decision.skipped == [
        Skip(role=P, reason=Reason.NO_CONSENT),
        Skip(role=G1, reason=Reason.NO_CONSENT),
        Skip(role=G2, reason=Reason.NO_CONSENT),
    ]


def test_S9_consent_checked_before_mobile() -> None:
    decision = decide(patient(mobile=None, consents=[]))
    assert decision.skipped == [Skip(role=P, reason=Reason.NO_CONSENT)]


# --- one SMS per number: S15 ---------------------------------------------------------------------


def test_S15_guardians_with_same_number_get_one_sms() -> None:
    decision = decide(patient(CHILD_ID, mobile=None, guardians=(G1_MOBILE, G1_MOBILE)))
    assert decision.recipients == [Recipient(role=G1, mobile=G1_MOBILE)]
    assert decision.skipped == [Skip(role=G2, reason=Reason.DUPLICATE_NUMBER)]


def test_S15_minor_sharing_number_with_guardian_gets_one_sms_as_patient() -> None:
    decision = decide(patient(CHILD_ID, mobile=G1_MOBILE, guardians=(G1_MOBILE, G2_MOBILE)))
    assert decision.recipients == [Recipient(role=P, mobile=G1_MOBILE), Recipient(role=G2, mobile=G2_MOBILE)]
    assert decision.skipped == [Skip(role=G1, reason=Reason.DUPLICATE_NUMBER)]


def test_S15_numbers_written_differently_are_the_same_number() -> None:
    decision = decide(patient(CHILD_ID, mobile=None, guardians=("070-222 22 22", "+46 70 222 22 22")))
    assert roles(decision) == [G1]
    assert decision.skipped == [Skip(role=G2, reason=Reason.DUPLICATE_NUMBER)]


# --- consent withdrawn by an SMS reply, "STOPP" (S9, issue 28) ----------------------------------


def stop_by_sms(clinic_id: str = CLINIC_ID, at: datetime = SEND_AT - timedelta(days=1)) -> SmsConsent:
    return SmsConsent(source="sms", clinic_id=clinic_id, given_at=at, withdrawn_at=at)


def test_S9_sms_stop_stops_a_vas_consent_of_that_clinic() -> None:
    decision = decide(patient(consents=[consent_vas(), stop_by_sms()]))
    assert decision.recipients == [] and decision.skipped == [Skip(role=P, reason=Reason.NO_CONSENT)]


def test_S9_sms_stop_stops_a_1177_consent_for_that_clinic_only() -> None:
    p = patient(consents=[consent_1177(), stop_by_sms()])
    assert reminder_recipients(p, CLINIC_ID, reception(), VISIT, SEND_AT).recipients == []
    assert roles(reminder_recipients(p, "kl2", reception(), VISIT, SEND_AT)) == [P]


def test_S9_sms_stop_counts_from_its_moment_and_a_later_consent_counts_again() -> None:
    stop = stop_by_sms(at=SEND_AT + timedelta(hours=1))
    assert roles(decide(patient(consents=[consent_1177(), stop]))) == [P]  # not yet at the send moment
    again = consent_vas(given=SEND_AT + timedelta(hours=2))
    later = SEND_AT + timedelta(hours=3)
    p = patient(consents=[consent_1177(), stop, again])
    assert roles(reminder_recipients(p, CLINIC_ID, reception(), VISIT, later)) == [P]


def test_S9_sms_stop_of_a_minor_stops_the_guardians_reminders_too() -> None:
    p = patient(
        CHILD_ID, mobile=None, guardians=(G1_MOBILE, G2_MOBILE), consents=[consent_1177(), stop_by_sms()]
    )
    assert decide(p).recipients == []


def test_S9_sms_consent_needs_the_clinic_answered() -> None:
    with pytest.raises(ValidationError, match="clinic_id"):
        SmsConsent(source="sms", given_at=BOOKED, withdrawn_at=BOOKED)
