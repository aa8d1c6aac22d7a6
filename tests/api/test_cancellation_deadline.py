"""Cancellation deadlines (`minimal_cancellation_delay`, docs/api.md "Cancellation deadlines"): every cancel a
user makes (POST cancel, DELETE, a move by `cancel_booking_id`, unbooking by events and recurring fillslots) is
refused or skipped past the deadline; agents and `bypass_delays` are not bound; answers show `cancellable_until`.
"""
from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

import pytest

from chalicelib import store
from chalicelib.domain.specs import EventSpec
from tests.api.conftest import ERROR_KEYS

PARIS = ZoneInfo('Europe/Paris')
NOW = datetime(2030, 3, 1, 9, 0, tzinfo=PARIS)  # a Friday
BEFORE = datetime(2030, 3, 3, 23, 59, tzinfo=PARIS)
LATE = datetime(2030, 3, 4, 0, 0, tzinfo=PARIS)  # 2 days before Tuesday 5th, 10:00
NOT_CANCELLABLE = 'booking can not be cancelled'


@pytest.fixture
def agenda(api, clock):
    clock(NOW)
    status, answer = api.post('/api/agenda/', {'label': 'X', 'slug': 'x', 'minimal_cancellation_delay': '2'})
    assert (status, answer['err']) == (200, 0), answer
    for slug, start in (('e', '2030-03-05 10:00'), ('f', '2030-03-20 10:00')):
        status, answer = api.post('/api/agenda/x/event/', {'slug': slug, 'start_datetime': start, 'places': 3})
        assert (status, answer['err']) == (200, 0), answer
    return 'x'


def book(api, event='e', **body):
    status, answer = api.post(f'/api/agenda/x/fillslot/{event}/', {'user_external_id': 'u1', **body})
    assert (status, answer['err']) == (200, 0), answer
    return answer


def reserved(api, event='e'):
    status, answer = api.get(f'/api/agenda/x/status/{event}/')
    assert status == 200
    return answer['places']['reserved']


def refused(answer, err_class=NOT_CANCELLABLE):
    status, body = answer
    assert (status, set(body), body['err'], body['err_class']) == (200, ERROR_KEYS, 1, err_class), answer
    return body


def test_answers_say_until_when_the_user_may_cancel(api, agenda):
    answer = book(api)
    assert answer['cancellable_until'] == '2030-03-04 00:00:00'
    status, read = api.get(f"/api/booking/{answer['booking_id']}/")
    assert (read['cancellable_until'], read['data']['cancellable_until']) == ('2030-03-04 00:00:00',) * 2


def test_without_delay_there_is_no_deadline(api, clock):
    clock(NOW)
    api.post('/api/agenda/', {'label': 'Y', 'slug': 'y'})
    api.post('/api/agenda/y/event/', {'slug': 'e', 'start_datetime': '2030-03-05 10:00', 'places': 1})
    status, answer = api.post('/api/agenda/y/fillslot/e/', {})
    assert answer['err'] == 0 and 'cancellable_until' not in answer
    assert 'cancellable_until' not in api.get(f"/api/booking/{answer['booking_id']}/")[1]
    clock(datetime(2030, 3, 6, tzinfo=PARIS))  # after the event: a user may still cancel, as before
    assert api.post(f"/api/booking/{answer['booking_id']}/cancel/") == (200, {'err': 0, 'booking_id': answer['booking_id']})


def test_a_cancel_before_the_deadline_works(api, agenda, clock):
    booking_id = book(api)['booking_id']
    clock(BEFORE)
    assert api.post(f'/api/booking/{booking_id}/cancel/') == (200, {'err': 0, 'booking_id': booking_id})
    assert reserved(api) == 0


@pytest.mark.parametrize('call', [
    lambda api, b: api.post(f'/api/booking/{b}/cancel/'),
    lambda api, b: api.post(f'/api/booking/{b}/cancel/', {}),
    lambda api, b: api.delete(f'/api/booking/{b}/'),
])
def test_a_cancel_inside_the_deadline_is_refused_and_changes_nothing(api, agenda, clock, call):
    booking_id = book(api)['booking_id']
    clock(LATE)
    body = refused(call(api, booking_id))
    assert body['err_desc'] == (f'booking {booking_id} can not be cancelled from 2030-03-04 00:00:00 on '
                                '(minimal cancellation delay of the agenda)')
    assert reserved(api) == 1
    assert api.get(f'/api/booking/{booking_id}/')[1]['err'] == 0


def test_the_same_cancel_by_an_agent_succeeds(api, agenda, clock):
    booking_id = book(api)['booking_id']
    clock(LATE)
    assert api.post(f'/api/booking/{booking_id}/agent-cancel/') == (200, {'err': 0, 'booking_id': booking_id})
    assert reserved(api) == 0


def test_an_event_cancelled_by_an_agent_cancels_its_late_bookings(api, agenda, clock):
    book(api)
    clock(LATE)
    assert api.post('/api/agenda/x/event/e/cancel/') == (200, {'err': 0, 'cancelled_bookings': 1})
    assert reserved(api) == 0


@pytest.mark.parametrize('call', [
    lambda api, b: api.post(f'/api/booking/{b}/cancel/', {'bypass_delays': 'true'}),
    lambda api, b: api.delete(f'/api/booking/{b}/?bypass_delays=true'),
])
def test_bypass_delays_lifts_the_deadline(api, agenda, clock, call):
    booking_id = book(api)['booking_id']
    clock(LATE)
    assert call(api, booking_id) == (200, {'err': 0, 'booking_id': booking_id})
    assert reserved(api) == 0


