"""What an events fillslot decides from, kept per process for a few seconds (docs/api.md, "The decision cache"): an
agenda's settings with its item's `version`, and its events' records (configuration, state, place counters and
holds as last seen). A warm process decides from them and books in one TransactWriteItems whose conditions say
that what it decided from still holds (store/booking_writes.py `book(cached=...)`, `_as_cached`): the agenda's
version, each event's configuration, and the capacity conditions every booking carries. When one fails, the
caller reads and decides again, so correctness never depends on this cache; it only saves the read.

In the store, beside the reads and writes that fill it: entries are what DynamoDB answered (a fillslot's
BatchGetItem, the items a cancelled transaction hands back, ALL_OLD) or what a transaction just wrote under
those conditions, and the agenda's version is a table attribute that nothing above the store sees.

An entry's age is counted from when DynamoDB last showed it: a transaction this process writes updates the
counters but not the age, so every `CHRONO_DECISION_CACHE_SECONDS` the next fillslot reads again. Never
cached: a user's bookings, the booking a fillslot replaces, a lock code's hold, subscriptions, meetings.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterable
from dataclasses import dataclass, replace

from chalicelib import config
from chalicelib.domain.event_rules import EventRecord
from chalicelib.domain.specs import AgendaSpec

MAX_EVENTS = 20_000  # beyond, the cache starts afresh (a process keeps a few agendas' hot events)

_lock = threading.Lock()
_agendas: dict[tuple[str, str], tuple[float, AgendaSpec, int | None]] = {}  # (table, slug) -> (seen, spec, version)
_events: dict[tuple[str, str, str], tuple[float, EventRecord]] = {}  # (table, agenda, slug) -> (seen, record)


@dataclass(frozen=True)
class Cached:
    """A decision's inputs from the cache: the agenda, its item's version as cached, and the events."""

    agenda: AgendaSpec
    version: int | None
    events: dict[str, EventRecord]


def max_age() -> float:
    return config.settings().decision_cache_seconds


def _table() -> str:
    return config.settings().table_name


def lookup(agenda: str, slugs: Iterable[str]) -> Cached | None:
    """The agenda and every one of the events, each seen less than `max_age()` ago; None when one is not."""
    limit = max_age()
    if limit <= 0:
        return None
    table, oldest = _table(), time.monotonic() - limit
    found = _agendas.get((table, agenda))
    if found is None or found[0] < oldest:
        return None
    events = {}
    for slug in slugs:
        entry = _events.get((table, agenda, slug))
        if entry is None or entry[0] < oldest:
            return None
        events[slug] = entry[1]
    return Cached(found[1], found[2], events)


def seen(agenda: AgendaSpec | None, version: int | None, events: Iterable[EventRecord]) -> None:
    """What DynamoDB just showed (an events agenda and its version, events): younger entries."""
    if max_age() <= 0:
        return
    table, now = _table(), time.monotonic()
    with _lock:
        if len(_events) > MAX_EVENTS:
            _events.clear()
        if agenda is not None and agenda.kind == 'events':
            _agendas[(table, agenda.slug)] = (now, agenda, version)
        for record in events:
            _events[(table, record.agenda, record.slug)] = (now, record)


def booked(decided: Iterable[tuple[EventRecord, bool, int]]) -> None:
    """Events once a booking this process decided and wrote moved their counters: (the event as the decision
    counted it, the list, the places) each. Only an entry that is still the one decided from takes it (its
    counters and version moved on, its age kept: what other processes wrote meanwhile is unknown until the
    next read); one that changed meanwhile (another thread's booking, a read) is dropped, so that this process
    never counts a booking twice nor misses one of its own."""
    table = _table()
    with _lock:
        for record, in_waiting_list, count in decided:
            key = (table, record.agenda, record.slug)
            entry = _events.get(key)
            if entry is None:
                continue
            if entry[1].counters_version != record.counters_version:
                del _events[key]
                continue
            if in_waiting_list:
                after = replace(record, waiting_list_reserved=record.waiting_list_reserved + count)
            else:
                after = replace(record, reserved=record.reserved + count)
            _events[key] = (entry[0], replace(after, counters_version=record.counters_version + 1))


def forget(agenda: str, slugs: Iterable[str] = ()) -> None:
    """Drop events (and, without slugs, the agenda itself) from the cache: the next fillslot reads them."""
    table = _table()
    with _lock:
        slugs = list(slugs)
        if not slugs:
            _agendas.pop((table, agenda), None)
        for slug in slugs:
            _events.pop((table, agenda, slug), None)


def clear() -> None:
    with _lock:
        _agendas.clear()
        _events.clear()
