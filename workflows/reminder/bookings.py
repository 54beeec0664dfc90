"""The bookings one reminder answers for: one visit's booking, or a team visit's (S11). Plain state,
no Temporal: the reminder's handlers change it, its `status` shows it."""

from __future__ import annotations

from domain.booking import Channel, VisitBooking
from domain.status import BookingView


class Bookings:
    """Each booking as booked (S11: the same booking joins once), its view (channel, SMS flag,
    cancelled) and whether a `join_booking` has answered for it."""

    def __init__(self, first: VisitBooking) -> None:
        self._views: dict[str, BookingView] = {}
        self._booked: dict[str, VisitBooking] = {}
        self._confirmed: set[str] = set()
        self.add(first)

    def add(self, booking: VisitBooking) -> None:
        self._booked.setdefault(booking.booking_id, booking)
        if booking.booking_id not in self._views:
            self._views[booking.booking_id] = BookingView(
                booking_id=booking.booking_id, channel=booking.channel.value, sms_flag=booking.sms_flag
            )

    def confirm(self, booking_id: str) -> bool:
        """Mark the booking as answered for; True the first time."""
        first = booking_id not in self._confirmed
        self._confirmed.add(booking_id)
        return first

    def as_booked(self, booking_id: str) -> VisitBooking | None:
        return self._booked.get(booking_id)

    def __contains__(self, booking_id: str) -> bool:
        return booking_id in self._views

    def views(self) -> list[BookingView]:
        return list(self._views.values())

    @property
    def cancelled(self) -> bool:
        """All cancelled: a team visit ends when all its bookings are (S15)."""
        return all(b.cancelled for b in self._views.values())

    def targets(self, booking_id: str | None) -> list[BookingView]:
        """The one booking named, or all of them; a booking not part of this reminder is refused."""
        if booking_id is None:
            return self.views()
        if booking_id not in self._views:
            raise ValueError(f"booking {booking_id} is not part of this reminder")
        return [self._views[booking_id]]

    def set_flag(self, booking_id: str | None, sms_flag: bool) -> None:
        """S10: the SMS flag of one booking or all; S8: a 1177 booking's flag is not turned off."""
        for booking in self.targets(booking_id):
            if booking.channel != Channel.SELF_1177 or sms_flag:
                booking.sms_flag = sms_flag
