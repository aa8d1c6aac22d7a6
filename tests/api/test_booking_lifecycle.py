"""A booking's lifecycle (spec §8.3, §8.5-8.8, §9.2, §9.7): read, cancel (POST .../cancel/ and DELETE),
accept (waiting list -> main list), suspend (main list -> waiting list), for one place, several places
(`count`) and a `fillslots` group; a refused call changes nothing.

Counters are read back through GET /api/agenda/<a>/status/<e>/ as (reserved, waiting_list_reserved).
"""
from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

import pytest

from tests.api.conftest import ERROR_KEYS, assert_not_found, set_counters

PARIS = ZoneInfo('Europe/Paris')
NOW = datetime(2030, 3, 1, 9, 0, tzinfo=PARIS)
DOCUMENTED = ('booking_id', 'in_waiting_list', 'user_was_present', 'user_absence_reason', 'extra_data')
UNKNOWN_IDS = ['999999', '0', 'abc', '12a', '-1', '1.0', '0x10', '1' * 30, '9' * 19, '9' * 20]


# ---- helpers ---------------------------------------------------------------------------------

def create_event(api, slug, places, waiting_list_places=0, start='2030-03-05 10:00', agenda='x'):
    status, answer = api.post(f'/api/agenda/{agenda}/event/', {
        'slug': slug, 'start_datetime': start, 'places': places, 'waiting_list_places': waiting_list_places})
    assert (status, answer['err']) == (200, 0), answer
    return slug


def book(api, event='e', agenda='x', **body):
    status, answer = api.post(f'/api/agenda/{agenda}/fillslot/{event}/', {'user_external_id': 'u1', **body})
    assert (status, answer['err']) == (200, 0), answer
    return answer['booking_id']


def book_group(api, slots, agenda='x', **body):
    status, answer = api.post(f'/api/agenda/{agenda}/fillslots/', {'slots': slots, 'user_external_id': 'u1', **body})
    assert (status, answer['err']) == (200, 0), answer
    return answer['booking_id']


def counters(api, *events, agenda='x'):
    """{event: (reserved, waiting_list_reserved)} as the status endpoint shows them."""
    result = {}
    for event in events:
        status, answer = api.get(f'/api/agenda/{agenda}/status/{event}/')
        assert (status, answer['err']) == (200, 0), answer
        result[event] = (answer['places']['reserved'], answer['places'].get('waiting_list_reserved', 0))
    return result


def get(api, booking_id):
    status, answer = api.get(f'/api/booking/{booking_id}/')
    assert (status, answer['err']) == (200, 0), answer
    return answer


def cancel(api, booking_id):
    return api.post(f'/api/booking/{booking_id}/cancel/')  # no body at all, as w.c.s. sends it


def accept(api, booking_id):
    return api.post(f'/api/booking/{booking_id}/accept/')


def suspend(api, booking_id):
    return api.post(f'/api/booking/{booking_id}/suspend/')


def refusal(answer, err, err_class):
    """A business refusal: HTTP 200, non-zero `err`, the stable `err_class`, a human `err_desc`."""
    status, body = answer
    assert status == 200, answer
    assert set(body) == ERROR_KEYS, body
    assert (body['err'], body['err_class']) == (err, err_class), body
    assert isinstance(body['err_desc'], str) and body['err_desc'], body
    return True


@pytest.fixture
def agenda(api, clock):
    clock(NOW)
    status, answer = api.post('/api/agenda/', {'label': 'X', 'slug': 'x'})
    assert (status, answer['err']) == (200, 0), answer
    return 'x'


@pytest.fixture
def event(api, agenda):
    """Event `e`: 2 places and a waiting list of 2."""
    return create_event(api, 'e', places=2, waiting_list_places=2)


# ---- GET /api/booking/<id>/ (spec §8.3) -----------------------------------------------------------

