"""Demo: load the demo directory and book a handful of visits so the Web UI shows workflows at once.

Run by `python3 dev.py run --demo` (or `python starter.py demo` against a running server). Booking ids
are fixed, so running it twice books nothing new.
"""

from __future__ import annotations

from datetime import UTC, datetime, time, timedelta
from typing import Any

from temporalio.client import Client

import demo_data as fx
import operations as ops
from config import Settings
from domain.booking import Channel, GroupBooking, GroupParticipant, VisitBooking
from domain.timing import at_local, local_date
from services.directory import SqliteDirectory


def _local(days: int, hour: int, minute: int = 0) -> datetime:
    return at_local(local_date(datetime.now(UTC)) + timedelta(days=days), time(hour, minute))


def demo_visits() -> list[VisitBooking]:
    """Visits in different situations: scheduled, sent at once, skipped, team visit (S11), series (S12)."""
    general = {"clinic_id": fx.CLINIC_CONNECTED, "reception_id": fx.RECEPTION_GENERAL}
    soon = datetime.now(UTC).replace(microsecond=0) + timedelta(hours=3)
    return [
        VisitBooking(booking_id="demo-adult", patient_id=fx.PNR_ADULT_1177, start=_local(2, 10), **general),
        VisitBooking(booking_id="demo-soon", patient_id=fx.PNR_ADULT_VAS, start=soon, **general),
        VisitBooking(booking_id="demo-child", patient_id=fx.PNR_CHILD, start=_local(1, 14, 30), **general),
        VisitBooking(
            booking_id="demo-hidden",
            patient_id=fx.PNR_ADULT_1177,
            clinic_id=fx.CLINIC_CONNECTED,
            reception_id=fx.RECEPTION_HIDDEN,
            start=_local(3, 8, 15),
            channel=Channel.SELF_1177,
        ),
        VisitBooking(
            booking_id="demo-quick",
            patient_id=fx.PNR_ADULT_VAS,
            start=_local(1, 11),
            channel="an27_quick",
            **general,
        ),
        VisitBooking(
            booking_id="demo-onh",
            patient_id=fx.PNR_ADULT_1177,
            clinic_id=fx.CLINIC_NOT_CONNECTED,
            reception_id=fx.RECEPTION_NOT_CONNECTED,
            start=_local(4, 9),
        ),
        *[
            VisitBooking(
                booking_id=f"demo-team-hosp-{n}",
                patient_id=fx.PNR_CHILD,
                start=_local(5, 13),
                team_visit_id="demo-team",
                sms_flag=n == 1,
                **general,
            )
            for n in (1, 2, 3)
        ],
        *[
            VisitBooking(
                booking_id=f"demo-series-{n}",
                patient_id=fx.PNR_ADULT_VAS,
                start=_local(2 + 7 * n, 9, 30),
                series_id="demo-series",
                **general,
            )
            for n in (0, 1, 2)
        ],
    ]


def demo_group() -> GroupBooking:
    return GroupBooking(
        group_booking_id="demo-group",
        clinic_id=fx.CLINIC_CONNECTED,
        reception_id=fx.RECEPTION_GENERAL,
        start=_local(3, 15),
        participants=[
            GroupParticipant(booking_id=f"demo-group-{n}", patient_id=pid)
            for n, pid in enumerate([fx.PNR_ADULT_1177, fx.PNR_ADULT_VAS, fx.PNR_ADULT_WITHDRAWN])
        ],
    )


async def load_and_book(client: Client, settings: Settings, directory: SqliteDirectory) -> dict[str, Any]:
    summary = directory.load_document(fx.demo_document())
    started = [await ops.book_visit(client, settings.task_queue, directory, v) for v in demo_visits()]
    started.append(await ops.book_group(client, settings.task_queue, directory, demo_group()))
    return {"directory": summary.model_dump(), "workflows": sorted(set(started))}
