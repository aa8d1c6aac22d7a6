"""Partial bookings (agendas with `partial_bookings`: hourly billing, spec chrono-api.md §2.4): a booking
holds `start_time`-`end_time` inside its event (a child booked 08:30-11:00 in a 07:30-18:30 day), its
attendance records the real arrival and departure, and billing reads two durations of it. Places are
still counted per booking. No I/O here.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, time, timedelta
from zoneinfo import ZoneInfo

from chalicelib.domain.event_rules import EventRecord
from chalicelib.domain.specs import AgendaSpec
from chalicelib.errors import InvalidPayload

HOURS = ('start_time', 'end_time')
CHECK_HOURS = ('user_check_start_time', 'user_check_end_time')


def minutes(value: time) -> int:
    return value.hour * 60 + value.minute


def hours_text(value: time | None) -> str | None:
    return value.strftime('%H:%M') if value is not None else None


def event_hours(event: EventRecord, tz: ZoneInfo) -> tuple[datetime, datetime]:
    """The event's local span: its start to its end (without a duration, the end of its day)."""
    start = event.spec.start.astimezone(tz)
    end = event.end.astimezone(tz) if event.end else datetime.combine(start.date() + timedelta(days=1), time(0, 0), tz)
    return start, end


def check_hours(agenda: AgendaSpec, event: EventRecord, start: time | None, end: time | None, tz: ZoneInfo) -> None:
    """A booking's hours (400 `invalid payload` otherwise): required on an agenda with partial bookings,
    refused elsewhere, the start before the end, both inside the event."""
    errors: dict[str, list[str]] = {}
    if not agenda.partial_bookings:
        for name, value in zip(HOURS, (start, end), strict=True):
            if value is not None:
                errors[name] = ['Only on an agenda with partial bookings.']
    elif start is None or end is None:
        for name, value in zip(HOURS, (start, end), strict=True):
            if value is None:
                errors[name] = ['Required on an agenda with partial bookings.']
    elif start >= end:
        errors['end_time'] = ['Must be after start_time.']
    else:
        opens, closes = event_hours(event, tz)
        first = datetime.combine(opens.date(), start, tz)
        last = datetime.combine(opens.date(), end, tz)
        if first < opens or last > closes:
            errors['start_time'] = [
                f'Outside the event {event.slug} ({opens:%H:%M} to {closes:%H:%M}): book hours inside it.'
            ]
    if errors:
        raise InvalidPayload(errors)


@dataclass(frozen=True)
class Durations:
    """In minutes (the invoicing unit here is the minute: nothing is rounded).

    `adjusted`: the hours booked (end_time - start_time), what the family owes whatever happens;
    `computed`: the hours to bill once the attendance is known: present, from the earlier of the booked
    start and the arrival to the later of the booked end and the departure (arriving late or leaving
    early refunds nothing, staying longer is billed: Lingo's overtaking is computed - adjusted); absent,
    the hours booked (Lingo applies the absence's rate to them). None while unknown."""

    computed: int | None
    adjusted: int | None


def durations(
    start: time | None,
    end: time | None,
    present: bool | None,
    arrival: time | None = None,
    departure: time | None = None,
) -> Durations:
    adjusted = minutes(end) - minutes(start) if start is not None and end is not None else None
    if present is None:
        return Durations(None, adjusted)
    if not present:
        return Durations(adjusted, adjusted)
    first = [minutes(t) for t in (start, arrival) if t is not None]
    last = [minutes(t) for t in (end, departure) if t is not None]
    computed = max(last) - min(first) if first and last and max(last) > min(first) else adjusted
    return Durations(computed, adjusted)
