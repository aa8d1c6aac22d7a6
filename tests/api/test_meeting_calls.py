"""A meetings fillslot in three DynamoDB calls with `exclude_user` and with `cancel_booking_id` (issue 20, point
4): the configuration's Query, one consistent BatchGetItem of the desks' lock cells for the slot with the
user's days and the replaced booking's leg 000, the transaction. The desks' cells stand for the Query of the
agenda's legs: a desk is free when none of its cells (of the agenda's grid and of its earlier grids) is held.
Beyond one BatchGetItem's 100 keys, the legs' Query again (and the reads beside it)."""
from __future__ import annotations

import pytest

from chalicelib import store
from tests.api.test_meeting_fillslot import (
    CONFIG,
    LEGS,
    NO_DESK,
    NOW,
    WRITE,
    booked,
    fillslot,
    live_bookings,
    locks,
    query,
    record_calls,
    refusal,
    table,
)

MONDAY = {'weekday': 0, 'start_time': '09:00', 'end_time': '12:00'}


def agenda(desks=('g1', 'g2'), types=(('court', 15), ('long', 30)), day=MONDAY):
    return {'slug': 'rdv', 'label': 'Rdv', 'kind': 'meetings', 'minimal_booking_delay': 1,
            'maximal_booking_delay': 30,
            'meetingtypes': [{'slug': slug, 'label': slug, 'duration': minutes} for slug, minutes in types],
            'desks': [{'slug': desk, 'label': desk, 'timeperiods': [day]} for desk in desks]}


@pytest.fixture
def rdv(api, clock):
    clock(NOW)
    assert api.post('/api/import/', {'agendas': [agenda()]})[0] == 200


def calls_without_legs(monkeypatch):
    """The DynamoDB calls from now on (test_meeting_fillslot.record_calls); the agenda's legs (gsi2) must not
    be read: the desks' cells stand for them."""
    def refused(*args, **kwargs):
        raise AssertionError('the legs of the agenda were read')
    monkeypatch.setattr(store, 'meeting_legs', refused)
    return record_calls(monkeypatch)


def test_a_held_desk_is_passed_over_and_the_user_excluded_in_three_calls(api, rdv, monkeypatch):
    first = booked(api, 'long:2030-03-04-1000', user_external_id='u1')
    assert first['desk']['slug'] == 'g1'
    calls = calls_without_legs(monkeypatch)
    second = booked(api, 'court:2030-03-04-1015', user_external_id='u2', exclude_user='true')
    assert (second['desk']['slug'], calls) == ('g2', [query(CONFIG, 'rdv'), ('BatchGetItem',), WRITE])
    before = table()
    calls.clear()
    # u1 holds 10:00-10:30: refused on the read alone.
    assert fillslot(api, 'court:2030-03-04-1015', user_external_id='u1', exclude_user='true') == (200, refusal(
        NO_DESK, 'the user already has a meeting at that time'))
    assert calls == [query(CONFIG, 'rdv'), ('BatchGetItem',)]
    # u3 holds nothing, but both desks are held then.
    assert fillslot(api, 'court:2030-03-04-1015', user_external_id='u3', exclude_user='true') == (200, refusal(
        NO_DESK))
    assert calls == [query(CONFIG, 'rdv'), ('BatchGetItem',)] * 2
    assert table() == before


def test_replacing_a_meeting_with_exclude_user_in_three_calls(api, rdv, monkeypatch):
    """The same user's meeting of the same day, moved: its day is set from the read (the old span out,
    the new one in), so that the old time is free for the user again."""
    old = booked(api, 'long:2030-03-04-1000', user_external_id='u1')
    calls = calls_without_legs(monkeypatch)
    new = booked(api, 'long:2030-03-04-1100', user_external_id='u1', exclude_user='true',
                 cancel_booking_id=str(old['booking_id']))
    assert (new['cancelled_booking_id'], new['desk']['slug']) == (old['booking_id'], 'g1')
    assert calls == [query(CONFIG, 'rdv'), ('BatchGetItem',), WRITE]
    assert [leg[3:] for leg in live_bookings()] == [('g1', '04 11:00')]
    assert locks() == ['LOCK#DESK#rdv#g1#2030-03-04T10:00:00Z', 'LOCK#DESK#rdv#g1#2030-03-04T10:15:00Z']
    again = booked(api, 'long:2030-03-04-1000', user_external_id='u1', exclude_user='true')
    assert again['desk']['slug'] == 'g1'


def test_the_replaced_booking_keeps_its_desk_until_the_transaction(api, rdv, monkeypatch):
    """Moved to a time overlapping its own: its cells are held (as in Chrono, by the booking being replaced),
    so the new time goes to the next desk."""
    old = booked(api, 'long:2030-03-04-1000')
    calls = calls_without_legs(monkeypatch)
    new = booked(api, 'court:2030-03-04-1015', cancel_booking_id=str(old['booking_id']))
    assert (new['desk']['slug'], calls) == ('g2', [query(CONFIG, 'rdv'), ('BatchGetItem',), WRITE])
    assert [leg[3:] for leg in live_bookings()] == [('g2', '04 10:15')]


def test_a_desk_held_on_an_earlier_grid_is_passed_over(api, rdv, monkeypatch):
    """Its cells on the agenda's earlier grid (`past_lock_steps`) are read too."""
    assert booked(api, 'long:2030-03-04-1000')['desk']['slug'] == 'g1'  # 15-minute cells: 10:00, 10:15
    # A 10-minute type: 5-minute cells; the meeting holds 15-minute ones, none at 10:20.
    assert api.post('/api/import/', {'agendas': [agenda(types=(('court', 15), ('long', 30), ('bref', 10)))]})[
        1]['err'] == 0
    assert store.get_agenda('rdv').past_lock_steps == (900,)
    calls = calls_without_legs(monkeypatch)
    answer = booked(api, 'bref:2030-03-04-1020', user_external_id='u2', exclude_user='true')
    assert (answer['desk']['slug'], calls) == ('g2', [query(CONFIG, 'rdv'), ('BatchGetItem',), WRITE])


def test_beyond_one_batch_the_legs_query_again(api, clock, monkeypatch):
    """9 desks of 12 cells each (an hour on a 5-minute grid) and the user's day: 109 keys."""
    clock(NOW)
    document = agenda(desks=[f'g{n}' for n in range(1, 10)], types=(('cinq', 5), ('heure', 60)),
                      day={'weekday': 0, 'start_time': '09:00', 'end_time': '17:00'})
    assert api.post('/api/import/', {'agendas': [document]})[0] == 200
    calls = record_calls(monkeypatch)
    assert booked(api, 'heure:2030-03-04-1000', user_external_id='u1', exclude_user='true')['desk']['slug'] == 'g1'
    assert calls == [query(CONFIG, 'rdv'), ('BatchGetItem',), query(LEGS, 'rdv'), WRITE]
    calls.clear()
    assert booked(api, 'cinq:2030-03-04-1000', user_external_id='u2', exclude_user='true')['desk']['slug'] == 'g2'
    assert calls == [query(CONFIG, 'rdv'), ('BatchGetItem',), WRITE]  # 9 cells and a day
