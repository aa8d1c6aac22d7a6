"""Many events at once (the seed document; spec chrono-api.md §5.7, §6.3-6.5): events fillslots on one
agenda and on several, the multi-agenda datetimes, recurring events and their fillslots.

Frozen time: 2030-03-01 09:00 in Paris (a Friday); the default window runs 2030-03-02 to 2030-04-26.
"""
from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

import pytest
from botocore.client import BaseClient

from tests.api.conftest import set_counters
from tests.api.test_dynamodb_calls import count_calls
from tests.api.test_fillslot import booked, counters, new_agenda, new_event

PARIS = ZoneInfo('Europe/Paris')
NOW = datetime(2030, 3, 1, 9, 0, tzinfo=PARIS)
USER = {'user_external_id': 'family:7', 'user_first_name': 'Ada'}


@pytest.fixture
def agenda(api, clock):
    clock(NOW)
    new_agenda(api)
    for day, slug in ((4, 'mon'), (5, 'tue'), (6, 'wed')):
        new_event(api, slug, start=f'2030-03-{day:02d} 17:00', places_=2, duration='60')
    return 'foo-bar'


def events_fillslots(api, slots, agenda='foo-bar', **body):
    status, answer = api.post(f'/api/agenda/{agenda}/events/fillslots/', {**USER, 'slots': slots, **body})
    assert status == 200, answer
    return answer


def slugs(items):
    return [item['slug'] for item in items]


def conflicts_after_the_first_transaction(monkeypatch):
    """Every transaction after the first meets contention (TransactionConflict) until the returned
    function is called."""
    calls = count_calls(monkeypatch)
    counting = BaseClient._make_api_call

    def later_transactions_conflict(self, operation, params):
        if operation == 'TransactWriteItems' and calls['TransactWriteItems'] >= 1:
            calls.inject(1)
        return counting(self, operation, params)
    monkeypatch.setattr(BaseClient, '_make_api_call', later_transactions_conflict)
    return lambda: monkeypatch.setattr(BaseClient, '_make_api_call', counting)


def user_bookings(api, user='family:7'):
    status, answer = api.get(f'/api/bookings/?user_external_id={user}')
    assert status == 200, answer
    return sorted(item['event']['slug'] if isinstance(item.get('event'), dict) else item['event']
                  for item in answer['data'])


# ---- events fillslots on one agenda (seed; spec §6.3) -------------------------------------------

def test_books_the_listed_events_and_answers_the_seed_keys(api, agenda):
    answer = events_fillslots(api, 'mon,tue')
    assert set(answer) == {'err', 'booking_count', 'booked_events', 'waiting_list_events', 'cancelled_booking_count',
                           'cancelled_events', 'full_events'}
    assert (answer['err'], answer['booking_count'], answer['cancelled_booking_count']) == (0, 2, 0)
    assert slugs(answer['booked_events']) == ['mon', 'tue']
    first = answer['booked_events'][0]
    assert {k: first[k] for k in ('id', 'slug', 'text', 'datetime', 'end_datetime', 'agenda_slug', 'in_waiting_list')} \
        == {'id': 'mon', 'slug': 'mon', 'text': '2030-03-04 17:00:00', 'datetime': '2030-03-04 17:00:00',
            'end_datetime': '2030-03-04 18:00:00', 'agenda_slug': 'foo-bar', 'in_waiting_list': False}
    assert (answer['waiting_list_events'], answer['full_events'], answer['cancelled_events']) == ([], [], [])
    assert [counters(api, e)['reserved'] for e in ('mon', 'tue', 'wed')] == [1, 1, 0]
    status, detail = api.get(f'/api/booking/{first["booking_id"]}/')
    assert (detail['data']['event'], detail['data']['user_first_name']) == ('mon', 'Ada')


def test_a_list_and_a_comma_joined_string_give_the_same_result(api, agenda):
    as_string = events_fillslots(api, 'mon, tue', user_external_id='a')
    as_list = events_fillslots(api, ['mon', 'tue'], user_external_id='b')
    strip = [{k: v for k, v in item.items() if k != 'booking_id'} for item in as_string['booked_events']]
    assert strip == [{k: v for k, v in item.items() if k != 'booking_id'} for item in as_list['booked_events']]
    assert as_string['booking_count'] == as_list['booking_count'] == 2


