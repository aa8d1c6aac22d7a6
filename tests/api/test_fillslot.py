"""Booking events: POST /api/agenda/<a>/fillslot/<e>/ and POST /api/agenda/<a>/fillslots/.

The original French document (shared/seed/000_29cb1a0d5584e9e0.txt) and spec chrono-api.md §1.3-1.4, §6.1-6.2,
§9.1-9.4. Every request runs at a frozen time (`clock`): 2030-03-01 09:00 in Paris unless a test says otherwise,
so that the default window (minimal delay 1 day, maximal 56 days) is 2030-03-02 00:00 to 2030-04-26 00:00.
Values are sent as strings, as w.c.s. renders them.
"""
from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

import pytest

from tests.api.conftest import set_counters

PARIS = ZoneInfo('Europe/Paris')
NOW = datetime(2030, 3, 1, 9, 0, tzinfo=PARIS)
BASE = 'http://localhost'
START = '2030-03-10 17:00'
START_TEXT = '2030-03-10 17:00:00'
SEED_KEYS = {'err', 'booking_id', 'datetime', 'end_datetime', 'in_waiting_list', 'agenda', 'api', 'places'}
API_KEYS = {'booking_url', 'cancel_url', 'ics_url', 'anonymize_url', 'accept_url', 'suspend_url'}


# ---- helpers --------------------------------------------------------------------------------

def places(total, reserved=0, waiting_total=0, waiting=0):
    """The `places` object of spec §7.1, computed here from the counters (not by the application)."""
    available = max(0, total - reserved)
    data = {'total': total, 'reserved': reserved, 'available': available,
            'full': available == 0 and (waiting_total == 0 or waiting >= waiting_total),
            'has_waiting_list': waiting_total > 0}
    if waiting_total:
        data.update(waiting_list_total=waiting_total, waiting_list_reserved=waiting,
                    waiting_list_available=max(0, waiting_total - waiting),
                    waiting_list_activated=waiting > 0 or available == 0)
    return data


def urls(booking_id, base=BASE):
    url = f'{base}/api/booking/{booking_id}'
    return {'booking_url': f'{url}/', 'cancel_url': f'{url}/cancel/', 'ics_url': f'{url}/ics/',
            'anonymize_url': f'{url}/anonymize/', 'accept_url': f'{url}/accept/', 'suspend_url': f'{url}/suspend/'}


def success(booking_id, places_, datetime_=START_TEXT, end=None, waiting=False, agenda=('Foo bar', 'foo-bar'),
            base=BASE, **extra):
    return {'err': 0, 'booking_id': booking_id, 'datetime': datetime_, 'end_datetime': end,
            'in_waiting_list': waiting, 'agenda': {'label': agenda[0], 'slug': agenda[1]},
            'api': urls(booking_id, base), 'places': places_, **extra}


def refusal(err_class, err_desc=None):
    return {'err': 1, 'err_class': err_class, 'err_desc': err_desc or err_class}


def new_agenda(api, slug='foo-bar', label='Foo bar', **settings):
    status, answer = api.post('/api/agenda/', {'label': label, 'slug': slug, **settings})
    assert (status, answer['err']) == (200, 0), answer
    return slug


def new_event(api, slug, start=START, places_=10, agenda='foo-bar', **fields):
    body = {'slug': slug, 'start_datetime': start, 'places': str(places_), **fields}
    status, answer = api.post(f'/api/agenda/{agenda}/event/', body)
    assert (status, answer['err']) == (200, 0), answer
    return slug


def fillslot(api, event, body=None, agenda='foo-bar', **kw):
    return api.post(f'/api/agenda/{agenda}/fillslot/{event}/', body if body is not None else {}, **kw)


def booked(api, event, body=None, agenda='foo-bar', **kw):
    """Book and return the answer, which must be a success."""
    status, answer = fillslot(api, event, body, agenda, **kw)
    assert (status, answer['err']) == (200, 0), answer
    return answer


def fillslots(api, body, agenda='foo-bar'):
    return api.post(f'/api/agenda/{agenda}/fillslots/', body)


def counters(api, event, agenda='foo-bar'):
    status, answer = api.get(f'/api/agenda/{agenda}/status/{event}/')
    assert (status, answer['err']) == (200, 0), answer
    return answer['places']


def booking(api, booking_id):
    status, answer = api.get(f'/api/booking/{booking_id}/')
    assert (status, answer['err']) == (200, 0), answer
    assert {k: v for k, v in answer.items() if k not in ('data', 'err')} == answer['data']
    return answer['data']


def cancelled(api, booking_id):
    """A cancelled booking is no longer readable (spec §8.3)."""
    return api.get(f'/api/booking/{booking_id}/') == (200, refusal('booking is cancelled'))


