"""Free-range agendas (spec §5.6, §6.6; docs/api.md "Free-range agendas"): the days and steps w.c.s.'s time-range
field reads (`data[].id`, `text`, `verbose_label`, `opening_hours[{hour, status}]`, `disabled`;
`meta.minimal_booking_slots`, `maximal_booking_slots`, `api.fillslot_url`), and booking a range on one desk.

w.c.s. calls the datetimes with `lock_code`, `resource` (blank until one is chosen) and `user_external_id` (the
form's uuid), and stores `{"start_datetime": "YYYY-MM-DD HH:MM", "end_datetime": ..., "api": {"fillslot_url"}}`;
its field offers as start hours the `free` entries, as end hours the entry after each `free` one (TimeRangeWidget
in wcs/qommon/form.py). The race of 50 overlapping ranges is in tests/conformance/test_hold_concurrency.py.
"""
from __future__ import annotations

from datetime import datetime
from urllib.parse import urlencode
from zoneinfo import ZoneInfo

import pytest

from tests.api.conftest import ERROR_KEYS, assert_not_found

PARIS = ZoneInfo('Europe/Paris')
NOW = datetime(2030, 3, 1, 9, 0, tzinfo=PARIS)  # a Friday
MONDAY = {'weekday': 0, 'start_time': '09:00', 'end_time': '10:30'}
FRIDAY = {'weekday': 4, 'start_time': '10:00', 'end_time': '11:30'}
FORM_UUID = '5f0c2b1e-9a2b-4c1d-8e3f-1a2b3c4d5e6f'


@pytest.fixture
def salle(api, clock):
    """`salle`: a free-range agenda, one desk open Mondays 09:00-10:30 and Fridays 10:00-11:30, on a
    30-minute step (types of 60, 90 and 300 minutes: 2 to 10 steps), with the resource `projecteur`."""
    clock(NOW)
    status, answer = api.post('/api/import/', {
        'resources': [{'slug': 'projecteur', 'label': 'Projecteur'}],
        'agendas': [{
            'slug': 'salle', 'label': 'Salle', 'kind': 'meetings', 'free_range': True, 'minimal_booking_delay': 1,
            'maximal_booking_delay': 10, 'resources': ['projecteur'],
            'meetingtypes': [{'slug': 'h1', 'label': '1 h', 'duration': 60},
                             {'slug': 'h15', 'label': '1 h 30', 'duration': 90},
                             {'slug': 'h5', 'label': '5 h', 'duration': 300}],
            'desks': [{'slug': 'salle-1', 'label': 'Salle 1', 'timeperiods': [MONDAY, FRIDAY]}]}]})
    assert status == 200, answer
    return 'salle'


def listing(api, lock_code='session', resource='', **more):
    """The call of w.c.s.'s `...-resourcedynamic` data source (its qs_data, sorted, urlencoded)."""
    query = urlencode(sorted({'lock_code': lock_code, 'resource': resource, 'user_external_id': FORM_UUID,
                              **more}.items()))
    status, answer = api.get(f'/api/agenda/salle/free-range/datetimes/?{query}')
    assert (status, answer['err']) == (200, 0), answer
    return answer


def hours(answer, day):
    return {h['hour']: h['status'] for d in answer['data'] if d['id'] == day for h in d['opening_hours']}


def offered(answer, day):
    """What the time-range field offers for a day: start hours (free entries) and end hours (the entry after
    each free one), as its documented rule reads the entries."""
    entries = next(d['opening_hours'] for d in answer['data'] if d['id'] == day)
    starts = [e['hour'] for e in entries if e['status'] == 'free']
    ends = [entries[i + 1]['hour'] for i, e in enumerate(entries[:-1]) if e['status'] == 'free']
    return starts, ends


def book(api, start, end, **body):
    return api.post('/api/agenda/salle/free-range/fillslot/',
                    {'start_datetime': start, 'end_datetime': end, **body})


def refused(answer, err_class):
    status, body = answer
    assert (status, set(body), body['err'], body['err_class']) == (200, ERROR_KEYS, 1, err_class), answer


def test_the_agenda_advertises_its_free_range_datetimes(api, salle):
    status, answer = api.get('/api/agenda/salle/')
    item = answer['data']
    assert (item['free_range'], item['api']['datetimes_url'], item['api']['resources_url']) == (
        True, 'http://localhost/api/agenda/salle/free-range/datetimes/',
        'http://localhost/api/agenda/salle/resources/')
    assert api.get('/api/agenda/salle/resources/')[1]['data'] == [
        {'id': 'projecteur', 'text': 'Projecteur', 'description': None}]


