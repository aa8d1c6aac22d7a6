"""The iCalendar writer of bookings (domain/calendar.py): a stored value the calendar library refuses is
left out, logged by its field's name only, and the rest of the file is written."""
from __future__ import annotations

import logging
from datetime import datetime, timezone
from zoneinfo import ZoneInfo

import icalendar

from chalicelib.domain.booking_rules import Leg
from chalicelib.domain.calendar import calendar

PARIS = ZoneInfo('Europe/Paris')
NOW = datetime(2030, 3, 1, 8, 0, tzinfo=timezone.utc)


def leg(**fields) -> Leg:
    return Leg(booking_id=42, leg=1, legs=2, agenda='x', event='e', count=1, in_waiting_list=False,
               start=datetime(2030, 3, 5, 9, 0, tzinfo=timezone.utc), end=None, created_at=NOW, fields=fields)


def written(*legs: Leg) -> list:
    return icalendar.Calendar.from_ical(calendar(legs, {'x': 'Piscine X'}, PARIS, NOW)).walk('VEVENT')


def test_text_that_cannot_be_utf8_gives_way_to_the_next_summary(caplog):
    with caplog.at_level(logging.WARNING, logger='chalicelib.domain.calendar'):
        (vevent,) = written(leg(user_display_label='Jeanne \ud800', label='Cours'))
    assert (str(vevent['SUMMARY']), vevent['DTSTART'].dt) == ('Cours', datetime(2030, 3, 5, 10, 0, tzinfo=PARIS))
    assert [(r.levelname, r.getMessage()) for r in caplog.records] == [
        ('WARNING', 'iCalendar: the user_display_label of booking 42 (leg 1) is left out: not a valid SUMMARY value')]


def test_urls_are_written_only_in_the_form_accepted_on_input(caplog):
    legs = [leg(form_url='https://a.example.org/\x1b[31m', backoffice_url='https://b.example.org/ok/'),
            leg(form_url=' https://a.example.org/trimmed/\n'),
            leg(form_url='ftp://a.example.org/', backoffice_url='https://b.example.org/\r\nX: 1')]
    with caplog.at_level(logging.WARNING, logger='chalicelib.domain.calendar'):
        vevents = written(*legs)
    assert [str(v.get('URL')) for v in vevents] == ['https://b.example.org/ok/', 'https://a.example.org/trimmed/',
                                                   'None']
    assert [str(v['SUMMARY']) for v in vevents] == ['Piscine X'] * 3
    assert [r.getMessage().split(' is left out')[0] for r in caplog.records] == [
        'iCalendar: the form_url of booking 42 (leg 1)', 'iCalendar: the form_url of booking 42 (leg 1)',
        'iCalendar: the backoffice_url of booking 42 (leg 1)']
    assert not any('example.org' in r.getMessage() for r in caplog.records)
