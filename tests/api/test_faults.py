"""DynamoDB and SQS failing under the API (issue 9, part 6; docs/table-design.md, "Retries").

Faults are injected on the wire, below botocore's retry loop (tests/faults.py): throttling is
retried by botocore, cancelled transactions (contention on a hot event, items throttled inside a
transaction) by store/tables.py with jitter; what outlasts the retries answers `busy` or HTTP 503,
never a 500, and never books twice. A callback whose SQS send failed is sent by the sweeper, once.
A transaction applied whose answer was lost: tests/conformance/test_faults_ddb.py (moto ignores
ClientRequestToken).
"""
from __future__ import annotations

import json
from datetime import datetime, timedelta, timezone

import boto3
import pytest

from chalicelib import config
from chalicelib.services import callbacks
from chalicelib.store.models import Booking
from chalicelib.store import outbox
from chalicelib.store import tables
from tests.api.test_callbacks import drain
from tests.faults import install

NOW = datetime(2030, 3, 1, 9, 0, tzinfo=timezone.utc)
FILLSLOT = '/api/agenda/piscine/fillslot/cours/'
BODY = {'user_external_id': 'u1'}
UNAVAILABLE = {'err': 1, 'err_class': 'temporarily unavailable', 'err_desc': 'the service is overloaded: try again'}
BUSY = {'err': 1, 'err_class': 'busy', 'err_desc': 'too many simultaneous changes on the same places: try again'}
BOTOCORE_THROTTLING_CAPS = (1, 2, 4)  # seconds: standard mode, full jitter from a 1 s base


@pytest.fixture
def piscine(api, clock):
    clock(NOW)
    assert api.post('/api/agenda/', {'label': 'Piscine', 'slug': 'piscine', 'minimal_booking_delay': 0})[0] == 200
    assert api.post('/api/agenda/piscine/event/', {'slug': 'cours', 'start_datetime': '2030-03-05 10:00',
                                                   'places': 5})[0] == 200
    return api


@pytest.fixture
def faults(monkeypatch):
    return install(monkeypatch)


def booked(api):
    """(the event's reserved places, its live booking ids, read from the table)."""
    reserved = api.get('/api/agenda/piscine/status/cours/')[1]['places']['reserved']
    return reserved, sorted(int(b.booking_id) for b in Booking.scan(consistent_read=True) if b.cancelled_at is None)


def our_caps(retries: int) -> list[float]:
    return [min(tables.BACKOFF_CAP, tables.BACKOFF_BASE * 2 ** n) for n in range(retries)]


# ---- throttling: botocore's retries, then 503 ---------------------------------------------------

@pytest.mark.parametrize('code', ['ProvisionedThroughputExceededException', 'ThrottlingException',
                                  'RequestLimitExceeded'])
def test_a_throttled_booking_is_retried_by_botocore_and_made_once(piscine, faults, code):
    faults.throttle('TransactWriteItems', 3, code)
    faults.attempts.clear()
    status, answer = piscine.post(FILLSLOT, BODY)
    assert (status, answer['err']) == (200, 0)
    assert faults.attempts == {'BatchGetItem': 1, 'TransactWriteItems': 4}
    assert len(faults.botocore_delays) == 3
    assert all(0 <= delay <= cap for delay, cap in zip(faults.botocore_delays, BOTOCORE_THROTTLING_CAPS))
    assert faults.our_delays == []  # not ours to retry: botocore did
    assert booked(piscine) == (1, [answer['booking_id']])


@pytest.mark.parametrize('operation', ['BatchGetItem', 'TransactWriteItems'])
def test_throttling_beyond_the_retries_answers_503_and_books_nothing(piscine, faults, operation):
    faults.throttle(operation, 4)
    faults.attempts.clear()
    assert piscine.post(FILLSLOT, BODY) == (503, UNAVAILABLE)
    assert faults.attempts[operation] == 4
    assert booked(piscine) == (0, [])
    assert piscine.post(FILLSLOT, BODY)[1]['err'] == 0  # DynamoDB is back: the client's retry books


def test_a_throttled_read_answers_503(piscine, faults):
    faults.throttle('GetItem', 4, 'ThrottlingException')
    assert piscine.get('/api/agenda/piscine/status/cours/') == (503, UNAVAILABLE)
    assert faults.attempts['GetItem'] == 4


def test_an_unreachable_dynamodb_answers_503(piscine, faults):
    faults.unreachable('BatchGetItem', 4)
    assert piscine.post(FILLSLOT, BODY) == (503, UNAVAILABLE)
    assert (faults.attempts['BatchGetItem'], len(faults.botocore_delays)) == (4, 3)
    assert booked(piscine) == (0, [])


# ---- cancelled transactions: our retries, with jitter --------------------------------------------

@pytest.mark.parametrize('reason', ['TransactionConflict', 'ThrottlingError', 'ProvisionedThroughputExceeded'])
def test_a_cancelled_transaction_is_retried_with_jitter_and_books_once(piscine, faults, reason):
    faults.cancel('TransactWriteItems', 5, reason)
    faults.attempts.clear()
    status, answer = piscine.post(FILLSLOT, BODY)
    assert (status, answer['err'], answer['places']['reserved']) == (200, 0, 1)
    assert faults.attempts == {'BatchGetItem': 1, 'TransactWriteItems': 6}
    assert faults.botocore_delays == []  # botocore never retries a TransactionCanceledException
    assert len(faults.our_delays) == 5
    assert all(0 <= delay <= cap for delay, cap in zip(faults.our_delays, our_caps(5)))
    assert len(set(faults.our_delays)) == 5  # drawn, not fixed: parallel writers spread out
    assert booked(piscine) == (1, [answer['booking_id']])