def test_listing_days_and_steps(api, salle):
    answer = listing(api)
    assert answer['meta'] == {'minimal_booking_slots': 2, 'maximal_booking_slots': 10,
                              'api': {'fillslot_url': 'http://localhost/api/agenda/salle/free-range/fillslot/'}}
    # The window: from Saturday 2nd (minimal delay 1 day) to Monday 11th excluded (10 days).
    assert [(d['id'], d['text'], d['verbose_label'], d['disabled']) for d in answer['data']] == [
        ('2030-03-04', 'Mon 4 Mar 2030', 'Monday 4 March 2030', False),
        ('2030-03-08', 'Fri 8 Mar 2030', 'Friday 8 March 2030', False)]
    assert answer['data'][0]['opening_hours'] == [
        {'hour': '09:00', 'status': 'free'}, {'hour': '09:30', 'status': 'free'},
        {'hour': '10:00', 'status': 'free'}, {'hour': '10:30', 'status': 'closed'}]
    assert offered(answer, '2030-03-04') == (['09:00', '09:30', '10:00'], ['09:30', '10:00', '10:30'])


def test_booking_two_steps_then_the_listing_shows_them_booked(api, salle):
    status, answer = book(api, '2030-03-04 09:30', '2030-03-04 10:30', user_external_id=FORM_UUID,
                          label='Réunion', resource='')
    assert status == 200 and answer['err'] == 0, answer
    booking_id = answer['booking_id']
    assert {k: answer[k] for k in ('datetime', 'end_datetime', 'duration', 'desk', 'agenda', 'resources')} == {
        'datetime': '2030-03-04 09:30:00', 'end_datetime': '2030-03-04 10:30:00', 'duration': 60,
        'desk': {'label': 'Salle 1', 'slug': 'salle-1'}, 'agenda': {'label': 'Salle', 'slug': 'salle'},
        'resources': []}
    assert answer['api']['cancel_url'] == f'http://localhost/api/booking/{booking_id}/cancel/'
    after = listing(api)
    assert hours(after, '2030-03-04') == {'09:00': 'free', '09:30': 'booked', '10:00': 'booked', '10:30': 'closed'}
    assert offered(after, '2030-03-04') == (['09:00'], ['09:30'])
    read = api.get(f'/api/booking/{booking_id}/')[1]
    assert (read['datetime'], read['end_datetime'], read['desk'], read['meeting_type']) == (
        '2030-03-04 09:30:00', '2030-03-04 10:30:00', 'salle-1', 'free-range')
    assert api.post(f'/api/booking/{booking_id}/cancel/')[1] == {'err': 0, 'booking_id': booking_id}
    assert hours(listing(api), '2030-03-04')['09:30'] == 'free'


def test_an_overlapping_range_is_refused_and_a_touching_one_is_not(api, salle):
    assert book(api, '2030-03-08 10:00', '2030-03-08 11:00')[1]['err'] == 0
    refused(book(api, '2030-03-08 10:30', '2030-03-08 11:30'), 'no more desk available')
    status, answer = book(api, '2030-03-08 11:00', '2030-03-08 12:00')  # past the closing time
    refused((status, answer), 'no more desk available')
    assert hours(listing(api), '2030-03-08') == {'10:00': 'booked', '10:30': 'booked', '11:00': 'free',
                                                 '11:30': 'closed'}
    assert api.get('/api/bookings/?user_external_id=nobody')[1]['data'] == []


@pytest.mark.parametrize('start, end, errors', [
    ('2030-03-04 09:00', '2030-03-04 09:30', {'end_datetime': ['The range must last 2 to 10 steps of 30 minutes.']}),
    ('2030-03-04 09:00', '2030-03-04 10:10', {'end_datetime': ['The range must last 2 to 10 steps of 30 minutes.']}),
    ('2030-03-04 10:00', '2030-03-04 09:00', {'end_datetime': ['Must be after start_datetime.']}),
    ('2030-03-04 09:00', '2030-03-04 15:00', {'end_datetime': ['The range must last 2 to 10 steps of 30 minutes.']}),
    (None, '2030-03-04 10:00', {'start_datetime': ['This field is required.']}),
    ('2030-03-04', '2030-03-04 10:00', {'start_datetime': [
        'Datetime has wrong format. Use one of these formats instead: YYYY-MM-DD HH:MM[:SS].']}),
])
def test_a_range_the_agenda_cannot_take_is_invalid_input(api, salle, start, end, errors):
    body = {'end_datetime': end} if start is None else {'start_datetime': start, 'end_datetime': end}
    status, answer = api.post('/api/agenda/salle/free-range/fillslot/', body)
    assert (status, answer['err_class'], answer['errors']) == (400, 'invalid payload', errors)
    assert listing(api)['data'][0]['disabled'] is False


