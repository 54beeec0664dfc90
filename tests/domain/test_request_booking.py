"""The booking door's body (issue 27, V8 the offer): a time by `start` or by an offered `slot_id`; both
given must name the same instant; neither is refused."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest
from pydantic import ValidationError

from domain.invitation import BookedBy, InvitationBooking
from domain.invitation_offer import SLOT_AND_START_DIFFER, RequestBooking

TEN = datetime(2027, 3, 29, 8, 0, tzinfo=UTC)


def test_V8_offer_a_booking_names_its_time_by_start_or_slot_and_both_must_agree() -> None:
    by_slot = RequestBooking(booking_id="b1", slot_id="s1", by=BookedBy.PATIENT)
    assert by_slot.at(TEN) == InvitationBooking(booking_id="b1", start=TEN, by=BookedBy.PATIENT)
    same = TEN.astimezone(timezone(timedelta(hours=2)))  # the same instant in Stockholm's summer offset
    both = RequestBooking(booking_id="b1", slot_id="s1", start=same, by=BookedBy.STAFF)
    assert both.at(TEN).start == TEN
    with pytest.raises(ValueError, match=SLOT_AND_START_DIFFER):
        both.at(TEN + timedelta(minutes=15))
    with pytest.raises(ValidationError, match="a booking needs start or slot_id"):
        RequestBooking(booking_id="b1", by=BookedBy.STAFF)
    with pytest.raises(ValidationError):
        RequestBooking(booking_id="b1", slot_id="19800101-1231", by=BookedBy.STAFF)  # no patient id
