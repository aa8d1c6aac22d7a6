"""Idempotent retries on the real engine (design.md §3.5): the key's claim is a condition that
DynamoDB Local evaluates as DynamoDB does, and parallel repeats of one request book once.

Over HTTP through the local server (chalice.test.Client is not thread-safe).
"""
from __future__ import annotations

from collections import Counter
from datetime import datetime, timedelta, timezone

from chalicelib.web.idempotency import KEPT, LEASE
from chalicelib.store.models import Booking
from chalicelib.store import idempotency_records as records
from tests.conformance.test_booking_concurrency import live_bookings, parallel, places, setup_events

THREADS = 16
IN_PROGRESS = {'err': 1, 'err_class': 'request in progress',
               'err_desc': 'a request with this X-Idempotency-Key is still running: retry later'}
NOW = datetime(2030, 3, 1, 8, 0, tzinfo=timezone.utc)


def test_parallel_repeats_of_one_fillslot_book_once(http_api):
    setup_events(http_api, cours=(50, 0))
    body = {'user_external_id': 'u1', 'label': 'Cours'}
    headers = {'X-Idempotency-Key': 'form-42-fillslot'}
    results = parallel([lambda session: http_api.post('/api/agenda/piscine/fillslot/cours/', body, session=session,
                                                      headers=headers)] * THREADS, threads=THREADS)
    answers = [answer for status, answer in results if status == 200]
    assert Counter(status for status, _ in results).keys() <= {200, 409}
    assert [answer for status, answer in results if status == 409] == [IN_PROGRESS] * (THREADS - len(answers))
    assert answers and all(answer == answers[0] for answer in answers)  # the one booking, replayed
    assert answers[0]['err'] == 0
    assert places(http_api, 'piscine', 'cours')['reserved'] == 1
    assert live_bookings('piscine', 'cours') == (1, 0)
    assert [int(b.booking_id) for b in Booking.scan(consistent_read=True)] == [answers[0]['booking_id']]
    # Once done, every repeat is the replay.
    assert http_api.post('/api/agenda/piscine/fillslot/cours/', body, headers=headers) == (200, answers[0])


def claim(owner: str, fingerprint: str, at: datetime) -> bool:
    return records.claim('basic:demo', 'k', fingerprint, owner, at, LEASE, KEPT)


def test_the_claim_conditions_on_dynamodb_local(ddb):
    assert claim('first', 'request', NOW)
    assert not claim('second', 'request', NOW + LEASE - timedelta(seconds=1))  # the lease holds
    assert not claim('second', 'other request', NOW + LEASE + timedelta(seconds=1))  # never for another request
    assert claim('second', 'request', NOW + LEASE + timedelta(seconds=1))  # the first run died: taken over
    assert not records.finish('basic:demo', 'k', 'first', 200, {}, '{"err":0}')  # the dead run's answer: refused
    assert records.finish('basic:demo', 'k', 'second', 200, {'Content-Type': 'application/json'}, '{"err":0}')
    later = NOW + timedelta(hours=1)
    assert not claim('third', 'request', later)  # done: kept
    assert records.read('basic:demo', 'k', later) == records.Record(
        fingerprint='request', state='done', leased_until=NOW + LEASE + timedelta(seconds=1) + LEASE, status=200,
        headers={'Content-Type': 'application/json'}, answer='{"err":0}')
    expired = NOW + LEASE + timedelta(seconds=1) + KEPT + timedelta(seconds=1)
    assert records.read('basic:demo', 'k', expired) is None  # still stored (TTL is lazy) but no longer counts
    assert claim('third', 'another request', expired)
    records.release('basic:demo', 'k', 'someone else')  # only the owner's claim is released
    assert records.read('basic:demo', 'k', expired).fingerprint == 'another request'
    records.release('basic:demo', 'k', 'third')
    assert records.read('basic:demo', 'k', expired) is None
