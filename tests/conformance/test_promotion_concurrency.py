"""Automatic waiting-list promotion under load, on DynamoDB Local over HTTP (issue 19 point 2): 200 mixed
operations at once (bookings of 1 to 3 places, cancels, deletes, agents' cancels, resizes down, places
raised) on a full event with a waiting list. Afterwards the event's counters equal its live bookings,
no list holds more than its places, the head of the waiting queue does not fit in the free places
(domain/promotion_rules.py, strict FIFO), and nobody moved up past a booking waiting since before.
"""
from __future__ import annotations

import random
import time
from collections import Counter
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import requests

from chalicelib import store
from chalicelib.store.models import Booking, booking_pk, leg_sk
from tests.concurrency import HttpApi, event_booking_ids, parallel
from tests.conftest import BASIC
from tests.race_matrix import promotion_violations

AGENDA, EVENT = 'affluence', 'concert'
PLACES = 12
THREADS = 12  # at once; each promoting write reads the event and decides again whenever another write landed


class PatientApi(HttpApi):
    """On a 2-core machine DynamoDB Local serves this contention slowly: a write that decides again many
    times may take longer than the usual 30 s of the other tests."""

    def call(self, method, path, body=None, session=None, headers=None):
        response = (session or requests).request(method, self.url + path, json=body,
                                                 headers={**BASIC, **(headers or {})}, timeout=180)
        return response.status_code, response.json()


def test_two_hundred_parallel_operations_on_a_promoting_event_keep_every_invariant(http_api):
    http_api = PatientApi(http_api.url)
    start = datetime.now(ZoneInfo('Europe/Paris')).replace(hour=20, minute=0, second=0, microsecond=0) + timedelta(days=5)
    for path, body in (('/api/agenda/', {'slug': AGENDA, 'label': 'Affluence', 'minimal_booking_delay': 0,
                                         'waiting_list_promotion': 'automatic'}),
                       (f'/api/agenda/{AGENDA}/event/', {'slug': EVENT, 'start_datetime': f'{start:%Y-%m-%d %H:%M}',
                                                         'places': PLACES, 'waiting_list_places': 400})):
        assert http_api.post(path, body)[1]['err'] == 0
    booked = {}
    for n in range(4 + 20):  # 4 x 3 places fill the main list; then 20 wait (1, 2, 3 places in turn)
        count = 3 if n < 4 else 1 + n % 3
        answer = http_api.post(f'/api/agenda/{AGENDA}/fillslot/{EVENT}/', {'count': count,
                                                                           'user_external_id': f'p{n}'})[1]
        assert answer['in_waiting_list'] == (n >= 4), answer
        booked[answer['booking_id']] = count
    before = set(booked)
    rng = random.Random(19)
    ids = sorted(booked)

    def booking(session, n):
        return http_api.post(f'/api/agenda/{AGENDA}/fillslot/{EVENT}/', {
            'count': 1 + n % 3, 'user_external_id': f'n{n}'}, session=session)

    def on(method, path, body=None):
        return lambda session: http_api.call(method, path, body, session=session)

    calls = [('fillslot', lambda s, n=n: booking(s, n)) for n in range(60)]
    calls += [('cancel', on('POST', f'/api/booking/{rng.choice(ids)}/cancel/')) for _ in range(45)]
    calls += [('delete', on('DELETE', f'/api/booking/{rng.choice(ids)}/')) for _ in range(20)]
    calls += [('agent-cancel', on('POST', f'/api/booking/{rng.choice(ids)}/agent-cancel/')) for _ in range(30)]
    calls += [('resize', on('POST', f'/api/booking/{rng.choice(ids)}/resize/', {'count': 1})) for _ in range(35)]
    calls += [('places', on('PATCH', f'/api/agenda/{AGENDA}/event/{EVENT}/', {'places': PLACES + k}))
              for k in range(1, 11)]
    assert len(calls) == 200
    rng.shuffle(calls)
    started = time.monotonic()
    answers = parallel([call for _, call in calls], threads=THREADS)
    elapsed = time.monotonic() - started

    assert [a for a in answers if a[0] != 200 or a[1].get('err_class') == 'internal error'] == []
    outcomes = Counter((name, answer.get('err_class') or 'ok') for (name, _), (_, answer) in zip(calls, answers))
    # Each kind of operation did its work (the others found their booking cancelled already, or lowered the
    # places below the bookings: refused; `busy`, nothing written, is an honest answer under contention).
    assert {name for name, outcome in outcomes if outcome == 'ok'} == {name for name, _ in calls}, outcomes
    assert {outcome for _, outcome in outcomes} <= {
        'ok', 'already cancelled', 'busy', 'booking is cancelled', 'event has bookings'}, outcomes
    record = store.get_events([(AGENDA, EVENT)])[(AGENDA, EVENT)]
    legs = [leg for booking_id in sorted(event_booking_ids(AGENDA, EVENT)) for leg in store.get_legs(booking_id)]
    live = [leg for leg in legs if not leg.cancelled]
    main = sum(leg.count for leg in live if not leg.in_waiting_list)
    waiting = sum(leg.count for leg in live if leg.in_waiting_list)
    assert (record.reserved, record.waiting_list_reserved) == (main, waiting)
    assert main <= record.spec.places and waiting <= record.spec.waiting_list_places
    assert promotion_violations(EVENT, record, live, setup=before) == []
    promoted = [leg for leg in live if Booking.get(booking_pk(leg.booking_id), leg_sk(leg.leg)).promoted_at]
    print(f'\n200 operations in {elapsed:.0f} s: {dict(outcomes)}; {len(promoted)} promoted; places '
          f'{record.spec.places}: {main} main, {waiting} waiting')
    assert promoted  # the mix did free places where waiting bookings fit
