"""Use cases that list what can be booked: events datetimes, an event's status and a user's
bookings on it (spec chrono-api.md §5.1-5.2, §7.1-7.2)."""
from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from . import store
from .domain.bookings import EVENTS_CHOICES, MAX_USER_ID
from .domain.places import can_take
from .domain.events import event_item, is_bookable, is_recurring_primary
from .domain.window import booking_window, local_midnight
from .lookup import event_or_404, events_agenda_or_404
from .parsing import Payload


def datetimes(agenda_slug: str, query: Payload, base_url: str, tz: ZoneInfo, now: datetime) -> dict[str, Any]:
    """`GET /api/agenda/<agenda>/datetimes/`: the bookable events, each `disabled` when a
    booking of `min_places` would be refused or the excluded user holds one already."""
    agenda = events_agenda_or_404(agenda_slug)
    date_start, date_end = query.date('date_start'), query.date('date_end')
    user = query.str('user_external_id', max_length=MAX_USER_ID)
    excluded_user = query.str('exclude_user_external_id', max_length=MAX_USER_ID)
    hide_disabled = query.bool('hide_disabled')
    bypass_delays = query.bool('bypass_delays')
    min_places = query.int('min_places', default=1, minimum=1)
    events = query.choice('events', EVENTS_CHOICES, default='future')
    query.str('lock_code')  # w.c.s. sends it on every call (spec §9.9): accepted, no lease here
    query.check()

    start = local_midnight(date_start, tz) if date_start else None
    end = local_midnight(date_end, tz) if date_end else None
    if events == 'future':
        start = max(start, now) if start else now
        if not bypass_delays:
            window = booking_window(agenda, now, tz)
            start = max(start, window.start)
            end = min(end, window.end) if end and window.end else (end or window.end)
    elif events == 'past':
        end = min(end, now) if end else now
    records = sorted((r for r in store.events_between(agenda.slug, start, end)
                      if not is_recurring_primary(r.spec) and not r.spec.cancelled
                      and is_bookable(agenda, r.spec, now, tz, bypass_delays, events)),
                     key=lambda r: (r.spec.start, r.spec.label or '', r.slug))  # spec §5.2: start, then label

    booked: dict[str, set[str]] = {}
    for name in {user, excluded_user} - {None}:
        legs = store.user_legs(name, start, end) if records else []
        booked[name] = {leg.event for leg in legs if leg.agenda == agenda.slug and not leg.cancelled}
    data = []
    for record in records:
        disabled = not can_take(record.places, min_places) or record.slug in booked.get(excluded_user, ())
        if disabled and hide_disabled:
            continue
        item = event_item(agenda, record, base_url, tz, now, disabled=disabled)
        if user:
            item['booked_for_external_user'] = record.slug in booked[user]
        data.append(item)
    available = [item for item in data if not item['disabled']]
    return {
        'data': data,
        'meta': {
            'no_bookable_datetimes': not available,
            'bookable_datetimes_number_total': len(data),
            'bookable_datetimes_number_available': len(available),
            'first_bookable_slot': available[0] if available else None,
        },
    }


def status(agenda_slug: str, event_slug: str, base_url: str, tz: ZoneInfo, now: datetime) -> dict[str, Any]:
    """`GET /api/agenda/<agenda>/status/<event>/` (spec §7.1), read consistently."""
    agenda = events_agenda_or_404(agenda_slug)
    return event_item(agenda, event_or_404(agenda.slug, event_slug), base_url, tz, now)


def event_bookings(agenda_slug: str, event_slug: str, query: Payload) -> list[dict[str, Any]]:
    """`GET /api/agenda/<agenda>/bookings/<event>/?user_external_id=` (spec §7.2)."""
    agenda = events_agenda_or_404(agenda_slug)
    user = query.str('user_external_id', required=True, max_length=MAX_USER_ID)
    query.check()
    record = event_or_404(agenda.slug, event_slug)
    legs = store.user_legs(user, record.spec.start, record.spec.start + timedelta(seconds=1))
    return [{'id': leg.booking_id, 'in_waiting_list': leg.in_waiting_list} for leg in legs
            if leg.agenda == agenda.slug and leg.event == record.slug and not leg.cancelled]
