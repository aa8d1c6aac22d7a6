"""URL fields of a booking (`form_url`, `backoffice_url` and the three callback URLs; issue 15 point 5):
checked on input by every route that stores them, and no stored value, even one stored before that
check, makes an iCalendar answer fail.

The booking world of tests/api/test_booking_api.py: events agenda `x` (event `e`, Tuesday 2030-03-05
10:00-11:00, 3 places and a waiting list of 2), meetings agenda `rdv`; requests run at 2030-03-01 09:00
in Paris. "Nothing stored" is read as the table's raw items.
"""
from __future__ import annotations

import json
import logging
from datetime import datetime

import pytest

from chalicelib.domain.booking_rules import URL_FIELDS
from chalicelib.store.models import Booking, booking_pk
from tests.api.conftest import ERROR_KEYS
from tests.api.test_booking_api import (PARIS, agenda, book_meeting, event, ics, rdv,  # noqa: F401 (fixtures)
                                        vevents)
from tests.api.test_booking_inputs import table_items
from tests.api.test_booking_lifecycle import book, book_group, counters, get
from tests.api.test_events_fillslots import pool  # noqa: F401 (fixture)

CONTROL = 'Enter a valid URL: no spaces or control characters.'
FORM = 'Enter a valid URL: http or https, with a host.'
# (name, value, message): each one in each URL field refuses the whole call.
BAD_URLS = [
    ('line break', 'https://wcs.example.org/piscine/12/\nX-Injected: 1', CONTROL),
    ('tab', 'https://wcs.example.org/pis\tcine/12/', CONTROL),
    ('DEL', 'https://wcs.example.org/piscine/12/\x7f', CONTROL),
    ('javascript:', 'javascript:alert(document.cookie)', FORM),
    ('ftp:', 'ftp://wcs.example.org/piscine/12/', FORM),
    ('no host', 'https:///piscine/12/', FORM),
]
# The other forms the reader refuses (tests/unit/test_parsing.py has them all), in one field.
MORE_BAD_URLS = [
    ('carriage return', 'https://wcs.example.org/piscine/\r12/', CONTROL),
    ('NUL', 'https://wcs.example.org/\x00/12/', CONTROL),
    ('C1 next line', 'https://wcs.example.org/piscine\x85/12/', CONTROL),
    ('space', 'https://wcs.example.org/piscine 12/', CONTROL),
    ('relative', '/piscine/12/', FORM),
    ('port out of range', 'https://wcs.example.org:70000/piscine/12/', 'Enter a valid URL.'),
    ('a number', 12, 'Enter a valid URL.'),
    ('2049 characters', 'https://wcs.example.org/'.ljust(2049, 'u'),
     'Ensure this field has no more than 2048 characters.'),
]
# w.c.s. sends absolute URLs, already percent-encoded; any host is accepted (design.md §3.6 point 9).
GOOD_URLS = {
    'form_url': 'https://démarches.example.fr/piscine/12/?étape=été&n=日本',
    'backoffice_url': 'https://wcs.example.org/backoffice/management/piscine/12/?q=a%20b&r=%C3%A9#historique',
    'cancel_callback_url': 'http://127.0.0.1:9000/api/forms/piscine/12/hooks/cancel/?token=a%2Fb',
    'presence_callback_url': 'https://[2001:db8::1]:8443/hooks/present/',
    'absence_callback_url': 'HTTPS://Other-Host.example.net/hooks/absent/',
}


def invalid_payload(answer, errors: dict) -> None:
    status, body = answer
    assert status == 400, answer
    assert set(body) == ERROR_KEYS | {'errors'}, body
    assert (body['err'], body['err_class'], body['errors']) == (1, 'invalid payload', errors), body


# ---- on input ----------------------------------------------------------------------------------

@pytest.mark.parametrize('field, value, message', [
    pytest.param(field, value, message, id=f'{field} {name}')
    for field in URL_FIELDS for name, value, message in BAD_URLS
] + [pytest.param('cancel_callback_url', value, message, id=f'cancel_callback_url {name}')
     for name, value, message in MORE_BAD_URLS])
def test_fillslot_refuses_a_malformed_url_naming_the_field_and_stores_nothing(api, event, field, value, message):
    before = table_items()
    invalid_payload(api.post('/api/agenda/x/fillslot/e/', {'user_external_id': 'u1', field: value}),
                    {field: [message]})
    assert table_items() == before
    assert counters(api, 'e') == {'e': (0, 0)}
    assert api.get('/api/bookings/?user_external_id=u1') == (200, {'err': 0, 'data': []})


