"""Recurring events (spec chrono-api.md §2.2, §9.10): a primary event, its stored occurrences, and
how the admin API, the import and the booking endpoints treat them.

Frozen time: 2030-03-01 09:00 in Paris (a Friday); the default window runs 2030-03-02 to 2030-04-26.
"""
from __future__ import annotations

from dataclasses import replace
from datetime import datetime
from urllib.parse import urlencode
from zoneinfo import ZoneInfo

import pytest

from tests.api.test_fillslot import booked, counters, fillslot, new_agenda, refusal

PARIS = ZoneInfo('Europe/Paris')
NOW = datetime(2030, 3, 1, 9, 0, tzinfo=PARIS)


@pytest.fixture
def agenda(api, clock):
    clock(NOW)
    return new_agenda(api)


def weekly(api, slug='swim', days='1,3', end='2030-04-01', start='2030-03-04 17:00', places='2', **fields):
    """A primary on Tuesdays and Thursdays (from Monday 4 March) until `end` (excluded)."""
    body = {'slug': slug, 'label': 'Swimming', 'start_datetime': start, 'places': places,
            'recurrence_days': days, 'recurrence_end_date': end, **fields}
    status, answer = api.post('/api/agenda/foo-bar/event/', body)
    assert (status, answer['err']) == (200, 0), answer
    return answer['data']


def listed(api, agenda='foo-bar', **query):
    status, answer = api.get(f'/api/agenda/{agenda}/datetimes/?{urlencode(query)}')
    assert (status, answer['err']) == (200, 0), answer
    return [item['id'] for item in answer['data']]


TUE_THU_MARCH = ['swim--2030-03-05-1700', 'swim--2030-03-07-1700', 'swim--2030-03-12-1700', 'swim--2030-03-14-1700',
                 'swim--2030-03-19-1700', 'swim--2030-03-21-1700', 'swim--2030-03-26-1700', 'swim--2030-03-28-1700']


def test_occurrences_are_stored_and_listed_and_the_primary_never_is(api, agenda):
    primary = weekly(api)
    assert (primary['slug'], primary['recurrence_days'], primary['recurrence_end_date'], primary['primary_event']) == (
        'swim', [1, 3], '2030-04-01', None)
    assert listed(api) == TUE_THU_MARCH
    status, detail = api.get('/api/agenda/foo-bar/event/swim--2030-03-12-1700/')
    assert status == 200
    assert {k: detail['data'][k] for k in ('primary_event', 'recurrence_days', 'label', 'datetime', 'places')} == {
        'primary_event': 'swim', 'recurrence_days': None, 'label': 'Swimming', 'datetime': '2030-03-12 17:00:00',
        'places': {'total': 2, 'reserved': 0, 'available': 2, 'full': False, 'has_waiting_list': False}}


def test_an_occurrence_keeps_its_local_time_across_the_daylight_saving_change(api, agenda):
    weekly(api, days='6', start='2030-03-24 10:00', end='2030-04-08')  # Sundays; clocks change on 31 March
    status, answer = api.get('/api/agenda/foo-bar/datetimes/')
    assert [(i['id'], i['datetime']) for i in answer['data']] == [
        ('swim--2030-03-24-1000', '2030-03-24 10:00:00'), ('swim--2030-03-31-1000', '2030-03-31 10:00:00'),
        ('swim--2030-04-07-1000', '2030-04-07 10:00:00')]


def test_a_week_interval_skips_weeks(api, agenda):
    weekly(api, days='1', recurrence_week_interval='2', end='2030-04-01')
    assert listed(api) == ['swim--2030-03-05-1700', 'swim--2030-03-19-1700']


def test_occurrences_are_booked_by_slug_or_by_primary_and_date_and_counted_apart(api, agenda):
    weekly(api)
    first = booked(api, 'swim--2030-03-05-1700', {'user_external_id': 'u1'})
    second = booked(api, 'swim:2030-03-05-1700', {'user_external_id': 'u2'})
    assert (first['datetime'], second['datetime']) == ('2030-03-05 17:00:00', '2030-03-05 17:00:00')
    assert second['places'] == {'total': 2, 'reserved': 2, 'available': 0, 'full': True, 'has_waiting_list': False}
    assert fillslot(api, 'swim:2030-03-05-1700') == (200, refusal('sold out'))
    assert counters(api, 'swim--2030-03-07-1700')['reserved'] == 0


def test_the_primary_cannot_be_booked_and_an_unknown_date_is_unknown(api, agenda):
    weekly(api)
    assert fillslot(api, 'swim') == (200, refusal('event swim is recurrent, direct booking is forbidden'))
    status, answer = fillslot(api, 'swim:2030-03-06-1700')  # a Wednesday: no such occurrence
    assert (status, answer['err_class']) == (404, 'unknown event')


def test_an_occurrence_is_cancelled_on_its_own(api, agenda):
    weekly(api)
    status, answer = api.patch('/api/agenda/foo-bar/event/swim--2030-03-12-1700/', {'cancelled': True})
    assert (status, answer['err']) == (200, 0)
    assert listed(api) == [s for s in TUE_THU_MARCH if s != 'swim--2030-03-12-1700']
    assert fillslot(api, 'swim--2030-03-12-1700') == (200, refusal('event is cancelled',
                                                                   'event swim--2030-03-12-1700 is cancelled'))


