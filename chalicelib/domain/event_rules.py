"""Events: bookability and how an event is shown (spec chrono-api.md §5.2, §7.1, §7.4)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from chalicelib.domain.holds import HeldPlaces
from chalicelib.domain.places import Places
from chalicelib.domain.specs import AgendaSpec, EventSpec, local_text
from chalicelib.domain.window import booking_window


@dataclass(frozen=True)
class EventRecord:
    """An event as stored: its configuration and its live counters."""

    agenda: str
    spec: EventSpec
    reserved: int = 0
    waiting_list_reserved: int = 0
    checked: bool = False
    check_locked: bool = False
    invoiced: bool = False
    counters_version: int = 0  # moved on by every booking write that changes the counters
    # Places held by lock codes, counted in the counters until released (domain/holds.py); `holds_map`: the
    # item has its map of holds (a write adds to it, or creates it).
    holds: tuple[HeldPlaces, ...] = ()
    holds_map: bool = False

    @property
    def slug(self) -> str:
        return self.spec.slug

    @property
    def places(self) -> Places:
        return Places(self.spec.places, self.reserved, self.spec.waiting_list_places, self.waiting_list_reserved)

    @property
    def has_bookings(self) -> bool:
        return self.reserved > 0 or self.waiting_list_reserved > 0

    @property
    def end(self) -> datetime | None:
        return self.spec.start + timedelta(minutes=self.spec.duration) if self.spec.duration else None


def is_recurring_primary(event: EventSpec) -> bool:
    return bool(event.recurrence_days)


def is_bookable(
    agenda: AgendaSpec,
    event: EventSpec,
    now: datetime,
    tz: ZoneInfo,
    bypass_delays: bool = False,
    events: str = 'future',
) -> bool:
    """Published, not cancelled, not a recurring primary, in the window, and in the asked period."""
    if event.cancelled or is_recurring_primary(event):
        return False
    if event.publication_datetime and event.publication_datetime > now:
        return False
    is_past = event.start < now
    if (events == 'future' and is_past) or (events == 'past' and not is_past):
        return False
    if bypass_delays or is_past:
        return True
    return booking_window(agenda, now, tz).contains(event.start)


def event_text(event: EventSpec, tz: ZoneInfo) -> str:
    return event.label or local_text(event.start, tz)


def shrink_problem(record: EventRecord, new: EventSpec) -> str | None:
    """Why `new` cannot replace the event's configuration given its bookings, if it cannot."""
    if new.places < record.reserved:
        return f'event {record.slug} has {record.reserved} booked places, more than {new.places}'
    if new.waiting_list_places < record.waiting_list_reserved:
        return (
            f'event {record.slug} has {record.waiting_list_reserved} places booked in the waiting list, '
            f'more than {new.waiting_list_places}'
        )
    if record.has_bookings and (new.recurrence_days or None) != (record.spec.recurrence_days or None):
        return f'event {record.slug} has bookings: its recurrence cannot change'
    return None


def clashes(spans: list[tuple[Any, Any, Any]]) -> list[tuple[Any, Any]]:
    """The pairs of (key, start, end) that overlap (spec §9.11): their [start, end) intersect, and
    an event without duration (end None) covers its start, found in one sweep by start time."""
    ordered = sorted(spans, key=lambda span: span[1])
    clashes = []
    for index, (key, start, end) in enumerate(ordered):
        for other, other_start, _ in ordered[index + 1 :]:
            if other_start > start and (end is None or other_start >= end):
                break
            clashes.append((key, other))
    return clashes