def test_a_second_call_sets_the_bookings_to_exactly_the_new_list(api, agenda):
    events_fillslots(api, 'mon,tue')
    answer = events_fillslots(api, ['tue', 'wed'])
    assert (answer['booking_count'], slugs(answer['booked_events'])) == (1, ['wed'])
    assert (answer['cancelled_booking_count'], slugs(answer['cancelled_events'])) == (1, ['mon'])
    assert [counters(api, e)['reserved'] for e in ('mon', 'tue', 'wed')] == [0, 1, 1]
    assert user_bookings(api) == ['tue', 'wed']
    again = events_fillslots(api, ['tue', 'wed'])
    assert (again['booking_count'], again['cancelled_booking_count']) == (0, 0)


def test_an_empty_list_cancels_the_users_bookings_and_nobody_elses(api, agenda):
    events_fillslots(api, 'mon,tue')
    other = booked(api, 'mon', {'user_external_id': 'other'})
    answer = events_fillslots(api, '')
    assert (answer['booking_count'], answer['cancelled_booking_count']) == (0, 2)
    assert [counters(api, e)['reserved'] for e in ('mon', 'tue')] == [1, 0]
    assert api.get(f'/api/booking/{other["booking_id"]}/')[1]['err'] == 0


def test_date_start_and_date_end_limit_the_cancellations(api, agenda):
    events_fillslots(api, 'mon,tue,wed')
    answer = events_fillslots(api, '', date_start='2030-03-05', date_end='2030-03-06')
    assert slugs(answer['cancelled_events']) == ['tue']
    assert user_bookings(api) == ['mon', 'wed']


def test_a_full_event_is_skipped_and_listed_and_the_rest_is_booked(api, agenda):
    set_counters('foo-bar', 'tue', reserved=2)
    answer = events_fillslots(api, 'mon,tue')
    assert (answer['err'], answer['booking_count'], slugs(answer['booked_events'])) == (0, 1, ['mon'])
    assert slugs(answer['full_events']) == ['tue']
    assert counters(api, 'tue')['reserved'] == 2


def test_an_event_with_a_waiting_list_takes_the_user_there_and_says_so(api, agenda):
    new_event(api, 'thu', start='2030-03-07 17:00', places_=1, waiting_list_places='3')
    set_counters('foo-bar', 'thu', reserved=1)
    answer = events_fillslots(api, 'thu')
    assert slugs(answer['waiting_list_events']) == ['thu']
    assert answer['booked_events'][0]['in_waiting_list'] is True
    assert counters(api, 'thu')['waiting_list_reserved'] == 1


def test_unknown_slugs_are_a_400_and_nothing_changes(api, agenda):
    events_fillslots(api, 'mon')
    status, answer = api.post('/api/agenda/foo-bar/events/fillslots/', {**USER, 'slots': 'tue,nope,x:y'})
    assert (status, answer) == (400, {'err': 1, 'err_class': 'invalid slugs: x:y, nope',
                                      'err_desc': 'invalid slugs: x:y, nope'})
    assert user_bookings(api) == ['mon']


def test_user_external_id_is_required_and_other_bad_input_is_a_400(api, agenda):
    status, answer = api.post('/api/agenda/foo-bar/events/fillslots/', {'slots': 'mon'})
    assert (status, answer['errors']) == (400, {'user_external_id': ['This field is required.']})
    status, answer = api.post('/api/agenda/foo-bar/events/fillslots/', {**USER, 'slots': 'mon', 'date_end': 'x'})
    assert (status, list(answer['errors'])) == (400, ['date_end'])
    assert api.post('/api/agenda/nope/events/fillslots/', {**USER, 'slots': 'mon'})[0] == 404
    assert counters(api, 'mon')['reserved'] == 0


@pytest.mark.parametrize('path, slots', [('/api/agenda/foo-bar/events/fillslots/', 'mon'),
                                         ('/api/agendas/events/fillslots/?agendas=foo-bar', 'foo-bar@mon')])