def test_changing_the_primary_derives_the_occurrences_to_come_again(api, agenda):
    weekly(api)
    api.patch('/api/agenda/foo-bar/event/swim--2030-03-12-1700/', {'cancelled': True})
    status, answer = api.patch('/api/agenda/foo-bar/event/swim/', {'recurrence_days': '1', 'places': '5'})
    assert (status, answer['err']) == (200, 0), answer
    assert listed(api) == ['swim--2030-03-05-1700', 'swim--2030-03-19-1700', 'swim--2030-03-26-1700']
    assert counters(api, 'swim--2030-03-19-1700')['total'] == 5
    assert api.get('/api/agenda/foo-bar/event/swim--2030-03-07-1700/')[0] == 404


def test_a_change_that_would_remove_a_booked_occurrence_is_refused_and_changes_nothing(api, agenda):
    weekly(api)
    booked(api, 'swim--2030-03-07-1700')
    assert api.patch('/api/agenda/foo-bar/event/swim/', {'recurrence_days': '1'}) == (200, {
        'err': 1, 'err_class': 'event has bookings',
        'err_desc': 'occurrences with bookings would be deleted: swim--2030-03-07-1700'})
    assert listed(api) == TUE_THU_MARCH
    assert api.patch('/api/agenda/foo-bar/event/swim/', {'places': '1', 'recurrence_days': '1,3'})[1]['err'] == 0
    assert api.delete('/api/agenda/foo-bar/event/swim/')[1]['err_class'] == 'event has bookings'
    assert len(listed(api)) == 8


def test_deleting_the_primary_deletes_its_occurrences(api, agenda):
    weekly(api)
    assert api.delete('/api/agenda/foo-bar/event/swim/') == (200, {'err': 0})
    assert listed(api) == []
    assert api.get('/api/agenda/foo-bar/event/swim--2030-03-05-1700/')[0] == 404


def test_a_rule_with_too_many_occurrences_or_an_end_before_the_start_is_a_400(api, agenda):
    status, answer = api.post('/api/agenda/foo-bar/event/', {
        'slug': 'daily', 'start_datetime': '2030-03-04 17:00', 'places': 1, 'recurrence_days': '0,1,2,3,4,5,6',
        'recurrence_end_date': '2034-01-01'})
    assert (status, answer['errors']) == (400, {'recurrence_end_date': [
        'A recurring event has at most 1000 occurrences: choose an earlier end date.']})
    status, answer = api.post('/api/agenda/foo-bar/event/', {
        'slug': 'x', 'start_datetime': '2030-03-04 17:00', 'places': 1, 'recurrence_days': '1',
        'recurrence_end_date': '2030-03-04'})
    assert (status, answer['errors']) == (400, {'recurrence_end_date': [
        'The recurrence end date must come after the start of the event.']})
    assert listed(api) == []


def test_an_open_ended_rule_gets_a_year_of_occurrences_and_the_daily_job_extends_it(api, client, agenda, clock):
    weekly(api, days='0', end='', start='2030-03-04 17:00')
    status, export = api.get('/api/export/')
    slugs = [e['slug'] for e in export['agendas'][0]['events']]
    # 372 days from the start: 54 Mondays, after the primary.
    assert (slugs[0], slugs[1], slugs[-1], len(slugs)) == ('swim', 'swim--2030-03-04-1700', 'swim--2031-03-10-1700', 55)
    clock(datetime(2030, 3, 20, 9, tzinfo=PARIS))
    event = client.events.generate_cw_event(source='aws.events', detail_type='Scheduled Event', detail={},
                                            resources=[])
    assert client.lambda_.invoke('extend_recurrences', event).payload == {'created': 2}
    assert client.lambda_.invoke('extend_recurrences', event).payload == {'created': 0}
    status, export = api.get('/api/export/')
    assert export['agendas'][0]['events'][-1]['slug'] == 'swim--2031-03-24-1700'


def test_an_import_derives_occurrences_and_its_export_imports_back_as_a_no_op(api, clock):
    clock(NOW)
    document = {'agendas': [{'slug': 'pool', 'label': 'Pool', 'kind': 'events', 'events': [{
        'slug': 'swim', 'label': 'Swimming', 'start_datetime': '2030-03-04 17:00:00', 'places': 2,
        'recurrence_days': [1, 3], 'recurrence_end_date': '2030-04-01'}]}]}
    assert api.post('/api/import/', document) == (200, {'err': 0, 'data': {'created': ['pool'], 'updated': []}})
    assert listed(api, 'pool') == TUE_THU_MARCH
    status, export = api.get('/api/export/')
    exported = {k: v for k, v in export.items() if k != 'err'}
    assert api.post('/api/import/', exported) == (200, {'err': 0, 'data': {'created': [], 'updated': []}})
    assert api.post('/api/import/', document) == (200, {'err': 0, 'data': {'created': [], 'updated': []}})


# ---- found in review -------------------------------------------------------------------------------

