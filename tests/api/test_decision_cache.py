"""The decision cache (store/decision_cache.py, docs/api.md "The decision cache"): a warm process books an
events fillslot in one TransactWriteItems, and answers exactly what a cold one would, whatever another process
changed meanwhile: the agenda's settings, an event's places, start or state.

"Another process" is this one with its cache out of the way (`elsewhere`): its writes reach the table as a
second instance's would, and this process's cache neither sees them nor forgets anything because of them.
"""
from __future__ import annotations

import contextlib
import json
import time
from datetime import datetime
from zoneinfo import ZoneInfo

import pytest
from botocore.client import BaseClient

from chalicelib import config
from chalicelib.store import decision_cache
from tests.dynamodb_calls import DynamoDBCalls

PARIS = ZoneInfo('Europe/Paris')
NOW = datetime(2030, 3, 1, 9, 0, tzinfo=PARIS)
IGNORED = ('booking_id', 'api')  # new at every booking


@pytest.fixture
def calls(monkeypatch):
    calls = DynamoDBCalls()
    monkeypatch.setattr(BaseClient, '_make_api_call', calls.wrap(BaseClient._make_api_call))
    return calls


@pytest.fixture
def elsewhere(monkeypatch):
    """A context in which this process acts as another instance would: its cache unused and untouched."""
    @contextlib.contextmanager
    def other_process():
        with monkeypatch.context() as m:
            m.setattr(decision_cache, 'lookup', lambda *a, **k: None)
            for name in ('seen', 'booked', 'forget', 'clear'):
                m.setattr(decision_cache, name, lambda *a, **k: None)
            yield
    return other_process


def setup(api, slug):
    assert api.post('/api/agenda/', {'label': 'Piscine', 'slug': slug, 'minimal_booking_delay': '0'})[0] == 200
    for event, start, places, waiting in (('cours', '2030-03-05 10:00', 2, 1), ('atelier', '2030-03-20 10:00', 5, 0)):
        status, answer = api.post(f'/api/agenda/{slug}/event/', {
            'slug': event, 'label': event.title(), 'start_datetime': start, 'places': places,
            'waiting_list_places': waiting})
        assert (status, answer['err']) == (200, 0), answer


def scenario(api, slug, calls, elsewhere, clock):
    """Fillslots on a warm process, between changes made elsewhere: (answer without its ids, calls) each."""
    seen = []

    def fillslot(event, **body):
        calls.clear()
        status, answer = api.post(f'/api/agenda/{slug}/fillslot/{event}/', body)
        answer = json.loads(json.dumps({k: v for k, v in answer.items() if k not in IGNORED}).replace(slug, 'AGENDA'))
        seen.append(((status, answer), dict(calls)))
        return status, answer

    def elsewhere_patch(event, body):
        with elsewhere():
            status, answer = api.patch(f'/api/agenda/{slug}/event/{event}/', body)
            assert (status, answer['err']) == (200, 0), answer

    clock(NOW)
    setup(api, slug)
    fillslot('cours')  # cold: read and write
    fillslot('cours')  # warm: the last place
    fillslot('cours')  # the waiting list
    fillslot('cours')  # sold out: refused from the cache, then read
    fillslot('atelier', user_external_id='u1', exclude_user='true')
    fillslot('atelier', user_external_id='u1', exclude_user='true')  # already booked: the user's count refuses
    elsewhere_patch('cours', {'waiting_list_places': 2})  # a longer waiting list: the refusal's read finds it
    fillslot('cours')
    elsewhere_patch('atelier', {'start_datetime': '2030-03-21 11:00'})  # moved: the start condition fails
    fillslot('atelier')
    elsewhere_patch('atelier', {'duration': 90})  # the answer's end: the configuration's condition fails
    fillslot('atelier')
    elsewhere_patch('atelier', {'places': 3})  # fewer places (three taken): the capacity condition fails
    fillslot('atelier')
    elsewhere_patch('atelier', {'places': 6})  # more: refused from the cache, booked after the read
    fillslot('atelier')
    with elsewhere():  # the agenda's settings: atelier, 20 days ahead, is out of a 10-day window
        status, document = api.get('/api/export/')
        agenda = next(a for a in document['agendas'] if a['slug'] == slug)
        agenda['maximal_booking_delay'] = 10
        assert api.post('/api/import/', {'agendas': [agenda]})[1]['err'] == 0
    fillslot('atelier')
    fillslot('cours')  # in the window, and sold out
    with elsewhere():  # the agent cancels the event
        assert api.post(f'/api/agenda/{slug}/event/cours/cancel/')[1]['err'] == 0
    fillslot('cours')
    fillslot('nope')  # unknown: never cached
    clock(datetime(2030, 3, 22, 9, 0, tzinfo=PARIS))  # atelier is past
    fillslot('atelier')
    return seen