def test_a_form_encoded_url_with_a_line_break_is_refused_too(api, event):
    before = table_items()
    status, body = api.call('POST', '/api/agenda/x/fillslot/e/', raw='form_url=https%3A%2F%2Fa.example.org%2F%0Ab',
                            headers={'Content-Type': 'application/x-www-form-urlencoded'})
    invalid_payload((status, body), {'form_url': [CONTROL]})
    assert table_items() == before


BAD_EVERYWHERE = {name: f'https://wcs.example.org/{name}/\nX: 1' for name in URL_FIELDS}
EVERY_FIELD_NAMED = {name: [CONTROL] for name in URL_FIELDS}


@pytest.mark.parametrize('path, slots', [
    ('/api/agenda/x/fillslots/', 'e'),
    ('/api/agenda/x/events/fillslots/', 'e'),
    ('/api/agendas/events/fillslots/?agendas=x', 'x@e'),
])
def test_every_events_route_that_stores_urls_refuses_them_alike(api, event, path, slots):
    api.post('/api/agenda/x/event/', {'slug': 'f', 'start_datetime': '2030-03-06 10:00', 'places': 3})
    before = table_items()
    invalid_payload(api.post(path, {'user_external_id': 'u1', 'slots': slots, **BAD_EVERYWHERE}), EVERY_FIELD_NAMED)
    assert table_items() == before
    assert counters(api, 'e', 'f') == {'e': (0, 0), 'f': (0, 0)}


def test_recurring_fillslots_refuses_them_alike(api, pool):  # noqa: F811
    before = table_items()
    invalid_payload(api.post('/api/agendas/recurring-events/fillslots/?agendas=pool&action=update',
                             {'user_external_id': 'family:7', 'slots': 'pool@swim:1', **BAD_EVERYWHERE}),
                    EVERY_FIELD_NAMED)
    assert table_items() == before


def test_a_meeting_fillslot_refuses_them_alike(api, rdv):  # noqa: F811
    before = table_items()
    invalid_payload(api.post('/api/agenda/rdv/fillslot/long:2030-03-04-1000/',
                             {'user_external_id': 'u1', **BAD_EVERYWHERE}), EVERY_FIELD_NAMED)
    assert table_items() == before


@pytest.mark.parametrize('path, slots', [('/api/agenda/x/fillslot/e/', None), ('/api/agenda/x/fillslots/', 'e'),
                                         ('/api/agenda/x/events/fillslots/', 'e')])
def test_valid_urls_are_stored_as_given_and_echoed(api, event, path, slots):
    body = {'user_external_id': 'u1', **GOOD_URLS, **({'slots': slots} if slots else {})}
    status, answer = api.post(path, body)
    assert (status, answer['err']) == (200, 0), answer
    (booking,) = api.get('/api/bookings/?user_external_id=u1')[1]['data']
    assert {name: get(api, booking['id'])['data'][name] for name in URL_FIELDS} == GOOD_URLS
    assert counters(api, 'e') == {'e': (1, 0)}


def test_blanks_around_a_url_are_trimmed_and_a_blank_url_is_absent(api, event):
    """As a Django URL field: a w.c.s. template may end with a line break."""
    booking_id = book(api, form_url='  https://wcs.example.org/piscine/12/\r\n', backoffice_url=' \n ',
                      cancel_callback_url='', presence_callback_url=None)
    data = get(api, booking_id)['data']
    assert {name: data[name] for name in URL_FIELDS} == {
        'form_url': 'https://wcs.example.org/piscine/12/', 'backoffice_url': None, 'cancel_callback_url': None,
        'presence_callback_url': None, 'absence_callback_url': None}


def test_patch_keeps_urls_out_of_the_booking_fields(api, client, event):
    """PATCH stores unknown keys in extra_data only: it cannot change a URL field, nor what the ICS shows."""
    booking_id = book(api, form_url='https://wcs.example.org/piscine/12/')
    answer = api.patch(f'/api/booking/{booking_id}/', {'form_url': 'https://evil.example.org/\nX: 1'})
    assert answer == (200, {'err': 0, 'booking_id': booking_id})
    data = get(api, booking_id)['data']
    assert data['form_url'] == 'https://wcs.example.org/piscine/12/'
    assert [item.extra_data for item in Booking.query(booking_pk(booking_id))] == [
        {'form_url': 'https://evil.example.org/\nX: 1'}]
    (vevent,) = vevents(ics(client, f'/api/booking/{booking_id}/ics/')[2])
    assert str(vevent['URL']) == 'https://wcs.example.org/piscine/12/'


# ---- values stored before the check --------------------------------------------------------------

def store_as_before(booking_id: int, **values) -> None:
    """Write values into every leg of a booking, as a version without the input check stored them."""
    for item in Booking.query(booking_pk(booking_id)):
        item.update(actions=[getattr(Booking, name).set(value) for name, value in values.items()])


