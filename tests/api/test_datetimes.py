"""Events slots: GET /api/agenda/<a>/datetimes/ (spec §5.1-5.2, §9.1, §10), GET .../status/<e>/ (§7.1)
and GET .../bookings/<e>/?user_external_id= (§7.2).

Every test sets the clock; the default one is Friday 2030-03-01 09:00 in Paris, so with the default delays
(minimal 1 day, maximal 56 days) the window is [2030-03-02 00:00, 2030-04-26 00:00) local time.
"""
from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

import pytest

from tests.api.conftest import assert_not_found, set_counters

PARIS = ZoneInfo('Europe/Paris')
BASE = 'http://localhost'
NOW = datetime(2030, 3, 1, 9, 0, tzinfo=PARIS)  # a Friday


# ---- helpers ---------------------------------------------------------------------------------

def create_agenda(api, slug='x', **settings):
    status, answer = api.post('/api/agenda/', {'label': slug.upper(), 'slug': slug, **settings})
    assert (status, answer['err']) == (200, 0), answer
    return slug


def create_event(api, agenda, slug, start, places=10, **fields):
    body = {'slug': slug, 'start_datetime': start, 'places': places, **fields}
    status, answer = api.post(f'/api/agenda/{agenda}/event/', body)
    assert (status, answer['err']) == (200, 0), answer
    return slug


def book(api, event, agenda='x', **body):
    status, answer = api.post(f'/api/agenda/{agenda}/fillslot/{event}/', body)
    assert (status, answer['err']) == (200, 0), answer
    return answer['booking_id']


def listing(api, query='', agenda='x'):
    status, answer = api.get(f'/api/agenda/{agenda}/datetimes/' + (f'?{query}' if query else ''))
    assert status == 200 and answer['err'] == 0, (status, answer)
    return answer


def ids(api, query='', agenda='x'):
    return [item['id'] for item in listing(api, query, agenda)['data']]


def flags(api, name, query='', agenda='x'):
    """{event id: item[name]} of a listing."""
    return {item['id']: item[name] for item in listing(api, query, agenda)['data']}


def places(total, reserved=0, available=None, full=False, waiting=None):
    """A `places` object; `waiting` = (total, reserved, available, activated) when there is a waiting list."""
    data = {'total': total, 'reserved': reserved,
            'available': total - reserved if available is None else available,
            'full': full, 'has_waiting_list': waiting is not None}
    if waiting is not None:
        data.update(waiting_list_total=waiting[0], waiting_list_reserved=waiting[1],
                    waiting_list_available=waiting[2], waiting_list_activated=waiting[3])
    return data


def item(slug, start, place_data, agenda='x', label=None, disabled=False, **changes):
    """An event as datetimes and status render it. `checked` and `cancelled` are extra keys of the
    status shape (harmless for clients); the others are the ones of spec §5.2/§7.1."""
    url = f'{BASE}/api/agenda/{agenda}'
    data = {
        'id': slug, 'slug': slug, 'text': label or start, 'label': label or '', 'date': start[:10],
        'datetime': start, 'end_datetime': '', 'description': None, 'pricing': None, 'url': None,
        'disabled': disabled, 'checked': False, 'check_locked': False, 'invoiced': False, 'cancelled': False,
        'places': place_data,
        'api': {'bookings_url': f'{url}/bookings/{slug}/', 'fillslot_url': f'{url}/fillslot/{slug}/',
                'status_url': f'{url}/status/{slug}/', 'check_url': f'{url}/check/{slug}/'},
    }
    data.update(changes)
    return data


@pytest.fixture
def now(clock):
    clock(NOW)
    return NOW


@pytest.fixture
def agenda(api, now):
    return create_agenda(api, 'x')


# ---- the answer ----------------------------------------------------------------------------

def test_item_and_meta_carry_every_documented_key(api, agenda):
    create_event(api, 'x', 'natation', '2030-03-05 10:00', places=3, waiting_list_places=2, label='Natation',
                 duration=90, description='Bonnet obligatoire', pricing='5 €', url='https://example.org/natation')
    expected = item('natation', '2030-03-05 10:00:00', places(3, waiting=(2, 0, 2, False)), label='Natation',
                    end_datetime='2030-03-05 11:30:00', description='Bonnet obligatoire', pricing='5 €',
                    url='https://example.org/natation')
    assert api.get('/api/agenda/x/datetimes/') == (200, {'err': 0, 'data': [expected], 'meta': {
        'no_bookable_datetimes': False, 'bookable_datetimes_number_total': 1,
        'bookable_datetimes_number_available': 1, 'first_bookable_slot': expected}})


