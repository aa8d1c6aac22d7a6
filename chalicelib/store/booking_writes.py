"""Writing new bookings and the place counters they move, in one transaction each (transaction_parts).

A fillslot costs two round trips: one BatchGetItem (agenda, events, the user's counts, the
booking to replace: legs.read_for_booking) and one TransactWriteItems; one, the transaction, when the process
decided from its cache (decision_cache). When a condition fails, the event's item as it was (ALL_OLD) comes back
with the cancellation, so the caller decides again without reading again.
"""

from __future__ import annotations

import random
import time as clock
from collections.abc import Callable, Sequence
from dataclasses import replace
from datetime import datetime, timezone
from typing import Any

from pynamodb.expressions.condition import size
from pynamodb.expressions.update import Action

from chalicelib.domain.booking_rules import BookingRequest, Leg, Placement
from chalicelib.domain.event_rules import EventRecord
from chalicelib.domain.holds import HoldRecord
from chalicelib.domain.meeting_slots import MeetingLeg
from chalicelib.domain.promotion_rules import Promotion
from chalicelib.domain.reminder_rules import ReminderPlan
from chalicelib.errors import Busy
from chalicelib.store import decision_cache, outbox
from chalicelib.store.hold_writes import _hold_record_write, _release_hold
from chalicelib.store.idempotency_records import commit
from chalicelib.store.legs import UserDays
from chalicelib.store.models import (
    CONFIG_PREFIX,
    Agenda,
    Booking,
    Event,
    UserSubscriptions,
    agenda_pk,
    event_bookings_key,
    subscriber_pk,
)
from chalicelib.store.tables import Tag, Transaction, _bind
from chalicelib.store.transaction_parts import (
    AlreadyBookedByUser,
    BookingChanged,
    EventsChanged,
    _booking_item,
    _cancel_leg,
    _check_size,
    _events_found,
    _hold_desk,
    _leg_sort_id,
    _locks,
    _meeting_item,
    _promote,
    _raise_failure,
    _Shared,
    _user_sort_key,
    _with_reminders,
)

AGENDA_SK = f'{CONFIG_PREFIX}agenda'
ID_EPOCH_MS = int(datetime(2024, 1, 1, tzinfo=timezone.utc).timestamp() * 1000)
ID_RANDOM_BITS = 12


def new_booking_id() -> int:
    """Unique without a shared counter: milliseconds since 2024 above 12 random bits.

    Every booking put carries `attribute_not_exists`, so a collision (two bookings in the same
    millisecond drawing the same bits) costs one retry with a new id, never a lost booking.
    Ids stay below 2**53 (safe in JavaScript) until 2093 and grow with time.
    """
    return ((int(clock.time() * 1000) - ID_EPOCH_MS) << ID_RANDOM_BITS) | random.getrandbits(ID_RANDOM_BITS)


def _distinct_ids(count: int) -> list[int]:
    """`count` new ids, distinct (drawn in one millisecond, 33 ids share their 12 random bits
    with a chance of one in eight), in increasing order."""
    ids: set[int] = set()
    while len(ids) < count:
        ids.add(new_booking_id())
    return sorted(ids)


