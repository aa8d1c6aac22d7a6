"""Writing bookings and the place counters they move: every write here is one transaction whose
conditions carry the capacity rule (docs/table-design.md, spec chrono-api.md §9.2-9.4), and every
change of a leg is conditioned on the leg as it was read (`_write_leg`).

A fillslot costs two round trips: one BatchGetItem (agenda, events, the user's counts, the
booking to replace: legs.read_for_booking) and one TransactWriteItems. When a condition fails,
the event's item as it was (ALL_OLD) comes back with the cancellation, so the caller decides
again without reading again.
"""

from __future__ import annotations

import random
import time as clock
from collections.abc import Callable, Iterable, Sequence
from dataclasses import replace
from datetime import datetime, timedelta, timezone
from typing import Any

from pynamodb.exceptions import CancellationReason
from pynamodb.expressions.condition import size
from pynamodb.expressions.update import Action

from chalicelib.domain.booking_rules import BookingRequest, Leg, Placement
from chalicelib.domain.event_rules import EventRecord
from chalicelib.domain.holds import HeldPlaces, HoldRecord
from chalicelib.domain.meeting_slots import MeetingLeg, lock_cells, resource_step, utc_days
from chalicelib.domain.partial_bookings import hours_text
from chalicelib.domain.promotion_rules import Promotion
from chalicelib.domain.reminder_rules import ReminderPlan
from chalicelib.domain.specs import EventSpec
from chalicelib.errors import BadRequest, Busy
from chalicelib.store import decision_cache, outbox
from chalicelib.store.configuration import _event_record, _event_update_actions, _fits_bookings
from chalicelib.store.idempotency_records import commit
from chalicelib.store.legs import RETENTION_SK, STORED_FIELDS, USER_COUNT_SK, UserDays, span_text
from chalicelib.store.models import (
    CONFIG_PREFIX,
    EVENT_PREFIX,
    HOLD_SK,
    LOCK_SK,
    Agenda,
    Booking,
    Callback,
    Event,
    HeldSpan,
    Hold,
    Lock,
    ResourceUse,
    RetentionMark,
    UserEventBookings,
    UserMeetings,
    UserSubscriptions,
    agenda_pk,
    booking_pk,
    desk_lock_pk,
    event_bookings_key,
    hold_pk,
    leg_sk,
    meeting_bookings_key,
    resource_lock_pk,
    resource_uses_key,
    subscriber_pk,
    user_event_pk,
    user_key,
    user_meetings_pk,
)
from chalicelib.store.tables import MAX_TRANSACTION_ITEMS, Tag, Transaction, _bind, _utc_key, conditional

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


# ---- booking ------------------------------------------------------------------------------


class Stale(Exception):
    """What a write was decided from changed before it landed: nothing was written; read and
    decide again (the use cases' retry loop catches this family)."""


class EventsChanged(Stale):
    """The counters moved under the decision: here they are as the transaction found them
    (None: the event is gone)."""

    def __init__(self, events: dict[Any, EventRecord | None]) -> None:
        super().__init__(sorted(events))
        self.events = events


class BookingChanged(Stale):
    """A booking to cancel, move or change was changed meanwhile (`booking_ids`: which ones,
    when the caller changes several)."""

    def __init__(self, booking_ids: Iterable[int] = ()) -> None:
        super().__init__(sorted(booking_ids))
        self.booking_ids = set(booking_ids)


class AgendaChanged(Stale):
    """The agenda's configuration changed since the copy a cached decision was taken from (its version)."""


class UserMeetingsChanged(Stale):
    """The user's meetings on a day of the booking changed since they were read."""


class AlreadyBookedByUser(Stale):
    """The user holds a booking of `event` already (and of every one of `events`): a refusal for
    `exclude_user`, a booking done already for the calls that set a user's bookings."""

    def __init__(self, event: Any, events: Iterable[Any] = ()) -> None:
        super().__init__(event)
        self.event = event
        self.events = set(events) or {event}


class HoldChanged(Stale):
    """The lock code's hold changed since it was read (another call of the same lock code), or a cell it
    held live was taken since (it expired meanwhile): read it again."""