def test_a_warm_process_answers_what_a_cold_one_does_after_changes_elsewhere(api, calls, elsewhere, clock,
                                                                             monkeypatch):
    warm = scenario(api, 'warm', calls, elsewhere, clock)
    monkeypatch.setenv('CHRONO_DECISION_CACHE_SECONDS', '0')
    config.reset()
    cold = scenario(api, 'cold', calls, elsewhere, clock)
    for (warm_answer, _), (cold_answer, _) in zip(warm, cold, strict=True):
        assert warm_answer == cold_answer
    answers = [answer for answer, _ in warm]
    assert [(status, a['err'], a.get('err_desc') or a.get('in_waiting_list')) for status, a in answers] == [
        (200, 0, False),
        (200, 0, False),
        (200, 0, True),
        (200, 1, 'sold out'),
        (200, 0, False),
        (200, 1, 'event atelier is already booked by user'),
        (200, 0, True),
        (200, 0, False),
        (200, 0, False),
        (200, 1, 'sold out'),
        (200, 0, False),
        (200, 1, 'event atelier is not bookable'),
        (200, 1, 'sold out'),
        (200, 1, 'event cours is cancelled'),
        (404, 1, 'event nope does not exist in agenda AGENDA'),
        (200, 1, 'event atelier is not bookable'),
    ]
    assert (answers[7][1]['datetime'], answers[7][1]['end_datetime']) == ('2030-03-21 11:00:00', None)
    assert answers[8][1]['end_datetime'] == '2030-03-21 12:30:00'
    assert answers[10][1]['places'] == {'total': 6, 'reserved': 4, 'available': 2, 'full': False,
                                        'has_waiting_list': False}
    # A cold process: the read, and the write when it books.
    assert [c for _, c in cold] == [
        {'BatchGetItem': 1, **({'TransactWriteItems': 1} if a['err'] == 0 else {})} for (_, a), _ in cold]
    assert [c for _, c in warm] == WARM_CALLS


read, write, both = {'BatchGetItem': 1}, {'TransactWriteItems': 1}, {'BatchGetItem': 1, 'TransactWriteItems': 1}
stale = {'BatchGetItem': 1, 'TransactWriteItems': 2}  # the cached decision's write refused, read, written
WARM_CALLS = [
    both,  # cold: read, written
    write,  # warm: one call
    write,  # the waiting list
    read,  # sold out, from the cache: read, refused as a cold process refuses
    both,  # atelier, cold
    both,  # the user's count refused the write: read, refused
    both,  # refused from the cache, read: a longer waiting list, written
    stale,  # the start changed
    stale,  # the duration changed
    both,  # the places changed: refused by the write, read, refused
    both,  # refused from the cache (full), read: 6 places, written
    both,  # the agenda's version changed: refused by the write, read, refused
    read,  # cours: sold out, from the cache (the agenda read again with atelier)
    read,  # cancelled: sold out from the cache, read, cancelled
    read,  # unknown: never cached
    read,  # past: refused from the cache, read, refused
]

def test_warm_fillslots_cost_one_call_until_the_entries_are_too_old(api, calls, clock, monkeypatch):
    monkeypatch.setenv('CHRONO_DECISION_CACHE_SECONDS', '0.5')
    config.reset()
    clock(NOW)
    setup(api, 'piscine')
    monkeypatch.setattr(decision_cache, 'MAX_EVENTS', 20_000)
    costs = []
    for _ in range(3):
        calls.clear()
        assert api.post('/api/agenda/piscine/fillslot/atelier/', {})[1]['err'] == 0
        costs.append(dict(calls))
    time.sleep(0.6)
    calls.clear()
    status, answer = api.post('/api/agenda/piscine/fillslot/atelier/', {})
    costs.append(dict(calls))
    assert costs == [{'BatchGetItem': 1, 'TransactWriteItems': 1}] + [{'TransactWriteItems': 1}] * 2 + [
        {'BatchGetItem': 1, 'TransactWriteItems': 1}]
    assert answer['places']['reserved'] == 4