def test_text_is_the_local_datetime_when_the_event_has_no_label(api, agenda):
    create_event(api, 'x', 'e', '2030-03-05 10:00', places=3)
    set_counters('x', 'e', reserved=1)
    assert listing(api)['data'] == [item('e', '2030-03-05 10:00:00', places(3, reserved=1))]
    assert listing(api)['data'][0]['text'] == '2030-03-05 10:00:00'


def test_start_given_with_an_offset_is_shown_in_local_time(api, agenda):
    create_event(api, 'x', 'e', '2030-03-05T09:00:00Z', places=3)
    data = listing(api)['data']
    assert [(i['date'], i['datetime'], i['text']) for i in data] == [
        ('2030-03-05', '2030-03-05 10:00:00', '2030-03-05 10:00:00')]


def test_empty_agenda_has_no_bookable_datetimes(api, agenda):
    assert api.get('/api/agenda/x/datetimes/') == (200, {'err': 0, 'data': [], 'meta': {
        'no_bookable_datetimes': True, 'bookable_datetimes_number_total': 0,
        'bookable_datetimes_number_available': 0, 'first_bookable_slot': None}})


def test_meta_counts_disabled_items_and_points_at_the_first_available_one(api, agenda):
    create_event(api, 'x', 'full-1', '2030-03-04 10:00', places=1)
    create_event(api, 'x', 'open', '2030-03-05 10:00', places=2)
    create_event(api, 'x', 'full-2', '2030-03-06 10:00', places=1)
    set_counters('x', 'full-1', reserved=1)
    set_counters('x', 'full-2', reserved=1)
    answer = listing(api)
    assert [i['id'] for i in answer['data']] == ['full-1', 'open', 'full-2']
    assert answer['meta'] == {
        'no_bookable_datetimes': False, 'bookable_datetimes_number_total': 3,
        'bookable_datetimes_number_available': 1,
        'first_bookable_slot': item('open', '2030-03-05 10:00:00', places(2))}


def test_meta_when_every_event_is_full(api, agenda):
    create_event(api, 'x', 'e', '2030-03-05 10:00', places=1)
    set_counters('x', 'e', reserved=1)
    assert listing(api)['meta'] == {'no_bookable_datetimes': True, 'bookable_datetimes_number_total': 1,
                                    'bookable_datetimes_number_available': 0, 'first_bookable_slot': None}


def test_items_are_sorted_by_start_time_whatever_the_creation_order(api, agenda):
    for slug, start in [('c', '2030-03-20 08:00'), ('a', '2030-03-05 18:00'), ('d', '2030-04-02 09:00'),
                        ('b', '2030-03-05 09:30')]:
        create_event(api, 'x', slug, start)
    assert ids(api) == ['b', 'a', 'c', 'd']


def test_events_starting_together_are_sorted_by_label(api, agenda):
    """Spec §5.2: sorted by start_datetime then label (here the label order differs from the slug order)."""
    create_event(api, 'x', 'a-event', '2030-03-05 10:00', label='Zumba')
    create_event(api, 'x', 'b-event', '2030-03-05 10:00', label='Aquagym')
    assert ids(api) == ['b-event', 'a-event']


# ---- full events and waiting lists ------------------------------------------------------------

def test_full_event_is_disabled_and_marked_full(api, agenda):
    create_event(api, 'x', 'e', '2030-03-05 10:00', places=2)
    set_counters('x', 'e', reserved=2)
    assert listing(api)['data'] == [item('e', '2030-03-05 10:00:00', places(2, 2, full=True), disabled=True)]


def test_overbooked_event_shows_no_negative_availability(api, agenda):
    create_event(api, 'x', 'e', '2030-03-05 10:00', places=2)
    set_counters('x', 'e', reserved=3)
    assert listing(api)['data'] == [
        item('e', '2030-03-05 10:00:00', places(2, 3, available=0, full=True), disabled=True)]


def test_full_main_list_with_room_in_the_waiting_list_stays_bookable(api, agenda):
    create_event(api, 'x', 'e', '2030-03-05 10:00', places=2, waiting_list_places=3)
    set_counters('x', 'e', reserved=2, waiting=1)
    assert listing(api)['data'] == [item('e', '2030-03-05 10:00:00', places(2, 2, waiting=(3, 1, 2, True)))]


def test_full_main_list_and_full_waiting_list_is_disabled(api, agenda):
    create_event(api, 'x', 'e', '2030-03-05 10:00', places=2, waiting_list_places=3)
    set_counters('x', 'e', reserved=2, waiting=3)
    assert listing(api)['data'] == [
        item('e', '2030-03-05 10:00:00', places(2, 2, full=True, waiting=(3, 3, 0, True)), disabled=True)]


# ---- parameters ----------------------------------------------------------------------------