def test_a_blank_user_external_id_is_missing_and_books_nothing(api, agenda, path, slots):
    # Blank as Payload reads it: the call sets a user's bookings, so it needs one (it booked without one).
    status, answer = api.post(path, {'user_external_id': '  ', 'slots': slots})
    assert (status, answer['errors']) == (400, {'user_external_id': ['This field is required.']})
    assert counters(api, 'mon')['reserved'] == 0


def test_an_event_that_cannot_be_booked_refuses_the_whole_call(api, agenda):
    new_event(api, 'late', start='2030-06-01 17:00')
    answer = events_fillslots(api, 'mon,late')
    assert answer == {'err': 1, 'err_class': 'event not bookable', 'err_desc': 'event late is not bookable'}
    assert counters(api, 'mon')['reserved'] == 0


def test_control_keys_are_not_stored_as_extra_data(api, agenda):
    answer = events_fillslots(api, 'mon', date_start='2030-03-02', check_overlaps='false', color='blue')
    status, detail = api.get(f'/api/booking/{answer["booked_events"][0]["booking_id"]}/')
    assert detail['data']['extra_data'] == {'color': 'blue'}


# ---- several agendas (seed; spec §6.4, §5.7) -----------------------------------------------------

@pytest.fixture
def two(api, agenda):
    new_agenda(api, slug='dance', label='Dance')
    new_event(api, 'mon', start='2030-03-04 17:30', places_=1, agenda='dance', duration='60')
    new_event(api, 'fri', start='2030-03-08 17:30', places_=1, agenda='dance')
    return 'foo-bar,dance'


def agendas_fillslots(api, slots, agendas='foo-bar,dance', **body):
    status, answer = api.post(f'/api/agendas/events/fillslots/?agendas={agendas}', {**USER, 'slots': slots, **body})
    assert status == 200, answer
    return answer


def test_agendas_fillslots_books_across_agendas_and_cancels_only_in_the_listed_ones(api, two):
    answer = agendas_fillslots(api, 'foo-bar@mon,dance@fri')
    assert [i['id'] for i in answer['booked_events']] == ['foo-bar@mon', 'dance@fri']
    answer = agendas_fillslots(api, 'foo-bar@tue', agendas='foo-bar')  # dance not listed: its booking stays
    assert ([i['id'] for i in answer['booked_events']], [i['id'] for i in answer['cancelled_events']]) == (
        ['foo-bar@tue'], ['foo-bar@mon'])
    assert counters(api, 'fri', agenda='dance')['reserved'] == 1


def test_agendas_fillslots_refuses_slots_of_unlisted_or_unknown_agendas(api, two):
    status, answer = api.post('/api/agendas/events/fillslots/?agendas=foo-bar', {**USER, 'slots': 'dance@fri,mon'})
    assert (status, answer['err_desc']) == (400, 'invalid slugs: dance@fri, mon')
    status, answer = api.post('/api/agendas/events/fillslots/?agendas=foo-bar,nope', {**USER, 'slots': ''})
    assert (status, answer['errors']) == (400, {'agendas': ['Unknown events agendas: nope.']})
    status, answer = api.post('/api/agendas/events/fillslots/', {**USER, 'slots': ''})
    assert (status, list(answer['errors'])) == (400, ['agendas'])


def test_check_overlaps_refuses_requested_events_at_the_same_time(api, two):
    status, answer = api.post('/api/agendas/events/fillslots/?agendas=foo-bar,dance',
                              {**USER, 'slots': 'foo-bar@mon,dance@mon,dance@fri', 'check_overlaps': 'true'})
    assert (status, answer['err_desc']) == (400, 'Some events occur at the same time: dance@mon, foo-bar@mon')
    assert agendas_fillslots(api, 'foo-bar@mon,dance@mon')['booking_count'] == 2  # without the check


def test_agendas_datetimes_lists_both_agendas_by_time_with_ids_and_overlaps(api, two):
    status, answer = api.get('/api/agendas/datetimes/?agendas=foo-bar,dance&check_overlaps=true')
    assert status == 200
    assert [(i['id'], i['agenda_slug'], i['overlaps']) for i in answer['data']] == [
        ('foo-bar@mon', 'foo-bar', ['dance@mon']), ('dance@mon', 'dance', ['foo-bar@mon']),
        ('foo-bar@tue', 'foo-bar', []), ('foo-bar@wed', 'foo-bar', []), ('dance@fri', 'dance', [])]
    assert answer['data'][1]['api']['fillslot_url'] == 'http://localhost/api/agenda/dance/fillslot/mon/'
    assert answer['meta']['bookable_datetimes_number_total'] == 5
    status, answer = api.get('/api/agendas/datetimes/?agendas=dance&subscribed=all')
    assert (status, list(answer['errors'])) == (400, ['subscribed'])


