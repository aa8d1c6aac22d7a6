"""Holds (`lock_code`, spec §9.9; domain/holds.py): places of events, or a desk's cells, taken for a lock code
by the very conditions of a booking, replaced by its next hold, given back by its confirmation or by any writer
once expired."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from chalicelib.domain.booking_rules import Placement
from chalicelib.domain.event_rules import EventRecord
from chalicelib.domain.holds import HeldPlaces, HoldRecord
from chalicelib.domain.meeting_slots import MeetingLeg
from chalicelib.store.idempotency_records import commit
from chalicelib.store.models import (
    HOLD_SK,
    LOCK_SK,
    HeldSpan,
    Hold,
    Lock,
    hold_pk,
)
from chalicelib.store.tables import Tag, Transaction, _bind, _utc_key
from chalicelib.store.transaction_parts import (
    HOLD_KEPT,
    _check_size,
    _hold_desk,
    _hold_spans,
    _locks,
    _raise_failure,
    _Shared,
)


def _release_hold(
    tx: Transaction,
    shared: _Shared,
    held: HoldRecord | None,
    now: datetime,
    placed: set[tuple[str, str]],
    kept_locks: set[str],
    kept_spans: set[str],
) -> None:
    """Give back what a lock code held, beside what the same transaction takes: its listing items (its
    own: always), and while the hold is live its events' places (`placed`: the events this write places
    on, whose decision released its entry already) and its cells (`kept_locks`: put again by this write).
    An expired hold's places and cells are anybody's: other writers may have taken them already."""
    if held is None:
        return
    for sk in held.spans:
        if sk not in kept_spans:
            tx.delete(HeldSpan(hold_pk(held.key), sk))
    if not held.live(now):
        return
    for event in held.events:
        if (event.agenda, event.event) not in placed:
            shared.release(
                event.agenda, event.event, HeldPlaces(held.key, event.count, event.in_waiting_list, held.until)
            )
    for leg in held.meetings:
        for key, _ in _locks(leg):
            if key not in kept_locks:  # taken since (it expired meanwhile): decide again
                tx.delete(Lock(key, LOCK_SK), condition=Lock.hold == held.key, tag=Tag('hold'))


def _hold_record_write(tx: Transaction, key: str, held: HoldRecord | None, new: Hold | None = None) -> None:
    """The lock code's record changes only as read: a new hold replaces it (put), a confirmation ends it
    (delete), or, with none read, none may have appeared meanwhile (a check)."""
    item = new if new is not None else Hold(hold_pk(key), HOLD_SK)
    condition = Hold.pk.does_not_exist() if held is None else Hold.version == held.version
    if new is not None:
        tx.put(new, condition=condition, tag=Tag('hold'))
    elif held is not None:
        tx.delete(item, condition=condition, tag=Tag('hold'))
    else:
        tx.check(item, condition=condition, tag=Tag('hold'))


def _meeting_value(leg: MeetingLeg) -> dict[str, Any]:
    return {
        'agenda': leg.agenda,
        'desk': leg.desk,
        'meeting_type': leg.meeting_type,
        'start': _utc_key(leg.start),
        'end': _utc_key(leg.end),
        'lock_step': leg.lock_step,
        'resources': list(leg.resources),
        'past_steps': list(leg.past_steps),
    }


def hold(
    agenda: str,
    placements: Sequence[Placement | MeetingLeg],  # all of one kind
    key: str,
    held: HoldRecord | None,
    until: datetime,
    now: datetime,
    answer: Any = None,
) -> None:
    """Hold for the lock code `key` until `until`, in one transaction, what a booking of `placements`
    would take, by the same conditions (an event's places: each placement carries its hold entry; a
    meeting's desk and resource cells, marked with the hold), and give back what it held before
    (`held`, read as it is: one hold per lock code). Raises EventsChanged, DeskTaken, ResourceTaken, or
    HoldChanged when the lock code's hold changed meanwhile."""
    _bind()
    tx = Transaction()
    shared = _Shared()
    kept_locks: set[str] = set()
    spans: list[HeldSpan] = []
    held_events, held_meetings = [], []
    for index, placement in enumerate(placements):
        if isinstance(placement, MeetingLeg):
            _hold_desk(tx, 0, index, placement, set(), now, key, until)
            kept_locks.update(lock for lock, _ in _locks(placement))
            spans += _hold_spans(key, index, placement, until)
            held_meetings.append(_meeting_value(placement))
        else:
            shared.event(agenda, placement.event.slug, placement.in_waiting_list, placement.count, placement)
            held_events.append(
                {
                    'agenda': agenda,
                    'event': placement.event.slug,
                    'count': placement.count,
                    'waiting': placement.in_waiting_list,
                }
            )
    for span in spans:
        tx.put(span, tag=Tag('use'))
    placed = {(agenda, p.event.slug) for p in placements if isinstance(p, Placement)}
    _release_hold(tx, shared, held, now, placed, kept_locks, {span.sk for span in spans})
    record = Hold(
        hold_pk(key),
        HOLD_SK,
        until=until,
        version=(held.version if held else 0) + 1,
        events=held_events or None,
        meetings=held_meetings or None,
        spans=[span.sk for span in spans] or None,
        expires_at=until + HOLD_KEPT,
    )
    _hold_record_write(tx, key, held, record)
    shared.write(tx)
    _check_size(tx)
    _raise_failure(commit(tx, answer), agenda, placements, [])


def release_holds(agenda: str, record: EventRecord, released: tuple[HeldPlaces, ...]) -> bool:
    """Give back holds of an event (expired ones, before an agent's change that their places would refuse):
    their entries go and their places with them, each on the condition that it is still as read. False
    when one changed meanwhile (nothing written: read again)."""
    _bind()
    tx = Transaction()
    shared = _Shared()
    for held in released:
        shared.release(agenda, record.slug, held)
    shared.write(tx)
    return not commit(tx) if len(tx) else True
