"""Free-range bookings (spec §6.6) race on DynamoDB Local over HTTP: 50 overlapping ranges of one desk's day, sent
at once, leave exactly one booking, and its lock cells are its own."""
from __future__ import annotations

from collections import Counter
from datetime import datetime, timedelta, timezone
from zoneinfo import ZoneInfo

from chalicelib import store
from chalicelib.store.models import Lock
from tests.concurrency import parallel

TZ = ZoneInfo('Europe/Paris')
DAY = (datetime.now(timezone.utc) + timedelta(days=3)).astimezone(TZ).date()


def test_50_overlapping_ranges_exactly_one(http_api):
    period = {'weekday': DAY.weekday(), 'start_time': '08:00', 'end_time': '20:00'}
    status, answer = http_api.post('/api/import/', {'agendas': [{
        'slug': 'salle', 'label': 'Salle', 'kind': 'meetings', 'free_range': True, 'minimal_booking_delay': 0,
        'maximal_booking_delay': 30, 'meetingtypes': [{'slug': 'h1', 'label': '1 h', 'duration': 60},
                                                      {'slug': 'h5', 'label': '5 h', 'duration': 300}],
        'desks': [{'slug': 's1', 'label': 'Salle 1', 'timeperiods': [period]}]}]})
    assert status == 200, answer
    # Every range covers 12:00-13:00: starts from 08:00 to 12:00, lengths 1 to 5 hours, all different.
    ranges = [(f'{DAY} {8 + start:02d}:00', f'{DAY} {8 + start + length:02d}:00')
              for start in range(5) for length in range(1, 6) if 8 + start + length >= 13][:50]
    ranges = (ranges * 4)[:50]
    calls = [lambda s, r=r, n=n: http_api.post('/api/agenda/salle/free-range/fillslot/', {
        'start_datetime': r[0], 'end_datetime': r[1], 'user_external_id': f'u{n}'}, session=s)
        for n, r in enumerate(ranges)]
    results = parallel(calls, threads=25)
    outcomes = Counter('booked' if a['err'] == 0 else a['err_class'] for status, a in results if status == 200)
    assert outcomes == {'booked': 1, 'no more desk available': 49}
    booked = next(a for _, a in results if a['err'] == 0)
    legs = store.get_legs(booked['booking_id'])
    cells = {lock.pk: int(lock.booking_id) for lock in Lock.scan() if lock.pk.startswith('LOCK#DESK#salle#s1#')}
    hours = int((legs[0].end - legs[0].start).total_seconds() // 3600)
    assert len(cells) == hours and set(cells.values()) == {booked['booking_id']}
    status, listing = http_api.get(f'/api/agenda/salle/free-range/datetimes/?date_start={DAY}&date_end='
                                   f'{DAY + timedelta(days=1)}')
    booked_hours = [h['hour'] for h in listing['data'][0]['opening_hours'] if h['status'] == 'booked']
    assert len(booked_hours) == hours and '12:00' in booked_hours
