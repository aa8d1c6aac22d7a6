"""Bookings as an iCalendar file (spec chrono-api.md §8.2, §8.11): one VEVENT per booked event (a
fillslots group gives one per leg), in the agenda's time zone. No I/O here. (The ICS *import* of
closures is `ics.py`.)
"""
from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, Iterable
from zoneinfo import ZoneInfo

from .bookings import Leg

if TYPE_CHECKING:
    from icalendar import Event

PRODID = '-//Chrono booking API//EN'
CONTENT_TYPE = 'text/calendar; charset=utf-8'


def leg_uid(leg: Leg) -> str:
    """Stable per booking leg, whatever the host the calendar is read from."""
    return f'booking-{leg.booking_id}-{leg.leg:03d}@chrono'


def summary(leg: Leg, agenda_label: str | None) -> str:
    fields = leg.fields
    return fields.get('user_display_label') or fields.get('label') or agenda_label or leg.agenda


def vevent(leg: Leg, agenda_label: str | None, tz: ZoneInfo, now: datetime) -> Event:
    from icalendar import Event  # imported on first use, as in ics.py: no booking request pays it at cold start
    event = Event()
    event.add('uid', leg_uid(leg))
    event.add('dtstamp', now)
    event.add('dtstart', leg.start.astimezone(tz))
    if leg.end is not None:  # an event without a duration has no end (RFC 5545: it takes no time)
        event.add('dtend', leg.end.astimezone(tz))
    event.add('summary', summary(leg, agenda_label))
    url = leg.fields.get('form_url') or leg.fields.get('backoffice_url')
    if url:
        event.add('url', url)
    return event


def calendar(legs: Iterable[Leg], agenda_labels: dict[str, str], tz: ZoneInfo, now: datetime) -> str:
    """The iCalendar text of `legs` (already filtered: live ones), with the VTIMEZONE their TZIDs name."""
    from icalendar import Calendar
    cal = Calendar()
    cal.add('prodid', PRODID)
    cal.add('version', '2.0')
    for leg in legs:
        cal.add_component(vevent(leg, agenda_labels.get(leg.agenda), tz, now))
    cal.add_missing_timezones()
    return cal.to_ical().decode('utf-8')