def test_get_gives_the_documented_keys_under_data_and_at_top_level(api, event):
    booking_id = book(api, foo='bar', level={'n': 2})
    answer = get(api, booking_id)
    expected = {'booking_id': booking_id, 'in_waiting_list': False, 'user_was_present': None,
                'user_absence_reason': '', 'extra_data': {'foo': 'bar', 'level': {'n': 2}}}
    assert {name: answer['data'][name] for name in DOCUMENTED} == expected
    assert {name: answer[name] for name in DOCUMENTED} == expected
    assert answer['data']['api']['cancel_url'] == f'http://localhost/api/booking/{booking_id}/cancel/'
    assert 'display_id' not in answer and 'display_id' not in answer['data']


def test_get_a_waiting_list_booking(api, event):
    booking_id = book(api, force_waiting_list='true')
    answer = get(api, booking_id)
    expected = {'booking_id': booking_id, 'in_waiting_list': True, 'user_was_present': None,
                'user_absence_reason': '', 'extra_data': None}
    assert {name: answer['data'][name] for name in DOCUMENTED} == expected
    assert {name: answer[name] for name in DOCUMENTED} == expected


def test_get_a_cancelled_booking_says_it_is_cancelled(api, event):
    booking_id = book(api)
    assert cancel(api, booking_id) == (200, {'err': 0, 'booking_id': booking_id})
    assert refusal(api.get(f'/api/booking/{booking_id}/'), 1, 'booking is cancelled')


@pytest.mark.parametrize('booking_id', UNKNOWN_IDS)
def test_unknown_or_malformed_booking_id_is_404_everywhere(api, event, booking_id):
    book(api)  # a booking exists, just not this one
    before = counters(api, 'e')
    assert_not_found(api.get(f'/api/booking/{booking_id}/'))
    assert_not_found(api.post(f'/api/booking/{booking_id}/cancel/'))
    assert_not_found(api.delete(f'/api/booking/{booking_id}/'))
    assert_not_found(api.post(f'/api/booking/{booking_id}/accept/'))
    assert_not_found(api.post(f'/api/booking/{booking_id}/suspend/'))
    assert counters(api, 'e') == before


# ---- cancel and DELETE (spec §8.5-8.6) -------------------------------------------------------------

def test_cancel_without_a_body_frees_the_place(api, event):
    booking_id = book(api)
    assert counters(api, 'e') == {'e': (1, 0)}
    assert cancel(api, booking_id) == (200, {'err': 0, 'booking_id': booking_id})
    assert counters(api, 'e') == {'e': (0, 0)}
    assert api.get('/api/agenda/x/bookings/e/?user_external_id=u1') == (200, {'err': 0, 'data': []})


def test_cancel_with_an_empty_json_body(api, event):
    booking_id = book(api)
    answer = api.call('POST', f'/api/booking/{booking_id}/cancel/', raw='',
                      headers={'Content-Type': 'application/json'})
    assert answer == (200, {'err': 0, 'booking_id': booking_id})
    assert counters(api, 'e') == {'e': (0, 0)}


def test_second_cancel_is_refused_and_changes_nothing(api, event):
    first, second = book(api), book(api, user_external_id='u2')
    assert cancel(api, first) == (200, {'err': 0, 'booking_id': first})
    assert counters(api, 'e') == {'e': (1, 0)}
    assert refusal(cancel(api, first), 1, 'already cancelled')
    assert refusal(api.delete(f'/api/booking/{first}/'), 1, 'already cancelled')
    assert counters(api, 'e') == {'e': (1, 0)}
    assert get(api, second)['in_waiting_list'] is False


def test_delete_cancels_like_post_cancel(api, event):
    booking_id = book(api, count=2)
    assert counters(api, 'e') == {'e': (2, 0)}
    assert api.delete(f'/api/booking/{booking_id}/') == (200, {'err': 0, 'booking_id': booking_id})
    assert counters(api, 'e') == {'e': (0, 0)}
    assert refusal(api.get(f'/api/booking/{booking_id}/'), 1, 'booking is cancelled')
    assert refusal(api.delete(f'/api/booking/{booking_id}/'), 1, 'already cancelled')
    assert refusal(cancel(api, booking_id), 1, 'already cancelled')
    assert counters(api, 'e') == {'e': (0, 0)}


