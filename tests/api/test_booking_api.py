"""The rest of the booking API (spec §8.1-8.2, §8.4, §8.9-8.11): PATCH (attendance, extra data),
resize, anonymize, a booking's iCalendar file, a user's bookings in JSON and iCalendar; events and
meetings bookings, `count` > 1 and fillslots groups (every call applies to every leg).

Every request runs at NOW (Friday 2030-03-01 09:00 in Paris). Counters are read back through the
status endpoint as (reserved, waiting_list_reserved).
"""
from __future__ import annotations

import json
from datetime import datetime
from zoneinfo import ZoneInfo

import icalendar
import pytest

from chalicelib.store.models import Booking, Event, Lock, UserEventBookings, agenda_pk, booking_pk
from tests.api.conftest import ERROR_KEYS, assert_not_found, set_counters
from tests.api.test_booking_lifecycle import book, book_group, cancel, counters, get, refusal

PARIS = ZoneInfo('Europe/Paris')
NOW = datetime(2030, 3, 1, 9, 0, tzinfo=PARIS)
BASE = 'http://localhost'
MONDAY = {'weekday': 0, 'start_time': '09:00', 'end_time': '12:00'}
PERSONAL = {
    'label': 'Piscine de Jeanne', 'user_display_label': 'Jeanne Dupont (cours)', 'user_name': 'Jeanne D.',
    'user_first_name': 'Jeanne', 'user_last_name': 'Dupontel', 'user_email': 'jeanne@example.org',
    'user_phone_number': '+33612345678', 'extra_emails': ['mere@example.org'], 'extra_phone_numbers': ['0699887766'],
    'backoffice_url': 'https://wcs.example.org/backoffice/piscine/12/',
    'form_url': 'https://wcs.example.org/piscine/12/',
    'cancel_callback_url': 'https://wcs.example.org/api/forms/piscine/12/hooks/cancel/',
    'presence_callback_url': 'https://wcs.example.org/api/forms/piscine/12/hooks/present/',
    'absence_callback_url': 'https://wcs.example.org/api/forms/piscine/12/hooks/absent/',
    'allergie': 'arachides-secret',
}
SECRETS = [v for k, v in PERSONAL.items() if isinstance(v, str)] + ['mere@example.org', '0699887766', 'jeanne-42']


# ---- fixtures and helpers ----------------------------------------------------------------------

def create_event(api, slug, places, waiting_list_places=0, start='2030-03-05 10:00', duration=60, agenda='x',
                 label=None):
    status, answer = api.post(f'/api/agenda/{agenda}/event/', {
        'slug': slug, 'start_datetime': start, 'places': places, 'waiting_list_places': waiting_list_places,
        'duration': duration, 'label': label})
    assert (status, answer['err']) == (200, 0), answer
    return slug


@pytest.fixture
def agenda(api, clock):
    """Events agenda `x` (category `sport`) with two absence reasons, and `y` (no category)."""
    clock(NOW)
    status, answer = api.post('/api/agenda/', {
        'label': 'Piscine X', 'slug': 'x', 'category': 'sport', 'category_label': 'Sport',
        'absence_reasons': [{'slug': 'malade', 'label': 'Malade'}, {'slug': 'autre', 'label': 'Autre raison'}]})
    assert (status, answer['err']) == (200, 0), answer
    status, answer = api.post('/api/agenda/', {'label': 'Yoga Y', 'slug': 'y'})
    assert (status, answer['err']) == (200, 0), answer
    return 'x'


@pytest.fixture
def event(api, agenda):
    """Event `e` of x: Tuesday 5th 10:00-11:00, 3 places and a waiting list of 2."""
    return create_event(api, 'e', places=3, waiting_list_places=2, label='Cours du mardi')


@pytest.fixture
def two_events(api, agenda):
    create_event(api, 'e1', places=3, waiting_list_places=2, start='2030-03-05 10:00')
    create_event(api, 'e2', places=3, waiting_list_places=2, start='2030-03-06 14:30', duration=90)
    return 'e1', 'e2'


@pytest.fixture
def rdv(api, clock):
    """Meetings agenda `rdv`: one desk open on Mondays 09:00-12:00, type `long` (30 minutes)."""
    clock(NOW)
    document = {'agendas': [
        {'slug': 'rdv', 'label': 'Rendez-vous', 'kind': 'meetings', 'minimal_booking_delay': 1,
         'maximal_booking_delay': 30, 'meetingtypes': [{'slug': 'long', 'label': 'Long', 'duration': 30}],
         'desks': [{'slug': 'g1', 'label': 'Guichet 1', 'timeperiods': [MONDAY]}]}]}
    assert api.post('/api/import/', document)[0] == 200
    return 'rdv'


