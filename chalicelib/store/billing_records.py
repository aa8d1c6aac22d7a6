"""What billing reads and writes (Lingo's calls, spec chrono-api.md §7.5): an agenda's events of a period
read consistently, their `check_locked` and `invoiced` flags set in batched transactions (all or
nothing), and a user's legs on some events made complete although their list comes from an index.
"""

from __future__ import annotations

import time as clock
from collections.abc import Iterable
from datetime import datetime

from chalicelib.domain.booking_rules import Leg
from chalicelib.domain.event_rules import EventRecord
from chalicelib.errors import Busy
from chalicelib.store.configuration import Operation, _event_record, apply_operations
from chalicelib.store.legs import INDEX_PATIENCE, USER_COUNT_SK, legs_by_key, user_legs
from chalicelib.store.models import EVENT_PREFIX, Event, UserEventBookings, agenda_pk, user_event_pk
from chalicelib.store.tables import _bind

FLAGS = ('check_locked', 'invoiced')


def period_events(agenda: str, start: datetime, end: datetime) -> list[EventRecord]:
    """The agenda's events starting in [start, end), by start time, read consistently from the table
    (never from the events index, which may lag): what billing decides on is exactly what is stored."""
    _bind()
    items = Event.query(
        agenda_pk(agenda),
        Event.sk.startswith(EVENT_PREFIX),
        filter_condition=(Event.start >= start) & (Event.start < end),
        consistent_read=True,
    )
    return sorted((_event_record(i) for i in items if isinstance(i, Event)), key=lambda r: (r.spec.start, r.slug))


def _flag_write(record: EventRecord, flag: str, value: bool) -> Operation:
    """Set one flag on an event that still exists; its undo puts back the value read, only where this
    write's value is still there (a later call's change is never undone)."""
    target = Event(agenda_pk(record.agenda), f'{EVENT_PREFIX}{record.slug}')
    attribute = getattr(Event, flag)
    return Operation(
        apply=lambda tx: tx.update(target, actions=[attribute.set(value)], condition=Event.pk.exists()),
        undo=lambda tx: tx.update(
            target, actions=[attribute.set(getattr(record, flag))], condition=Event.pk.exists() & (attribute == value)
        ),
        size=200,
    )


def set_flag(records: Iterable[EventRecord], flag: str, value: bool) -> int:
    """Give `flag` the `value` on every event whose value differs, in transactions of up to 100 events:
    when one cannot be written (after its retries), the earlier ones are undone and the error raised
    (`tables.Refused` when an event vanished since the read). Returns how many events changed."""
    if flag not in FLAGS:
        raise ValueError(flag)
    operations = [_flag_write(r, flag, value) for r in records if getattr(r, flag) != value]
    if operations:
        apply_operations(operations)
    return len(operations)


def user_event_counts(user: str, keys: Iterable[tuple[str, str]]) -> dict[tuple[str, str], int]:
    """How many live bookings the user holds on each (agenda, event), read consistently: the count items
    every booking and cancel of the user change in their transaction. Absent: none."""
    _bind()
    wanted = sorted(set(keys))
    pks = {user_event_pk(agenda, event, user): (agenda, event) for agenda, event in wanted}
    counts = dict.fromkeys(wanted, 0)
    if wanted:
        for item in UserEventBookings.batch_get([(pk, USER_COUNT_SK) for pk in pks], consistent_read=True):
            counts[pks[item.pk]] = int(item.bookings or 0)
    return counts


def user_event_legs(
    user: str, events: list[EventRecord], start: datetime, end: datetime
) -> dict[tuple[str, str], list[Leg]]:
    """The user's legs (live and cancelled) on each of `events` (all starting in [start, end)), as they
    are now, none of the live ones missed: the legs the user index lists are read again consistently, and
    the list is taken only when, on every event, the live legs found equal the user's count item read
    after them (every booking and cancel changes it in its transaction). While the index lags, read again
    after 0.05, 0.1, ... 3.2 s; `busy` if it stays behind. A leg cancelled a moment ago and not yet in the
    index may be missed (it weighs nothing)."""
    keys = {(r.agenda, r.slug) for r in events}
    for pause in (*INDEX_PATIENCE, None):
        listed = [
            (leg.booking_id, leg.leg)
            for leg in user_legs(user, start, end)
            if (leg.agenda, leg.event) in keys and leg.meeting_type is None
        ]
        found: dict[tuple[str, str], list[Leg]] = {key: [] for key in keys}
        for leg in legs_by_key(listed):  # as it is now (a leg moved to another event since is left out)
            if leg.event is not None and (leg.agenda, leg.event) in keys and leg.user_external_id == user:
                found[(leg.agenda, leg.event)].append(leg)
        counts = user_event_counts(user, keys)
        if all(sum(1 for leg in found[key] if not leg.cancelled) == counts[key] for key in keys):
            return found
        if pause is not None:
            clock.sleep(pause)
    raise Busy('busy', "the user's bookings keep changing: try again")