def test_cancelled_place_can_be_booked_again(api, agenda):
    create_event(api, 'solo', places=1)
    first = book(api, 'solo')
    assert refusal(api.post('/api/agenda/x/fillslot/solo/', {'user_external_id': 'u2'}), 1, 'sold out')
    assert cancel(api, first) == (200, {'err': 0, 'booking_id': first})
    status, answer = api.post('/api/agenda/x/fillslot/solo/', {'user_external_id': 'u2'})
    assert (status, answer['err'], answer['in_waiting_list']) == (200, 0, False)
    assert answer['booking_id'] != first
    assert counters(api, 'solo') == {'solo': (1, 0)}


def test_cancel_a_waiting_list_booking_frees_a_waiting_place(api, event):
    main = book(api, count=2)
    waiting = book(api, user_external_id='u2')
    assert counters(api, 'e') == {'e': (2, 1)}
    assert cancel(api, waiting) == (200, {'err': 0, 'booking_id': waiting})
    assert counters(api, 'e') == {'e': (2, 0)}
    assert get(api, main)['in_waiting_list'] is False


def test_cancelling_a_main_list_booking_promotes_nobody(api, event):
    main = book(api, count=2)
    waiting = book(api, user_external_id='u2')
    assert cancel(api, main) == (200, {'err': 0, 'booking_id': main})
    assert counters(api, 'e') == {'e': (0, 1)}
    assert get(api, waiting)['in_waiting_list'] is True


# ---- accept (spec §8.7) ----------------------------------------------------------------------

def test_accept_moves_a_waiting_booking_to_the_main_list(api, event):
    waiting = book(api, force_waiting_list='true')
    assert counters(api, 'e') == {'e': (0, 1)}
    assert accept(api, waiting) == (200, {'err': 0, 'booking_id': waiting, 'overbooked_places': 0})
    assert counters(api, 'e') == {'e': (1, 0)}
    assert get(api, waiting)['in_waiting_list'] is False
    assert api.get('/api/agenda/x/bookings/e/?user_external_id=u1') == (200, {
        'err': 0, 'data': [{'id': waiting, 'in_waiting_list': False}]})


def test_accept_beyond_the_places_overbooks_and_says_by_how_much(api, agenda):
    create_event(api, 'e', places=1, waiting_list_places=3)
    main = book(api)
    first, second = book(api, user_external_id='u2'), book(api, user_external_id='u3')
    assert counters(api, 'e') == {'e': (1, 2)}
    assert accept(api, first) == (200, {'err': 0, 'booking_id': first, 'overbooked_places': 1})
    assert counters(api, 'e') == {'e': (2, 1)}
    assert accept(api, second) == (200, {'err': 0, 'booking_id': second, 'overbooked_places': 2})
    assert counters(api, 'e') == {'e': (3, 0)}
    status, answer = api.get('/api/agenda/x/status/e/')
    assert answer['places'] == {'total': 1, 'reserved': 3, 'available': 0, 'full': False, 'has_waiting_list': True,
                                'waiting_list_total': 3, 'waiting_list_reserved': 0, 'waiting_list_available': 3,
                                'waiting_list_activated': True}
    assert get(api, main)['in_waiting_list'] is False


def test_accept_a_main_list_booking_is_refused(api, event):
    main = book(api)
    waiting = book(api, user_external_id='u2', force_waiting_list='true')
    before = counters(api, 'e')
    assert refusal(accept(api, main), 3, 'booking is not in waiting list')
    assert counters(api, 'e') == before == {'e': (1, 1)}
    assert (get(api, main)['in_waiting_list'], get(api, waiting)['in_waiting_list']) == (False, True)