def book_meeting(api, slot='long:2030-03-04-1000', **body):
    status, answer = api.post(f'/api/agenda/rdv/fillslot/{slot}/', {'user_external_id': 'u1', **body})
    assert (status, answer['err']) == (200, 0), answer
    return answer['booking_id']


def patch(api, booking_id, body):
    return api.patch(f'/api/booking/{booking_id}/', body)


def resize(api, booking_id, count):
    return api.post(f'/api/booking/{booking_id}/resize/', {'count': count})


def anonymize(api, booking_id):
    return api.post(f'/api/booking/{booking_id}/anonymize/')  # no body, as w.c.s. sends it


def raw_legs(booking_id):
    """Every leg of a booking as stored (DynamoDB's own attribute values)."""
    return [item.serialize() for item in Booking.query(booking_pk(booking_id))]


def invalid(answer, field, err=1):
    status, body = answer
    assert status == 400, answer
    assert set(body) == ERROR_KEYS | {'errors'}, body
    assert (body['err'], body['err_class'], list(body['errors'])) == (err, 'invalid payload', [field]), body
    return True


def ics(client, path):
    """(status, content type, parsed calendar or JSON body) of an iCalendar route."""
    from tests.conftest import BASIC
    response = client.http.get(path, headers=BASIC)
    content_type = {k.lower(): v for k, v in response.headers.items()}.get('content-type', '')
    if content_type.startswith('text/calendar'):
        return response.status_code, content_type, icalendar.Calendar.from_ical(response.body)
    return response.status_code, content_type, json.loads(response.body)


def vevents(cal):
    return [c for c in cal.walk('VEVENT')]


def listed(api, query):
    status, answer = api.get(f'/api/bookings/?{query}')
    assert (status, answer['err']) == (200, 0), answer
    return answer['data']


# ---- PATCH /api/booking/<id>/ (spec §8.4) -----------------------------------------------------------

def test_patch_sets_attendance_and_merges_extra_data(api, event):
    booking_id = book(api, foo='bar', level={'n': 2})
    answer = patch(api, booking_id, {'user_was_present': True, 'user_check_type_slug': 'ok',
                                     'user_check_type_label': 'Présent', 'note': 'arrivé en retard', 'foo': 'baz'})
    assert answer == (200, {'err': 0, 'booking_id': booking_id})
    data = get(api, booking_id)['data']
    assert (data['user_was_present'], data['user_absence_reason'], data['user_check_type_slug'],
            data['user_check_type_label']) == (True, '', 'ok', 'Présent')
    assert data['extra_data'] == {'foo': 'baz', 'level': {'n': 2}, 'note': 'arrivé en retard'}
    assert counters(api, 'e') == {'e': (1, 0)}


@pytest.mark.parametrize('value, expected', [(False, False), ('false', False), ('True', True), ('1', True),
                                             (None, None), ('', None)])
def test_patch_user_was_present_true_false_or_null(api, event, value, expected):
    booking_id = book(api)
    assert patch(api, booking_id, {'user_was_present': True}) == (200, {'err': 0, 'booking_id': booking_id})
    assert patch(api, booking_id, {'user_was_present': value}) == (200, {'err': 0, 'booking_id': booking_id})
    assert get(api, booking_id)['user_was_present'] is expected
    assert get(api, booking_id)['extra_data'] is None


def test_patch_without_attendance_keys_keeps_attendance(api, event):
    booking_id = book(api)
    assert patch(api, booking_id, {'user_was_present': False})[1]['err'] == 0
    assert patch(api, booking_id, {'k': 1})[1]['err'] == 0
    assert patch(api, booking_id, {})[1]['err'] == 0
    data = get(api, booking_id)
    assert (data['user_was_present'], data['extra_data']) == (False, {'k': 1})


@pytest.mark.parametrize('given', ['malade', 'Malade'])
def test_patch_absence_reason_by_slug_or_label_stores_the_label(api, event, given):
    booking_id = book(api)
    assert patch(api, booking_id, {'user_was_present': False, 'user_absence_reason': given}) == (
        200, {'err': 0, 'booking_id': booking_id})
    data = get(api, booking_id)
    assert (data['user_was_present'], data['user_absence_reason'], data['extra_data']) == (False, 'Malade', None)
    assert patch(api, booking_id, {'user_absence_reason': ''})[1]['err'] == 0
    assert get(api, booking_id)['user_absence_reason'] == ''


