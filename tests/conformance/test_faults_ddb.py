"""A transaction DynamoDB applied but whose answer was lost (a read timeout) is retried by botocore:
with its ClientRequestToken, the retry is answered from DynamoDB's record of the first and applied
once (store/tables.py). moto ignores the token, so this runs on DynamoDB Local.
"""
from __future__ import annotations

import pytest

from chalicelib.store.models import Booking
from tests.conformance.test_booking_concurrency import live_bookings, places, setup_events
from tests.faults import install


@pytest.fixture
def faults(monkeypatch):
    return install(monkeypatch)


def test_a_booking_whose_answer_was_lost_is_made_once(http_api, faults):
    setup_events(http_api, cours=(5, 0))
    faults.lose_answer('TransactWriteItems', 1)
    faults.attempts.clear()
    status, answer = http_api.post('/api/agenda/piscine/fillslot/cours/', {'user_external_id': 'u1'})
    assert (status, answer['err'], answer['places']['reserved']) == (200, 0, 1)
    assert faults.attempts['TransactWriteItems'] == 2  # applied, answer lost; retried with the same token
    assert places(http_api, 'piscine', 'cours')['reserved'] == 1
    assert live_bookings('piscine', 'cours') == (1, 0)
    assert [int(b.booking_id) for b in Booking.scan(consistent_read=True)] == [answer['booking_id']]


def test_a_cancel_whose_answer_was_lost_gives_its_places_back_once(http_api, faults):
    setup_events(http_api, cours=(5, 0))
    first = http_api.post('/api/agenda/piscine/fillslot/cours/', {'count': '2'})[1]
    second = http_api.post('/api/agenda/piscine/fillslot/cours/', {'count': '1'})[1]
    faults.lose_answer('TransactWriteItems', 1)
    assert http_api.post(f"/api/booking/{first['booking_id']}/cancel/") == (
        200, {'err': 0, 'booking_id': first['booking_id']})
    assert places(http_api, 'piscine', 'cours')['reserved'] == 1
    assert live_bookings('piscine', 'cours') == (1, 0)
    assert second['err'] == 0
