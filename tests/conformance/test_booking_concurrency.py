"""No burst of requests overbooks: parallel fillslots over HTTP against DynamoDB Local.

moto does not isolate concurrent writes (it oversells), so these run on the real engine,
through the local HTTP server (chalice.test.Client is not thread-safe).
"""
from __future__ import annotations

from collections import Counter
from datetime import datetime, timedelta, timezone
from zoneinfo import ZoneInfo

import pytest

from tests.concurrency import THREADS, live_bookings, parallel

TZ = ZoneInfo('Europe/Paris')


def local(moment: datetime) -> str:
    return moment.astimezone(TZ).strftime('%Y-%m-%d %H:%M:%S')


START = local(datetime.now(timezone.utc) + timedelta(days=3))


def setup_events(http_api, agenda='piscine', **events):
    assert http_api.post('/api/agenda/', {'label': agenda.title(), 'slug': agenda,
                                          'minimal_booking_delay': '0'})[0] == 200
    for slug, (places, waiting) in events.items():
        status, answer = http_api.post(f'/api/agenda/{agenda}/event/', {
            'slug': slug, 'start_datetime': START, 'places': places, 'waiting_list_places': waiting})
        assert (status, answer['err']) == (200, 0), answer


def fillslot(http_api, agenda, event, **body):
    return lambda session: http_api.post(f'/api/agenda/{agenda}/fillslot/{event}/', body, session=session)


def places(http_api, agenda, event):
    status, answer = http_api.get(f'/api/agenda/{agenda}/status/{event}/')
    assert status == 200
    return answer['places']


def test_200_parallel_fillslots_fill_both_lists_exactly(http_api):
    setup_events(http_api, cours=(10, 5))
    results = parallel([fillslot(http_api, 'piscine', 'cours', user_external_id=f'u{n}') for n in range(200)])
    assert Counter(status for status, _ in results) == {200: 200}
    outcomes = Counter('waiting' if a['err'] == 0 and a['in_waiting_list'] else
                       'main' if a['err'] == 0 else a['err_class'] for _, a in results)
    assert outcomes == {'main': 10, 'waiting': 5, 'sold out': 185}
    assert len({a['booking_id'] for _, a in results if a['err'] == 0}) == 15
    assert places(http_api, 'piscine', 'cours') == {
        'total': 10, 'reserved': 10, 'available': 0, 'full': True, 'has_waiting_list': True,
        'waiting_list_total': 5, 'waiting_list_reserved': 5, 'waiting_list_available': 0,
        'waiting_list_activated': True}
    assert live_bookings('piscine', 'cours') == (10, 5)


def test_mixed_counts_never_overbook_and_follow_the_waiting_list_rule(http_api):
    setup_events(http_api, cours=(10, 5))
    counts = [1 + n % 2 for n in range(150)]
    results = parallel([fillslot(http_api, 'piscine', 'cours', count=str(count)) for count in counts])
    assert Counter(status for status, _ in results) == {200: 150}
    booked = [(count, answer) for count, (_, answer) in zip(counts, results) if answer['err'] == 0]
    main = sum(count for count, answer in booked if not answer['in_waiting_list'])
    waiting = sum(count for count, answer in booked if answer['in_waiting_list'])
    final = places(http_api, 'piscine', 'cours')
    assert (final['reserved'], final['waiting_list_reserved']) == (main, waiting)
    assert live_bookings('piscine', 'cours') == (main, waiting)
    assert main <= 10 and waiting <= 5
    # The main list stops short of 10 only when a 2-place request met one free place: from then
    # on that request waits and everybody after it too (spec §9.2).
    assert main == 10 or (main == 9 and waiting > 0)
    assert waiting == 5  # plenty of 1-place requests came after the waiting list reached 4
    assert {a['err_class'] for _, a in results if a['err']} == {'sold out'}


