"""Listings at the floor (issue 20, point 4), by call counting: the recurring events of an agenda in one small
Query of the listings' index (gsi3, its `recurring#` keys), a primary's PATCH reading its occurrences in one
Query of their slug prefix, never the agenda's whole event partition; and the events the listings' index
gives are the events themselves. The 5,000 events in one page: tests/conformance/test_listing_pages.py (moto
counts a page's megabyte on the table's items, DynamoDB on the index's)."""
from __future__ import annotations

from dataclasses import replace
from datetime import datetime
from zoneinfo import ZoneInfo

import pytest

from chalicelib import store
from tests.api.test_dynamodb_calls import count_calls

PARIS = ZoneInfo('Europe/Paris')
NOW = datetime(2030, 3, 1, 9, 0, tzinfo=PARIS)
OTHER_EVENTS = 60


@pytest.fixture
def agenda(api, clock):
    """An agenda with a weekly primary (Tuesdays, March), a cancelled primary, and many other events."""
    clock(NOW)
    assert api.post('/api/agenda/', {'label': 'Piscine', 'slug': 'piscine', 'minimal_booking_delay': 0})[0] == 200
    events = [
        {'slug': 'swim', 'label': 'Natation', 'start_datetime': '2030-03-05 17:00', 'places': 3,
         'recurrence_days': [1], 'recurrence_end_date': '2030-04-01', 'description': 'Bassin nord'},
        {'slug': 'dive', 'label': 'Plongée', 'start_datetime': '2030-03-06 18:00', 'places': 3,
         'recurrence_days': [2], 'recurrence_end_date': '2030-04-01', 'cancelled': True},
        # Its slug starts as swim's occurrences do: read with them, left out (not swim's).
        {'slug': 'swim--extra', 'start_datetime': '2030-03-09 10:00', 'places': 3},
        *({'slug': f'cours-{n:03d}', 'start_datetime': f'2030-03-{2 + n % 20:02d} {8 + n % 10:02d}:00',
           'places': 10} for n in range(OTHER_EVENTS)),
    ]
    for event in events:
        status, answer = api.post('/api/agenda/piscine/event/', event)
        assert (status, answer['err']) == (200, 0), answer
    return api


def test_the_recurring_events_come_from_one_query_of_the_primaries(agenda, monkeypatch):
    calls = count_calls(monkeypatch)
    status, answer = agenda.get('/api/agendas/recurring-events/?agendas=piscine')
    assert (status, [item['id'] for item in answer['data']]) == (200, ['piscine@swim:1'])
    assert answer['data'][0]['description'] == 'Bassin nord'
    assert dict(calls) == {'GetItem': 1, 'Query': 1}
    query = calls.last['Query']
    assert (query['IndexName'], list(query['ExpressionAttributeValues'].values())) == (
        'gsi3', [{'S': 'recurring#piscine'}])


def test_a_primarys_patch_reads_its_occurrences_in_one_query_of_their_prefix(agenda, monkeypatch):
    calls = count_calls(monkeypatch)
    status, answer = agenda.patch('/api/agenda/piscine/event/swim/', {'label': 'Nage'})
    assert (status, answer['err'], answer['data']['label']) == (200, 0, 'Nage')
    query = calls.last['Query']
    assert calls['Query'] == 1
    assert (query.get('IndexName'), query['ConsistentRead'], sorted(query['ExpressionAttributeValues'].values(),
                                                                    key=str)) == (
        None, True, [{'S': 'AGENDA#piscine'}, {'S': 'event#swim--'}, {'S': 'event'}])  # + pynamodb's type filter
    assert 'begins_with' in query['KeyConditionExpression']
    # Every occurrence (4 Tuesdays of March) followed the primary; the event sharing their prefix did not.
    labels = {item['id']: item['label'] for item in agenda.get('/api/agenda/piscine/datetimes/')[1]['data']}
    assert sorted(slug for slug, label in labels.items() if label == 'Nage') == [
        'swim--2030-03-05-1700', 'swim--2030-03-12-1700', 'swim--2030-03-19-1700', 'swim--2030-03-26-1700']
    assert labels['swim--extra'] == ''


def test_the_listings_index_gives_the_events_as_they_are(agenda):
    """Every field a listing reads, as the event's own item holds it (gsi3 projects only those)."""
    assert agenda.post('/api/agenda/piscine/event/', {
        'slug': 'gala', 'label': 'Gala', 'start_datetime': '2030-03-20 20:30', 'places': 5, 'duration': 90,
        'waiting_list_places': 2, 'publication_datetime': '2030-03-01 08:00', 'description': 'Soirée',
        'pricing': '5 €', 'url': 'https://example.org/gala'})[0] == 200
    assert agenda.post('/api/agenda/piscine/fillslot/gala/', {'count': 5})[1]['err'] == 0
    assert agenda.post('/api/agenda/piscine/fillslot/gala/', {})[1]['err'] == 0  # waiting list
    store.mark_event('piscine', 'gala', checked=True)
    store.mark_event('piscine', 'swim--2030-03-12-1700', cancelled=True)
    listed = {record.slug: record for record in store.events_between('piscine', None, None)}
    assert len(listed) == 4 + 4 + 1 + OTHER_EVENTS + 1  # swim's and dive's occurrences, swim--extra, cours-*, gala
    assert not {'swim', 'dive'} & set(listed)  # the primaries are apart
    for slug in ('gala', 'swim--2030-03-12-1700', 'cours-007'):
        record = store.get_event('piscine', slug)
        assert listed[slug] == replace(record, check_locked=False, invoiced=False, counters_version=0)
    assert (listed['gala'].reserved, listed['gala'].waiting_list_reserved, listed['gala'].checked) == (5, 1, True)
    assert listed['swim--2030-03-12-1700'].spec.cancelled and listed['swim--2030-03-12-1700'].spec.primary_event
    primaries = {record.slug: record for record in store.list_primaries('piscine')}
    assert sorted(primaries) == ['dive', 'swim']
    for slug, record in primaries.items():
        assert record == store.get_event('piscine', slug)
