"""Resources booked with meetings (spec §5.4 `resources`, §6.1, §9.5): a resource busy in any
agenda makes the time unavailable; it is held with lock items and freed on cancel."""
from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

import pytest

from chalicelib.store.models import Lock, ResourceUse, TableItem

NOW = datetime(2030, 3, 1, 9, 0, tzinfo=ZoneInfo('Europe/Paris'))  # a Friday
MONDAY = {'weekday': 0, 'start_time': '09:00', 'end_time': '10:00'}
TYPES = [{'slug': 'rdv', 'label': 'Rdv', 'duration': 30}, {'slug': 'court', 'label': 'Court', 'duration': 15}]


@pytest.fixture
def agendas(api, clock):
    clock(NOW)
    document = {
        'resources': [{'slug': 'salle', 'label': 'Salle'}, {'slug': 'projecteur', 'label': 'Projecteur'}],
        'agendas': [
            {'slug': 'a', 'label': 'A', 'kind': 'meetings', 'resources': ['salle', 'projecteur'],
             'meetingtypes': TYPES, 'desks': [{'slug': 'g1', 'label': 'G1', 'timeperiods': [MONDAY]},
                                              {'slug': 'g2', 'label': 'G2', 'timeperiods': [MONDAY]}]},
            {'slug': 'b', 'label': 'B', 'kind': 'meetings', 'resources': ['salle'],
             'meetingtypes': [{'slug': 'rdv', 'label': 'Rdv', 'duration': 30}],
             'desks': [{'slug': 'b1', 'label': 'B1', 'timeperiods': [MONDAY]}]},
            {'slug': 'v', 'label': 'V', 'kind': 'virtual', 'real_agendas': ['a', 'b']},
        ]}
    assert api.post('/api/import/', document)[0] == 200


def held():
    """(lock items, resource uses) in the table."""
    items = list(TableItem.scan())
    return sum(isinstance(i, Lock) for i in items), sum(isinstance(i, ResourceUse) for i in items)


def disabled(api, path):
    """Monday 4th's times and whether each is disabled."""
    answer = api.get(path + ('&' if '?' in path else '?') + 'date_end=2030-03-05')[1]
    return {item['id'].split(':')[1]: item['disabled'] for item in answer['data']}


def test_a_booked_resource_disables_its_time_in_every_agenda_that_asks_for_it(api, agendas):
    status, booking = api.post('/api/agenda/a/fillslot/rdv:2030-03-04-0900/', {'resources': 'salle'})
    assert (status, booking['err'], booking['resources'], booking['desk']['slug']) == (200, 0, ['salle'], 'g1')
    assert disabled(api, '/api/agenda/b/meetings/rdv/datetimes/?resources=salle') == {
        '2030-03-04-0900': True, '2030-03-04-0930': False}
    # Without asking for the resource, agenda b's desk is free.
    assert disabled(api, '/api/agenda/b/meetings/rdv/datetimes/') == {
        '2030-03-04-0900': False, '2030-03-04-0930': False}
    # Another resource is free; a 15-minute slot touching the end of the booking is free.
    assert disabled(api, '/api/agenda/a/meetings/court/datetimes/?resources=projecteur') == {
        '2030-03-04-0900': False, '2030-03-04-0915': False, '2030-03-04-0930': False, '2030-03-04-0945': False}
    assert disabled(api, '/api/agenda/a/meetings/court/datetimes/?resources=salle,projecteur') == {
        '2030-03-04-0900': True, '2030-03-04-0915': True, '2030-03-04-0930': False, '2030-03-04-0945': False}


def test_a_resource_taken_elsewhere_refuses_the_booking_and_changes_nothing(api, agendas):
    assert api.post('/api/agenda/a/fillslot/rdv:2030-03-04-0900/', {'resources': ['salle']})[1]['err'] == 0
    before = held()
    answer = api.post('/api/agenda/b/fillslot/rdv:2030-03-04-0900/', {'resources': 'salle'})[1]
    assert (answer['err'], answer['err_class']) == (1, 'no more desk available')
    overlapping = api.post('/api/agenda/a/fillslot/court:2030-03-04-0915/', {'resources': 'salle'})[1]
    assert (overlapping['err'], overlapping['err_class']) == (1, 'no more desk available')
    assert held() == before
    assert api.post('/api/agenda/b/fillslot/rdv:2030-03-04-0930/', {'resources': 'salle'})[1]['err'] == 0


def test_cancel_frees_the_resource(api, agendas):
    booking = api.post('/api/agenda/a/fillslot/rdv:2030-03-04-0900/', {'resources': 'salle,projecteur'})[1]
    # A 30-minute booking: 2 desk cells (15-minute grid), 6 cells of 5 minutes per resource, 2 uses.
    assert held() == (2 + 6 + 6, 2)
    detail = api.get(f"/api/booking/{booking['booking_id']}/")[1]
    assert (detail['resources'], detail['desk'], detail['meeting_type']) == (['salle', 'projecteur'], 'g1', 'rdv')
    assert api.post(f"/api/booking/{booking['booking_id']}/cancel/", {})[1] == {
        'err': 0, 'booking_id': booking['booking_id']}
    assert held() == (0, 0)
    assert api.post('/api/agenda/b/fillslot/rdv:2030-03-04-0900/', {'resources': 'salle'})[1]['err'] == 0


@pytest.mark.parametrize('path', [
    '/api/agenda/b/meetings/rdv/datetimes/?resources=projecteur',
    '/api/agenda/a/meetings/rdv/datetimes/?resources=salle,nope,autre',
    '/api/agenda/v/meetings/rdv/datetimes/?resources=salle',
])
def test_a_resource_the_agenda_does_not_use_is_a_400(api, agendas, path):
    status, answer = api.get(path)
    expected = {'b': 'projecteur', 'a': 'autre, nope', 'v': 'salle'}[path.split('/')[3]]
    assert (status, answer['err'], answer['err_class']) == (400, 1, f'invalid resource: {expected}')


def test_fillslot_with_an_unknown_resource_is_a_400_that_books_nothing(api, agendas):
    status, answer = api.post('/api/agenda/b/fillslot/rdv:2030-03-04-0900/', {'resources': ['projecteur']})
    assert (status, answer['err_class']) == (400, 'invalid resource: projecteur')
    assert held() == (0, 0)
