"""Reading bookings: a booking's legs, a user's and an event's, the snapshot a fillslot decides on,
and a user's meetings by day. Reads that decide a write are consistent (GetItem, BatchGetItem, Query
on the table); index reads (gsi1, gsi2) are eventually consistent and say so, and where a decision
must not miss anything (an agent's check and cancel) `live_event_legs` makes them complete.
"""

from __future__ import annotations

import time as clock
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime, time, timedelta, timezone

from pynamodb.exceptions import TransactGetError
from pynamodb.transactions import TransactGet

from chalicelib.domain.booking_rules import TEXT_FIELDS, URL_FIELDS, Leg
from chalicelib.domain.event_rules import EventRecord
from chalicelib.domain.holds import HeldEvent, HoldRecord, held_places_total
from chalicelib.domain.meeting_slots import MeetingLeg, utc_days
from chalicelib.domain.specs import MAX_DURATION, AgendaSpec
from chalicelib.errors import Busy
from chalicelib.parsing import SLUG_RE
from chalicelib.store import decision_cache
from chalicelib.store.configuration import _agenda_spec, _event_record, _number, listed_events
from chalicelib.store.models import (
    CONFIG_PREFIX,
    EVENT_PREFIX,
    HOLD_SK,
    LEG_PREFIX,
    LOCK_SK,
    Agenda,
    Booking,
    Event,
    HeldSpan,
    Hold,
    Lock,
    ResourceUse,
    RetentionMark,
    TableItem,
    UserEventBookings,
    UserMeetings,
    agenda_pk,
    booking_pk,
    desk_lock_pk,
    event_bookings_key,
    hold_pk,
    leg_sk,
    meeting_bookings_key,
    resource_uses_key,
    user_event_pk,
    user_key,
    user_meetings_pk,
)
from chalicelib.store.tables import BATCH_GET_KEYS, _bind, _utc_key, connection

STORED_FIELDS = (
    *TEXT_FIELDS,
    *URL_FIELDS,
    'user_external_id',
    'extra_emails',
    'extra_phone_numbers',
    'extra_data',
    'client',
)
USER_COUNT_SK = 'count'
RETENTION_SK = 'retention'


def _leg(item: Booking) -> Leg:
    return Leg(
        booking_id=int(item.booking_id),
        leg=int(item.leg or 0),
        legs=int(item.legs or 1),
        agenda=item.agenda,
        event=item.event,
        count=int(item.count or 1),
        in_waiting_list=bool(item.in_waiting_list),
        start=item.start,
        end=item.end,
        created_at=item.created_at,
        cancelled_at=item.cancelled_at,
        anonymized_at=item.anonymized_at,
        desk=item.desk,
        meeting_type=item.meeting_type,
        lock_step=int(item.lock_step) if item.lock_step else None,
        resources=tuple(item.resources or ()),
        color=item.color,
        user_was_present=item.user_was_present,
        user_absence_reason=item.user_absence_reason,
        user_check_type_slug=item.user_check_type_slug,
        user_check_type_label=item.user_check_type_label,
        fields={name: getattr(item, name) for name in STORED_FIELDS},
        version=int(item.version or 0),
        **{name: _hours(getattr(item, name)) for name in HOURS_FIELDS},
        reminders=tuple(item.reminders or ()),
    )


HOURS_FIELDS = ('start_time', 'end_time', 'check_start_time', 'check_end_time')  # partial bookings, HH:MM


def _hours(text: str | None) -> time | None:
    return time.fromisoformat(text) if text else None


@dataclass
class BookingSnapshot:
    """What a fillslot decides on, read in one BatchGetItem."""

    agenda: AgendaSpec | None
    events: dict[str, EventRecord] = field(default_factory=dict)
    user_bookings: dict[str, int] = field(default_factory=dict)  # event slug -> the user's live bookings
    replaced: list[Leg] = field(default_factory=list)  # the booking named by cancel_booking_id
    hold: HoldRecord | None = None  # the lock code's hold
    # Read from this process's cache rather than the table (`cached_for_booking`): the write must then say
    # that what it was decided from still holds (store.book's `cached`).
    cached: decision_cache.Cached | None = None


