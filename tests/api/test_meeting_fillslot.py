"""Meetings fillslot and fillslots (spec §6.1-6.2, §9.5-9.6) through the API."""
from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

import pytest

from chalicelib.models import Lock

NOW = datetime(2030, 3, 1, 9, 0, tzinfo=ZoneInfo('Europe/Paris'))  # a Friday
MONDAY = {'weekday': 0, 'start_time': '09:00', 'end_time': '12:00'}


@pytest.fixture
def agendas(api, clock):
    clock(NOW)
    document = {'agendas': [
        {'slug': 'rdv', 'label': 'Rdv', 'kind': 'meetings', 'minimal_booking_delay': 1, 'maximal_booking_delay': 30,
         'meetingtypes': [{'slug': 'court', 'label': 'Court', 'duration': 15},
                          {'slug': 'long', 'label': 'Long', 'duration': 30}],
         'desks': [{'slug': 'g1', 'label': 'Guichet 1', 'timeperiods': [MONDAY]},
                   {'slug': 'g2', 'label': 'Guichet 2', 'timeperiods': [MONDAY]}]},
    ]}
    assert api.post('/api/import/', document)[0] == 200


def locks():
    return sorted(item.pk for item in Lock.scan())


def test_first_free_desk_in_desk_order_then_no_more_desk(api, agendas):
    status, first = api.post('/api/agenda/rdv/fillslot/long:2030-03-04-1000/', {'user_external_id': 'u1'})
    assert status == 200, first
    booking_id = first['booking_id']
    assert first == {
        'err': 0, 'booking_id': booking_id, 'datetime': '2030-03-04 10:00:00', 'end_datetime': '2030-03-04 10:30:00',
        'duration': 30, 'in_waiting_list': False, 'agenda': {'label': 'Rdv', 'slug': 'rdv'},
        'desk': {'label': 'Guichet 1', 'slug': 'g1'}, 'resources': [],
        'api': {'booking_url': f'http://localhost/api/booking/{booking_id}/',
                'cancel_url': f'http://localhost/api/booking/{booking_id}/cancel/',
                'ics_url': f'http://localhost/api/booking/{booking_id}/ics/',
                'anonymize_url': f'http://localhost/api/booking/{booking_id}/anonymize/',
                'accept_url': f'http://localhost/api/booking/{booking_id}/accept/',
                'suspend_url': f'http://localhost/api/booking/{booking_id}/suspend/'}}
    assert locks() == ['LOCK#DESK#rdv#g1#2030-03-04T09:00:00Z', 'LOCK#DESK#rdv#g1#2030-03-04T09:15:00Z']
    second = api.post('/api/agenda/rdv/fillslot/court:2030-03-04-1015/', {})[1]
    assert second['desk'] == {'label': 'Guichet 2', 'slug': 'g2'}
    third = api.post('/api/agenda/rdv/fillslot/court:2030-03-04-1015/', {})[1]
    assert (third['err'], third['err_class'], third['err_desc']) == (1, 'no more desk available',
                                                                     'no more desk available')
    assert api.post(f'/api/booking/{booking_id}/cancel/', {})[0] == 200
    assert locks() == ['LOCK#DESK#rdv#g2#2030-03-04T09:15:00Z']
    assert api.post('/api/agenda/rdv/fillslot/court:2030-03-04-1015/', {})[1]['desk']['slug'] == 'g1'