def book(
    agenda: str,
    placements: Sequence[Placement | MeetingLeg],  # all of one kind
    request: BookingRequest,
    replaced: list[Leg],
    now: datetime,
    user_days: UserDays | None = None,
    answer: Callable[[int], object] | None = None,
    replaced_on_start: bool = False,
    held: HoldRecord | None = None,
    reminders: Sequence[ReminderPlan] = (),
    promotions: Sequence[Promotion] = (),
    cached: decision_cache.Cached | None = None,
) -> int:
    """Write a booking (one leg per placement: an event's places, or a meeting's desk time) and
    cancel `replaced`, in one transaction; `answer(booking_id)` is the call's answer, kept with
    it for an idempotent call (store.idempotency.commit). A meeting booking of a user adds its
    legs to the user's days as `user_days` read them, under a condition on their versions.

    Returns the new booking id. Raises EventsChanged when a counter condition failed,
    AlreadyBookedByUser for `exclude_user` on an event, DeskTaken when another booking holds the
    desk, ResourceTaken, BookingChanged when `replaced` changed meanwhile, UserMeetingsChanged
    when the user's meetings did. `replaced_on_start`: replacing was allowed from the replaced
    legs' start (a cancellation deadline), so the write holds only while their events start then.
    With a lock code (`request.lock_code`, a confirmation), what it held (`held`, as read) is given back
    in the same transaction (its cells and places taken by this booking are its own); HoldChanged when
    the lock code's hold changed meanwhile. `reminders` are written with the legs, `promotions` with the
    cancel of `replaced` (PromotionTooLarge). `cached`: the events placements were decided from this
    process's cache (store/decision_cache.py), so the write also holds only while the agenda's version and
    each event's configuration and holds are the ones cached (AgendaChanged, EventsChanged).
    """
    _bind()
    released = {key for leg in replaced for key, _ in _locks(leg)}
    own = request.hold
    for _ in range(5):
        booking_id = new_booking_id()
        tx = Transaction()
        shared = _Shared()
        for leg in replaced:
            _cancel_leg(tx, shared, leg, now, replaced_on_start)
        kept_locks: set[str] = set()
        for index, placement in enumerate(placements):
            if isinstance(placement, MeetingLeg):
                item = _meeting_item(booking_id, index, placement, request, len(placements), now)
                _hold_desk(tx, booking_id, index, placement, released, now, own)
                kept_locks.update(lock for lock, _ in _locks(placement))
                shared.meeting(
                    request.user_external_id,
                    booking_id,
                    index,
                    placement.start,
                    placement.end,
                    added=True,
                    read=user_days,
                )
            else:
                item = _booking_item(booking_id, index, agenda, placement, request, len(placements), now)
                shared.event(agenda, placement.event.slug, placement.in_waiting_list, placement.count, placement)
                shared.user(agenda, placement.event.slug, request.user_external_id, 1, request.exclude_user)
                if cached is not None:
                    entry = shared._event(agenda, placement.event.slug)
                    entry['condition'] &= _as_cached(cached.events[placement.event.slug], placement)
            _with_reminders(tx, item, index, reminders, now)
            tx.put(item, condition=Booking.pk.does_not_exist(), tag=Tag('booking', index))
        if own is not None:  # a confirmation: the lock code's hold ends with this booking
            placed = {(agenda, p.event.slug) for p in placements if isinstance(p, Placement)}
            _release_hold(tx, shared, held, now, placed, kept_locks, set())
            _hold_record_write(tx, own, held)
        _promote(tx, shared, promotions, now)
        alone = not replaced and not promotions and own is None  # the counters move by this booking alone
        shared.write(tx, cached=alone)
        if cached is not None:
            version = cached.version
            tx.check(
                Agenda(agenda_pk(agenda), AGENDA_SK),
                condition=Agenda.version.does_not_exist() if version is None else Agenda.version == version,
                tag=Tag('agenda'),
            )
        _check_size(tx)
        if _raise_failure(commit(tx, answer(booking_id) if answer else None), agenda, placements, replaced):
            if alone:
                decision_cache.booked(
                    [(p.event, p.in_waiting_list, p.count) for p in placements if isinstance(p, Placement)]
                )
            return booking_id
        # Only the new booking's key was taken: another booking drew the same id. Draw again.
    raise Busy('busy', 'could not allocate a booking id: try again')


def _as_cached(event: EventRecord, placement: Placement):
    """A decision taken from the cached `event` (beside `_placement_condition`: places, start, cancelled,
    counters) stays right while the rest of what it read is unchanged: what decides whether the event is
    bookable and what the answer shows (its duration, publication, label, description, not a recurring
    primary), and its holds (the same entries: one that expired unseen would be given back by a fresh
    decision)."""
    spec = event.spec

    def same(attribute: Any, value: Any):
        return attribute.does_not_exist() if value is None else attribute == value

    condition = (
        same(Event.duration, spec.duration)
        & same(Event.publication_datetime, spec.publication_datetime)
        & same(Event.label, spec.label)
        & same(Event.description, spec.description)
        & same(Event.recurrence_days, list(spec.recurrence_days) if spec.recurrence_days is not None else None)
    )
    if not event.holds:
        return condition & (Event.holds.does_not_exist() | (size(Event.holds) == 0))
    condition &= size(Event.holds) == len(event.holds)
    released = {held.key for held in placement.released}  # conditioned on their `until` already
    for held in event.holds:
        if held.key not in released:
            condition &= Event.holds[held.key].exists()
    return condition


