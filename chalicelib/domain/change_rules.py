"""Changing a booking after it is made, and listing a user's bookings (spec chrono-api.md §8.1, §8.4,
§8.9): what a PATCH asks, whether a resize fits, how a listed booking looks. No I/O here.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

from chalicelib.domain.booking_rules import MAX_EXTRA_DATA, MAX_EXTRA_DEPTH, MAX_TEXT, Leg
from chalicelib.domain.event_rules import EventRecord
from chalicelib.domain.partial_bookings import CHECK_HOURS, hours_text
from chalicelib.domain.specs import MAX_PLACES, AgendaSpec
from chalicelib.errors import BadRequest, BusinessError, InvalidPayload
from chalicelib.parsing import Payload, is_blank, nesting_depth, to_bool, to_int

PATCH_ERR = 4  # spec §8.4: a PATCH's invalid payload carries err 4
# Attendance: refused on a waiting-list booking (err 3) or a locked event (err 6).
ATTENDANCE = (
    'user_was_present',
    'user_absence_reason',
    'user_check_type_slug',
    'user_check_type_label',
    'check_start_time',
    'check_end_time',
)
CHECK_TYPE = ('user_check_type_slug', 'user_check_type_label')


@dataclass(frozen=True)
class PatchRequest:
    """What a PATCH changes: attributes of every leg (None clears one) and keys merged into extra_data."""

    values: dict[str, Any] = field(default_factory=dict)
    extra_data: dict[str, Any] = field(default_factory=dict)

    @property
    def attendance(self) -> bool:
        return any(name in self.values for name in ATTENDANCE)


def _patch_error(errors: dict[str, list[str]]) -> InvalidPayload:
    error = InvalidPayload(errors)
    error.err = PATCH_ERR
    return error


def absence_reason(agenda: AgendaSpec | None, value: str) -> str | None:
    """The label of the agenda's absence reason named by its slug or its label, else None."""
    for slug, label in agenda.absence_reasons if agenda else ():
        if value in (slug, label):
            return label
    return None


def read_patch(p: Payload, agenda: AgendaSpec | None) -> PatchRequest:
    """`PATCH /api/booking/<id>/` (spec §8.4). A key given blank or null clears its value;
    `user_absence_reason` must name one of the agenda's absence reasons (slug or label) and is
    stored as its label; every other key is merged into extra_data."""
    values: dict[str, Any] = {}
    data = p.data
    if 'user_was_present' in data:
        p.read.add('user_was_present')
        raw = data['user_was_present']
        try:
            values['user_was_present'] = None if is_blank(raw) else to_bool(raw)
        except ValueError as exc:
            p.error('user_was_present', str(exc))
    if 'user_absence_reason' in data:
        reason = p.str('user_absence_reason', max_length=MAX_TEXT)
        label = absence_reason(agenda, reason) if reason is not None else None
        if reason is not None and label is None and 'user_absence_reason' not in p.errors:
            p.error('user_absence_reason', 'unknown absence reason for this agenda')
        values['user_absence_reason'] = label
    for name in CHECK_TYPE:
        if name in data:
            values[name] = p.str(name, max_length=MAX_TEXT)
    if 'use_color_for' in data:
        values['color'] = p.str('use_color_for', max_length=MAX_TEXT)
    _read_check_hours(p, agenda, values)
    extra = p.unread()
    if nesting_depth(extra) > MAX_EXTRA_DEPTH + 1:
        p.error('non_field_errors', f'The extra keys (extra_data) nest deeper than {MAX_EXTRA_DEPTH} levels.')
    if p.errors:
        raise _patch_error(p.errors)
    return PatchRequest(values=values, extra_data=extra)


def _read_check_hours(p: Payload, agenda: AgendaSpec | None, values: dict[str, Any]) -> None:
    """`user_check_start_time`/`user_check_end_time` (HH:MM, blank clears): the real arrival and departure
    of a partial booking (domain/partial_bookings.py), only on an agenda with partial bookings."""
    given = [name for name in CHECK_HOURS if name in p.data]
    read = {name: p.time(name) for name in given}
    for name in given:
        if name not in p.errors and (agenda is None or not agenda.partial_bookings):
            p.error(name, 'Only on an agenda with partial bookings.')
        values[name.removeprefix('user_')] = hours_text(read[name])
    arrival, departure = read.get(CHECK_HOURS[0]), read.get(CHECK_HOURS[1])
    if arrival is not None and departure is not None and arrival >= departure and not p.errors:
        p.error(CHECK_HOURS[1], 'Must be after user_check_start_time.')


def check_extra_data_size(legs: list[Leg], extra: dict[str, Any]) -> None:
    """The merged extra_data of every leg stays within fillslot's limit (400 otherwise)."""
    for leg in legs:
        merged = {**(leg.fields.get('extra_data') or {}), **extra}
        if len(json.dumps(merged, ensure_ascii=False).encode('utf-8')) > MAX_EXTRA_DATA:
            raise _patch_error({'non_field_errors': [f'The extra keys (extra_data) exceed {MAX_EXTRA_DATA} bytes.']})


def event_locked(event: str) -> BusinessError:
    return BusinessError('event is locked', f'attendance of event {event} is locked', err=6)


def check_attendance(legs: list[Leg], events: dict[tuple[str, str], EventRecord]) -> None:
    """Attendance is for the main list, on an event whose attendance is not locked (spec §8.4)."""
    if any(leg.in_waiting_list for leg in legs):
        raise BusinessError('booking is in waiting list', err=3)
    for leg in legs:
        if leg.event is None:  # a meeting has no event
            continue
        record = events.get((leg.agenda, leg.event))
        if record is not None and record.check_locked:
            raise event_locked(leg.event)


# ---- resize (spec §8.9) ---------------------------------------------------------------------


def read_count(p: Payload) -> int:
    value = p.data.get('count')
    if is_blank(value):
        raise InvalidPayload({'count': ['This field is required.']})
    try:
        count = to_int(value, maximum=MAX_PLACES)
    except ValueError as exc:
        raise InvalidPayload({'count': [str(exc)]}) from None
    if count <= 0:
        raise InvalidPayload({'count': ['count cannot be less than or equal to zero']})
    return count


def check_resizable(legs: list[Leg]) -> None:
    if legs[0].meeting_type is not None or any(leg.event is None for leg in legs):
        raise BadRequest('can not resize meetings booking', 'a meeting booking holds one desk: its count is 1')


def check_growth(leg: Leg, event: EventRecord, count: int) -> None:
    """A leg growing to `count` takes the difference in its own list, under fillslot's rule for
    that list (spec §9.2): the main list needs that many free places and nobody waiting (the
    added places would otherwise pass the people waiting); the waiting list needs room."""
    delta = count - leg.count
    if delta <= 0:
        return
    if event.spec.cancelled:
        raise BusinessError('event is cancelled', f'event {event.slug} is cancelled')
    places = event.places
    if leg.in_waiting_list:
        fits = places.waiting_list_available >= delta
    else:
        fits = places.available >= delta and not (places.has_waiting_list and places.waiting_list_reserved)
    if not fits:
        raise BusinessError('sold out', f'event {event.slug} has not {delta} more places', err=3)


# ---- GET /api/bookings/ (spec §8.1) ----------------------------------------------------------