@pytest.fixture
def agenda(api, clock):
    clock(NOW)
    return new_agenda(api)


# ---- the success answer (seed example) ------------------------------------------------------------

def test_answer_has_exactly_the_seed_keys(api, agenda):
    new_event(api, 'event-slug', places_=20)
    status, answer = fillslot(api, 'event-slug', {}, headers={'Host': 'chrono.example.org'})
    assert status == 200
    assert set(answer) == SEED_KEYS
    booking_id = answer['booking_id']
    assert isinstance(booking_id, int) and not isinstance(booking_id, bool)
    assert answer == success(booking_id, {'available': 19, 'full': False, 'has_waiting_list': False,
                                          'reserved': 1, 'total': 20}, base='http://chrono.example.org')
    assert set(answer['api']) == API_KEYS
    for url in answer['api'].values():
        assert url.startswith(f'http://chrono.example.org/api/booking/{booking_id}/') and url.endswith('/'), url


def test_answer_end_datetime_is_the_local_end_with_a_duration(api, agenda):
    new_event(api, 'winter', start='2030-03-10 17:00', duration='90')
    new_event(api, 'summer', start='2030-04-10 23:30', duration='45')  # summer time, ends the next day
    answer = booked(api, 'winter')
    assert answer == success(answer['booking_id'], places(10, 1), end='2030-03-10 18:30:00')
    answer = booked(api, 'summer')
    assert answer == success(answer['booking_id'], places(10, 1), datetime_='2030-04-10 23:30:00',
                             end='2030-04-11 00:15:00')


def test_answer_places_carry_the_waiting_list_keys_when_the_event_has_one(api, agenda):
    new_event(api, 'e', places_=3, waiting_list_places='2')
    answer = booked(api, 'e')
    assert answer == success(answer['booking_id'], {
        'total': 3, 'reserved': 1, 'available': 2, 'full': False, 'has_waiting_list': True,
        'waiting_list_total': 2, 'waiting_list_reserved': 0, 'waiting_list_available': 2,
        'waiting_list_activated': False})


def test_answer_never_has_display_id_nor_brackets_and_tolerates_caller_header_and_lock_code(api, agenda):
    new_event(api, 'e')
    for reserved, host in enumerate(('[::1]:8000', 'evil].example.org'), start=1):
        # With `lock_code` alone a fillslot holds (tests/api/test_holds.py); confirmed, it books.
        status, answer = fillslot(api, 'e', {'lock_code': 'abc123', 'confirm_after_lock': 'true',
                                             'user_external_id': 'u1'},
                                  headers={'Publik-Caller-URL': '', 'Host': host})
        assert status == 200
        assert answer == success(answer['booking_id'], places(10, reserved))  # URLs on http://localhost
        assert 'display_id' not in answer and 'cancelled_booking_id' not in answer
        text = str(answer['booking_id']) + ''.join(answer['api'].values())
        assert '[' not in text and ']' not in text, host
    assert counters(api, 'e') == places(10, 2)
    # lock_code steers the call: it is not a booking's extra data.
    assert booking(api, answer['booking_id'])['extra_data'] is None


def test_a_post_without_body_or_with_a_form_body_books(api, agenda):
    """w.c.s. POSTs without a body when the action has no data, and old workflows POST forms (spec §1.1)."""
    new_event(api, 'e')
    status, answer = api.post('/api/agenda/foo-bar/fillslot/e/')
    assert (status, answer) == (200, success(answer['booking_id'], places(10, 1)))
    status, answer = api.post('/api/agenda/foo-bar/fillslot/e/', raw='count=2&label=Demande+12&form_number=12-3',
                              headers={'Content-Type': 'application/x-www-form-urlencoded'})
    assert (status, answer) == (200, success(answer['booking_id'], places(10, 3)))
    data = booking(api, answer['booking_id'])
    assert (data['count'], data['label'], data['extra_data']) == (2, 'Demande 12', {'form_number': '12-3'})

# ---- every seed parameter ------------------------------------------------------------------------