def read_for_booking(
    agenda: str,
    slugs: Iterable[str],
    user_external_id: str | None = None,
    replaced_id: int | None = None,
    hold: str | None = None,
) -> BookingSnapshot:
    _bind()
    if not SLUG_RE.match(agenda):
        return BookingSnapshot(agenda=None)
    slugs = [s for s in slugs if SLUG_RE.match(s)]
    keys = [(agenda_pk(agenda), f'{CONFIG_PREFIX}agenda')]
    keys += [(agenda_pk(agenda), f'{EVENT_PREFIX}{s}') for s in slugs]
    if user_external_id:
        keys += [(user_event_pk(agenda, s, user_external_id), USER_COUNT_SK) for s in slugs]
    if replaced_id is not None:
        keys.append((booking_pk(replaced_id), leg_sk(0)))
    if hold is not None:
        keys.append((hold_pk(hold), HOLD_SK))
    snapshot = BookingSnapshot(agenda=None)
    user_counts = {user_event_pk(agenda, s, user_external_id or ''): s for s in slugs}
    version = None
    for item in TableItem.batch_get(keys, consistent_read=True):
        if isinstance(item, Agenda):
            snapshot.agenda = _agenda_spec(item)
            version = _number(item.version)
        elif isinstance(item, Event):
            record = _event_record(item)
            snapshot.events[record.slug] = record
        elif isinstance(item, UserEventBookings):
            snapshot.user_bookings[user_counts[item.pk]] = int(item.bookings or 0)
        elif isinstance(item, Booking):
            snapshot.replaced = [_leg(item)]
        elif isinstance(item, Hold):
            snapshot.hold = _hold_record(item)
    if replaced_id is not None and snapshot.replaced and snapshot.replaced[0].legs > 1:
        snapshot.replaced = get_legs(replaced_id)
    decision_cache.seen(snapshot.agenda, version, snapshot.events.values())
    missing = [s for s in slugs if s not in snapshot.events]
    if missing:
        decision_cache.forget(agenda, missing)
    if snapshot.agenda is None or snapshot.agenda.kind != 'events':
        decision_cache.forget(agenda)
    return snapshot


def cached_for_booking(agenda: str, slugs: Iterable[str]) -> BookingSnapshot | None:
    """What `read_for_booking` would read of an events agenda and its events (not the user's counts, a booking
    to replace nor a hold), from this process's cache, without a call; None when it does not hold all of it,
    young enough (store/decision_cache.py)."""
    cached = decision_cache.lookup(agenda, slugs)
    if cached is None:
        return None
    return BookingSnapshot(agenda=cached.agenda, events=dict(cached.events), cached=cached)


def _hold_record(item: Hold) -> HoldRecord:
    return HoldRecord(
        key=item.pk.split('#', 1)[1],
        until=item.until,
        version=int(item.version or 0),
        events=tuple(
            HeldEvent(e['agenda'], e['event'], int(e['count']), bool(e['waiting'])) for e in item.events or ()
        ),
        meetings=tuple(
            MeetingLeg(
                m['agenda'],
                m['desk'],
                m['meeting_type'],
                parse_utc(m['start']),
                parse_utc(m['end']),
                int(m['lock_step']),
                tuple(m['resources']),
                tuple(int(p) for p in m['past_steps']),
            )
            for m in item.meetings or ()
        ),
        spans=tuple(item.spans or ()),
    )


def get_hold(key: str) -> HoldRecord | None:
    """A lock code's hold (by its digest), read consistently, expired or not; None when there is none."""
    _bind()
    try:
        return _hold_record(Hold.get(hold_pk(key), HOLD_SK, consistent_read=True))
    except Hold.DoesNotExist:
        return None


