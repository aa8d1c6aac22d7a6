"""`GET /api/agenda/<agenda>/meetings/<type>/datetimes/` (spec §5.4, §9.5) through the API."""
from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

import pytest

NOW = datetime(2030, 3, 1, 9, 0, tzinfo=ZoneInfo('Europe/Paris'))  # a Friday
MONDAY = {'weekday': 0, 'start_time': '09:00', 'end_time': '10:30'}


@pytest.fixture
def agendas(api, clock):
    clock(NOW)
    document = {'agendas': [
        {'slug': 'rdv', 'label': 'Rdv', 'kind': 'meetings', 'minimal_booking_delay': 1, 'maximal_booking_delay': 10,
         'meetingtypes': [{'slug': 'court', 'label': 'Court', 'duration': 30},
                          {'slug': 'long', 'label': 'Long', 'duration': 45}],
         'desks': [{'slug': 'g1', 'label': 'G1', 'timeperiods': [MONDAY],
                    'exceptions': [{'start_datetime': '2030-03-04 09:30', 'end_datetime': '2030-03-04 09:45'}]},
                   {'slug': 'g2', 'label': 'G2',
                    'timeperiods': [{'weekday': 0, 'start_time': '10:00', 'end_time': '11:00'}]}]},
        {'slug': 'autre', 'label': 'Autre', 'kind': 'meetings',
         'meetingtypes': [{'slug': 'long', 'label': 'Long', 'duration': 45}],
         'desks': [{'slug': 'a1', 'label': 'A1', 'timeperiods': [{'weekday': 0, 'start_time': '11:00',
                                                                 'end_time': '11:45'}]}]},
        {'slug': 'titres', 'label': 'Titres', 'kind': 'virtual', 'real_agendas': ['rdv', 'autre'],
         'excluded_timeperiods': [{'weekday': 0, 'start_time': '10:00', 'end_time': '10:15'}]},
    ]}
    assert api.post('/api/import/', document)[0] == 200


def item(agenda, meeting_type, local, end):
    day, hour = local.split(' ')
    ident = f"{meeting_type}:{day}-{hour.replace(':', '')}"
    return {'id': ident, 'date': day, 'datetime': f'{local}:00', 'end_datetime': f'{day} {end}:00',
            'text': f'{local}:00', 'disabled': False,
            'api': {'fillslot_url': f'http://localhost/api/agenda/{agenda}/fillslot/{ident}/'}}


def test_times_on_the_agenda_grid_across_desks_minus_closures(api, agendas):
    status, answer = api.get('/api/agenda/rdv/meetings/long/datetimes/')
    first = item('rdv', 'long', '2030-03-04 09:45', '10:30')
    assert (status, answer) == (200, {'err': 0, 'data': [
        first, item('rdv', 'long', '2030-03-04 10:00', '10:45'), item('rdv', 'long', '2030-03-04 10:15', '11:00')],
        'meta': {'no_bookable_datetimes': False, 'bookable_datetimes_number_total': 3,
                 'bookable_datetimes_number_available': 3, 'first_bookable_slot': first}})


def test_the_window_and_the_dates_narrow_the_list(api, agendas):
    # maximal_booking_delay 10 days from Friday 1st: Monday 4th and Monday 11th (excluded bound 11th 00:00).
    ids = [i['id'] for i in api.get('/api/agenda/rdv/meetings/court/datetimes/')[1]['data']]
    assert ids == ['court:2030-03-04-0900', 'court:2030-03-04-0945', 'court:2030-03-04-1000',
                   'court:2030-03-04-1015', 'court:2030-03-04-1030']
    with_bypass = api.get('/api/agenda/rdv/meetings/court/datetimes/?bypass_delays=true&date_end=2030-03-12')[1]
    assert [i['id'] for i in with_bypass['data']][-1] == 'court:2030-03-11-1030'
    assert api.get('/api/agenda/rdv/meetings/court/datetimes/?date_start=2030-03-05')[1]['data'] == []


def test_a_virtual_agenda_lists_the_union_minus_its_excluded_periods(api, agendas):
    status, answer = api.get('/api/agenda/titres/meetings/long/datetimes/?bypass_delays=true&date_end=2030-03-05')
    # 09:45 and 10:00 (rdv) overlap the excluded 10:00-10:15; 11:00 comes from `autre`.
    assert [i['id'] for i in answer['data']] == ['long:2030-03-04-1015', 'long:2030-03-04-1100']
    assert answer['data'][0]['api']['fillslot_url'] == \
        'http://localhost/api/agenda/titres/fillslot/long:2030-03-04-1015/'


@pytest.mark.parametrize('path, status, err_class', [
    ('/api/agenda/rdv/meetings/nope/datetimes/', 404, 'unknown meeting type'),
    ('/api/agenda/titres/meetings/court/datetimes/', 404, 'unknown meeting type'),
    ('/api/agenda/nope/meetings/court/datetimes/', 404, 'unknown agenda'),
    ('/api/agenda/rdv/meetings/court/datetimes/?date_start=demain', 400, 'invalid payload'),
])
def test_errors(api, agendas, path, status, err_class):
    got_status, answer = api.get(path)
    assert (got_status, answer['err'], answer['err_class']) == (status, 1, err_class)
