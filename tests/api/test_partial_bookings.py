"""Partial bookings (agendas with `partial_bookings`: hourly billing): a child booked 08:30-11:00 in a
07:30-18:30 day, `start_time`/`end_time` in the fillslot body, the real arrival and departure recorded by
PATCH (`user_check_start_time`/`user_check_end_time`), and the durations Lingo bills
(`computed_duration`, `adjusted_duration`: domain/partial_bookings.py, docs/api.md).

Lingo's rules (lingo/invoicing/utils.py of the public snapshot): quantity `computed_duration` in minutes;
a booking with `adjusted_duration` bills the booked hours (`adjusted_duration`) and the overtaking
(`computed_duration - adjusted_duration` when positive); an absence applies its rate to
`computed_duration`.

Frozen time: 2030-03-01 09:00 in Paris.
"""
from __future__ import annotations

import pytest

from tests.api.test_fillslot import NOW, booked, fillslot, new_agenda, new_event

INVALID = {'err': 1, 'err_class': 'invalid payload', 'err_desc': 'invalid payload'}


@pytest.fixture
def creche(api, clock):
    clock(NOW)
    new_agenda(api, 'creche', 'Crèche', partial_bookings='true')
    new_agenda(api, 'cantine', 'Cantine')
    new_event(api, 'lundi', '2030-03-04 07:30', 2, agenda='creche', duration='660')  # 07:30-18:30
    new_event(api, 'mardi', '2030-03-05 07:30', 2, agenda='creche', duration='660')
    new_event(api, 'repas', '2030-03-04 12:00', 10, agenda='cantine')
    return api


def book(api, start='08:30', end='11:00', event='lundi', user='enfant:1', **fields):
    return booked(api, event, {'user_external_id': user, 'start_time': start, 'end_time': end, **fields},
                  agenda='creche')['booking_id']


def check_status_booking(api, user='enfant:1', day='2030-03-04'):
    status, answer = api.post('/api/agendas/events/check-status/', {
        'user_external_id': user, 'agendas': 'creche', 'date_start': day, 'date_end': '2030-03-05'})
    assert (status, answer['err']) == (200, 0), answer
    [item] = answer['data']
    return item['check_status'], item['booking']


def attend(api, booking_id, present=True, **hours):
    assert api.patch(f'/api/booking/{booking_id}/', {'user_was_present': present, **hours}) == (
        200, {'err': 0, 'booking_id': booking_id})


def test_the_agenda_list_says_partial_bookings(creche):
    agendas = {a['slug']: a for a in creche.get('/api/agenda/')[1]['data']}
    assert (agendas['creche']['partial_bookings'], agendas['cantine']['partial_bookings']) == (True, False)


def test_a_partial_booking_stores_and_shows_its_hours_and_counts_one_place(creche):
    booking_id = book(creche)
    data = creche.get(f'/api/booking/{booking_id}/')[1]['data']
    assert {k: data[k] for k in ('start_time', 'end_time', 'user_check_start_time', 'user_check_end_time',
                                  'computed_duration', 'adjusted_duration', 'count')} == {
        'start_time': '08:30', 'end_time': '11:00', 'user_check_start_time': None, 'user_check_end_time': None,
        'computed_duration': None, 'adjusted_duration': 150, 'count': 1}
    listed = creche.get('/api/bookings/?user_external_id=enfant:1')[1]['data']
    assert [(b['start_time'], b['end_time']) for b in listed] == [('08:30', '11:00')]
    book(creche, '14:00', '18:30', user='enfant:2')  # other hours, one place each: the event is full
    assert creche.get('/api/agenda/creche/status/lundi/')[1]['places'] == {
        'total': 2, 'reserved': 2, 'available': 0, 'full': True, 'has_waiting_list': False}
    assert fillslot(creche, 'lundi', {'user_external_id': 'enfant:3', 'start_time': '07:30', 'end_time': '08:00'},
                    agenda='creche')[1]['err_class'] == 'sold out'
    # A booking of a plain agenda has none of these keys.
    plain = booked(creche, 'repas', {'user_external_id': 'enfant:1'}, agenda='cantine')['booking_id']
    assert 'start_time' not in creche.get(f'/api/booking/{plain}/')[1]['data']


def test_checked_0845_1130_for_a_booking_0830_1100_bills_the_booked_hours_and_the_overtaking(creche):
    booking_id = book(creche)
    attend(creche, booking_id, user_check_start_time='08:45', user_check_end_time='11:30')
    assert creche.post('/api/agenda/creche/check/lundi/', {})[1]['err'] == 0
    status, booking = check_status_booking(creche)
    assert status == {'status': 'presence', 'check_type': None, 'error_reason': None}
    assert {k: booking[k] for k in ('start_time', 'end_time', 'user_check_start_time', 'user_check_end_time',
                                     'computed_duration', 'adjusted_duration')} == {
        'start_time': '08:30', 'end_time': '11:00', 'user_check_start_time': '08:45', 'user_check_end_time': '11:30',
        'computed_duration': 180, 'adjusted_duration': 150}
    # Lingo: 150 booked minutes, then 30 of overtaking.
    assert (booking['adjusted_duration'], booking['computed_duration'] - booking['adjusted_duration']) == (150, 30)