class PromotionTooLarge(Stale):
    """The promotion decided does not fit in the transaction (100 writes): only the first `fits` of
    its legs do; decide again with that many at most, and promote the rest after."""

    def __init__(self, fits: int) -> None:
        super().__init__(fits)
        self.fits = fits


class ResourceTaken(Exception):
    """Another booking holds part of a requested resource's time."""


class DeskTaken(Exception):
    """Another booking holds part of this desk's time (its lock items exist)."""

    def __init__(self, agenda: str, desk: str) -> None:
        super().__init__(agenda, desk)
        self.agenda = agenda
        self.desk = desk


def _placement_condition(p: Placement):
    """The decision `p` stays right as long as this holds on the event's item (spec §9.2). The places of
    the holds it releases (`p.released`: their entries conditioned unchanged, so still counted) are free."""
    spec = p.event.spec
    main = sum(h.count for h in p.released if not h.in_waiting_list)
    waiting = sum(h.count for h in p.released if h.in_waiting_list)
    # A changed start too: the legs carry the event's time, and a moved event moves its legs.
    condition = (
        (Event.places == spec.places)
        & (Event.waiting_list_places == spec.waiting_list_places)
        & (Event.start == spec.start)
        & (Event.cancelled == False)  # noqa: E712 - a pynamodb condition, not a test
    )
    if p.in_waiting_list:
        condition &= Event.waiting_list_reserved <= spec.waiting_list_places - p.count + waiting
        if not p.forced and not p.kept:  # someone waits, or the main list is short of `count` places
            condition &= (Event.reserved > spec.places - p.count + main) | (Event.waiting_list_reserved > waiting)
    else:
        condition &= Event.reserved <= spec.places - p.count + main
        # Nobody waits before it (without a waiting list, suspended, nobody can); a kept hold came first.
        if spec.waiting_list_places and not p.kept:
            condition &= Event.waiting_list_reserved <= waiting
    return condition


def _unchanged(leg: Leg):
    """The leg is exactly as read (legs written before versions existed count as version 0)."""
    if leg.version:
        return Booking.version == leg.version
    return Booking.version.does_not_exist() | (Booking.version == 0)


def _write_leg(tx: Transaction, leg: Leg, actions: list) -> None:
    """The one way to change a leg: the write holds only while the leg is exactly as it was read
    (its version), and moves the version on. Whatever a caller decided from the leg (its count,
    its list, live or cancelled, its user) therefore still holds when the write lands, and the
    counter deltas it computed from the leg are exact; otherwise BookingChanged, and the caller
    reads and decides again."""
    tx.update(
        Booking(booking_pk(leg.booking_id), leg_sk(leg.leg)),
        [*actions, Booking.version.add(1)],
        condition=_unchanged(leg),
        tag=Tag('leg', leg.leg, leg.agenda, leg.booking_id),
    )


USER_DAYS_KEPT = timedelta(days=2)  # after the day, then DynamoDB's TTL removes the item


