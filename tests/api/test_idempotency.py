"""Idempotent retries (design.md §3.5; docs/api.md, "Answers and errors"): a POST sent again with the same
`X-Idempotency-Key` by the same client within 24 hours gets the first answer again and books
nothing more; 409 while the first runs; 422 for the key with another request.

The proof with parallel repeats is on DynamoDB Local: tests/conformance/test_idempotency_concurrency.py.
"""
from __future__ import annotations

import json
from datetime import datetime, timedelta, timezone
from zoneinfo import ZoneInfo

import pytest

from chalicelib.services import booking
from chalicelib.web import idempotency
from chalicelib.errors import Busy, Unavailable
from chalicelib.store.models import Booking, IdempotentRequest
from chalicelib.signature import sign_query
from chalicelib.store import idempotency_records as records
from tests.conftest import BASIC, basic

PARIS = ZoneInfo('Europe/Paris')
NOW = datetime(2030, 3, 1, 9, 0, tzinfo=PARIS)
FILLSLOT = '/api/agenda/piscine/fillslot/cours/'
BODY = {'user_external_id': 'u1', 'label': 'Cours'}
IN_PROGRESS = {'err': 1, 'err_class': 'request in progress',
               'err_desc': 'a request with this X-Idempotency-Key is still running: retry later'}
REUSED = {'err': 1, 'err_class': 'idempotency key reused',
          'err_desc': 'this X-Idempotency-Key was sent with another request: use a new key'}


@pytest.fixture
def piscine(api, clock):
    clock(NOW)
    assert api.post('/api/agenda/', {'label': 'Piscine', 'slug': 'piscine', 'minimal_booking_delay': 0})[0] == 200
    for slug, places in (('cours', 5), ('stage', 1)):
        assert api.post('/api/agenda/piscine/event/', {'slug': slug, 'start_datetime': '2030-03-05 10:00',
                                                       'places': places})[0] == 200
    return api


def signed():
    return '?' + sign_query('orig=wcs.example.org', '12345', now=NOW.astimezone(timezone.utc))


def post(api, path=FILLSLOT, body=BODY, key='k-1', headers=BASIC, query=''):
    """(status, body text exactly as sent, replayed?)."""
    sent = {**headers, 'Content-Type': 'application/json'}
    if key is not None:
        sent['X-Idempotency-Key'] = key
    response = api.client.http.post(path + query, headers=sent, body=json.dumps(body))
    return response.status_code, response.body.decode(), response.headers.get('Idempotent-Replayed') == 'true'


def booked(api, event='cours'):
    """(the event's reserved places, the booking ids on it, from the table)."""
    reserved = api.get(f'/api/agenda/piscine/status/{event}/')[1]['places']['reserved']
    return reserved, sorted(int(b.booking_id) for b in Booking.scan(consistent_read=True)
                            if b.event == event and b.cancelled_at is None)


def kept_keys():
    return sorted(item.pk for item in IdempotentRequest.scan(consistent_read=True))


def test_a_replay_gets_the_first_answer_and_books_nothing_more(piscine):
    status, first, replayed = post(piscine)
    assert (status, json.loads(first)['err'], replayed) == (200, 0, False)
    booking_id = json.loads(first)['booking_id']
    assert post(piscine) == (200, first, True)
    assert post(piscine, path=FILLSLOT.rstrip('/')) == (200, first, True)  # the same route, either spelling
    assert booked(piscine) == (1, [booking_id])
    assert kept_keys() == ['IDEMPOTENCY#basic:demo#k-1']


def test_the_key_is_kept_24_hours_then_a_repeat_runs_again(piscine, clock):
    first = post(piscine)[1]
    item = IdempotentRequest.get('IDEMPOTENCY#basic:demo#k-1', 'idempotency')
    assert (item.state, item.status, item.answer, item.expires_at) == ('done', 200, first, NOW + timedelta(hours=24))
    clock(NOW + timedelta(hours=23, minutes=59))
    assert post(piscine) == (200, first, True)
    clock(NOW + timedelta(hours=24, seconds=1))  # expired (DynamoDB's TTL deletes lazily)
    status, again, replayed = post(piscine)
    assert (status, replayed) == (200, False)
    assert booked(piscine) == (2, sorted([json.loads(first)['booking_id'], json.loads(again)['booking_id']]))