def test_date_start_is_inclusive_and_date_end_exclusive_at_local_midnight(api, agenda):
    for slug, start in [('d4-late', '2030-03-04 23:59'), ('d5-midnight', '2030-03-05 00:00'),
                        ('d5-noon', '2030-03-05 12:00'), ('d6-late', '2030-03-06 23:59'),
                        ('d7-midnight', '2030-03-07 00:00'), ('d7-noon', '2030-03-07 12:00')]:
        create_event(api, 'x', slug, start)
    assert ids(api, 'date_start=2030-03-05&date_end=2030-03-07') == ['d5-midnight', 'd5-noon', 'd6-late']
    assert ids(api, 'date_start=2030-03-05') == ['d5-midnight', 'd5-noon', 'd6-late', 'd7-midnight', 'd7-noon']
    assert ids(api, 'date_end=2030-03-05') == ['d4-late']
    assert ids(api, 'date_start=2030-03-05&date_end=2030-03-05') == []


def test_date_bounds_narrow_the_booking_window_but_never_widen_it(api, agenda):
    create_event(api, 'x', 'today', '2030-03-01 18:00')  # inside [date_start, date_end), before the window
    create_event(api, 'x', 'inside', '2030-03-05 10:00')
    create_event(api, 'x', 'beyond', '2030-05-01 10:00')  # after the window's end (2030-04-26)
    assert ids(api, 'date_start=2030-03-01&date_end=2030-06-01') == ['inside']


@pytest.mark.parametrize('query', [
    'date_end=2030-02-01',  # ends before now
    'date_start=2030-03-10&date_end=2030-03-05',  # inverted
    'date_start=2030-06-01',  # starts after the window's end
    'events=past&date_start=2030-03-05',  # past events from a future day
])
def test_empty_or_inverted_date_range_lists_nothing(api, agenda, query):
    create_event(api, 'x', 'e', '2030-03-05 10:00')
    create_event(api, 'x', 'past', '2030-02-22 10:00')
    assert api.get(f'/api/agenda/x/datetimes/?{query}') == (200, {'err': 0, 'data': [], 'meta': {
        'no_bookable_datetimes': True, 'bookable_datetimes_number_total': 0,
        'bookable_datetimes_number_available': 0, 'first_bookable_slot': None}})


def test_user_external_id_tells_which_events_that_user_booked(api, agenda):
    create_agenda(api, 'y')
    for slug in ('main', 'waiting', 'cancelled', 'other-user', 'other-agenda', 'free'):
        create_event(api, 'x', slug, '2030-03-05 10:00', places=1, waiting_list_places=2)
    create_event(api, 'y', 'other-agenda', '2030-03-05 10:00', places=1)
    book(api, 'main', user_external_id='u1')
    book(api, 'waiting', user_external_id='u1', force_waiting_list='true')
    cancelled = book(api, 'cancelled', user_external_id='u1')
    assert api.post(f'/api/booking/{cancelled}/cancel/')[1]['err'] == 0
    book(api, 'other-user', user_external_id='u2')
    book(api, 'other-agenda', agenda='y', user_external_id='u1')
    assert flags(api, 'booked_for_external_user', 'user_external_id=u1') == {
        'cancelled': False, 'free': False, 'main': True, 'other-agenda': False, 'other-user': False,
        'waiting': True}
    assert flags(api, 'booked_for_external_user', 'user_external_id=nobody') == dict.fromkeys(
        ['cancelled', 'free', 'main', 'other-agenda', 'other-user', 'waiting'], False)
    assert all('booked_for_external_user' not in i for i in listing(api)['data'])
    # Knowing what the user booked disables nothing.
    assert set(flags(api, 'disabled', 'user_external_id=u1').values()) == {False}


def test_booked_for_external_user_follows_an_event_moved_after_the_booking(api, agenda):
    """PATCH may move an event that has bookings (spec §7.4): its bookings move with it."""
    create_event(api, 'x', 'e', '2030-03-05 10:00', places=5)
    create_event(api, 'x', 'f', '2030-03-12 09:00', places=5)
    book(api, 'e', user_external_id='u1')
    status, answer = api.patch('/api/agenda/x/event/e/', {'start_datetime': '2030-03-12 10:00'})
    assert (status, answer['err'], answer['data']['datetime']) == (200, 0, '2030-03-12 10:00:00')
    assert flags(api, 'booked_for_external_user', 'user_external_id=u1&date_start=2030-03-10') == {
        'f': False, 'e': True}
    assert flags(api, 'disabled', 'exclude_user_external_id=u1&date_start=2030-03-10') == {'f': False, 'e': True}


