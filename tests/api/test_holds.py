"""Holds (`lock_code`, spec §9.9; docs/api.md "Holds"): a fillslot with `lock_code` holds the places (a desk's
time) for CHRONO_HOLD_SECONDS; datetimes with the same `lock_code` show them free, with any other taken;
`confirm_after_lock=true` turns the hold into the booking; a new hold of the lock code replaces the old; once
expired, the hold is free for every reader and writer at once. The requests are those of w.c.s.: its agenda data
sources add `lock_code` (`{% firstof form_submission_context_lock_code session_hash_id %}`) to every datetimes
URL (`wcs/data_sources_agendas.py`), and read `id`, `text`, `disabled`, `api.fillslot_url` of each item.

Concurrency (100 holds on the last place, expiry racing) is proven on DynamoDB Local in
tests/conformance/test_hold_concurrency.py.
"""
from __future__ import annotations

import hashlib
from datetime import datetime, timedelta
from urllib.parse import urlencode
from zoneinfo import ZoneInfo

import pytest

from chalicelib.store.models import Event, Hold, HeldSpan, Lock, agenda_pk
from tests.api.conftest import ERROR_KEYS

PARIS = ZoneInfo('Europe/Paris')
NOW = datetime(2030, 3, 1, 9, 0, tzinfo=PARIS)
SESSION_A = hashlib.sha1(b'session-a').hexdigest()  # w.c.s.: session_hash_id
SESSION_B = hashlib.sha1(b'session-b').hexdigest()


def datetimes_url(path: str, lock_code: str, **more) -> str:
    """As w.c.s. builds a data source URL: its qs_data, sorted and urlencoded."""
    return f'{path}?{urlencode(sorted({"lock_code": lock_code, **more}.items()))}'


@pytest.fixture
def events(api, clock):
    clock(NOW)
    status, answer = api.post('/api/agenda/', {'label': 'Piscine', 'slug': 'piscine'})
    assert (status, answer['err']) == (200, 0), answer
    for slug, places, waiting in (('last', 1, 0), ('big', 5, 0), ('wl', 1, 1)):
        status, answer = api.post('/api/agenda/piscine/event/', {
            'slug': slug, 'start_datetime': '2030-03-10 10:00', 'places': places, 'waiting_list_places': waiting})
        assert (status, answer['err']) == (200, 0), answer
    return 'piscine'


def items(api, lock_code, **more):
    status, answer = api.get(datetimes_url('/api/agenda/piscine/datetimes/', lock_code, **more))
    assert (status, answer['err']) == (200, 0), answer
    return {item['id']: item for item in answer['data']}


def hold(api, event, lock_code, **body):
    return api.post(f'/api/agenda/piscine/fillslot/{event}/', {'lock_code': lock_code, **body})


def confirm(api, event, lock_code, **body):
    return api.post(f'/api/agenda/piscine/fillslot/{event}/',
                    {'lock_code': lock_code, 'confirm_after_lock': 'true', **body})


def stored_holds(event):
    item = Event.get(agenda_pk('piscine'), f'event#{event}', consistent_read=True)
    return int(item.reserved), (item.holds.as_dict() if item.holds is not None else None)


def refused(answer, err_class):
    status, body = answer
    assert (status, set(body), body['err'], body['err_class']) == (200, ERROR_KEYS, 1, err_class), answer


# ---- events -------------------------------------------------------------------------------------------

def test_a_hold_answers_until_when_and_books_nothing(api, events):
    status, answer = hold(api, 'last', SESSION_A, user_external_id='u1', label='Dupont')
    assert (status, answer) == (200, {
        'err': 0, 'held_until': '2030-03-01 09:10:00', 'in_waiting_list': False,
        'agenda': {'label': 'Piscine', 'slug': 'piscine'}, 'datetime': '2030-03-10 10:00:00', 'end_datetime': None,
        'places': {'total': 1, 'reserved': 1, 'available': 0, 'full': True, 'has_waiting_list': False}})
    key = hashlib.sha256(SESSION_A.encode()).hexdigest()[:32]
    until = int(datetime(2030, 3, 1, 9, 10, tzinfo=PARIS).timestamp())
    assert stored_holds('last') == (1, {key: {'count': 1, 'waiting': False, 'until': until}})
    record = Hold.get(f'HOLD#{key}', 'hold', consistent_read=True)
    assert (record.version, record.events) == (1, [{'agenda': 'piscine', 'event': 'last', 'count': 1,
                                                    'waiting': False}])
    assert api.get('/api/bookings/?user_external_id=u1')[1]['data'] == []  # no booking
    assert SESSION_A not in str(Hold.get(f'HOLD#{key}', 'hold').serialize())  # only the digest is stored


