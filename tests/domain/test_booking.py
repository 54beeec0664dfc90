"""Booking changes: the check the reschedule validators share (S15)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from domain.booking import check_new_start

NOW = datetime(2027, 3, 1, 9, 0, tzinfo=UTC)


def test_S15_a_visit_can_be_moved_to_a_moment_ahead() -> None:
    check_new_start(NOW + timedelta(minutes=1), NOW)


@pytest.mark.parametrize("start", [NOW, NOW - timedelta(days=1)])
def test_S15_a_visit_cannot_be_moved_to_a_moment_that_has_passed(start: datetime) -> None:
    with pytest.raises(ValueError, match="the new start time has already passed"):
        check_new_start(start, NOW)