def test_exclude_user_external_id_disables_the_events_that_user_booked(api, agenda):
    create_event(api, 'x', 'main', '2030-03-05 10:00', places=5)
    create_event(api, 'x', 'waiting', '2030-03-06 10:00', places=5, waiting_list_places=5)
    create_event(api, 'x', 'cancelled', '2030-03-07 10:00', places=5)
    create_event(api, 'x', 'other-user', '2030-03-08 10:00', places=5)
    book(api, 'main', user_external_id='u1')
    book(api, 'waiting', user_external_id='u1', force_waiting_list='true')
    cancelled = book(api, 'cancelled', user_external_id='u1')
    assert api.post(f'/api/booking/{cancelled}/cancel/')[1]['err'] == 0
    book(api, 'other-user', user_external_id='u2')
    answer = listing(api, 'exclude_user_external_id=u1')
    assert {i['id']: i['disabled'] for i in answer['data']} == {
        'main': True, 'waiting': True, 'cancelled': False, 'other-user': False}
    assert answer['data'][0] == item('main', '2030-03-05 10:00:00', places(5, 1), disabled=True)
    assert answer['meta']['bookable_datetimes_number_available'] == 2
    assert answer['meta']['first_bookable_slot']['id'] == 'cancelled'
    assert ids(api, 'exclude_user_external_id=u1&hide_disabled=true') == ['cancelled', 'other-user']
    assert flags(api, 'disabled', 'exclude_user_external_id=u2') == {
        'main': False, 'waiting': False, 'cancelled': False, 'other-user': True}


def test_hide_disabled_drops_full_events(api, agenda):
    create_event(api, 'x', 'full', '2030-03-04 10:00', places=1)
    create_event(api, 'x', 'open', '2030-03-05 10:00', places=1)
    create_event(api, 'x', 'waiting', '2030-03-06 10:00', places=1, waiting_list_places=1)
    set_counters('x', 'full', reserved=1)
    set_counters('x', 'waiting', reserved=1)
    assert ids(api) == ['full', 'open', 'waiting']
    assert ids(api, 'hide_disabled=false') == ['full', 'open', 'waiting']
    assert ids(api, 'hide_disabled=True') == ids(api, 'hide_disabled=1') == ['open', 'waiting']
    answer = listing(api, 'hide_disabled=true')
    assert [i['id'] for i in answer['data']] == ['open', 'waiting']
    assert answer['meta'] == {
        'no_bookable_datetimes': False, 'bookable_datetimes_number_total': 2,
        'bookable_datetimes_number_available': 2,
        'first_bookable_slot': item('open', '2030-03-05 10:00:00', places(1))}


def test_bypass_delays_lists_future_events_outside_the_window(api, agenda):
    create_event(api, 'x', 'earlier-today', '2030-03-01 08:00')  # past: never listed as future
    create_event(api, 'x', 'later-today', '2030-03-01 18:00')
    create_event(api, 'x', 'inside', '2030-03-05 10:00')
    create_event(api, 'x', 'beyond', '2030-05-01 10:00')
    assert ids(api) == ['inside']
    assert ids(api, 'bypass_delays=false') == ['inside']
    assert ids(api, 'bypass_delays=true') == ['later-today', 'inside', 'beyond']
    assert flags(api, 'disabled', 'bypass_delays=true') == dict.fromkeys(['later-today', 'inside', 'beyond'], False)
    assert ids(api, 'bypass_delays=true&date_end=2030-03-02') == ['later-today']


def test_min_places_disables_events_that_cannot_take_that_many_places(api, agenda):
    create_event(api, 'x', 'one-free', '2030-03-04 10:00', places=3)
    create_event(api, 'x', 'two-free', '2030-03-05 10:00', places=3)
    create_event(api, 'x', 'waiting-room', '2030-03-06 10:00', places=1, waiting_list_places=3)
    create_event(api, 'x', 'one-and-one', '2030-03-07 10:00', places=3, waiting_list_places=1)
    set_counters('x', 'one-free', reserved=2)
    set_counters('x', 'two-free', reserved=1)
    set_counters('x', 'waiting-room', reserved=1)
    set_counters('x', 'one-and-one', reserved=2)
    everything_open = dict.fromkeys(['one-free', 'two-free', 'waiting-room', 'one-and-one'], False)
    assert flags(api, 'disabled') == everything_open
    assert flags(api, 'disabled', 'min_places=1') == everything_open
    answer = listing(api, 'min_places=2')
    assert {i['id']: i['disabled'] for i in answer['data']} == {
        'one-free': True, 'two-free': False, 'waiting-room': False, 'one-and-one': True}
    assert answer['data'][0] == item('one-free', '2030-03-04 10:00:00', places(3, 2), disabled=True)
    assert answer['meta']['bookable_datetimes_number_available'] == 2
    assert ids(api, 'min_places=2&hide_disabled=true') == ['two-free', 'waiting-room']


