"""The clinics' slots on both backends (issue 27, V8 the offer): written by the booking system, read per
clinic, reception and visit type, and taken by exactly one of concurrent bookings."""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta

from adapters.slots import Take
from domain.invitation_offer import Slot
from tests.adapters.conftest import Backend

NINE = datetime(2027, 3, 29, 9, 0, tzinfo=UTC)


def slot(slot_id: str, start: datetime = NINE, **fields: object) -> Slot:
    values: dict[str, object] = {
        "slot_id": slot_id,
        "clinic_id": "kir",
        "reception_id": "mott1",
        "visit_type": "Nybesök",
        "start": start,
        "end": start + timedelta(minutes=30),
    }
    return Slot.model_validate(values | fields)


def test_V8_offer_slots_are_read_per_clinic_reception_and_visit_type_earliest_first(backend: Backend) -> None:
    slots = backend.stores().slots
    assert slots.put(slot("late", NINE + timedelta(hours=2)))
    assert slots.put(slot("early", NINE))
    slots.put(slot("other-clinic", NINE, clinic_id="ortho"))
    slots.put(slot("other-reception", NINE, reception_id="mott2"))
    slots.put(slot("other-type", NINE, visit_type="Återbesök"))
    slots.put(slot("busy", NINE, free=False))
    slots.put(slot("outside", NINE + timedelta(days=3)))
    replica = backend.stores().slots  # another process (or host) sees the same slots
    found = replica.candidates("kir", "mott1", "Nybesök", NINE, NINE + timedelta(days=1))
    assert [s.slot_id for s in found] == ["early", "late"]
    assert found[0] == slot("early")  # the instants survive the round trip
    assert replica.get("ortho", "early") is None and replica.get("kir", "early") == slot("early")


def test_V8_offer_a_put_again_replaces_the_slot_and_the_booking_systems_free_frees_it(
    backend: Backend,
) -> None:
    slots = backend.stores().slots
    assert slots.put(slot("s1"))
    assert not slots.put(slot("s1"))  # the same again: harmless, not new
    assert not slots.put(slot("s1", NINE + timedelta(hours=1)))
    assert slots.get("kir", "s1") == slot("s1", NINE + timedelta(hours=1))
    assert slots.take("kir", "s1", "b1") is Take.TAKEN
    assert not slots.get("kir", "s1").free  # type: ignore[union-attr]
    slots.put(slot("s1", NINE + timedelta(hours=1)))  # e.g. the booking was cancelled in the booking system
    assert slots.take("kir", "s1", "b2") is Take.TAKEN


def test_V8_offer_a_taken_slot_is_no_longer_offered_and_a_repeat_take_is_harmless(backend: Backend) -> None:
    slots = backend.stores().slots
    slots.put(slot("s1"))
    assert slots.take("kir", "s1", "b1") is Take.TAKEN
    assert slots.take("kir", "s1", "b1") is Take.ALREADY_YOURS
    assert slots.take("kir", "s1", "b2") is Take.BUSY
    assert slots.take("ortho", "s1", "b3") is Take.UNKNOWN  # another clinic's id is unknown
    assert slots.take("kir", "nope", "b3") is Take.UNKNOWN
    assert slots.candidates("kir", "mott1", "Nybesök", NINE, NINE + timedelta(days=1)) == []
    slots.put(slot("s2", free=False))
    assert slots.take("kir", "s2", "b1") is Take.BUSY  # busy in the booking system


TAKE_ONE = """
import os
taker = f"b{os.getpid()}"  # each process books for a booking of its own
ready()
done([taker, stores.slots.take("kir", sys.argv[1], taker)])
"""


def test_V8_offer_of_concurrent_takes_of_one_slot_exactly_one_wins(backend: Backend) -> None:
    slots = backend.stores().slots
    slots.put(slot("s1"))
    results = backend.run_together(TAKE_ONE, 6, "s1")  # six processes, released at one moment
    winners = [taker for taker, outcome in results if outcome == Take.TAKEN]
    assert len(winners) == 1
    assert sorted(outcome for _, outcome in results) == ["busy"] * 5 + ["taken"]
    assert slots.take("kir", "s1", winners[0]) is Take.ALREADY_YOURS


def test_V8_offer_of_concurrent_takes_in_threads_of_one_process_exactly_one_wins(backend: Backend) -> None:
    slots = backend.stores().slots
    slots.put(slot("s1"))
    start = threading.Barrier(8)

    def take(n: int) -> Take:
        start.wait()
        return slots.take("kir", "s1", f"b{n}")

    with ThreadPoolExecutor(8) as pool:
        outcomes = list(pool.map(take, range(8)))
    assert sorted(outcomes) == [Take.BUSY] * 7 + [Take.TAKEN]


def test_V8_offer_a_release_frees_the_slot_only_for_the_taker_that_holds_it(backend: Backend) -> None:
    slots = backend.stores().slots
    slots.put(slot("s1"))
    assert slots.take("kir", "s1", "r1/b1") is Take.TAKEN
    assert not slots.release("kir", "s1", "r2/b2")  # another taker cannot free it
    assert not slots.release("ortho", "s1", "r1/b1")  # nor the same id at another clinic
    assert not slots.get("kir", "s1").free  # type: ignore[union-attr]
    assert slots.release("kir", "s1", "r1/b1")
    replica = backend.stores().slots
    assert [
        s.slot_id for s in replica.candidates("kir", "mott1", "Nybesök", NINE, NINE + timedelta(days=1))
    ] == ["s1"]
    assert not slots.release("kir", "s1", "r1/b1")  # freed already: harmless
    assert slots.take("kir", "s1", "r2/b2") is Take.TAKEN
    slots.put(slot("s2", free=False))  # busy in the booking system: no taker holds it
    assert not slots.release("kir", "s2", "r1/b1") and not slots.get("kir", "s2").free  # type: ignore[union-attr]