def test_parallel_moves_never_lose_or_duplicate_a_place(http_api):
    """10 bookings on `a`; 4 parallel cancel_booking_id moves of each to `b`, which has 7 places:
    one move per booking may win, 7 win in all; a losing move leaves its booking untouched."""
    setup_events(http_api, a=(10, 0), b=(7, 0))
    first = parallel([fillslot(http_api, 'piscine', 'a', user_external_id=f'u{n}') for n in range(10)], threads=10)
    ids = [answer['booking_id'] for _, answer in first]
    results = parallel([fillslot(http_api, 'piscine', 'b', cancel_booking_id=str(booking_id))
                        for booking_id in ids for _ in range(4)], threads=THREADS)
    assert Counter(status for status, _ in results) == {200: 40}
    moved = [a for _, a in results if a['err'] == 0]
    assert len(moved) == 7
    assert len({a['cancelled_booking_id'] for a in moved}) == 7
    refusals = Counter(a['err_class'] for _, a in results if a['err'])
    assert set(refusals) <= {'cancel booking: booking already cancelled', 'sold out'}
    assert sum(refusals.values()) == 33
    assert (places(http_api, 'piscine', 'a')['reserved'], places(http_api, 'piscine', 'b')['reserved']) == (3, 7)
    assert live_bookings('piscine', 'a') == (3, 0)
    assert live_bookings('piscine', 'b') == (7, 0)
    # Every original booking either still stands or was replaced by exactly one new booking.
    still_there = {booking_id for booking_id in ids
                   if http_api.get(f'/api/booking/{booking_id}/')[1]['err'] == 0}
    assert still_there.isdisjoint(a['cancelled_booking_id'] for a in moved)
    assert len(still_there) == 3

    # And back: every booking on b moves to a, again with duplicates racing.
    back = parallel([fillslot(http_api, 'piscine', 'a', cancel_booking_id=str(a['booking_id']))
                     for a in moved for _ in range(3)], threads=21)
    assert sum(1 for _, a in back if a['err'] == 0) == 7
    assert (places(http_api, 'piscine', 'a')['reserved'], places(http_api, 'piscine', 'b')['reserved']) == (10, 0)
    assert live_bookings('piscine', 'a') == (10, 0)
    assert live_bookings('piscine', 'b') == (0, 0)


def test_parallel_exclude_user_lets_one_booking_through(http_api):
    setup_events(http_api, cours=(50, 0))
    results = parallel([fillslot(http_api, 'piscine', 'cours', user_external_id='same', exclude_user='true')
                        for _ in range(30)])
    outcomes = Counter(a['err_class'] if a['err'] else 'booked' for _, a in results)
    assert outcomes == {'booked': 1, 'event is already booked by user': 29}
    assert places(http_api, 'piscine', 'cours')['reserved'] == 1


def test_parallel_cancels_of_one_booking_free_its_places_once(http_api):
    setup_events(http_api, cours=(10, 0))
    _, booking = http_api.post('/api/agenda/piscine/fillslot/cours/', {'count': '3'})
    results = parallel([lambda s: http_api.post(f"/api/booking/{booking['booking_id']}/cancel/", session=s)
                        for _ in range(20)], threads=20)
    assert Counter(a['err_class'] if a['err'] else 'cancelled' for _, a in results) == {
        'cancelled': 1, 'already cancelled': 19}
    assert places(http_api, 'piscine', 'cours')['reserved'] == 0


@pytest.mark.parametrize('existing', [1, 500])
def test_a_fillslot_costs_two_round_trips_whatever_the_bookings(http_api, monkeypatch, existing):
    """Cold, one BatchGetItem and one TransactWriteItems, with 1 or 500 bookings on the event: a
    fillslot never reads the event's bookings. Warm (the process read the event a moment ago), the
    TransactWriteItems alone (store/decision_cache.py)."""
    from chalicelib.store import decision_cache
    from tests.api.test_dynamodb_calls import count_calls
    setup_events(http_api, cours=(1000, 0))
    parallel([fillslot(http_api, 'piscine', 'cours', user_external_id=f'u{n}') for n in range(existing)],
             threads=min(existing, THREADS))
    decision_cache.clear()  # a cold process
    calls = count_calls(monkeypatch)
    status, answer = http_api.post('/api/agenda/piscine/fillslot/cours/', {
        'user_external_id': 'last', 'exclude_user': 'true', 'count': '2'})
    assert (status, answer['err'], answer['places']['reserved']) == (200, 0, existing + 2)
    assert dict(calls) == {'BatchGetItem': 1, 'TransactWriteItems': 1}
    calls.clear()
    status, answer = http_api.post('/api/agenda/piscine/fillslot/cours/', {
        'user_external_id': 'next', 'exclude_user': 'true'})
    assert (status, answer['err'], answer['places']['reserved']) == (200, 0, existing + 3)
    assert dict(calls) == {'TransactWriteItems': 1}