def test_accept_or_suspend_a_cancelled_booking_is_refused(api, event):
    main = book(api, user_external_id='u2')
    other = book(api, user_external_id='u3')
    waiting = book(api, force_waiting_list='true')
    assert cancel(api, waiting)[1]['err'] == 0
    assert cancel(api, main)[1]['err'] == 0
    assert counters(api, 'e') == {'e': (1, 0)}
    assert refusal(accept(api, waiting), 1, 'booking is cancelled')
    assert refusal(suspend(api, main), 1, 'booking is cancelled')
    assert refusal(accept(api, main), 1, 'booking is cancelled')
    assert refusal(suspend(api, waiting), 1, 'booking is cancelled')
    assert counters(api, 'e') == {'e': (1, 0)}
    assert get(api, other)['in_waiting_list'] is False


# ---- suspend (spec §8.8) ---------------------------------------------------------------------

def test_suspend_moves_a_main_list_booking_to_the_waiting_list(api, event):
    main = book(api)
    assert suspend(api, main) == (200, {'err': 0, 'booking_id': main})
    assert counters(api, 'e') == {'e': (0, 1)}
    assert get(api, main)['in_waiting_list'] is True
    assert api.get('/api/agenda/x/bookings/e/?user_external_id=u1') == (200, {
        'err': 0, 'data': [{'id': main, 'in_waiting_list': True}]})


def test_suspend_a_waiting_booking_is_refused(api, event):
    forced = book(api, force_waiting_list='true')
    queued = book(api, user_external_id='u2', force_waiting_list='false')
    assert counters(api, 'e') == {'e': (0, 2)}  # someone waits: the second one waits too (spec §9.2)
    assert refusal(suspend(api, forced), 3, 'booking is already in waiting list')
    assert refusal(suspend(api, queued), 3, 'booking is already in waiting list')
    assert counters(api, 'e') == {'e': (0, 2)}
    assert (get(api, forced)['in_waiting_list'], get(api, queued)['in_waiting_list']) == (True, True)


def test_suspend_then_accept_returns_to_the_start(api, event):
    main = book(api)
    assert suspend(api, main) == (200, {'err': 0, 'booking_id': main})
    assert refusal(suspend(api, main), 3, 'booking is already in waiting list')
    assert accept(api, main) == (200, {'err': 0, 'booking_id': main, 'overbooked_places': 0})
    assert refusal(accept(api, main), 3, 'booking is not in waiting list')
    assert counters(api, 'e') == {'e': (1, 0)}
    assert get(api, main)['in_waiting_list'] is False


def test_an_event_without_waiting_list_stays_bookable_after_a_suspend(api, agenda):
    """Found by the fuzz run: a suspend (no capacity check, spec §8.8) puts a booking in an event's
    waiting list of 0 places; the next booking goes to the main list (no waiting list: nobody waits
    before it) and its transaction must say so, instead of failing its condition until `busy`."""
    create_event(api, 'nw', places=3)
    suspended = book(api, event='nw')
    assert suspend(api, suspended) == (200, {'err': 0, 'booking_id': suspended})
    status, answer = api.post('/api/agenda/x/fillslot/nw/', {'user_external_id': 'u2', 'count': 2})
    assert (status, answer['err'], answer['in_waiting_list']) == (200, 0, False), answer
    assert answer['places'] == {'total': 3, 'reserved': 2, 'available': 1, 'full': False, 'has_waiting_list': False}
    assert refusal(api.post('/api/agenda/x/fillslot/nw/', {'count': 2}), 1, 'sold out')
    assert get(api, suspended)['in_waiting_list'] is True
    assert counters(api, 'nw') == {'nw': (2, 0)}  # the status shows no waiting list


# ---- several places (count) ------------------------------------------------------------------

def test_a_booking_of_three_places_moves_all_three(api, agenda):
    create_event(api, 'e', places=5, waiting_list_places=5)
    booking_id = book(api, count='3')
    assert counters(api, 'e') == {'e': (3, 0)}
    assert suspend(api, booking_id) == (200, {'err': 0, 'booking_id': booking_id})
    assert counters(api, 'e') == {'e': (0, 3)}
    assert accept(api, booking_id) == (200, {'err': 0, 'booking_id': booking_id, 'overbooked_places': 0})
    assert counters(api, 'e') == {'e': (3, 0)}
    assert cancel(api, booking_id) == (200, {'err': 0, 'booking_id': booking_id})
    assert counters(api, 'e') == {'e': (0, 0)}
    assert refusal(cancel(api, booking_id), 1, 'already cancelled')
    assert counters(api, 'e') == {'e': (0, 0)}


