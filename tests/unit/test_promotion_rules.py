"""The promotion rule (domain/promotion_rules.py): strict FIFO over an event's waiting legs, in booking
order; the head of the queue that fits in the free places moves up, nobody passes a waiting leg."""
from __future__ import annotations

from datetime import datetime, timezone

import pytest
from hypothesis import given
from hypothesis import strategies as st

from chalicelib.domain.booking_rules import Leg
from chalicelib.domain.event_rules import EventRecord
from chalicelib.domain.promotion_rules import (
    NEW,
    Change,
    Waiting,
    after_change,
    changing,
    frees_places,
    promoted,
    queue_of,
)
from chalicelib.domain.specs import EventSpec

START = datetime(2030, 3, 8, 9, tzinfo=timezone.utc)


def leg(booking_id: int, count: int, waiting: bool, event: str = 'cours', cancelled: bool = False) -> Leg:
    return Leg(booking_id=booking_id, leg=0, legs=1, agenda='piscine', event=event, count=count,
               in_waiting_list=waiting, start=START, end=None, created_at=START,
               cancelled_at=START if cancelled else None)


def event(places: int, reserved: int, waiting: int) -> EventRecord:
    return EventRecord('piscine', EventSpec('cours', START, places, waiting_list_places=10), reserved, waiting)


def keys(taken: list[Waiting]) -> list[int]:
    return [w.key[0] for w in taken]


@pytest.mark.parametrize('free, counts, expected', [
    (2, [1, 2, 3], [0]),        # 1 fits, 2 no longer fits in what is left: stop
    (3, [1, 2, 3], [0, 1]),
    (2, [3, 1, 1], []),         # a group at the head: nobody passes it
    (6, [3, 1, 1], [0, 1, 2]),
    (0, [1], []),
    (-2, [1], []),              # overbooked (accept): nothing fits
    (5, [], []),
])
def test_the_head_of_the_queue_that_fits_moves_up_and_nobody_passes(free, counts, expected):
    queue = [Waiting((n, 0), count) for n, count in enumerate(counts)]
    assert (keys(promoted(free, list(reversed(queue)))[0]), promoted(free, queue)[1]) == (expected, False)


def test_a_cap_stops_the_promotion_and_says_more_would_fit():
    queue = [Waiting((n, 0), 1) for n in range(5)]
    assert (keys(promoted(5, queue, cap=2)[0]), promoted(5, queue, cap=2)[1]) == ([0, 1], True)
    assert promoted(2, queue, cap=2)[1] is False  # the third would not fit anyway
    assert (keys(promoted(5, queue, cap=0)[0]), promoted(5, queue, cap=0)[1]) == ([], True)


def test_the_state_a_write_leaves():
    live = [leg(1, 2, True), leg(2, 1, True), leg(3, 3, True, cancelled=True), leg(4, 2, True, event='autre')]
    record = event(places=4, reserved=4, waiting=3)
    cancel_main = changing([(leg(9, 2, False), 0)], 'cours')
    assert cancel_main == Change({(9, 0): 0}, freed_main=2)
    free, queue = after_change(record, live, cancel_main)
    assert (free, [(w.key, w.count) for w in queue]) == (2, [((1, 0), 2), ((2, 0), 1)])
    # A waiting leg resized to 1 keeps its place in the queue; a new waiting booking goes last.
    change = changing([(live[0], 1)], 'cours', added_waiting=[2])
    assert change == Change({(1, 0): 1}, freed_main=0, added_waiting=(2,))
    free, queue = after_change(record, live, change)
    assert (free, [(w.key, w.count) for w in queue]) == (0, [((1, 0), 1), ((2, 0), 1), ((NEW, 0), 2)])
    assert queue_of(live) == [Waiting((1, 0), 2), Waiting((2, 0), 1), Waiting((4, 0), 2)]


def test_what_frees_places():
    assert frees_places(leg(1, 2, False), 0) and frees_places(leg(1, 2, True), 1)
    assert not frees_places(leg(1, 2, False), 3) and not frees_places(leg(1, 2, False, cancelled=True), 0)


@given(st.integers(min_value=-3, max_value=12), st.lists(st.integers(min_value=1, max_value=4), max_size=8))
def test_never_overbooks_never_passes_and_leaves_no_head_that_fits(free, counts):
    queue = [Waiting((n, 0), count) for n, count in enumerate(counts)]
    taken, capped = promoted(free, queue)
    assert not capped
    assert keys(taken) == list(range(len(taken)))  # a head: nobody passed
    left = free - sum(w.count for w in taken)
    assert left >= 0 or not taken  # never beyond the free places
    rest = queue[len(taken):]
    assert not rest or rest[0].count > left  # the invariant: the head of what waits does not fit
