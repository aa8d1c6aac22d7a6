"""Data retention (issue 19 point 3; services/retention.py): bookings whose legs all ended more than the
agenda's `anonymize_delay` days ago are anonymised, younger ones and agendas without a delay are left,
a rerun changes nothing, and a run stopped half-way is completed by the next one."""

from __future__ import annotations

from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from chalicelib import store
from chalicelib.services import retention
from chalicelib.store.models import Booking

PARIS = ZoneInfo('Europe/Paris')
THEN = datetime(2030, 1, 6, 9, 0, tzinfo=PARIS)  # when the bookings are made
LATER = THEN + timedelta(days=60)  # when retention runs: 30-day delay, events of January 7th-8th and March 1st


@pytest.fixture
def booked(api, clock):
    """Agenda `piscine` (anonymize_delay 30) and `garderie` (none); bookings on old and recent events."""
    clock(THEN)
    for slug, delay in (('piscine', 30), ('garderie', None)):
        body = {'slug': slug, 'label': slug.title(), 'minimal_booking_delay': 0, 'maximal_booking_delay': 120}
        if delay:
            body['anonymize_delay'] = delay
        assert api.post('/api/agenda/', body)[0] == 200
    for agenda in ('piscine', 'garderie'):
        for slug, start in (('old', '2030-01-07 10:00'), ('older', '2030-01-08 10:00'), ('recent', '2030-03-01 10:00')):
            status, answer = api.post(f'/api/agenda/{agenda}/event/', {
                'slug': slug, 'start_datetime': start, 'places': 10, 'duration': 60})
            assert (status, answer['err']) == (200, 0), answer
    ids = {}
    for agenda in ('piscine', 'garderie'):
        for event in ('old', 'recent'):
            answer = api.post(f'/api/agenda/{agenda}/fillslot/{event}/', {
                'user_external_id': f'{agenda}-{event}', 'user_email': 'a@example.org', 'user_first_name': 'Ada',
                'form_url': 'https://wcs.example.org/form/1/'})[1]
            assert answer['err'] == 0, answer
            ids[(agenda, event)] = answer['booking_id']
    cancelled = api.post('/api/agenda/piscine/fillslot/old/', {'user_external_id': 'gone', 'user_email': 'g@x.org'})[1]
    assert api.post(f"/api/booking/{cancelled['booking_id']}/cancel/", {})[1]['err'] == 0
    ids[('piscine', 'cancelled')] = cancelled['booking_id']
    group = api.post('/api/agenda/piscine/fillslots/', {
        'slots': ['older', 'recent'], 'user_external_id': 'group', 'user_email': 'h@x.org'})[1]
    assert group['err'] == 0, group
    ids[('piscine', 'group')] = group['booking_id']
    return ids


def personal(booking_id: int) -> list[tuple]:
    """What each leg of a booking keeps of its person, and whether it is anonymised."""
    return [(leg.fields.get('user_external_id'), leg.fields.get('user_email'), leg.fields.get('form_url'),
             leg.anonymized_at is not None) for leg in store.get_legs(booking_id)]


def test_old_bookings_are_anonymised_younger_ones_and_other_agendas_untouched(api, clock, booked):
    clock(LATER)
    status, answer = api.post('/api/retention/anonymize/', {})
    assert (status, answer) == (200, {'err': 0, 'anonymized': 2, 'agendas': 1, 'unfinished': []})
    assert personal(booked[('piscine', 'old')]) == [(None, None, None, True)]
    assert personal(booked[('piscine', 'cancelled')]) == [(None, None, None, True)]
    # A booking whose other leg is still to come keeps its person (its March leg has not ended).
    assert personal(booked[('piscine', 'group')]) == [('group', 'h@x.org', None, False)] * 2
    assert personal(booked[('piscine', 'recent')]) == [
        ('piscine-recent', 'a@example.org', 'https://wcs.example.org/form/1/', False)]
    assert personal(booked[('garderie', 'old')]) == [
        ('garderie-old', 'a@example.org', 'https://wcs.example.org/form/1/', False)]
    # Places are kept as they were: an anonymised booking still holds its place.
    assert api.get('/api/agenda/piscine/status/old/')[1]['places']['reserved'] == 1
    # The mark moved to the cutoff less the longest event: the next run does not read January again.
    assert store.retention_mark('piscine') == LATER - timedelta(days=30) - retention.LONGEST


def test_a_rerun_changes_nothing(api, clock, booked):
    clock(LATER)
    assert api.post('/api/retention/anonymize/', {})[1]['anonymized'] == 2
    before = sorted((b.pk, b.sk, b.version, b.anonymized_at) for b in Booking.scan(consistent_read=True))
    assert api.post('/api/retention/anonymize/', {})[1] == {'err': 0, 'anonymized': 0, 'agendas': 1, 'unfinished': []}
    assert sorted((b.pk, b.sk, b.version, b.anonymized_at) for b in Booking.scan(consistent_read=True)) == before


def test_later_the_group_and_the_recent_booking_go_too(api, clock, booked):
    clock(LATER)
    assert api.post('/api/retention/anonymize/', {})[1]['anonymized'] == 2
    clock(LATER + timedelta(days=60))
    assert api.post('/api/retention/anonymize/', {})[1]['anonymized'] == 2
    assert personal(booked[('piscine', 'group')]) == [(None, None, None, True)] * 2
    assert personal(booked[('piscine', 'recent')]) == [(None, None, None, True)]


def test_a_run_stopped_half_way_is_completed_by_the_next(api, clock, booked):
    first = retention.anonymize_past_bookings(LATER.astimezone(ZoneInfo('UTC')), budget=0)
    assert (first.anonymized, first.agendas, first.unfinished) == (0, 1, ['piscine'])
    assert store.retention_mark('piscine') is None  # the mark stays: nothing is skipped
    second = retention.anonymize_past_bookings(LATER.astimezone(ZoneInfo('UTC')))
    assert (second.anonymized, second.unfinished) == (2, [])


def test_meetings_are_anonymised_after_their_end(api, clock):
    clock(THEN)
    day = THEN.date() + timedelta(days=1)
    document = {'agendas': [{
        'slug': 'rdv', 'label': 'Rdv', 'kind': 'meetings', 'minimal_booking_delay': 0, 'anonymize_delay': 7,
        'meetingtypes': [{'slug': 'court', 'label': 'Court', 'duration': 30}],
        'desks': [{'slug': 'g1', 'label': 'Guichet 1', 'timeperiods': [
            {'weekday': day.weekday(), 'start_time': '08:00', 'end_time': '12:00'}]}]}]}
    assert api.post('/api/import/', document)[0] == 200
    meeting = api.post(f'/api/agenda/rdv/fillslot/court:{day:%Y-%m-%d}-0900/', {'user_external_id': 'm'})[1]
    assert meeting['err'] == 0, meeting
    clock(THEN + timedelta(days=8, hours=1))  # 7 days after the meeting ended, and one hour
    assert api.post('/api/retention/anonymize/', {})[1]['anonymized'] == 1
    assert personal(meeting['booking_id']) == [(None, None, None, True)]