@pytest.mark.parametrize('reason, answer', [
    ('TransactionConflict', (200, BUSY)),
    ('ThrottlingError', (503, UNAVAILABLE)),
    ('ProvisionedThroughputExceeded', (503, UNAVAILABLE)),
])
def test_a_transaction_cancelled_beyond_the_retries_is_a_clear_answer(piscine, faults, reason, answer):
    faults.cancel('TransactWriteItems', 8, reason)
    faults.attempts.clear()
    assert piscine.post(FILLSLOT, BODY) == answer
    assert (faults.attempts['TransactWriteItems'], len(faults.our_delays)) == (8, 7)
    assert booked(piscine) == (0, [])


def test_a_single_write_meeting_a_transaction_is_busy_not_a_500(piscine, faults):
    """Checking an event updates its item alone, while bookings transact on it (a hot event)."""
    faults.throttle('UpdateItem', 1, 'TransactionConflictException')
    assert piscine.post('/api/agenda/piscine/check/cours/', {}) == (200, {
        'err': 1, 'err_class': 'busy', 'err_desc': 'too many simultaneous changes on the same item: try again'})
    assert faults.attempts['UpdateItem'] == 1  # botocore does not retry it: the client does
    assert piscine.post('/api/agenda/piscine/check/cours/', {}) == (200, {'err': 0, 'checked': True, 'callbacks': 0})


def test_a_validation_error_is_still_a_500(piscine, faults):
    """Not an overload: a bug, logged, in Chrono's shape."""
    faults.throttle('TransactWriteItems', 1, 'ValidationException')
    assert piscine.post(FILLSLOT, BODY) == (500, {'err': 1, 'err_class': 'internal error',
                                                  'err_desc': 'internal error'})
    assert faults.attempts['TransactWriteItems'] == 1


def test_an_overloaded_answer_is_not_kept_for_an_idempotent_retry(piscine, faults):
    headers = {'X-Idempotency-Key': 'retry-me'}
    faults.throttle('TransactWriteItems', 4)
    assert piscine.post(FILLSLOT, BODY, headers=headers) == (503, UNAVAILABLE)
    status, answer = piscine.post(FILLSLOT, BODY, headers=headers)
    assert (status, answer['err']) == (200, 0)
    assert piscine.post(FILLSLOT, BODY, headers=headers) == (200, answer)
    assert booked(piscine) == (1, [answer['booking_id']])


# ---- SQS failing after a state change --------------------------------------------------------------

@pytest.fixture
def outbox_setup(piscine, env, receiver):
    env(CHRONO_CALLBACK_HOSTS='127.0.0.1', CHRONO_SIGNATURE_KEYS=json.dumps({'127.0.0.1': 'secret'}),
        CHRONO_ORIG='chrono.example.org', CHRONO_CALLBACK_OWNERS=json.dumps({'demo': [f'127.0.0.1:{receiver.port}']}))
    boto3.client('sqs').create_queue(QueueName=config.settings().callback_queue_name)
    return piscine


SQS_FAILURES = {
    'unreachable': lambda faults: faults.unreachable('SendMessageBatch', 10),
    'entries refused': lambda faults: faults.answer('SendMessageBatch', 10, 200, {'Successful': [], 'Failed': [
        {'Id': '0', 'SenderFault': False, 'Code': 'InternalError', 'Message': 'injected'}]}),
}


@pytest.mark.parametrize('failure', sorted(SQS_FAILURES))
def test_a_callback_whose_sqs_send_failed_is_sent_once_by_the_sweeper(outbox_setup, receiver, faults, failure):
    api = outbox_setup
    booking_id = api.post(FILLSLOT, {**BODY, 'cancel_callback_url': receiver.url('/hooks/cancel/')})[1]['booking_id']
    SQS_FAILURES[failure](faults)
    assert api.post(f'/api/booking/{booking_id}/agent-cancel/', {}) == (200, {'err': 0, 'booking_id': booking_id})
    assert faults.attempts['SendMessageBatch'] >= 1  # the send was tried, and failed
    faults.clear()
    drain()
    assert receiver.requests == []  # nothing reached the queue
    assert [(c.kind, c.state) for c in outbox.booking_callbacks(booking_id)] == [('cancel', 'pending')]
    assert callbacks.sweep(NOW) == 0  # due for less than the sweeper's grace
    assert callbacks.sweep(NOW + timedelta(minutes=1)) == 1
    drain()
    assert [r['path'].split('?')[0] for r in receiver.requests] == ['/hooks/cancel/']
    assert [(c.kind, c.state, c.attempts) for c in outbox.booking_callbacks(booking_id)] == [('cancel', 'done', 1)]
    assert callbacks.sweep(NOW + timedelta(minutes=2)) == 0
    drain()
    assert len(receiver.requests) == 1