def test_user_fields_and_urls_are_stored_as_given(api, agenda):
    new_event(api, 'e', duration='30')
    body = {
        'label': 'Demande 12', 'user_display_label': 'Cours de natation', 'user_name': 'Jeanne Dupont',
        'user_first_name': 'Jeanne', 'user_last_name': 'Dupont', 'user_email': 'nothing',
        'user_phone_number': '+33122334455', 'user_external_id': 'nameid-42',
        'backoffice_url': 'https://wcs.example.org/backoffice/management/form/12/',
        'form_url': 'https://wcs.example.org/form/12/',
        'cancel_callback_url': 'https://wcs.example.org/api/forms/form/12/hooks/cancel/',
        'presence_callback_url': 'https://wcs.example.org/api/forms/form/12/hooks/present/',
        'absence_callback_url': 'https://wcs.example.org/api/forms/form/12/hooks/absent/',
    }
    answer = booked(api, 'e', body)
    booking_id = answer['booking_id']
    assert booking(api, booking_id) == {
        'booking_id': booking_id, 'id': booking_id, 'in_waiting_list': False, 'user_was_present': None,
        'user_absence_reason': '', 'user_check_type_slug': None, 'user_check_type_label': None,
        'extra_data': None, 'count': 1, 'agenda': 'foo-bar', 'event': 'e', 'datetime': START_TEXT,
        'end_datetime': '2030-03-10 17:30:00', 'creation_datetime': '2030-03-01 09:00:00',
        'anonymization_datetime': None, 'sms_counter': None, 'extra_emails': [], 'extra_phone_numbers': [],
        'api': urls(booking_id), **body}


def test_other_keys_go_to_extra_data_and_control_keys_do_not(api, agenda):
    new_event(api, 'e', waiting_list_places='5')
    answer = booked(api, 'e', {
        'foo': 'bar', 'nested': {'a': ['1', 2]}, 'form_number': '12-3', 'count': '1', 'exclude_user': 'false',
        'bypass_delays': 'false', 'events': 'future', 'force_waiting_list': 'false', 'lock_code': 'x',
        'confirm_after_lock': 'true', 'cancel_booking_id': '', 'label': 'L'})
    assert booking(api, answer['booking_id'])['extra_data'] == {
        'foo': 'bar', 'nested': {'a': ['1', 2]}, 'form_number': '12-3'}


@pytest.mark.parametrize('emails, phones', [
    (' a@example.com,b@example.com ', '+33122334455,+33122334466'),
    (['a@example.com', 'b@example.com'], ['+33122334455', '+33122334466']),
])
def test_extra_emails_and_phone_numbers_are_stored_as_lists(api, agenda, emails, phones):
    new_event(api, 'e')
    answer = booked(api, 'e', {'extra_emails': emails, 'extra_phone_numbers': phones})
    data = booking(api, answer['booking_id'])
    assert (data['extra_emails'], data['extra_phone_numbers']) == (
        ['a@example.com', 'b@example.com'], ['+33122334455', '+33122334466'])
    assert data['extra_data'] is None


def test_count_takes_that_many_places_and_cancelling_gives_them_back(api, agenda):
    new_event(api, 'e', places_=5)
    answer = booked(api, 'e', {'count': '2'})
    assert answer == success(answer['booking_id'], places(5, 2))
    assert counters(api, 'e') == places(5, 2)
    assert booking(api, answer['booking_id'])['count'] == 2
    assert api.post(f"/api/booking/{answer['booking_id']}/cancel/") == (
        200, {'err': 0, 'booking_id': answer['booking_id']})
    assert counters(api, 'e') == places(5, 0)


def test_exclude_user_refuses_a_second_booking_of_the_same_user(api, agenda):
    new_event(api, 'e')
    first = booked(api, 'e', {'user_external_id': 'u1', 'exclude_user': 'true'})
    assert fillslot(api, 'e', {'user_external_id': 'u1', 'exclude_user': 'true'}) == (
        200, refusal('event is already booked by user', 'event e is already booked by user'))
    assert counters(api, 'e') == places(10, 1)
    # Another user, or the same user without exclude_user, may book.
    booked(api, 'e', {'user_external_id': 'u2', 'exclude_user': 'true'})
    booked(api, 'e', {'user_external_id': 'u1', 'exclude_user': 'false'})
    booked(api, 'e', {'user_external_id': 'u1'})
    assert counters(api, 'e') == places(10, 4)
    assert booking(api, first['booking_id'])['user_external_id'] == 'u1'


def test_exclude_user_counts_a_waiting_list_booking_and_not_a_cancelled_one(api, agenda):
    new_event(api, 'e', places_=1, waiting_list_places='3')
    booked(api, 'e', {'user_external_id': 'u0'})
    waiting = booked(api, 'e', {'user_external_id': 'u1'})
    assert waiting['in_waiting_list'] is True
    assert fillslot(api, 'e', {'user_external_id': 'u1', 'exclude_user': 'true'}) == (
        200, refusal('event is already booked by user', 'event e is already booked by user'))
    assert counters(api, 'e') == places(1, 1, 3, 1)
    assert api.post(f"/api/booking/{waiting['booking_id']}/cancel/")[1]['err'] == 0
    again = booked(api, 'e', {'user_external_id': 'u1', 'exclude_user': 'true'})
    assert again['in_waiting_list'] is True
    assert counters(api, 'e') == places(1, 1, 3, 1)