def test_the_holder_sees_the_slot_free_and_everyone_else_taken(api, events):
    hold(api, 'last', SESSION_A)
    mine, theirs = items(api, SESSION_A)['last'], items(api, SESSION_B)['last']
    assert (mine['disabled'], mine['places']['reserved'], mine['places']['available']) == (False, 0, 1)
    assert (theirs['disabled'], theirs['places']['reserved'], theirs['places']['available']) == (True, 1, 0)
    assert items(api, SESSION_B, hide_disabled='true').keys() == {'big', 'wl'}
    assert mine['api']['fillslot_url'] == 'http://localhost/api/agenda/piscine/fillslot/last/'
    status, answer = api.get('/api/agenda/piscine/status/last/')  # no lock code: a live hold counts
    assert answer['places']['reserved'] == 1


def test_another_lock_code_is_refused_as_for_a_full_event(api, events):
    hold(api, 'last', SESSION_A)
    refused(hold(api, 'last', SESSION_B), 'sold out')
    refused(api.post('/api/agenda/piscine/fillslot/last/', {}), 'sold out')  # a plain booking too
    refused(confirm(api, 'last', SESSION_B), 'sold out')
    assert stored_holds('last')[0] == 1


def test_confirm_after_lock_turns_the_hold_into_the_booking_in_one_write(api, events):
    hold(api, 'last', SESSION_A, user_external_id='u1')
    status, answer = confirm(api, 'last', SESSION_A, user_external_id='u1', label='Dupont')
    assert (status, answer['err'], answer['places']['reserved']) == (200, 0, 1), answer
    assert stored_holds('last') == (1, {})  # the hold's place became the booking's
    key = hashlib.sha256(SESSION_A.encode()).hexdigest()[:32]
    with pytest.raises(Hold.DoesNotExist):
        Hold.get(f'HOLD#{key}', 'hold', consistent_read=True)
    booking = api.get(f"/api/booking/{answer['booking_id']}/")[1]
    assert (booking['label'], booking['user_external_id']) == ('Dupont', 'u1')
    assert items(api, SESSION_A)['last']['disabled'] is True  # booked now, for the holder too


def test_a_confirmation_without_a_hold_books_as_a_plain_fillslot(api, events):
    status, answer = confirm(api, 'big', SESSION_A)
    assert (answer['err'], answer['places']['reserved']) == (0, 1)


def test_a_new_hold_of_the_same_lock_code_replaces_the_old(api, events):
    hold(api, 'last', SESSION_A)
    status, answer = hold(api, 'big', SESSION_A, count=2)
    assert (answer['err'], answer['places']['reserved']) == (0, 2), answer
    key = hashlib.sha256(SESSION_A.encode()).hexdigest()[:32]
    assert stored_holds('last') == (0, {})
    assert stored_holds('big')[0] == 2 and list(stored_holds('big')[1]) == [key]
    assert items(api, SESSION_B)['last']['disabled'] is False
    status, answer = hold(api, 'big', SESSION_A, count=1)  # the same event again: its entry is replaced
    assert stored_holds('big') == (1, {key: {'count': 1, 'waiting': False,
                                             'until': int(datetime(2030, 3, 1, 9, 10, tzinfo=PARIS).timestamp())}})
    assert Hold.get(f'HOLD#{key}', 'hold', consistent_read=True).version == 3


