"""What a booking costs in DynamoDB calls, and how contention is survived.

Calls are counted at botocore's door (every pynamodb call goes through it). TransactionConflict
(contention on real DynamoDB, never produced by moto or DynamoDB Local) is injected there too.
"""
from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

import pytest
from botocore.client import BaseClient

from tests.dynamodb_calls import DynamoDBCalls

PARIS = ZoneInfo('Europe/Paris')
NOW = datetime(2030, 3, 1, 9, 0, tzinfo=PARIS)


def count_calls(monkeypatch) -> DynamoDBCalls:
    """Every DynamoDB operation made from now on, by name; `inject(n)` makes the next n
    transactions fail with a TransactionConflict cancellation (tests/dynamodb_calls.py)."""
    calls = DynamoDBCalls()
    monkeypatch.setattr(BaseClient, '_make_api_call', calls.wrap(BaseClient._make_api_call))
    return calls


@pytest.fixture
def calls(monkeypatch):
    return count_calls(monkeypatch)


@pytest.fixture
def cours(api, clock):
    clock(NOW)
    assert api.post('/api/agenda/', {'label': 'Piscine', 'slug': 'piscine'})[0] == 200
    assert api.post('/api/agenda/piscine/event/', {'slug': 'cours', 'start_datetime': '2030-03-05 10:00',
                                                   'places': 1000, 'waiting_list_places': 10})[0] == 200


def book(api, **body):
    status, answer = api.post('/api/agenda/piscine/fillslot/cours/', body)
    assert (status, answer['err']) == (200, 0), answer
    return answer


def test_a_cold_fillslot_costs_one_read_and_one_transaction_a_warm_one_the_transaction(api, cours, calls):
    """With 500 bookings on the event too: tests/conformance/test_booking_concurrency.py. Warm: decided from
    what the process last read (store/decision_cache.py; tests/api/test_decision_cache.py)."""
    answer = book(api, user_external_id='first')
    assert dict(calls) == {'BatchGetItem': 1, 'TransactWriteItems': 1}
    calls.clear()
    answer = book(api, user_external_id='last', exclude_user='true', label='Dernier')
    assert dict(calls) == {'TransactWriteItems': 1}
    assert answer['places']['reserved'] == 2


def test_without_the_cache_every_fillslot_reads(api, cours, calls, monkeypatch):
    from chalicelib import config
    monkeypatch.setenv('CHRONO_DECISION_CACHE_SECONDS', '0')
    config.reset()
    book(api, user_external_id='first')
    calls.clear()
    answer = book(api, user_external_id='last', exclude_user='true', label='Dernier')
    assert dict(calls) == {'BatchGetItem': 1, 'TransactWriteItems': 1}
    assert answer['places']['reserved'] == 2


def test_a_fillslot_replacing_a_booking_costs_the_same(api, cours, calls):
    old = book(api, count='2')
    calls.clear()
    answer = book(api, count='2', cancel_booking_id=str(old['booking_id']))
    assert dict(calls) == {'BatchGetItem': 1, 'TransactWriteItems': 1}
    assert (answer['cancelled_booking_id'], answer['places']['reserved']) == (old['booking_id'], 2)


def test_contention_is_retried_and_ends_in_a_booking(api, cours, calls):
    calls.inject(3)
    calls.clear()
    answer = book(api)
    assert dict(calls) == {'BatchGetItem': 1, 'TransactWriteItems': 4}
    assert answer['places']['reserved'] == 1
    assert api.get('/api/agenda/piscine/status/cours/')[1]['places']['reserved'] == 1


def test_endless_contention_is_an_honest_refusal_that_books_nothing(api, cours, calls):
    calls.inject(1000)
    status, answer = api.post('/api/agenda/piscine/fillslot/cours/', {})
    assert (status, answer) == (200, {'err': 1, 'err_class': 'busy',
                                      'err_desc': 'too many simultaneous changes on the same places: try again'})
    calls.inject(0)
    assert api.get('/api/agenda/piscine/status/cours/')[1]['places']['reserved'] == 0


def test_contention_on_a_cancel_is_retried(api, cours, calls):
    booking = book(api, count='3')
    calls.inject(2)
    status, answer = api.post(f"/api/booking/{booking['booking_id']}/cancel/")
    assert (status, answer) == (200, {'err': 0, 'booking_id': booking['booking_id']})
    assert api.get('/api/agenda/piscine/status/cours/')[1]['places']['reserved'] == 0


def test_a_cancel_reads_its_booking_and_its_agenda_once_then_writes(api, cours, calls):
    """The booking's legs (one Query), its agenda once for both decisions it takes (the cancellation deadline,
    and whether freed places promote the waiting list), the transaction."""
    booking = book(api, user_external_id='first')
    calls.clear()
    status, answer = api.post(f"/api/booking/{booking['booking_id']}/cancel/")
    assert (status, answer) == (200, {'err': 0, 'booking_id': booking['booking_id']})
    assert dict(calls) == {'Query': 1, 'GetItem': 1, 'TransactWriteItems': 1}
