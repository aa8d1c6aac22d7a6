"""Virtual agendas (spec §9.6): fillslot chooses a real agenda (the fewest bookings that day
first, then the order of `real_agendas`), answers with it, and the datetimes list which real
agendas can take each time (`agendas[]`)."""
from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

import pytest

NOW = datetime(2030, 3, 1, 9, 0, tzinfo=ZoneInfo('Europe/Paris'))  # a Friday
TYPES = [{'slug': 'rdv', 'label': 'Rdv', 'duration': 30}]


def real(slug, hours=('09:00', '10:00'), weekday=0):
    period = {'weekday': weekday, 'start_time': hours[0], 'end_time': hours[1]}
    return {'slug': slug, 'label': slug.upper(), 'kind': 'meetings', 'meetingtypes': TYPES,
            'desks': [{'slug': f'{slug}-g', 'label': f'{slug} guichet', 'timeperiods': [period]}]}


@pytest.fixture
def agendas(api, clock):
    clock(NOW)
    document = {'agendas': [
        real('r1'), real('r2'), real('r3', hours=('10:00', '11:00')),
        {'slug': 'v', 'label': 'V', 'kind': 'virtual', 'real_agendas': ['r1', 'r2', 'r3'],
         'excluded_timeperiods': [{'weekday': 0, 'start_time': '10:30', 'end_time': '11:00'}]},
    ]}
    assert api.post('/api/import/', document)[0] == 200


def book(api, slot, **body):
    return api.post(f'/api/agenda/v/fillslot/rdv:{slot}/', body)[1]


def test_the_real_agenda_with_the_fewest_bookings_that_day_takes_it(api, agendas):
    first = book(api, '2030-03-04-0900')
    assert (first['err'], first['agenda'], first['desk']) == (
        0, {'label': 'R1', 'slug': 'r1'}, {'label': 'r1 guichet', 'slug': 'r1-g'})
    assert first['api']['cancel_url'] == f"http://localhost/api/booking/{first['booking_id']}/cancel/"
    # r1 holds one booking on Monday, r2 none: r2 takes 09:30 although r1 is free then.
    assert book(api, '2030-03-04-0930')['agenda']['slug'] == 'r2'
    # One each: in the order of real_agendas, r1 first; its desk is taken at 09:00, r2's is free.
    assert book(api, '2030-03-04-0900')['agenda']['slug'] == 'r2'
    # r3 opens at 10:00 only; the excluded 10:30-11:00 is not bookable through the virtual agenda.
    assert book(api, '2030-03-04-1000')['agenda']['slug'] == 'r3'
    refused = book(api, '2030-03-04-1030')
    assert (refused['err'], refused['err_class']) == (1, 'no more desk available')
    assert api.post('/api/agenda/r3/fillslot/rdv:2030-03-04-1030/', {})[1]['agenda']['slug'] == 'r3'
    both_taken = book(api, '2030-03-04-0900')
    assert (both_taken['err'], both_taken['err_class']) == (1, 'no more desk available')
    # Another day starts the count again.
    assert book(api, '2030-03-11-0930')['agenda']['slug'] == 'r1'


def test_the_booking_belongs_to_the_real_agenda(api, agendas):
    booking = book(api, '2030-03-04-0900', user_external_id='u1')
    detail = api.get(f"/api/booking/{booking['booking_id']}/")[1]
    assert (detail['agenda'], detail['desk'], detail['meeting_type'], detail['datetime'], detail['end_datetime']) == (
        'r1', 'r1-g', 'rdv', '2030-03-04 09:00:00', '2030-03-04 09:30:00')
    # The real agenda's own listing sees it.
    r1 = api.get('/api/agenda/r1/meetings/rdv/datetimes/?date_end=2030-03-05')[1]['data']
    assert [(i['id'], i['disabled']) for i in r1] == [('rdv:2030-03-04-0900', True), ('rdv:2030-03-04-0930', False)]


def test_datetimes_list_the_real_agendas_that_can_take_each_time(api, agendas):
    book(api, '2030-03-04-0900')  # r1

    def serving(item):
        return [(a['id'], a['text'], a['api']['fillslot_url']) for a in item['agendas']]

    data = api.get('/api/agenda/v/meetings/rdv/datetimes/?date_end=2030-03-05')[1]['data']
    assert [(i['id'], i['disabled']) for i in data] == [
        ('rdv:2030-03-04-0900', False), ('rdv:2030-03-04-0930', False), ('rdv:2030-03-04-1000', False)]
    url = 'http://localhost/api/agenda/{}/fillslot/rdv:2030-03-04-{}/'
    assert serving(data[0]) == [('r2', 'R2', url.format('r2', '0900'))]
    assert serving(data[1]) == [('r1', 'R1', url.format('r1', '0930')), ('r2', 'R2', url.format('r2', '0930'))]
    assert serving(data[2]) == [('r3', 'R3', url.format('r3', '1000'))]
    book(api, '2030-03-04-0900')  # r2
    first = api.get('/api/agenda/v/meetings/rdv/datetimes/?date_end=2030-03-05')[1]['data'][0]
    assert (first['disabled'], first['agendas']) == (True, [])
    # A real agenda's listing has no agendas[] key.
    assert 'agendas' not in api.get('/api/agenda/r1/meetings/rdv/datetimes/')[1]['data'][0]


def test_a_virtual_agenda_books_on_each_real_agendas_own_grid(api, clock):
    clock(NOW)
    slow = real('slow', hours=('09:00', '11:00'))
    slow['meetingtypes'] = TYPES + [{'slug': 'long', 'label': 'Long', 'duration': 90}]
    fast = real('fast', hours=('09:00', '11:00'))
    fast['meetingtypes'] = TYPES + [{'slug': 'court', 'label': 'Court', 'duration': 10}]
    document = {'agendas': [slow, fast, {'slug': 'w', 'label': 'W', 'kind': 'virtual',
                                         'real_agendas': ['slow', 'fast']}]}
    assert api.post('/api/import/', document)[0] == 200
    data = api.get('/api/agenda/w/meetings/rdv/datetimes/?date_end=2030-03-05')[1]['data']
    # slow: 30-minute grid; fast: 10-minute grid. 09:10 is fast's only.
    assert [i['id'][4:] for i in data][:4] == ['2030-03-04-0900', '2030-03-04-0910', '2030-03-04-0920',
                                               '2030-03-04-0930']
    assert [a['id'] for a in data[1]['agendas']] == ['fast']
    assert [a['id'] for a in data[0]['agendas']] == ['slow', 'fast']
    assert api.post('/api/agenda/w/fillslot/rdv:2030-03-04-0910/', {})[1]['agenda']['slug'] == 'fast'
    refused = api.post('/api/agenda/slow/fillslot/rdv:2030-03-04-0910/', {})[1]
    assert (refused['err'], refused['err_class']) == (1, 'no more desk available')