def test_an_expired_hold_is_free_at_once_for_readers_and_writers(api, events, clock):
    hold(api, 'last', SESSION_A)
    clock(NOW + timedelta(minutes=9, seconds=59))
    assert items(api, SESSION_B)['last']['disabled'] is True
    clock(NOW + timedelta(minutes=10))
    assert items(api, SESSION_B)['last']['disabled'] is False
    assert api.get('/api/agenda/piscine/status/last/')[1]['places']['reserved'] == 0
    assert stored_holds('last')[0] == 1  # still stored: nobody needed the place yet
    status, answer = api.post('/api/agenda/piscine/fillslot/last/', {'user_external_id': 'u2'})
    assert (answer['err'], answer['places']['reserved']) == (0, 1), answer
    assert stored_holds('last') == (1, {})  # the booking gave the expired hold back in its write
    refused(confirm(api, 'last', SESSION_A), 'sold out')  # too late for the holder


def test_a_confirmation_after_expiry_books_if_the_place_is_still_free(api, events, clock):
    hold(api, 'last', SESSION_A)
    clock(NOW + timedelta(minutes=30))
    status, answer = confirm(api, 'last', SESSION_A)
    assert (answer['err'], answer['places']['reserved']) == (0, 1), answer
    assert stored_holds('last') == (1, {})


def test_holds_follow_the_waiting_list_rule(api, events):
    api.post('/api/agenda/piscine/fillslot/wl/', {})
    status, answer = hold(api, 'wl', SESSION_A)
    assert (answer['err'], answer['in_waiting_list']) == (0, True), answer
    refused(hold(api, 'wl', SESSION_B), 'sold out')
    status, answer = confirm(api, 'wl', SESSION_A)
    assert (answer['err'], answer['in_waiting_list']) == (0, True), answer
    assert api.get('/api/agenda/piscine/status/wl/')[1]['places']['waiting_list_reserved'] == 1


def test_cancel_event_and_agent_check_see_holds_as_no_booking(api, events):
    """An agent's check and cancel compare the event's legs with its counters: held places are no leg."""
    api.post('/api/agenda/piscine/fillslot/big/', {'user_external_id': 'u1'})
    hold(api, 'big', SESSION_A, count=2)
    assert api.post('/api/agenda/piscine/check/big/') == (200, {'err': 0, 'checked': True, 'callbacks': 0})
    assert api.post('/api/agenda/piscine/event/big/cancel/') == (200, {'err': 0, 'cancelled_bookings': 1})
    refused(confirm(api, 'big', SESSION_A, count=2), 'event is cancelled')


def test_lock_code_is_checked_like_any_field(api, events):
    status, answer = hold(api, 'last', 'x' * 10001)
    assert (status, answer['err_class'], list(answer['errors'])) == (400, 'invalid payload', ['lock_code'])
    status, answer = api.get(datetimes_url('/api/agenda/piscine/datetimes/', 'x' * 10001))
    assert (status, list(answer['errors'])) == (400, ['lock_code'])
    assert stored_holds('last') == (0, None)


def test_a_group_hold_of_several_events(api, events):
    status, answer = api.post('/api/agenda/piscine/fillslots/', {'slots': 'last,big', 'lock_code': SESSION_A})
    assert (answer['err'], [e['slug'] for e in answer['events']]) == (0, ['last', 'big']), answer
    assert (stored_holds('last')[0], stored_holds('big')[0]) == (1, 1)
    status, answer = api.post('/api/agenda/piscine/fillslots/', {
        'slots': 'last,big', 'lock_code': SESSION_A, 'confirm_after_lock': True})
    assert answer['err'] == 0, answer
    assert (stored_holds('last'), stored_holds('big')) == ((1, {}), (1, {}))



def test_writers_other_than_fillslot_free_expired_holds_too(api, events, clock):
    """resize grows into an expired hold's places; an agent shrinks or deletes an event that only expired holds
    fill: each gives the expired holds back in its own write."""
    status, booked = api.post('/api/agenda/piscine/fillslot/big/', {})
    hold(api, 'big', SESSION_A, count=4)
    status, answer = api.post(f"/api/booking/{booked['booking_id']}/resize/", {'count': 2})
    assert (status, answer['err'], answer['err_class']) == (200, 3, 'sold out')  # spec §8.9: err 3
    clock(NOW + timedelta(minutes=11))
    assert api.get('/api/agenda/piscine/event/big/')[1]['data']['places']['reserved'] == 1
    assert api.post(f"/api/booking/{booked['booking_id']}/resize/", {'count': 2}) == (
        200, {'err': 0, 'booking_id': booked['booking_id']})
    assert stored_holds('big') == (2, {})
    hold(api, 'last', SESSION_B)
    clock(NOW + timedelta(minutes=30))
    status, answer = api.patch('/api/agenda/piscine/event/last/', {'places': 2})
    assert (answer['err'], answer['data']['places']['reserved']) == (0, 0), answer
    assert stored_holds('last') == (0, {})
    hold(api, 'wl', SESSION_B)
    clock(NOW + timedelta(minutes=50))
    assert api.delete('/api/agenda/piscine/event/wl/') == (200, {'err': 0})


