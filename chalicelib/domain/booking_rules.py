"""Bookings of events: what a fillslot asks, where its places go, how a booking is shown
(the seed document; spec chrono-api.md §6.1-6.2, §8.3-8.8, §9.2-9.4). No I/O here.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime, time
from typing import Any
from zoneinfo import ZoneInfo

from chalicelib.domain.event_rules import EventRecord, is_bookable, is_recurring_primary
from chalicelib.domain.holds import MAX_LOCK_CODE, MAX_RELEASED, HeldPlaces, hold_key, releasable, without
from chalicelib.domain.partial_bookings import check_hours
from chalicelib.domain.places import Places, goes_to_waiting_list
from chalicelib.domain.specs import MAX_PLACES, AgendaSpec
from chalicelib.errors import BadRequest, BusinessError, InvalidPayload, NotFound
from chalicelib.parsing import Payload, is_blank, nesting_depth, to_int

EVENTS_CHOICES = ('future', 'past', 'all')
# What a booking stores as given (seed parameters), with their length limits.
TEXT_FIELDS = (
    'label',
    'user_display_label',
    'user_name',
    'user_first_name',
    'user_last_name',
    'user_email',
    'user_phone_number',
    'sms_counter',
)
URL_FIELDS = ('backoffice_url', 'form_url', 'cancel_callback_url', 'presence_callback_url', 'absence_callback_url')
MAX_TEXT = 1000
MAX_URL = 2048
MAX_USER_ID = 250  # part of DynamoDB keys
MAX_EXTRA_CONTACTS = 50
MAX_CONTACT = 254  # an e-mail address at most (RFC 5321)
MAX_EXTRA_DATA = 32_000  # bytes of JSON
MAX_EXTRA_DEPTH = 32  # nesting of the extra keys' values (a JSON document may nest far deeper)
# With every field at its limit in 4-byte characters a leg stays near 210 KB (DynamoDB: 400 KB an item,
# 4 MB a transaction, which holds at most MAX_GROUP_EVENTS legs).
# Keys that steer the call rather than describe the booking: never stored in `extra_data`.
CONTROL_KEYS = (
    'cancel_booking_id',
    'count',
    'exclude_user',
    'bypass_delays',
    'events',
    'force_waiting_list',
    'slots',
    'lock_code',
    'confirm_after_lock',
    'use_color_for',
    'resources',
)


@dataclass(frozen=True)
class BookingRequest:
    """A fillslot body, read leniently (w.c.s. sends "2", "true", "")."""

    count: int = 1
    exclude_user: bool = False
    bypass_delays: bool = False
    force_waiting_list: bool = False
    events: str = 'future'
    cancel_booking_id: int | None = None
    user_external_id: str | None = None
    color: str | None = None  # use_color_for (meetings)
    resources: tuple[str, ...] = ()  # meetings: resources to book with the slot
    lock_code: str | None = None  # spec §9.9: hold (or, with confirm_after_lock, confirm) for this code
    confirm_after_lock: bool = False
    # Stored as given: TEXT_FIELDS, URL_FIELDS, extra_emails, extra_phone_numbers, extra_data.
    fields: dict[str, Any] = field(default_factory=dict)
    # Booked through `subscribed=`: (agenda, version of the user's subscription periods read); the
    # booking holds only while they are unchanged (store.book_each checks them).
    subscriptions: tuple[tuple[str, int], ...] = ()
    # Agendas with partial bookings: the hours booked inside the event (domain/partial_bookings.py).
    start_time: time | None = None
    end_time: time | None = None

    @property
    def hold(self) -> str | None:
        """The lock code's digest when this call holds or confirms (domain/holds.py), else None."""
        return hold_key(self.lock_code) if self.lock_code else None

    @property
    def holding(self) -> bool:
        """This call takes a hold rather than a booking."""
        return bool(self.lock_code) and not self.confirm_after_lock


def _read_count(p: Payload) -> int:
    p.read.add('count')
    value = p.data.get('count')
    if is_blank(value):
        return 1
    try:
        count = to_int(value, maximum=MAX_PLACES)
    except ValueError:
        shown = value if isinstance(value, (str, int, float)) and len(str(value)) <= 100 else '...'
        raise BadRequest(f'invalid value for count ({shown})') from None
    if count <= 0:
        raise BadRequest('count cannot be less than or equal to zero')
    return count


def _read_cancel_booking_id(p: Payload) -> int | None:
    p.read.add('cancel_booking_id')
    value = p.data.get('cancel_booking_id')
    if is_blank(value):
        return None
    try:
        return to_int(value, minimum=0, maximum=2**63 - 1)
    except ValueError:
        raise BadRequest('cancel_booking_id is not an integer') from None