def test_accepting_three_waiting_places_overbooks_by_the_excess(api, agenda):
    create_event(api, 'e', places=2, waiting_list_places=5)
    booking_id = book(api, count=3)  # the main list lacks 3 places: all 3 wait
    assert counters(api, 'e') == {'e': (0, 3)}
    assert get(api, booking_id)['in_waiting_list'] is True
    assert accept(api, booking_id) == (200, {'err': 0, 'booking_id': booking_id, 'overbooked_places': 1})
    assert counters(api, 'e') == {'e': (3, 0)}


def test_cancelling_three_waiting_places_frees_them(api, agenda):
    create_event(api, 'e', places=2, waiting_list_places=5)
    booking_id = book(api, count=3)
    assert cancel(api, booking_id) == (200, {'err': 0, 'booking_id': booking_id})
    assert counters(api, 'e') == {'e': (0, 0)}


# ---- a fillslots group -------------------------------------------------------------------------

@pytest.fixture
def two_events(api, agenda):
    create_event(api, 'e1', places=2, waiting_list_places=2, start='2030-03-05 10:00')
    create_event(api, 'e2', places=2, waiting_list_places=2, start='2030-03-06 10:00')
    return 'e1', 'e2'


def test_cancelling_a_group_frees_every_event(api, two_events):
    booking_id = book_group(api, 'e1,e2')
    assert counters(api, 'e1', 'e2') == {'e1': (1, 0), 'e2': (1, 0)}
    assert cancel(api, booking_id) == (200, {'err': 0, 'booking_id': booking_id})
    assert counters(api, 'e1', 'e2') == {'e1': (0, 0), 'e2': (0, 0)}
    assert refusal(cancel(api, booking_id), 1, 'already cancelled')
    assert counters(api, 'e1', 'e2') == {'e1': (0, 0), 'e2': (0, 0)}


def test_delete_of_a_group_frees_every_event(api, two_events):
    booking_id = book_group(api, ['e1', 'e2'], count='2')
    assert counters(api, 'e1', 'e2') == {'e1': (2, 0), 'e2': (2, 0)}
    assert api.delete(f'/api/booking/{booking_id}/') == (200, {'err': 0, 'booking_id': booking_id})
    assert counters(api, 'e1', 'e2') == {'e1': (0, 0), 'e2': (0, 0)}


def test_suspend_and_accept_apply_to_every_event_of_a_group(api, two_events):
    booking_id = book_group(api, 'e1,e2')
    assert suspend(api, booking_id) == (200, {'err': 0, 'booking_id': booking_id})
    assert counters(api, 'e1', 'e2') == {'e1': (0, 1), 'e2': (0, 1)}
    assert refusal(suspend(api, booking_id), 3, 'booking is already in waiting list')
    assert counters(api, 'e1', 'e2') == {'e1': (0, 1), 'e2': (0, 1)}
    assert accept(api, booking_id) == (200, {'err': 0, 'booking_id': booking_id, 'overbooked_places': 0})
    assert counters(api, 'e1', 'e2') == {'e1': (1, 0), 'e2': (1, 0)}
    assert refusal(accept(api, booking_id), 3, 'booking is not in waiting list')
    assert counters(api, 'e1', 'e2') == {'e1': (1, 0), 'e2': (1, 0)}