def test_a_bad_bypass_value_is_invalid_input(api, agenda, clock):
    booking_id = book(api)['booking_id']
    status, answer = api.post(f'/api/booking/{booking_id}/cancel/', {'bypass_delays': 'maybe'})
    assert (status, answer['err_class'], answer['errors']) == (400, 'invalid payload',
                                                               {'bypass_delays': ['Must be a valid boolean.']})
    assert reserved(api) == 1


def test_working_days(api, clock):
    clock(NOW)
    api.post('/api/agenda/', {'label': 'W', 'slug': 'w', 'minimal_cancellation_delay': 2,
                              'minimal_cancellation_delay_in_working_days': True})
    api.post('/api/agenda/w/event/', {'slug': 'monday', 'start_datetime': '2030-03-11 10:00', 'places': 1})
    status, answer = api.post('/api/agenda/w/fillslot/monday/', {})
    assert answer['cancellable_until'] == '2030-03-08 00:00:00'  # Thursday evening: Friday and Monday are 2 days
    clock(datetime(2030, 3, 8, 8, tzinfo=PARIS))
    refused(api.post(f"/api/booking/{answer['booking_id']}/cancel/"))


def test_a_move_by_cancel_booking_id_inside_the_deadline_is_refused(api, agenda, clock):
    booking_id = book(api)['booking_id']
    clock(LATE)
    refused(api.post('/api/agenda/x/fillslot/f/', {'cancel_booking_id': booking_id}),
            'cancel booking: booking can not be cancelled')
    assert (reserved(api, 'e'), reserved(api, 'f')) == (1, 0)
    status, answer = api.post('/api/agenda/x/fillslot/f/', {'cancel_booking_id': booking_id, 'bypass_delays': True})
    assert (answer['err'], answer['cancelled_booking_id']) == (0, booking_id)
    assert (reserved(api, 'e'), reserved(api, 'f')) == (0, 1)


def test_a_move_before_the_deadline_works(api, agenda, clock):
    booking_id = book(api)['booking_id']
    clock(BEFORE)
    status, answer = api.post('/api/agenda/x/fillslot/f/', {'cancel_booking_id': booking_id})
    assert (answer['err'], answer['cancelled_booking_id'], answer['cancellable_until']) == (
        0, booking_id, '2030-03-19 00:00:00')


def test_events_fillslots_keep_a_booking_past_its_deadline(api, agenda, clock):
    book(api, 'e')
    book(api, 'f')
    clock(LATE)
    status, answer = api.post('/api/agenda/x/events/fillslots/', {'slots': '', 'user_external_id': 'u1'})
    assert (answer['err'], answer['cancelled_booking_count']) == (0, 1)
    assert [e['slug'] for e in answer['cancelled_events']] == ['f']
    assert (reserved(api, 'e'), reserved(api, 'f')) == (1, 0)
    status, answer = api.post('/api/agenda/x/events/fillslots/',
                              {'slots': '', 'user_external_id': 'u1', 'bypass_delays': 'true'})
    assert [e['slug'] for e in answer['cancelled_events']] == ['e']
    assert reserved(api, 'e') == 0


def test_recurring_unbook_keeps_an_occurrence_past_its_deadline(api, clock):
    clock(NOW)
    api.post('/api/agenda/', {'label': 'R', 'slug': 'r', 'minimal_cancellation_delay': 2})
    status, answer = api.post('/api/agenda/r/event/', {
        'slug': 'swim', 'start_datetime': '2030-03-05 10:00', 'places': 5, 'recurrence_days': [1],
        'recurrence_end_date': '2030-03-20'})
    assert answer['err'] == 0, answer
    url = '/api/agendas/recurring-events/fillslots/?agendas=r&action='
    status, answer = api.post(url + 'book', {'slots': 'r@swim:1', 'user_external_id': 'u1'})
    assert answer['booking_count'] == 3, answer  # the 5th, 12th and 19th
    clock(LATE)
    status, answer = api.post(url + 'unbook', {'slots': 'r@swim:1', 'user_external_id': 'u1'})
    assert [e['datetime'] for e in answer['cancelled_events']] == ['2030-03-12 10:00:00', '2030-03-19 10:00:00']
    status, status_answer = api.get('/api/agenda/r/status/swim--2030-03-05-1000/')
    assert status_answer['places']['reserved'] == 1


def test_a_cancel_decided_on_a_start_that_moved_meanwhile_is_not_written(api, agenda, clock):
    """The deadline is decided from the event's start; an agent moving the event between that read and the
    write makes the write fail its condition (here the event moves without its legs following yet)."""
    booking_id = book(api)['booking_id']
    legs = store.get_legs(booking_id)
    record = store.get_event('x', 'e')
    store.update_event('x', EventSpec(**{**record.spec.__dict__, 'start': datetime(2030, 3, 3, 10, tzinfo=PARIS)}))
    with pytest.raises(store.BookingChanged):
        store.cancel(legs, NOW, on_start=True)
    assert reserved(api) == 1
    store.cancel(legs, NOW)  # not decided from the start (an agent): written
    assert reserved(api) == 0
