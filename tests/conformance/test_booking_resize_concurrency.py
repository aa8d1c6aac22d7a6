"""Parallel resizes (spec §8.9) never overbook: over HTTP against DynamoDB Local (the real engine;
moto does not isolate concurrent writes). The event's counters always equal what the live booking
items hold, and never exceed the places.
"""
from __future__ import annotations

import random
from collections import Counter

from tests.concurrency import live_bookings, parallel
from tests.conformance.test_booking_concurrency import fillslot, places, setup_events


def resize(http_api, booking_id, count):
    return lambda session: http_api.post(f'/api/booking/{booking_id}/resize/', {'count': count}, session=session)


def counts(http_api, ids):
    return {booking_id: http_api.get(f'/api/booking/{booking_id}/')[1]['count'] for booking_id in ids}


def test_parallel_resizes_never_overbook(http_api):
    """6 bookings of 1 place on an event of 10; 48 parallel resizes to 1-4 places: whatever wins,
    the main list never holds more than 10 places, and the counters match the bookings."""
    setup_events(http_api, cours=(10, 0))
    booked = parallel([fillslot(http_api, 'piscine', 'cours', user_external_id=f'u{n}') for n in range(6)], threads=6)
    ids = [answer['booking_id'] for _, answer in booked]
    rng = random.Random(8)
    wanted = [(booking_id, rng.randint(1, 4)) for _ in range(8) for booking_id in ids]
    results = parallel([resize(http_api, booking_id, count) for booking_id, count in wanted])
    assert Counter(status for status, _ in results) == {200: 48}
    assert {a['err_class'] for _, a in results if a['err']} <= {'sold out'}
    final = counts(http_api, ids)
    # Every booking holds the count of one of its accepted resizes (or still 1 if none was).
    for booking_id in ids:
        accepted = {count for (b, count), (_, a) in zip(wanted, results) if b == booking_id and a['err'] == 0}
        assert final[booking_id] in accepted | {1}
    reserved = places(http_api, 'piscine', 'cours')['reserved']
    assert reserved == sum(final.values()) <= 10
    assert live_bookings('piscine', 'cours') == (reserved, 0)
    assert any(a['err'] for _, a in results)  # 48 requests up to 4 places each: some must have been refused


def test_resizes_racing_fillslots_never_overbook(http_api):
    """A booking of 1 place grows to 6 while 20 others book 1 place each, on an event of 10 places
    and 5 waiting places: every place is taken exactly once."""
    setup_events(http_api, cours=(10, 5))
    _, first = http_api.post('/api/agenda/piscine/fillslot/cours/', {'user_external_id': 'first'})
    calls = [fillslot(http_api, 'piscine', 'cours', user_external_id=f'u{n}') for n in range(20)]
    calls[10:10] = [resize(http_api, first['booking_id'], 6)] * 4
    results = parallel(calls)
    assert Counter(status for status, _ in results) == {200: 24}
    grown = [a for call, (_, a) in zip(calls, results) if call.__qualname__.startswith('resize') and a['err'] == 0]
    main = waiting = 0
    for _, answer in results:
        if answer['err'] == 0 and 'in_waiting_list' in answer:
            if answer['in_waiting_list']:
                waiting += 1
            else:
                main += 1
    size = http_api.get(f"/api/booking/{first['booking_id']}/")[1]['count']
    assert size == (6 if grown else 1)
    final = places(http_api, 'piscine', 'cours')
    assert (final['reserved'], final['waiting_list_reserved']) == (size + main, waiting)
    assert final['reserved'] <= 10 and waiting <= 5
    assert live_bookings('piscine', 'cours') == (size + main, waiting)