class _Shared:
    """Per-item changes of one transaction on the items that bookings share (DynamoDB allows one
    write per item in a transaction): an event's counters, each with the condition of the placement
    that needs it; a user's count on an event; a user's meetings of a day."""

    def __init__(self) -> None:
        self.events: dict[tuple[str, str], dict[str, Any]] = {}
        self.users: dict[tuple[str, str, str], dict[str, Any]] = {}
        self.days: dict[tuple[str, str], dict[str, Any]] = {}
        self.guards: dict[tuple[str, str], Any] = {}  # event -> a condition that replaces the placements'
        self.more: dict[tuple[str, str], list] = {}  # event -> more actions on its item (its configuration)

    def guard(self, agenda: str, slug: str, condition: Any) -> None:
        """The event must be exactly as a decision read it (a promotion): stronger than each placement's
        condition, which that decision took on the same read."""
        self._event(agenda, slug)
        self.guards[(agenda, slug)] = condition

    def pending(self) -> int:
        """The writes `write` will add to the transaction."""
        return len(self.events) + len(self.users) + len(self.days)

    def event(self, agenda: str, slug: str, in_waiting_list: bool, delta: int, placement: Placement | None = None):
        """`delta` places in a list; with `placement`, under its condition, giving back the holds it
        releases and, when it is a hold, adding its entry to the event's holds."""
        entry = self._event(agenda, slug)
        entry['waiting_list_reserved' if in_waiting_list else 'reserved'] += delta
        if placement is not None:
            entry['condition'] = _placement_condition(placement)
            entry['map'] = placement.event.holds_map
            for held in placement.released:
                self.release(agenda, slug, held)
            if placement.hold is not None:
                entry['set'][placement.hold.key] = _hold_entry(placement.hold)

    def release(self, agenda: str, slug: str, held: HeldPlaces) -> None:
        """Give back a hold's places: its entry goes, on the condition that it is still as read. Once per
        hold (a placement and a promotion of one transaction may both release it)."""
        entry = self._event(agenda, slug)
        if held.key in entry['remove']:
            return
        entry['waiting_list_reserved' if held.in_waiting_list else 'reserved'] -= held.count
        entry['remove'][held.key] = int(held.until.timestamp())

    def starts_at(self, agenda: str, slug: str, start: datetime) -> None:
        """A decision was taken from the event's start (a cancellation deadline): the write holds only
        while the event still starts then (an agent may move it meanwhile)."""
        self._event(agenda, slug)['starts'].add(start)

    def _event(self, agenda: str, slug: str) -> dict[str, Any]:
        return self.events.setdefault(
            (agenda, slug),
            {
                'reserved': 0,
                'waiting_list_reserved': 0,
                'condition': None,
                'starts': set(),
                'remove': {},  # hold key -> its `until` as read
                'set': {},  # hold key -> its new entry
                'map': None,  # the event had its map of holds when read
            },
        )

    def user(self, agenda: str, slug: str, user: str | None, delta: int, exclusive: bool = False) -> None:
        if not user:
            return
        entry = self.users.setdefault((agenda, slug, user), {'delta': 0, 'exclusive': False})
        entry['delta'] += delta
        entry['exclusive'] = entry['exclusive'] or exclusive

    def meeting(
        self,
        user: str | None,
        booking_id: int,
        leg: int,
        start: datetime,
        end: datetime | None,
        added: bool,
        read: UserDays | None = None,
    ) -> None:
        """A meeting leg of `user` added or removed on each day it touches. With `read` (a decision
        was taken on those days: exclude_user), a day is set from it under a condition on its
        version; without, the leg is added to or removed from the day, and the version moves on
        (so that a decision taken meanwhile on the day fails its condition)."""
        if not user or end is None:
            return
        span = span_text(booking_id, leg, start, end)
        for day in utc_days(start, end):
            entry = self.days.setdefault((user, day), {'add': set(), 'remove': set(), 'read': None})
            entry['add' if added else 'remove'].add(span)
            if read is not None and read.user == user and day in read.versions:
                entry['read'] = (read.versions[day], read.spans[day])

    def write(self, tx: Transaction, cached: bool = False) -> None:
        """Add the writes to `tx`. This process's decision cache forgets the events they change, unless
        `cached` (the caller sets them once the transaction is written: `book`)."""
        if not cached:
            for agenda, slug in self.events:
                decision_cache.forget(agenda, [slug])
        for (agenda, slug), entry in self.events.items():
            actions = [
                getattr(Event, name).add(entry[name]) for name in ('reserved', 'waiting_list_reserved') if entry[name]
            ]
            actions.append(Event.counters_version.add(1))
            actions += self.more.get((agenda, slug), [])
            condition = entry['condition'] if entry['condition'] is not None else Event.pk.exists()
            # A promotion's guard (the event exactly as read) replaces the placements' condition; the holds'
            # and starts' conditions below still apply.
            condition = self.guards.get((agenda, slug), condition)
            for start in entry['starts']:
                condition &= Event.start == start
            for key, until in entry['remove'].items():
                condition &= Event.holds[key]['until'] == until
                if key not in entry['set']:  # a new hold of the same lock code overwrites its entry
                    actions.append(Event.holds[key].remove())
            if entry['set'] and entry['map']:
                actions += [Event.holds[key].set(value) for key, value in entry['set'].items()]
                condition &= Event.holds.exists()
            elif entry['set']:  # the first hold on the event creates its map
                actions.append(Event.holds.set(entry['set']))
                condition &= Event.holds.does_not_exist()
            tx.update(
                Event(agenda_pk(agenda), f'{EVENT_PREFIX}{slug}'),
                actions,
                condition=condition,
                tag=Tag('event', slug, agenda),
                return_old=True,
            )
        for (agenda, slug, user), entry in self.users.items():
            condition = None
            if entry['exclusive']:
                condition = UserEventBookings.bookings.does_not_exist() | (UserEventBookings.bookings <= 0)
            tx.update(
                UserEventBookings(user_event_pk(agenda, slug, user), USER_COUNT_SK),
                [UserEventBookings.bookings.add(entry['delta']), UserEventBookings.item_type.set(UserEventBookings)],
                condition=condition,
                tag=Tag('user', slug, agenda),
            )
        for (user, day), entry in self.days.items():
            self._write_day(tx, user, day, entry)

    def _write_day(self, tx: Transaction, user: str, day: str, entry: dict[str, Any]) -> None:
        item = UserMeetings(user_meetings_pk(user), day)
        expires = [
            UserMeetings.expires_at.set(datetime.fromisoformat(day).replace(tzinfo=timezone.utc) + USER_DAYS_KEPT),
            UserMeetings.item_type.set(UserMeetings),
        ]
        if entry['read'] is None:  # no decision taken on the day: add or remove, and move the version on
            if entry['add'] and entry['remove']:  # one path cannot be both ADDed to and DELETEd from
                raise RuntimeError('a day whose meetings are both added and removed is set from a read of it')
            change = (
                UserMeetings.spans.add(entry['add']) if entry['add'] else UserMeetings.spans.delete(entry['remove'])
            )
            tx.update(item, [change, UserMeetings.version.add(1), *expires], tag=Tag('user_meetings', day))
            return
        version, spans = entry['read']
        kept = (set(spans) - entry['remove']) | entry['add']
        condition = UserMeetings.pk.does_not_exist() if version is None else UserMeetings.version == version
        tx.update(
            item,
            [
                UserMeetings.spans.set(kept) if kept else UserMeetings.spans.remove(),
                UserMeetings.version.set((version or 0) + 1),
                *expires,
            ],
            condition=condition,
            tag=Tag('user_meetings', day),
        )