def get_legs(booking_id: int) -> list[Leg]:
    """Every leg of a booking, primary first; [] when there is no such booking."""
    _bind()
    items = Booking.query(booking_pk(booking_id), Booking.sk.startswith(LEG_PREFIX), consistent_read=True)
    return sorted((_leg(i) for i in items), key=lambda leg: leg.leg)


def _time_range(start: datetime | None, end: datetime | None) -> tuple[str, str] | None:
    """Sort-key bounds for keys that begin with a UTC time; None when [start, end) is empty
    (DynamoDB refuses BETWEEN with bounds in the wrong order, and empty key values)."""
    if start is not None and end is not None and start >= end:
        return None
    return (_utc_key(start) if start else '0', _utc_key(end) if end else '~')


def user_legs(user_external_id: str, start: datetime | None = None, end: datetime | None = None) -> list[Leg]:
    """A user's legs starting in [start, end), by start time (gsi1, eventually consistent)."""
    _bind()
    bounds = _time_range(start, end)
    if bounds is None:
        return []
    return [
        _leg(i)
        for i in Booking.by_gsi1.query(user_key(user_external_id), Booking.gsi1sk.between(*bounds))
        if isinstance(i, Booking) and (end is None or i.start < end)
    ]


def user_meetings(user_external_id: str, start: datetime, end: datetime) -> list[Leg]:
    """A user's live meetings, in any agenda, that may overlap [start, end) (one may have started
    up to the longest meeting allowed before `start`)."""
    return [
        leg
        for leg in user_legs(user_external_id, start - timedelta(minutes=MAX_DURATION), end)
        if leg.meeting_type is not None and not leg.cancelled and leg.end is not None and leg.end > start
    ]


def events_between(agenda: str, start: datetime | None, end: datetime | None) -> list[EventRecord]:
    """Events of an agenda starting in [start, end), by start time, without the recurring primaries, as
    the listings' index holds them (configuration.listed_events: eventually consistent, and without
    `counters_version`)."""
    return listed_events(agenda, start, end)


def _held(span: HeldSpan) -> Leg:
    """A meeting time held by a lock code, as the bookings it competes with are read (booking id 0)."""
    return Leg(0, 0, 1, span.agenda, None, 1, False, span.start, span.end, span.start, desk=span.desk)


def _holds_others(item: TableItem, now: datetime | None, hold: str | None) -> bool:
    """A held span that keeps its time from the caller: live at `now`, and not the caller's own."""
    return isinstance(item, HeldSpan) and now is not None and item.until > now and item.hold != hold


def meeting_legs(
    agenda: str,
    start: datetime,
    end: datetime,
    lookback: timedelta,
    now: datetime | None = None,
    hold: str | None = None,
) -> list[Leg]:
    """Live meeting legs of an agenda's desks that may overlap [start, end): one Query of gsi2
    `MEETINGS#<agenda>` by start time, whatever the number of desks (eventually consistent:
    the desk locks, not this read, keep two bookings off one desk's time). A leg that started
    up to `lookback` (the longest meeting) before `start` may still overlap. With `now`, the times
    lock codes hold then (but the caller's own, `hold`) come as legs of booking 0."""
    _bind()
    bounds = _time_range(start - lookback, end)
    if bounds is None:
        return []
    legs = []
    # Through the base model: the index lists both bookings and held spans (a subclass would filter).
    for item in TableItem.by_gsi2.query(meeting_bookings_key(agenda), TableItem.gsi2sk.between(*bounds)):
        if isinstance(item, Booking) and item.cancelled_at is None and item.end and item.end > start:
            legs.append(_leg(item))
        elif _holds_others(item, now, hold) and item.end > start:
            legs.append(_held(item))
    return legs