@pytest.mark.parametrize('body, field', [
    ({'user_absence_reason': 'vacances'}, 'user_absence_reason'),
    ({'user_absence_reason': 'MALADE'}, 'user_absence_reason'),
    ({'user_absence_reason': ['malade']}, 'user_absence_reason'),
    ({'user_was_present': 'maybe', 'note': 'x'}, 'user_was_present'),
    ({'user_was_present': [True]}, 'user_was_present'),
    ({'user_check_type_slug': {'a': 1}}, 'user_check_type_slug'),
    ({'user_check_type_label': 'x' * 1001}, 'user_check_type_label'),
    ({'use_color_for': ['red']}, 'use_color_for'),
    ({'big': 'x' * 40_000}, 'non_field_errors'),
])
def test_patch_invalid_input_is_400_with_err_4_and_changes_nothing(api, event, body, field):
    booking_id = book(api, foo='bar')
    assert patch(api, booking_id, {'user_was_present': True})[1]['err'] == 0
    before = raw_legs(booking_id)
    assert invalid(patch(api, booking_id, body), field, err=4)
    assert raw_legs(booking_id) == before


def test_patch_absence_reason_on_an_agenda_without_reasons_is_refused(api, agenda):
    create_event(api, 'f', places=2, agenda='y')
    booking_id = book(api, 'f', agenda='y')
    assert invalid(patch(api, booking_id, {'user_absence_reason': 'malade'}), 'user_absence_reason', err=4)
    assert get(api, booking_id)['user_absence_reason'] == ''


def test_patch_a_cancelled_booking_is_refused(api, event):
    booking_id = book(api)
    assert cancel(api, booking_id)[1]['err'] == 0
    before = raw_legs(booking_id)
    assert refusal(patch(api, booking_id, {'user_was_present': True}), 1, 'booking is cancelled')
    assert refusal(patch(api, booking_id, {'note': 'x'}), 1, 'booking is cancelled')
    assert raw_legs(booking_id) == before


def test_patch_attendance_of_a_waiting_list_booking_is_refused_extra_data_is_not(api, event):
    booking_id = book(api, force_waiting_list='true')
    assert refusal(patch(api, booking_id, {'user_was_present': True, 'note': 'x'}), 3, 'booking is in waiting list')
    assert refusal(patch(api, booking_id, {'user_check_type_slug': 'ok'}), 3, 'booking is in waiting list')
    data = get(api, booking_id)
    assert (data['user_was_present'], data['user_check_type_slug'], data['extra_data']) == (None, None, None)
    assert patch(api, booking_id, {'note': 'x'}) == (200, {'err': 0, 'booking_id': booking_id})
    assert get(api, booking_id)['extra_data'] == {'note': 'x'}


def test_patch_attendance_on_a_locked_event_is_refused(api, event):
    booking_id = book(api)
    Event(agenda_pk('x'), 'event#e').update(actions=[Event.check_locked.set(True)])
    assert refusal(patch(api, booking_id, {'user_was_present': True}), 6, 'event is locked')
    assert get(api, booking_id)['user_was_present'] is None
    assert patch(api, booking_id, {'note': 'x'})[1]['err'] == 0


def test_patch_applies_to_every_leg_of_a_group(api, two_events):
    booking_id = book_group(api, 'e1,e2', count=2, foo='bar')
    answer = patch(api, booking_id, {'user_was_present': False, 'user_absence_reason': 'autre', 'note': 'x'})
    assert answer == (200, {'err': 0, 'booking_id': booking_id})
    legs = raw_legs(booking_id)
    assert len(legs) == 2
    assert [(leg['user_was_present'], leg['user_absence_reason'], json.loads(leg['extra_data']['S']))
            for leg in legs] == [({'BOOL': False}, {'S': 'Autre raison'}, {'foo': 'bar', 'note': 'x'})] * 2
    assert [(i['event']['slug'], i['user_was_present'], i['user_absence_reason'])
            for i in listed(api, 'user_external_id=u1')] == [('e1', False, 'Autre raison'),
                                                             ('e2', False, 'Autre raison')]
    assert counters(api, 'e1', 'e2') == {'e1': (2, 0), 'e2': (2, 0)}


def test_patch_use_color_for_on_a_meeting(api, rdv):
    booking_id = book_meeting(api, use_color_for='bleu')
    assert patch(api, booking_id, {'use_color_for': 'rouge', 'user_was_present': True}) == (
        200, {'err': 0, 'booking_id': booking_id})
    data = get(api, booking_id)
    assert (data['use_color_for'], data['user_was_present'], data['extra_data']) == ('rouge', True, None)


# ---- POST /api/booking/<id>/resize/ (spec §8.9) --------------------------------------------------------