def test_a_group_is_warm_too_and_never_overbooks(api, calls, clock):
    clock(NOW)
    setup(api, 'piscine')
    body = {'slots': 'cours,atelier', 'count': '2'}
    assert api.post('/api/agenda/piscine/fillslots/', body)[1]['err'] == 0
    calls.clear()
    status, answer = api.post('/api/agenda/piscine/fillslots/', {'slots': 'cours,atelier'})
    assert (answer['err'], dict(calls)) == (0, {'TransactWriteItems': 1})
    assert [e['in_waiting_list'] for e in answer['events']] == [True, False]
    status, answer = api.post('/api/agenda/piscine/fillslots/', {'slots': 'atelier,cours'})
    assert (answer['err'], answer['err_desc']) == (1, 'sold out')
    assert api.get('/api/agenda/piscine/status/cours/')[1]['places']['reserved'] == 2
    assert api.get('/api/agenda/piscine/status/atelier/')[1]['places']['reserved'] == 3


def test_what_is_cached_goes_with_the_table(api, calls, clock, monkeypatch):
    """Another table (tests, the local runner) never meets this one's entries."""
    clock(NOW)
    setup(api, 'piscine')
    api.post('/api/agenda/piscine/fillslot/cours/', {})
    assert decision_cache.lookup('piscine', ['cours']) is not None
    monkeypatch.setenv('CHRONO_TABLE', 'another')
    config.reset()
    assert decision_cache.lookup('piscine', ['cours']) is None


def test_holds_are_decided_from_the_cache_and_checked_by_the_write(api, calls, clock, elsewhere):
    """The event's map of holds as cached: a live hold counts, an expired one is given back by the warm
    decision (its entry conditioned as cached), a hold taken elsewhere since makes the write fail: read again."""
    clock(NOW)
    setup(api, 'piscine')
    assert api.post('/api/agenda/piscine/fillslot/atelier/', {'lock_code': 'L1', 'count': 2})[1]['err'] == 0
    costs, places = [], []
    for moment, other_hold in ((NOW, None), (NOW, None), (datetime(2030, 3, 1, 9, 30, tzinfo=PARIS), None),
                               (datetime(2030, 3, 1, 9, 31, tzinfo=PARIS), 'L2')):
        clock(moment)
        if other_hold:
            with elsewhere():
                assert api.post('/api/agenda/piscine/fillslot/atelier/', {'lock_code': other_hold})[1]['err'] == 0
        calls.clear()
        status, answer = api.post('/api/agenda/piscine/fillslot/atelier/', {})
        assert answer['err'] == 0, answer
        costs.append(dict(calls))
        places.append(answer['places']['reserved'])
    assert costs == [{'BatchGetItem': 1, 'TransactWriteItems': 1}, {'TransactWriteItems': 1},
                     {'TransactWriteItems': 1}, {'BatchGetItem': 1, 'TransactWriteItems': 2}]
    # 2 held + 1, + 1; the hold expired (600 s): given back, + 1; L2 holds 1 since: + 1 + 1.
    assert places == [3, 4, 3, 5]
    status, answer = api.get('/api/agenda/piscine/status/atelier/')
    assert answer['places']['reserved'] == 5


@pytest.mark.parametrize('raw, seconds', [('', 5.0), ('0', 0.0), ('2.5', 2.5), (' 60 ', 60.0)])
def test_the_setting(monkeypatch, raw, seconds):
    monkeypatch.setenv('CHRONO_DECISION_CACHE_SECONDS', raw)
    config.reset()
    assert config.settings().decision_cache_seconds == seconds


@pytest.mark.parametrize('raw', ['-1', '61', 'five', 'nan'])
def test_a_bad_setting_stops_the_service(monkeypatch, raw):
    monkeypatch.setenv('CHRONO_DECISION_CACHE_SECONDS', raw)
    config.reset()
    with pytest.raises(config.ConfigurationError, match='CHRONO_DECISION_CACHE_SECONDS'):
        config.settings()
    config.reset()
