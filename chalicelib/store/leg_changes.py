"""A booking's lifecycle after it is written: cancel, promote, move between lists, PATCH, resize, anonymize,
and the retention mark (spec §8.3-8.10). Each is one transaction, conditioned on every leg as read
(transaction_parts `_write_leg`)."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import datetime, timezone
from typing import Any

from pynamodb.exceptions import CancellationReason

from chalicelib.domain.booking_rules import Leg, Placement
from chalicelib.domain.event_rules import EventRecord
from chalicelib.domain.holds import HeldPlaces
from chalicelib.domain.promotion_rules import Promotion
from chalicelib.domain.specs import EventSpec
from chalicelib.store import outbox
from chalicelib.store.configuration import _event_record, _event_update_actions, _fits_bookings
from chalicelib.store.idempotency_records import commit
from chalicelib.store.legs import RETENTION_SK, STORED_FIELDS, USER_COUNT_SK
from chalicelib.store.models import (
    EVENT_PREFIX,
    Booking,
    Callback,
    Event,
    RetentionMark,
    UserEventBookings,
    agenda_pk,
    user_event_pk,
)
from chalicelib.store.tables import Tag, Transaction, _bind, conditional
from chalicelib.store.transaction_parts import (
    BookingChanged,
    EventsChanged,
    _cancel_leg,
    _events_found,
    _promote,
    _Shared,
    _write_leg,
)


def cancel(
    legs: list[Leg],
    now: datetime,
    callbacks: Iterable[Callback] = (),
    answer: dict[str, Any] | None = None,
    on_start: bool = False,
    promotions: Sequence[Promotion] = (),
) -> None:
    """Cancel every leg and give their places back, with the callbacks that report it (the
    outbox: both or neither) and the promotions the freed places make; BookingChanged if a leg or
    an event changed meanwhile (or, `on_start`, when the cancellation was allowed from the legs'
    start, if their event no longer starts then)."""
    _bind()
    tx = Transaction()
    shared = _Shared()
    for leg in legs:
        _cancel_leg(tx, shared, leg, now, on_start)
    _promote(tx, shared, promotions, now)
    shared.write(tx)
    for callback in callbacks:
        outbox.add_to(tx, callback)
    if commit(tx, answer):
        raise BookingChanged({leg.booking_id for leg in legs})


def promote(promotions: Sequence[Promotion], now: datetime) -> None:
    """Promotions on their own: what a write could not hold, or an import made possible.
    BookingChanged (a leg) or EventsChanged (an event not as read) when the decision is stale."""
    _bind()
    tx = Transaction()
    shared = _Shared()
    _promote(tx, shared, promotions, now)
    shared.write(tx)
    _raise_stale(commit(tx) if len(tx) else [])


def update_event_promoting(agenda: str, spec: EventSpec, promotion: Promotion, now: datetime) -> None:
    """An event's new configuration (never its counters, never below its bookings) and the promotion
    its new places make, in one transaction on the event as read."""
    _bind()
    tx = Transaction()
    shared = _Shared()
    _promote(tx, shared, [promotion], now)
    key = (agenda, spec.slug)
    shared.guards[key] = shared.guards[key] & _fits_bookings(spec)
    shared.more[key] = _event_update_actions(agenda, spec)
    shared.write(tx)
    _raise_stale(commit(tx))


def _raise_stale(failures: list[tuple[Tag, CancellationReason]]) -> None:
    changed = {tag.booking_id for tag, _ in failures if tag.kind == 'leg' and tag.booking_id is not None}
    if changed:
        raise BookingChanged(changed)
    if failures:
        raise EventsChanged(_events_found(failures, by_agenda=True))


def move(legs: list[Leg], to_waiting_list: bool, answer: dict[str, Any] | None = None) -> list[EventRecord]:
    """accept (to the main list) or suspend (to the waiting list), with no capacity check
    (spec §8.7-8.8); BookingChanged if a leg changed meanwhile. Returns the events after."""
    _bind()
    tx = Transaction()
    shared = _Shared()
    for leg in legs:
        _write_leg(tx, leg, [Booking.in_waiting_list.set(to_waiting_list)])
        shared.event(leg.agenda, leg.event_slug, leg.in_waiting_list, -leg.count)
        shared.event(leg.agenda, leg.event_slug, to_waiting_list, leg.count)
    shared.write(tx)
    if commit(tx, answer):
        raise BookingChanged({leg.booking_id for leg in legs})
    keys = [(agenda_pk(leg.agenda), f'{EVENT_PREFIX}{leg.event}') for leg in legs]
    return [_event_record(item) for item in Event.batch_get(keys, consistent_read=True)]


def update_legs(
    legs: list[Leg],
    values: dict[str, Any],
    extra_data: dict[str, Any] | None,
    answer: dict[str, Any] | None = None,
    unlocked: Iterable[tuple[str, str]] = (),
) -> None:
    """PATCH: set `values` (None removes the attribute) on every leg and merge `extra_data` into
    each leg's own; BookingChanged when a leg changed since the read (the merge is then done
    again on the fresh legs, so that no concurrent key is lost), or when one of the `unlocked`
    (agenda, event) got its attendance locked meanwhile (check-lock: the caller reads it again)."""
    _bind()
    tx = Transaction()
    for agenda, event in sorted(set(unlocked)):
        tx.check(
            Event(agenda_pk(agenda), f'{EVENT_PREFIX}{event}'),
            condition=Event.check_locked.does_not_exist() | (Event.check_locked == False),  # noqa: E712
            tag=Tag('event', event, agenda),
        )
    for leg in legs:
        actions = [
            getattr(Booking, name).set(value) if value is not None else getattr(Booking, name).remove()
            for name, value in values.items()
        ]
        if extra_data:
            actions.append(Booking.extra_data.set({**(leg.fields.get('extra_data') or {}), **extra_data}))
        if actions:
            _write_leg(tx, leg, actions)
    if len(tx) and commit(tx, answer):
        raise BookingChanged({leg.booking_id for leg in legs})


def resize(
    legs: list[Leg],
    count: int,
    events: dict[str, EventRecord],
    answer: dict[str, Any] | None = None,
    released: dict[str, tuple[HeldPlaces, ...]] | None = None,
    promotions: Sequence[Promotion] = (),
    now: datetime | None = None,
) -> None:
    """Give every leg `count` places in the list it is in, in one transaction. A leg that grows
    takes its new places under the fillslot condition of its list (as a booking of the
    difference, forced into its list: `_placement_condition`); a leg that shrinks gives places
    back unconditionally (its own version guards the delta). A leg that grows also gives back the
    expired holds its decision counted free (`released`, by event). Raises EventsChanged (the events as
    the transaction found them) when a counter condition failed, BookingChanged when a leg
    changed."""
    _bind()
    tx = Transaction()
    shared = _Shared()
    for leg in legs:
        delta = count - leg.count
        if delta == 0:
            continue
        _write_leg(tx, leg, [Booking.count.set(count)])
        slug = leg.event_slug
        freed = (released or {}).get(slug, ())
        growth = Placement(events[slug], delta, leg.in_waiting_list, forced=True, released=freed) if delta > 0 else None
        shared.event(leg.agenda, slug, leg.in_waiting_list, delta, growth)
    if promotions:
        _promote(tx, shared, promotions, now or datetime.now(timezone.utc))
    shared.write(tx)
    failures = commit(tx, answer) if len(tx) else []
    if any(tag.kind == 'leg' for tag, _ in failures):
        raise BookingChanged({leg.booking_id for leg in legs})
    if failures:
        raise EventsChanged(_events_found(failures, by_agenda=False))


def anonymize(legs: list[Leg], now: datetime, answer: dict[str, Any] | None = None) -> None:
    """Blank the personal fields of every leg, take it out of its user's index (gsi1) and set
    `anonymized_at`, in one transaction. The user's count item on each event (its key holds the
    user_external_id) loses this booking: deleted when nothing else counts in it, else
    decremented; a live meeting leaves its user's days. Each write is conditioned on what was
    read (the leg unchanged, the count unchanged): BookingChanged when something moved."""
    _bind()
    tx = Transaction()
    shared = _Shared()
    counts = _user_counts(legs)
    for leg in legs:
        if leg.anonymized_at is not None:
            continue
        actions = [getattr(Booking, name).remove() for name in (*STORED_FIELDS, 'gsi1pk', 'gsi1sk')]
        _write_leg(tx, leg, [*actions, Booking.anonymized_at.set(now)])
        if leg.event is None and not leg.cancelled:
            shared.meeting(leg.user_external_id, leg.booking_id, leg.leg, leg.start, leg.end, added=False)
        if leg.event and leg.user_external_id:
            key = user_event_pk(leg.agenda, leg.event, leg.user_external_id)
            held = counts.get(key)
            if held is None:  # nothing counts this user there (never did, or deleted already)
                continue
            item = UserEventBookings(key, USER_COUNT_SK)
            unchanged = UserEventBookings.bookings == held
            if held - (0 if leg.cancelled else 1) <= 0:
                tx.delete(item, condition=unchanged, tag=Tag('user', leg.event, leg.agenda))
            elif not leg.cancelled:
                tx.update(
                    item,
                    [UserEventBookings.bookings.add(-1)],
                    condition=unchanged,
                    tag=Tag('user', leg.event, leg.agenda),
                )
    shared.write(tx)
    if len(tx) and commit(tx, answer):
        raise BookingChanged({leg.booking_id for leg in legs})


def _user_counts(legs: list[Leg]) -> dict[str, int]:
    """The count items of the users of these legs on their events, by key."""
    keys = sorted(
        {
            (user_event_pk(leg.agenda, leg.event, leg.user_external_id), USER_COUNT_SK)
            for leg in legs
            if leg.event and leg.user_external_id
        }
    )
    if not keys:
        return {}
    return {item.pk: int(item.bookings or 0) for item in UserEventBookings.batch_get(keys, consistent_read=True)}


def advance_retention(agenda: str, read: datetime | None, until: datetime) -> bool:
    """Move the agenda's retention mark from `read` to `until`; False when another run moved it
    meanwhile (that run's mark stands)."""
    item = RetentionMark(agenda_pk(agenda), RETENTION_SK, until=until)
    condition = RetentionMark.pk.does_not_exist() if read is None else RetentionMark.until == read
    return conditional(lambda: item.save(condition=condition))