# ---- recurring events (seed; spec §6.5) -------------------------------------------------------------

@pytest.fixture
def pool(api, clock):
    clock(NOW)
    new_agenda(api, slug='pool', label='Pool', maximal_booking_delay='400')
    for slug, days, places in (('swim', '1,3', '2'), ('dive', '5', '1')):
        status, answer = api.post('/api/agenda/pool/event/', {
            'slug': slug, 'label': slug.title(), 'start_datetime': '2030-03-04 17:00', 'places': places,
            'recurrence_days': days, 'recurrence_end_date': '2031-01-01'})
        assert (status, answer['err']) == (200, 0), answer
    return 'pool'


def recurring(api, action, slots, query='', user='family:7'):
    status, answer = api.post(f'/api/agendas/recurring-events/fillslots/?agendas=pool&action={action}{query}',
                              {'user_external_id': user, 'slots': slots})
    assert status == 200, answer
    return answer


def test_recurring_events_lists_one_item_per_weekday(api, pool):
    status, answer = api.get('/api/agendas/recurring-events/?agendas=pool')
    assert [(i['id'], i['text'], i['label'], i['day']) for i in answer['data']] == [
        ('pool@dive:5', 'Samedi', 'Dive', 'Samedi'), ('pool@swim:1', 'Mardi', 'Swim', 'Mardi'),
        ('pool@swim:3', 'Jeudi', 'Swim', 'Jeudi')]
    status, answer = api.get('/api/agendas/recurring-events/?agendas=pool&sort=day')
    assert [i['id'] for i in answer['data']] == ['pool@swim:1', 'pool@swim:3', 'pool@dive:5']


def test_book_books_every_occurrence_of_the_weekday_in_the_range(api, pool):
    answer = recurring(api, 'book', 'pool@swim:1', '&date_start=2030-03-01&date_end=2030-04-01')
    assert (answer['err'], answer['booking_count'], answer['cancelled_booking_count']) == (0, 4, 0)
    assert [i['id'] for i in answer['booked_events']] == [
        'pool@swim--2030-03-05-1700', 'pool@swim--2030-03-12-1700', 'pool@swim--2030-03-19-1700',
        'pool@swim--2030-03-26-1700']
    assert counters(api, 'swim--2030-03-07-1700', agenda='pool')['reserved'] == 0
    assert recurring(api, 'book', 'pool@swim:1', '&date_start=2030-03-01&date_end=2030-04-01')['booking_count'] == 0


def test_update_cancels_exactly_the_other_weekday_and_books_the_new_one(api, pool):
    recurring(api, 'book', ['pool@swim:1', 'pool@dive:5'], '&date_end=2030-04-01')
    other = recurring(api, 'book', 'pool@swim:1', '&date_end=2030-04-01', user='other')
    assert other['booking_count'] == 4
    answer = recurring(api, 'update', ['pool@swim:3'], '&date_start=2030-03-10&date_end=2030-04-01')
    assert [i['id'] for i in answer['cancelled_events']] == [
        'pool@swim--2030-03-12-1700', 'pool@dive--2030-03-16-1700', 'pool@swim--2030-03-19-1700',
        'pool@dive--2030-03-23-1700', 'pool@swim--2030-03-26-1700', 'pool@dive--2030-03-30-1700']
    assert (answer['booking_count'], answer['cancelled_booking_count']) == (3, 6)
    assert [i['id'] for i in answer['booked_events']] == [
        'pool@swim--2030-03-14-1700', 'pool@swim--2030-03-21-1700', 'pool@swim--2030-03-28-1700']
    assert user_bookings(api) == ['dive--2030-03-09-1700', 'swim--2030-03-05-1700', 'swim--2030-03-14-1700',
                                  'swim--2030-03-21-1700', 'swim--2030-03-28-1700']
    assert user_bookings(api, 'other') == ['swim--2030-03-05-1700', 'swim--2030-03-12-1700', 'swim--2030-03-19-1700',
                                           'swim--2030-03-26-1700']