def test_resize_grows_within_the_places_and_shrinks_always(api, event):
    booking_id = book(api)
    assert resize(api, booking_id, 3) == (200, {'err': 0, 'booking_id': booking_id})
    assert counters(api, 'e') == {'e': (3, 0)}
    assert get(api, booking_id)['count'] == 3
    assert refusal(resize(api, booking_id, 4), 3, 'sold out')
    assert counters(api, 'e') == {'e': (3, 0)}
    assert get(api, booking_id)['count'] == 3
    assert resize(api, booking_id, '1') == (200, {'err': 0, 'booking_id': booking_id})
    assert counters(api, 'e') == {'e': (1, 0)}
    assert get(api, booking_id)['count'] == 1
    assert resize(api, booking_id, 1) == (200, {'err': 0, 'booking_id': booking_id})  # the same count: no change
    assert counters(api, 'e') == {'e': (1, 0)}


def test_resize_counts_other_bookings(api, event):
    mine = book(api, count=2)
    book(api, user_external_id='u2')
    assert refusal(resize(api, mine, 3), 3, 'sold out')
    assert counters(api, 'e') == {'e': (3, 0)}
    assert resize(api, mine, 1)[1]['err'] == 0
    assert counters(api, 'e') == {'e': (2, 0)}
    assert resize(api, mine, 2)[1]['err'] == 0
    assert counters(api, 'e') == {'e': (3, 0)}


def test_a_main_list_booking_does_not_grow_past_people_waiting(api, event):
    main = book(api)
    book(api, user_external_id='u2', force_waiting_list='true')
    assert counters(api, 'e') == {'e': (1, 1)}
    assert refusal(resize(api, main, 2), 3, 'sold out')
    assert counters(api, 'e') == {'e': (1, 1)}
    assert get(api, main)['count'] == 1


def test_without_waiting_list_a_main_list_booking_grows_past_a_suspended_one(api, agenda):
    """fillslot's rule (spec §9.2): with no waiting list, a booking suspended into it (spec §8.8)
    does not wait before anyone, so a main-list booking may still grow into the free places."""
    create_event(api, 'nw', places=3)
    main, suspended = book(api, event='nw'), book(api, event='nw', user_external_id='u2')
    assert api.post(f'/api/booking/{suspended}/suspend/') == (200, {'err': 0, 'booking_id': suspended})
    assert resize(api, main, 2) == (200, {'err': 0, 'booking_id': main})
    assert refusal(resize(api, main, 4), 3, 'sold out')
    assert counters(api, 'nw') == {'nw': (2, 0)}
    assert (get(api, main)['count'], get(api, suspended)['in_waiting_list']) == (2, True)


def test_an_overbooked_event_refuses_growth_but_allows_shrinking(api, event):
    booking_id = book(api, count=2)
    set_counters('x', 'e', reserved=5)  # overbooked by accepts meanwhile
    assert refusal(resize(api, booking_id, 3), 3, 'sold out')
    assert resize(api, booking_id, 1)[1]['err'] == 0
    assert counters(api, 'e') == {'e': (4, 0)}


def test_a_waiting_list_booking_resizes_in_the_waiting_list(api, event):
    booking_id = book(api, force_waiting_list='true')
    assert resize(api, booking_id, 2) == (200, {'err': 0, 'booking_id': booking_id})
    assert counters(api, 'e') == {'e': (0, 2)}
    assert get(api, booking_id)['in_waiting_list'] is True
    assert refusal(resize(api, booking_id, 3), 3, 'sold out')  # the main list is empty, the waiting list full
    assert counters(api, 'e') == {'e': (0, 2)}
    assert resize(api, booking_id, 1)[1]['err'] == 0
    assert counters(api, 'e') == {'e': (0, 1)}


def test_resize_of_a_group_moves_every_leg_or_none(api, two_events):
    booking_id = book_group(api, 'e1,e2')
    assert resize(api, booking_id, 2) == (200, {'err': 0, 'booking_id': booking_id})
    assert counters(api, 'e1', 'e2') == {'e1': (2, 0), 'e2': (2, 0)}
    book(api, 'e2', user_external_id='u2')
    assert refusal(resize(api, booking_id, 3), 3, 'sold out')  # e1 has room, e2 not
    assert counters(api, 'e1', 'e2') == {'e1': (2, 0), 'e2': (3, 0)}
    assert [leg['count'] for leg in raw_legs(booking_id)] == [{'N': '2'}, {'N': '2'}]
    assert resize(api, booking_id, 1)[1]['err'] == 0
    assert counters(api, 'e1', 'e2') == {'e1': (1, 0), 'e2': (2, 0)}
    assert cancel(api, booking_id)[1]['err'] == 0  # the resized count is what cancel gives back
    assert counters(api, 'e1', 'e2') == {'e1': (0, 0), 'e2': (1, 0)}