def test_events_past_all_future(api, agenda):
    create_event(api, 'x', 'last-month', '2030-01-25 10:00')
    create_event(api, 'x', 'last-week', '2030-02-22 10:00')
    create_event(api, 'x', 'this-morning', '2030-03-01 08:00')
    create_event(api, 'x', 'tonight', '2030-03-01 18:00')  # future, before the window
    create_event(api, 'x', 'inside', '2030-03-05 10:00')
    create_event(api, 'x', 'beyond', '2030-05-01 10:00')
    assert ids(api) == ['inside']
    assert ids(api, 'events=future') == ['inside']
    assert ids(api, 'events=past&date_start=2030-02-01') == ['last-week', 'this-morning']
    assert ids(api, 'events=past&date_start=2030-03-01') == ['this-morning']
    assert ids(api, 'events=past&date_start=2030-02-01&date_end=2030-03-01') == ['last-week']
    assert ids(api, 'events=all&date_start=2030-02-01') == ['last-week', 'this-morning', 'inside']
    assert ids(api, 'events=all&date_start=2030-02-01&bypass_delays=true') == [
        'last-week', 'this-morning', 'tonight', 'inside', 'beyond']


def test_events_past_and_all_without_date_start(api, agenda):
    """w.c.s. may ask for `events=past` with no date bound at all: every past event."""
    create_event(api, 'x', 'last-month', '2030-01-25 10:00')
    create_event(api, 'x', 'this-morning', '2030-03-01 08:00')
    create_event(api, 'x', 'inside', '2030-03-05 10:00')
    assert ids(api, 'events=past') == ['last-month', 'this-morning']
    assert ids(api, 'events=past&date_end=2030-03-01') == ['last-month']
    assert ids(api, 'events=all') == ['last-month', 'this-morning', 'inside']
    assert flags(api, 'booked_for_external_user', 'events=all&user_external_id=u1') == dict.fromkeys(
        ['last-month', 'this-morning', 'inside'], False)


def test_lock_code_is_accepted_and_changes_nothing(api, agenda):
    create_event(api, 'x', 'e', '2030-03-05 10:00', places=2)
    without = api.get('/api/agenda/x/datetimes/?user_external_id=u1')
    assert without[0] == 200
    assert api.get('/api/agenda/x/datetimes/?user_external_id=u1&lock_code=0f3c9a2b7d') == without
    assert api.get('/api/agenda/x/datetimes/?lock_code=') == api.get('/api/agenda/x/datetimes/')


@pytest.mark.parametrize('query, field', [
    ('date_start=2030-13-01', 'date_start'),
    ('date_start=01/03/2030', 'date_start'),
    ('date_end=2030-02-30', 'date_end'),
    ('min_places=abc', 'min_places'),
    ('min_places=0', 'min_places'),
    ('events=bogus', 'events'),
    ('hide_disabled=maybe', 'hide_disabled'),
    ('bypass_delays=maybe', 'bypass_delays'),
])
def test_invalid_parameter_is_an_invalid_payload(api, agenda, query, field):
    create_event(api, 'x', 'e', '2030-03-05 10:00')
    status, answer = api.get(f'/api/agenda/x/datetimes/?{query}')
    assert status == 400, answer
    assert set(answer) == {'err', 'err_class', 'err_desc', 'errors'}
    assert (answer['err'], answer['err_class'], answer['err_desc']) == (1, 'invalid payload', 'invalid payload')
    assert list(answer['errors']) == [field]
    assert answer['errors'][field] and all(isinstance(m, str) and m for m in answer['errors'][field])


def test_every_invalid_parameter_is_reported_at_once(api, agenda):
    status, answer = api.get('/api/agenda/x/datetimes/?date_start=2030-13-01&min_places=abc&events=bogus')
    assert status == 400
    assert (answer['err'], answer['err_class']) == (1, 'invalid payload')
    assert set(answer['errors']) == {'date_start', 'min_places', 'events'}


# ---- the booking window (spec §9.1, §10) -----------------------------------------------------------

def test_minimal_delay_of_one_day_opens_at_local_midnight_tomorrow(api, agenda):
    create_event(api, 'x', 'tonight', '2030-03-01 23:59')
    create_event(api, 'x', 'tomorrow-midnight', '2030-03-02 00:00')
    create_event(api, 'x', 'tomorrow', '2030-03-02 10:00')
    assert ids(api) == ['tomorrow-midnight', 'tomorrow']


def test_minimal_delay_of_zero_opens_now(api, now):
    create_agenda(api, 'x', minimal_booking_delay='0')
    create_event(api, 'x', 'an-hour-ago', '2030-03-01 08:00')
    create_event(api, 'x', 'in-a-minute', '2030-03-01 09:01')
    create_event(api, 'x', 'tonight', '2030-03-01 23:00')
    assert ids(api) == ['in-a-minute', 'tonight']


