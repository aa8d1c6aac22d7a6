"""Bookings as an iCalendar file (spec chrono-api.md §8.2, §8.11): one VEVENT per booked event (a
fillslots group gives one per leg), in the agenda's time zone. No I/O here but a log line for a stored
value left out. (The ICS *import* of closures is `closures.py`.)
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable
from datetime import datetime
from typing import TYPE_CHECKING, Any
from zoneinfo import ZoneInfo

from chalicelib.domain.booking_rules import Leg
from chalicelib.parsing import to_url

if TYPE_CHECKING:
    from icalendar import Event

PRODID = '-//Chrono booking API//EN'
CONTENT_TYPE = 'text/calendar; charset=utf-8'
log = logging.getLogger(__name__)


def leg_uid(leg: Leg) -> str:
    """Stable per booking leg, whatever the host the calendar is read from."""
    return f'booking-{leg.booking_id}-{leg.leg:03d}@chrono'


def _add_first(
    event: Event, name: str, leg: Leg, candidates: Iterable[tuple[str, Any]], clean: Callable[[Any], Any] | None = None
) -> None:
    """Set property `name` to the first non-empty candidate that `clean` (if given) passes and that the
    calendar library takes. Any other (a URL with a line break, stored before URLs were checked on input) is left
    out and logged, by its field's name only (the value may be personal data): one bad value must not
    lose the whole file."""
    for field, value in candidates:
        if not value:
            continue
        try:
            if clean is not None:
                value = clean(value)
            event.add(name, value)
            event[name].to_ical()  # some values are only refused when written (text that is not UTF-8)
            return
        except (ValueError, TypeError):  # UnicodeError is a ValueError
            event.pop(name, None)
            log.warning(
                'iCalendar: the %s of booking %s (leg %s) is left out: not a valid %s value',
                field,
                leg.booking_id,
                leg.leg,
                name.upper(),
            )


def vevent(leg: Leg, agenda_label: str | None, tz: ZoneInfo, now: datetime) -> Event:
    from icalendar import Event  # imported on first use, as in closures.py: no booking request pays it at cold start

    event = Event()
    event.add('uid', leg_uid(leg))
    event.add('dtstamp', now)
    event.add('dtstart', leg.start.astimezone(tz))
    if leg.end is not None:  # an event without a duration has no end (RFC 5545: it takes no time)
        event.add('dtend', leg.end.astimezone(tz))
    fields = leg.fields
    _add_first(
        event,
        'summary',
        leg,
        [
            ('user_display_label', fields.get('user_display_label')),
            ('label', fields.get('label')),
            ('agenda label', agenda_label),
            ('agenda', leg.agenda),
        ],
    )
    # The input rule of URLs applies to those stored before it too: icalendar writes a NUL or an ESC as is.
    _add_first(event, 'url', leg, [(name, fields.get(name)) for name in ('form_url', 'backoffice_url')], to_url)
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