def _read_contacts(p: Payload, name: str) -> list[str] | None:
    contacts = p.list(name)  # stripped, blanks dropped (to_list)
    if contacts is None:
        return None
    if len(contacts) > MAX_EXTRA_CONTACTS or any(len(v) > MAX_CONTACT for v in contacts):
        p.error(name, f'Ensure this list has no more than {MAX_EXTRA_CONTACTS} values of {MAX_CONTACT} characters.')
    return contacts or None


def read_booking_request(p: Payload, client: str | None = None) -> BookingRequest:
    """Every seed parameter; any other key goes to `extra_data` (spec §6.1). `client` (auth.Caller.client)
    is stored with the booking: it owns the booking's callbacks (design.md §3.2)."""
    count = _read_count(p)
    cancel_booking_id = _read_cancel_booking_id(p)
    fields: dict[str, Any] = {}
    for name in TEXT_FIELDS:
        fields[name] = p.str(name, max_length=MAX_TEXT)  # never checked for format: w.c.s. sends "nothing"
    for name in URL_FIELDS:
        fields[name] = p.url(name, max_length=MAX_URL)  # the form only, any host (design.md §3.6 point 9)
    user_external_id = p.str('user_external_id', max_length=MAX_USER_ID)
    fields['user_external_id'] = user_external_id
    fields['extra_emails'] = _read_contacts(p, 'extra_emails')
    fields['extra_phone_numbers'] = _read_contacts(p, 'extra_phone_numbers')
    fields['client'] = client
    request = BookingRequest(
        count=count,
        exclude_user=p.bool('exclude_user'),
        bypass_delays=p.bool('bypass_delays'),
        force_waiting_list=p.bool('force_waiting_list'),
        events=p.choice('events', EVENTS_CHOICES, default='future'),
        cancel_booking_id=cancel_booking_id,
        user_external_id=user_external_id,
        color=p.str('use_color_for', max_length=MAX_TEXT),
        resources=tuple(p.list('resources') or ()),
        lock_code=p.str('lock_code', max_length=MAX_LOCK_CODE),
        confirm_after_lock=p.bool('confirm_after_lock'),
        fields=fields,
        start_time=p.time('start_time'),
        end_time=p.time('end_time'),
    )
    p.read.update(CONTROL_KEYS)
    extra_data = p.unread()
    if nesting_depth(extra_data) > MAX_EXTRA_DEPTH + 1:
        p.error('non_field_errors', f'The extra keys (extra_data) nest deeper than {MAX_EXTRA_DEPTH} levels.')
    elif len(json.dumps(extra_data, ensure_ascii=False).encode('utf-8')) > MAX_EXTRA_DATA:
        p.error('non_field_errors', f'The extra keys (extra_data) exceed {MAX_EXTRA_DATA} bytes.')
    p.check()
    fields['extra_data'] = extra_data or None
    return request


# ---- placing a booking ------------------------------------------------------------------------


def already_booked(event: str) -> BusinessError:
    return BusinessError('event is already booked by user', f'event {event} is already booked by user')


def check_bookable(
    agenda: AgendaSpec, event: EventRecord, now: datetime, tz: ZoneInfo, request: BookingRequest
) -> None:
    spec = event.spec
    if spec.cancelled:
        raise BusinessError('event is cancelled', f'event {spec.slug} is cancelled')
    if is_recurring_primary(spec):
        raise BusinessError(f'event {spec.slug} is recurrent, direct booking is forbidden')
    if not is_bookable(agenda, spec, now, tz, request.bypass_delays, request.events):
        raise BusinessError('event not bookable', f'event {spec.slug} is not bookable')


@dataclass(frozen=True)
class Placement:
    """A decision to write: `count` places of `event` in one list, valid while the event's
    counters still allow it (the store turns that into the transaction's condition)."""

    event: EventRecord  # as the decision counted it: minus `released`
    count: int
    in_waiting_list: bool
    forced: bool = False
    released: tuple[HeldPlaces, ...] = ()  # holds on the event this write gives back (expired, or its own)
    hold: HeldPlaces | None = None  # the places are held by a lock code, not booked
    # The caller's live hold of as many places is confirmed (or renewed) in its list: it was there before
    # anyone who waits since, so the "somebody waits" rule does not move it.
    kept: bool = False

    def places_after(self, replaced: Sequence[Leg] = ()) -> Places:
        """The event's places once this booking is written and `replaced` cancelled."""
        changes = [(self.in_waiting_list, self.count)] + [
            (leg.in_waiting_list, -leg.count)
            for leg in replaced
            if (leg.agenda, leg.event) == (self.event.agenda, self.event.slug)
        ]
        reserved, waiting = self.event.reserved, self.event.waiting_list_reserved
        for in_waiting_list, delta in changes:
            if in_waiting_list:
                waiting += delta
            else:
                reserved += delta
        p = self.event.places
        return Places(p.total, reserved, p.waiting_list_total, waiting)