def test_minimal_delay_in_working_days_skips_the_weekend(api, now):
    create_agenda(api, 'x', minimal_booking_delay=1, minimal_booking_delay_in_working_days='true')
    create_event(api, 'x', 'saturday', '2030-03-02 10:00')
    create_event(api, 'x', 'sunday', '2030-03-03 23:59')
    create_event(api, 'x', 'monday-midnight', '2030-03-04 00:00')
    create_event(api, 'x', 'tuesday', '2030-03-05 10:00')
    assert ids(api) == ['monday-midnight', 'tuesday']


def test_minimal_delay_in_working_days_skips_public_holidays(api, clock):
    clock(datetime(2030, 4, 19, 9, 0, tzinfo=PARIS))  # Friday before Easter Monday (2030-04-22)
    create_agenda(api, 'x', minimal_booking_delay=1, minimal_booking_delay_in_working_days='true')
    create_event(api, 'x', 'easter-monday', '2030-04-22 10:00')
    create_event(api, 'x', 'tuesday', '2030-04-23 10:00')
    assert ids(api) == ['tuesday']


def test_minimal_delay_in_calendar_days_counts_the_weekend(api, now):
    create_agenda(api, 'x', minimal_booking_delay=2)
    create_event(api, 'x', 'saturday', '2030-03-02 10:00')
    create_event(api, 'x', 'sunday', '2030-03-03 00:00')
    assert ids(api) == ['sunday']


def test_maximal_delay_is_an_excluded_bound_at_local_midnight(api, now):
    create_agenda(api, 'x', maximal_booking_delay=3)
    create_event(api, 'x', 'last-minute', '2030-03-03 23:59')
    create_event(api, 'x', 'bound', '2030-03-04 00:00')
    create_event(api, 'x', 'after', '2030-03-04 10:00')
    assert ids(api) == ['last-minute']
    assert ids(api, 'bypass_delays=true') == ['last-minute', 'bound', 'after']


def test_default_maximal_delay_is_56_days(api, agenda):
    create_event(api, 'x', 'day-55', '2030-04-25 23:59')
    create_event(api, 'x', 'day-56', '2030-04-26 00:00')
    assert ids(api) == ['day-55']


@pytest.mark.parametrize('hour, minute, expected', [
    (7, 59, ['today-10', 'wednesday-0030']),  # before 08:00 "today" is still Monday: window [now, Thursday)
    (8, 0, ['wednesday-0030', 'thursday-10']),  # from 08:00 it is Tuesday: window [Wednesday, Friday)
])
def test_minimal_booking_time_moves_the_day_boundary(api, clock, hour, minute, expected):
    clock(datetime(2030, 3, 5, hour, minute, tzinfo=PARIS))  # a Tuesday
    create_agenda(api, 'x', minimal_booking_delay=1, maximal_booking_delay=3, minimal_booking_time='08:00')
    create_event(api, 'x', 'today-0730', '2030-03-05 07:30')
    create_event(api, 'x', 'today-10', '2030-03-05 10:00')
    create_event(api, 'x', 'wednesday-0030', '2030-03-06 00:30')
    create_event(api, 'x', 'thursday-10', '2030-03-07 10:00')
    create_event(api, 'x', 'friday-10', '2030-03-08 10:00')
    assert ids(api) == expected


def test_future_publication_datetime_hides_the_event_until_then(api, clock):
    clock(NOW)
    create_agenda(api, 'x')
    create_event(api, 'x', 'published', '2030-03-05 10:00', publication_datetime='2030-02-01 00:00')
    create_event(api, 'x', 'unpublished', '2030-03-05 11:00', publication_datetime='2030-03-02 12:00')
    assert ids(api) == ['published']
    assert ids(api, 'bypass_delays=true') == ['published']
    clock(datetime(2030, 3, 2, 12, 0, tzinfo=PARIS))
    assert ids(api) == ['published', 'unpublished']


def test_cancelled_event_is_not_listed(api, agenda):
    create_event(api, 'x', 'open', '2030-03-05 10:00')
    create_event(api, 'x', 'called-off', '2030-03-05 11:00', cancelled='true')
    assert ids(api) == ['open']
    assert ids(api, 'bypass_delays=true') == ['open']
    assert ids(api, 'events=all&date_start=2030-03-01') == ['open']


def test_recurring_primary_event_is_not_listed(api, agenda):
    create_event(api, 'x', 'single', '2030-03-05 10:00')
    create_event(api, 'x', 'weekly', '2030-03-05 11:00', recurrence_days='1,3', recurrence_end_date='2030-04-01')
    occurrences = [f'weekly--2030-03-{day:02d}-1100' for day in (5, 7, 12, 14, 19, 21, 26, 28)]
    assert ids(api) == ['single', *occurrences]  # its occurrences are (tests/api/test_recurring_events.py)
    assert ids(api, 'bypass_delays=true') == ['single', *occurrences]
    assert ids(api, 'events=all&date_start=2030-03-01') == ['single', *occurrences]