def resource_uses(
    resources: Iterable[str],
    start: datetime,
    end: datetime,
    now: datetime | None = None,
    hold: str | None = None,
) -> list[tuple[datetime, datetime]]:
    """When the resources are booked (in any agenda) over [start, end): one Query of gsi2
    `RESOURCE#<slug>` per resource (eventually consistent: their lock items guard the writes).
    A use may have started up to the longest meeting allowed before `start`. With `now`, the times
    lock codes hold then too (but the caller's own, `hold`)."""
    _bind()
    bounds = _time_range(start - timedelta(minutes=MAX_DURATION), end)
    if bounds is None:
        return []
    uses = []
    for resource in resources if bounds else ():
        for item in TableItem.by_gsi2.query(resource_uses_key(resource), TableItem.gsi2sk.between(*bounds)):
            if (isinstance(item, ResourceUse) or _holds_others(item, now, hold)) and item.end > start:
                uses.append((item.start, item.end))
    return uses


# ---- a user's meetings by day (exclude_user as a condition) -------------------------------------


def span_text(booking_id: int, leg: int, start: datetime, end: datetime) -> str:
    return f'{_utc_key(start)}|{_utc_key(end)}|{booking_id}#{leg:03d}'


@dataclass(frozen=True)
class UserDays:
    """A user's meetings on some UTC days, read consistently: per day, the version read (None: no
    item yet) and the spans held."""

    user: str
    versions: dict[str, int | None]
    spans: dict[str, frozenset[str]]

    def meetings(self) -> list[tuple[int, datetime, datetime]]:
        """(booking id, start, end) of every meeting held on these days."""
        found = {}
        for spans in self.spans.values():
            for span in spans:
                start, end, ident = span.split('|')
                found[ident] = (int(ident.split('#')[0]), parse_utc(start), parse_utc(end))
        return sorted(found.values(), key=lambda meeting: meeting[1])


def parse_utc(key: str) -> datetime:
    return datetime.strptime(key, '%Y-%m-%dT%H:%M:%SZ').replace(tzinfo=timezone.utc)


def user_meeting_days(user_external_id: str, start: datetime, end: datetime) -> UserDays:
    """The user's meetings on the UTC days that [start, end) touches (one consistent BatchGetItem).
    Every meeting that overlaps [start, end) is among them: a meeting is listed on each day it
    touches."""
    _bind()
    days = utc_days(start, end)
    pk = user_meetings_pk(user_external_id)
    versions: dict[str, int | None] = dict.fromkeys(days)
    spans: dict[str, frozenset[str]] = {day: frozenset() for day in days}
    for item in UserMeetings.batch_get([(pk, day) for day in days], consistent_read=True):
        versions[item.sk] = int(item.version or 0)
        spans[item.sk] = frozenset(item.spans or ())
    return UserDays(user_external_id, versions, spans)


@dataclass(frozen=True)
class MeetingSnapshot:
    """What a meetings fillslot decides on, read in one consistent BatchGetItem when it must read the user's
    days or the booking it replaces: which of its desks' lock cells are held (desk, cell start), the user's
    days (None: no user), and the legs of the booking to replace ([]: none named, or no such booking)."""

    held: frozenset[tuple[str, datetime]]
    days: UserDays | None
    replaced: list[Leg]