def book_each(
    placements: list[Placement],
    request: BookingRequest,
    cancelled: list[Leg],
    now: datetime,
    answer: Callable[[list[int]], object] | None = None,
    cancelled_on_start: bool = False,
    reminders: Sequence[ReminderPlan] = (),
    promotions: Sequence[Promotion] = (),
) -> list[int]:
    """A booking of its own for each placement (one leg, one event, any agenda) and the
    cancellation of `cancelled`, in one transaction (events fillslots, spec §6.3-6.5): each
    event's counters carry the condition of its own placement. At most 33 events: each takes
    3 of the transaction's 100 writes (the booking or leg, the event, the user's count).

    Returns the new booking ids, in the order of `placements`. Raises EventsChanged (keyed by
    (agenda, slug)), AlreadyBookedByUser (its `event` is (agenda, slug)), or BookingChanged with
    the ids of the bookings to cancel that changed meanwhile (or whose event moved, with
    `cancelled_on_start`: their cancellation was allowed from their start). A plan of `reminders` names
    its placement by `leg` (each booking has one leg); `promotions` follow the cancels.
    """
    _bind()
    for _ in range(5):
        booking_ids = _distinct_ids(len(placements))
        tx = Transaction()
        shared = _Shared()
        for leg in cancelled:
            _cancel_leg(tx, shared, leg, now, cancelled_on_start)
        for index, (booking_id, placement) in enumerate(zip(booking_ids, placements, strict=True)):
            agenda = placement.event.agenda
            item = _booking_item(booking_id, 0, agenda, placement, request, 1, now)
            _with_reminders(tx, item, 0, [replace(plan, leg=0) for plan in reminders if plan.leg == index], now)
            tx.put(item, condition=Booking.pk.does_not_exist(), tag=Tag('booking', index))
            shared.event(agenda, placement.event.slug, placement.in_waiting_list, placement.count, placement)
            shared.user(agenda, placement.event.slug, request.user_external_id, 1, exclusive=True)
        _promote(tx, shared, promotions, now)
        shared.write(tx)
        _check_subscriptions(tx, request, {p.event.agenda for p in placements})
        failures = commit(tx, answer(booking_ids) if answer else None)
        if not failures:
            return booking_ids
        if any(tag.kind == 'subscriptions' for tag, _ in failures):
            raise Busy('busy', "the user's subscriptions changed meanwhile: try again")
        changed = {tag.booking_id for tag, _ in failures if tag.kind == 'leg' and tag.booking_id is not None}
        if changed:
            raise BookingChanged(changed)
        users = [(tag.agenda, tag.key) for tag, _ in failures if tag.kind == 'user']
        if users:
            raise AlreadyBookedByUser(users[0], users)
        events = _events_found(failures, by_agenda=True)
        placed = {(p.event.agenda, p.event.slug) for p in placements}
        moved = {leg.booking_id for leg in cancelled if (leg.agenda, leg.event) in set(events) - placed}
        if moved:
            raise BookingChanged(moved)
        if events:
            raise EventsChanged(events)
    raise Busy('busy', 'could not allocate a booking id: try again')


def _check_subscriptions(tx: Transaction, request: BookingRequest, agendas: set[str]) -> None:
    """Booked through `subscribed=`: the user's subscription periods on each agenda booked here are
    still the version the decision read (a subscription deleted or changed meanwhile refuses it)."""
    for agenda, version in request.subscriptions:
        if agenda in agendas and request.user_external_id:
            tx.check(
                UserSubscriptions(subscriber_pk(request.user_external_id), agenda),
                condition=UserSubscriptions.version == version,
                tag=Tag('subscriptions', agenda),
            )


def follow_event(
    agenda: str, event: EventRecord, reminder_dues: dict[str, datetime] | None = None, now: datetime | None = None
) -> int:
    """After an event moved, give its legs the new time (and the user index its new key), and their
    reminders the times `reminder_dues` gives by kind (first: a run cut short is run again on the legs
    still at the old time); idempotent. Returns how many legs changed."""
    _bind()
    changed = 0
    for item in Booking.by_gsi2.query(event_bookings_key(agenda, event.slug)):
        if not isinstance(item, Booking) or (item.start, item.end) == (event.spec.start, event.end):
            continue
        if item.start != event.spec.start and item.cancelled_at is None:
            for kind in item.reminders or ():
                if kind in (reminder_dues or {}):
                    outbox.move_message(
                        int(item.booking_id), kind, int(item.leg), reminder_dues[kind], now or item.created_at
                    )
        actions: list[Action] = [
            Booking.start.set(event.spec.start),
            Booking.end.set(event.end) if event.end else Booking.end.remove(),
            Booking.version.add(1),
        ]  # a decision taken on the leg at its old time is taken again
        if item.gsi1pk:
            actions.append(
                Booking.gsi1sk.set(_user_sort_key(event.spec.start, _leg_sort_id(int(item.booking_id), int(item.leg))))
            )
        item.update(actions=actions, condition=Booking.pk.exists())
        changed += 1
    return changed