@pytest.mark.parametrize('start', [
    '2030-03-01 18:00',  # today: before the minimal delay (1 day)
    '2030-03-01 23:59',
    '2030-04-26 00:00',  # the first instant beyond the maximal delay (56 days)
    '2030-04-30 10:00',
])
def test_bypass_delays_books_an_event_outside_the_window(api, agenda, start):
    new_event(api, 'e', start=start)
    assert fillslot(api, 'e', {'bypass_delays': 'false'}) == (
        200, refusal('event not bookable', 'event e is not bookable'))
    assert fillslot(api, 'e') == (200, refusal('event not bookable', 'event e is not bookable'))
    assert counters(api, 'e') == places(10, 0)
    answer = booked(api, 'e', {'bypass_delays': 'true'})
    assert answer == success(answer['booking_id'], places(10, 1), datetime_=f'{start}:00')


@pytest.mark.parametrize('start', ['2030-03-02 00:00', '2030-04-25 23:59'])
def test_the_window_bounds_are_local_midnights(api, agenda, start):
    new_event(api, 'e', start=start)
    answer = booked(api, 'e')
    assert answer == success(answer['booking_id'], places(10, 1), datetime_=f'{start}:00')


def test_bypass_delays_does_not_bypass_publication_cancellation_nor_the_past(api, agenda):
    new_event(api, 'unpublished', publication_datetime='2030-03-05 00:00')
    new_event(api, 'cancelled', cancelled='true')
    new_event(api, 'past', start='2030-02-20 10:00')
    body = {'bypass_delays': 'true'}
    assert fillslot(api, 'unpublished', body) == (
        200, refusal('event not bookable', 'event unpublished is not bookable'))
    assert fillslot(api, 'cancelled', body) == (200, refusal('event is cancelled', 'event cancelled is cancelled'))
    assert fillslot(api, 'past', body) == (200, refusal('event not bookable', 'event past is not bookable'))
    for event in ('unpublished', 'cancelled', 'past'):
        assert counters(api, event) == places(10, 0)


def test_events_past_and_all_book_a_past_event_future_refuses_it(api, agenda):
    new_event(api, 'past', start='2030-02-20 10:00')
    new_event(api, 'future')
    assert fillslot(api, 'past') == (200, refusal('event not bookable', 'event past is not bookable'))
    assert fillslot(api, 'past', {'events': 'future'}) == (
        200, refusal('event not bookable', 'event past is not bookable'))
    assert fillslot(api, 'future', {'events': 'past'}) == (
        200, refusal('event not bookable', 'event future is not bookable'))
    assert counters(api, 'past') == places(10, 0)
    assert counters(api, 'future') == places(10, 0)
    answer = booked(api, 'past', {'events': 'past'})
    assert answer == success(answer['booking_id'], places(10, 1), datetime_='2030-02-20 10:00:00')
    answer = booked(api, 'past', {'events': 'all'})
    assert answer == success(answer['booking_id'], places(10, 2), datetime_='2030-02-20 10:00:00')
    answer = booked(api, 'future', {'events': 'all'})
    assert answer == success(answer['booking_id'], places(10, 1))


def test_force_waiting_list_puts_the_booking_in_the_waiting_list(api, agenda):
    new_event(api, 'e', places_=10, waiting_list_places='3')
    answer = booked(api, 'e', {'force_waiting_list': 'true'})
    assert answer == success(answer['booking_id'], places(10, 0, 3, 1), waiting=True)
    assert counters(api, 'e') == places(10, 0, 3, 1)
    assert booking(api, answer['booking_id'])['in_waiting_list'] is True


def test_force_waiting_list_on_an_event_without_waiting_list(api, agenda):
    new_event(api, 'e')
    assert fillslot(api, 'e', {'force_waiting_list': 'true'}) == (200, refusal('no waiting list'))
    assert counters(api, 'e') == places(10, 0)
    answer = booked(api, 'e', {'force_waiting_list': 'false'})
    assert answer == success(answer['booking_id'], places(10, 1))


# ---- waiting list (spec §9.2) ---------------------------------------------------------------------

def test_bookings_wait_once_the_main_list_is_full_then_sold_out(api, agenda):
    new_event(api, 'e', places_=1, waiting_list_places='2')
    answers = [booked(api, 'e') for _ in range(3)]
    assert answers == [
        success(answers[0]['booking_id'], places(1, 1, 2, 0)),
        success(answers[1]['booking_id'], places(1, 1, 2, 1), waiting=True),
        success(answers[2]['booking_id'], places(1, 1, 2, 2), waiting=True),
    ]
    assert fillslot(api, 'e') == (200, refusal('sold out'))
    assert counters(api, 'e') == places(1, 1, 2, 2)