def test_a_live_hold_keeps_its_places_from_an_agents_change(api, events):
    hold(api, 'last', SESSION_A)
    status, answer = api.delete('/api/agenda/piscine/event/last/')
    assert (answer['err'], answer['err_class']) == (1, 'event has bookings')
    assert stored_holds('last')[0] == 1

# ---- meetings -------------------------------------------------------------------------------------------

MONDAY = {'weekday': 0, 'start_time': '09:00', 'end_time': '12:00'}


@pytest.fixture
def meetings(api, clock):
    """rdv: desks g1 and g2 open on Mondays 09:00-12:00 (types court 15 and long 30 minutes), resource salle."""
    clock(NOW)
    api.post('/api/import/', {'resources': [{'slug': 'salle', 'label': 'Salle'}], 'agendas': [
        {'slug': 'rdv', 'label': 'Rdv', 'kind': 'meetings', 'minimal_booking_delay': 1, 'maximal_booking_delay': 30,
         'resources': ['salle'],
         'meetingtypes': [{'slug': 'court', 'label': 'Court', 'duration': 15},
                          {'slug': 'long', 'label': 'Long', 'duration': 30}],
         'desks': [{'slug': 'g1', 'label': 'Guichet 1', 'timeperiods': [MONDAY]}]}]})
    return 'rdv'


def slots(api, lock_code, meeting_type='long', **more):
    status, answer = api.get(datetimes_url(f'/api/agenda/rdv/meetings/{meeting_type}/datetimes/', lock_code, **more))
    assert (status, answer['err']) == (200, 0), answer
    return {item['id']: item['disabled'] for item in answer['data'] if item['id'].endswith('2030-03-04-1000')
            or item['id'].endswith('2030-03-04-1015') or item['id'].endswith('2030-03-04-1030')}


def meeting(api, slot, lock_code=None, **body):
    if lock_code:
        body['lock_code'] = lock_code
    return api.post(f'/api/agenda/rdv/fillslot/{slot}/', body)


def lock_items():
    return sorted((item.pk.split('#')[-1], item.booking_id, item.hold is not None) for item in Lock.scan())


def test_a_meeting_hold_keeps_the_desk_time_for_its_lock_code_only(api, meetings):
    status, answer = meeting(api, 'long:2030-03-04-1000', SESSION_A)
    assert (status, answer) == (200, {
        'err': 0, 'held_until': '2030-03-01 09:10:00', 'in_waiting_list': False,
        'agenda': {'label': 'Rdv', 'slug': 'rdv'}, 'datetime': '2030-03-04 10:00:00',
        'end_datetime': '2030-03-04 10:30:00', 'duration': 30, 'desk': {'label': 'Guichet 1', 'slug': 'g1'},
        'resources': []})
    assert lock_items() == [('2030-03-04T09:00:00Z', 0, True), ('2030-03-04T09:15:00Z', 0, True)]
    assert [item.sk for item in HeldSpan.scan()] == ['span#000']
    assert slots(api, SESSION_A) == {'long:2030-03-04-1000': False, 'long:2030-03-04-1015': False,
                                     'long:2030-03-04-1030': False}
    assert slots(api, SESSION_B) == {'long:2030-03-04-1000': True, 'long:2030-03-04-1015': True,
                                     'long:2030-03-04-1030': False}
    assert slots(api, SESSION_B, 'court') == {'court:2030-03-04-1000': True, 'court:2030-03-04-1015': True,
                                              'court:2030-03-04-1030': False}
    refused(meeting(api, 'court:2030-03-04-1015', SESSION_B), 'no more desk available')
    refused(meeting(api, 'court:2030-03-04-1015'), 'no more desk available')


