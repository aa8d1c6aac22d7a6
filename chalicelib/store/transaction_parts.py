"""The parts every write on bookings and events builds its transaction from: the conditions that carry the
capacity rule (docs/table-design.md, spec chrono-api.md §9.2-9.4), `_write_leg` (every change of a leg is
conditioned on the leg as it was read), `_Shared` (one update per event and per user count, whatever the number of
legs), the items of a booking, and the Stale family the use cases decide again on. The writes themselves are in
booking_writes (new bookings), hold_writes (lock codes) and leg_changes (a booking's lifecycle)."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import datetime, timedelta, timezone
from typing import Any

from pynamodb.exceptions import CancellationReason

from chalicelib.domain.booking_rules import BookingRequest, Leg, Placement
from chalicelib.domain.event_rules import EventRecord
from chalicelib.domain.holds import HeldPlaces
from chalicelib.domain.meeting_slots import MeetingLeg, lock_cells, resource_step, utc_days
from chalicelib.domain.partial_bookings import hours_text
from chalicelib.domain.promotion_rules import Promotion
from chalicelib.domain.reminder_rules import ReminderPlan
from chalicelib.errors import BadRequest
from chalicelib.store import decision_cache, outbox
from chalicelib.store.configuration import _event_record
from chalicelib.store.legs import STORED_FIELDS, USER_COUNT_SK, UserDays, span_text
from chalicelib.store.models import (
    EVENT_PREFIX,
    LOCK_SK,
    Booking,
    Event,
    HeldSpan,
    Lock,
    ResourceUse,
    UserEventBookings,
    UserMeetings,
    agenda_pk,
    booking_pk,
    desk_lock_pk,
    event_bookings_key,
    hold_pk,
    leg_sk,
    meeting_bookings_key,
    resource_lock_pk,
    resource_uses_key,
    user_event_pk,
    user_key,
    user_meetings_pk,
)
from chalicelib.store.tables import MAX_TRANSACTION_ITEMS, Tag, Transaction, _utc_key

USER_DAYS_KEPT = timedelta(days=2)  # after the day, then DynamoDB's TTL removes the item
LOCK_KEPT = timedelta(days=1)  # after the meeting ends, then DynamoDB's TTL removes the lock
HOLD_KEPT = timedelta(days=1)  # after `until`, then DynamoDB's TTL removes a hold's items


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


def _leg_fields(
    booking_id: int, index: int, legs: int, start: datetime, request: BookingRequest, now: datetime
) -> dict[str, Any]:
    """What every leg item holds, of an event or a meeting: its key, its place in its user's bookings (gsi1)
    and the fields of the request it keeps (None: not given)."""
    user = request.user_external_id
    return {
        'pk': booking_pk(booking_id),
        'sk': leg_sk(index),
        'booking_id': booking_id,
        'leg': index,
        'legs': legs,
        'start': start,
        'created_at': now,
        'gsi1pk': user_key(user) if user else None,
        'gsi1sk': _user_sort_key(start, _leg_sort_id(booking_id, index)) if user else None,
        **{name: request.fields.get(name) for name in STORED_FIELDS},
    }


def _booking_item(
    booking_id: int, index: int, agenda: str, placement: Placement, request: BookingRequest, legs: int, now: datetime
) -> Booking:
    event = placement.event
    return Booking(
        **_leg_fields(booking_id, index, legs, event.spec.start, request, now),
        agenda=agenda,
        event=event.slug,
        count=placement.count,
        in_waiting_list=placement.in_waiting_list,
        end=event.end,
        gsi2pk=event_bookings_key(agenda, event.slug),
        gsi2sk=_leg_sort_id(booking_id, index),
        start_time=hours_text(request.start_time),
        end_time=hours_text(request.end_time),
    )


def _meeting_item(
    booking_id: int, index: int, leg: MeetingLeg, request: BookingRequest, legs: int, now: datetime
) -> Booking:
    return Booking(
        **_leg_fields(booking_id, index, legs, leg.start, request, now),
        agenda=leg.agenda,
        count=1,
        in_waiting_list=False,
        end=leg.end,
        desk=leg.desk,
        meeting_type=leg.meeting_type,
        lock_step=leg.lock_step,
        resources=list(leg.resources) or None,
        color=request.color,
        gsi2pk=meeting_bookings_key(leg.agenda),
        gsi2sk=_user_sort_key(leg.start, _leg_sort_id(booking_id, index)),
    )


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