def place(
    agenda: AgendaSpec,
    event: EventRecord,
    request: BookingRequest,
    now: datetime,
    tz: ZoneInfo,
    booked_by_user: bool = False,
) -> Placement:
    """Where the booking goes on `event`, or the refusal, checked in Chrono's order: bookable,
    not already booked by the user (`exclude_user`), room in a list. The places of expired holds, and
    of the caller's own hold (its `lock_code`), count as free: the write gives them back."""
    check_bookable(agenda, event, now, tz, request)
    check_hours(agenda, event, request.start_time, request.end_time, tz)
    if booked_by_user and request.exclude_user and request.user_external_id:
        raise already_booked(event.slug)
    released = releasable(event, now, request.hold, MAX_RELEASED)
    event = without(event, released)
    own = next((h for h in released if h.key == request.hold and not h.expired(now)), None)
    kept = own is not None and request.count <= own.count and not request.force_waiting_list
    if own is not None and kept:
        waiting = own.in_waiting_list  # the confirmation keeps its hold's list
    else:
        waiting = goes_to_waiting_list(event.places, request.count, request.force_waiting_list)
    return Placement(
        event=event,
        count=request.count,
        in_waiting_list=waiting,
        forced=request.force_waiting_list,
        released=released,
        kept=kept,
    )


def as_hold(placement: Placement, key: str, until: datetime) -> Placement:
    """The placement held by a lock code until `until` instead of booked."""
    return replace(placement, hold=HeldPlaces(key, placement.count, placement.in_waiting_list, until))


# ---- bookings as stored --------------------------------------------------------------------


@dataclass(frozen=True)
class Leg:
    """One event of a booking (a plain fillslot has one leg; a `fillslots` group several)."""

    booking_id: int
    leg: int
    legs: int
    agenda: str
    event: str | None
    count: int
    in_waiting_list: bool
    start: datetime
    end: datetime | None
    created_at: datetime
    cancelled_at: datetime | None = None
    anonymized_at: datetime | None = None
    desk: str | None = None
    meeting_type: str | None = None
    lock_step: int | None = None
    resources: tuple[str, ...] = ()
    color: str | None = None
    user_was_present: bool | None = None
    user_absence_reason: str | None = None
    user_check_type_slug: str | None = None
    user_check_type_label: str | None = None
    fields: dict[str, Any] = field(default_factory=dict)
    version: int = 0  # moved on by every write: a write decided on this leg holds only while it is unchanged
    # Partial bookings: the hours booked, and the real arrival and departure recorded with the attendance.
    start_time: time | None = None
    end_time: time | None = None
    check_start_time: time | None = None
    check_end_time: time | None = None
    reminders: tuple[str, ...] = ()  # the kinds of the reminders written with it (domain/reminder_rules.py)

    @property
    def cancelled(self) -> bool:
        return self.cancelled_at is not None

    @property
    def user_external_id(self) -> str | None:
        return self.fields.get('user_external_id')

    @property
    def event_slug(self) -> str:
        """The event of a leg known to book one: only a meeting's leg has none, and the code that
        changes events' places keeps those out first (require_events_booking, check_resizable...)."""
        if self.event is None:
            raise ValueError(f'booking {self.booking_id} is a meeting: its leg {self.leg} has no event')
        return self.event


def check_replaceable(legs: list[Leg], count: int) -> list[Leg]:
    """`cancel_booking_id` (spec §9.4): the booking to replace exists, is live, and holds as
    many places as the new one."""
    if not legs:
        raise BusinessError('cancel booking: booking does not exist')
    live = require_live(legs, 'cancel booking: booking already cancelled')
    if live[0].count != count:
        raise BusinessError('cancel booking: count is different')
    return live


def require_live(legs: list[Leg], err_class: str = 'booking is cancelled') -> list[Leg]:
    """The legs still live. A booking is cancelled when all of them are: an agent who cancels an
    event cancels that event's leg of a group, and the rest of the group lives on."""
    live = [leg for leg in legs if not leg.cancelled]
    if not live:
        raise BusinessError(err_class)
    return live


def require_events_booking(legs: list[Leg]) -> None:
    """accept and suspend exist for events agendas only (meetings have no waiting list)."""
    if legs[0].meeting_type is not None:
        raise NotFound('not found', 'accept and suspend apply to events bookings only')


def invalid_slots(unknown: list[str]) -> BadRequest:
    return BadRequest(f'invalid slugs: {", ".join(unknown)}')


def read_slots(p: Payload, max_slots: int) -> list[str]:
    """`slots` of a fillslots call: a list or a comma-joined string, in the given order."""
    slots = p.list('slots') or []
    p.check()
    slots = list(dict.fromkeys(slots))  # to_list has stripped them and dropped the blank ones
    if not slots:
        raise BadRequest('slots list cannot be empty')
    if len(slots) > max_slots:
        raise InvalidPayload({'slots': [f'Ensure this list has no more than {max_slots} slots.']})
    return slots