def test_a_meeting_confirmation_books_the_held_time(api, meetings):
    meeting(api, 'long:2030-03-04-1000', SESSION_A)
    status, answer = meeting(api, 'long:2030-03-04-1000', SESSION_A, confirm_after_lock='true', user_external_id='u1')
    assert (answer['err'], answer['desk']['slug']) == (0, 'g1'), answer
    assert lock_items() == [('2030-03-04T09:00:00Z', answer['booking_id'], False),
                            ('2030-03-04T09:15:00Z', answer['booking_id'], False)]
    assert list(HeldSpan.scan()) == [] and list(Hold.scan()) == []
    assert slots(api, SESSION_A) == {'long:2030-03-04-1000': True, 'long:2030-03-04-1015': True,
                                     'long:2030-03-04-1030': False}


def test_confirming_another_time_than_the_held_one_gives_the_held_one_back(api, meetings):
    meeting(api, 'long:2030-03-04-1000', SESSION_A)
    status, answer = meeting(api, 'court:2030-03-04-1100', SESSION_A, confirm_after_lock=True)
    assert answer['err'] == 0, answer
    assert lock_items() == [('2030-03-04T10:00:00Z', answer['booking_id'], False)]
    assert slots(api, SESSION_B) == {'long:2030-03-04-1000': False, 'long:2030-03-04-1015': False,
                                     'long:2030-03-04-1030': False}


def test_a_new_meeting_hold_replaces_the_old(api, meetings):
    meeting(api, 'long:2030-03-04-1000', SESSION_A)
    status, answer = meeting(api, 'court:2030-03-04-1015', SESSION_A)  # overlaps its own hold: fine
    assert answer['err'] == 0, answer
    assert lock_items() == [('2030-03-04T09:15:00Z', 0, True)]
    assert slots(api, SESSION_B, 'court') == {'court:2030-03-04-1000': False, 'court:2030-03-04-1015': True,
                                              'court:2030-03-04-1030': False}


def test_an_expired_meeting_hold_is_free_for_everyone(api, meetings, clock):
    meeting(api, 'long:2030-03-04-1000', SESSION_A)
    clock(NOW + timedelta(minutes=10))
    assert slots(api, SESSION_B) == {'long:2030-03-04-1000': False, 'long:2030-03-04-1015': False,
                                     'long:2030-03-04-1030': False}
    status, answer = meeting(api, 'court:2030-03-04-1015', user_external_id='u2')
    assert answer['err'] == 0, answer  # the expired hold's cell is taken over in the booking's write
    assert ('2030-03-04T09:15:00Z', answer['booking_id'], False) in lock_items()
    refused(meeting(api, 'long:2030-03-04-1000', SESSION_A, confirm_after_lock=True), 'no more desk available')


def test_a_held_resource_is_taken_for_others(api, meetings):
    meeting(api, 'long:2030-03-04-1000', SESSION_A, resources='salle')
    assert slots(api, SESSION_B, resources='salle')['long:2030-03-04-1000'] is True
    assert slots(api, SESSION_A, resources='salle')['long:2030-03-04-1000'] is False
    assert sorted(item.sk for item in HeldSpan.scan()) == ['res#000#salle', 'span#000']
    status, answer = meeting(api, 'long:2030-03-04-1000', SESSION_A, confirm_after_lock=True, resources='salle')
    assert (answer['err'], answer['resources']) == (0, ['salle']), answer
    assert list(HeldSpan.scan()) == []


def test_events_fillslots_book_whatever_lock_code_they_carry(api, events):
    """A lock code holds through fillslot only: the calls that set a user's bookings book, and leave its hold."""
    hold(api, 'last', SESSION_A)
    status, answer = api.post('/api/agenda/piscine/events/fillslots/', {
        'slots': 'big,last', 'user_external_id': 'u1', 'lock_code': SESSION_A, 'confirm_after_lock': True})
    assert ([e['slug'] for e in answer['booked_events']], [e['slug'] for e in answer['full_events']]) == (
        ['big'], ['last']), answer
    key = hashlib.sha256(SESSION_A.encode()).hexdigest()[:32]
    assert stored_holds('last')[0] == 1 and list(stored_holds('last')[1]) == [key]
