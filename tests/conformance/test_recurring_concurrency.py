"""Recurring fillslots in parallel on DynamoDB Local (the real engine) over HTTP: each occurrence's
place decision is a condition on that occurrence's counters, so users racing for the last place
of 40 occurrences (two transactions each) never overbook any of them.
"""
from __future__ import annotations

from collections import Counter
from datetime import datetime, timedelta, timezone

from tests.concurrency import live_bookings, parallel
from tests.conformance.test_booking_concurrency import TZ, places

FIRST = (datetime.now(timezone.utc) + timedelta(days=2)).astimezone(TZ).date()
OCCURRENCES = 40
USERS = 6


def test_users_racing_for_the_last_place_of_each_occurrence_never_overbook(http_api):
    assert http_api.post('/api/agenda/', {'label': 'Pool', 'slug': 'pool', 'minimal_booking_delay': '0',
                                          'maximal_booking_delay': '120'})[0] == 200
    end = FIRST + timedelta(days=OCCURRENCES)
    status, answer = http_api.post('/api/agenda/pool/event/', {
        'slug': 'swim', 'start_datetime': f'{FIRST} 10:00', 'places': 2, 'recurrence_days': '0,1,2,3,4,5,6',
        'recurrence_end_date': end.isoformat()})
    assert (status, answer['err']) == (200, 0), answer
    query = f'agendas=pool&action=book&date_start={FIRST}&date_end={end}'
    slots = [f'pool@swim:{day}' for day in range(7)]

    def book(user):
        return lambda session: http_api.post(f'/api/agendas/recurring-events/fillslots/?{query}',
                                             {'user_external_id': user, 'slots': slots}, session=session)
    first = book('first')(None)[1]
    assert (first['err'], first['booking_count']) == (0, OCCURRENCES)  # one place left on each occurrence

    results = parallel([book(f'u{n}') for n in range(USERS)], threads=USERS)
    assert [status for status, _ in results] == [200] * USERS
    answers = [answer for _, answer in results]
    assert all(answer['err'] == 0 for answer in answers), answers
    assert sum(answer['booking_count'] for answer in answers) == OCCURRENCES
    assert sum(len(answer['full_events']) for answer in answers) == OCCURRENCES * (USERS - 1)
    winners = Counter(item['slug'] for answer in answers for item in answer['booked_events'])
    assert len(winners) == OCCURRENCES and set(winners.values()) == {1}
    for day in range(OCCURRENCES):
        slug = f'swim--{FIRST + timedelta(days=day):%Y-%m-%d}-1000'
        assert places(http_api, 'pool', slug)['reserved'] == 2, slug
        assert live_bookings('pool', slug) == (2, 0), slug