def read_for_meeting(
    agenda: str,
    cells: dict[str, list[datetime]],
    user: str | None,
    start: datetime,
    end: datetime,
    replaced_id: int | None,
    now: datetime,
    hold: str | None = None,
) -> MeetingSnapshot | None:
    """The desks' lock cells `cells` (desk -> cell starts), the user's meetings on the UTC days of [start, end)
    and leg 000 of the booking `replaced_id` (all of its legs when it has several: one Query more), in one
    consistent BatchGetItem; None when they are more keys than one BatchGetItem reads (the caller reads the
    agenda's legs instead). A cell a lock code holds is free once its hold has expired at `now`, and to that
    lock code (`hold`) itself."""
    _bind()
    locks = {desk_lock_pk(agenda, desk, _utc_key(cell)): (desk, cell) for desk in cells for cell in cells[desk]}
    days = utc_days(start, end) if user else []
    if len(locks) + len(days) + (replaced_id is not None) > BATCH_GET_KEYS:
        return None
    keys = [(key, LOCK_SK) for key in locks]
    keys += [(user_meetings_pk(user or ''), day) for day in days]
    if replaced_id is not None:
        keys.append((booking_pk(replaced_id), leg_sk(0)))
    held = set()
    versions: dict[str, int | None] = dict.fromkeys(days)
    spans: dict[str, frozenset[str]] = {day: frozenset() for day in days}
    replaced: list[Leg] = []
    for item in TableItem.batch_get(keys, consistent_read=True):
        if isinstance(item, Lock) and not _held_lock_free(item, now, hold):
            held.add(locks[item.pk])
        elif isinstance(item, UserMeetings):
            versions[item.sk] = int(item.version or 0)
            spans[item.sk] = frozenset(item.spans or ())
        elif isinstance(item, Booking):
            replaced = [_leg(item)]
    if replaced and replaced[0].legs > 1 and replaced_id is not None:
        replaced = get_legs(replaced_id)
    return MeetingSnapshot(frozenset(held), UserDays(user, versions, spans) if user else None, replaced)


def _held_lock_free(lock: Lock, now: datetime, hold: str | None) -> bool:
    """A desk cell held by a lock code that the caller may take: the hold expired, or it is the caller's."""
    return lock.hold is not None and (lock.held_until is None or lock.held_until <= now or lock.hold == hold)


def event_legs(agenda: str, event: str) -> list[Leg]:
    """The legs booked on an event that the index shows live (gsi2 `EVENT#<agenda>#<event>`, in
    booking order). Eventually consistent: see `live_event_legs` for a complete list."""
    _bind()
    items = Booking.by_gsi2.query(event_bookings_key(agenda, event))
    return [_leg(i) for i in items if isinstance(i, Booking) and i.cancelled_at is None]


def legs_by_key(keys: Iterable[tuple[int, int]]) -> list[Leg]:
    """Legs by (booking id, leg), read consistently (BatchGetItem); absent ones are left out."""
    _bind()
    wanted = sorted(set(keys))
    if not wanted:
        return []
    items = Booking.batch_get([(booking_pk(b), leg_sk(n)) for b, n in wanted], consistent_read=True)
    return sorted((_leg(i) for i in items), key=lambda leg: (leg.booking_id, leg.leg))


INDEX_PATIENCE = (0.05, 0.1, 0.2, 0.4, 0.8, 1.6, 3.2)  # seconds between reads while the index catches up


def live_event_legs(
    agenda: str, event: str, patience: tuple[float, ...] | None = None
) -> tuple[EventRecord, list[Leg]] | None:
    """Every live leg of an event, complete and as it is now, although its list comes from an
    eventually consistent index: the legs the index lists are read again consistently, and the
    list is taken only when the live places they hold equal the event's counters, and the counters
    did not move (`counters_version`) between a read before and a read after. Every booking write
    that changes the event's legs moves its counters, so nothing can hide in between. None when
    the event is gone; Busy if the index stays behind (or the event keeps changing) too long."""
    for pause in (*(INDEX_PATIENCE if patience is None else patience), None):
        before = get_events([(agenda, event)]).get((agenda, event))
        if before is None:
            return None
        listed = [(leg.booking_id, leg.leg) for leg in event_legs(agenda, event)]
        legs = [leg for leg in legs_by_key(listed) if not leg.cancelled and leg.event == event]
        after = get_events([(agenda, event)]).get((agenda, event))
        if after is None:
            return None
        main = sum(leg.count for leg in legs if not leg.in_waiting_list)
        waiting = sum(leg.count for leg in legs if leg.in_waiting_list)
        held_main, held_waiting = held_places_total(after)  # in the counters too, though no leg holds them
        if before.counters_version == after.counters_version and (main + held_main, waiting + held_waiting) == (
            after.reserved,
            after.waiting_list_reserved,
        ):
            return after, legs
        if pause is not None:
            clock.sleep(pause)
    raise Busy('busy', 'the bookings of this event keep changing: try again')