def test_a_booking_waits_when_someone_already_waits_even_with_free_places(api, agenda):
    new_event(api, 'e', places_=5, waiting_list_places='3')
    set_counters('foo-bar', 'e', reserved=2, waiting=1)
    answer = booked(api, 'e')
    assert answer == success(answer['booking_id'], places(5, 2, 3, 2), waiting=True)
    assert counters(api, 'e') == places(5, 2, 3, 2)


def test_sold_out_when_the_waiting_list_lacks_room(api, agenda):
    new_event(api, 'e', places_=5, waiting_list_places='3')
    set_counters('foo-bar', 'e', reserved=5, waiting=2)
    assert fillslot(api, 'e', {'count': '2'}) == (200, refusal('sold out'))
    assert counters(api, 'e') == places(5, 5, 3, 2)
    set_counters('foo-bar', 'e', reserved=1, waiting=3)  # free places, but people wait and the list is full
    assert fillslot(api, 'e') == (200, refusal('sold out'))
    assert counters(api, 'e') == places(5, 1, 3, 3)


def test_sold_out_without_waiting_list(api, agenda):
    new_event(api, 'e', places_=1)
    booked(api, 'e')
    assert fillslot(api, 'e') == (200, refusal('sold out'))
    assert counters(api, 'e') == places(1, 1)


def test_count_2_with_one_free_place_goes_to_the_waiting_list(api, agenda):
    new_event(api, 'wl', places_=3, waiting_list_places='5')
    new_event(api, 'nowl', places_=3)
    set_counters('foo-bar', 'wl', reserved=2)
    set_counters('foo-bar', 'nowl', reserved=2)
    answer = booked(api, 'wl', {'count': '2'})
    assert answer == success(answer['booking_id'], places(3, 2, 5, 2), waiting=True)
    assert fillslot(api, 'nowl', {'count': '2'}) == (200, refusal('sold out'))
    assert counters(api, 'nowl') == places(3, 2)
    answer = booked(api, 'nowl', {'count': '1'})
    assert answer == success(answer['booking_id'], places(3, 3))


# ---- errors (spec §6.1, §1.4) ---------------------------------------------------------------------

@pytest.mark.parametrize('body, err_class', [
    ({'count': 'abc'}, 'invalid value for count (abc)'),
    ({'count': '0'}, 'count cannot be less than or equal to zero'),
    ({'count': '-1'}, 'count cannot be less than or equal to zero'),
    ({'cancel_booking_id': 'x'}, 'cancel_booking_id is not an integer'),
])
def test_bad_count_or_cancel_booking_id_is_a_400(api, agenda, body, err_class):
    new_event(api, 'e')
    assert fillslot(api, 'e', body) == (400, refusal(err_class))
    assert counters(api, 'e') == places(10, 0)


def test_events_must_be_future_past_or_all(api, agenda):
    new_event(api, 'e')
    assert fillslot(api, 'e', {'events': 'bogus'}) == (400, {
        **refusal('invalid payload'), 'errors': {'events': ['"bogus" is not a valid choice.']}})
    assert counters(api, 'e') == places(10, 0)


def test_cancel_booking_id_unknown_already_cancelled_or_of_another_count(api, agenda):
    new_event(api, 'e')
    new_event(api, 'f')
    one = booked(api, 'e')['booking_id']
    two = booked(api, 'e', {'count': '2'})['booking_id']
    gone = booked(api, 'e')['booking_id']
    assert api.post(f'/api/booking/{gone}/cancel/')[1]['err'] == 0
    assert fillslot(api, 'f', {'cancel_booking_id': '123456'}) == (
        200, refusal('cancel booking: booking does not exist'))
    assert fillslot(api, 'f', {'cancel_booking_id': str(gone)}) == (
        200, refusal('cancel booking: booking already cancelled'))
    assert fillslot(api, 'f', {'cancel_booking_id': str(two)}) == (200, refusal('cancel booking: count is different'))
    assert fillslot(api, 'f', {'cancel_booking_id': str(one), 'count': '2'}) == (
        200, refusal('cancel booking: count is different'))
    assert counters(api, 'e') == places(10, 3)
    assert counters(api, 'f') == places(10, 0)
    assert booking(api, one)['count'] == 1 and booking(api, two)['count'] == 2


def test_a_cancelled_event_is_not_bookable(api, agenda):
    new_event(api, 'c', cancelled='true')
    assert fillslot(api, 'c') == (200, refusal('event is cancelled', 'event c is cancelled'))
    assert counters(api, 'c') == places(10, 0)


