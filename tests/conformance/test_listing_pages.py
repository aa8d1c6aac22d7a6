"""Listing all the events of a 5,000-event agenda with a user's flags in 3 DynamoDB calls (issue 20, point 4),
counted on the real engine: DynamoDB pages a Query at 1 MB of the index's entries, and the listings' index
(gsi3) holds only what a listing reads, so the 5,000 events come in one page (moto counts the table's items).
The agenda, the user's Query and the events' Query: GetItem 1, Query 2."""
from __future__ import annotations

from datetime import datetime, time, timedelta, timezone
from zoneinfo import ZoneInfo

from chalicelib.domain.specs import EventSpec
from chalicelib.store.configuration import _event_item
from chalicelib.store.models import Event
from tests.api.test_dynamodb_calls import count_calls

TZ = ZoneInfo('Europe/Paris')
EVENTS, PER_DAY = 5000, 20


def test_five_thousand_events_with_a_users_flags_in_three_calls(http_api, monkeypatch):
    assert http_api.post('/api/agenda/', {'label': 'Grand programme', 'slug': 'grand', 'minimal_booking_delay': 1,
                                          'maximal_booking_delay': 400})[0] == 200
    first_day = (datetime.now(timezone.utc) + timedelta(days=2)).astimezone(TZ).date()
    # The events as the import writes them (configuration._event_item), in batches: 5,000 through the API
    # would take this test a minute.
    with Event.batch_write() as batch:
        for n in range(EVENTS):
            day, rank = divmod(n, PER_DAY)
            start = datetime.combine(first_day + timedelta(days=day), time(8), tzinfo=TZ) + timedelta(minutes=30 * rank)
            batch.save(_event_item('grand', EventSpec(slug=f'seance-{n:04d}', label=f'Séance {n + 1}', duration=30,
                                                      places=20, waiting_list_places=5, start=start)))
    booked = http_api.post('/api/agenda/grand/fillslot/seance-0123/', {'user_external_id': 'u1'})[1]
    assert booked['err'] == 0

    calls = count_calls(monkeypatch)
    status, answer = http_api.get('/api/agenda/grand/datetimes/?user_external_id=u1')
    assert (status, len(answer['data'])) == (200, EVENTS)
    assert [item['id'] for item in answer['data'] if item['booked_for_external_user']] == ['seance-0123']
    assert answer['data'][123]['places'] == {'total': 20, 'reserved': 1, 'available': 19, 'full': False,
                                             'has_waiting_list': True, 'waiting_list_total': 5,
                                             'waiting_list_reserved': 0, 'waiting_list_available': 5,
                                             'waiting_list_activated': False}
    assert dict(calls) == {'GetItem': 1, 'Query': 2}
