"""Holds (`lock_code`, spec chrono-api.md §9.9): a slot shown is a slot kept. No I/O here.

A fillslot with `lock_code` and without `confirm_after_lock` holds what a booking would take (an event's
places, a desk's time) until now + CHRONO_HOLD_SECONDS, by the very conditions of a booking; the same
`lock_code` with `confirm_after_lock=true` turns it into the booking. One hold per lock code: a new one
replaces the old. The hold is its lock code's only: its holder sees it free, everyone else taken, until
`until`; from then on it is free for every reader and writer, whatever is still stored (a writer that
needs its places or cells releases it in the transaction that takes them, on a condition that it is still
as read). A lock code is stored only as a digest.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

from chalicelib.parsing import MAX_STRING

if TYPE_CHECKING:
    from chalicelib.domain.event_rules import EventRecord
    from chalicelib.domain.meeting_slots import MeetingLeg

DEFAULT_HOLD_SECONDS = 600
MAX_LOCK_CODE = MAX_STRING  # only its digest is kept
# Holds a write releases at most on one event (each a REMOVE and a condition in its update expression);
# the next write releases the next ones.
MAX_RELEASED = 20


def hold_key(lock_code: str) -> str:
    """The lock code as stored (w.c.s. sends a session hash: it stays out of the table and the logs)."""
    return hashlib.sha256(lock_code.encode('utf-8')).hexdigest()[:32]


def hold_until(now: datetime, seconds: int) -> datetime:
    """Whole seconds: the events' entries keep `until` as epoch seconds, compared for equality."""
    return (now + timedelta(seconds=seconds)).replace(microsecond=0)


@dataclass(frozen=True)
class HeldPlaces:
    """Places of an event held by a lock code (an entry of the event's `holds`)."""

    key: str
    count: int
    in_waiting_list: bool
    until: datetime

    def expired(self, now: datetime) -> bool:
        return self.until <= now


@dataclass(frozen=True)
class HeldEvent:
    """What a hold holds on one event, as its lock code's record says."""

    agenda: str
    event: str
    count: int
    in_waiting_list: bool


@dataclass(frozen=True)
class HoldRecord:
    """A lock code's hold as stored: until when, its version (every change of the hold is conditioned
    on it), and what it holds: events' places or meeting legs (their desk and resource cells), and the
    sort keys of the items that list its meeting times."""

    key: str
    until: datetime
    version: int
    events: tuple[HeldEvent, ...] = ()
    meetings: tuple[MeetingLeg, ...] = ()
    spans: tuple[str, ...] = ()

    def live(self, now: datetime) -> bool:
        """Its holder may still release what it holds; once expired, others may have taken it."""
        return now < self.until


def releasable(record: EventRecord, now: datetime, own: str | None = None, limit: int | None = None):
    """The holds on an event that a reader counts as free, or a write gives back: the expired ones and the
    caller's own (its lock code: a confirmation, or a new hold replacing it), own first then oldest."""
    found = sorted(
        (h for h in record.holds if h.expired(now) or (own is not None and h.key == own)),
        key=lambda h: (h.key != own, h.until),
    )
    return tuple(found if limit is None else found[:limit])


def without(record: EventRecord, released: tuple[HeldPlaces, ...]) -> EventRecord:
    """The event as if `released` were given back: what a decision (and a listing) counts."""
    if not released:
        return record
    main = sum(h.count for h in released if not h.in_waiting_list)
    waiting = sum(h.count for h in released if h.in_waiting_list)
    gone = {h.key for h in released}
    return replace(
        record,
        reserved=record.reserved - main,
        waiting_list_reserved=record.waiting_list_reserved - waiting,
        holds=tuple(h for h in record.holds if h.key not in gone),
    )


def as_seen(record: EventRecord, now: datetime, own: str | None = None) -> EventRecord:
    """An event as a reader shows it at `now` to the holder of `own` (None: anyone): expired holds free,
    the holder's own free for it."""
    return without(record, releasable(record, now, own))


def held_places_total(record: EventRecord) -> tuple[int, int]:
    """(main, waiting) places the event's holds keep in its counters, live or expired."""
    return (
        sum(h.count for h in record.holds if not h.in_waiting_list),
        sum(h.count for h in record.holds if h.in_waiting_list),
    )