def test_accepting_a_group_counts_the_overbooked_places_of_every_event(api, two_events):
    booking_id = book_group(api, 'e1,e2', count=2)
    assert suspend(api, booking_id) == (200, {'err': 0, 'booking_id': booking_id})
    set_counters('x', 'e1', reserved=1, waiting=2)  # someone else took one place of e1 meanwhile
    set_counters('x', 'e2', reserved=2, waiting=2)  # and both places of e2
    assert accept(api, booking_id) == (200, {'err': 0, 'booking_id': booking_id, 'overbooked_places': 3})
    assert counters(api, 'e1', 'e2') == {'e1': (3, 0), 'e2': (4, 0)}


def test_a_group_booked_in_the_waiting_list_is_accepted_everywhere(api, two_events):
    booking_id = book_group(api, 'e1,e2', force_waiting_list='true')
    assert counters(api, 'e1', 'e2') == {'e1': (0, 1), 'e2': (0, 1)}
    assert get(api, booking_id)['in_waiting_list'] is True
    assert accept(api, booking_id) == (200, {'err': 0, 'booking_id': booking_id, 'overbooked_places': 0})
    assert counters(api, 'e1', 'e2') == {'e1': (1, 0), 'e2': (1, 0)}
    assert get(api, booking_id)['in_waiting_list'] is False


def test_a_group_half_in_the_waiting_list_moves_as_a_whole(api, two_events):
    book(api, 'e1', user_external_id='u0', force_waiting_list='true')  # someone waits on e1
    booking_id = book_group(api, 'e1,e2')
    assert counters(api, 'e1', 'e2') == {'e1': (0, 2), 'e2': (1, 0)}  # e1's leg queues behind u0
    assert accept(api, booking_id) == (200, {'err': 0, 'booking_id': booking_id, 'overbooked_places': 0})
    assert counters(api, 'e1', 'e2') == {'e1': (1, 1), 'e2': (1, 0)}
    assert suspend(api, booking_id) == (200, {'err': 0, 'booking_id': booking_id})
    assert counters(api, 'e1', 'e2') == {'e1': (0, 2), 'e2': (0, 1)}
    assert cancel(api, booking_id) == (200, {'err': 0, 'booking_id': booking_id})
    assert counters(api, 'e1', 'e2') == {'e1': (0, 1), 'e2': (0, 0)}


# ---- a refused call changes nothing ----------------------------------------------------------

@pytest.mark.parametrize('call', [
    'cancel cancelled', 'delete cancelled', 'accept cancelled', 'suspend cancelled',
    'accept main', 'suspend waiting', 'accept main group', 'suspend waiting group',
    'cancel unknown', 'accept unknown', 'suspend unknown', 'get cancelled',
])
def test_every_refused_call_changes_nothing(api, agenda, call):
    create_event(api, 'e1', places=5, waiting_list_places=5, start='2030-03-05 10:00')
    create_event(api, 'e2', places=5, waiting_list_places=5, start='2030-03-06 10:00')
    cancelled = book(api, 'e2', user_external_id='u3')
    assert cancel(api, cancelled)[1]['err'] == 0
    main = book(api, 'e1')
    group_main = book_group(api, 'e1,e2', user_external_id='u4')
    waiting = book(api, 'e1', user_external_id='u2', force_waiting_list='true')
    group_waiting = book_group(api, 'e1,e2', user_external_id='u5', force_waiting_list='true')
    live = (main, waiting, group_main, group_waiting)

    def state():
        return counters(api, 'e1', 'e2'), [get(api, b)['in_waiting_list'] for b in live]

    before = state()
    assert before == ({'e1': (2, 2), 'e2': (1, 1)}, [False, True, False, True])
    verb, target = call.split(' ', 1)
    booking_id = {'cancelled': cancelled, 'main': main, 'waiting': waiting, 'main group': group_main,
                  'waiting group': group_waiting, 'unknown': 424242}[target]
    if verb == 'delete':
        answer = api.delete(f'/api/booking/{booking_id}/')
    elif verb == 'get':
        answer = api.get(f'/api/booking/{booking_id}/')
    else:
        answer = api.post(f'/api/booking/{booking_id}/{verb}/')
    assert answer[0] in (200, 404) and answer[1]['err'] != 0, answer
    assert state() == before