def test_both_spellings_of_one_occurrence_in_fillslots_are_one_event(api, agenda):
    weekly(api)
    booked(api, 'swim--2030-03-05-1700')
    status, answer = api.post('/api/agenda/foo-bar/fillslots/', {
        'slots': 'swim:2030-03-05-1700,swim--2030-03-05-1700', 'user_external_id': 'u1'})
    assert (status, answer['err'], answer['places']['reserved']) == (200, 0, 2)
    assert counters(api, 'swim--2030-03-05-1700')['reserved'] == 2
    assert fillslot(api, 'swim--2030-03-05-1700') == (200, refusal('sold out'))


def test_a_change_of_the_primary_moves_its_bookings_with_the_occurrences(api, agenda):
    weekly(api, duration='60')
    booking_id = booked(api, 'swim--2030-03-12-1700')['booking_id']
    assert api.patch('/api/agenda/foo-bar/event/swim/', {'duration': '120'})[1]['err'] == 0
    status, answer = api.get(f'/api/booking/{booking_id}/')
    assert answer['data']['end_datetime'] == '2030-03-12 19:00:00'


def test_occurrences_are_cancelled_not_deleted_and_do_not_recur_themselves(api, agenda):
    weekly(api)
    assert api.delete('/api/agenda/foo-bar/event/swim--2030-03-12-1700/')[1]['err_class'] == 'event is an occurrence'
    status, answer = api.patch('/api/agenda/foo-bar/event/swim--2030-03-12-1700/', {'recurrence_days': '2'})
    assert (status, list(answer['errors'])) == (400, ['recurrence_days'])
    status, answer = api.post('/api/agenda/foo-bar/event/', {
        'slug': 'gala', 'start_datetime': '2030-03-20 20:00', 'places': 5, 'primary_event': 'swim'})
    assert (status, list(answer['errors'])) == (400, ['primary_event'])
    assert listed(api) == TUE_THU_MARCH


def test_a_rule_that_began_long_ago_counts_only_its_occurrences_to_come(api, agenda):
    weekly(api, days='0,1,2,3,4,5,6', start='2027-01-01 08:00', end='')  # daily, open-ended, 3 years old
    status, export = api.get('/api/export/')
    events = export['agendas'][0]['events']
    # From tomorrow 08:00 (today's has passed) to the horizon, 372 days from today, excluded.
    assert (events[1]['slug'], events[-1]['slug'], len(events)) == (
        'swim--2030-03-02-0800', 'swim--2031-03-07-0800', 1 + 371)
    assert api.patch('/api/agenda/foo-bar/event/swim/', {'label': 'Natation'})[1]['err'] == 0


def test_the_daily_job_skips_a_day_whose_slug_another_event_took_and_goes_on(api, client, agenda, clock):
    weekly(api, days='0', end='')
    assert api.post('/api/agenda/foo-bar/event/', {'slug': 'swim--2031-03-17-1700', 'start_datetime':
                                                   '2031-03-17 09:00', 'places': 1})[1]['err'] == 0
    clock(datetime(2030, 3, 20, 9, tzinfo=PARIS))
    event = client.events.generate_cw_event(source='aws.events', detail_type='Scheduled Event', detail={},
                                            resources=[])
    assert client.lambda_.invoke('extend_recurrences', event).payload == {'created': 1}  # 24 March; 17th taken


def test_an_undo_of_a_split_write_keeps_what_a_booking_made_meanwhile_needs(api, agenda, monkeypatch):
    """apply_operations writes one transaction per batch and undoes the earlier ones when a later one
    fails; an undo that would shrink an event below a booking made meanwhile is skipped."""
    from chalicelib import store
    from chalicelib.store import configuration as stored_agendas
    from tests.api.conftest import set_counters
    weekly(api, places='2')
    record = store.get_event('foo-bar', 'swim--2030-03-05-1700')
    grown = replace(record.spec, places=5)
    monkeypatch.setattr(stored_agendas, 'MAX_TRANSACTION_ITEMS', 1)

    def booking_lands_then_fails(tx):
        set_counters('foo-bar', 'swim--2030-03-05-1700', reserved=4)
        raise RuntimeError('the second transaction fails')
    ops = store.plan_events('foo-bar', [grown], [record]) + [store.Operation(booking_lands_then_fails)]
    with pytest.raises(RuntimeError):
        store.apply_operations(ops)
    assert counters(api, 'swim--2030-03-05-1700') == {
        'total': 5, 'reserved': 4, 'available': 1, 'full': False, 'has_waiting_list': False}


def test_cancelling_the_primary_cancels_its_occurrences_to_come_and_restoring_it_restores_them(api, agenda):
    weekly(api)
    api.patch('/api/agenda/foo-bar/event/swim--2030-03-12-1700/', {'cancelled': True})
    assert api.patch('/api/agenda/foo-bar/event/swim/', {'cancelled': True})[1]['err'] == 0
    assert listed(api) == []
    assert api.patch('/api/agenda/foo-bar/event/swim/', {'cancelled': False})[1]['err'] == 0
    assert listed(api) == TUE_THU_MARCH  # all of them, as the primary says
