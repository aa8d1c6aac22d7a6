"""An agent's event cancel and check read the event's bookings from an index that may lag (gsi2 is
eventually consistent on AWS): a stale page is injected here, and neither action misses a booking
made before it (store.live_event_legs waits until the legs found hold the event's counters)."""
from __future__ import annotations

import json
from datetime import datetime, timezone

import boto3
import pytest

from chalicelib import config
from chalicelib.store import legs as store_legs
from chalicelib.store import outbox
from local.worker import pump

NOW = datetime(2030, 3, 1, 9, 0, tzinfo=timezone.utc)


@pytest.fixture
def setup(api, env, clock, receiver, monkeypatch):
    env(CHRONO_CALLBACK_HOSTS='127.0.0.1', CHRONO_SIGNATURE_KEYS=json.dumps({'127.0.0.1': 'key'}),
        CHRONO_CALLBACK_OWNERS=json.dumps({'demo': ['127.0.0.1:*']}), CHRONO_ORIG='chrono.example.org')
    boto3.client('sqs').create_queue(QueueName=config.settings().callback_queue_name)
    clock(NOW)
    monkeypatch.setattr(store_legs, 'INDEX_PATIENCE', (0, 0, 0))
    assert api.post('/api/agenda/', {'slug': 'piscine', 'label': 'Piscine', 'minimal_booking_delay': 0})[0] == 200
    assert api.post('/api/agenda/piscine/event/', {'slug': 'cours', 'start_datetime': '2030-03-04 10:00',
                                                   'places': 5, 'waiting_list_places': 2})[0] == 200
    return api


def book(api, receiver, count=1, **fields):
    answer = api.post('/api/agenda/piscine/fillslot/cours/', {
        'count': count, 'cancel_callback_url': receiver.url('/hooks/cancel/'),
        'presence_callback_url': receiver.url('/hooks/presence/'), **fields})[1]
    assert answer['err'] == 0, answer
    return answer['booking_id']


class Lag:
    """The index leaves `hidden` bookings out of its first `pages` answers; `reads` counts them."""

    def __init__(self, monkeypatch, hidden: set[int], pages: int) -> None:
        self.hidden, self.pages, self.reads = hidden, pages, []
        self.real = store_legs.event_legs
        monkeypatch.setattr(store_legs, 'event_legs', self.stale)

    def stale(self, agenda, event):
        self.reads.append(event)
        legs = self.real(agenda, event)
        return [leg for leg in legs if leg.booking_id not in self.hidden] if len(self.reads) <= self.pages else legs


def drain() -> None:
    while pump(wait_seconds=0):
        pass


def test_an_event_cancel_cancels_a_booking_the_index_does_not_show_yet(setup, receiver, monkeypatch):
    first, second, late = book(setup, receiver), book(setup, receiver, count=2), book(setup, receiver)
    lag = Lag(monkeypatch, {late}, pages=2)
    assert setup.post('/api/agenda/piscine/event/cours/cancel/', {})[1] == {'err': 0, 'cancelled_bookings': 3}
    assert len(lag.reads) == 3  # twice stale, then complete
    for booking_id in (first, second, late):
        assert setup.get(f'/api/booking/{booking_id}/')[1]['err_class'] == 'booking is cancelled'
    assert setup.get('/api/agenda/piscine/status/cours/')[1]['places']['reserved'] == 0
    drain()
    assert sorted(r['path'].split('?')[0] for r in receiver.requests) == ['/hooks/cancel/'] * 3
    # Run again: nothing left to cancel, no callback twice.
    assert setup.post('/api/agenda/piscine/event/cours/cancel/', {})[1] == {'err': 0, 'cancelled_bookings': 0}
    drain()
    assert len(receiver.requests) == 3
    assert [c.state for c in outbox.booking_callbacks(late)] == ['done']


def test_a_check_sends_the_callback_of_a_booking_the_index_does_not_show_yet(setup, receiver, monkeypatch):
    shown, late = book(setup, receiver), book(setup, receiver)
    for booking_id in (shown, late):
        assert setup.patch(f'/api/booking/{booking_id}/', {'user_was_present': True})[1]['err'] == 0
    lag = Lag(monkeypatch, {late}, pages=1)
    assert setup.post('/api/agenda/piscine/check/cours/', {})[1] == {'err': 0, 'checked': True, 'callbacks': 2}
    assert len(lag.reads) == 2
    drain()
    assert [r['path'].split('?')[0] for r in receiver.requests] == ['/hooks/presence/'] * 2


def test_an_index_that_shows_a_cancelled_booking_live_is_read_again(setup, receiver, monkeypatch):
    """A stale page may also show a booking live that was cancelled: the legs are read again
    consistently, so the cancelled one neither counts nor gets a callback."""
    kept, gone = book(setup, receiver), book(setup, receiver)
    assert setup.patch(f'/api/booking/{kept}/', {'user_was_present': True})[1]['err'] == 0
    assert setup.patch(f'/api/booking/{gone}/', {'user_was_present': True})[1]['err'] == 0
    leg = store_legs.get_legs(gone)[0]
    assert setup.post(f'/api/booking/{gone}/cancel/', {})[1]['err'] == 0
    real = store_legs.event_legs
    monkeypatch.setattr(store_legs, 'event_legs', lambda agenda, event: [*real(agenda, event), leg])
    assert setup.post('/api/agenda/piscine/check/cours/', {})[1] == {'err': 0, 'checked': True, 'callbacks': 1}


def test_an_index_that_stays_behind_answers_busy_and_a_rerun_completes(setup, receiver, monkeypatch):
    first, late = book(setup, receiver), book(setup, receiver)
    lag = Lag(monkeypatch, {late}, pages=100)
    answer = setup.post('/api/agenda/piscine/event/cours/cancel/', {})[1]
    assert (answer['err'], answer['err_class']) == (1, 'busy')
    assert len(lag.reads) == 4  # INDEX_PATIENCE (3 pauses) + 1
    # The event is cancelled already (no booking can join it), its bookings not yet.
    assert setup.get('/api/agenda/piscine/status/cours/')[1]['places']['reserved'] == 2
    lag.pages = 0  # the index caught up
    assert setup.post('/api/agenda/piscine/event/cours/cancel/', {})[1] == {'err': 0, 'cancelled_bookings': 2}
    assert setup.get(f'/api/booking/{first}/')[1]['err_class'] == 'booking is cancelled'