@pytest.mark.parametrize('body', [{}, {'count': ''}, {'count': 0}, {'count': -1}, {'count': 'abc'}, {'count': 1.5},
                                  {'count': True}, {'count': [2]}, {'count': 10 ** 9}])
def test_resize_with_a_bad_count_is_400(api, event, body):
    booking_id = book(api)
    assert invalid(api.post(f'/api/booking/{booking_id}/resize/', body), 'count')
    assert counters(api, 'e') == {'e': (1, 0)}


def test_resize_a_cancelled_booking_is_refused(api, event):
    booking_id = book(api)
    assert cancel(api, booking_id)[1]['err'] == 0
    assert refusal(resize(api, booking_id, 2), 1, 'booking is cancelled')
    assert counters(api, 'e') == {'e': (0, 0)}


def test_resize_a_meeting_is_400(api, rdv):
    booking_id = book_meeting(api)
    status, body = resize(api, booking_id, 2)
    assert (status, body['err'], body['err_class']) == (400, 1, 'can not resize meetings booking')
    assert [leg['count'] for leg in raw_legs(booking_id)] == [{'N': '1'}]


# ---- POST /api/booking/<id>/anonymize/ (spec §8.10) ---------------------------------------------------

def assert_no_personal_value(text):
    found = [secret for secret in SECRETS if secret in text]
    assert not found, found


def test_anonymize_blanks_every_personal_field_and_keeps_counts(api, client, event):
    booking_id = book(api, count=2, user_external_id='jeanne-42', **PERSONAL)
    assert patch(api, booking_id, {'user_was_present': True})[1]['err'] == 0
    before = get(api, booking_id)
    assert before['user_email'] == 'jeanne@example.org' and before['extra_data'] == {'allergie': 'arachides-secret'}
    assert anonymize(api, booking_id) == (200, {'err': 0, 'booking_id': booking_id})
    data = get(api, booking_id)
    assert data['anonymization_datetime'] == '2030-03-01 09:00:00'
    assert (data['count'], data['in_waiting_list'], data['user_was_present']) == (2, False, True)
    for name in ('label', 'user_display_label', 'user_name', 'user_first_name', 'user_last_name', 'user_email',
                 'user_phone_number', 'user_external_id', 'backoffice_url', 'form_url', 'cancel_callback_url',
                 'presence_callback_url', 'absence_callback_url', 'extra_data'):
        assert data[name] is None, name
    assert (data['extra_emails'], data['extra_phone_numbers']) == ([], [])
    assert_no_personal_value(json.dumps(get(api, booking_id), ensure_ascii=False))
    assert listed(api, 'user_external_id=jeanne-42') == []
    status, content_type, cal = ics(client, f'/api/booking/{booking_id}/ics/')
    assert (status, content_type) == (200, 'text/calendar; charset=utf-8')
    assert_no_personal_value(cal.to_ical().decode())
    assert [str(e['SUMMARY']) for e in vevents(cal)] == ['Piscine X']
    assert 'URL' not in vevents(cal)[0]
    assert vevents(ics(client, '/api/bookings/ics/?user_external_id=jeanne-42')[2]) == []
    assert counters(api, 'e') == {'e': (2, 0)}
    stored = raw_legs(booking_id)[0]
    assert_no_personal_value(json.dumps(stored, ensure_ascii=False))
    assert 'gsi1pk' not in stored and 'gsi1sk' not in stored
    assert list(UserEventBookings.scan()) == []  # its key held the user_external_id


def test_anonymize_twice_answers_the_same_and_changes_nothing(api, clock, event):
    booking_id = book(api, **PERSONAL)
    assert anonymize(api, booking_id) == (200, {'err': 0, 'booking_id': booking_id})
    after = raw_legs(booking_id)
    clock(datetime(2030, 3, 2, 9, 0, tzinfo=PARIS))
    assert anonymize(api, booking_id) == (200, {'err': 0, 'booking_id': booking_id})
    assert raw_legs(booking_id) == after
    assert get(api, booking_id)['anonymization_datetime'] == '2030-03-01 09:00:00'
    assert counters(api, 'e') == {'e': (1, 0)}