@pytest.mark.parametrize('path, err_class', [
    ('/api/agenda/nope/fillslot/e/', 'unknown agenda'),
    ('/api/agenda/foo-bar/fillslot/nope/', 'unknown event'),
])
def test_unknown_agenda_or_event_is_a_404(api, agenda, path, err_class):
    new_event(api, 'e')
    status, answer = api.post(path, {})
    assert status == 404
    assert set(answer) == {'err', 'err_class', 'err_desc'}
    assert (answer['err'], answer['err_class']) == (1, err_class)
    assert counters(api, 'e') == places(10, 0)


def test_a_recurring_primary_event_cannot_be_booked_directly(api, agenda):
    new_event(api, 'weekly', recurrence_days=[0, 2], recurrence_end_date='2030-04-30')
    status, answer = fillslot(api, 'weekly')
    assert (status, answer['err'], answer['err_class']) == (
        200, 1, 'event weekly is recurrent, direct booking is forbidden')
    assert counters(api, 'weekly') == places(10, 0)


# ---- cancel_booking_id (spec §9.4) ----------------------------------------------------------------

def test_cancel_booking_id_moves_a_booking_to_another_event(api, agenda):
    new_event(api, 'e', places_=3)
    new_event(api, 'f', start='2030-03-11 09:00', places_=3)
    old = booked(api, 'e', {'user_external_id': 'u1', 'count': '2'})['booking_id']
    answer = booked(api, 'f', {'user_external_id': 'u1', 'count': '2', 'cancel_booking_id': str(old)})
    assert answer == success(answer['booking_id'], places(3, 2), datetime_='2030-03-11 09:00:00',
                             cancelled_booking_id=old)
    assert answer['booking_id'] != old
    assert cancelled(api, old)
    assert counters(api, 'e') == places(3, 0)
    assert counters(api, 'f') == places(3, 2)
    # The user's exclusion on the old event went with the booking.
    booked(api, 'e', {'user_external_id': 'u1', 'exclude_user': 'true'})


def test_cancel_booking_id_moves_a_booking_to_another_agenda(api, agenda):
    new_agenda(api, 'other', 'Other')
    new_event(api, 'e')
    new_event(api, 'g', agenda='other', places_=4)
    old = booked(api, 'e')['booking_id']
    answer = booked(api, 'g', {'cancel_booking_id': str(old)}, agenda='other')
    assert answer == success(answer['booking_id'], places(4, 1), agenda=('Other', 'other'), cancelled_booking_id=old)
    assert cancelled(api, old)
    assert counters(api, 'e') == places(10, 0)
    assert counters(api, 'g', agenda='other') == places(4, 1)
    assert booking(api, answer['booking_id'])['agenda'] == 'other'


def test_cancel_booking_id_leaves_the_old_booking_when_the_new_one_fails(api, agenda):
    new_event(api, 'e', places_=3)
    new_event(api, 'full', places_=1)
    old = booked(api, 'e', {'label': 'kept'})
    booked(api, 'full')
    assert fillslot(api, 'full', {'cancel_booking_id': str(old['booking_id'])}) == (200, refusal('sold out'))
    assert booking(api, old['booking_id'])['label'] == 'kept'
    assert counters(api, 'e') == places(3, 1)
    assert counters(api, 'full') == places(1, 1)
    assert api.post(f"/api/booking/{old['booking_id']}/cancel/") == (
        200, {'err': 0, 'booking_id': old['booking_id']})


def test_cancel_booking_id_on_the_same_event_answers_the_places_after_the_move(api, agenda):
    """The answer's `places` is the event's state after the booking (seed, spec §6.1): the replaced booking's
    place is given back in the same transaction, so one place stays taken, not two."""
    new_event(api, 'e', places_=3)
    old = booked(api, 'e', {'user_external_id': 'u1'})['booking_id']
    answer = booked(api, 'e', {'user_external_id': 'u1', 'cancel_booking_id': str(old)})
    assert counters(api, 'e') == places(3, 1)
    assert cancelled(api, old)
    assert answer == success(answer['booking_id'], places(3, 1), cancelled_booking_id=old)


def test_cancel_booking_id_moves_a_group_to_another_group_within_the_group_limit(api, agenda):
    """fillslots takes every §6.1 field (spec §6.2), cancel_booking_id included; groups go up to 16 events,
    so that a group replacing another stays one transaction (at most 100 writes)."""
    for index in range(33):
        new_event(api, f'e{index}', places_=5)
    first = [f'e{index}' for index in range(16)]
    second = [f'e{index}' for index in range(16, 32)]
    status, answer = fillslots(api, {'slots': first + ['e32'], 'user_external_id': 'u1'})
    assert (status, answer['errors']) == (400, {'slots': ['Ensure this list has no more than 16 slots.']})
    status, old = fillslots(api, {'slots': first, 'user_external_id': 'u1'})
    assert (status, old['err']) == (200, 0)
    status, answer = fillslots(api, {'slots': second, 'user_external_id': 'u1',
                                     'cancel_booking_id': str(old['booking_id'])})
    assert (status, answer['err'], answer.get('cancelled_booking_id')) == (200, 0, old['booking_id']), answer
    assert cancelled(api, old['booking_id'])
    assert [counters(api, slug)['reserved'] for slug in first + second] == [0] * 16 + [1] * 16