def _hold_entry(held: HeldPlaces) -> dict[str, Any]:
    """An entry of an event's holds (models.Event.holds)."""
    return {'count': held.count, 'waiting': held.in_waiting_list, 'until': int(held.until.timestamp())}


def _cancel_leg(tx: Transaction, shared: _Shared, leg: Leg, now: datetime, on_start: bool = False) -> None:
    """`on_start`: the cancellation was allowed from the leg's start (a deadline), so it holds only
    while its event still starts then."""
    _write_leg(tx, leg, [Booking.cancelled_at.set(now)])
    if leg.event is not None:
        shared.event(leg.agenda, leg.event, leg.in_waiting_list, -leg.count)
        if on_start:
            shared.starts_at(leg.agenda, leg.event, leg.start)
        shared.user(leg.agenda, leg.event, leg.user_external_id, -1)
    else:
        shared.meeting(leg.user_external_id, leg.booking_id, leg.leg, leg.start, leg.end, added=False)
    for key, _ in _locks(leg):
        # Only its own lock: a cell no longer held (TTL) deletes nothing.
        tx.delete(
            Lock(key, LOCK_SK),
            condition=Lock.pk.does_not_exist() | (Lock.booking_id == leg.booking_id),
            tag=Tag('leg', leg.leg, leg.agenda, leg.booking_id),
        )
    for resource in leg.resources:
        tx.delete(ResourceUse(booking_pk(leg.booking_id), _resource_use_sk(leg.leg, resource)))
    for kind in leg.reminders:  # never sent for a cancelled leg
        outbox.delete_message(tx, leg.booking_id, kind, leg.leg, Tag('callback', kind))


def _with_reminders(
    tx: Transaction, item: Booking, index: int, reminders: Sequence[ReminderPlan], now: datetime
) -> None:
    """A new leg's reminders (domain/reminder_rules.py), in its booking's transaction; the leg records
    their kinds, so that its cancel deletes exactly those."""
    plans = [plan for plan in reminders if plan.leg == index]
    if not plans:
        return
    item.reminders = [plan.kind for plan in plans]
    for plan in plans:
        outbox.put_message(tx, outbox.new_message(int(item.booking_id), plan.kind, int(item.leg), plan.due, now))