def test_anonymize_a_cancelled_booking(api, event):
    booking_id = book(api, user_external_id='jeanne-42', **PERSONAL)
    other = book(api, user_external_id='jeanne-42')  # the user's count item still counts this one
    assert cancel(api, booking_id)[1]['err'] == 0
    assert anonymize(api, booking_id) == (200, {'err': 0, 'booking_id': booking_id})
    assert refusal(api.get(f'/api/booking/{booking_id}/'), 1, 'booking is cancelled')
    stored = raw_legs(booking_id)[0]
    assert_no_personal_value(json.dumps(stored, ensure_ascii=False))
    assert 'cancelled_at' in stored and 'anonymized_at' in stored
    assert [(i.pk, i.bookings) for i in UserEventBookings.scan()] == [('USEREVENT#x#e#jeanne-42', 1)]
    assert [i['id'] for i in listed(api, 'user_external_id=jeanne-42')] == [other]
    assert counters(api, 'e') == {'e': (1, 0)}


def test_after_anonymize_the_user_may_book_the_event_again_with_exclude_user(api, event):
    booking_id = book(api, exclude_user='true')
    assert refusal(api.post('/api/agenda/x/fillslot/e/', {'user_external_id': 'u1', 'exclude_user': 'true'}),
                   1, 'event is already booked by user')
    assert anonymize(api, booking_id)[1]['err'] == 0
    assert book(api, exclude_user='true') != booking_id
    assert counters(api, 'e') == {'e': (2, 0)}


def test_anonymize_a_group_and_a_meeting(api, rdv, two_events):
    group = book_group(api, 'e1,e2', user_external_id='jeanne-42', **PERSONAL)
    meeting = book_meeting(api, user_external_id='jeanne-42', **PERSONAL)
    assert anonymize(api, group) == (200, {'err': 0, 'booking_id': group})
    assert anonymize(api, meeting) == (200, {'err': 0, 'booking_id': meeting})
    for booking_id, legs in ((group, 2), (meeting, 1)):
        stored = raw_legs(booking_id)
        assert len(stored) == legs and all('anonymized_at' in leg and 'gsi1pk' not in leg for leg in stored)
        assert_no_personal_value(json.dumps(stored, ensure_ascii=False))
        assert_no_personal_value(json.dumps(get(api, booking_id), ensure_ascii=False))
    assert counters(api, 'e1', 'e2') == {'e1': (1, 0), 'e2': (1, 0)}
    assert [lock.booking_id for lock in Lock.scan()] == [meeting]  # the meeting keeps its desk (one 30-min cell)
    again = api.post('/api/agenda/rdv/fillslot/long:2030-03-04-1000/', {})
    assert refusal(again, 1, 'no more desk available')


# ---- GET /api/booking/<id>/ics/ and /api/bookings/ics/ (spec §8.2, §8.11) -------------------------------

def test_ics_of_a_booking(api, client, event):
    booking_id = book(api, user_display_label='Jeanne (cours)', label='Piscine', form_url=PERSONAL['form_url'],
                      backoffice_url=PERSONAL['backoffice_url'])
    status, content_type, cal = ics(client, f'/api/booking/{booking_id}/ics/')
    assert (status, content_type) == (200, 'text/calendar; charset=utf-8')
    (vevent,) = vevents(cal)
    assert vevent['DTSTART'].dt == datetime(2030, 3, 5, 10, 0, tzinfo=PARIS)
    assert vevent['DTEND'].dt == datetime(2030, 3, 5, 11, 0, tzinfo=PARIS)
    assert vevent['DTSTART'].params['TZID'] == vevent['DTEND'].params['TZID'] == 'Europe/Paris'
    assert [str(tz['TZID']) for tz in cal.walk('VTIMEZONE')] == ['Europe/Paris']
    assert str(vevent['SUMMARY']) == 'Jeanne (cours)'
    assert str(vevent['URL']) == PERSONAL['form_url']
    assert str(vevent['UID']) == f'booking-{booking_id}-000@chrono'
    assert str(ics(client, f'/api/booking/{booking_id}/ics')[2].walk('VEVENT')[0]['UID']) == str(vevent['UID'])


@pytest.mark.parametrize('body, summary, url', [
    ({'label': 'Piscine', 'backoffice_url': 'https://bo.example.org/1/'}, 'Piscine', 'https://bo.example.org/1/'),
    ({}, 'Piscine X', None),
])
def test_ics_summary_falls_back_to_the_label_then_the_agenda(api, client, event, body, summary, url):
    booking_id = book(api, **body)
    (vevent,) = vevents(ics(client, f'/api/booking/{booking_id}/ics/')[2])
    assert str(vevent['SUMMARY']) == summary
    assert (str(vevent['URL']) if 'URL' in vevent else None) == url


