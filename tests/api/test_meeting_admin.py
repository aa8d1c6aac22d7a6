"""Changing a meetings agenda that has bookings (design.md §3.4): a desk with meetings to come
cannot be removed; a meeting type too long for the agenda's lock grid is refused; a change of
the grid keeps the earlier grid's cells checked."""
from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

import pytest

from chalicelib import store

NOW = datetime(2030, 3, 1, 9, 0, tzinfo=ZoneInfo('Europe/Paris'))  # a Friday
MONDAY = {'weekday': 0, 'start_time': '09:00', 'end_time': '12:00'}


def agenda(desks=('g1', 'g2'), types=(('rdv', 30),)):
    return {'slug': 'rdv', 'label': 'Rdv', 'kind': 'meetings',
            'meetingtypes': [{'slug': slug, 'label': slug, 'duration': duration} for slug, duration in types],
            'desks': [{'slug': d, 'label': d, 'timeperiods': [MONDAY]} for d in desks]}


@pytest.fixture
def booked(api, clock):
    clock(NOW)
    assert api.post('/api/import/', {'agendas': [agenda()]})[0] == 200
    answer = api.post('/api/agenda/rdv/fillslot/rdv:2030-03-04-1000/', {})[1]
    assert answer['desk']['slug'] == 'g1'
    return answer


def test_a_desk_with_meetings_to_come_cannot_be_removed(api, booked):
    status, answer = api.post('/api/import/', {'agendas': [agenda(desks=('g2',))]})
    assert (status, answer['err'], answer['err_class'], answer['err_desc']) == (
        200, 1, 'import refused', 'desk g1 of agenda rdv has meetings to come and would be deleted')
    assert [d['id'] for d in api.get('/api/agenda/rdv/desks/')[1]['data']] == ['g1', 'g2']
    # The desk without bookings can go; once the meeting is cancelled, g1 too.
    assert api.post('/api/import/', {'agendas': [agenda(desks=('g1',))]})[1]['data'] == {
        'created': [], 'updated': ['rdv']}
    assert api.post(f"/api/booking/{booked['booking_id']}/cancel/", {})[1]['err'] == 0
    assert api.post('/api/import/', {'agendas': [agenda(desks=('g3',))]})[1]['err'] == 0
    assert [d['id'] for d in api.get('/api/agenda/rdv/desks/')[1]['data']] == ['g3']


def test_a_meeting_type_too_long_for_the_grid_is_refused(api, clock):
    clock(NOW)
    # 5-minute grid: 8 hours are 96 cells, more than a transaction can hold with the rest.
    status, answer = api.post('/api/import/', {'agendas': [agenda(types=(('court', 5), ('journee', 480)))]})
    assert (status, answer['err_class']) == (400, 'invalid payload')
    assert answer['errors'] == {'agendas.0.meetingtypes.1.duration': [
        "A meeting of 480 minutes covers 96 cells of 5 minutes on this agenda's grid (the GCD of its durations "
        "and opening times); at most 47: use rounder durations or opening times."]}
    assert api.get('/api/agenda/rdv/')[0] == 404
    # On a 30-minute grid the same day-long meeting is 16 cells.
    assert api.post('/api/import/', {'agendas': [agenda(types=(('court', 30), ('journee', 480)))]})[1]['err'] == 0


def test_a_new_grid_still_checks_the_cells_of_the_earlier_one(api, booked, monkeypatch):
    # 30-minute grid, then a 10-minute type: 10-minute cells; the 10:00-10:30 meeting holds 30-minute cells.
    assert api.post('/api/import/', {'agendas': [agenda(types=(('rdv', 30), ('court', 10)))]})[1]['err'] == 0
    assert store.get_agenda('rdv').past_lock_steps == (1800,)
    # A read that missed the meeting (the index is eventually consistent): the old cells still refuse g1.
    monkeypatch.setattr(store, 'meeting_legs', lambda *args, **kwargs: [])
    answer = api.post('/api/agenda/rdv/fillslot/court:2030-03-04-1020/', {})[1]
    assert (answer['err'], answer['desk']['slug']) == (0, 'g2')
    # Importing the same content again keeps the history (the content did not change).
    assert api.post('/api/import/', {'agendas': [agenda(types=(('rdv', 30), ('court', 10)))]})[1]['data'] == {
        'created': [], 'updated': []}
    assert store.get_agenda('rdv').past_lock_steps == (1800,)