def test_a_business_refusal_and_a_bad_request_are_replayed_too(piscine):
    assert post(piscine, path='/api/agenda/piscine/fillslot/stage/', key='other')[0] == 200  # the one place
    refusal = json.dumps({'err': 1, 'err_class': 'sold out', 'err_desc': 'sold out'}, separators=(',', ':'))
    assert post(piscine, path='/api/agenda/piscine/fillslot/stage/') == (200, refusal, False)
    cancel = [b for b in Booking.scan() if b.event == 'stage'][0].booking_id
    assert piscine.post(f'/api/booking/{int(cancel)}/cancel/')[1]['err'] == 0  # a place is free again
    assert post(piscine, path='/api/agenda/piscine/fillslot/stage/') == (200, refusal, True)
    assert booked(piscine, 'stage') == (0, [])
    bad = post(piscine, body={'count': 'many'}, key='bad')
    assert (bad[0], json.loads(bad[1])['err_class'], bad[2]) == (400, 'invalid value for count (many)', False)
    assert post(piscine, body={'count': 'many'}, key='bad') == (*bad[:2], True)


def test_keys_of_different_clients_never_collide(piscine):
    demo = post(piscine)[1]
    wcs = post(piscine, headers=basic('wcs', 's3cr3t'))[1]
    publik = post(piscine, headers={}, query=signed())[1]
    ids = [json.loads(text)['booking_id'] for text in (demo, wcs, publik)]
    assert len(set(ids)) == 3
    assert booked(piscine) == (3, sorted(ids))
    assert kept_keys() == ['IDEMPOTENCY#basic:demo#k-1', 'IDEMPOTENCY#basic:wcs#k-1',
                           'IDEMPOTENCY#signature:wcs.example.org#k-1']


def test_a_signed_repeat_is_a_replay_though_its_signature_is_new(piscine):
    """w.c.s. signs every call afresh (timestamp, nonce): those parameters are not the request."""
    first = post(piscine, headers={}, query=signed())
    again = post(piscine, headers={}, query=signed())
    assert (first[0], first[2], again) == (200, False, (200, first[1], True))
    assert booked(piscine) == (1, [json.loads(first[1])['booking_id']])


@pytest.mark.parametrize('path, body', [
    (FILLSLOT, {**BODY, 'label': 'Autre'}),
    ('/api/agenda/piscine/fillslot/stage/', BODY),
    ('/api/agenda/piscine/fillslots/', {**BODY, 'slots': 'cours'}),
])
def test_the_same_key_with_another_request_is_refused(piscine, path, body):
    first = post(piscine)[1]
    assert post(piscine, path=path, body=body) == (422, json.dumps(REUSED, separators=(',', ':')), False)
    assert post(piscine) == (200, first, True)
    assert booked(piscine) == (1, [json.loads(first)['booking_id']])
    assert booked(piscine, 'stage') == (0, [])


def test_key_order_and_form_encoding_are_the_same_request(piscine):
    first = post(piscine)[1]
    reordered = piscine.client.http.post(FILLSLOT, body='label=Cours&user_external_id=u1', headers={
        **BASIC, 'Content-Type': 'application/x-www-form-urlencoded', 'X-Idempotency-Key': 'k-1'})
    assert (reordered.status_code, reordered.body.decode()) == (200, first)


def test_get_and_other_methods_ignore_the_header(piscine):
    headers = {**BASIC, 'X-Idempotency-Key': 'not # valid'}
    for _ in range(2):
        response = piscine.client.http.get('/api/agenda/piscine/status/cours/', headers=headers)
        assert (response.status_code, json.loads(response.body)['err']) == (200, 0)
    booking_id = json.loads(post(piscine, key=None)[1])['booking_id']
    response = piscine.client.http.delete(f'/api/booking/{booking_id}/', headers=headers)
    assert (response.status_code, json.loads(response.body)) == (200, {'err': 0, 'booking_id': booking_id})
    assert kept_keys() == []