def _as_read(event: EventRecord):
    """The event exactly as a promotion read it: its counters (every booking write moves
    `counters_version`), places, time and state."""
    spec = event.spec
    version = (
        Event.counters_version == event.counters_version
        if event.counters_version
        else Event.counters_version.does_not_exist() | (Event.counters_version == 0)
    )
    return (
        version
        & (Event.places == spec.places)
        & (Event.waiting_list_places == spec.waiting_list_places)
        & (Event.start == spec.start)
        & (Event.cancelled == False)  # noqa: E712 - a pynamodb condition, not a test
    )


def _promote(tx: Transaction, shared: _Shared, promotions: Sequence[Promotion], now: datetime) -> None:
    """Waiting legs to the main list (domain/promotion_rules.py), in the transaction that frees their
    places: each leg as read (`_write_leg`), the counters through `_Shared`, the event as the decision
    read it (a condition even when nobody is promoted), a notice per channel. PromotionTooLarge when
    the legs do not all fit in the transaction's 100 writes (one is kept for an idempotent answer)."""
    for promotion in promotions:
        shared.guard(promotion.event.agenda, promotion.event.slug, _as_read(promotion.event))
        for held in promotion.released:
            shared.release(promotion.event.agenda, promotion.event.slug, held)
    room = MAX_TRANSACTION_ITEMS - 1 - len(tx) - shared.pending()
    written = 0
    for promotion in promotions:
        for leg in promotion.legs:
            notices = (promotion.notices or {}).get((leg.booking_id, leg.leg), ())
            room -= 1 + len(notices)
            if room < 0:
                raise PromotionTooLarge(written)
            _write_leg(tx, leg, [Booking.in_waiting_list.set(False), Booking.promoted_at.set(now)])
            shared.event(leg.agenda, leg.event_slug, True, -leg.count)
            shared.event(leg.agenda, leg.event_slug, False, leg.count)
            for kind in notices:
                outbox.put_message(tx, outbox.new_message(leg.booking_id, kind, leg.leg, now, now))
            written += 1


def _locks(leg: Leg | MeetingLeg) -> list[tuple[str, Tag]]:
    """The Lock items holding a meeting leg's time, each with what it holds: Tag('lock', desk) for
    the desk's cells, Tag('resource', slug) for a resource's (none for an event's leg)."""
    if not leg.desk or not leg.lock_step or leg.end is None:
        return []
    locks = [
        (desk_lock_pk(leg.agenda, leg.desk, _utc_key(cell)), Tag('lock', leg.desk))
        for cell in lock_cells(leg.start, leg.end, leg.lock_step)
    ]
    for resource in leg.resources:
        locks += [
            (resource_lock_pk(resource, _utc_key(cell)), Tag('resource', resource))
            for cell in lock_cells(leg.start, leg.end, resource_step(leg.lock_step))
        ]
    return locks


def _resource_use_sk(leg: int, resource: str) -> str:
    return f'res#{leg:03d}#{resource}'


def _leg_sort_id(booking_id: int, leg: int) -> str:
    """A leg's place in an event's bookings (gsi2): ids padded so that text order is id order."""
    return f'{booking_id:016d}#{leg:03d}'


def _user_sort_key(start: datetime, sort_id: str) -> str:
    """A leg's place in its user's bookings (gsi1): by start time."""
    return f'{_utc_key(start)}#{sort_id}'


def _stored_fields(request: BookingRequest) -> dict[str, Any]:
    """The fields of the request a leg keeps (None: not given)."""
    return {name: request.fields.get(name) for name in STORED_FIELDS}


