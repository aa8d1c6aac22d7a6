"""Use cases of free-range agendas (spec chrono-api.md §5.6, §6.6; domain/free_range.py): the days and their
steps a w.c.s. time-range field offers, and booking a range (or holding it, with `lock_code`) on one desk,
atomically, as meetings are (services/booking.py `book_desk_time`, the desk's lock cells)."""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from chalicelib import store
from chalicelib.domain.booking_rules import read_booking_request
from chalicelib.domain.free_range import Day, Limits, limits, opening_day, range_type, reach
from chalicelib.domain.meeting_slots import Intervals, busy_by_desk, read_resources
from chalicelib.domain.specs import AgendaSpec
from chalicelib.domain.window import LAST_INSTANT, Window
from chalicelib.errors import InvalidPayload, NotFound
from chalicelib.parsing import Payload
from chalicelib.services.booking import Held, MeetingBooked, book_desk_time
from chalicelib.services.listings import MAX_LISTED_DAYS, read_slot_query
from chalicelib.services.lookup import SHOWN, configured_agenda_or_404


@dataclass(frozen=True)
class FreeRangeDays:
    """What `GET .../free-range/datetimes/` lists."""

    agenda: AgendaSpec
    days: list[Day]
    limits: Limits


def free_range_agenda_or_404(slug: str) -> AgendaSpec:
    agenda = configured_agenda_or_404(slug)
    if agenda.kind != 'meetings' or not agenda.free_range:
        raise NotFound('not a free-range agenda', f'agenda {slug[:SHOWN]} is not a free-range agenda')
    return agenda


def datetimes(agenda_slug: str, query: Payload, tz: ZoneInfo, now: datetime) -> FreeRangeDays:
    """`GET /api/agenda/<agenda>/free-range/datetimes/` (spec §5.6): every local day a desk opens in the range
    (`date_start`, `date_end`; the booking window unless `bypass_delays`), with its steps; `resource` (w.c.s.
    sends it, blank when none is chosen) must be free too; `lock_code`: its own holds are free."""
    agenda = free_range_agenda_or_404(agenda_slug)
    resource = query.str('resource')
    resources = read_resources([resource] if resource else [], agenda)
    q = read_slot_query(query, agenda, tz, now)
    start = q.start or now
    end = min(q.end or start + timedelta(days=MAX_LISTED_DAYS), LAST_INSTANT)
    bounds = limits(agenda)
    if start >= end:
        return FreeRangeDays(agenda, [], bounds)
    legs = store.meeting_legs(agenda.slug, start, end, reach(agenda), now, q.hold)
    busy = {desk: Intervals(intervals) for desk, intervals in busy_by_desk(legs).items()}
    taken = Intervals(store.resource_uses(resources, start, end, now, q.hold) if resources else ())
    window = Window(start, end)
    days = []
    day, last = start.astimezone(tz).date(), (end - timedelta(microseconds=1)).astimezone(tz).date()
    while day <= last:
        listed = opening_day(agenda, day, tz, busy, taken, window)
        if listed is not None and not (q.hide_disabled and listed.disabled):
            days.append(listed)
        day += timedelta(days=1)
    return FreeRangeDays(agenda, days, bounds)


def fillslot(agenda_slug: str, body: Payload, tz: ZoneInfo, now: datetime, client: str) -> MeetingBooked | Held:
    """`POST /api/agenda/<agenda>/free-range/fillslot/` (spec §6.6): `start_datetime` and `end_datetime` (local,
    as w.c.s.'s time-range field stores them: `YYYY-MM-DD HH:MM`), `resource`, and every fillslot field
    (`lock_code` holds, `confirm_after_lock` confirms, `cancel_booking_id` replaces). The range is booked
    on the first desk free for its whole length (its lock cells)."""
    agenda = free_range_agenda_or_404(agenda_slug)
    start = body.datetime('start_datetime', tz, required=True)
    end = body.datetime('end_datetime', tz, required=True)
    resource = body.str('resource')
    request = read_booking_request(body, client)  # checks every field read so far
    if start is None or end is None:  # required: that check refused their absence already
        raise InvalidPayload({'start_datetime': ['This field is required.']})
    request = replace(request, resources=(resource,) if resource else ())
    return book_desk_time(agenda, agenda, [agenda], range_type(agenda, start, end), [start], request, tz, now)