@pytest.mark.parametrize('route', ['booking', 'user'])
def test_a_stored_url_with_a_line_break_is_left_out_of_the_ics_and_logged(api, client, event, caplog, route):
    good = book(api, user_display_label='Autre cours', form_url='https://wcs.example.org/piscine/7/')
    bad = book(api, user_display_label='Jeanne (cours)', form_url='https://wcs.example.org/piscine/12/')
    broken = 'https://wcs.example.org/piscine/12/\r\nX-Secret: jeanne@example.org'
    store_as_before(bad, form_url=broken, backoffice_url='https://wcs.example.org/\x00/backoffice/12/')
    assert get(api, bad)['data']['form_url'] == broken
    path = f'/api/booking/{bad}/ics/' if route == 'booking' else '/api/bookings/ics/?user_external_id=u1'
    with caplog.at_level(logging.WARNING, logger='chalicelib.domain.calendar'):
        status, content_type, cal = ics(client, path)
    assert (status, content_type) == (200, 'text/calendar; charset=utf-8')
    by_uid = {str(e['UID']): e for e in vevents(cal)}
    assert list(by_uid) == ([f'booking-{bad}-000@chrono'] if route == 'booking' else
                            [f'booking-{good}-000@chrono', f'booking-{bad}-000@chrono'])
    vevent = by_uid[f'booking-{bad}-000@chrono']
    assert 'URL' not in vevent  # form_url and backoffice_url both refused: no URL at all
    assert str(vevent['SUMMARY']) == 'Jeanne (cours)'
    assert (vevent['DTSTART'].dt, vevent['DTEND'].dt) == (datetime(2030, 3, 5, 10, 0, tzinfo=PARIS),
                                                          datetime(2030, 3, 5, 11, 0, tzinfo=PARIS))
    if route == 'user':
        assert str(by_uid[f'booking-{good}-000@chrono']['URL']) == 'https://wcs.example.org/piscine/7/'
    assert [(r.levelname, r.getMessage()) for r in caplog.records] == [
        ('WARNING', f'iCalendar: the form_url of booking {bad} (leg 0) is left out: not a valid URL value'),
        ('WARNING', f'iCalendar: the backoffice_url of booking {bad} (leg 0) is left out: not a valid URL value')]
    assert 'X-Secret' not in json.dumps([r.getMessage() for r in caplog.records])


def test_a_refused_form_url_gives_way_to_the_backoffice_url(api, client, event, caplog):
    booking_id = book(api, form_url='https://wcs.example.org/piscine/12/',
                      backoffice_url='https://wcs.example.org/backoffice/piscine/12/')
    store_as_before(booking_id, form_url='https://wcs.example.org/piscine/12/\nX: 1')
    with caplog.at_level(logging.WARNING, logger='chalicelib.domain.calendar'):
        (vevent,) = vevents(ics(client, f'/api/booking/{booking_id}/ics/')[2])
    assert str(vevent['URL']) == 'https://wcs.example.org/backoffice/piscine/12/'
    assert [r.getMessage() for r in caplog.records] == [
        f'iCalendar: the form_url of booking {booking_id} (leg 0) is left out: not a valid URL value']


def test_a_stored_url_with_a_trailing_line_break_is_written_trimmed(api, client, event):
    booking_id = book(api)
    store_as_before(booking_id, form_url='https://wcs.example.org/piscine/12/\n')
    (vevent,) = vevents(ics(client, f'/api/booking/{booking_id}/ics/')[2])
    assert str(vevent['URL']) == 'https://wcs.example.org/piscine/12/'


def test_every_leg_of_a_group_and_a_meeting_survive_stored_bad_urls(api, client, event, rdv):  # noqa: F811
    api.post('/api/agenda/x/event/', {'slug': 'f', 'start_datetime': '2030-03-06 10:00', 'places': 3})
    group = book_group(api, 'e,f', label='Groupe')
    meeting = book_meeting(api, label='RDV')
    for booking_id in (group, meeting):
        store_as_before(booking_id, form_url='javascript:alert(1)', backoffice_url='https://a.example.org/\n')
    status, _, cal = ics(client, '/api/bookings/ics/?user_external_id=u1')
    assert status == 200
    assert [(str(e['UID']), str(e['SUMMARY']), str(e.get('URL'))) for e in vevents(cal)] == [
        (f'booking-{meeting}-000@chrono', 'RDV', 'https://a.example.org/'),
        (f'booking-{group}-000@chrono', 'Groupe', 'https://a.example.org/'),
        (f'booking-{group}-001@chrono', 'Groupe', 'https://a.example.org/')]