def _booking_item(
    booking_id: int, index: int, agenda: str, placement: Placement, request: BookingRequest, legs: int, now: datetime
) -> Booking:
    event = placement.event
    user = request.user_external_id
    sort_id = _leg_sort_id(booking_id, index)
    return Booking(
        pk=booking_pk(booking_id),
        sk=leg_sk(index),
        booking_id=booking_id,
        leg=index,
        legs=legs,
        agenda=agenda,
        event=event.slug,
        count=placement.count,
        in_waiting_list=placement.in_waiting_list,
        start=event.spec.start,
        end=event.end,
        created_at=now,
        gsi1pk=user_key(user) if user else None,
        gsi1sk=_user_sort_key(event.spec.start, sort_id) if user else None,
        gsi2pk=event_bookings_key(agenda, event.slug),
        gsi2sk=sort_id,
        start_time=hours_text(request.start_time),
        end_time=hours_text(request.end_time),
        **_stored_fields(request),
    )


def _meeting_item(
    booking_id: int, index: int, leg: MeetingLeg, request: BookingRequest, legs: int, now: datetime
) -> Booking:
    user = request.user_external_id
    sort_id = _leg_sort_id(booking_id, index)
    return Booking(
        pk=booking_pk(booking_id),
        sk=leg_sk(index),
        booking_id=booking_id,
        leg=index,
        legs=legs,
        agenda=leg.agenda,
        count=1,
        in_waiting_list=False,
        start=leg.start,
        end=leg.end,
        desk=leg.desk,
        meeting_type=leg.meeting_type,
        lock_step=leg.lock_step,
        resources=list(leg.resources) or None,
        color=request.color,
        created_at=now,
        gsi1pk=user_key(user) if user else None,
        gsi1sk=_user_sort_key(leg.start, sort_id) if user else None,
        gsi2pk=meeting_bookings_key(leg.agenda),
        gsi2sk=_user_sort_key(leg.start, sort_id),
        **_stored_fields(request),
    )


LOCK_KEPT = timedelta(days=1)  # after the meeting ends, then DynamoDB's TTL removes the lock


def _lock_free(now: datetime, own: str | None):
    """A cell may be taken: nobody holds it, or a lock code held it and that hold has expired, or it is
    the caller's own hold (its lock code's)."""
    condition = Lock.pk.does_not_exist() | (Lock.held_until <= now)
    return condition | (Lock.hold == own) if own else condition


def _hold_desk(
    tx: Transaction,
    booking_id: int,
    index: int,
    leg: MeetingLeg,
    released: set[str],
    now: datetime,
    own: str | None = None,
    until: datetime | None = None,
) -> None:
    """The leg's lock items (desk, then resources), each put only where no other booking holds
    the cell, and the uses that list the resources' bookings. With `until`, the cells are held by
    the lock code `own` (booking id 0) and listed by its spans instead (`_hold_spans`)."""
    for key, tag in _locks(leg):
        if key in released:  # one write per item in a transaction: a cell the replaced booking holds
            raise ResourceTaken(tag.key) if tag.kind == 'resource' else DeskTaken(leg.agenda, leg.desk)
        if until is None:
            lock = Lock(key, LOCK_SK, booking_id=booking_id, leg=index, expires_at=leg.end + LOCK_KEPT)
        else:
            lock = Lock(key, LOCK_SK, booking_id=0, leg=index, hold=own, held_until=until, expires_at=until + LOCK_KEPT)
        tx.put(lock, condition=_lock_free(now, own), tag=tag)
    for cell in leg.past_cells:  # held by a booking made on an earlier grid of the agenda?
        key = desk_lock_pk(leg.agenda, leg.desk, _utc_key(cell))
        if key in released:  # the replaced booking's, deleted by this transaction
            continue
        tx.check(Lock(key, LOCK_SK), condition=_lock_free(now, own), tag=Tag('lock', leg.desk))
    if until is not None:
        return
    for resource in leg.resources:
        sort_key = _user_sort_key(leg.start, _leg_sort_id(booking_id, index))
        tx.put(
            ResourceUse(
                booking_pk(booking_id),
                _resource_use_sk(index, resource),
                booking_id=booking_id,
                start=leg.start,
                end=leg.end,
                gsi2pk=resource_uses_key(resource),
                gsi2sk=sort_key,
            ),
            tag=Tag('use', resource),
        )


# ---- holds (lock_code, spec §9.9; domain/holds.py) --------------------------------------------------


HOLD_KEPT = timedelta(days=1)  # after `until`, then DynamoDB's TTL removes a hold's items