def test_ics_in_summer_time_and_of_a_group(api, client, agenda):
    create_event(api, 'ete', places=3, start='2030-07-01 18:00', duration=45)
    create_event(api, 'hiver', places=3, start='2030-03-06 14:30', duration=90)
    booking_id = book_group(api, 'ete,hiver', count=2, bypass_delays='true')
    cal = ics(client, f'/api/booking/{booking_id}/ics/')[2]
    assert [(str(e['UID']), e['DTSTART'].dt, e['DTEND'].dt, e['DTSTART'].params['TZID']) for e in vevents(cal)] == [
        (f'booking-{booking_id}-000@chrono', datetime(2030, 7, 1, 18, 0, tzinfo=PARIS),
         datetime(2030, 7, 1, 18, 45, tzinfo=PARIS), 'Europe/Paris'),
        (f'booking-{booking_id}-001@chrono', datetime(2030, 3, 6, 14, 30, tzinfo=PARIS),
         datetime(2030, 3, 6, 16, 0, tzinfo=PARIS), 'Europe/Paris')]
    assert 'DTSTART;TZID=Europe/Paris:20300701T180000' in cal.to_ical().decode()
    assert vevents(cal)[0]['DTSTART'].dt.utcoffset().total_seconds() == 7200


def test_ics_of_a_meeting(api, client, rdv):
    booking_id = book_meeting(api, user_display_label='RDV Jeanne')
    (vevent,) = vevents(ics(client, f'/api/booking/{booking_id}/ics/')[2])
    assert (vevent['DTSTART'].dt, vevent['DTEND'].dt, str(vevent['SUMMARY'])) == (
        datetime(2030, 3, 4, 10, 0, tzinfo=PARIS), datetime(2030, 3, 4, 10, 30, tzinfo=PARIS), 'RDV Jeanne')


def test_ics_of_a_cancelled_booking_is_refused(api, client, event):
    booking_id = book(api)
    assert cancel(api, booking_id)[1]['err'] == 0
    status, content_type, body = ics(client, f'/api/booking/{booking_id}/ics/')
    assert (status, content_type) == (200, 'application/json')
    assert (body['err'], body['err_class']) == (1, 'booking is cancelled')


def test_ics_of_a_user_lists_the_live_bookings(api, client, rdv, two_events):
    first = book(api, 'e1', user_display_label='A')
    group = book_group(api, 'e1,e2', user_display_label='B')
    cancelled = book(api, 'e2', user_display_label='C')
    assert cancel(api, cancelled)[1]['err'] == 0
    book(api, 'e2', user_external_id='u2', user_display_label='D')
    meeting = book_meeting(api, user_display_label='E')
    status, content_type, cal = ics(client, '/api/bookings/ics/?user_external_id=u1')
    assert (status, content_type) == (200, 'text/calendar; charset=utf-8')
    assert [(str(e['UID']), str(e['SUMMARY'])) for e in vevents(cal)] == [
        (f'booking-{meeting}-000@chrono', 'E'), (f'booking-{first}-000@chrono', 'A'),
        (f'booking-{group}-000@chrono', 'B'), (f'booking-{group}-001@chrono', 'B')]
    only_x = ics(client, '/api/bookings/ics/?user_external_id=u1&agenda=x')[2]
    assert [str(e['SUMMARY']) for e in vevents(only_x)] == ['A', 'B', 'B']
    assert vevents(ics(client, '/api/bookings/ics/?user_external_id=nobody')[2]) == []


# ---- GET /api/bookings/ (spec §8.1) -------------------------------------------------------------------

def test_bookings_of_a_user_in_date_order(api, two_events):
    group = book_group(api, 'e2,e1', label='Groupe', extra='v')
    single = book(api, 'e2', count=2, force_waiting_list='true')
    book(api, 'e1', user_external_id='u2')
    cancelled = book(api, 'e1')
    assert cancel(api, cancelled)[1]['err'] == 0
    data = listed(api, 'user_external_id=u1')
    assert [(i['id'], i['event']['slug'], i['in_waiting_list'], i['count']) for i in data] == [
        (group, 'e1', False, 1), (group, 'e2', False, 1), (single, 'e2', True, 2)]
    assert data[0] == {
        'id': group, 'booking_id': group, 'in_waiting_list': False, 'user_was_present': None,
        'user_absence_reason': '', 'user_check_type_slug': None, 'user_check_type_label': None,
        'extra_data': {'extra': 'v'}, 'count': 1, 'label': 'Groupe', 'user_display_label': None,
        'user_first_name': None, 'user_last_name': None, 'user_email': None, 'user_phone_number': None,
        'user_external_id': 'u1', 'creation_datetime': '2030-03-01 09:00:00', 'datetime': '2030-03-05 10:00:00',
        'end_datetime': '2030-03-05 11:00:00', 'agenda': {'slug': 'x', 'label': 'Piscine X'},
        'event': {'slug': 'e1', 'label': None, 'datetime': '2030-03-05 10:00:00', 'agenda': 'x'},
        'api': {'booking_url': f'{BASE}/api/booking/{group}/', 'cancel_url': f'{BASE}/api/booking/{group}/cancel/',
                'ics_url': f'{BASE}/api/booking/{group}/ics/',
                'anonymize_url': f'{BASE}/api/booking/{group}/anonymize/',
                'accept_url': f'{BASE}/api/booking/{group}/accept/',
                'suspend_url': f'{BASE}/api/booking/{group}/suspend/'}}