SNAPSHOT_ITEMS = 100  # what one TransactGetItems reads at most


def waiting_legs(
    agenda: str, event: str, patience: tuple[float, ...] | None = None
) -> tuple[EventRecord, list[Leg]] | None:
    """An event and its live waiting legs as they all were at one instant (a promotion decides on them):
    the index (eventually consistent) names the legs, one TransactGetItems reads them with the event (a
    read serializable with the booking transactions: no write lands between two of its items), and the
    list is taken when the places they hold equal the event's waiting counter at that instant (a leg the
    index missed would leave it short). None when the event is gone; more than 99 waiting legs: read as
    `live_event_legs` does; Busy if the index stays behind too long."""
    for pause in (*(INDEX_PATIENCE if patience is None else patience), None):
        listed = [(leg.booking_id, leg.leg) for leg in event_legs(agenda, event) if leg.in_waiting_list]
        if len(listed) >= SNAPSHOT_ITEMS:
            found = live_event_legs(agenda, event, patience)
            return None if found is None else (found[0], [leg for leg in found[1] if leg.in_waiting_list])
        try:
            with TransactGet(connection=connection()) as snapshot:
                item = snapshot.get(Event, agenda_pk(agenda), f'{EVENT_PREFIX}{event}')
                futures = [snapshot.get(Booking, booking_pk(b), leg_sk(n)) for b, n in listed]
        except TransactGetError:  # a transaction on one of them in flight: read again
            pass
        else:
            try:
                record = _event_record(item.get())
            except Event.DoesNotExist:
                return None
            legs = []
            for future in futures:
                try:
                    leg = _leg(future.get())
                except Booking.DoesNotExist:
                    continue
                if not leg.cancelled and leg.in_waiting_list and leg.event == event:
                    legs.append(leg)
            if sum(leg.count for leg in legs) == record.waiting_list_reserved:
                return record, legs
        if pause is not None:
            clock.sleep(pause)
    raise Busy('busy', 'the bookings of this event keep changing: try again')


def get_events(keys: Iterable[tuple[str, str]]) -> dict[tuple[str, str], EventRecord]:
    """Events by (agenda, slug), read consistently in BatchGetItems; absent ones are left out."""
    _bind()
    wanted = sorted(set(keys))
    if not wanted:
        return {}
    items = Event.batch_get([(agenda_pk(a), f'{EVENT_PREFIX}{s}') for a, s in wanted], consistent_read=True)
    records = (_event_record(item) for item in items)
    return {(record.agenda, record.slug): record for record in records}


def booking_ids_starting(agenda: str, kind: str, start: datetime | None, end: datetime) -> list[tuple[datetime, int]]:
    """(start, booking id) of every leg of an agenda starting in [start, end), live, cancelled or
    anonymised, by start time (gsi2: events by start, then each event's legs; meetings by start): the
    candidates of the retention job, which reads each booking again consistently before it writes."""
    _bind()
    bounds = _time_range(start, end)
    if bounds is None:
        return []
    found: list[tuple[datetime, int]] = []
    if kind == 'events':
        for record in events_between(agenda, start, end):
            found += [
                (record.spec.start, int(i.booking_id))
                for i in Booking.by_gsi2.query(event_bookings_key(agenda, record.slug))
                if isinstance(i, Booking)
            ]
    else:
        items = Booking.by_gsi2.query(meeting_bookings_key(agenda), Booking.gsi2sk.between(*bounds))
        found += [(i.start, int(i.booking_id)) for i in items if isinstance(i, Booking) and i.start < end]
    return sorted(set(found))


def retention_mark(agenda: str) -> datetime | None:
    """How far the retention job has looked at an agenda's bookings (consistent read)."""
    _bind()
    try:
        return RetentionMark.get(agenda_pk(agenda), RETENTION_SK, consistent_read=True).until
    except RetentionMark.DoesNotExist:
        return None