def test_window_across_the_spring_time_change(api, clock):
    clock(datetime(2030, 3, 30, 12, 0, tzinfo=PARIS))  # the clocks go forward on 2030-03-31 at 02:00
    create_agenda(api, 'x', minimal_booking_delay=1, maximal_booking_delay=2)
    create_event(api, 'x', 'saturday-late', '2030-03-30 23:30')
    create_event(api, 'x', 'sunday-early', '2030-03-31 00:30')
    create_event(api, 'x', 'after-change', '2030-03-31 03:00')
    create_event(api, 'x', 'sunday-late', '2030-03-31 23:30')  # 21:30 UTC
    create_event(api, 'x', 'monday-midnight', '2030-04-01 00:00')  # 22:00 UTC: the excluded upper bound
    answer = listing(api)
    assert [(i['id'], i['datetime']) for i in answer['data']] == [
        ('sunday-early', '2030-03-31 00:30:00'), ('after-change', '2030-03-31 03:00:00'),
        ('sunday-late', '2030-03-31 23:30:00')]


def test_window_across_the_autumn_time_change(api, clock):
    clock(datetime(2030, 10, 26, 12, 0, tzinfo=PARIS))  # the clocks go back on 2030-10-27 at 03:00
    create_agenda(api, 'x', minimal_booking_delay=1, maximal_booking_delay=2)
    create_event(api, 'x', 'saturday-late', '2030-10-26 23:30')
    create_event(api, 'x', 'sunday-early', '2030-10-27 00:30')
    create_event(api, 'x', 'sunday-late', '2030-10-27 23:30')
    create_event(api, 'x', 'monday-midnight', '2030-10-28 00:00')
    assert ids(api) == ['sunday-early', 'sunday-late']


# ---- which agendas ---------------------------------------------------------------------------

def test_meetings_agenda_has_no_events_datetimes(api, now):
    create_agenda(api, 'rdv', kind='meetings')
    assert_not_found(api.get('/api/agenda/rdv/datetimes/'))


def test_unknown_agenda_is_404(api, now):
    assert_not_found(api.get('/api/agenda/nowhere/datetimes/'))
    assert_not_found(api.get('/api/agenda/nowhere/datetimes/?events=all&bypass_delays=true'))


# ---- status (spec §7.1) ------------------------------------------------------------------------

@pytest.mark.parametrize('total, waiting_total, reserved, waiting, expected_places, disabled', [
    (3, 0, 0, 0, places(3, 0), False),
    (3, 0, 2, 0, places(3, 2), False),
    (3, 0, 3, 0, places(3, 3, full=True), True),
    (3, 0, 5, 0, places(3, 5, available=0, full=True), True),
    (3, 2, 0, 0, places(3, 0, waiting=(2, 0, 2, False)), False),
    (3, 2, 2, 0, places(3, 2, waiting=(2, 0, 2, False)), False),
    (3, 2, 1, 1, places(3, 1, waiting=(2, 1, 1, True)), False),  # someone waits: the next one waits too
    (3, 2, 3, 0, places(3, 3, waiting=(2, 0, 2, True)), False),
    (3, 2, 3, 1, places(3, 3, waiting=(2, 1, 1, True)), False),
    (3, 2, 3, 2, places(3, 3, full=True, waiting=(2, 2, 0, True)), True),
    (3, 2, 4, 3, places(3, 4, available=0, full=True, waiting=(2, 3, 0, True)), True),
])
def test_status_place_arithmetic(api, agenda, total, waiting_total, reserved, waiting, expected_places, disabled):
    create_event(api, 'x', 'e', '2030-03-05 10:00', places=total, waiting_list_places=waiting_total, label='Cours')
    set_counters('x', 'e', reserved=reserved, waiting=waiting)
    assert api.get('/api/agenda/x/status/e/') == (200, {
        'err': 0, **item('e', '2030-03-05 10:00:00', expected_places, label='Cours', disabled=disabled)})


def test_status_follows_real_bookings(api, agenda):
    create_event(api, 'x', 'e', '2030-03-05 10:00', places=2, waiting_list_places=1)
    book(api, 'e', user_external_id='u1', count=2)
    assert api.get('/api/agenda/x/status/e/')[1]['places'] == places(2, 2, waiting=(1, 0, 1, True))
    book(api, 'e', user_external_id='u2')
    assert api.get('/api/agenda/x/status/e/')[1]['places'] == places(2, 2, full=True, waiting=(1, 1, 0, True))


def test_status_of_events_outside_the_window_is_disabled(api, agenda):
    create_event(api, 'x', 'past', '2030-02-22 10:00', places=2)
    create_event(api, 'x', 'beyond', '2030-05-01 10:00', places=2)
    create_event(api, 'x', 'unpublished', '2030-03-05 10:00', places=2, publication_datetime='2030-03-03 00:00')
    for slug, start in [('past', '2030-02-22 10:00:00'), ('beyond', '2030-05-01 10:00:00'),
                        ('unpublished', '2030-03-05 10:00:00')]:
        assert api.get(f'/api/agenda/x/status/{slug}/') == (200, {
            'err': 0, **item(slug, start, places(2), disabled=True)}), slug