# ---- decisions taken again when the counters moved (spec §9.2 [INFER] atomicity) -----------------------

@pytest.fixture
def counters_move_after_reading(monkeypatch):
    """Another booking lands between the fillslot's read and its write: the read snapshot is stale."""
    from chalicelib import store

    def arrange(event, reserved, waiting):
        read = store.read_for_booking

        def stale_read(*args, **kwargs):
            snapshot = read(*args, **kwargs)
            set_counters('foo-bar', event, reserved=reserved, waiting=waiting)
            return snapshot
        monkeypatch.setattr(store, 'read_for_booking', stale_read)
    return arrange


def test_a_full_event_after_the_read_is_sold_out_and_nothing_is_written(api, agenda, counters_move_after_reading):
    new_event(api, 'e', places_=2)
    counters_move_after_reading('e', reserved=2, waiting=0)
    assert fillslot(api, 'e') == (200, refusal('sold out'))
    assert counters(api, 'e') == places(2, 2)


def test_someone_waiting_after_the_read_sends_the_booking_to_the_waiting_list(api, agenda,
                                                                              counters_move_after_reading):
    new_event(api, 'e', places_=2, waiting_list_places='2')
    counters_move_after_reading('e', reserved=1, waiting=1)
    answer = booked(api, 'e')
    assert answer == success(answer['booking_id'], places(2, 1, 2, 2), waiting=True)
    assert counters(api, 'e') == places(2, 1, 2, 2)
    assert booking(api, answer['booking_id'])['in_waiting_list'] is True


# ---- fillslots (spec §6.2) ------------------------------------------------------------------------

def group_item(slug, datetime_, label=None):
    return {'slug': slug, 'text': label or datetime_, 'datetime': datetime_, 'end_datetime': None,
            'description': None, 'in_waiting_list': False}


@pytest.mark.parametrize('slots', [['a', 'b'], 'a,b', ' a , b '])
def test_fillslots_books_every_event_as_one_booking(api, agenda, slots):
    new_event(api, 'a', places_=5, label='Cours A')
    new_event(api, 'b', start='2030-03-11 09:00', places_=5)
    status, answer = fillslots(api, {'slots': slots, 'user_external_id': 'u1', 'count': '2', 'label': 'G'})
    assert status == 200
    booking_id = answer['booking_id']
    assert answer == {
        'err': 0, 'booking_id': booking_id, 'datetime': START_TEXT, 'end_datetime': None, 'in_waiting_list': False,
        'agenda': {'label': 'Foo bar', 'slug': 'foo-bar'}, 'api': urls(booking_id),
        'events': [group_item('a', START_TEXT, 'Cours A'), group_item('b', '2030-03-11 09:00:00')]}
    assert counters(api, 'a') == places(5, 2)
    assert counters(api, 'b') == places(5, 2)
    data = booking(api, booking_id)
    assert (data['count'], data['label'], data['extra_data']) == (2, 'G', None)
    assert data['events'] == [
        {'agenda': 'foo-bar', 'event': 'a', 'datetime': START_TEXT, 'in_waiting_list': False},
        {'agenda': 'foo-bar', 'event': 'b', 'datetime': '2030-03-11 09:00:00', 'in_waiting_list': False}]


def test_fillslots_with_one_event_answers_its_places(api, agenda):
    new_event(api, 'a', places_=5)
    status, answer = fillslots(api, {'slots': 'a'})
    assert (status, answer) == (200, success(answer['booking_id'], places(5, 1)))


def test_fillslots_is_all_or_nothing(api, agenda):
    new_event(api, 'a', places_=5)
    new_event(api, 'full', places_=1)
    booked(api, 'full')
    assert fillslots(api, {'slots': 'a,full'}) == (200, refusal('sold out'))
    assert counters(api, 'a') == places(5, 0)
    assert counters(api, 'full') == places(1, 1)


CANCELLED = refusal('event is cancelled', 'event c is cancelled')
MINE = refusal('event is already booked by user', 'event mine is already booked by user')


