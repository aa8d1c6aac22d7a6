"""Datetimes ranges on the real engine: DynamoDB refuses BETWEEN with reversed bounds and empty key
values, which moto accepts; every range a client can ask for must still answer 200."""
from __future__ import annotations

from datetime import datetime, timedelta, timezone
from zoneinfo import ZoneInfo

import pytest

TZ = ZoneInfo('Europe/Paris')
TOMORROW = (datetime.now(timezone.utc) + timedelta(days=1)).astimezone(TZ)
YESTERDAY = (datetime.now(timezone.utc) - timedelta(days=1)).astimezone(TZ)


@pytest.fixture
def agenda(http_api):
    assert http_api.post('/api/agenda/', {'label': 'Piscine', 'slug': 'piscine', 'minimal_booking_delay': 0})[0] == 200
    for slug, moment in (('hier', YESTERDAY), ('demain', TOMORROW)):
        status, _ = http_api.post('/api/agenda/piscine/event/', {
            'slug': slug, 'start_datetime': moment.strftime('%Y-%m-%d %H:%M'), 'places': 3})
        assert status == 200
    assert http_api.post('/api/agenda/piscine/fillslot/demain/', {'user_external_id': 'u1'})[1]['err'] == 0


@pytest.mark.parametrize('query, expected', [
    ('', ['demain']),
    ('?events=past', ['hier']),
    ('?events=all&user_external_id=u1', ['hier', 'demain']),
    (f'?date_end={YESTERDAY:%Y-%m-%d}', []),
    (f'?date_start={TOMORROW + timedelta(days=5):%Y-%m-%d}&date_end={TOMORROW:%Y-%m-%d}', []),
    (f'?date_start={TOMORROW + timedelta(days=400):%Y-%m-%d}', []),
    (f'?events=past&date_start={TOMORROW:%Y-%m-%d}&exclude_user_external_id=u1', []),
])
def test_every_range_answers(http_api, agenda, query, expected):
    status, answer = http_api.get(f'/api/agenda/piscine/datetimes/{query}')
    assert (status, answer['err'], [item['id'] for item in answer['data']]) == (200, 0, expected)
    if '&user_external_id=u1' in query:
        assert [item['booked_for_external_user'] for item in answer['data']] == [False, True]