def _hold_spans(key: str, index: int, leg: MeetingLeg, until: datetime) -> list[HeldSpan]:
    """The items that list a held meeting time beside the bookings it competes with: on the desk's
    agenda, and on each resource."""
    sort_key = f'{_utc_key(leg.start)}#hold#{key}#{index:03d}'

    def span(sk: str, gsi2pk: str, desk: str | None = None) -> HeldSpan:
        return HeldSpan(
            hold_pk(key),
            sk,
            desk=desk,
            gsi2pk=gsi2pk,
            gsi2sk=sort_key,
            expires_at=until + HOLD_KEPT,
            agenda=leg.agenda,
            start=leg.start,
            end=leg.end,
            until=until,
            hold=key,
        )

    spans = [span(f'span#{index:03d}', meeting_bookings_key(leg.agenda), leg.desk)]
    spans += [span(f'res#{index:03d}#{resource}', resource_uses_key(resource)) for resource in leg.resources]
    return spans


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


def _raise_failure(
    failures: list[tuple[Tag, CancellationReason]],
    agenda: str,
    placements: Sequence[Placement | MeetingLeg],
    replaced: list[Leg],
) -> bool:
    """Turn the failed conditions of a booking's (a hold's) transaction into what the caller decides
    again on; False when nothing failed but the new booking's key (an id drawn twice)."""
    if not failures:
        return True
    kinds = {tag.kind for tag, _ in failures}
    if 'agenda' in kinds:
        decision_cache.forget(agenda)
        raise AgendaChanged()
    if 'leg' in kinds:
        raise BookingChanged(
            {tag.booking_id for tag, _ in failures if tag.kind == 'leg' and tag.booking_id is not None}
        )
    if 'hold' in kinds:
        raise HoldChanged()
    if 'user_meetings' in kinds:
        raise UserMeetingsChanged()
    if 'resource' in kinds:
        raise ResourceTaken(next(tag.key for tag, _ in failures if tag.kind == 'resource'))
    if 'lock' in kinds:
        raise DeskTaken(agenda, next(tag.key for tag, _ in failures if tag.kind == 'lock'))
    if 'user' in kinds:
        raise AlreadyBookedByUser(next(tag.key for tag, _ in failures if tag.kind == 'user'))
    if 'event' in kinds:
        placed = {p.event.slug for p in placements if isinstance(p, Placement)}
        if not {tag.key for tag, _ in failures if tag.kind == 'event'} <= placed:
            # an event this write only gives places back to: a replaced leg's event moved, or a hold's
            # entry changed (it expired and was released meanwhile)
            if replaced:
                raise BookingChanged({leg.booking_id for leg in replaced})
            raise HoldChanged()
        raise EventsChanged(_events_found(failures, by_agenda=False))
    return False


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


def _check_size(tx: Transaction) -> None:
    # DynamoDB would refuse more (a ValidationException); one is kept for an idempotent call's answer.
    if len(tx) + 1 > MAX_TRANSACTION_ITEMS:
        raise BadRequest(
            'too many slots',
            f'this booking (with the one it replaces) writes {len(tx)} items, more '
            f'than the {MAX_TRANSACTION_ITEMS} of one transaction: book fewer slots',
        )


def _events_found(failures: list[tuple[Tag, CancellationReason]], by_agenda: bool) -> dict[Any, EventRecord | None]:
    """The events whose counters refused the transaction, as it found them (ALL_OLD): the decision cache
    takes them too."""
    found = {
        (tag.agenda, tag.key) if by_agenda else tag.key: _event_record(Event.from_raw_data(reason.raw_item))
        if reason.raw_item
        else None
        for tag, reason in failures
        if tag.kind == 'event'
    }
    decision_cache.seen(None, None, [record for record in found.values() if record is not None])
    for tag, reason in failures:
        if tag.kind == 'event' and not reason.raw_item and tag.agenda:
            decision_cache.forget(tag.agenda, [tag.key])
    return found


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


# ---- lifecycle ----------------------------------------------------------------------------


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


# ---- changing a booking: PATCH, resize, anonymize (spec §8.4, §8.9, §8.10) ------------------------


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