def test_unbook_cancels_only_the_listed_weekday(api, pool):
    recurring(api, 'book', ['pool@swim:1', 'pool@swim:3'], '&date_end=2030-03-15')
    answer = recurring(api, 'unbook', 'pool@swim:3', '&date_end=2030-04-01')
    assert (answer['booking_count'], answer['cancelled_booking_count']) == (0, 2)
    assert user_bookings(api) == ['swim--2030-03-05-1700', 'swim--2030-03-12-1700']


def test_full_occurrences_are_skipped_and_listed(api, pool):
    set_counters('pool', 'dive--2030-03-16-1700', reserved=1)
    answer = recurring(api, 'book', 'pool@dive:5', '&date_end=2030-03-31')
    assert (answer['booking_count'], [i['id'] for i in answer['full_events']]) == (3, ['pool@dive--2030-03-16-1700'])


def test_a_missing_or_unknown_action_and_unknown_slots_are_400s(api, pool):
    for query in ('agendas=pool', 'agendas=pool&action=delete'):
        status, answer = api.post(f'/api/agendas/recurring-events/fillslots/?{query}', {**USER, 'slots': ''})
        assert (status, list(answer['errors'])) == (400, ['action'])
    status, answer = api.post('/api/agendas/recurring-events/fillslots/?agendas=pool&action=book',
                              {**USER, 'slots': 'pool@swim:2,pool@nope:1,other@swim:1,junk'})
    assert (status, answer['err_desc']) == (400, 'invalid slugs: other@swim:1, junk, pool@nope:1, pool@swim:2')


def test_forty_occurrences_cost_calls_by_batch_not_by_occurrence(api, pool, monkeypatch):
    """A term of 40 weekly occurrences: the transactions grow with occurrences / 33, not one per occurrence."""
    calls = count_calls(monkeypatch)
    answer = recurring(api, 'book', 'pool@swim:1', '&date_start=2030-03-01&date_end=2030-12-04')
    assert answer['booking_count'] == 40
    assert calls['TransactWriteItems'] == 2
    assert sum(calls.values()) <= 7, calls
    calls.clear()
    answer = recurring(api, 'update', 'pool@swim:3', '&date_start=2030-03-01&date_end=2030-12-06')
    assert (answer['booking_count'], answer['cancelled_booking_count']) == (40, 40)
    assert calls['TransactWriteItems'] == 3  # 80 events, 33 a transaction


def test_a_stop_part_way_answers_what_was_done_and_the_same_call_completes_it(api, pool, monkeypatch):
    """The second transaction keeps meeting contention: the first one's 33 bookings stand, and
    the refusal says so; the same call again books the 7 left and nothing twice."""
    stop_conflicts = conflicts_after_the_first_transaction(monkeypatch)
    status, answer = api.post('/api/agendas/recurring-events/fillslots/?agendas=pool&action=book'
                              '&date_start=2030-03-01&date_end=2030-12-04', {**USER, 'slots': 'pool@swim:1'})
    assert (status, answer['err'], answer['err_class']) == (200, 1, 'busy')
    assert (answer['booking_count'], len(answer['booked_events']), answer['cancelled_booking_count']) == (33, 33, 0)
    assert len(user_bookings(api)) == 33
    stop_conflicts()
    again = recurring(api, 'book', 'pool@swim:1', '&date_start=2030-03-01&date_end=2030-12-04')
    assert (again['err'], again['booking_count']) == (0, 7)
    assert len(user_bookings(api)) == 40


def test_the_ids_of_one_transaction_are_distinct_even_when_their_random_bits_collide(monkeypatch):
    """33 ids drawn in one millisecond share 12 random bits once in eight calls: drawn again."""
    from chalicelib.store import booking_writes as bookings
    bits = iter([5, 5, 7, 5, 9])
    monkeypatch.setattr(bookings.clock, 'time', lambda: 1_900_000_000.0)
    monkeypatch.setattr(bookings.random, 'getrandbits', lambda n: next(bits))
    base = (1_900_000_000_000 - bookings.ID_EPOCH_MS) << bookings.ID_RANDOM_BITS
    assert bookings._distinct_ids(3) == [base | 5, base | 7, base | 9]