def test_status_of_unknown_event_or_agenda_is_404(api, agenda):
    create_agenda(api, 'rdv', kind='meetings')
    create_event(api, 'x', 'e', '2030-03-05 10:00')
    assert_not_found(api.get('/api/agenda/x/status/nope/'))
    assert_not_found(api.get('/api/agenda/nowhere/status/e/'))
    assert_not_found(api.get('/api/agenda/rdv/status/e/'))


# ---- a user's bookings on an event (spec §7.2) ---------------------------------------------------

def test_event_bookings_lists_only_that_users_live_bookings_on_that_event(api, agenda):
    create_agenda(api, 'y')
    create_event(api, 'x', 'e', '2030-03-05 10:00', places=2, waiting_list_places=5)
    create_event(api, 'x', 'same-time', '2030-03-05 10:00', places=5)
    create_event(api, 'x', 'other', '2030-03-06 10:00', places=5)
    create_event(api, 'y', 'e', '2030-03-05 10:00', places=5)
    main = book(api, 'e', user_external_id='u1')
    waiting = book(api, 'e', user_external_id='u1', force_waiting_list='true')
    cancelled = book(api, 'e', user_external_id='u1')
    assert api.post(f'/api/booking/{cancelled}/cancel/')[1]['err'] == 0
    book(api, 'e', user_external_id='u2')
    book(api, 'same-time', user_external_id='u1')
    book(api, 'other', user_external_id='u1')
    book(api, 'e', agenda='y', user_external_id='u1')
    status, answer = api.get('/api/agenda/x/bookings/e/?user_external_id=u1')
    assert status == 200 and set(answer) == {'err', 'data'} and answer['err'] == 0
    assert sorted(answer['data'], key=lambda b: b['id']) == sorted(
        [{'id': main, 'in_waiting_list': False}, {'id': waiting, 'in_waiting_list': True}], key=lambda b: b['id'])
    assert api.get('/api/agenda/x/bookings/e/?user_external_id=nobody') == (200, {'err': 0, 'data': []})


def test_event_bookings_follows_an_event_moved_after_the_booking(api, agenda):
    create_event(api, 'x', 'e', '2030-03-05 10:00', places=5)
    booking_id = book(api, 'e', user_external_id='u1')
    status, answer = api.patch('/api/agenda/x/event/e/', {'start_datetime': '2030-03-12 10:00'})
    assert (status, answer['err']) == (200, 0)
    assert api.get('/api/agenda/x/bookings/e/?user_external_id=u1') == (200, {
        'err': 0, 'data': [{'id': booking_id, 'in_waiting_list': False}]})


def test_event_bookings_reads_user_ids_with_a_colon(api, agenda):
    create_event(api, 'x', 'e', '2030-03-05 10:00', places=5)
    booking_id = book(api, 'e', user_external_id='user:1')
    expected = (200, {'err': 0, 'data': [{'id': booking_id, 'in_waiting_list': False}]})
    assert api.get('/api/agenda/x/bookings/e/?user_external_id=user:1') == expected
    assert api.get('/api/agenda/x/bookings/e/?user_external_id=user%3A1') == expected
    assert flags(api, 'booked_for_external_user', 'user_external_id=user%3A1') == {'e': True}


def test_event_bookings_counts_a_multi_place_booking_once(api, agenda):
    create_event(api, 'x', 'e', '2030-03-05 10:00', places=5)
    booking_id = book(api, 'e', user_external_id='u1', count='3')
    assert api.get('/api/agenda/x/bookings/e/?user_external_id=u1') == (200, {
        'err': 0, 'data': [{'id': booking_id, 'in_waiting_list': False}]})


@pytest.mark.parametrize('query', ['', '?user_external_id=', '?other=u1'])
def test_event_bookings_requires_user_external_id(api, agenda, query):
    create_event(api, 'x', 'e', '2030-03-05 10:00')
    assert api.get(f'/api/agenda/x/bookings/e/{query}') == (400, {
        'err': 1, 'err_class': 'invalid payload', 'err_desc': 'invalid payload',
        'errors': {'user_external_id': ['This field is required.']}})


def test_event_bookings_of_unknown_event_or_agenda_is_404(api, agenda):
    create_event(api, 'x', 'e', '2030-03-05 10:00')
    assert_not_found(api.get('/api/agenda/x/bookings/nope/?user_external_id=u1'))
    assert_not_found(api.get('/api/agenda/nowhere/bookings/e/?user_external_id=u1'))