def test_bookings_filters(api, rdv, agenda):
    create_event(api, 'e', places=5, start='2030-03-05 10:00', label='Cours du mardi')
    create_event(api, 'late', places=5, start='2030-03-05 23:30')
    create_event(api, 'f', places=5, start='2030-03-06 00:00', agenda='y')
    in_x = book(api, 'e')
    late = book(api, 'late')
    in_y = book(api, 'f', agenda='y')
    meeting = book_meeting(api)

    def ids(query):
        return [i['id'] for i in listed(api, f'user_external_id=u1{query}')]

    assert ids('') == [meeting, in_x, late, in_y]
    assert ids('&agenda=x') == [in_x, late]
    assert ids('&agenda=rdv') == [meeting]
    assert ids('&agenda=nope') == []
    assert ids('&category=sport') == [in_x, late]
    assert ids('&category=other') == []
    assert ids('&date_start=2030-03-05') == [in_x, late, in_y]
    assert ids('&date_end=2030-03-05') == [meeting]
    assert ids('&date_start=2030-03-05&date_end=2030-03-06') == [in_x, late]  # local days, the end excluded
    assert ids('&date_start=2030-03-06&date_end=2030-03-06') == []
    assert ids('&date_start=2030-03-07&date_end=2030-03-01') == []
    assert ids('&agenda=x&date_start=2030-03-05&date_end=2030-03-06&category=sport') == [in_x, late]
    assert listed(api, 'user_external_id=u1&agenda=x')[0]['event']['label'] == 'Cours du mardi'
    item = listed(api, 'user_external_id=u1&agenda=rdv')[0]
    assert (item['event'], item['desk'], item['meeting_type'], item['datetime'], item['end_datetime']) == (
        None, 'g1', 'long', '2030-03-04 10:00:00', '2030-03-04 10:30:00')


@pytest.mark.parametrize('query, field', [
    ('', 'user_external_id'), ('user_external_id=', 'user_external_id'),
    ('user_external_id=' + 'u' * 251, 'user_external_id'),
    ('user_external_id=u1&date_start=2030-13-01', 'date_start'), ('user_external_id=u1&date_end=demain', 'date_end'),
    ('user_external_id=u1&agenda=a%20b', 'agenda'), ('user_external_id=u1&category=%C3%A9t%C3%A9', 'category'),
])
def test_bookings_bad_query_is_400(api, client, event, query, field):
    book(api)
    assert invalid(api.get(f'/api/bookings/?{query}'), field)
    assert invalid(api.get(f'/api/bookings/ics/?{query}'), field)


# ---- unknown bookings, methods ------------------------------------------------------------------------

@pytest.mark.parametrize('booking_id', ['999999', '0', 'abc', '-1', '1' * 30, '9' * 19])
def test_unknown_booking_is_404_on_every_new_route(api, event, booking_id):
    book(api)
    before = counters(api, 'e')
    assert_not_found(api.patch(f'/api/booking/{booking_id}/', {'user_was_present': True}))
    assert_not_found(api.post(f'/api/booking/{booking_id}/resize/', {'count': 2}))
    assert_not_found(api.post(f'/api/booking/{booking_id}/resize/', {'count': 'abc'}))
    assert_not_found(api.post(f'/api/booking/{booking_id}/anonymize/'))
    assert_not_found(api.get(f'/api/booking/{booking_id}/ics/'))
    assert counters(api, 'e') == before


def test_wrong_methods_are_405(api, event):
    booking_id = book(api)
    for method, path in (('GET', f'/api/booking/{booking_id}/resize/'), ('POST', f'/api/booking/{booking_id}/ics/'),
                         ('GET', f'/api/booking/{booking_id}/anonymize/'), ('POST', '/api/bookings/')):
        status, body = api.call(method, path)
        assert (status, body['err'], body['err_class']) == (405, 1, 'method not allowed'), (method, path, body)