@pytest.mark.parametrize('slots, expected', [
    ('full,c', refusal('sold out')),
    ('c,full', CANCELLED),
    ('full,mine', refusal('sold out')),
    ('mine,full', MINE),
    ('c,mine', CANCELLED),
])
def test_fillslots_answers_the_refusal_of_the_first_failing_slot(api, agenda, slots, expected):
    """Spec §6.2: "the whole call fails with the error of the first failing event"; docs/api.md: "refusal = that of
    the first failing event in the order of `slots`" (and the docstring of booking.fillslots)."""
    new_event(api, 'full', places_=1)
    new_event(api, 'c', cancelled='true')
    new_event(api, 'mine')
    booked(api, 'full')
    booked(api, 'mine', {'user_external_id': 'u1'})
    assert fillslots(api, {'slots': slots, 'user_external_id': 'u1', 'exclude_user': 'true'}) == (200, expected)
    assert [counters(api, slug)['reserved'] for slug in ('full', 'c', 'mine')] == [1, 0, 1]


def test_fillslots_unknown_slug_is_a_400(api, agenda):
    new_event(api, 'a')
    assert fillslots(api, {'slots': 'a,x'}) == (400, refusal('invalid slugs: x'))
    assert counters(api, 'a') == places(10, 0)


@pytest.mark.parametrize('body', [{'slots': []}, {'slots': ''}, {'slots': ' , '}, {}])
def test_fillslots_empty_slots_is_a_400(api, agenda, body):
    new_event(api, 'a')
    assert fillslots(api, body) == (400, refusal('slots list cannot be empty'))
    assert counters(api, 'a') == places(10, 0)


def test_fillslots_exclude_user_refuses_when_one_event_is_booked_by_the_user(api, agenda):
    new_event(api, 'a')
    new_event(api, 'b')
    booked(api, 'b', {'user_external_id': 'u1'})
    assert fillslots(api, {'slots': 'a,b', 'user_external_id': 'u1', 'exclude_user': 'true'}) == (
        200, refusal('event is already booked by user', 'event b is already booked by user'))
    assert counters(api, 'a') == places(10, 0)
    assert counters(api, 'b') == places(10, 1)


def test_cancelling_a_group_booking_frees_every_event(api, agenda):
    new_event(api, 'a', places_=2)
    new_event(api, 'b', places_=2, waiting_list_places='1')
    status, answer = fillslots(api, {'slots': ['a', 'b']})
    assert status == 200
    assert counters(api, 'a') == places(2, 1)
    assert counters(api, 'b') == places(2, 1, 1, 0)
    assert api.post(f"/api/booking/{answer['booking_id']}/cancel/") == (
        200, {'err': 0, 'booking_id': answer['booking_id']})
    assert counters(api, 'a') == places(2, 0)
    assert counters(api, 'b') == places(2, 0, 1, 0)
    assert cancelled(api, answer['booking_id'])


def test_a_group_booking_can_be_replaced_by_a_single_booking(api, agenda):
    new_event(api, 'a')
    new_event(api, 'b')
    new_event(api, 'c')
    status, group = fillslots(api, {'slots': 'a,b'})
    assert status == 200
    answer = booked(api, 'c', {'cancel_booking_id': str(group['booking_id'])})
    assert answer == success(answer['booking_id'], places(10, 1), cancelled_booking_id=group['booking_id'])
    assert [counters(api, e)['reserved'] for e in 'abc'] == [0, 0, 1]


# ---- time zone: daylight saving time changes --------------------------------------------------------

def test_an_event_in_the_repeated_autumn_hour_is_booked_at_its_local_time(api, clock):
    clock(datetime(2030, 10, 20, 9, 0, tzinfo=PARIS))
    new_agenda(api)
    new_event(api, 'late', start='2030-10-27T02:30:00+01:00', duration='60')  # the second 02:30 (winter time)
    answer = booked(api, 'late')
    assert answer == success(answer['booking_id'], places(10, 1), datetime_='2030-10-27 02:30:00',
                             end='2030-10-27 03:30:00')
    assert booking(api, answer['booking_id'])['datetime'] == '2030-10-27 02:30:00'


def test_the_minimal_delay_across_the_spring_change(api, clock):
    clock(datetime(2030, 3, 30, 10, 0, tzinfo=PARIS))  # the clocks go forward on 2030-03-31 at 02:00
    new_agenda(api)
    new_event(api, 'tonight', start='2030-03-30 23:30')
    new_event(api, 'after-midnight', start='2030-03-31 00:30')
    new_event(api, 'summer', start='2030-03-31 03:00')
    assert fillslot(api, 'tonight') == (200, refusal('event not bookable', 'event tonight is not bookable'))
    assert counters(api, 'tonight') == places(10, 0)
    answer = booked(api, 'after-midnight')
    assert answer == success(answer['booking_id'], places(10, 1), datetime_='2030-03-31 00:30:00')
    answer = booked(api, 'summer')
    assert answer == success(answer['booking_id'], places(10, 1), datetime_='2030-03-31 03:00:00')
