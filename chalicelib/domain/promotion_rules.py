"""Automatic waiting-list promotion (issue 19): on an events agenda whose `waiting_list_promotion` is
"automatic", the write that frees main-list places moves the oldest waiting bookings that fit to the
main list, in the same transaction.

The rule, strict FIFO: the waiting legs of an event are a queue in booking order (booking id, then leg:
ids grow with time); a write promotes the longest head of the queue whose places fit in the main list's
free places once the write lands, and stops at the first leg that does not fit, so that nobody ever
passes a leg that waits before it. A group (`count` > 1) at the head therefore waits until its places
are free, and no later booking takes them meanwhile (a new booking goes to the waiting list while anyone
waits, spec §9.2): it is never starved. The main list is never overbooked: what is promoted fits in the
free places. After every write on such an event, either nobody waits or the head does not fit.
No I/O here: the use cases read the event's legs and the store writes the decision under a condition
that the event is exactly as read (services/promotion.py).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

from chalicelib.domain.booking_rules import Leg
from chalicelib.domain.event_rules import EventRecord
from chalicelib.domain.holds import HeldPlaces

MANUAL, AUTOMATIC = 'manual', 'automatic'
MODES = (MANUAL, AUTOMATIC)
NEW = 2**63  # the key of a leg written by the same transaction: the newest of all, last in the queue


@dataclass(frozen=True)
class Waiting:
    """A place in an event's queue: `key` orders it (booking id, leg), `count` its places."""

    key: tuple[int, int]
    count: int


def queue_of(legs: Iterable[Leg]) -> list[Waiting]:
    """The live waiting legs, oldest first."""
    return sorted(
        (Waiting((leg.booking_id, leg.leg), leg.count) for leg in legs if leg.in_waiting_list and not leg.cancelled),
        key=lambda w: w.key,
    )


def promoted(free: int, queue: Iterable[Waiting], cap: int | None = None) -> tuple[list[Waiting], bool]:
    """The head of the queue that fits in `free` places (strict FIFO), at most `cap` legs. The second
    value says the cap stopped it while the next leg would have fit (promote again after the write)."""
    taken: list[Waiting] = []
    for waiting in sorted(queue, key=lambda w: w.key):
        if waiting.count > free:
            break
        if cap is not None and len(taken) >= cap:
            return taken, True
        taken.append(waiting)
        free -= waiting.count
    return taken, False


@dataclass(frozen=True)
class Change:
    """What a write does on an event, seen by the promotion: legs given a new count (0: cancelled), the
    main-list places it gives back, and the booking it adds there (its places in the main list, or at
    the queue's end)."""

    counts: Mapping[tuple[int, int], int]
    freed_main: int = 0
    added_main: int = 0
    added_waiting: tuple[int, ...] = ()  # counts of new waiting legs, in the order they are written


def changing(legs: Iterable[tuple[Leg, int]], slug: str, added_main: int = 0, added_waiting=()) -> Change:
    """The Change of an event from the legs a write changes (each as read, with its new count)."""
    mine = [(leg, count) for leg, count in legs if leg.event == slug]
    return Change(
        {(leg.booking_id, leg.leg): count for leg, count in mine},
        sum(leg.count - count for leg, count in mine if not leg.in_waiting_list),
        added_main,
        tuple(added_waiting),
    )


def after_change(event: EventRecord, waiting: Sequence[Leg], change: Change) -> tuple[int, list[Waiting]]:
    """The main list's free places and the queue once the write lands: the event's counters and its live
    waiting legs read at one instant, with `change`."""
    reserved = event.reserved - change.freed_main + change.added_main
    queue = []
    for leg in waiting:
        if leg.cancelled or not leg.in_waiting_list or leg.event != event.slug:
            continue
        count = change.counts.get((leg.booking_id, leg.leg), leg.count)
        if count > 0:
            queue.append(Waiting((leg.booking_id, leg.leg), count))
    queue += [Waiting((NEW, index), count) for index, count in enumerate(change.added_waiting)]
    return event.spec.places - reserved, sorted(queue, key=lambda w: w.key)


def frees_places(leg: Leg, new_count: int) -> bool:
    """A change of a live event leg that can let the head of its queue in: a cancel or a shrink, in
    either list (a waiting head that shrinks or goes may uncover one that fits)."""
    return leg.event is not None and not leg.cancelled and new_count < leg.count


@dataclass(frozen=True)
class Promotion:
    """A decision to write: the waiting `legs` of `event` (as read) move to the main list, each told by
    `notices` ((booking id, leg) -> message kinds); valid while the event is exactly as read (its
    counters_version, places, start: the store's condition). `new_legs` are the indices of legs written
    by the same transaction that go straight to the main list. An empty promotion still carries the
    condition: deciding that nobody fits is a decision too."""

    event: EventRecord
    legs: tuple[Leg, ...] = ()
    notices: Mapping[tuple[int, int], tuple[str, ...]] | None = None
    new_legs: tuple[int, ...] = ()
    capped: bool = False  # more would fit: promote again once this is written
    # Expired holds on the event, counted free by the decision: the write gives them back (domain/holds.py).
    released: tuple[HeldPlaces, ...] = ()