@pytest.mark.parametrize('key', ['a#b', 'with space', 'x' * 256, 'é'])
def test_a_malformed_key_is_a_400_and_runs_nothing(piscine, key):
    status, text, _ = post(piscine, key=key)
    assert (status, json.loads(text)) == (400, {
        'err': 1, 'err_class': 'invalid payload', 'err_desc': 'invalid X-Idempotency-Key header',
        'errors': {'X-Idempotency-Key': ['1 to 255 characters among letters, digits and -_.:~+=/@.']}})
    assert booked(piscine) == (0, [])


def test_an_empty_key_is_no_key(piscine):
    assert post(piscine, key='')[0] == post(piscine, key='  ')[0] == 200
    assert booked(piscine)[0] == 2 and kept_keys() == []


def test_a_longest_key_of_every_allowed_character_works(piscine):
    key = ('Az09_.:~+=/@-' * 20)[:255]
    first = post(piscine, key=key)
    assert post(piscine, key=key) == (200, first[1], True)


def claim_as_another_run(body=BODY, at=NOW):
    """The state a run leaves while it runs, or after its Lambda died: claimed, no answer."""
    request = idempotency.fingerprint('fillslot', {'agenda': 'piscine', 'slot': 'cours'}, [], body, None)
    assert records.claim('basic:demo', 'k-1', request, 'another-run', at, idempotency.LEASE, idempotency.KEPT)


def test_a_repeat_while_the_first_runs_gets_409_and_books_nothing(piscine, clock):
    claim_as_another_run()
    clock(NOW + timedelta(seconds=29))
    assert post(piscine) == (409, json.dumps(IN_PROGRESS, separators=(',', ':')), False)
    assert post(piscine, body={'other': 'request'}) == (422, json.dumps(REUSED, separators=(',', ':')), False)
    assert booked(piscine) == (0, [])


def test_a_crashed_run_frees_its_key_when_its_lease_ends(piscine, clock):
    claim_as_another_run()
    clock(NOW + timedelta(seconds=31))  # the Lambda's timeout (28 s) has passed: that run is dead
    assert post(piscine, body={'other': 'request'})[0] == 422  # still that request's key
    status, first, replayed = post(piscine)
    assert (status, replayed) == (200, False)
    assert post(piscine) == (200, first, True)
    assert booked(piscine) == (1, [json.loads(first)['booking_id']])
    assert IdempotentRequest.get('IDEMPOTENCY#basic:demo#k-1', 'idempotency').owner != 'another-run'


@pytest.mark.parametrize('error, status, err_class', [
    (RuntimeError('a bug'), 500, 'internal error'),
    (Busy('busy', 'the booking keeps changing: try again'), 200, 'busy'),
    (Unavailable('temporarily unavailable', 'the service is overloaded: try again'), 503, 'temporarily unavailable'),
])
def test_an_answer_that_says_try_again_is_not_kept(piscine, monkeypatch, error, status, err_class):
    def failing(*args, **kwargs):
        raise error
    with monkeypatch.context() as patched:
        patched.setattr(booking, 'fillslot', failing)
        failed = post(piscine)
    assert (failed[0], json.loads(failed[1])['err_class'], failed[2]) == (status, err_class, False)
    assert kept_keys() == []
    status_, first, replayed = post(piscine)  # the client's retry runs
    assert (status_, json.loads(first)['err'], replayed) == (200, 0, False)
    assert post(piscine) == (200, first, True)
    assert booked(piscine) == (1, [json.loads(first)['booking_id']])


def test_an_answer_not_kept_because_dynamodb_failed_still_answers(piscine, monkeypatch):
    """A refusal writes nothing, so its answer is kept after it (`finish`): when that fails, the answer is
    still sent, and a repeat waits for the lease."""
    assert piscine.post('/api/agenda/piscine/fillslot/stage/', {'user_external_id': 'u0'})[1]['err'] == 0

    def unavailable(*args, **kwargs):
        raise RuntimeError('DynamoDB unreachable')
    monkeypatch.setattr(records, 'finish', unavailable)
    status, first, _ = post(piscine, '/api/agenda/piscine/fillslot/stage/')
    assert (status, json.loads(first)['err_class']) == (200, 'sold out')
    assert post(piscine, '/api/agenda/piscine/fillslot/stage/') == (409, json.dumps(IN_PROGRESS, separators=(',', ':')),
                                                                     False)
    assert booked(piscine, 'stage')[0] == 1