def test_an_empty_agendas_list_is_a_400(api, pool):
    for path in ('/api/agendas/recurring-events/fillslots/?agendas=,&action=book', '/api/agendas/events/fillslots/'
                 '?agendas=,', '/api/agendas/datetimes/?agendas=,'):
        status, answer = api.call('GET' if 'datetimes' in path else 'POST', path, {**USER, 'slots': ''})
        assert (status, answer['errors']) == (400, {'agendas': ['This field is required.']}), path


def test_events_the_user_index_missed_cost_one_transaction_not_one_each(api, pool, monkeypatch):
    """When the user index lags, the user-count conditions refuse every event already held at once."""
    from chalicelib import store
    recurring(api, 'book', 'pool@swim:1', '&date_start=2030-03-01&date_end=2030-12-04')
    monkeypatch.setattr(store, 'user_legs', lambda *args, **kw: [])
    calls = count_calls(monkeypatch)
    answer = recurring(api, 'book', 'pool@swim:1', '&date_start=2030-03-01&date_end=2030-12-04')
    assert (answer['err'], answer['booking_count']) == (0, 0)
    assert calls['TransactWriteItems'] == 2  # one refused transaction per batch of 33, then nothing left to write
    monkeypatch.undo()
    assert len(user_bookings(api)) == 40


def test_a_stop_part_way_is_not_kept_for_an_idempotent_replay(api, pool, monkeypatch):
    """`busy` part-way is a "try again": the same key runs again and completes the term."""
    stop_conflicts = conflicts_after_the_first_transaction(monkeypatch)
    path = '/api/agendas/recurring-events/fillslots/?agendas=pool&action=book&date_start=2030-03-01&date_end=2030-12-04'
    key = {'X-Idempotency-Key': 'term-2030'}
    status, answer = api.post(path, {**USER, 'slots': 'pool@swim:1'}, headers=key)
    assert (status, answer['err_class'], answer['booking_count']) == (200, 'busy', 33)
    stop_conflicts()
    status, answer = api.post(path, {**USER, 'slots': 'pool@swim:1'}, headers=key)
    assert (status, answer['err'], answer['booking_count']) == (200, 0, 7)
    assert len(user_bookings(api)) == 40


def test_an_unknown_occurrence_is_named_as_sent_and_a_call_too_big_for_a_lambda_is_a_400(api, pool, monkeypatch):
    status, answer = api.post('/api/agenda/pool/events/fillslots/', {**USER, 'slots': 'swim:2030-03-06-1700'})
    assert (status, answer['err_desc']) == (400, 'invalid slugs: swim:2030-03-06-1700')
    from chalicelib.services import bulk_booking as multi_booking
    monkeypatch.setattr(multi_booking, 'MAX_CHANGES', 3)
    status, answer = api.post('/api/agendas/recurring-events/fillslots/?agendas=pool&action=book&date_end=2030-03-31',
                              {**USER, 'slots': 'pool@swim:1'})
    assert (status, answer['err_class'], answer['err_desc']) == (400, 'too many events', (
        'this call would book or cancel 4 + 0 events, more than 3: narrow date_start and date_end'))
    assert user_bookings(api) == []


def test_an_event_held_already_that_left_the_window_is_kept_and_does_not_refuse_the_call(api, agenda, clock):
    events_fillslots(api, 'mon,tue')
    clock(datetime(2030, 3, 4, 9, 0, tzinfo=PARIS))  # mon (today 17:00) is inside the minimal delay now
    answer = events_fillslots(api, 'mon,wed')
    assert (answer['err'], slugs(answer['booked_events']), slugs(answer['cancelled_events'])) == (0, ['wed'], ['tue'])
    assert user_bookings(api) == ['mon', 'wed']


def test_the_overlap_rule_of_both_checks():
    """[start, end) intersect; an event without duration covers its start (spec §9.11)."""
    from chalicelib.domain.event_rules import clashes as _clashes
    spans = [('a', 10, 12), ('b', 11, None), ('c', 12, None), ('d', 12, 13), ('e', 14, None), ('f', 14, None)]
    assert sorted(_clashes(spans)) == [('a', 'b'), ('c', 'd'), ('e', 'f')]