def test_outside_the_window_or_off_the_grid(api, salle):
    refused(book(api, '2030-03-01 10:00', '2030-03-01 11:00'), 'no more desk available')  # today: before the window
    refused(book(api, '2030-03-04 09:15', '2030-03-04 10:15'), 'no more desk available')  # not on a step
    assert book(api, '2030-03-01 10:00', '2030-03-01 11:00', bypass_delays=True)[1]['err'] == 0


def test_the_resource_must_be_free_too(api, salle):
    assert book(api, '2030-03-08 10:00', '2030-03-08 11:00', resource='projecteur')[1]['err'] == 0
    answer = listing(api, resource='projecteur')
    assert hours(answer, '2030-03-04') == {'09:00': 'free', '09:30': 'free', '10:00': 'free', '10:30': 'closed'}
    status, answer = api.get('/api/agenda/salle/free-range/datetimes/?resource=tableau')
    assert (status, answer['err_class']) == (400, 'invalid resource: tableau')


def test_a_hold_on_a_range(api, salle):
    status, answer = book(api, '2030-03-04 09:00', '2030-03-04 10:00', lock_code='session-a')
    assert (answer['err'], answer['held_until'], answer['duration']) == (0, '2030-03-01 09:10:00', 60), answer
    assert hours(listing(api, 'session-b'), '2030-03-04')['09:30'] == 'booked'
    assert hours(listing(api, 'session-a'), '2030-03-04')['09:30'] == 'free'
    refused(book(api, '2030-03-04 09:30', '2030-03-04 10:30', lock_code='session-b'), 'no more desk available')
    status, answer = book(api, '2030-03-04 09:00', '2030-03-04 10:00', lock_code='session-a',
                          confirm_after_lock=True)
    assert answer['err'] == 0 and 'booking_id' in answer, answer


def test_not_a_free_range_agenda(api, salle):
    api.post('/api/agenda/', {'label': 'E', 'slug': 'e'})
    for call in (api.get('/api/agenda/e/free-range/datetimes/'), api.get('/api/agenda/nope/free-range/datetimes/'),
                 api.post('/api/agenda/e/free-range/fillslot/', {})):
        assert_not_found(call)
    assert api.get('/api/agenda/e/free-range/datetimes/')[1]['err_class'] == 'not a free-range agenda'


def test_a_past_day_step_is_closed(api, salle, clock):
    clock(datetime(2030, 3, 4, 9, 40, tzinfo=PARIS))
    answer = listing(api, bypass_delays='true')
    assert hours(answer, '2030-03-04') == {'09:00': 'closed', '09:30': 'closed', '10:00': 'free',
                                           '10:30': 'closed'}
    assert (answer['data'][0]['disabled'], offered(answer, '2030-03-04')) == (False, (['10:00'], ['10:30']))


def test_hide_disabled_leaves_out_full_days(api, salle):
    assert book(api, '2030-03-04 09:00', '2030-03-04 10:30')[1]['err'] == 0
    assert [d['id'] for d in listing(api)['data']] == ['2030-03-04', '2030-03-08']
    assert listing(api)['data'][0]['disabled'] is True
    assert [d['id'] for d in listing(api, hide_disabled='true')['data']] == ['2030-03-08']


def test_the_range_listing_is_between_dates(api, salle):
    answer = listing(api, date_start='2030-03-05', date_end='2030-03-09')
    assert [d['id'] for d in answer['data']] == ['2030-03-08']
    assert listing(api, date_start='2030-03-09', date_end='2030-03-05')['data'] == []


def test_meetings_of_the_same_agenda_see_ranges(api, salle):
    """The agenda's meeting types stay bookable as meetings; a range and a meeting never share the desk."""
    assert book(api, '2030-03-04 09:00', '2030-03-04 10:00')[1]['err'] == 0
    refused(api.post('/api/agenda/salle/fillslot/h1:2030-03-04-0930/', {}), 'no more desk available')
    status, answer = api.get('/api/agenda/salle/meetings/h1/datetimes/')
    assert [(s['id'], s['disabled']) for s in answer['data'] if s['date'] == '2030-03-04'] == [
        ('h1:2030-03-04-0900', True), ('h1:2030-03-04-0930', True)]