def test_a_bookings_answer_is_kept_in_the_bookings_own_transaction(piscine, monkeypatch):
    """`finish` is not needed for a change made in one transaction: the answer went with it."""
    def unavailable(*args, **kwargs):
        raise RuntimeError('DynamoDB unreachable')
    monkeypatch.setattr(records, 'finish', unavailable)
    status, first, _ = post(piscine)
    assert (status, json.loads(first)['err']) == (200, 0)
    assert post(piscine) == (200, first, True)
    assert booked(piscine) == (1, [json.loads(first)['booking_id']])


@pytest.mark.parametrize('path, body', [
    (FILLSLOT, BODY),
    ('/api/agenda/piscine/fillslots/', {'slots': 'cours,stage', 'user_external_id': 'u1'}),
    ('/api/agenda/piscine/events/fillslots/', {'slots': 'cours,stage', 'user_external_id': 'u1'}),
])
def test_a_crash_right_after_the_booking_then_a_replay_books_nothing_more(piscine, clock, monkeypatch, path, body):
    """The Lambda dies between the booking's transaction and its answer: a replay after the lease finds
    the answer the transaction kept, and books nothing more."""
    from chalicelib.store import booking_writes as store_bookings
    real_commit = store_bookings.commit

    def commit_then_crash(*args, **kwargs):
        real_commit(*args, **kwargs)
        raise RuntimeError('the Lambda died here')
    monkeypatch.setattr(store_bookings, 'commit', commit_then_crash)
    crashed = post(piscine, path, body)
    assert crashed[0] == 500
    monkeypatch.setattr(store_bookings, 'commit', real_commit)
    clock(NOW + idempotency.LEASE + timedelta(seconds=1))
    status, replayed, was_replayed = post(piscine, path, body)
    answer = json.loads(replayed)
    assert (status, answer['err'], was_replayed) == (200, 0, True)
    ids = {answer['booking_id']} if 'booking_id' in answer else {e['booking_id'] for e in answer['booked_events']}
    assert set(booked(piscine)[1] + booked(piscine, 'stage')[1]) == ids
    assert (booked(piscine)[0], booked(piscine, 'stage')[0]) == ((1, 0) if path == FILLSLOT else (1, 1))


def test_a_cancel_answer_is_kept_with_the_cancellation(piscine, monkeypatch):
    _, made, _ = post(piscine, key='book')
    booking_id = json.loads(made)['booking_id']
    from chalicelib.store import leg_changes as store_bookings
    real_commit = store_bookings.commit

    def commit_then_crash(*args, **kwargs):
        real_commit(*args, **kwargs)
        raise RuntimeError('the Lambda died here')
    monkeypatch.setattr(store_bookings, 'commit', commit_then_crash)
    assert post(piscine, f'/api/booking/{booking_id}/cancel/', {}, key='cancel')[0] == 500
    monkeypatch.setattr(store_bookings, 'commit', real_commit)
    assert post(piscine, f'/api/booking/{booking_id}/cancel/', {}, key='cancel') == (
        200, json.dumps({'err': 0, 'booking_id': booking_id}, separators=(',', ':')), True)
    assert booked(piscine) == (0, [])


def test_an_answer_too_large_to_keep_is_not_kept(piscine, monkeypatch):
    """DynamoDB items stop at 400 KB: such an answer is sent, not kept (the repeat runs again)."""
    monkeypatch.setattr(idempotency, 'MAX_KEPT_ANSWER', 100)  # bytes: less than any fillslot answer
    large = post(piscine)
    assert (large[0], json.loads(large[1])['err'], large[2]) == (200, 0, False)
    again = post(piscine)
    assert (again[0], json.loads(again[1])['err'], again[2]) == (200, 0, False)
    assert booked(piscine) == (2, sorted([json.loads(large[1])['booking_id'], json.loads(again[1])['booking_id']]))
    assert kept_keys() == []