@pytest.mark.parametrize('present, hours, computed', [
    (True, {}, 150),  # present, no times recorded: the hours booked
    (True, {'user_check_start_time': '09:00', 'user_check_end_time': '10:00'}, 150),  # late and early: owed
    (True, {'user_check_start_time': '08:00', 'user_check_end_time': '10:30'}, 180),  # early arrival: billed
    (True, {'user_check_end_time': '12:15'}, 225),  # only the departure: from the booked start
    (False, {}, 150),  # absent: the hours booked (Lingo applies the absence's rate)
])
def test_durations_as_documented(creche, present, hours, computed):
    booking_id = book(creche)
    attend(creche, booking_id, present, **hours)
    assert creche.post('/api/agenda/creche/check/lundi/', {})[1]['err'] == 0
    _, booking = check_status_booking(creche)
    assert (booking['computed_duration'], booking['adjusted_duration']) == (computed, 150)


def test_the_times_can_be_cleared_and_are_locked_with_the_attendance(creche):
    booking_id = book(creche)
    attend(creche, booking_id, user_check_start_time='08:45', user_check_end_time='11:30')
    assert creche.patch(f'/api/booking/{booking_id}/', {'user_check_end_time': ''})[1]['err'] == 0
    assert creche.get(f'/api/booking/{booking_id}/')[1]['user_check_end_time'] is None
    assert creche.post('/api/agendas/events/check-lock/', {'check_locked': True, 'agendas': 'creche',
                                                           'date_start': '2030-03-04', 'date_end': '2030-03-05'})[0] == 200
    assert creche.patch(f'/api/booking/{booking_id}/', {'user_check_end_time': '12:00'})[1]['err'] == 6


def test_events_fillslots_books_the_same_hours_on_each_event(creche):
    status, answer = creche.post('/api/agenda/creche/events/fillslots/', {
        'user_external_id': 'enfant:1', 'slots': 'lundi,mardi', 'start_time': '08:30', 'end_time': '16:30'})
    assert (status, answer['booking_count']) == (200, 2)
    listed = creche.get('/api/bookings/?user_external_id=enfant:1')[1]['data']
    assert [(b['event']['slug'], b['start_time'], b['end_time'], b['adjusted_duration']) for b in listed] == [
        ('lundi', '08:30', '16:30', 480), ('mardi', '08:30', '16:30', 480)]


@pytest.mark.parametrize('agenda, event, body, errors', [
    ('creche', 'lundi', {}, {'start_time': ['Required on an agenda with partial bookings.'],
                             'end_time': ['Required on an agenda with partial bookings.']}),
    ('creche', 'lundi', {'start_time': '11:00', 'end_time': '08:30'}, {'end_time': ['Must be after start_time.']}),
    ('creche', 'lundi', {'start_time': '07:00', 'end_time': '08:30'},
     {'start_time': ['Outside the event lundi (07:30 to 18:30): book hours inside it.']}),
    ('creche', 'lundi', {'start_time': '17:00', 'end_time': '19:00'},
     {'start_time': ['Outside the event lundi (07:30 to 18:30): book hours inside it.']}),
    ('creche', 'lundi', {'start_time': '8h30', 'end_time': '25:00'},
     {'start_time': ['Time has wrong format. Use one of these formats instead: hh:mm[:ss].'],
      'end_time': ['Time has wrong format. Use one of these formats instead: hh:mm[:ss].']}),
    ('cantine', 'repas', {'start_time': '12:00', 'end_time': '13:00'},
     {'start_time': ['Only on an agenda with partial bookings.'], 'end_time': ['Only on an agenda with partial bookings.']}),
])
def test_bad_hours_are_a_400_and_book_nothing(creche, agenda, event, body, errors):
    assert fillslot(creche, event, {'user_external_id': 'enfant:1', **body}, agenda=agenda) == (
        400, {**INVALID, 'errors': errors})
    assert creche.get('/api/bookings/?user_external_id=enfant:1')[1]['data'] == []


def test_bad_check_times_are_a_400_and_change_nothing(creche):
    booking_id = book(creche)
    plain = booked(creche, 'repas', {'user_external_id': 'enfant:1'}, agenda='cantine')['booking_id']
    patch_invalid = {**INVALID, 'err': 4}
    assert creche.patch(f'/api/booking/{booking_id}/', {'user_check_start_time': '11:30',
                                                        'user_check_end_time': '08:45'}) == (
        400, {**patch_invalid, 'errors': {'user_check_end_time': ['Must be after user_check_start_time.']}})
    assert creche.patch(f'/api/booking/{booking_id}/', {'user_check_start_time': 'midi'}) == (400, {
        **patch_invalid, 'errors': {
            'user_check_start_time': ['Time has wrong format. Use one of these formats instead: hh:mm[:ss].']}})
    assert creche.patch(f'/api/booking/{plain}/', {'user_check_start_time': '12:00'}) == (400, {
        **patch_invalid, 'errors': {'user_check_start_time': ['Only on an agenda with partial bookings.']}})
    data = creche.get(f'/api/booking/{booking_id}/')[1]['data']
    assert (data['user_check_start_time'], data['user_check_end_time'], data['extra_data']) == (None, None, None)
